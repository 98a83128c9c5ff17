//! The timeline: every step run on a heap — a statement, a trace op or a call of the JS API
//! — kept in order, so that the heap can travel back and forth between steps.
//!
//! Time travel is done honestly: the heap's real bytes, its break and its policy's state (and
//! the console's variables, and the requested sizes) are snapshotted every `k` steps, and
//! going to step `n` restores the nearest snapshot at or before `n - 1` and runs the steps
//! from there, the last one with its events recorded (so the page can narrate it). Memory
//! cannot shrink: after going back past a `memory.grow`, the break is below `memory.size`,
//! as a process's break can fall below what the kernel once gave it.
//!
//! The snapshots' bytes live in JS (`Uint8Array`s), not in the module's fixed arena; their
//! number is bounded by a budget (when it is exceeded, every other snapshot goes and `k`
//! doubles), so any trace the playground takes can be stepped through.

use std::collections::BTreeMap;

use heaptale::event::Event;
use heaptale::policy::AnyPolicy;
use heaptale::trace::{Op, OpKind, Session, StepErrorKind, NULL_ID};
use heaptale::HeapError;
use js_sys::{Uint32Array, Uint8Array};

use crate::instance::Live;

/// Steps between snapshots at first (it doubles when the snapshots outgrow their budget).
const FIRST_INTERVAL: u32 = 128;
/// Bytes of heap copies kept in JS for one heap.
const JS_BUDGET: usize = 128 << 20;
/// Estimated module-arena bytes of the snapshots' variables and requested sizes.
const ARENA_BUDGET: usize = 12 << 20;
/// The most steps a timeline records; later calls still run, without time travel.
pub const MAX_STEPS: usize = 2_000_000;
/// Statistics samples a load aims at (one walk of the heap each).
const SAMPLES: u32 = 600;
/// Words of one statistics sample (see [`Timeline::series`]).
pub const SAMPLE_WORDS: usize = 10;

/// A call made through the JS API, re-run exactly as it was made.
#[derive(Clone, Copy, Debug)]
pub enum Call {
    Malloc(u32),
    Calloc(u32, u32),
    Memalign(u32, u32),
    Free(u32),
    Realloc(u32, u32),
}

impl Call {
    pub fn text(&self) -> String {
        match *self {
            Call::Malloc(n) => format!("malloc({n})"),
            Call::Calloc(n, s) => format!("calloc({n}, {s})"),
            Call::Memalign(a, n) => format!("memalign({a}, {n})"),
            Call::Free(p) => format!("free({p:#x})"),
            Call::Realloc(p, n) => format!("realloc({p:#x}, {n})"),
        }
    }
}

/// What a step after the trace's ops runs.
#[derive(Clone, Copy, Debug)]
pub enum Src {
    /// A statement of the console or of a script: `text[at .. at + len]`, from `line`.
    Stmt {
        line: u32,
        at: u32,
        len: u32,
    },
    Call(Call),
}

/// A step, resolved.
#[derive(Clone, Copy)]
pub enum StepRef<'a> {
    Op(&'a Op),
    Stmt(u32, &'a str),
    Call(Call),
}

/// How a step failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrKind {
    /// The statement itself is wrong (syntax, an unknown variable).
    Usage,
    /// The heap refused the call (out of memory, double free, ...), as it should.
    Engine,
    /// The heap misbehaved: an integrity check failed.
    Integrity,
}

#[derive(Clone, Debug)]
pub struct StepErr {
    pub kind: ErrKind,
    pub message: String,
}

/// What a step did.
pub struct Outcome {
    pub addr: Option<usize>,
    pub err: Option<StepErr>,
    /// The step as C with its result (`p = malloc(24) = 0x...`), for statements (a trace's
    /// ops run without text: `stepInfo` makes it when asked).
    pub text: Option<String>,
    /// Pages `memory.grow` added during the step.
    pub pages: u32,
}

impl Outcome {
    /// A step refused before it reached the heap (a usage error): nothing ran, nothing grew.
    fn usage(message: String) -> Self {
        Outcome {
            addr: None,
            err: Some(StepErr {
                kind: ErrKind::Usage,
                message,
            }),
            text: None,
            pages: 0,
        }
    }
}

/// The state of the heap after `step` steps.
struct Snap {
    step: u32,
    /// `None`: the heap as made (the policy is made afresh and sets the heap up itself).
    policy: Option<AnyPolicy>,
    brk: u32,
    bytes: Option<Uint8Array>,
    session: Session,
    /// The plain driver's id addresses.
    slots: Option<Uint32Array>,
    /// The requested sizes, `[block, bytes]` pairs in block order.
    requested: Option<Uint32Array>,
    live_bytes: u64,
    probes: u64,
    js_cost: usize,
    arena_cost: usize,
}

pub struct Timeline {
    /// A trace's ops: the first steps.
    ops: Vec<Op>,
    /// The steps after them.
    extra: Vec<Src>,
    /// The statements' text.
    text: String,
    /// Per step: the address it returned (0: none).
    addrs: Vec<u32>,
    /// Per failed step (by index): why.
    errors: BTreeMap<u32, StepErr>,
    /// Per step that grew memory the first time it ran (by index): the pages added.
    grown: BTreeMap<u32, u32>,
    snaps: Vec<Snap>,
    /// Steps between snapshots.
    k: u32,
    /// Steps done: the heap is in the state after step `pos` (0: as made).
    pub pos: u32,
    /// Statistics samples, `SAMPLE_WORDS` numbers each.
    samples: Vec<f64>,
    /// Steps between samples.
    stride: u32,
    /// The last line the steps came from (statements appended go on the next one).
    pub lines: u32,
    pub format: &'static str,
    /// How many ids the trace declares (for the snapshot estimate).
    ids: u32,
    /// The trace's ops run through the engine's checked replay (`Session`: every block
    /// checked and filled with a pattern, as `replay` reports) rather than the plain driver
    /// (the ids' addresses in `Live::slots`, cheap to snapshot).
    checked: bool,
    js_bytes: usize,
    arena_bytes: usize,
    /// Why the timeline stopped recording, if it did.
    pub full: Option<String>,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline {
            ops: Vec::new(),
            extra: Vec::new(),
            text: String::new(),
            addrs: Vec::new(),
            errors: BTreeMap::new(),
            grown: BTreeMap::new(),
            snaps: Vec::new(),
            k: FIRST_INTERVAL,
            pos: 0,
            samples: Vec::new(),
            stride: 1,
            lines: 0,
            format: "script",
            ids: 0,
            checked: false,
            js_bytes: 0,
            arena_bytes: 0,
            full: None,
        }
    }
}

impl Timeline {
    /// Steps recorded.
    pub fn len(&self) -> u32 {
        (self.ops.len() + self.extra.len()) as u32
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Steps not run yet (a load in progress).
    pub fn pending(&self) -> bool {
        self.addrs.len() < self.len() as usize
    }

    /// Steps run so far.
    pub fn done(&self) -> u32 {
        self.addrs.len() as u32
    }

    /// Keeps the first `n` steps only (before they run).
    pub fn limit(&mut self, n: u32) {
        let n = n as usize;
        if n < self.ops.len() {
            self.ops.truncate(n);
            self.extra.clear();
        } else if n - self.ops.len() < self.extra.len() {
            self.extra.truncate(n - self.ops.len());
        }
        if let Some(Src::Stmt { line, .. }) = self.extra.last() {
            self.lines = *line;
        } else if let Some(op) = self.ops.last() {
            if self.extra.is_empty() {
                self.lines = op.line;
            }
        }
    }

    /// Step `i` (0-based).
    pub fn get(&self, i: u32) -> Option<StepRef<'_>> {
        let i = i as usize;
        if let Some(op) = self.ops.get(i) {
            return Some(StepRef::Op(op));
        }
        Some(match *self.extra.get(i - self.ops.len())? {
            Src::Stmt { line, at, len } => StepRef::Stmt(
                line,
                self.text
                    .get(at as usize..(at + len) as usize)
                    .unwrap_or(""),
            ),
            Src::Call(c) => StepRef::Call(c),
        })
    }

    /// The source line of step `i` (0 for calls).
    pub fn line(&self, i: u32) -> u32 {
        match self.get(i) {
            Some(StepRef::Op(op)) => op.line,
            Some(StepRef::Stmt(line, _)) => line,
            _ => 0,
        }
    }

    pub fn addr(&self, i: u32) -> Option<u32> {
        self.addrs.get(i as usize).copied().filter(|&a| a != 0)
    }

    /// Pages `memory.grow` added when step `i` first ran (0 if none).
    pub fn grown(&self, i: u32) -> u32 {
        self.grown.get(&i).copied().unwrap_or(0)
    }

    pub fn error(&self, i: u32) -> Option<&StepErr> {
        self.errors.get(&i)
    }

    pub fn failed(&self) -> impl Iterator<Item = (u32, &StepErr)> + '_ {
        self.errors.iter().map(|(&i, e)| (i, e))
    }

    pub fn failed_count(&self) -> usize {
        self.errors.len()
    }

    pub fn interval(&self) -> u32 {
        self.k
    }
    pub fn snapshot_count(&self) -> usize {
        self.snaps.len()
    }
    pub fn snapshot_bytes(&self) -> (usize, usize) {
        (self.js_bytes, self.arena_bytes)
    }
    pub fn stride(&self) -> u32 {
        self.stride
    }
    pub fn samples(&self) -> &[f64] {
        &self.samples
    }

    /// Sets up a trace's ops as the steps to come (call [`begin`] first).
    /// `checked`: run them through the engine's checked replay (see [`Timeline::checked`]).
    pub fn set_ops(&mut self, ops: Vec<Op>, ids: u32, format: &'static str, checked: bool) {
        self.lines = ops.last().map_or(0, |o| o.line);
        self.ops = ops;
        self.ids = ids;
        self.format = format;
        self.checked = checked;
    }

    /// Cuts a script into statements: one step for each non-empty piece of a line between
    /// `;`s, comments (`#`, `//`) cut off.
    pub fn set_script(&mut self, src: &str) -> Result<(), String> {
        let oom = || String::from("load: no module memory left for the script's steps");
        let src = src.strip_prefix('\u{feff}').unwrap_or(src);
        let mut n = 0u32;
        let mut pieces: Vec<(u32, usize, usize)> = Vec::new();
        let base = src.as_ptr() as usize;
        for (i, line) in src.split('\n').enumerate() {
            let line_no = (i + 1) as u32;
            let line = line.strip_suffix('\r').unwrap_or(line);
            for piece in heaptale::trace::statements_of(line) {
                let t = piece.trim();
                if t.is_empty() {
                    continue;
                }
                if pieces.len() >= MAX_STEPS {
                    return Err(format!(
                        "load: more than {MAX_STEPS} statements: the playground takes no more"
                    ));
                }
                pieces.try_reserve(1).map_err(|_| oom())?;
                pieces.push((line_no, t.as_ptr() as usize - base, t.len()));
            }
            if !line.trim().is_empty() {
                n = line_no;
            }
        }
        let total: usize = pieces.iter().map(|p| p.2).sum();
        self.text.try_reserve(total).map_err(|_| oom())?;
        self.extra
            .try_reserve_exact(pieces.len())
            .map_err(|_| oom())?;
        for (line, at, len) in pieces {
            let start = self.text.len() as u32;
            self.text.push_str(&src[at..at + len]);
            self.extra.push(Src::Stmt {
                line,
                at: start,
                len: len as u32,
            });
        }
        self.lines = n;
        self.format = "script";
        Ok(())
    }

    /// Prepares room for the outcomes of every step, and the sample stride.
    pub fn prepare(&mut self) -> Result<(), String> {
        let n = self.len() as usize;
        self.addrs
            .try_reserve_exact(n)
            .map_err(|_| String::from("load: no module memory left for the steps' results"))?;
        self.stride = (self.len() / SAMPLES).max(1);
        // Long loads start with fewer snapshots (the budget thins them out anyway).
        self.k = (self.len() / 512)
            .next_power_of_two()
            .clamp(FIRST_INTERVAL, 4096);
        self.samples
            .try_reserve((n / self.stride as usize + 2) * SAMPLE_WORDS)
            .map_err(|_| String::from("load: no module memory left"))?;
        Ok(())
    }

    /// Forgets the steps after `pos` (the future), before a new step is added there.
    fn truncate(&mut self) {
        let pos = self.pos;
        if pos >= self.len() {
            return;
        }
        let p = pos as usize;
        if p < self.ops.len() {
            self.ops.truncate(p);
            self.extra.clear();
        } else {
            self.extra.truncate(p - self.ops.len());
        }
        if let Some(Src::Stmt { at, len, .. }) = self.extra.last() {
            self.text.truncate((at + len) as usize);
        } else if self.extra.is_empty() {
            self.text.clear();
        }
        self.addrs.truncate(p);
        let _ = self.errors.split_off(&pos);
        let _ = self.grown.split_off(&pos);
        let js: usize = self
            .snaps
            .iter()
            .filter(|s| s.step > pos)
            .map(|s| s.js_cost)
            .sum();
        let ar: usize = self
            .snaps
            .iter()
            .filter(|s| s.step > pos)
            .map(|s| s.arena_cost)
            .sum();
        self.snaps.retain(|s| s.step <= pos);
        self.js_bytes -= js;
        self.arena_bytes -= ar;
        while self.samples.len() >= SAMPLE_WORDS
            && self.samples[self.samples.len() - SAMPLE_WORDS] > pos as f64
        {
            self.samples.truncate(self.samples.len() - SAMPLE_WORDS);
        }
        self.lines = match p {
            0 => self.line(0).saturating_sub(1),
            _ => self.line(pos - 1),
        };
    }

    /// Makes room for one more step at the end (after forgetting the future); false when
    /// the timeline cannot record any more.
    fn room(&mut self) -> bool {
        if self.full.is_some() {
            return false;
        }
        self.truncate();
        if self.len() as usize >= MAX_STEPS {
            self.full = Some(format!("the timeline holds at most {MAX_STEPS} steps"));
            return false;
        }
        if self.extra.try_reserve(1).is_err() || self.addrs.try_reserve(1).is_err() {
            self.full = Some(String::from("the module's memory is full"));
            return false;
        }
        true
    }
}

// ---------------------------------------------------------------- running steps

/// Runs step `i` on the heap (the timeline's position is not changed).
fn exec(l: &mut Live, i: u32) -> Outcome {
    let Live {
        heap,
        session,
        timeline,
        slots,
        ..
    } = l;
    let before = heap.observer().events.len();
    // The bytes a `write`/`memset` statement wrote (the simulated process touches them).
    let mut wrote = None;
    let (mut out, realloc) = match timeline.get(i) {
        Some(StepRef::Op(op)) if !timeline.checked => plain_op(heap, slots, op),
        Some(step) => {
            let r = exec_ref(heap, session, step);
            if !matches!(step, StepRef::Call(_)) {
                wrote = session.last_write();
            }
            r
        }
        None => (Outcome::usage("no such step".into()), None),
    };
    out.pages = grown_pages(&heap.observer().events[before..]);
    crate::process::after_step(l, i, before, wrote);
    l.sync(realloc);
    out
}

fn grown_pages(events: &[Event]) -> u32 {
    events
        .iter()
        .map(|e| {
            if let Event::Grow { pages, .. } = e {
                *pages
            } else {
                0
            }
        })
        .sum()
}

/// A trace op on the plain driver: the ids' addresses in `slots`, no checks. The heap sees
/// exactly the calls the checked replay makes (a failed allocation stores NULL, a failed
/// `realloc` keeps the block), so both give the same layouts.
fn plain_op(
    heap: &mut crate::instance::EngineHeap,
    slots: &mut Vec<u32>,
    op: &Op,
) -> (Outcome, Option<usize>) {
    let slot = |slots: &Vec<u32>, id: u32| {
        if id == NULL_ID {
            0
        } else {
            slots.get(id as usize).copied().unwrap_or(0)
        }
    };
    let src = slot(slots, op.id) as usize;
    let (r, realloc) = match op.kind {
        OpKind::Malloc { size } => (heap.malloc(size as usize), None),
        OpKind::Calloc { n, size } => (heap.calloc(n as usize, size as usize), None),
        OpKind::Memalign { align, size } => (heap.memalign(align as usize, size as usize), None),
        OpKind::Free => (heap.free(src).map(|()| 0), None),
        OpKind::Realloc { size } => (heap.realloc(src, size as usize), Some(size as usize)),
        OpKind::Write { .. } | OpKind::Memset { .. } => {
            // Only scripts write, and scripts run through the checked replay.
            let message = format!(
                "{}: the plain driver runs .rep traces, which have no writes",
                op.kind.name()
            );
            return (Outcome::usage(message), None);
        }
    };
    let mut set = |id: u32, a: usize| {
        if id != NULL_ID {
            if slots.len() <= id as usize
                && slots.try_reserve(id as usize + 1 - slots.len()).is_ok()
            {
                slots.resize(id as usize + 1, 0);
            }
            if let Some(s) = slots.get_mut(id as usize) {
                *s = a as u32;
            }
        }
    };
    let out = match r {
        Ok(a) => {
            if op.kind.allocates() {
                set(op.to, a);
            }
            Outcome {
                addr: if op.kind == OpKind::Free {
                    None
                } else {
                    Some(a)
                },
                err: None,
                text: None,
                pages: 0,
            }
        }
        Err(e) => {
            let keeps = op.kind == OpKind::Free
                || (matches!(op.kind, OpKind::Realloc { .. }) && op.id == op.to);
            if !keeps {
                set(op.to, 0);
            }
            Outcome {
                addr: None,
                err: Some(StepErr {
                    kind: ErrKind::Engine,
                    message: e.to_string(),
                }),
                text: None,
                pages: 0,
            }
        }
    };
    (out, realloc)
}

fn exec_ref(
    heap: &mut crate::instance::EngineHeap,
    session: &mut Session,
    step: StepRef<'_>,
) -> (Outcome, Option<usize>) {
    match step {
        StepRef::Op(op) => {
            let realloc = match op.kind {
                OpKind::Realloc { size } => Some(size as usize),
                _ => None,
            };
            // No text for an op that worked (nothing shows it: `stepInfo` makes it when
            // asked); an error names the op, as `Session::step`'s do.
            let out = match session.step_quiet(heap, op) {
                Ok(addr) => Outcome {
                    addr,
                    err: None,
                    text: None,
                    pages: 0,
                },
                Err(e) => {
                    let kind = match e.kind {
                        StepErrorKind::Usage => ErrKind::Usage,
                        StepErrorKind::Engine(_) => ErrKind::Engine,
                        StepErrorKind::Integrity => ErrKind::Integrity,
                    };
                    let message = format!("{}: {}", session.op_text(op), e.message);
                    Outcome {
                        addr: None,
                        err: Some(StepErr { kind, message }),
                        text: None,
                        pages: 0,
                    }
                }
            };
            (out, realloc)
        }
        StepRef::Stmt(_, text) => {
            let realloc = crate::traces::realloc_size(text);
            let out = match session.run(heap, text) {
                Ok(s) => Outcome {
                    addr: s.addr,
                    err: None,
                    text: Some(s.text),
                    pages: 0,
                },
                Err(message) => Outcome::usage(message),
            };
            (out, realloc)
        }
        StepRef::Call(c) => {
            let (r, realloc): (Result<usize, HeapError>, _) = match c {
                Call::Malloc(n) => (heap.malloc(n as usize), None),
                Call::Calloc(n, s) => (heap.calloc(n as usize, s as usize), None),
                Call::Memalign(a, n) => (heap.memalign(a as usize, n as usize), None),
                Call::Free(p) => (heap.free(p as usize).map(|()| 0), None),
                Call::Realloc(p, n) => (heap.realloc(p as usize, n as usize), Some(n as usize)),
            };
            let out = match r {
                Ok(a) => Outcome {
                    addr: if a == 0 { None } else { Some(a) },
                    err: None,
                    text: None,
                    pages: 0,
                },
                Err(e) => Outcome {
                    addr: None,
                    err: Some(StepErr {
                        kind: ErrKind::Engine,
                        message: e.to_string(),
                    }),
                    text: None,
                    pages: 0,
                },
            };
            (out, realloc)
        }
    }
}

/// Records the outcome of the step just run at the end of the timeline (index `i`), then
/// takes a snapshot or a sample when one is due.
fn record(l: &mut Live, i: u32, out: &Outcome) {
    let t = &mut l.timeline;
    t.addrs.push(out.addr.map_or(0, |a| a as u32));
    if let Some(e) = &out.err {
        t.errors.insert(i, e.clone());
    }
    if out.pages > 0 {
        t.grown.insert(i, out.pages);
    }
    t.pos = i + 1;
    let done = i + 1;
    let (stride, k) = (t.stride, t.k);
    if done.is_multiple_of(stride) {
        sample(l);
        // Steps added one by one: keep the samples few (each is a walk of the heap).
        let t = &mut l.timeline;
        if t.samples.len() > 2 * SAMPLES as usize * SAMPLE_WORDS {
            t.stride = t.stride.saturating_mul(2);
            let stride = t.stride as f64;
            let mut kept = Vec::with_capacity(t.samples.len() / 2 + SAMPLE_WORDS);
            for row in t.samples.chunks_exact(SAMPLE_WORDS) {
                if row[0] % stride == 0.0 {
                    kept.extend_from_slice(row);
                }
            }
            t.samples = kept;
        }
    }
    if done.is_multiple_of(k) {
        snapshot(l);
    }
}

/// Appends a sample of the heap's figures after the current step.
pub fn sample(l: &mut Live) {
    let s = l.heap.stats();
    let row = [
        l.timeline.pos as f64,
        l.live_bytes as f64,
        s.heap_bytes as f64,
        s.used_bytes as f64,
        s.free_bytes as f64,
        s.free_blocks as f64,
        s.largest_free as f64,
        l.probes as f64,
        s.used_blocks as f64,
        l.heap.mem().committed() as f64,
    ];
    if l.timeline.samples.try_reserve(SAMPLE_WORDS).is_ok() {
        l.timeline.samples.extend_from_slice(&row);
    }
}

/// Takes a snapshot of the heap after the current step, within the budgets.
fn snapshot(l: &mut Live) {
    let brk = l.heap.mem().brk();
    let vars = l.session.vars().count();
    let t = &l.timeline;
    // The variables and blocks a `Session` keeps are cloned into the module's arena; the
    // rest goes to JS.
    let session_blocks = if t.checked || vars > 0 {
        l.requested.len()
    } else {
        0
    };
    let arena_cost =
        if t.checked { t.ids as usize * 4 } else { 0 } + vars * 48 + session_blocks * 72 + 512;
    // Ids past the last one that holds an address hold none (zeros): not copied.
    let used_slots = l.slots.iter().rposition(|&a| a != 0).map_or(0, |i| i + 1);
    let js_cost = brk as usize + used_slots * 4 + l.requested.len() * 8;
    // A snapshot that would take a large share of a budget alone is not taken: the steps
    // are then re-run from an earlier one.
    if js_cost > JS_BUDGET / 4 || arena_cost > ARENA_BUDGET / 4 {
        return;
    }
    // Thin the snapshots first if this one would not fit (every other goes, `k` doubles):
    // one that the thinning would drop at once is then not taken at all.
    let pos = t.pos;
    let mut k = t.k;
    loop {
        let kept = t.snaps.iter().filter(|s| s.step % k == 0);
        let (mine_js, mine_ar) = if pos.is_multiple_of(k) {
            (js_cost, arena_cost)
        } else {
            (0, 0)
        };
        let js: usize = kept.clone().map(|s| s.js_cost).sum::<usize>() + mine_js;
        let ar: usize = kept.map(|s| s.arena_cost).sum::<usize>() + mine_ar;
        if js <= JS_BUDGET && ar <= ARENA_BUDGET {
            break;
        }
        k = k.saturating_mul(2);
    }
    if k != t.k {
        let t = &mut l.timeline;
        t.k = k;
        t.snaps.retain(|s| s.step % k == 0);
        t.js_bytes = t.snaps.iter().map(|s| s.js_cost).sum();
        t.arena_bytes = t.snaps.iter().map(|s| s.arena_cost).sum();
    }
    if !pos.is_multiple_of(k) {
        return;
    }
    let mut pairs: Vec<u32> = Vec::new();
    if l.timeline.snaps.try_reserve(1).is_err()
        || pairs.try_reserve_exact(l.requested.len() * 2).is_err()
    {
        return;
    }
    for (&b, &n) in &l.requested {
        pairs.push(b);
        pairs.push(n);
    }
    let bytes = if brk == 0 {
        None
    } else {
        Some(Uint8Array::from(l.heap.mem().bytes(0, brk)))
    };
    let snap = Snap {
        step: l.timeline.pos,
        policy: Some(l.heap.policy().inner.clone()),
        brk,
        bytes,
        session: l.session.clone(),
        slots: if used_slots == 0 {
            None
        } else {
            Some(Uint32Array::from(&l.slots[..used_slots]))
        },
        requested: if pairs.is_empty() {
            None
        } else {
            Some(Uint32Array::from(pairs.as_slice()))
        },
        live_bytes: l.live_bytes,
        probes: l.probes,
        js_cost,
        arena_cost,
    };
    drop(pairs);
    let t = &mut l.timeline;
    t.snaps.push(snap);
    t.js_bytes += js_cost;
    t.arena_bytes += arena_cost;
}

/// Installs the steps of a load on a heap just made (its timeline begun): snapshot 0 keeps
/// the heap as made, with `session` as the variables to start from.
pub fn install(l: &mut Live, mut t: Timeline, session: Session) -> Result<(), String> {
    let old = core::mem::take(&mut l.timeline);
    t.snaps = old.snaps;
    t.samples = old.samples;
    t.k = FIRST_INTERVAL;
    t.pos = 0;
    l.session = session;
    if let Some(s0) = t.snaps.first_mut() {
        s0.session = l.session.clone();
    }
    l.slots = Vec::new();
    if !t.checked && !t.ops.is_empty() {
        if l.slots.try_reserve_exact(t.ids as usize).is_err() {
            return Err(String::from(
                "load: no module memory left for the trace's ids",
            ));
        }
        l.slots.resize(t.ids as usize, 0);
    }
    l.timeline = t;
    if let Err(e) = l.timeline.prepare() {
        l.timeline = Timeline::default();
        l.session = Session::new();
        begin(l);
        return Err(e);
    }
    Ok(())
}

/// Starts the timeline of a heap just made: snapshot 0 is the heap as made.
pub fn begin(l: &mut Live) {
    let brk = l.heap.mem().brk();
    l.timeline.snaps.push(Snap {
        step: 0,
        policy: None,
        brk,
        bytes: None,
        session: l.session.clone(),
        slots: None,
        requested: None,
        live_bytes: 0,
        probes: 0,
        js_cost: 0,
        arena_cost: 0,
    });
    l.timeline.samples.clear();
    sample(l);
}

/// Runs every step not run yet (a load), recording each; `each(i, outcome)` may stop the
/// run by returning false (the steps after are then dropped).
/// At most `max` of them: returns true when every step has run.
pub fn run_all(l: &mut Live, max: u32, mut each: impl FnMut(u32, &Outcome) -> bool) -> bool {
    let n = l.timeline.len();
    let mut i = l.timeline.pos;
    let stop = i.saturating_add(max).min(n);
    while i < stop {
        let out = exec(l, i);
        record(l, i, &out);
        if !each(i, &out) {
            l.timeline.pos = i + 1;
            l.timeline.truncate();
            break;
        }
        i += 1;
    }
    if l.timeline.pending() {
        return false;
    }
    if l.timeline.samples.len() >= SAMPLE_WORDS
        && l.timeline.samples[l.timeline.samples.len() - SAMPLE_WORDS] != l.timeline.pos as f64
    {
        sample(l);
    }
    true
}

/// Adds a step at the current position (forgetting the steps after it) and runs it.
/// Returns the outcome and whether it was recorded.
pub fn append(l: &mut Live, step: Appended<'_>) -> (Outcome, bool) {
    if l.timeline.pending() {
        let message = format!(
            "the trace is still loading ({} of {} steps run): wait until it has finished",
            l.timeline.addrs.len(),
            l.timeline.len()
        );
        return (Outcome::usage(message), false);
    }
    if !l.timeline.room() {
        // Not recorded: run it all the same.
        let Live { heap, session, .. } = l;
        let (out, realloc) = match step {
            Appended::Stmt(text) => exec_ref(heap, session, StepRef::Stmt(0, text)),
            Appended::Call(c) => exec_ref(heap, session, StepRef::Call(c)),
        };
        l.sync(realloc);
        return (out, false);
    }
    let t = &mut l.timeline;
    match step {
        Appended::Stmt(text) => {
            let text = text.trim();
            if t.text.try_reserve(text.len()).is_err() {
                t.full = Some(String::from("the module's memory is full"));
                return append(l, step);
            }
            let at = t.text.len() as u32;
            t.text.push_str(text);
            t.lines += 1;
            t.extra.push(Src::Stmt {
                line: t.lines,
                at,
                len: text.len() as u32,
            });
        }
        Appended::Call(c) => t.extra.push(Src::Call(c)),
    }
    let i = l.timeline.len() - 1;
    let out = exec(l, i);
    record(l, i, &out);
    (out, true)
}

/// A step to append.
#[derive(Clone, Copy)]
pub enum Appended<'a> {
    Stmt(&'a str),
    Call(Call),
}

/// Puts the heap in the state after step `n`: restores the nearest snapshot before step
/// `n` and runs the steps from there, the last one with its events recorded.
pub fn seek(l: &mut Live, n: u32) -> Result<(), String> {
    if let Some(why) = &l.timeline.full {
        return Err(format!("time travel is off for this heap: {why}"));
    }
    if l.timeline.pending() {
        return Err(format!(
            "seek: the trace is still loading ({} of {} steps run)",
            l.timeline.addrs.len(),
            l.timeline.len()
        ));
    }
    let len = l.timeline.len();
    if n > len {
        return Err(format!(
            "seek: there is no step {n}: the timeline has {len} steps"
        ));
    }
    // The steps to run end with step n - 1 (0-based); start from the latest snapshot at or
    // before it, or from where the heap is when that is nearer.
    let last = n.saturating_sub(1);
    let si = l
        .timeline
        .snaps
        .partition_point(|s| s.step <= last)
        .saturating_sub(1);
    let s_step = l.timeline.snaps.get(si).map_or(0, |s| s.step);
    let pos = l.timeline.pos;
    let from = if n > 0 && pos <= last && pos >= s_step {
        pos
    } else {
        restore(l, si).map_err(|e| format!("seek: {e}"))?;
        s_step
    };
    let mut i = from;
    while i + 1 < n {
        exec(l, i);
        clear_events(l);
        i += 1;
    }
    clear_events(l);
    l.dropped = 0;
    if n > 0 && i < n {
        exec(l, i);
    }
    l.timeline.pos = n;
    Ok(())
}

fn clear_events(l: &mut Live) {
    l.heap.observer_mut().events.clear();
    l.seen = 0;
}

/// Puts snapshot `si` back.
fn restore(l: &mut Live, si: usize) -> Result<(), HeapError> {
    let Some(s) = l.timeline.snaps.get(si) else {
        return Err(HeapError::BadConfig("no snapshot"));
    };
    let policy = s.policy.clone();
    let brk = s.brk;
    let bytes = s.bytes.clone();
    let session = s.session.clone();
    let slots = s.slots.clone();
    let requested = s.requested.clone();
    let (live_bytes, probes, step) = (s.live_bytes, s.probes, s.step);
    let fresh = match policy {
        Some(p) => (p, false),
        None => (AnyPolicy::new(&l.config)?, true),
    };
    l.restore_heap(fresh.0, fresh.1, brk, bytes.as_ref())?;
    l.session = session;
    let n = slots
        .as_ref()
        .map_or(0, |a| a.length() as usize)
        .min(l.slots.len());
    if let Some(a) = slots.filter(|_| n > 0) {
        a.subarray(0, n as u32).copy_to(&mut l.slots[..n]);
    }
    l.slots[n..].fill(0);
    l.requested.clear();
    if let Some(a) = requested {
        let pairs = a.to_vec();
        l.requested = pairs.chunks_exact(2).map(|p| (p[0], p[1])).collect();
    }
    l.live_bytes = live_bytes;
    l.probes = probes;
    l.timeline.pos = step;
    Ok(())
}

impl Live {
    /// Applies the events recorded since the last sync: requested sizes, live bytes, probes;
    /// and keeps the undrained events bounded.
    pub fn sync(&mut self, realloc_request: Option<usize>) {
        let events = &self.heap.observer().events;
        for e in events.iter().skip(self.seen) {
            match *e {
                Event::Alloc {
                    block,
                    request,
                    probes,
                    ..
                } => {
                    if let Some(old) = self.requested.insert(block, request) {
                        self.live_bytes -= old as u64;
                    }
                    self.live_bytes += request as u64;
                    self.probes += probes as u64;
                }
                Event::Free { block, .. } => {
                    if let Some(old) = self.requested.remove(&block) {
                        self.live_bytes -= old as u64;
                    }
                }
                Event::Realloc {
                    old,
                    new,
                    in_place: true,
                    ..
                } if old == new => {
                    if let Some(n) = realloc_request {
                        let n = n.min(u32::MAX as usize) as u32;
                        if let Some(before) = self.requested.insert(old, n) {
                            self.live_bytes -= before as u64;
                        }
                        self.live_bytes += n as u64;
                    }
                }
                _ => {}
            }
        }
        self.seen = events.len();
        if self.seen > crate::heap::MAX_PENDING_EVENTS {
            let cut = self.seen - crate::heap::MAX_PENDING_EVENTS / 2;
            self.heap.observer_mut().events.drain(..cut);
            self.dropped += cut as u64;
            self.seen -= cut;
        }
    }
}

// ---------------------------------------------------------------- the JS face

mod js {
    use js_sys::{Array, Float64Array, Object};
    use wasm_bindgen::prelude::*;

    use super::{seek, StepRef, SAMPLE_WORDS};
    use crate::args::whole;
    use crate::heap::{set, JsHeap};
    use crate::instance::{self, Live};

    /// `{step, line, text, addr, error}` of step `n` (1-based; step 0 is the heap as made).
    fn info(l: &Live, n: u32) -> Object {
        let o = Object::new();
        set(&o, "step", &(n as f64).into());
        let t = &l.timeline;
        if n == 0 || n > t.len() {
            set(&o, "line", &0.0.into());
            set(&o, "text", &"".into());
            set(&o, "addr", &JsValue::NULL);
            set(&o, "error", &JsValue::NULL);
            set(&o, "grewPages", &0.0.into());
            return o;
        }
        let i = n - 1;
        let text = match t.get(i) {
            Some(StepRef::Op(op)) => l.session.op_text(op),
            Some(StepRef::Stmt(_, s)) => s.to_string(),
            Some(StepRef::Call(c)) => c.text(),
            None => String::new(),
        };
        set(&o, "line", &(t.line(i) as f64).into());
        set(&o, "grewPages", &(t.grown(i) as f64).into());
        set(&o, "text", &text.into());
        set(
            &o,
            "addr",
            &t.addr(i).map_or(JsValue::NULL, |a| (a as f64).into()),
        );
        set(
            &o,
            "error",
            &t.error(i)
                .map_or(JsValue::NULL, |e| e.message.as_str().into()),
        );
        if let Some(e) = t.error(i) {
            let kind = match e.kind {
                super::ErrKind::Usage => "usage",
                super::ErrKind::Engine => "engine",
                super::ErrKind::Integrity => "integrity",
            };
            set(&o, "errorKind", &kind.into());
        }
        o
    }

    fn step_number(v: f64, call: &str, l: &Live) -> Result<u32, JsError> {
        let n = whole(v, call, "step")?;
        let len = l.timeline.len() as usize;
        if n > len {
            return Err(JsError::new(&format!("{call}: there is no step {n}: the timeline has {len} steps (0 is the heap as made)")));
        }
        Ok(n as u32)
    }

    #[wasm_bindgen(js_class = Heap)]
    impl JsHeap {
        /// Puts the heap in its state after step `n` (0: as made), restoring the nearest
        /// snapshot and running the steps from there; `events()` then holds the events of
        /// step `n` alone. Returns `stepInfo(n)`. The break can end below `memory.size`
        /// (memory never shrinks).
        pub fn seek(&self, n: f64) -> Result<Object, JsError> {
            instance::with_live(self.id(), |l| {
                let n = step_number(n, "seek", l)?;
                seek(l, n).map_err(|e| JsError::new(&e))?;
                Ok(info(l, n))
            })
        }

        /// Steps done: the heap is in its state after this step.
        pub fn position(&self) -> Result<f64, JsError> {
            instance::with_live(self.id(), |l| Ok(l.timeline.pos as f64))
        }

        /// Steps in the timeline.
        #[wasm_bindgen(js_name = stepCount)]
        pub fn step_count(&self) -> Result<f64, JsError> {
            instance::with_live(self.id(), |l| Ok(l.timeline.len() as f64))
        }

        /// What step `n` ran: `{step, line, text, addr, error, errorKind?, grewPages}`
        /// (`line`: of the script or trace, 0 for a call of the JS API; `text`: the statement
        /// or call; `grewPages`: the pages memory.grow added when the step first ran; when it
        /// runs again after a step back they are already there, and its grow event says 0).
        #[wasm_bindgen(js_name = stepInfo)]
        pub fn step_info(&self, n: f64) -> Result<Object, JsError> {
            instance::with_live(self.id(), |l| {
                let n = step_number(n, "stepInfo", l)?;
                Ok(info(l, n))
            })
        }

        /// `stepInfo` of up to `count` steps from step `from` (for a list of steps).
        #[wasm_bindgen(js_name = stepList)]
        pub fn step_list(&self, from: f64, count: f64) -> Result<Array, JsError> {
            instance::with_live(self.id(), |l| {
                let from = step_number(from, "stepList", l)?.max(1);
                let count = whole(count, "stepList", "count")?.min(10_000) as u32;
                let out = Array::new();
                let end = (from + count).min(l.timeline.len() + 1);
                for n in from..end {
                    out.push(&info(l, n));
                }
                Ok(out)
            })
        }

        /// The steps that failed, at most `max`: `[{step, line, text, addr, error}, ...]`.
        pub fn failures(&self, max: f64) -> Result<Array, JsError> {
            instance::with_live(self.id(), |l| {
                let max = whole(max, "failures", "max")?;
                let out = Array::new();
                for (i, _) in l.timeline.failed().take(max) {
                    out.push(&info(l, i + 1));
                }
                Ok(out)
            })
        }

        /// The heap's figures over the steps, sampled every `stride` steps (and after the
        /// last): a `Float64Array` of rows of `SERIES_FIELDS` numbers: step, live_bytes,
        /// heap_bytes, used_bytes, free_bytes, free_blocks, largest_free, probes (so far),
        /// used_blocks, memory_bytes (grown under the heap).
        pub fn series(&self) -> Result<Float64Array, JsError> {
            instance::with_live(self.id(), |l| {
                let s = l.timeline.samples();
                // Only the rows up to the current position's future are real: all of them.
                Ok(Float64Array::from(
                    &s[..s.len() / SAMPLE_WORDS * SAMPLE_WORDS],
                ))
            })
        }

        /// About the timeline: `{steps, position, format, lines, interval, snapshots,
        /// snapshotBytes, arenaBytes, stride, failed, recording, why}`.
        pub fn timeline(&self) -> Result<Object, JsError> {
            instance::with_live(self.id(), |l| {
                let t = &l.timeline;
                let o = Object::new();
                let (js, arena) = t.snapshot_bytes();
                set(&o, "steps", &(t.len() as f64).into());
                set(&o, "position", &(t.pos as f64).into());
                set(&o, "format", &t.format.into());
                set(&o, "lines", &(t.lines as f64).into());
                set(&o, "interval", &(t.interval() as f64).into());
                set(&o, "snapshots", &(t.snapshot_count() as f64).into());
                set(&o, "snapshotBytes", &(js as f64).into());
                set(&o, "arenaBytes", &(arena as f64).into());
                set(&o, "stride", &(t.stride() as f64).into());
                set(&o, "failed", &(t.failed_count() as f64).into());
                set(&o, "recording", &t.full.is_none().into());
                set(&o, "loading", &t.pending().into());
                set(&o, "done", &(t.done() as f64).into());
                set(
                    &o,
                    "why",
                    &t.full.as_deref().map_or(JsValue::NULL, JsValue::from_str),
                );
                Ok(o)
            })
        }
    }
}
