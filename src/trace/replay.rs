//! Replaying ops on a heap, with the integrity checks of malloc-lab's driver.
//!
//! Every block the heap hands out is checked when it is handed out:
//! - its payload is aligned (to the heap's alignment knob, or the memalign alignment);
//! - it lies inside the heap, `[start, brk)`;
//! - it overlaps no other live block (live blocks are kept in an ordered map);
//! - the heap says it can hold at least what was asked for (`usable_size`);
//! - a calloc'd payload reads as zeros.
//!
//! Then it is filled with a pattern of its own, which is verified before the block is
//! freed or reallocated, after a realloc (the first `min(old, new)` bytes must have been
//! kept) and, for blocks still live, when a replay ends. An overlap the checks above miss,
//! or a heap that writes its bookkeeping into a live payload, shows up as a changed byte.
//!
//! A script's own writes (`write(p, "text")`, `memset(p, 0, n)`) put real bytes into a live
//! block's payload, inside its usable size (else the step fails with a clear message and
//! nothing is written); the replayer remembers them, so the checks above then expect the
//! user's bytes where they were written and the pattern elsewhere. [`Session::last_write`]
//! says which bytes the last step wrote (for the simulated process: a user write touches
//! pages).
//!
//! Utilization is malloc-lab's: the peak of the live payload bytes (the sizes asked for)
//! over the peak heap size (`brk - start`).

use super::op::{op_text_with, quote, Op, OpKind, Trace, MAX_IDS, NULL_ID};
use super::script::{statement, statements_of, unescape, Call, Ptr};
use crate::heap::Heap;
use crate::policy::Policy;
use crate::source::Source;
use crate::{HeapError, Observer};
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

/// Knobs of a replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Run [`Heap::check`] after every this many ops (0: only at the end).
    pub check_every: u32,
    /// The alignment every payload must have; `None`: the heap's alignment knob.
    pub align: Option<usize>,
    /// Stop after this many integrity errors (the report keeps them all).
    pub max_errors: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            check_every: 0,
            align: None,
            max_errors: 100,
        }
    }
}

/// What a replay found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// Ops run (all of the trace's, unless the replay stopped at `max_errors`).
    pub ops: u64,
    /// The peak of the sum of the sizes asked for by live blocks.
    pub peak_live_bytes: u64,
    /// `brk - start` at the end.
    pub heap_bytes: u64,
    /// The largest `brk - start` seen.
    pub peak_heap_bytes: u64,
    /// `peak_live_bytes / peak_heap_bytes` (0 for an empty heap).
    pub utilization: f64,
    /// Every integrity error, each naming the op (0-based index) and its line.
    pub integrity_errors: Vec<String>,
    /// Calls the heap refused (out of memory, size overflow, bad alignment).
    pub alloc_failures: u64,
    /// The first of them, naming the op and its line.
    pub first_alloc_failure: Option<String>,
    /// The first of them, as the heap reported it.
    pub first_alloc_error: Option<HeapError>,
    /// The script's own writes that were refused (`write`, `memset` out of the block's
    /// usable size, through NULL or a pointer no longer live), each naming the op and its
    /// line: the program's mistakes, not the heap's.
    pub write_errors: Vec<String>,
}

impl Report {
    /// No integrity error, no allocation failure and no refused write.
    pub fn ok(&self) -> bool {
        self.integrity_errors.is_empty() && self.alloc_failures == 0 && self.write_errors.is_empty()
    }
}

/// Replays `trace` on `heap` with default [`Options`].
pub fn replay<S: Source, P: Policy, O: Observer>(
    heap: &mut Heap<S, P, O>,
    trace: &Trace,
) -> Report {
    replay_with(heap, trace, &Options::default())
}

/// Replays `trace` on `heap`.
pub fn replay_with<S: Source, P: Policy, O: Observer>(
    heap: &mut Heap<S, P, O>,
    trace: &Trace,
    opts: &Options,
) -> Report {
    replay_each(heap, trace, opts, |_, _, _, _| {})
}

/// What one op of a replay did: the address it returned (`None` for free), or why it failed.
pub type Outcome<'a> = Result<Option<usize>, &'a StepError>;

/// Replays `trace` on `heap`, calling `each(i, op, outcome, heap)` after op `i` (for step
/// logs and animations).
pub fn replay_each<S, P, O, F>(
    heap: &mut Heap<S, P, O>,
    trace: &Trace,
    opts: &Options,
    mut each: F,
) -> Report
where
    S: Source,
    P: Policy,
    O: Observer,
    F: FnMut(usize, &Op, Outcome<'_>, &Heap<S, P, O>),
{
    let mut s = Session::for_trace(trace);
    s.align = opts.align;
    s.null_on_failure = true;
    s.observe(heap);
    let mut r = Report::default();
    let max_errors = opts.max_errors.max(1);
    let at = |i: usize, op: &Op| format!("op {i} (line {})", op.line);
    for (i, op) in trace.ops.iter().enumerate() {
        r.ops += 1;
        let outcome = s.step_quiet(heap, op);
        each(i, op, outcome.as_ref().map(|a| *a), heap);
        match outcome {
            Ok(_) => {}
            Err(e) => {
                let msg = format!("{}: {}: {}", at(i, op), trace.op_text(op), e.message);
                match e.kind {
                    StepErrorKind::Engine(he) => {
                        r.alloc_failures += 1;
                        if r.first_alloc_failure.is_none() {
                            r.first_alloc_failure = Some(msg);
                            r.first_alloc_error = Some(he);
                        }
                    }
                    StepErrorKind::Usage if op.kind.is_access() => r.write_errors.push(msg),
                    _ => r.integrity_errors.push(msg),
                }
            }
        }
        if opts.check_every != 0 && (i + 1) % opts.check_every as usize == 0 {
            if let Err(e) = heap.check() {
                r.integrity_errors.push(format!(
                    "{}: heap check failed after the op: {e}",
                    at(i, op)
                ));
            }
        }
        if r.integrity_errors.len() >= max_errors {
            r.integrity_errors.push(format!(
                "stopped after {} integrity errors",
                r.integrity_errors.len()
            ));
            break;
        }
    }
    // The blocks still live must still hold their patterns.
    for msg in s.verify_live(heap) {
        r.integrity_errors.push(format!("at the end: {msg}"));
    }
    if let Err(e) = heap.check() {
        r.integrity_errors
            .push(format!("at the end: heap check failed: {e}"));
    }
    s.observe(heap);
    r.peak_live_bytes = s.peak_live_bytes;
    r.peak_heap_bytes = s.peak_heap_bytes;
    r.heap_bytes = heap_bytes(heap);
    r.utilization = if r.peak_heap_bytes == 0 {
        0.0
    } else {
        r.peak_live_bytes as f64 / r.peak_heap_bytes as f64
    };
    r
}

/// One op done: what it was, in C (`p = malloc(24) = 0x10008`), and the address it returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub text: String,
    pub addr: Option<usize>,
}

/// What kind of failure a step met.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepErrorKind {
    /// The statement or op itself is wrong (syntax, unknown variable, id out of range).
    Usage,
    /// The heap refused the call, as it should have (out of memory, double free, ...).
    Engine(HeapError),
    /// The heap misbehaved: a check failed.
    Integrity,
}

/// Why a step failed. The heap and the session stay usable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepError {
    pub kind: StepErrorKind,
    pub message: String,
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A live block as the replayer knows it.
#[derive(Clone, Copy, Debug)]
struct Block {
    /// Bytes asked for.
    size: u32,
    /// Pattern seed; the pattern is only there when `filled`.
    seed: u64,
    filled: bool,
    /// The id that got it.
    id: u32,
}

/// Bytes the user wrote into a block: `[from, to)` from the payload's start.
#[derive(Clone, Debug)]
struct Run {
    from: u32,
    to: u32,
    fill: Fill,
}

#[derive(Clone, Debug)]
enum Fill {
    /// `memset`: every byte the same.
    Byte(u8),
    /// `write`: the text's bytes from `skip` on (`to - from` of them), shared with the
    /// trace's texts (a snapshot of the session copies no text).
    Text { bytes: Arc<[u8]>, skip: u32 },
}

impl Run {
    /// The part `[a, b)` of the run (inside it).
    fn part(&self, a: u32, b: u32) -> Run {
        let fill = match &self.fill {
            Fill::Byte(v) => Fill::Byte(*v),
            Fill::Text { bytes, skip } => Fill::Text {
                bytes: bytes.clone(),
                skip: skip + (a - self.from),
            },
        };
        Run {
            from: a,
            to: b,
            fill,
        }
    }
}

/// Lays `new` over the runs (sorted, disjoint), which stay sorted and disjoint.
fn overwrite(runs: &mut Vec<Run>, new: Run) {
    let mut out = Vec::with_capacity(runs.len() + 2);
    for r in runs.drain(..) {
        if r.to <= new.from || r.from >= new.to {
            out.push(r);
            continue;
        }
        if r.from < new.from {
            out.push(r.part(r.from, new.from));
        }
        if r.to > new.to {
            out.push(r.part(new.to, r.to));
        }
    }
    out.push(new);
    out.sort_by_key(|r| r.from);
    *runs = out;
}

/// The runs cut at `keep` bytes (what a realloc keeps).
fn clip_runs(runs: Vec<Run>, keep: u32) -> Vec<Run> {
    runs.into_iter()
        .filter(|r| r.from < keep)
        .map(|r| if r.to > keep { r.part(r.from, keep) } else { r })
        .collect()
}

/// What a user write puts into a payload.
#[derive(Clone, Debug)]
enum Data {
    Bytes(Arc<[u8]>),
    Fill(u8, u32),
}

impl Data {
    fn len(&self) -> u32 {
        match self {
            Data::Bytes(b) => b.len().min(u32::MAX as usize) as u32,
            Data::Fill(_, n) => *n,
        }
    }
}

/// Variables (ids) bound to addresses, over a heap the caller owns: the playground console
/// and the engine of [`replay`]. A freed variable keeps its (now dangling) address, as in
/// C, so `free(p)` twice reaches the heap, which reports the double free.
#[derive(Clone, Debug, Default)]
pub struct Session {
    names: Vec<String>,
    index: BTreeMap<String, u32>,
    /// `slots[id]`: the address the id holds (0: NULL).
    slots: Vec<usize>,
    /// Live blocks by payload offset from the heap's start (addresses may wrap around the
    /// top of the address space when reports start at a high `--base`; offsets do not).
    blocks: BTreeMap<usize, Block>,
    /// The heap's start, as of the last step.
    start: usize,
    live_bytes: u64,
    peak_live_bytes: u64,
    peak_heap_bytes: u64,
    seq: u64,
    align: Option<usize>,
    /// A failed allocation stores NULL in its target (C semantics; replays), rather than
    /// leaving the target as it was (the console). A failed `p = realloc(p, n)` keeps p in
    /// both.
    null_on_failure: bool,
    /// The trace's `write` texts (shared: cloning a session copies none).
    texts: Arc<[Arc<[u8]>]>,
    /// What the user wrote into live blocks, by payload offset (as `blocks`).
    written: BTreeMap<usize, Vec<Run>>,
    /// The bytes the last step wrote for the user: address and length.
    last_write: Option<(usize, usize)>,
}

fn usage(message: String) -> StepError {
    StepError {
        kind: StepErrorKind::Usage,
        message,
    }
}
fn integrity(message: String) -> StepError {
    StepError {
        kind: StepErrorKind::Integrity,
        message,
    }
}
fn engine(e: HeapError) -> StepError {
    StepError {
        kind: StepErrorKind::Engine(e),
        message: e.to_string(),
    }
}

impl Session {
    /// An empty session: no variables.
    pub fn new() -> Session {
        Session::default()
    }

    /// A session whose ids are those of `trace` (for [`Session::step`] over its ops).
    pub fn for_trace(trace: &Trace) -> Session {
        let ids = (trace.ids as usize).max(trace.names.len());
        Session {
            names: trace.names.clone(),
            slots: alloc::vec![0; ids],
            texts: trace
                .texts
                .iter()
                .map(|t| Arc::from(t.as_slice()))
                .collect(),
            ..Session::default()
        }
    }

    /// Forgets every variable and block (for a fresh heap).
    pub fn reset(&mut self) {
        *self = Session {
            align: self.align,
            null_on_failure: self.null_on_failure,
            ..Session::default()
        };
    }

    /// Sets the alignment payloads are checked against (`None`: the heap's alignment knob).
    pub fn set_align(&mut self, align: Option<usize>) {
        self.align = align;
    }

    /// The name of an id.
    pub fn name(&self, id: u32) -> String {
        if id == NULL_ID {
            return String::from("NULL");
        }
        match self.names.get(id as usize) {
            Some(n) => n.clone(),
            None => format!("#{id}"),
        }
    }

    /// The address a variable holds (0 for NULL), if the variable exists.
    pub fn lookup(&self, name: &str) -> Option<usize> {
        let id = *self.index.get(name)?;
        self.slots.get(id as usize).copied()
    }

    /// Every variable: its name, the address it holds, and whether that is a live block.
    pub fn vars(&self) -> impl Iterator<Item = (&str, usize, bool)> + '_ {
        self.names
            .iter()
            .zip(&self.slots)
            .enumerate()
            .map(move |(id, (n, &a))| {
                let live = self
                    .blocks
                    .get(&a.wrapping_sub(self.start))
                    .is_some_and(|b| b.id == id as u32);
                (n.as_str(), a, live)
            })
    }

    /// The bytes the last step wrote for the user (`write`, `memset`): their address and
    /// length; `None` when the last step wrote none (any other call, or a write that failed).
    pub fn last_write(&self) -> Option<(usize, usize)> {
        self.last_write
    }

    /// The sum of the sizes asked for by the live blocks.
    pub fn live_bytes(&self) -> u64 {
        self.live_bytes
    }
    /// The peak of [`Session::live_bytes`].
    pub fn peak_live_bytes(&self) -> u64 {
        self.peak_live_bytes
    }
    /// The largest heap (`brk - start`) seen after a step.
    pub fn peak_heap_bytes(&self) -> u64 {
        self.peak_heap_bytes
    }

    /// Runs one statement of script syntax (`p = malloc(24)`, `free(p)`, ...; a trailing `;`
    /// and a comment are fine). Variables are created by assignment. On any error (syntax,
    /// unknown variable, a call the heap refuses) nothing changes but what the heap reports.
    pub fn run<S: Source, P: Policy, O: Observer>(
        &mut self,
        heap: &mut Heap<S, P, O>,
        text: &str,
    ) -> Result<Step, String> {
        let mut stmts = Vec::new();
        for line in text.split('\n') {
            for piece in statements_of(line) {
                if !piece.trim().is_empty() {
                    stmts.push(piece);
                }
            }
        }
        let piece = match stmts.as_slice() {
            [] => {
                return Err(String::from(
                    "nothing to run: type a statement such as p = malloc(24)",
                ))
            }
            [one] => *one,
            _ => return Err(String::from("one statement at a time, please")),
        };
        let Some(st) = statement(piece)? else {
            return Err(String::from(
                "nothing to run: type a statement such as p = malloc(24)",
            ));
        };
        let var = |v: Ptr<'_>| -> Result<u32, String> {
            match v {
                Ptr::Null => Ok(NULL_ID),
                Ptr::Var(name) => match self.index.get(name) {
                    Some(&id) => Ok(id),
                    None => Err(format!("{}: {name} was never allocated", st.call.text())),
                },
            }
        };
        let (id, kind) = match st.call {
            Call::Malloc { size } => (None, OpKind::Malloc { size }),
            Call::Calloc { n, size } => (None, OpKind::Calloc { n, size }),
            Call::Memalign { align, size } => (None, OpKind::Memalign { align, size }),
            Call::Realloc { ptr, size } => (Some(var(ptr)?), OpKind::Realloc { size }),
            Call::Free { ptr } => (Some(var(ptr)?), OpKind::Free),
            Call::Write { ptr, off, raw } => {
                let id = var(ptr)?;
                let bytes = unescape(raw)?;
                let name = self.name(id);
                let text = format!("write({}, {})", at_text(&name, off), quote(&bytes));
                return self.console_access(heap, id, off, Data::Bytes(Arc::from(bytes)), text);
            }
            Call::Memset { ptr, off, byte, n } => {
                let id = var(ptr)?;
                let text = format!("memset({}, {byte}, {n})", at_text(&self.name(id), off));
                return self.console_access(heap, id, off, Data::Fill(byte, n), text);
            }
        };
        let to = match st.target {
            None => id.unwrap_or(NULL_ID),
            Some(t) => match self.index.get(t) {
                Some(&i) => i,
                None if self.slots.len() >= MAX_IDS as usize => {
                    return Err(format!(
                        "more than {MAX_IDS} variables: heaptale accepts no more"
                    ));
                }
                // A new variable is made only if the call succeeds (below).
                None => self.slots.len() as u32,
            },
        };
        let op = Op {
            line: 0,
            kind,
            id: id.unwrap_or(to),
            to,
        };
        let new_name = st.target.filter(|t| !self.index.contains_key(*t));
        if let Some(t) = new_name {
            // Ids of a `.rep` trace have no names yet: name them before a new variable.
            while self.names.len() < self.slots.len() {
                self.names.push(alloc::format!("#{}", self.names.len()));
            }
            self.names.push(t.to_string());
            self.slots.push(0);
        }
        match self.step(heap, &op) {
            Ok(s) => {
                if let Some(t) = new_name {
                    self.index.insert(t.to_string(), to);
                }
                Ok(s)
            }
            Err(e) => {
                if new_name.is_some() {
                    self.names.pop();
                    self.slots.pop();
                }
                Err(e.message)
            }
        }
    }

    /// Runs one op; the text of the step names ids by this session's names.
    ///
    /// For a console, where each step is shown. A replay, which shows none, uses
    /// [`Session::step_quiet`]: the same op, the same checks, without the text.
    pub fn step<S: Source, P: Policy, O: Observer>(
        &mut self,
        heap: &mut Heap<S, P, O>,
        op: &Op,
    ) -> Result<Step, StepError> {
        let text = self.op_text(op);
        match self.exec(heap, op) {
            Ok(addr) => {
                let text = match addr {
                    Some(a) => format!("{text} = {a:#x}"),
                    None => text,
                };
                Ok(Step { text, addr })
            }
            Err(e) => Err(StepError {
                kind: e.kind,
                message: format!("{text}: {}", e.message),
            }),
        }
    }

    /// Runs one op as [`Session::step`] does, with every check, but builds no text: the
    /// address it returned (`None` for `free`), or why it failed. The error's message is
    /// [`Session::step`]'s without the op's text in front (`double free: ...`); prefix
    /// [`Session::op_text`] for that. Replays call this for every op: formatting each op's
    /// text cost more than the checks.
    #[inline]
    pub fn step_quiet<S: Source, P: Policy, O: Observer>(
        &mut self,
        heap: &mut Heap<S, P, O>,
        op: &Op,
    ) -> Result<Option<usize>, StepError> {
        self.exec(heap, op)
    }

    /// An op as C, its ids named by this session's names (`p = malloc(24)`).
    pub fn op_text(&self, op: &Op) -> String {
        op_text_with(op, |id| self.name(id), &self.texts)
    }

    /// A console's `write`/`memset` (no op: the text is the statement's own).
    fn console_access<S: Source, P: Policy, O: Observer>(
        &mut self,
        heap: &mut Heap<S, P, O>,
        id: u32,
        off: u32,
        data: Data,
        text: String,
    ) -> Result<Step, String> {
        self.last_write = None;
        self.start = heap.start();
        let addr = self.slot(id).map_err(|e| e.message)?;
        match self.access(heap, id, addr, off, data) {
            Ok(()) => Ok(Step { text, addr: None }),
            Err(e) => Err(format!("{text}: {}", e.message)),
        }
    }

    /// The user writes `data` at `off` bytes into the block `id` holds, at `addr`.
    fn access<S: Source, P: Policy, O: Observer>(
        &mut self,
        heap: &mut Heap<S, P, O>,
        id: u32,
        addr: usize,
        off: u32,
        data: Data,
    ) -> Result<(), StepError> {
        let name = self.name(id);
        if addr == 0 {
            return Err(usage(format!(
                "{name} is NULL: writing through it would crash the program (a segmentation fault)"
            )));
        }
        let key = addr.wrapping_sub(self.start);
        if self.blocks.get(&key).is_none_or(|b| b.id != id) {
            return Err(usage(format!(
                "{name} holds {addr:#x}, which is no longer its block (it was freed, or moved by realloc): writing there would corrupt the heap"
            )));
        }
        let usable = heap.usable_size(addr).map_err(engine)?;
        let len = data.len();
        let end = off as u64 + len as u64;
        if end > usable as u64 {
            let s = if len == 1 { "" } else { "s" };
            return Err(usage(format!(
                "{len} byte{s} at offset {off} would overflow the block of {name} at {addr:#x}: it holds {usable} usable bytes"
            )));
        }
        if len == 0 {
            self.last_write = Some((addr.wrapping_add(off as usize), 0));
            return Ok(());
        }
        let p = heap.payload_mut(addr).map_err(engine)?;
        let Some(dst) = p.get_mut(off as usize..end as usize) else {
            return Err(integrity(format!(
                "the heap's payload of {addr:#x} is shorter than its usable size {usable}"
            )));
        };
        let fill = match data {
            Data::Bytes(b) => {
                dst.copy_from_slice(&b);
                Fill::Text { bytes: b, skip: 0 }
            }
            Data::Fill(v, _) => {
                dst.fill(v);
                Fill::Byte(v)
            }
        };
        overwrite(
            self.written.entry(key).or_default(),
            Run {
                from: off,
                to: end as u32,
                fill,
            },
        );
        self.last_write = Some((addr.wrapping_add(off as usize), len as usize));
        Ok(())
    }

    /// Records the heap's size for the peak.
    fn observe<S: Source, P: Policy, O: Observer>(&mut self, heap: &Heap<S, P, O>) {
        self.start = heap.start();
        let h = heap_bytes(heap);
        self.peak_heap_bytes = self.peak_heap_bytes.max(h);
    }

    fn slot(&mut self, id: u32) -> Result<usize, StepError> {
        if id == NULL_ID {
            return Ok(0);
        }
        if id >= MAX_IDS {
            return Err(usage(format!(
                "id {id} is beyond the limit of {MAX_IDS} ids"
            )));
        }
        if self.slots.len() <= id as usize {
            self.slots.resize(id as usize + 1, 0);
        }
        Ok(self.slots[id as usize])
    }

    fn set_slot(&mut self, id: u32, addr: usize) {
        if let Some(s) = self.slots.get_mut(id as usize) {
            *s = addr;
        }
    }

    /// The op without its text: the address it returned, if any.
    fn exec<S: Source, P: Policy, O: Observer>(
        &mut self,
        heap: &mut Heap<S, P, O>,
        op: &Op,
    ) -> Result<Option<usize>, StepError> {
        self.start = heap.start();
        self.last_write = None;
        let src = self.slot(op.id)?;
        match op.kind {
            OpKind::Write { off, text } => {
                let r = match self.texts.get(text as usize).cloned() {
                    Some(t) => self.access(heap, op.id, src, off, Data::Bytes(t)),
                    None => Err(usage(format!("write: the trace has no text {text}"))),
                };
                return r.map(|()| None);
            }
            OpKind::Memset { off, byte, n } => {
                return self
                    .access(heap, op.id, src, off, Data::Fill(byte, n))
                    .map(|()| None)
            }
            _ => {}
        }
        if op.to != NULL_ID {
            self.slot(op.to)?;
        }
        let r = match op.kind {
            OpKind::Free => self.free(heap, src).map(|()| None),
            OpKind::Realloc { size } => {
                if op.to == NULL_ID {
                    return Err(usage(String::from(
                        "realloc needs a variable to store its result in",
                    )));
                }
                self.realloc(heap, src, op.to, size).map(Some)
            }
            kind => {
                if op.to == NULL_ID {
                    return Err(usage(format!(
                        "{} needs a variable to store its result in",
                        kind.name()
                    )));
                }
                self.alloc(heap, kind, op.to).map(Some)
            }
        };
        match &r {
            Ok(Some(a)) => self.set_slot(op.to, *a),
            // `q = realloc(p, n)` failing leaves p as it was and q NULL; `p = realloc(p, n)`
            // failing keeps p (so that a later free(p) frees it).
            Err(StepError {
                kind: StepErrorKind::Engine(_),
                ..
            }) if self.null_on_failure
                && op.kind != OpKind::Free
                && !(matches!(op.kind, OpKind::Realloc { .. }) && op.id == op.to) =>
            {
                self.set_slot(op.to, 0)
            }
            _ => {}
        }
        self.observe(heap);
        self.peak_live_bytes = self.peak_live_bytes.max(self.live_bytes);
        r
    }

    fn alloc<S: Source, P: Policy, O: Observer>(
        &mut self,
        heap: &mut Heap<S, P, O>,
        kind: OpKind,
        id: u32,
    ) -> Result<usize, StepError> {
        let (res, align) = match kind {
            OpKind::Malloc { size } => (heap.malloc(size as usize), 1),
            OpKind::Calloc { n, size } => (heap.calloc(n as usize, size as usize), 1),
            OpKind::Memalign { align, size } => {
                (heap.memalign(align as usize, size as usize), align as usize)
            }
            _ => return Err(usage(format!("{} is not an allocation", kind.name()))),
        };
        let addr = res.map_err(engine)?;
        // calloc's product fits: the heap gave out that many bytes.
        let size = u32::try_from(kind.bytes()).unwrap_or(u32::MAX);
        let mut errors = Vec::new();
        self.check_new(heap, addr, size, align, &mut errors);
        if matches!(kind, OpKind::Calloc { .. }) {
            if let Ok(p) = heap.payload(addr) {
                let n = (size as usize).min(p.len());
                if let Some(i) = p[..n].iter().position(|&b| b != 0) {
                    errors.push(format!(
                        "calloc'd byte {i} of {size} at {addr:#x} is {:#04x}, not zero",
                        p[i]
                    ));
                }
            }
        }
        self.seq += 1;
        let seed = mix(self.seq);
        let filled = errors.is_empty();
        if filled {
            if let Ok(p) = heap.payload_mut(addr) {
                let n = (size as usize).min(p.len());
                fill(&mut p[..n], 0, seed);
            }
        }
        self.written.remove(&addr.wrapping_sub(self.start));
        self.blocks.insert(
            addr.wrapping_sub(self.start),
            Block {
                size,
                seed,
                filled,
                id,
            },
        );
        self.live_bytes = self.live_bytes.saturating_add(size as u64);
        done(addr, errors)
    }

    fn free<S: Source, P: Policy, O: Observer>(
        &mut self,
        heap: &mut Heap<S, P, O>,
        addr: usize,
    ) -> Result<(), StepError> {
        if addr == 0 {
            return heap.free(0).map_err(engine);
        }
        let key = addr.wrapping_sub(self.start);
        let Some(b) = self.blocks.get(&key).copied() else {
            // A dangling pointer: the heap must refuse it.
            return match heap.free(addr) {
                Err(e) => Err(engine(e)),
                Ok(()) => Err(integrity(format!(
                    "the heap accepted {addr:#x}, which is not a live block"
                ))),
            };
        };
        let mut errors = Vec::new();
        if let Some(m) = self.verify(heap, addr, &b, b.size) {
            errors.push(m);
        }
        match heap.free(addr) {
            Ok(()) => {
                self.blocks.remove(&key);
                self.written.remove(&key);
                self.live_bytes = self.live_bytes.saturating_sub(b.size as u64);
            }
            Err(e) => errors.push(format!("the heap refused the live block at {addr:#x}: {e}")),
        }
        done((), errors)
    }

    fn realloc<S: Source, P: Policy, O: Observer>(
        &mut self,
        heap: &mut Heap<S, P, O>,
        old: usize,
        id: u32,
        size: u32,
    ) -> Result<usize, StepError> {
        let key = old.wrapping_sub(self.start);
        let Some(b) = (if old == 0 {
            None
        } else {
            self.blocks.get(&key).copied()
        }) else {
            if old != 0 {
                // A dangling pointer: the heap must refuse it.
                return match heap.realloc(old, size as usize) {
                    Err(e) => Err(engine(e)),
                    Ok(a) => Err(integrity(format!("the heap accepted {old:#x}, which is not a live block (and returned {a:#x})"))),
                };
            }
            // realloc(NULL, n) is malloc(n).
            return self.alloc(heap, OpKind::Malloc { size }, id);
        };
        let pre = self.verify(heap, old, &b, b.size);
        let new = match heap.realloc(old, size as usize) {
            Ok(a) => a,
            Err(e) => {
                // The old block must be untouched.
                if let Some(m) = pre {
                    return Err(integrity(m));
                }
                if let Some(m) = self.verify(heap, old, &b, b.size) {
                    return Err(integrity(format!(
                        "the failed realloc ({e}) changed the block: {m}"
                    )));
                }
                return Err(engine(e));
            }
        };
        let mut errors: Vec<String> = pre.into_iter().collect();
        self.blocks.remove(&key);
        let runs = self
            .written
            .remove(&key)
            .map(|r| clip_runs(r, b.size.min(size)))
            .filter(|r| !r.is_empty());
        if let Some(r) = runs {
            self.written.insert(new.wrapping_sub(self.start), r);
        }
        self.live_bytes = self.live_bytes.saturating_sub(b.size as u64);
        self.check_new(heap, new, size, 1, &mut errors);
        let keep = b.size.min(size);
        let mut filled = b.filled && errors.is_empty();
        if filled {
            if let Some(m) = self.verify(heap, new, &b, keep) {
                errors.push(format!("realloc did not keep the data: {m}"));
                filled = false;
            }
        }
        if filled {
            if let Ok(p) = heap.payload_mut(new) {
                let n = (size as usize).min(p.len());
                fill(&mut p[..n], keep as usize, b.seed);
            }
        }
        self.blocks.insert(
            new.wrapping_sub(self.start),
            Block {
                size,
                seed: b.seed,
                filled,
                id,
            },
        );
        self.live_bytes = self.live_bytes.saturating_add(size as u64);
        done(new, errors)
    }

    /// Checks a block the heap just handed out against the heap and the live blocks.
    fn check_new<S: Source, P: Policy, O: Observer>(
        &self,
        heap: &Heap<S, P, O>,
        addr: usize,
        size: u32,
        align: usize,
        errors: &mut Vec<String>,
    ) {
        let align = align
            .max(self.align.unwrap_or(heap.layout().align as usize))
            .max(1);
        // Offsets from the heap's start: its real address is 64 KiB aligned (a Source's
        // promise), so an offset's alignment is the payload's real alignment, whatever
        // address reports give the start.
        let (start, brk) = (heap.start(), heap.brk());
        let off = addr.wrapping_sub(start);
        let len = brk.wrapping_sub(start);
        let end = addr.wrapping_add(size as usize);
        if off % align != 0 {
            errors.push(format!("payload {addr:#x} is not aligned to {align} bytes (it is {off:#x} bytes into the heap)"));
        }
        if off > len || size as usize > len - off {
            errors.push(format!(
                "payload [{addr:#x}, {end:#x}) lies outside the heap [{start:#x}, {brk:#x})"
            ));
        }
        // An empty payload still occupies its address.
        let span = |o: usize, s: u32| o.saturating_add((s as usize).max(1));
        let before = self.blocks.range(..=off).next_back();
        let after = self.blocks.range(off..).next();
        for (&o, b) in before.into_iter().chain(after) {
            if o < span(off, size) && off < span(o, b.size) {
                let a = start.wrapping_add(o);
                errors.push(format!(
                    "payload [{addr:#x}, {end:#x}) overlaps the live block of {} at [{a:#x}, {:#x})",
                    self.name(b.id),
                    a.wrapping_add(b.size as usize)
                ));
                break;
            }
        }
        match heap.usable_size(addr) {
            Ok(u) if u >= size as usize => {}
            Ok(u) => errors.push(format!("the heap says the block at {addr:#x} holds {u} bytes, less than the {size} asked for")),
            Err(e) => errors.push(format!("the heap does not know the block it returned at {addr:#x}: {e}")),
        }
    }

    /// Verifies the first `n` bytes of the pattern of `b` at `addr`.
    fn verify<S: Source, P: Policy, O: Observer>(
        &self,
        heap: &Heap<S, P, O>,
        addr: usize,
        b: &Block,
        n: u32,
    ) -> Option<String> {
        let runs = self.written.get(&addr.wrapping_sub(heap.start()));
        if !b.filled && runs.is_none() {
            return None;
        }
        let p = match heap.payload(addr) {
            Ok(p) => p,
            Err(e) => {
                return Some(format!(
                    "the heap does not know the live block of {} at {addr:#x}: {e}",
                    self.name(b.id)
                ))
            }
        };
        let n = n as usize;
        if p.len() < n {
            return Some(format!(
                "the live block of {} at {addr:#x} shrank to {} bytes",
                self.name(b.id),
                p.len()
            ));
        }
        let Some(runs) = runs else {
            let i = check(&p[..n], b.seed)?;
            let bad = p[i..n]
                .iter()
                .enumerate()
                .filter(|&(k, &v)| v != pattern_byte(b.seed, i + k))
                .count();
            return Some(format!(
                "the block of {} at {addr:#x} changed: {bad} of its first {n} bytes differ, from byte {i} ({:#04x}, expected {:#04x})",
                self.name(b.id),
                p[i],
                pattern_byte(b.seed, i)
            ));
        };
        // The user's bytes where they wrote (all of them, when the whole block is checked:
        // the usable bytes past the size asked for are the user's too), the pattern elsewhere.
        let limit = if n >= b.size as usize {
            runs.last()
                .map_or(n, |r| (r.to as usize).max(n))
                .min(p.len())
        } else {
            n
        };
        let mut first: Option<(usize, u8)> = None;
        let mut bad = 0usize;
        let mut differs = |i: usize, want: u8| {
            bad += 1;
            first.get_or_insert((i, want));
        };
        // The pattern over `[from, to)` (a word computed once per 8 bytes).
        let gap = |from: usize, to: usize, differs: &mut dyn FnMut(usize, u8)| {
            if !b.filled {
                return;
            }
            let mut word = (usize::MAX, [0u8; 8]);
            for (i, &v) in p.iter().enumerate().take(to.min(n)).skip(from) {
                if word.0 != i / 8 {
                    word = (i / 8, pattern_word(b.seed, i / 8));
                }
                if v != word.1[i % 8] {
                    differs(i, word.1[i % 8]);
                }
            }
        };
        let mut pos = 0usize;
        for r in runs {
            let (from, to) = (r.from as usize, (r.to as usize).min(limit));
            if from >= limit {
                break;
            }
            gap(pos, from, &mut differs);
            match &r.fill {
                Fill::Byte(v) => {
                    for (k, &x) in p[from..to].iter().enumerate() {
                        if x != *v {
                            differs(from + k, *v);
                        }
                    }
                }
                Fill::Text { bytes, skip } => {
                    let want = bytes.get(*skip as usize..).unwrap_or(&[]);
                    for (k, &x) in p[from..to].iter().enumerate() {
                        let w = want.get(k).copied().unwrap_or(0);
                        if x != w {
                            differs(from + k, w);
                        }
                    }
                }
            }
            pos = to;
        }
        gap(pos, limit, &mut differs);
        let (i, want) = first?;
        Some(format!(
            "the block of {} at {addr:#x} changed: {bad} of its first {limit} bytes differ, from byte {i} ({:#04x}, expected {:#04x})",
            self.name(b.id),
            p[i],
            want
        ))
    }

    /// Verifies every live block; one message per changed block.
    fn verify_live<S: Source, P: Policy, O: Observer>(&self, heap: &Heap<S, P, O>) -> Vec<String> {
        let start = heap.start();
        self.blocks
            .iter()
            .filter_map(|(&o, b)| self.verify(heap, start.wrapping_add(o), b, b.size))
            .collect()
    }
}

/// `p` or `p + off`.
fn at_text(name: &str, off: u32) -> String {
    if off == 0 {
        String::from(name)
    } else {
        format!("{name} + {off}")
    }
}

/// `brk - start`.
fn heap_bytes<S: Source, P: Policy, O: Observer>(heap: &Heap<S, P, O>) -> u64 {
    heap.brk().wrapping_sub(heap.start()) as u64
}

fn done<T>(v: T, mut errors: Vec<String>) -> Result<T, StepError> {
    match errors.len() {
        0 => Ok(v),
        1 => Err(integrity(errors.pop().unwrap_or_default())),
        _ => Err(integrity(errors.join("; "))),
    }
}

// ---------------------------------------------------------------- patterns

/// SplitMix64's finalizer.
#[inline]
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Word `j` of a block's pattern: bytes `8j .. 8j + 8`.
#[inline]
fn pattern_word(seed: u64, j: usize) -> [u8; 8] {
    mix(seed ^ (j as u64).wrapping_mul(0xD1B5_4A32_D192_ED03)).to_le_bytes()
}

fn pattern_byte(seed: u64, i: usize) -> u8 {
    pattern_word(seed, i / 8)[i % 8]
}

/// Writes the pattern over `buf[from..]` (`buf` starts at the payload).
fn fill(buf: &mut [u8], from: usize, seed: u64) {
    let mut i = from;
    while i < buf.len() && i % 8 != 0 {
        buf[i] = pattern_byte(seed, i);
        i += 1;
    }
    if i >= buf.len() {
        return;
    }
    // Whole words as fixed-size arrays (a store each, not a call to memcpy), then the tail.
    let mut chunks = buf[i..].chunks_exact_mut(8);
    let mut j = i / 8;
    for chunk in &mut chunks {
        if let Ok(c) = <&mut [u8; 8]>::try_from(chunk) {
            *c = pattern_word(seed, j);
        }
        j += 1;
    }
    let tail = chunks.into_remainder();
    let n = tail.len();
    tail.copy_from_slice(&pattern_word(seed, j)[..n]);
}

/// The first byte of `buf` that differs from the pattern.
fn check(buf: &[u8], seed: u64) -> Option<usize> {
    let differs = |chunk: &[u8], j: usize| {
        let w = pattern_word(seed, j);
        chunk
            .iter()
            .zip(w)
            .position(|(a, b)| *a != b)
            .map(|k| j * 8 + k)
    };
    // Whole words compared as fixed-size arrays (one comparison, not a call to memcmp).
    let mut chunks = buf.chunks_exact(8);
    let mut j = 0;
    for chunk in &mut chunks {
        if <[u8; 8]>::try_from(chunk).ok() != Some(pattern_word(seed, j)) {
            return differs(chunk, j);
        }
        j += 1;
    }
    differs(chunks.remainder(), j)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Arena;
    use crate::trace::parse;
    use crate::Config;

    fn heap() -> Heap<Arena, crate::policy::AnyPolicy> {
        Heap::new(Arena::new(1 << 20).unwrap(), &Config::default()).unwrap()
    }

    #[test]
    fn step_quiet_is_step_without_the_text() {
        let t = parse("0\n2\n4\n1\na 0 16\na 1 40\nf 0\nr 1 100\n").unwrap();
        let (mut h1, mut h2) = (heap(), heap());
        let (mut loud, mut quiet) = (Session::for_trace(&t), Session::for_trace(&t));
        // Then failures: a double free (the heap refuses it) and an op with nowhere to
        // store its result (a usage error).
        let mut ops = t.ops.clone();
        ops.push(t.ops[2]);
        ops.push(Op {
            line: 0,
            kind: OpKind::Malloc { size: 1 },
            id: NULL_ID,
            to: NULL_ID,
        });
        let mut failed = 0;
        for op in &ops {
            let a = loud.step(&mut h1, op);
            let b = quiet.step_quiet(&mut h2, op);
            match (a, b) {
                (Ok(s), Ok(addr)) => assert_eq!(s.addr, addr, "{}", s.text),
                (Err(e1), Err(e2)) => {
                    failed += 1;
                    assert_eq!(e1.kind, e2.kind);
                    assert_eq!(e1.message, format!("{}: {}", quiet.op_text(op), e2.message));
                }
                (a, b) => panic!("{a:?} against {b:?}"),
            }
        }
        assert_eq!(failed, 2);
        assert_eq!(quiet.op_text(&t.ops[3]), "#1 = realloc(#1, 100)");
        assert_eq!(loud.live_bytes(), quiet.live_bytes());
        assert_eq!(loud.peak_heap_bytes(), quiet.peak_heap_bytes());
        assert_eq!(h1.brk(), h2.brk());
        assert!(quiet.verify_live(&h2).is_empty());
    }

    #[test]
    fn patterns_fill_from_any_byte_and_every_changed_byte_is_found() {
        for len in 0..41 {
            for from in 0..len.min(19) {
                let mut buf = alloc::vec![0xEEu8; len];
                fill(&mut buf, from, 7);
                assert!(
                    buf[..from].iter().all(|&b| b == 0xEE),
                    "fill({len}, {from}) wrote before {from}"
                );
                for (i, &b) in buf.iter().enumerate().skip(from) {
                    assert_eq!(b, pattern_byte(7, i), "fill({len}, {from}) byte {i}");
                }
            }
            let mut buf = alloc::vec![0u8; len];
            fill(&mut buf, 0, 99);
            assert_eq!(check(&buf, 99), None, "{len}");
            for i in 0..len {
                buf[i] ^= 0x10;
                assert_eq!(check(&buf, 99), Some(i), "{len}: byte {i}");
                buf[i] ^= 0x10;
            }
        }
    }
}
