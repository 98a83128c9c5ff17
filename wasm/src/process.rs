//! The simulated process around the live heap, tied to the heap's timeline (JS `Process`).
//!
//! ```js
//! const p = new Process(heap, { mode: 'x86', physicalMemory: 16 << 20, policy: 'lru',
//!                               tlbEntries: 64, tlbWays: 4, mmap: false });
//! heap.run('a = malloc(5000)');
//! p.stats();        // {simulated: true, minorFaults, majorFaults, tlbHits, rssPages, ...}
//! p.notes();        // the step's narration: ["writing the header at 0x... touched page ...", ...]
//! p.layout();       // {vmas: [{start, end, kind}], startBrk, brk, memoryEnd, mmapBase, ...}
//! p.pages();        // the heap's page grid from start_brk to memory.size
//! p.walk(0x110008); // the page walk, level by level
//! p.frames();       // the frame map: {count, kinds: Uint8Array, detail: Float64Array}
//! heap.seek(0);     // the process follows the heap back in time
//! ```
//!
//! Everything here is a **simulation** (`heaptale::vm`): only the heap, its break and its
//! addresses are real. The process is rebuilt deterministically from the engine's events:
//! the live heap keeps, while a `Process` is attached, the events of every step of its
//! timeline (recorded when a step runs, see [`after_step`]), and a few clones of the
//! simulation (checkpoints); the state after step `n` is the nearest checkpoint with the
//! steps' events applied up to `n`. So seeking the heap anywhere gives the same process as
//! running up to there.

use heaptale::event::Event;
use heaptale::vm::{
    BlockFormat, Driver, FrameOwner, FramesConfig, MmapConfig, Mode, PageState, ProcessConfig,
    ReplacePolicy, TlbConfig, VmaKind,
};
use js_sys::{Array, Float64Array, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;

use crate::heap::{set, JsHeap};
use crate::instance::{self, Live};

/// Steps whose events a process view keeps; beyond, it stops following (and says why).
pub const MAX_STEPS: usize = 50_000;
/// Checkpoints kept (each a clone of the whole simulation); the interval doubles beyond.
const MAX_CHECKPOINTS: usize = 16;
/// Largest simulated physical memory the playground allows (a checkpoint clones its frame
/// map).
pub const MAX_PHYS: u64 = 64 << 20;
/// Smallest simulated physical memory.
pub const MIN_PHYS: u64 = 64 << 10;
/// Most pages the page grid returns.
pub const MAX_GRID: u64 = 16384;

/// What one step did that the process sees: the engine's events, then the user's own write
/// (`write(p, "text")`, `memset(p, 0, n)`: its address and length), if any.
#[derive(Clone, Debug, PartialEq)]
struct StepRec {
    events: Vec<Event>,
    write: Option<(u64, u64)>,
}

impl StepRec {
    fn apply(&self, d: &mut Driver) {
        for e in &self.events {
            d.apply(e);
        }
        if let Some((addr, len)) = self.write {
            // A failure is noted (and narrated) by the driver.
            let _ = d.write(addr, len);
        }
    }
}

/// What a live heap holds while a `Process` is attached.
pub struct Tracker {
    gen: u32,
    /// What every step did (index: step - 1).
    steps: Vec<StepRec>,
    /// Clones of the simulation after `step` steps, sorted by step (the first at 0).
    checkpoints: Vec<(u32, Driver)>,
    interval: u32,
    /// The simulation after `cur.0` steps.
    cur: (u32, Driver),
    /// The narration of step `cur.0`.
    notes: Vec<String>,
    /// Why the view stopped following the heap.
    off: Option<String>,
    /// OPT: the simulation as made, recording its page stream (run over every step to learn
    /// the future the real run is then given: the timeline is recorded, so it is known).
    scout: Option<Driver>,
    /// The steps the future was learnt from (`usize::MAX`: never).
    future_for: usize,
}

static NEXT_GEN: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(1);

impl Tracker {
    fn new(driver: Driver, scout: Option<Driver>) -> Tracker {
        Tracker {
            scout,
            future_for: 0,
            gen: NEXT_GEN.fetch_add(1, core::sync::atomic::Ordering::Relaxed),
            steps: Vec::new(),
            checkpoints: vec![(0, driver.clone())],
            interval: 64,
            cur: (0, driver),
            notes: Vec::new(),
            off: None,
        }
    }

    /// Back to the heap as made (the heap was emptied and starts over at the same place).
    pub fn reset(&mut self) {
        self.future_for = usize::MAX;
        self.steps.clear();
        self.checkpoints.truncate(1);
        self.interval = 64;
        self.cur = self.checkpoints[0].clone();
        self.notes.clear();
        self.off = None;
    }

    /// Step `i` (0-based) ran, produced `events` and wrote `write` for the user.
    fn record(&mut self, i: u32, events: &[Event], write: Option<(u64, u64)>) {
        if self.off.is_some() {
            return;
        }
        let i = i as usize;
        if i < self.steps.len() {
            if self.steps[i].events == events && self.steps[i].write == write {
                return; // the same step again (a seek): deterministic
            }
            // A new step where the future was: forget the future.
            self.steps.truncate(i);
            self.checkpoints.retain(|(s, _)| (*s as usize) <= i);
            if self.cur.0 as usize > i {
                let (s, d) = self.checkpoints.last().cloned().expect("checkpoint 0");
                self.cur = (s, d);
                self.notes.clear();
            }
        }
        if i != self.steps.len() {
            self.off = Some(format!(
                "it missed steps (step {} ran after {} recorded)",
                i + 1,
                self.steps.len()
            ));
            return;
        }
        if self.steps.len() >= MAX_STEPS {
            self.off = Some(format!(
                "it follows at most {MAX_STEPS} steps (this timeline has more)"
            ));
            // Give the module's memory back: nothing more will be read from these.
            self.steps = Vec::new();
            self.checkpoints.truncate(1);
            return;
        }
        self.steps.push(StepRec {
            events: events.to_vec(),
            write,
        });
    }

    /// OPT: runs every step once to record the pages accessed, and starts the simulation
    /// over knowing them (every checkpoint is dropped: their futures were shorter).
    fn learn_future(&mut self) {
        let Some(scout) = &self.scout else { return };
        let mut d = scout.clone();
        for step in &self.steps {
            step.apply(&mut d);
        }
        let stream = d.process().page_stream().to_vec();
        let mut first = self.checkpoints[0].1.clone();
        first.process_mut().set_future(stream);
        first.take_notes();
        self.checkpoints = vec![(0, first.clone())];
        self.interval = 64;
        self.cur = (0, first);
        self.notes.clear();
        self.future_for = self.steps.len();
    }

    /// Brings the simulation to the state after `n` steps.
    fn go(&mut self, n: u32) -> Result<(), String> {
        if let Some(why) = &self.off {
            return Err(format!(
                "the simulated process stopped following the heap: {why}"
            ));
        }
        if n as usize > self.steps.len() {
            return Err(format!(
                "the simulated process has {} steps, not {n}",
                self.steps.len()
            ));
        }
        if self.scout.is_some() && self.future_for != self.steps.len() {
            self.learn_future();
        }
        if self.cur.0 == n {
            return Ok(());
        }
        let ci = self
            .checkpoints
            .partition_point(|(s, _)| *s <= n)
            .saturating_sub(1);
        let cs = self.checkpoints[ci].0;
        if !(self.cur.0 < n && self.cur.0 >= cs) {
            self.cur = self.checkpoints[ci].clone();
        }
        let mut d = core::mem::replace(&mut self.cur.1, self.checkpoints[0].1.clone());
        let mut s = self.cur.0;
        while s < n {
            d.take_notes();
            self.steps[s as usize].apply(&mut d);
            s += 1;
            let last = self.checkpoints.last().map_or(0, |c| c.0);
            if s % self.interval == 0 && s > last {
                self.checkpoints.push((s, d.clone()));
                if self.checkpoints.len() > MAX_CHECKPOINTS {
                    self.interval *= 2;
                    let iv = self.interval;
                    self.checkpoints.retain(|(s, _)| s % iv == 0);
                }
            }
        }
        self.notes = d.take_notes().iter().map(|n| n.to_string()).collect();
        if n == 0 {
            self.notes.clear();
        }
        self.cur = (n, d);
        Ok(())
    }
}

/// Called by the timeline after step `i` ran; `before`: the index of its first event;
/// `wrote`: the bytes the step wrote for the user (address, length).
pub fn after_step(l: &mut Live, i: u32, before: usize, wrote: Option<(usize, usize)>) {
    if let Some(t) = l.proc.as_mut() {
        let events = &l.heap.observer().events;
        t.record(
            i,
            events.get(before..).unwrap_or(&[]),
            wrote.map(|(a, n)| (a as u64, n as u64)),
        );
    }
}

// ---------------------------------------------------------------- options

/// The options of `new Process(heap, options)`, checked.
fn options(v: &JsValue) -> Result<ProcessConfig, JsError> {
    const KNOWN: [&str; 8] = [
        "mode",
        "physicalMemory",
        "policy",
        "tlbEntries",
        "tlbWays",
        "mmap",
        "mmapThreshold",
        "othersPercent",
    ];
    let mut c = ProcessConfig::default();
    if v.is_undefined() || v.is_null() {
        return Ok(c);
    }
    if !v.is_object() || Array::is_array(v) {
        return Err(JsError::new(
            "new Process: the options must be an object such as { mode: 'x86-64' }",
        ));
    }
    let obj: &Object = v.unchecked_ref();
    for key in Object::keys(obj).iter() {
        let k = key.as_string().unwrap_or_default();
        if !KNOWN.contains(&k.as_str()) {
            return Err(JsError::new(&format!(
                "new Process: unknown option '{k}': the options are {}",
                KNOWN.join(", ")
            )));
        }
    }
    let get = |k: &str| {
        Reflect::get(obj, &k.into())
            .ok()
            .filter(|v| !v.is_undefined() && !v.is_null())
    };
    let num = |k: &str, v: &JsValue, lo: f64, hi: f64| -> Result<u64, JsError> {
        let n = v
            .as_f64()
            .or_else(|| v.as_string().and_then(|s| s.trim().parse::<f64>().ok()));
        match n {
            Some(n) if n.fract() == 0.0 && n >= lo && n <= hi => Ok(n as u64),
            _ => Err(JsError::new(&format!(
                "new Process: {k} must be a whole number from {lo} to {hi}, got {}",
                crate::args::describe(v)
            ))),
        }
    };
    if let Some(v) = get("mode") {
        let s = v.as_string().unwrap_or_default();
        c.mode = s.parse::<Mode>().map_err(|_| JsError::new(&format!("new Process: mode must be 'x86' (two levels, 10/10/12) or 'x86-64' (four levels, 9/9/9/9/12), got {}", crate::args::describe(&v))))?;
    }
    if let Some(v) = get("physicalMemory") {
        let b = num("physicalMemory", &v, MIN_PHYS as f64, MAX_PHYS as f64)?;
        if b % 4096 != 0 {
            return Err(JsError::new(&format!(
                "new Process: physicalMemory must be a whole number of 4 KiB frames, got {b}"
            )));
        }
        c.frames = FramesConfig {
            bytes: b,
            ..FramesConfig::default()
        };
    }
    if let Some(v) = get("othersPercent") {
        // The kernel holds its eighth (12 %) of the frames; the others may hold up to the rest
        // but for a frame of ours.
        c.frames.others_percent = num("othersPercent", &v, 0.0, 80.0)? as u8;
        if c.frames.others_percent > 0 && c.frames.others == 0 {
            c.frames.others = 4;
        }
    }
    if let Some(v) = get("policy") {
        let s = v.as_string().unwrap_or_default();
        c.policy = s.parse::<ReplacePolicy>().map_err(|_| {
            JsError::new(&format!(
                "new Process: policy must be one of fifo, lru, clock, opt, random, got {}",
                crate::args::describe(&v)
            ))
        })?;
    }
    let entries = match get("tlbEntries") {
        Some(v) => num("tlbEntries", &v, 0.0, 4096.0)? as u32,
        None => TlbConfig::default().entries,
    };
    let ways = match get("tlbWays") {
        Some(v) => num("tlbWays", &v, 0.0, 4096.0)? as u32,
        None => TlbConfig::default().ways.min(entries.max(1)),
    };
    c.tlb = if entries == 0 {
        None
    } else {
        if ways != 0 && (ways > entries || entries % ways != 0) {
            return Err(JsError::new(&format!("new Process: tlbWays ({ways}) must divide tlbEntries ({entries}); 0 means fully associative")));
        }
        Some(TlbConfig {
            entries,
            ways,
            ..TlbConfig::default()
        })
    };
    let on = match get("mmap") {
        Some(v) => v.as_bool().ok_or_else(|| {
            JsError::new(&format!(
                "new Process: mmap must be true or false, got {}",
                crate::args::describe(&v)
            ))
        })?,
        None => false,
    };
    if on {
        let mut m = MmapConfig::default();
        if let Some(v) = get("mmapThreshold") {
            m.threshold = num("mmapThreshold", &v, 4096.0, (32u64 << 20) as f64)?;
        }
        c.mmap = Some(m);
    }
    Ok(c)
}

// ---------------------------------------------------------------- the JS face

/// The simulated process around a live heap (see the module docs). Every getter first
/// brings the simulation to the heap's current step.
#[wasm_bindgen(js_name = Process)]
pub struct JsProcess {
    heap: u32,
    gen: u32,
    cfg: ProcessConfig,
}

fn hex(x: u64) -> JsValue {
    JsValue::from_str(&format!("{x:#x}"))
}
fn num(x: u64) -> JsValue {
    JsValue::from_f64(x as f64)
}

impl JsProcess {
    fn with<T>(
        &self,
        f: impl FnOnce(&mut Live, &Tracker) -> Result<T, JsError>,
    ) -> Result<T, JsError> {
        instance::with_live(self.heap, |l| {
            let pos = l.timeline.pos;
            let mut t = match l.proc.take() {
                Some(t) if t.gen == self.gen => t,
                other => {
                    l.proc = other;
                    return Err(JsError::new("this Process is no longer attached: a newer Process replaced it on this heap"));
                }
            };
            let r = t
                .go(pos)
                .map_err(|e| JsError::new(&e))
                .and_then(|()| f(l, &t));
            l.proc = Some(t);
            r
        })
    }
}

#[wasm_bindgen(js_class = Process)]
impl JsProcess {
    /// Attaches a simulated process to the live `heap` (replacing any other `Process` of
    /// it), rebuilt from the heap's steps so far. Options: `mode` ('x86' or 'x86-64'),
    /// `physicalMemory` (bytes, 64 KiB to 64 MiB, whole frames), `policy` (fifo, lru,
    /// clock, opt, random), `tlbEntries` (0: no TLB) and `tlbWays` (0: fully associative),
    /// `mmap` (glibc's mmap threshold on) and `mmapThreshold` (bytes), `othersPercent` (the
    /// share of the frames other processes hold, 0 to 80; the kernel holds 12 %).
    #[wasm_bindgen(constructor)]
    pub fn new(heap: &JsHeap, options: JsValue) -> Result<JsProcess, JsError> {
        let cfg = self::options(&options)?;
        let gen = instance::with_live(heap.id(), |l| {
            if let Some(why) = &l.timeline.full {
                return Err(JsError::new(&format!("new Process: the heap's timeline is off ({why}); the simulated process follows the timeline")));
            }
            if l.timeline.pending() {
                return Err(JsError::new(
                    "new Process: the heap is still loading a trace: attach when it has finished",
                ));
            }
            let (pos, len) = (l.timeline.pos, l.timeline.len());
            l.proc = None;
            crate::timeline::seek(l, 0).map_err(|e| JsError::new(&e))?;
            let (base, brk) = (l.heap.start() as u64, l.heap.brk() as u64);
            let made = Driver::new(&cfg, base, brk, BlockFormat::of(&l.config));
            let back = |l: &mut Live| crate::timeline::seek(l, pos).map_err(|e| JsError::new(&e));
            let d = match made {
                Ok(d) => d,
                Err(e) => {
                    back(l)?;
                    return Err(JsError::new(&format!(
                        "new Process: the simulated process cannot hold this heap: {e}"
                    )));
                }
            };
            // OPT needs the future: a second simulation records the page stream.
            let scout = if cfg.policy == ReplacePolicy::Opt {
                let sc = ProcessConfig {
                    record_stream: true,
                    ..cfg
                };
                Driver::new(&sc, base, brk, BlockFormat::of(&l.config)).ok()
            } else {
                None
            };
            let t = Tracker::new(d, scout);
            let gen = t.gen;
            l.proc = Some(t);
            if len > 0 {
                crate::timeline::seek(l, len).map_err(|e| JsError::new(&e))?;
            }
            back(l)?;
            Ok(gen)
        })?;
        Ok(JsProcess {
            heap: heap.id(),
            gen,
            cfg,
        })
    }

    /// The options in effect: `{simulated, mode, physicalMemory, policy, tlbEntries,
    /// tlbWays, mmap, mmapThreshold, othersPercent, kernelPercent, pageSize, addressSpace}`
    /// (`addressSpace`: the virtual address space's size in bytes, 2^32 or 2^48).
    pub fn options(&self) -> Object {
        let c = &self.cfg;
        let o = Object::new();
        set(&o, "simulated", &true.into());
        set(&o, "mode", &c.mode.name().into());
        set(&o, "physicalMemory", &num(c.frames.bytes));
        set(&o, "policy", &c.policy.name().into());
        set(
            &o,
            "tlbEntries",
            &num(c.tlb.map_or(0, |t| t.entries as u64)),
        );
        set(&o, "tlbWays", &num(c.tlb.map_or(0, |t| t.ways as u64)));
        set(&o, "mmap", &c.mmap.is_some().into());
        set(
            &o,
            "mmapThreshold",
            &num(c
                .mmap
                .map_or(MmapConfig::default().threshold, |m| m.threshold)),
        );
        set(&o, "othersPercent", &num(c.frames.others_percent as u64));
        set(&o, "kernelPercent", &num(c.frames.kernel_percent as u64));
        set(&o, "pageSize", &num(heaptale::vm::PAGE_SIZE));
        set(
            &o,
            "addressSpace",
            &num(if c.mode == Mode::X86 {
                1u64 << 32
            } else {
                1u64 << 48
            }),
        );
        o
    }

    /// The step the simulation is at (the heap's position).
    pub fn position(&self) -> Result<f64, JsError> {
        self.with(|_, t| Ok(t.cur.0 as f64))
    }

    /// The narration of the current step: one line per page touched or mapping changed.
    pub fn notes(&self) -> Result<Array, JsError> {
        self.with(|_, t| Ok(t.notes.iter().map(|s| JsValue::from_str(s)).collect()))
    }

    /// The counters and sizes: `{simulated, accesses, reads, writes, tlbHits, tlbMisses,
    /// minorFaults, majorFaults, evictions, swapOuts, swapIns, segfaults, rssPages,
    /// rssHeapPages, rssMmapPages, virtualBytes, swappedPages, pageTablePages, frames,
    /// freeFrames, swapSlots, swapUsed}`.
    pub fn stats(&self) -> Result<Object, JsError> {
        self.with(|_, t| {
            let s = t.cur.1.process().stats();
            let c = s.counters;
            let o = Object::new();
            set(&o, "simulated", &true.into());
            for (k, v) in [
                ("accesses", c.accesses),
                ("reads", c.reads),
                ("writes", c.writes),
                ("tlbHits", c.tlb_hits),
                ("tlbMisses", c.tlb_misses),
                ("minorFaults", c.minor_faults),
                ("majorFaults", c.major_faults),
                ("evictions", c.evictions),
                ("swapOuts", c.swap_outs),
                ("swapIns", c.swap_ins),
                ("segfaults", c.segfaults),
                ("rssPages", s.rss),
                ("rssHeapPages", s.rss_heap),
                ("rssMmapPages", s.rss_mmap),
                ("virtualBytes", s.virtual_bytes),
                ("swappedPages", s.swapped),
                ("pageTablePages", s.page_tables),
                ("frames", s.frames),
                ("freeFrames", s.free_frames),
                ("swapSlots", s.swap_slots as u64),
                ("swapUsed", s.swap_used as u64),
            ] {
                set(&o, k, &num(v));
            }
            Ok(o)
        })
    }

    /// The address space: `{simulated, mode, taskSize, startCode, startBrk, brk, mmapBase,
    /// stackStart, memoryEnd, threshold, vmas: [{start, end, kind, prot}], chunks: [{block,
    /// payload, mapStart, mapLen}]}` (`memoryEnd`: memory.size as a reported address, real).
    pub fn layout(&self) -> Result<Object, JsError> {
        self.with(|l, t| {
            let d = &t.cur.1;
            let mm = d.process().mm();
            let o = Object::new();
            set(&o, "simulated", &true.into());
            set(&o, "mode", &mm.mode().name().into());
            set(&o, "taskSize", &num(mm.task_size()));
            set(&o, "startCode", &num(mm.start_code()));
            set(&o, "startBrk", &num(mm.start_brk()));
            set(&o, "brk", &num(mm.brk()));
            set(&o, "mmapBase", &num(mm.mmap_base()));
            set(&o, "stackStart", &num(mm.stack_start()));
            set(&o, "memoryEnd", &memory_end(l).into());
            set(
                &o,
                "threshold",
                &d.process()
                    .mmap_threshold()
                    .map_or(JsValue::NULL, |m| num(m.threshold())),
            );
            let vmas = Array::new();
            for v in mm.vmas() {
                let x = Object::new();
                set(&x, "start", &num(v.start));
                set(&x, "end", &num(v.end));
                set(&x, "kind", &v.kind.name().into());
                let p = format!(
                    "{}{}{}",
                    if v.prot.read { 'r' } else { '-' },
                    if v.prot.write { 'w' } else { '-' },
                    if v.prot.exec { 'x' } else { '-' }
                );
                set(&x, "prot", &p.into());
                vmas.push(&x);
            }
            set(&o, "vmas", &vmas);
            let chunks = Array::new();
            for c in d.chunks() {
                let x = Object::new();
                set(&x, "block", &num(c.block));
                set(&x, "payload", &num(c.payload));
                set(&x, "mapStart", &num(c.map_start));
                set(&x, "mapLen", &num(c.map_len));
                chunks.push(&x);
            }
            set(&o, "chunks", &chunks);
            Ok(o)
        })
    }

    /// The heap's page grid, from `start_brk` up to memory.size (at most 16,384 pages):
    /// `{start, brk, end, truncated, pages: [{addr, vpn, state, frame, slot, accessed,
    /// dirty}]}`, `state` one of 'unmapped', 'mapped', 'resident', 'swapped' (a page above
    /// the break is unmapped in the process, though linear memory still has it).
    pub fn pages(&self) -> Result<Object, JsError> {
        self.with(|l, t| {
            let p = t.cur.1.process();
            let mm = p.mm();
            let start = mm.start_brk();
            let top = (memory_end(l) as u64).max(mm.brk());
            let top = top.div_ceil(4096) * 4096;
            let n = (top.saturating_sub(start) / 4096).min(MAX_GRID);
            let out = Array::new();
            for (i, s) in p.pages(start, start + n * 4096).into_iter().enumerate() {
                let addr = start + i as u64 * 4096;
                let x = Object::new();
                set(&x, "addr", &num(addr));
                set(&x, "vpn", &num(addr >> 12));
                let (state, frame, slot, acc, dirty) = match s {
                    PageState::Unmapped => ("unmapped", JsValue::NULL, JsValue::NULL, false, false),
                    PageState::Mapped => ("mapped", JsValue::NULL, JsValue::NULL, false, false),
                    PageState::Resident {
                        frame,
                        accessed,
                        dirty,
                    } => ("resident", num(frame), JsValue::NULL, accessed, dirty),
                    PageState::Swapped { slot } => {
                        ("swapped", JsValue::NULL, num(slot as u64), false, false)
                    }
                };
                set(&x, "state", &state.into());
                set(&x, "frame", &frame);
                set(&x, "slot", &slot);
                set(&x, "accessed", &acc.into());
                set(&x, "dirty", &dirty.into());
                out.push(&x);
            }
            let o = Object::new();
            set(&o, "start", &num(start));
            set(&o, "brk", &num(mm.brk()));
            set(&o, "end", &num(start + n * 4096));
            set(&o, "truncated", &(start + n * 4096 < top).into());
            set(&o, "pages", &out);
            Ok(o)
        })
    }

    /// Walks `addr` (a number, or a string such as '0x110008') through the simulated page
    /// tables, with no side effects: `{simulated, mode, vaddr, fields: [{name, bits, value}],
    /// root, levels: [{level, entry, table, tableName, index, entryAddr, raw, present,
    /// writable, user, accessed, dirty, frame, swapSlot, text}], paddr, fault: {level, entry,
    /// index, kind, text} | null}`.
    pub fn walk(&self, addr: JsValue) -> Result<Object, JsError> {
        let a = parse_addr(&addr)?;
        self.with(|_, t| {
            let p = t.cur.1.process();
            let w = p.walk(a);
            let mode = w.mode;
            let o = Object::new();
            set(&o, "simulated", &true.into());
            set(&o, "mode", &mode.name().into());
            set(&o, "vaddr", &num(a));
            set(&o, "vaddrHex", &hex(a));
            let fields = Array::new();
            let names: &[&str] = match mode {
                Mode::X86 => &["directory", "table"],
                Mode::X86_64 => &["PML4", "directory pointer", "directory", "table"],
            };
            let ib = mode.index_bits();
            let levels = mode.levels();
            for (i, name) in names.iter().enumerate() {
                let shift = 12 + ib * (levels - 1 - i) as u32;
                let x = Object::new();
                set(&x, "name", &(*name).into());
                set(&x, "bits", &(ib as f64).into());
                set(&x, "shift", &(shift as f64).into());
                set(&x, "value", &num((a >> shift) & ((1 << ib) - 1)));
                fields.push(&x);
            }
            let x = Object::new();
            set(&x, "name", &"offset".into());
            set(&x, "bits", &12.0.into());
            set(&x, "shift", &0.0.into());
            set(&x, "value", &num(a & 0xfff));
            fields.push(&x);
            set(&o, "fields", &fields);
            set(&o, "root", &num(w.root));
            let steps = Array::new();
            for s in &w.steps {
                let x = Object::new();
                set(&x, "level", &(s.level as f64).into());
                set(&x, "entry", &s.entry.into());
                set(&x, "tableName", &s.table_name.into());
                set(&x, "table", &num(s.table));
                set(&x, "index", &(s.index as f64).into());
                set(&x, "entryAddr", &num(s.entry_addr));
                set(&x, "raw", &hex(s.pte.raw()));
                set(&x, "present", &s.pte.present().into());
                set(&x, "writable", &s.pte.writable().into());
                set(&x, "user", &s.pte.user().into());
                set(&x, "accessed", &s.pte.accessed().into());
                set(&x, "dirty", &s.pte.dirty().into());
                set(
                    &x,
                    "frame",
                    &if s.pte.present() {
                        num(s.pte.frame())
                    } else {
                        JsValue::NULL
                    },
                );
                set(
                    &x,
                    "swapSlot",
                    &s.pte.swap_slot().map_or(JsValue::NULL, |v| num(v as u64)),
                );
                set(&x, "text", &s.pte.to_string().into());
                steps.push(&x);
            }
            set(&o, "levels", &steps);
            match w.result {
                Ok(pa) => {
                    set(&o, "paddr", &num(pa));
                    set(&o, "fault", &JsValue::NULL);
                }
                Err(f) => {
                    set(&o, "paddr", &JsValue::NULL);
                    let x = Object::new();
                    set(&x, "level", &(f.level as f64).into());
                    set(&x, "entry", &f.entry.into());
                    set(&x, "index", &(f.index as f64).into());
                    set(&x, "kind", &format!("{:?}", f.kind).into());
                    set(&x, "text", &f.to_string().into());
                    set(&o, "fault", &x);
                }
            }
            let vma = p.mm().find(a).map(|v| v.kind.name());
            set(&o, "vma", &vma.map_or(JsValue::NULL, JsValue::from_str));
            Ok(o)
        })
    }

    /// The frame map: `{count, kinds, detail}`: per frame, `kinds` is 0 free, 1 kernel,
    /// 2 another process (`detail`: its pid), 3 one of our page tables (`detail`: its level),
    /// 4 one of our pages (`detail`: its virtual page number).
    pub fn frames(&self) -> Result<Object, JsError> {
        self.with(|_, t| {
            let owners = t.cur.1.process().phys().owners();
            let mut kinds = Vec::with_capacity(owners.len());
            let mut detail = Vec::with_capacity(owners.len());
            for o in owners {
                let (k, d) = match *o {
                    FrameOwner::Free => (0u8, 0.0),
                    FrameOwner::Kernel => (1, 0.0),
                    FrameOwner::Other { pid } => (2, pid as f64),
                    FrameOwner::PageTable { level } => (3, level as f64),
                    FrameOwner::Page { vpn } => (4, vpn as f64),
                };
                kinds.push(k);
                detail.push(d);
            }
            let o = Object::new();
            set(&o, "count", &num(owners.len() as u64));
            set(&o, "kinds", &Uint8Array::from(&kinds[..]));
            set(&o, "detail", &Float64Array::from(&detail[..]));
            Ok(o)
        })
    }
}

/// memory.size as a reported address.
fn memory_end(l: &Live) -> f64 {
    l.heap.start() as f64 + (crate::heap::memory_bytes() - l.heap.mem().base_ptr() as usize as f64)
}

/// An address: a whole number below 2^53, or a string in decimal or 0x hex.
fn parse_addr(v: &JsValue) -> Result<u64, JsError> {
    let bad = || {
        JsError::new(&format!(
            "walk: the address must be a whole number or a hex string such as '0x110008', got {}",
            crate::args::describe(v)
        ))
    };
    if let Some(n) = v.as_f64() {
        if n.fract() == 0.0 && (0.0..9007199254740992.0).contains(&n) {
            return Ok(n as u64);
        }
        return Err(bad());
    }
    let s = v.as_string().ok_or_else(bad)?;
    let s = s.trim().replace('_', "");
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse::<u64>(),
    };
    r.map_err(|_| bad())
}

#[allow(dead_code)]
fn kind_name(k: VmaKind) -> &'static str {
    k.name()
}

// ---------------------------------------------------------------- OSTEP's paging exercise

/// OSTEP's paging knobs where they apply as such: `paging-linear-translate.py`'s exercise (a
/// linear page table and addresses to translate), the same for the same seed. Options, each
/// optional (the script's defaults): `addressSpace` (bytes, 16k), `pageSize` (4k),
/// `physicalMemory` (64k), `percentValid` (0 to 100, 50), `count` (addresses, 5, at most
/// 1,000), `seed` (0), `answers` (the script's `-c`), `verbose` (`-v`). Returns `{text,
/// pageTable: [entry, ...], trace: [{vaddr, vpn, paddr}]}` (`paddr` null when invalid); a bad
/// knob throws an `Error` saying why, as the script refuses it.
#[wasm_bindgen(js_name = ostepPaging)]
pub fn ostep_paging(options: JsValue) -> Result<Object, JsError> {
    use heaptale::vm::ostep::{generate, OstepKnobs};
    const KNOWN: [&str; 8] = [
        "addressSpace",
        "pageSize",
        "physicalMemory",
        "percentValid",
        "count",
        "seed",
        "answers",
        "verbose",
    ];
    let mut k = OstepKnobs::default();
    let (mut answers, mut verbose) = (false, false);
    if !(options.is_undefined() || options.is_null()) {
        if !options.is_object() || Array::is_array(&options) {
            return Err(JsError::new(
                "ostepPaging: the options must be an object such as { pageSize: 1024 }",
            ));
        }
        let obj: &Object = options.unchecked_ref();
        for key in Object::keys(obj).iter() {
            let name = key.as_string().unwrap_or_default();
            if !KNOWN.contains(&name.as_str()) {
                return Err(JsError::new(&format!(
                    "ostepPaging: unknown option '{name}': the options are {}",
                    KNOWN.join(", ")
                )));
            }
        }
        let get = |name: &str| {
            Reflect::get(obj, &name.into())
                .ok()
                .filter(|v| !v.is_undefined() && !v.is_null())
        };
        let whole = |name: &str, lo: f64, hi: f64| -> Result<Option<u64>, JsError> {
            let Some(v) = get(name) else { return Ok(None) };
            match v.as_f64() {
                Some(n) if n.fract() == 0.0 && n >= lo && n <= hi => Ok(Some(n as u64)),
                _ => Err(JsError::new(&format!(
                    "ostepPaging: {name} must be a whole number from {lo} to {hi}, got {}",
                    crate::args::describe(&v)
                ))),
            }
        };
        let flag = |name: &str| -> Result<bool, JsError> {
            match get(name) {
                None => Ok(false),
                Some(v) => v.as_bool().ok_or_else(|| {
                    JsError::new(&format!(
                        "ostepPaging: {name} must be true or false, got {}",
                        crate::args::describe(&v)
                    ))
                }),
            }
        };
        let gib = (1u64 << 30) as f64;
        if let Some(v) = whole("addressSpace", 1.0, gib)? {
            k.address_space = v;
        }
        if let Some(v) = whole("pageSize", 1.0, gib)? {
            k.page_size = v;
        }
        if let Some(v) = whole("physicalMemory", 1.0, gib)? {
            k.phys_mem = v;
        }
        if let Some(v) = whole("percentValid", 0.0, 100.0)? {
            k.percent_valid = v as u32;
        }
        if let Some(v) = whole("count", 0.0, 1000.0)? {
            k.count = v as usize;
        }
        if let Some(v) = whole("seed", 0.0, u32::MAX as f64)? {
            k.seed = v;
        }
        answers = flag("answers")?;
        verbose = flag("verbose")?;
    }
    // The table is printed whole: keep it to what a page can show.
    if k.page_size != 0 && k.address_space / k.page_size > 4096 {
        return Err(JsError::new(&format!(
            "ostepPaging: {} virtual pages is more than the 4,096 this page shows: use a smaller address space or larger pages",
            k.address_space / k.page_size
        )));
    }
    let ex = generate(&k).map_err(|e| JsError::new(&format!("ostepPaging: {e}")))?;
    let o = Object::new();
    set(&o, "text", &ex.render(verbose, answers).into());
    let table = Array::new();
    for vpn in 0..ex.page_table.len() {
        table.push(&num(ex.entry(vpn as u64) as u64));
    }
    set(&o, "pageTable", &table);
    let trace = Array::new();
    for t in &ex.trace {
        let x = Object::new();
        set(&x, "vaddr", &num(t.vaddr));
        set(&x, "vpn", &num(t.vpn));
        set(&x, "paddr", &t.paddr.map_or(JsValue::NULL, num));
        trace.push(&x);
    }
    set(&o, "trace", &trace);
    Ok(o)
}
