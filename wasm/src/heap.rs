//! The JS `Heap` class: the engine's heap over real linear memory, with the malloc API, the
//! views the playground draws (blocks, free lists, stats, events, bytes) and traces.
//!
//! Every method checks its arguments and reports a failure by throwing a JS `Error` whose
//! message is the engine's (`run` and `replay` return theirs in `.error`); the heap is then
//! unchanged and the instance stays usable. Nothing on these paths can panic.

use std::collections::BTreeMap;

use heaptale::event::{Event, Recorder};
use heaptale::policy::AnyPolicy;
use heaptale::{Heap, HeapError};
use js_sys::{Array, Object, Reflect, Uint32Array, Uint8Array};
use wasm_bindgen::prelude::*;

use crate::args::{self, whole};
use crate::instance::{self, EngineHeap, Live};

/// Undrained events kept at most; past it the oldest are dropped (and counted), so that a
/// page that never reads events cannot fill the module's memory.
const MAX_PENDING_EVENTS: usize = 1 << 18;

fn engine_error(e: HeapError) -> JsError {
    JsError::new(&e.to_string())
}

/// A heap whose blocks live in this instance's linear memory and whose break moves with
/// `memory.grow`. One per instance: a new `Heap` replaces the live one.
#[wasm_bindgen(js_name = Heap)]
#[derive(Debug)]
pub struct JsHeap {
    id: u32,
}

#[wasm_bindgen(js_class = Heap)]
impl JsHeap {
    /// `new Heap({ policy, order, coalesce, header, align, heapSize })`, every option optional.
    /// Replaces (and releases) the heap that was live in this instance, if any.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<JsHeap, JsError> {
        // Everything that can be refused is checked before the old heap goes.
        let config = args::config(&options)?;
        let policy = AnyPolicy::new(&config).map_err(|e| JsError::new(&format!("new Heap: {e}")))?;
        instance::with(|inst| {
            inst.release();
            let mem = inst.take_memory();
            // SAFETY: `backup` is used only if the heap below was not made, and so was
            // dropped (with `mem`) before.
            let backup = unsafe { mem.restart() };
            match Heap::with_policy(mem, policy, Recorder::default(), config.heap_size) {
                Ok(heap) => {
                    let id = inst.next_id();
                    inst.live = Some(Live { id, heap, requested: BTreeMap::new(), seen: 0, dropped: 0 });
                    Ok(JsHeap { id })
                }
                Err(e) => {
                    inst.put_back(backup);
                    Err(JsError::new(&format!("new Heap: {e}")))
                }
            }
        })
    }

    /// `malloc(size)`: the payload address.
    pub fn malloc(&self, size: f64) -> Result<f64, JsError> {
        let n = whole(size, "malloc", "size")?;
        self.op(None, |h| h.malloc(n))
    }

    /// `free(addr)`; `free(0)` does nothing, as in C. `free()` with no argument releases the
    /// whole heap (the instance can then make a new one at the same address).
    #[wasm_bindgen(js_name = free)]
    pub fn free_block(&self, addr: JsValue) -> Result<(), JsError> {
        if addr.is_undefined() {
            return instance::with(|inst| {
                if inst.live.as_ref().is_some_and(|l| l.id == self.id) {
                    inst.release();
                }
                Ok(())
            });
        }
        let a = addr
            .as_f64()
            .ok_or_else(|| JsError::new(&format!("free: the address must be a number, got {}", args::describe(&addr))))?;
        let a = whole(a, "free", "address")?;
        self.op(None, |h| h.free(a).map(|()| 0))?;
        Ok(())
    }

    /// `realloc(addr, size)`: the (possibly moved) payload address; `realloc(0, n)` is
    /// `malloc(n)`. On failure the old block is untouched.
    pub fn realloc(&self, addr: f64, size: f64) -> Result<f64, JsError> {
        let a = whole(addr, "realloc", "address")?;
        let n = whole(size, "realloc", "size")?;
        self.op(Some(n), |h| h.realloc(a, n))
    }

    /// `calloc(n, size)`: `n * size` zeroed bytes (the product is checked for overflow).
    pub fn calloc(&self, n: f64, size: f64) -> Result<f64, JsError> {
        let n = whole(n, "calloc", "count")?;
        let s = whole(size, "calloc", "size")?;
        self.op(None, |h| h.calloc(n, s))
    }

    /// `memalign(align, size)`: `align` a power of two up to 65536.
    pub fn memalign(&self, align: f64, size: f64) -> Result<f64, JsError> {
        let al = whole(align, "memalign", "alignment")?;
        let n = whole(size, "memalign", "size")?;
        self.op(None, |h| h.memalign(al, n))
    }

    /// `malloc_usable_size(addr)`.
    #[wasm_bindgen(js_name = usableSize)]
    pub fn usable_size(&self, addr: f64) -> Result<f64, JsError> {
        let a = whole(addr, "usableSize", "address")?;
        instance::with_live(self.id, |l| l.heap.usable_size(a).map(|n| n as f64).map_err(engine_error))
    }

    /// Every block from the heap's start to the break, in address order:
    /// `{addr, payload, size, requested, used, header}`. `addr` is the block's first byte
    /// (its header), `payload` what malloc returned for it, `requested` the bytes asked for
    /// (0 for free blocks).
    pub fn blocks(&self) -> Result<Array, JsError> {
        instance::with_live(self.id, |l| {
            let keys = Keys::new(&["addr", "payload", "size", "requested", "used", "header"]);
            let out = Array::new();
            let h = &l.heap;
            h.walk(|b| {
                let requested = if b.used { l.requested.get(&b.block).copied().unwrap_or(0) } else { 0 };
                let addr = h.addr(b.block);
                out.push(&keys.object(&[
                    num(addr),
                    num(addr.wrapping_add(b.header as usize)),
                    JsValue::from(b.size),
                    JsValue::from(requested),
                    JsValue::from_bool(b.used),
                    JsValue::from(b.header),
                ]));
            });
            Ok(out)
        })
    }

    /// The blocks packed for speed: a `Uint32Array` of 4 words per block,
    /// `[addr, size, requested, header | used << 31]`.
    #[wasm_bindgen(js_name = blocksPacked)]
    pub fn blocks_packed(&self) -> Result<Uint32Array, JsError> {
        instance::with_live(self.id, |l| {
            let h = &l.heap;
            let mut n = 0usize;
            h.walk(|_| n += 1);
            let mut words: Vec<u32> = Vec::new();
            words.try_reserve_exact(n.saturating_mul(4)).map_err(|_| JsError::new("blocksPacked: out of module memory"))?;
            h.walk(|b| {
                let requested = if b.used { l.requested.get(&b.block).copied().unwrap_or(0) } else { 0 };
                words.extend_from_slice(&[h.addr(b.block) as u32, b.size, requested, b.header | (b.used as u32) << 31]);
            });
            Ok(Uint32Array::from(words.as_slice()))
        })
    }

    /// The free blocks in list order, every list after the other: `[[addr, size], ...]`.
    #[wasm_bindgen(js_name = freeList)]
    pub fn free_list(&self) -> Result<Array, JsError> {
        instance::with_live(self.id, |l| {
            let out = Array::new();
            for_each_free(&l.heap, |_, addr, size| {
                out.push(&Array::of2(&num(addr), &JsValue::from(size)));
            });
            Ok(out)
        })
    }

    /// The free blocks list by list: `[{list, addr, size}, ...]` (`list` numbers the lists:
    /// size classes for the segregated policies, always 0 for the single-list ones).
    #[wasm_bindgen(js_name = freeLists)]
    pub fn free_lists(&self) -> Result<Array, JsError> {
        instance::with_live(self.id, |l| {
            let keys = Keys::new(&["list", "addr", "size"]);
            let out = Array::new();
            for_each_free(&l.heap, |list, addr, size| {
                out.push(&keys.object(&[num(list), num(addr), JsValue::from(size)]));
            });
            Ok(out)
        })
    }

    /// Figures from a walk: `{live_bytes, heap_bytes, used_bytes, used_blocks, free_bytes,
    /// free_blocks, largest_free, utilization, external_fragmentation}`. `live_bytes` sums
    /// the bytes requested by live blocks; `utilization` is `live_bytes / heap_bytes`.
    pub fn stats(&self) -> Result<Object, JsError> {
        instance::with_live(self.id, |l| {
            let s = l.heap.stats();
            let live: u64 = l.requested.values().map(|&v| v as u64).sum();
            let utilization = if s.heap_bytes == 0 { 0.0 } else { live as f64 / s.heap_bytes as f64 };
            let keys = Keys::new(&[
                "live_bytes",
                "heap_bytes",
                "used_bytes",
                "used_blocks",
                "free_bytes",
                "free_blocks",
                "largest_free",
                "utilization",
                "external_fragmentation",
            ]);
            Ok(keys.object(&[
                JsValue::from_f64(live as f64),
                JsValue::from(s.heap_bytes),
                JsValue::from(s.used_bytes),
                JsValue::from(s.used_blocks),
                JsValue::from(s.free_bytes),
                JsValue::from(s.free_blocks),
                JsValue::from(s.largest_free),
                JsValue::from_f64(utilization),
                JsValue::from_f64(s.external_fragmentation()),
            ]))
        })
    }

    /// Where the heap starts (64 KiB aligned: right after the module's own memory).
    #[wasm_bindgen(js_name = heapStart)]
    pub fn heap_start(&self) -> Result<f64, JsError> {
        instance::with_live(self.id, |l| Ok(num_f(l.heap.start())))
    }

    /// The program break.
    pub fn brk(&self) -> Result<f64, JsError> {
        instance::with_live(self.id, |l| Ok(num_f(l.heap.brk())))
    }

    /// `memory.size` in bytes: the break is at or below it.
    #[wasm_bindgen(js_name = memoryBytes)]
    pub fn memory_bytes(&self) -> f64 {
        memory_bytes()
    }

    /// Verifies every invariant of the heap; throws an `Error` saying which one broke.
    pub fn check(&self) -> Result<(), JsError> {
        instance::with_live(self.id, |l| l.heap.check().map_err(engine_error))
    }

    /// The events recorded since the last call, oldest first, then forgets them. Plain
    /// objects with a `kind` (`alloc`, `free`, `split`, `coalesce`, `grow`, `realloc`,
    /// `error`, and `dropped` when more than 262,144 events went unread) and the engine's
    /// fields, offsets turned into addresses.
    pub fn events(&self) -> Result<Array, JsError> {
        instance::with_live(self.id, |l| {
            let out = Array::new();
            if l.dropped > 0 {
                let o = Object::new();
                set(&o, "kind", &"dropped".into());
                set(&o, "count", &JsValue::from_f64(l.dropped as f64));
                out.push(&o);
                l.dropped = 0;
            }
            let events = core::mem::take(&mut l.heap.observer_mut().events);
            l.seen = 0;
            for e in &events {
                out.push(&event_object(&l.heap, e));
            }
            Ok(out)
        })
    }

    /// A copy of the heap's real bytes `[addr, addr + len)`, clipped to the heap.
    pub fn bytes(&self, addr: f64, len: f64) -> Result<Uint8Array, JsError> {
        let a = whole(addr, "bytes", "address")?;
        let n = whole(len, "bytes", "length")?;
        instance::with_live(self.id, |l| Ok(Uint8Array::from(l.heap.bytes(a, n))))
    }
}

impl Drop for JsHeap {
    fn drop(&mut self) {
        // Collected by the JS garbage collector: release the heap if it is still the live one.
        let _ = instance::with(|inst| {
            if inst.live.as_ref().is_some_and(|l| l.id == self.id) {
                inst.release();
            }
            Ok(())
        });
    }
}

impl JsHeap {
    /// Runs one heap call and keeps the bookkeeping (requested sizes, event bound) up to date.
    /// `realloc_request`: the size asked of a realloc, which in-place events do not carry.
    fn op(&self, realloc_request: Option<usize>, f: impl FnOnce(&mut EngineHeap) -> Result<usize, HeapError>) -> Result<f64, JsError> {
        instance::with_live(self.id, |l| {
            let r = f(&mut l.heap);
            l.sync(realloc_request);
            r.map(num_f).map_err(engine_error)
        })
    }
}

impl Live {
    /// Applies the events recorded since the last sync to the requested-size map and keeps
    /// the undrained events bounded.
    pub fn sync(&mut self, realloc_request: Option<usize>) {
        let events = &self.heap.observer().events;
        for e in events.iter().skip(self.seen) {
            match *e {
                Event::Alloc { block, request, .. } => {
                    self.requested.insert(block, request);
                }
                Event::Free { block, .. } => {
                    self.requested.remove(&block);
                }
                Event::Realloc { old, new, in_place: true, .. } if old == new => {
                    if let Some(n) = realloc_request {
                        self.requested.insert(old, n.min(u32::MAX as usize) as u32);
                    }
                }
                _ => {}
            }
        }
        self.seen = events.len();
        if self.seen > MAX_PENDING_EVENTS {
            let cut = self.seen - MAX_PENDING_EVENTS / 2;
            self.heap.observer_mut().events.drain(..cut);
            self.dropped += cut as u64;
            self.seen -= cut;
        }
    }
}

/// Calls `f(list, addr, size)` for every free block in list order.
fn for_each_free(h: &EngineHeap, mut f: impl FnMut(usize, usize, u32)) {
    // Sizes come from the walk (every policy's own block format), looked up by offset.
    let mut sizes: Vec<(u32, u32)> = Vec::new();
    h.walk(|b| {
        if !b.used {
            sizes.push((b.block, b.size));
        }
    });
    h.free_lists(|list, b| {
        let size = sizes.binary_search_by_key(&b, |&(o, _)| o).map_or(0, |i| sizes.get(i).map_or(0, |s| s.1));
        f(list, h.addr(b), size);
    });
}

/// One event as a plain object.
fn event_object(h: &EngineHeap, e: &Event) -> Object {
    let o = Object::new();
    let a = |off: u32| num(h.addr(off));
    let (kind, fields): (&str, Vec<(&str, JsValue)>) = match *e {
        Event::Alloc { block, size, request, probes } => (
            "alloc",
            vec![("block", a(block)), ("size", size.into()), ("request", request.into()), ("probes", probes.into())],
        ),
        Event::Free { block, size } => ("free", vec![("block", a(block)), ("size", size.into())]),
        Event::Split { block, size, rest, rest_size } => (
            "split",
            vec![("block", a(block)), ("size", size.into()), ("rest", a(rest)), ("rest_size", rest_size.into())],
        ),
        Event::Coalesce { block, absorbed, size } => {
            ("coalesce", vec![("block", a(block)), ("absorbed", a(absorbed)), ("size", size.into())])
        }
        Event::Grow { old_brk, new_brk, pages } => {
            ("grow", vec![("old_brk", a(old_brk)), ("new_brk", a(new_brk)), ("pages", pages.into())])
        }
        Event::Realloc { old, new, size, in_place } => (
            "realloc",
            vec![("old", a(old)), ("new", a(new)), ("size", size.into()), ("in_place", in_place.into())],
        ),
        Event::Error(err) => ("error", vec![("message", err.to_string().into())]),
    };
    set(&o, "kind", &kind.into());
    for (k, v) in &fields {
        set(&o, k, v);
    }
    o
}

/// Property names made once per call, for building many objects.
struct Keys(Vec<JsValue>);

impl Keys {
    fn new(names: &[&str]) -> Keys {
        Keys(names.iter().map(|n| JsValue::from_str(n)).collect())
    }
    fn object(&self, values: &[JsValue]) -> Object {
        let o = Object::new();
        for (k, v) in self.0.iter().zip(values) {
            let _ = Reflect::set(&o, k, v);
        }
        o
    }
}

fn set(o: &Object, k: &str, v: &JsValue) {
    let _ = Reflect::set(o, &JsValue::from_str(k), v);
}

fn num(x: usize) -> JsValue {
    JsValue::from_f64(x as f64)
}

fn num_f(x: usize) -> f64 {
    x as f64
}

/// `memory.size` in bytes (as f64: 65,536 pages of 64 KiB do not fit a wasm32 usize).
pub fn memory_bytes() -> f64 {
    core::arch::wasm32::memory_size(0) as f64 * 65536.0
}
