//! The JS `Heap` class: the engine's heap over real linear memory, with the malloc API, the
//! views the playground draws (blocks, free lists, stats, events, bytes) and traces.
//!
//! Every method checks its arguments and reports a failure by throwing a JS `Error` whose
//! message is the engine's (`run` and `replay` return theirs in `.error`); the heap is then
//! unchanged and the instance stays usable. Nothing on these paths can panic.

use heaptale::event::Event;
use heaptale::policy::AnyPolicy;
use heaptale::HeapError;
use js_sys::{Array, Object, Reflect, Uint32Array, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::args::{self, whole};
use crate::instance;
use crate::timeline::{self, Appended, Call};

/// Undrained events kept at most; past it the oldest are dropped (and counted), so that a
/// page that never reads events cannot fill the module's memory.
pub(crate) const MAX_PENDING_EVENTS: usize = 1 << 17;

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
    /// `new Heap({ policy, order, coalesce, header, align, heapSize, base })`, every option
    /// optional. `base`: the address reports give the heap's start (OSTEP's `-b`, the CLI's
    /// `--base`), a number or a string such as `'0x1000'`, at most `0xbfffffff`; every
    /// address in and out (calls, blocks, lists, events, steps, `bytes`) is then reported
    /// from it, while the bytes stay where they really are (see `realStart`).
    /// Replaces (and releases) the heap that was live in this instance, if any.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<JsHeap, JsError> {
        // Everything that can be refused is checked before the old heap goes.
        let config = args::config(&options)?;
        let policy =
            AnyPolicy::new(&config).map_err(|e| JsError::new(&format!("new Heap: {e}")))?;
        instance::with(|inst| {
            inst.release();
            let id = inst.next_id();
            inst.make(id, config, policy)
                .map_err(|e| JsError::new(&format!("new Heap: {e}")))?;
            Ok(JsHeap { id })
        })
    }

    /// `malloc(size)`: the payload address.
    pub fn malloc(&self, size: f64) -> Result<f64, JsError> {
        let n = whole(size, "malloc", "size")?;
        self.call(Call::Malloc(n as u32))
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
        let a = addr.as_f64().ok_or_else(|| {
            JsError::new(&format!(
                "free: the address must be a number, got {}",
                args::describe(&addr)
            ))
        })?;
        let a = whole(a, "free", "address")?;
        self.call(Call::Free(a as u32))?;
        Ok(())
    }

    /// `realloc(addr, size)`: the (possibly moved) payload address; `realloc(0, n)` is
    /// `malloc(n)`. On failure the old block is untouched.
    pub fn realloc(&self, addr: f64, size: f64) -> Result<f64, JsError> {
        let a = whole(addr, "realloc", "address")?;
        let n = whole(size, "realloc", "size")?;
        self.call(Call::Realloc(a as u32, n as u32))
    }

    /// `calloc(n, size)`: `n * size` zeroed bytes (the product is checked for overflow).
    pub fn calloc(&self, n: f64, size: f64) -> Result<f64, JsError> {
        let n = whole(n, "calloc", "count")?;
        let s = whole(size, "calloc", "size")?;
        self.call(Call::Calloc(n as u32, s as u32))
    }

    /// `memalign(align, size)`: `align` a power of two up to 65536.
    pub fn memalign(&self, align: f64, size: f64) -> Result<f64, JsError> {
        let al = whole(align, "memalign", "alignment")?;
        let n = whole(size, "memalign", "size")?;
        self.call(Call::Memalign(al as u32, n as u32))
    }

    /// `malloc_usable_size(addr)`.
    #[wasm_bindgen(js_name = usableSize)]
    pub fn usable_size(&self, addr: f64) -> Result<f64, JsError> {
        let a = whole(addr, "usableSize", "address")?;
        instance::with_live(self.id, |l| {
            l.heap
                .usable_size(a)
                .map(|n| n as f64)
                .map_err(engine_error)
        })
    }

    /// Every block from the heap's start to the break, in address order:
    /// `{addr, payload, size, requested, used, header}`. `addr` is the block's first byte
    /// (its header), `payload` what malloc returned for it, `requested` the bytes asked for
    /// (0 for free blocks).
    pub fn blocks(&self) -> Result<Array, JsError> {
        let words = self.packed()?;
        let out = Array::new();
        for b in words.chunks_exact(4) {
            if let [addr, size, requested, flags] = *b {
                let header = flags & !USED_BIT;
                js::push_block(
                    &out,
                    addr as f64,
                    addr as f64 + header as f64,
                    size,
                    requested,
                    flags & USED_BIT != 0,
                    header,
                );
            }
        }
        Ok(out)
    }

    /// The blocks packed for speed: a `Uint32Array` of 4 words per block,
    /// `[addr, size, requested, header | used << 31]`.
    #[wasm_bindgen(js_name = blocksPacked)]
    pub fn blocks_packed(&self) -> Result<Uint32Array, JsError> {
        Ok(Uint32Array::from(self.packed()?.as_slice()))
    }

    /// The free blocks in list order, every list after the other: `[[addr, size], ...]`.
    #[wasm_bindgen(js_name = freeList)]
    pub fn free_list(&self) -> Result<Array, JsError> {
        let out = Array::new();
        for (_, addr, size) in self.free_entries()? {
            js::push_pair(&out, addr as f64, size);
        }
        Ok(out)
    }

    /// The free blocks list by list: `[{list, addr, size}, ...]` (`list` numbers the lists:
    /// size classes for the segregated policies, always 0 for the single-list ones).
    #[wasm_bindgen(js_name = freeLists)]
    pub fn free_lists(&self) -> Result<Array, JsError> {
        let out = Array::new();
        for (list, addr, size) in self.free_entries()? {
            js::push_free(&out, list as f64, addr as f64, size);
        }
        Ok(out)
    }

    /// The free blocks list by list, packed for speed: a `Uint32Array` of 3 words per free
    /// block, `[list, addr, size]`, in list order.
    #[wasm_bindgen(js_name = freeListsPacked)]
    pub fn free_lists_packed(&self) -> Result<Uint32Array, JsError> {
        let entries = self.free_entries()?;
        let mut words: Vec<u32> = Vec::new();
        words
            .try_reserve_exact(entries.len() * 3)
            .map_err(|_| JsError::new("freeListsPacked: out of module memory"))?;
        for (list, addr, size) in entries {
            words.extend_from_slice(&[list as u32, addr as u32, size]);
        }
        Ok(Uint32Array::from(words.as_slice()))
    }

    /// Figures from a walk: `{live_bytes, heap_bytes, used_bytes, used_blocks, free_bytes,
    /// free_blocks, largest_free, utilization, external_fragmentation}`. `live_bytes` sums
    /// the bytes requested by live blocks; `utilization` is `live_bytes / heap_bytes`.
    pub fn stats(&self) -> Result<Object, JsError> {
        instance::with_live(self.id, |l| {
            let s = l.heap.stats();
            let live = l.live_bytes;
            let utilization = if s.heap_bytes == 0 {
                0.0
            } else {
                live as f64 / s.heap_bytes as f64
            };
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

    /// Where the heap starts, as reports give it: the `base` option if one was given, else
    /// the real start (64 KiB aligned: right after the module's own memory).
    #[wasm_bindgen(js_name = heapStart)]
    pub fn heap_start(&self) -> Result<f64, JsError> {
        instance::with_live(self.id, |l| Ok(num_f(l.heap.start())))
    }

    /// Where the heap's bytes really are: the offset of `heapStart()` in
    /// `wasmMemory().buffer`. The same as `heapStart()` unless a `base` was given; a
    /// reported address `a` is at `a - heapStart() + realStart()` in the buffer.
    #[wasm_bindgen(js_name = realStart)]
    pub fn real_start(&self) -> Result<f64, JsError> {
        instance::with_live(self.id, |l| Ok(num_f(l.heap.mem().base_ptr() as usize)))
    }

    /// The end of linear memory (`memory.size`) as a reported address: the same as
    /// `memoryBytes()` unless a `base` was given. The break is at or below it.
    #[wasm_bindgen(js_name = memoryEnd)]
    pub fn memory_end(&self) -> Result<f64, JsError> {
        instance::with_live(self.id, |l| {
            Ok(l.heap.start() as f64 + (memory_bytes() - l.heap.mem().base_ptr() as usize as f64))
        })
    }

    /// The program break.
    pub fn brk(&self) -> Result<f64, JsError> {
        instance::with_live(self.id, |l| Ok(num_f(l.heap.brk())))
    }

    /// `memory.size` in bytes (real: not moved by a `base`; see `memoryEnd`).
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
    /// `error`, and `dropped` when more than 131,072 events went unread) and the engine's
    /// fields, offsets turned into addresses.
    pub fn events(&self) -> Result<Array, JsError> {
        // Taken out under the borrow, turned into JS objects after it.
        let (events, base, dropped) = instance::with_live(self.id, |l| {
            let events = core::mem::take(&mut l.heap.observer_mut().events);
            l.seen = 0;
            let dropped = core::mem::take(&mut l.dropped);
            Ok((events, l.heap.start(), dropped))
        })?;
        let out = Array::new();
        if dropped > 0 {
            let o = Object::new();
            set(&o, "kind", &"dropped".into());
            set(&o, "count", &JsValue::from_f64(dropped as f64));
            out.push(&o);
        }
        let a = |off: u32| base as f64 + off as f64;
        for e in &events {
            match *e {
                Event::Alloc {
                    block,
                    size,
                    request,
                    probes,
                } => js::push_alloc(&out, a(block), size, request, probes),
                Event::Free { block, size } => js::push_free_event(&out, a(block), size),
                Event::Split {
                    block,
                    size,
                    rest,
                    rest_size,
                } => js::push_split(&out, a(block), size, a(rest), rest_size),
                Event::Coalesce {
                    block,
                    absorbed,
                    size,
                } => js::push_coalesce(&out, a(block), a(absorbed), size),
                Event::Grow {
                    old_brk,
                    new_brk,
                    pages,
                } => js::push_grow(&out, a(old_brk), a(new_brk), pages),
                Event::Realloc {
                    old,
                    new,
                    size,
                    in_place,
                } => js::push_realloc(&out, a(old), a(new), size, in_place),
                Event::QuickFree { block, size, list } => {
                    js::push_quick(&out, "quick-free", a(block), size, list)
                }
                Event::QuickAlloc { block, size, list } => {
                    js::push_quick(&out, "quick-alloc", a(block), size, list)
                }
                Event::Consolidate { blocks } => js::push_consolidate(&out, blocks),
                Event::Error(err) => js::push_error(&out, &err.to_string()),
            }
        }
        Ok(out)
    }

    /// A copy of the heap's real bytes `[addr, addr + len)` (a reported address, as every
    /// address of this API), clipped to the heap.
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

/// The message of an error made with `JsError::new`.
pub(crate) fn js_error_message(e: JsError) -> String {
    let v = JsValue::from(e);
    match v.dyn_ref::<js_sys::Error>() {
        Some(err) => err.message().into(),
        None => args::describe(&v),
    }
}

impl JsHeap {
    /// The id of the heap this object stands for.
    pub(crate) fn id(&self) -> u32 {
        self.id
    }

    /// Runs one call of the JS API as a step of the timeline; the engine's error, if any,
    /// becomes the thrown `Error`.
    fn call(&self, c: Call) -> Result<f64, JsError> {
        instance::with_live(self.id, |l| {
            let (out, _) = timeline::append(l, Appended::Call(c));
            match out.err {
                Some(e) => Err(JsError::new(&e.message)),
                None => Ok(out.addr.map_or(0.0, num_f)),
            }
        })
    }
}

/// The `U` bit in `blocksPacked`'s fourth word.
const USED_BIT: u32 = 1 << 31;
/// The bit in `blocksPacked`'s fourth word of a block waiting in a quick list (freed, still
/// marked used).
const QUICK_BIT: u32 = 1 << 30;
/// The list numbers `freeLists` gives quick list `q`: `QUICK_LIST | q`. (The top block kept
/// apart is the list `u32::MAX`.)
const QUICK_LIST: usize = 1 << 31;

impl JsHeap {
    /// The blocks as `blocksPacked` words, gathered under the borrow.
    fn packed(&self) -> Result<Vec<u32>, JsError> {
        instance::with_live(self.id, |l| {
            let h = &l.heap;
            let mut n = 0usize;
            h.walk(|_| n += 1);
            let mut words: Vec<u32> = Vec::new();
            words
                .try_reserve_exact(n.saturating_mul(4))
                .map_err(|_| JsError::new("blocks: out of module memory"))?;
            let mut quick: Vec<u32> = Vec::new();
            h.quick_blocks(|_, b| {
                if quick.try_reserve(1).is_ok() {
                    quick.push(b);
                }
            });
            quick.sort_unstable();
            h.walk(|b| {
                let requested = if b.used {
                    l.requested.get(&b.block).copied().unwrap_or(0)
                } else {
                    0
                };
                let waiting = b.used && quick.binary_search(&b.block).is_ok();
                let flags = b.header
                    | if b.used { USED_BIT } else { 0 }
                    | if waiting { QUICK_BIT } else { 0 };
                words.extend_from_slice(&[h.addr(b.block) as u32, b.size, requested, flags]);
            });
            Ok(words)
        })
    }

    /// The free blocks in list order as `(list, addr, size)`, gathered under the borrow.
    fn free_entries(&self) -> Result<Vec<(usize, usize, u32)>, JsError> {
        instance::with_live(self.id, |l| {
            let h = &l.heap;
            // Sizes come from the walk (each policy's own block format), found by offset:
            // free blocks, and used ones too, for the blocks waiting in quick lists.
            let mut quick = 0usize;
            h.quick_blocks(|_, _| quick += 1);
            let mut sizes: Vec<(u32, u32)> = Vec::new();
            let mut listed = 0usize;
            h.walk(|b| {
                if !b.used || quick > 0 {
                    listed += 1;
                }
            });
            let oom = |_| JsError::new("freeList: out of module memory");
            sizes.try_reserve_exact(listed).map_err(oom)?;
            h.walk(|b| {
                if !b.used || quick > 0 {
                    sizes.push((b.block, b.size));
                }
            });
            let size_of = |b: u32| {
                sizes
                    .binary_search_by_key(&b, |&(o, _)| o)
                    .ok()
                    .and_then(|i| sizes.get(i))
                    .map_or(0, |s| s.1)
            };
            let mut out = Vec::new();
            out.try_reserve_exact(listed).map_err(oom)?;
            h.free_lists(|list, b| out.push((list, h.addr(b), size_of(b))));
            h.quick_blocks(|list, b| out.push((QUICK_LIST | list, h.addr(b), size_of(b))));
            Ok(out)
        })
    }
}

/// Builders of plain JS objects, one call per object (much faster than a property at a
/// time through `Reflect`). Plain object literals and a fresh array: nothing here can throw.
mod js {
    use js_sys::Array;
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen(inline_js = "
export function pushBlock(a, addr, payload, size, requested, used, header) { a.push({ addr, payload, size, requested, used, header }); }
export function pushPair(a, x, y) { a.push([x, y]); }
export function pushFree(a, list, addr, size) { a.push({ list, addr, size }); }
export function pushAlloc(a, block, size, request, probes) { a.push({ kind: 'alloc', block, size, request, probes }); }
export function pushFreeEvent(a, block, size) { a.push({ kind: 'free', block, size }); }
export function pushSplit(a, block, size, rest, rest_size) { a.push({ kind: 'split', block, size, rest, rest_size }); }
export function pushCoalesce(a, block, absorbed, size) { a.push({ kind: 'coalesce', block, absorbed, size }); }
export function pushGrow(a, old_brk, new_brk, pages) { a.push({ kind: 'grow', old_brk, new_brk, pages }); }
export function pushRealloc(a, old, neu, size, in_place) { a.push({ kind: 'realloc', old, new: neu, size, in_place }); }
export function pushError(a, message) { a.push({ kind: 'error', message }); }
export function pushQuick(a, kind, block, size, list) { a.push({ kind, block, size, list }); }
export function pushConsolidate(a, blocks) { a.push({ kind: 'consolidate', blocks }); }
")]
    extern "C" {
        #[wasm_bindgen(js_name = pushBlock)]
        pub fn push_block(
            a: &Array,
            addr: f64,
            payload: f64,
            size: u32,
            requested: u32,
            used: bool,
            header: u32,
        );
        #[wasm_bindgen(js_name = pushPair)]
        pub fn push_pair(a: &Array, x: f64, y: u32);
        #[wasm_bindgen(js_name = pushFree)]
        pub fn push_free(a: &Array, list: f64, addr: f64, size: u32);
        #[wasm_bindgen(js_name = pushAlloc)]
        pub fn push_alloc(a: &Array, block: f64, size: u32, request: u32, probes: u32);
        #[wasm_bindgen(js_name = pushFreeEvent)]
        pub fn push_free_event(a: &Array, block: f64, size: u32);
        #[wasm_bindgen(js_name = pushSplit)]
        pub fn push_split(a: &Array, block: f64, size: u32, rest: f64, rest_size: u32);
        #[wasm_bindgen(js_name = pushCoalesce)]
        pub fn push_coalesce(a: &Array, block: f64, absorbed: f64, size: u32);
        #[wasm_bindgen(js_name = pushGrow)]
        pub fn push_grow(a: &Array, old_brk: f64, new_brk: f64, pages: u32);
        #[wasm_bindgen(js_name = pushRealloc)]
        pub fn push_realloc(a: &Array, old: f64, new: f64, size: u32, in_place: bool);
        #[wasm_bindgen(js_name = pushQuick)]
        pub fn push_quick(a: &Array, kind: &str, block: f64, size: u32, list: u32);
        #[wasm_bindgen(js_name = pushConsolidate)]
        pub fn push_consolidate(a: &Array, blocks: u32);
        #[wasm_bindgen(js_name = pushError)]
        pub fn push_error(a: &Array, message: &str);
    }
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

pub(crate) fn set(o: &Object, k: &str, v: &JsValue) {
    let _ = Reflect::set(o, &JsValue::from_str(k), v);
}

fn num_f(x: usize) -> f64 {
    x as f64
}

/// `memory.size` in bytes (as f64: 65,536 pages of 64 KiB do not fit a wasm32 usize).
pub fn memory_bytes() -> f64 {
    core::arch::wasm32::memory_size(0) as f64 * 65536.0
}
