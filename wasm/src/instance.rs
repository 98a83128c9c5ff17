//! What one WebAssembly instance holds: at most one live user heap, and the linear memory
//! pages that heaps grow.
//!
//! `memory.grow` belongs to the instance's one linear memory, so only one heap at a time can
//! own it. Making a new `Heap` replaces the live one (its JS object then throws on use);
//! `heap.free()` with no argument releases it. Either way the new heap starts at the same
//! address as the first one did: the old heap's pages are zeroed and reused (memory never
//! shrinks, but the break falls back to the start, see `WasmMemory::restart`). So one script
//! under one policy gives the same addresses every time in an instance.

use core::cell::RefCell;
use std::collections::BTreeMap;

use heaptale::event::Recorder;
use heaptale::policy::{AnyPolicy, Config};
use heaptale::source::{Source, WasmMemory};
use heaptale::trace::Session;
use heaptale::{Heap, HeapError};
use wasm_bindgen::JsError;

use crate::play::PlayPolicy;
use crate::timeline::Timeline;

/// The user's heap: real linear memory, any policy (wrapped so that time travel can put a
/// saved policy state back), every event recorded.
pub type EngineHeap = heaptale::Heap<WasmMemory, PlayPolicy, Recorder>;

/// A live heap and the bookkeeping the JS layer keeps beside it.
pub struct Live {
    pub id: u32,
    /// The options the heap was made with (to make it again, for a replay).
    pub config: Config,
    pub heap: EngineHeap,
    /// The console's variables (`h.run`).
    pub session: Session,
    /// Block offset → bytes requested, for every used block.
    pub requested: BTreeMap<u32, u32>,
    /// Recorded events already applied to `requested`.
    pub seen: usize,
    /// Events dropped unread since the last `events()` (the buffer is bounded).
    pub dropped: u64,
    /// The sum of `requested`: payload bytes asked for by the live blocks.
    pub live_bytes: u64,
    /// Free blocks examined by every allocation so far (the `probes` of alloc events).
    pub probes: u64,
    /// The addresses a trace's ids hold (the plain trace driver of the timeline).
    pub slots: Vec<u32>,
    /// Every step (statement, trace op or call) run on this heap, with snapshots to travel
    /// back and forth.
    pub timeline: Timeline,
    /// The simulated process attached to this heap, if any (`crate::process`).
    pub proc: Option<crate::process::Tracker>,
}

pub struct Instance {
    pub live: Option<Live>,
    /// The pages of the last heap, break at their start, ready for the next heap.
    spare: Option<WasmMemory>,
    next_id: u32,
}

struct Global(RefCell<Instance>);

// SAFETY: wasm32 without the `atomics` target feature has exactly one thread, so the
// instance state is never touched from two threads; nested (re-entrant) use is caught by the
// RefCell and reported as an error.
unsafe impl Sync for Global {}

static INSTANCE: Global = Global(RefCell::new(Instance {
    live: None,
    spare: None,
    next_id: 1,
}));

/// Runs `f` on the instance state; a re-entrant call (say, from a JS getter that calls back
/// into the heap while it works) gets an error instead of a second `&mut`.
pub fn with<T>(f: impl FnOnce(&mut Instance) -> Result<T, JsError>) -> Result<T, JsError> {
    match INSTANCE.0.try_borrow_mut() {
        Ok(mut inst) => f(&mut inst),
        Err(_) => Err(JsError::new(
            "heaptale: the heap was called while it was busy with another call (a re-entrant call)",
        )),
    }
}

/// What a `Heap` object that is no longer the live heap says when it is used.
pub const NOT_LIVE: &str =
    "this Heap is no longer live: it was released with free() or replaced by a newer Heap \
     (one heap per WebAssembly instance owns memory.grow; use another instance to compare heaps)";

/// Runs `f` on the live heap if `id` names it.
pub fn with_live<T>(
    id: u32,
    f: impl FnOnce(&mut Live) -> Result<T, JsError>,
) -> Result<T, JsError> {
    with(|inst| match inst.live.as_mut() {
        Some(live) if live.id == id => f(live),
        _ => Err(JsError::new(NOT_LIVE)),
    })
}

impl Instance {
    /// The pages for a new heap: those of the last heap, or the end of memory the first time.
    fn take_memory(&mut self) -> WasmMemory {
        self.spare.take().unwrap_or_default()
    }

    /// A fresh id for a new heap.
    pub fn next_id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        id
    }

    /// Makes a heap over the spare pages (or the end of memory) and makes it the live one.
    /// Call [`Instance::release`] first. On failure the pages stay spare.
    pub fn make(&mut self, id: u32, config: Config, policy: AnyPolicy) -> Result<(), HeapError> {
        // Reports from the base asked for, if any (the pages are the same either way).
        let mem = self.take_memory().with_report_base(config.base);
        // SAFETY: `backup` is used only if no heap was made over `mem` (it was dropped).
        let backup = unsafe { mem.restart() };
        match Heap::with_policy(
            mem,
            PlayPolicy::new(policy),
            Recorder::default(),
            config.heap_size,
        ) {
            Ok(heap) => {
                let mut live = Live {
                    id,
                    config,
                    heap,
                    session: Session::new(),
                    requested: BTreeMap::new(),
                    seen: 0,
                    dropped: 0,
                    live_bytes: 0,
                    probes: 0,
                    slots: Vec::new(),
                    timeline: Timeline::default(),
                    proc: None,
                };
                crate::timeline::begin(&mut live);
                self.live = Some(live);
                Ok(())
            }
            Err(e) => {
                self.spare = Some(backup);
                Err(e)
            }
        }
    }

    /// Empties the live heap: the same options, id and start address, no blocks, no
    /// variables, no events.
    pub fn renew(&mut self) -> Result<(), HeapError> {
        let Some(live) = self.live.as_ref() else {
            return Ok(());
        };
        let (id, config) = (live.id, live.config);
        let policy = AnyPolicy::new(&config)?;
        // A simulated process attached to the heap stays attached, back at the heap as made.
        let proc = self.live.as_mut().and_then(|l| l.proc.take());
        self.release();
        self.make(id, config, policy)?;
        if let (Some(l), Some(mut t)) = (self.live.as_mut(), proc) {
            t.reset();
            l.proc = Some(t);
        }
        Ok(())
    }

    /// Drops the live heap, if any: its bytes are zeroed (so the next heap sees memory as
    /// fresh pages are) and its pages kept for the next heap.
    pub fn release(&mut self) {
        let Some(live) = self.live.take() else { return };
        let mem = live.heap.mem();
        // SAFETY: the heap over `mem.source()` is dropped just below, before `next` is used.
        let next = unsafe { mem.source().restart() };
        let (base, brk) = (mem.base_ptr(), mem.brk() as usize);
        drop(live);
        // SAFETY: `[base, base + brk)` are pages the dropped heap's source grew with
        // memory.grow; nothing else uses them now that the heap is gone.
        unsafe { core::ptr::write_bytes(base, 0, brk) };
        self.spare = Some(next);
    }
}

impl Live {
    /// Puts the heap back into a saved state: the policy's state, the break and the bytes
    /// `[start, brk)` copied from `bytes`; the bytes from the saved break up to the current
    /// one are zeroed, as they were when the break was there the first time (pages above the
    /// break are fresh or were zeroed). `fresh`: the state is the heap as made (no bytes; the
    /// policy sets the heap up itself). Memory never shrinks: `memory.size` stays. The heap
    /// keeps its start address, options and id.
    pub fn restore_heap(
        &mut self,
        policy: AnyPolicy,
        fresh: bool,
        brk: u32,
        bytes: Option<&js_sys::Uint8Array>,
    ) -> Result<(), HeapError> {
        let mem = self.heap.mem();
        let old_brk = mem.brk();
        let base = mem.base_ptr();
        // SAFETY: the heap over the old source is replaced (and dropped) below, and nothing
        // uses the bytes written here in between; making the new heap writes nothing but
        // what a fresh policy's `init` writes (a fixed heap's growth stays inside pages
        // already grown).
        let mut src = unsafe { mem.source().restart() };
        // SAFETY: `[0, max(brk, old_brk))` lies in pages this heap grew (a snapshot's break
        // was this heap's break once); `bytes` holds `brk` bytes (it was copied from there).
        unsafe {
            match bytes {
                Some(b) if !fresh && b.length() == brk => b.raw_copy_to_ptr(base),
                _ => core::ptr::write_bytes(base, 0, brk as usize),
            }
            if old_brk > brk {
                core::ptr::write_bytes(base.add(brk as usize), 0, (old_brk - brk) as usize);
            }
        }
        if self.config.heap_size.is_none() && brk > 0 {
            // Inside the pages this heap grew before: no memory.grow.
            src.sbrk(brk as usize).ok_or(HeapError::OutOfMemory {
                requested: brk as usize,
            })?;
        }
        let policy = if fresh {
            PlayPolicy::new(policy)
        } else {
            PlayPolicy::restored(policy)
        };
        let heap = Heap::with_policy(src, policy, Recorder::default(), self.config.heap_size)?;
        drop(core::mem::replace(&mut self.heap, heap));
        self.seen = 0;
        self.dropped = 0;
        Ok(())
    }
}
