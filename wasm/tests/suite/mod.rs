//! The wasm tests of the JS API, run both under node (`node.rs`) and in headless Chromium
//! (`browser.rs`). They call the exported class the way the generated glue does, with JS
//! values, and read real linear memory.
//!
//! All tests of a file share one instance, one after the other: each makes its own `Heap`,
//! which replaces the last one at the same start address.

#![allow(dead_code)]

use heaptale::HeapError;
use heaptale_wasm::JsHeap;
use js_sys::{Array, Object, Reflect, Uint8Array, WebAssembly, JSON};
use wasm_bindgen::{JsCast, JsError, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

#[path = "../common/layout.rs"]
mod layout;

const PAGE: f64 = 65536.0;

// ---- helpers -------------------------------------------------------------------------------

fn opts(json: &str) -> JsValue {
    JSON::parse(json).expect("test JSON")
}

fn heap(json: &str) -> JsHeap {
    match JsHeap::new(opts(json)) {
        Ok(h) => h,
        Err(e) => panic!("new Heap({json}) failed: {}", message(e)),
    }
}

fn message(e: JsError) -> String {
    let v = JsValue::from(e);
    let err: js_sys::Error = v.dyn_into().expect("a JS Error object");
    err.message().into()
}

/// The message of the Error a call threw; fails the test if it did not throw.
fn err<T: std::fmt::Debug>(r: Result<T, JsError>) -> String {
    match r {
        Ok(v) => panic!("expected an Error, got Ok({v:?})"),
        Err(e) => message(e),
    }
}

fn get(o: &JsValue, k: &str) -> JsValue {
    Reflect::get(o, &JsValue::from_str(k)).expect("property")
}
fn get_f(o: &JsValue, k: &str) -> f64 {
    get(o, k)
        .as_f64()
        .unwrap_or_else(|| panic!("{k} is not a number"))
}

/// The blocks as (offset, size, used, requested).
fn blocks(h: &JsHeap) -> Vec<(u32, u32, bool, u32)> {
    let start = h.heap_start().unwrap();
    h.blocks()
        .unwrap()
        .iter()
        .map(|b| {
            (
                (get_f(&b, "addr") - start) as u32,
                get_f(&b, "size") as u32,
                get(&b, "used").as_bool().unwrap(),
                get_f(&b, "requested") as u32,
            )
        })
        .collect()
}

fn free_list(h: &JsHeap) -> Vec<(u32, u32)> {
    let start = h.heap_start().unwrap();
    h.free_list()
        .unwrap()
        .iter()
        .map(|e| {
            let e: Array = e.dyn_into().unwrap();
            (
                (e.get(0).as_f64().unwrap() - start) as u32,
                e.get(1).as_f64().unwrap() as u32,
            )
        })
        .collect()
}

fn kinds(events: &Array) -> Vec<String> {
    events
        .iter()
        .map(|e| get(&e, "kind").as_string().unwrap())
        .collect()
}

/// After an error: the same heap still works and is intact.
fn still_usable(h: &JsHeap) {
    let p = h.malloc(32.0).expect("malloc after an error");
    h.check().expect("check after an error");
    h.free_block(p.into()).expect("free after an error");
    h.check().expect("check after an error");
}

fn run_layout_script(h: &JsHeap) -> Vec<Option<u32>> {
    let start = h.heap_start().unwrap() as usize;
    layout::run(start, |op, var| {
        let r = match op {
            layout::Op::Malloc(_, n) => h.malloc(n as f64),
            layout::Op::Free(v) => h.free_block((var(v) as f64).into()).map(|()| 0.0),
            layout::Op::Realloc(_, v, n) => h.realloc(var(v) as f64, n as f64),
            layout::Op::Memalign(_, a, n) => h.memalign(a as f64, n as f64),
            layout::Op::Calloc(_, n, s) => h.calloc(n as f64, s as f64),
        };
        match r {
            Ok(a) => a as usize,
            Err(e) => panic!("{op:?}: {}", message(e)),
        }
    })
}

// ---- the module's own memory ---------------------------------------------------------------

#[wasm_bindgen_test]
fn the_module_allocates_without_growing_memory() {
    let h = heap("{}");
    let before = h.memory_bytes();
    // Plenty of bookkeeping: Vecs, strings, JS objects.
    let mut v: Vec<Vec<u8>> = Vec::new();
    for i in 0..200 {
        v.push(vec![i as u8; 20_000]);
    }
    let s: String = (0..100_000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    assert_eq!(s.len(), 100_000);
    for _ in 0..20 {
        let _ = heaptale_wasm::policies();
    }
    drop(v);
    assert_eq!(
        h.memory_bytes(),
        before,
        "module bookkeeping grew linear memory"
    );
    // The arena lies below the heap.
    let mm = heaptale_wasm::module_memory();
    assert!(get_f(&mm, "arena_end") <= h.heap_start().unwrap());
    assert!(get_f(&mm, "arena_used") > 0.0);
}

#[wasm_bindgen_test]
fn an_exhausted_arena_gives_null_not_a_trap() {
    let h = heap("{}");
    let before = h.memory_bytes();
    // Larger than the whole arena: the allocator says no. (`black_box`: an allocation whose
    // pointer is only compared with null may be optimised away, and assumed to succeed.)
    let layout = std::alloc::Layout::from_size_align(64 << 20, 8).unwrap();
    // SAFETY: a valid layout with a non-zero size; the result is checked before use.
    let p = std::hint::black_box(unsafe { std::alloc::alloc(layout) });
    assert!(p.is_null());
    // Over-aligned beyond a page: also refused.
    let layout = std::alloc::Layout::from_size_align(16, 1 << 17).unwrap();
    // SAFETY: as above.
    let p = std::hint::black_box(unsafe { std::alloc::alloc(layout) });
    assert!(p.is_null());
    // A Vec that cannot have its memory says so through try_reserve.
    let mut v: Vec<u8> = Vec::new();
    assert!(v.try_reserve_exact(100 << 20).is_err());
    // A 64 KiB-aligned block works and is aligned.
    let layout = std::alloc::Layout::from_size_align(100, 1 << 16).unwrap();
    // SAFETY: as above; freed with the same layout.
    unsafe {
        let p = std::alloc::alloc(layout);
        assert!(!p.is_null());
        assert_eq!(p as usize % (1 << 16), 0);
        std::alloc::dealloc(p, layout);
    }
    assert_eq!(h.memory_bytes(), before);
    still_usable(&h);
}

// ---- real memory.grow ----------------------------------------------------------------------

#[wasm_bindgen_test]
fn malloc_grows_real_linear_memory_page_by_page() {
    let h = heap("{\"policy\": \"first\"}");
    let start = h.heap_start().unwrap();
    assert_eq!(start % PAGE, 0.0, "the heap starts on a page boundary");
    assert_eq!(h.brk().unwrap(), start, "a new heap is empty");
    assert!(h.memory_bytes() >= start);
    h.events().unwrap();

    // 24,000-byte requests (24,008-byte blocks): the break moves by exactly the block size
    // and lands inside pages; memory.grow adds whole pages only when the break passes the
    // end of memory, by exactly as many pages as needed.
    let mut grown_pages = 0.0;
    let mut grows = 0;
    let mut inside_page = 0;
    let mut total = 0.0;
    let target = h.memory_bytes() - start + 200.0 * 1024.0;
    while total < target {
        let (mem0, brk0) = (h.memory_bytes(), h.brk().unwrap());
        let p = h.malloc(24_000.0).unwrap();
        let (mem1, brk1) = (h.memory_bytes(), h.brk().unwrap());
        assert_eq!(
            p,
            brk0 + 8.0,
            "each block goes on top, payload after the 8-byte header"
        );
        assert_eq!(brk1 - brk0, 24_008.0, "the break moves by the block size");
        let want_mem = mem0.max((brk1 / PAGE).ceil() * PAGE);
        assert_eq!(
            mem1, want_mem,
            "memory grows by whole pages, only as far as needed"
        );
        if brk1 % PAGE != 0.0 {
            inside_page += 1;
        }
        // The events tell the same story.
        let ev = h.events().unwrap();
        let grow = ev
            .iter()
            .find(|e| get(e, "kind").as_string().as_deref() == Some("grow"))
            .expect("a grow event");
        assert_eq!(get_f(&grow, "old_brk"), brk0);
        assert_eq!(get_f(&grow, "new_brk"), brk1);
        assert_eq!(get_f(&grow, "pages"), (mem1 - mem0) / PAGE);
        if mem1 > mem0 {
            grows += 1;
            grown_pages += (mem1 - mem0) / PAGE;
        }
        total += 24_008.0;
    }
    assert!(grows >= 3, "memory.grow ran {grows} times");
    // memoryBytes() is the real memory's size.
    let mem: WebAssembly::Memory = heaptale_wasm::wasm_memory().dyn_into().unwrap();
    assert_eq!(
        js_sys::ArrayBuffer::from(mem.buffer()).byte_length() as f64,
        h.memory_bytes()
    );
    assert!(grown_pages >= 3.0);
    assert!(inside_page > 0);
    assert_eq!(h.brk().unwrap() - start, total);
    let s = h.stats().unwrap();
    assert_eq!(get_f(&s, "heap_bytes"), total);
    assert_eq!(get_f(&s, "free_blocks"), 0.0);
    h.check().unwrap();
}

// ---- exact addresses -----------------------------------------------------------------------

#[wasm_bindgen_test]
fn a_script_under_first_gives_the_native_engines_offsets() {
    let h = heap("{\"policy\": \"first\", \"order\": \"addr\", \"coalesce\": true, \"header\": 8, \"align\": 8}");
    assert_eq!(run_layout_script(&h), layout::expected());
    assert_eq!(blocks(&h), layout::BLOCKS.to_vec());
    assert_eq!(free_list(&h), layout::FREE_LIST.to_vec());
    assert_eq!(
        h.brk().unwrap() - h.heap_start().unwrap(),
        layout::BRK as f64
    );
    h.check().unwrap();
    let s = h.stats().unwrap();
    assert_eq!(get_f(&s, "live_bytes"), 125.0); // 15 + 10 + 100
    assert_eq!(get_f(&s, "heap_bytes"), 192.0);
    assert_eq!(get_f(&s, "used_bytes"), 160.0);
    assert_eq!(get_f(&s, "free_bytes"), 32.0);
    assert_eq!(get_f(&s, "largest_free"), 32.0);
    assert_eq!(get_f(&s, "utilization"), 125.0 / 192.0);
    assert_eq!(get_f(&s, "external_fragmentation"), 0.0);
}

#[wasm_bindgen_test]
fn the_same_layout_as_the_engine_over_a_fixed_region_in_wasm() {
    // The engine over a 64 KiB-aligned region inside the module's own memory: same offsets.
    let layout = std::alloc::Layout::from_size_align(1 << 16, 1 << 16).unwrap();
    // SAFETY: valid layout; the region is used only by this heap and freed after it.
    let base = unsafe { std::alloc::alloc_zeroed(layout) };
    assert!(!base.is_null());
    {
        // SAFETY: `base` is ours, 64 KiB aligned, and outlives the heap (dropped below).
        let region = unsafe { heaptale::source::FixedRegion::new(base, 1 << 16, base as usize) };
        let mut e = heaptale::Heap::new(region, &heaptale::Config::default()).unwrap();
        let start = e.start();
        let seen = layout::run(start, |op, var| match op {
            layout::Op::Malloc(_, n) => e.malloc(n).unwrap(),
            layout::Op::Free(v) => e.free(var(v)).map(|()| 0).unwrap(),
            layout::Op::Realloc(_, v, n) => e.realloc(var(v), n).unwrap(),
            layout::Op::Memalign(_, a, n) => e.memalign(a, n).unwrap(),
            layout::Op::Calloc(_, n, s) => e.calloc(n, s).unwrap(),
        });
        assert_eq!(seen, layout::expected());
    }
    // SAFETY: allocated above with this layout; the heap over it is gone.
    unsafe { std::alloc::dealloc(base, layout) };
}

#[wasm_bindgen_test]
fn a_new_heap_starts_at_the_same_address_and_repeats_the_same_addresses() {
    let h1 = heap("{}");
    let start = h1.heap_start().unwrap();
    let first = run_layout_script(&h1);
    // Make the first heap big, so that the next one reuses grown pages, and dirty it.
    let big = h1.malloc(300_000.0).unwrap();
    let mem: WebAssembly::Memory = heaptale_wasm::wasm_memory().dyn_into().unwrap();
    Uint8Array::new(&mem.buffer()).fill(0xEE, start as u32, big as u32 + 300_000);
    let mem = h1.memory_bytes();

    let h2 = heap("{}");
    assert_eq!(
        h2.heap_start().unwrap(),
        start,
        "a new heap reuses the old heap's start"
    );
    assert_eq!(h2.brk().unwrap(), start, "the break fell back to the start");
    assert_eq!(h2.memory_bytes(), mem, "memory never shrinks");
    assert_eq!(
        run_layout_script(&h2),
        first,
        "same script, same policy: same addresses"
    );
    assert_eq!(h2.memory_bytes(), mem, "reused pages: no growth");
    // The old heap's bytes are gone: a block where the big one was reads as zeros.
    let p = h2.malloc(1000.0).unwrap();
    assert_eq!(p, start + 192.0 + 8.0);
    // (All but the last word, where the engine wrote the footer of the free block it cut.)
    assert_eq!(
        h2.bytes(p, 996.0).unwrap().to_vec(),
        vec![0u8; 996],
        "reused pages are zeroed"
    );

    // The replaced heap refuses to work, with a clear message; the new one is unaffected.
    let m = err(h1.malloc(8.0));
    assert!(m.contains("no longer live"), "{m}");
    let m = err(h1.blocks());
    assert!(m.contains("no longer live"), "{m}");
    h1.free_block(JsValue::UNDEFINED).unwrap(); // releasing a replaced heap does nothing
    still_usable(&h2);

    // free() with no argument releases the heap; the next starts at the same place again.
    h2.free_block(JsValue::UNDEFINED).unwrap();
    assert!(err(h2.malloc(8.0)).contains("no longer live"));
    let h3 = heap("{\"policy\": \"best\"}");
    assert_eq!(h3.heap_start().unwrap(), start);
    still_usable(&h3);
}

// ---- the API's views -----------------------------------------------------------------------

#[wasm_bindgen_test]
fn policies_lists_every_policy_with_a_description() {
    let p = heaptale_wasm::policies();
    let names: Vec<String> = p
        .iter()
        .map(|o| get(&o, "name").as_string().unwrap())
        .collect();
    let want: Vec<String> = heaptale::PolicyKind::ALL
        .iter()
        .map(|k| k.name().to_string())
        .collect();
    assert_eq!(names, want);
    for o in p.iter() {
        assert!(!get(&o, "description").as_string().unwrap().is_empty());
    }
}

#[wasm_bindgen_test]
fn every_policy_but_buddy_serves_the_layout_script() {
    for k in heaptale::PolicyKind::ALL {
        let h = heap(&format!("{{\"policy\": \"{}\"}}", k.name()));
        let p = match h.malloc(100.0) {
            Ok(p) => p,
            Err(e) if k == heaptale::PolicyKind::Buddy => {
                // The buddy policy is still being written; it must fail cleanly.
                let _ = message(e);
                continue;
            }
            Err(e) => panic!("{}: {}", k.name(), message(e)),
        };
        let q = h.realloc(p, 300.0).unwrap();
        h.free_block(q.into()).unwrap();
        h.check()
            .unwrap_or_else(|e| panic!("{}: {}", k.name(), message(e)));
    }
}

#[wasm_bindgen_test]
fn events_are_plain_objects_with_addresses_and_are_drained() {
    let h = heap("{}");
    let start = h.heap_start().unwrap();
    let a = h.malloc(24.0).unwrap();
    let b = h.malloc(24.0).unwrap();
    h.free_block(a.into()).unwrap();
    let _ = h.free_block(a.into()); // double free: an error event
    h.free_block(b.into()).unwrap();
    let ev = h.events().unwrap();
    assert_eq!(
        kinds(&ev),
        ["grow", "alloc", "grow", "alloc", "free", "error", "free", "coalesce"]
    );
    let alloc = ev.get(1);
    assert_eq!(get_f(&alloc, "block"), start);
    assert_eq!(get_f(&alloc, "size"), 32.0);
    assert_eq!(get_f(&alloc, "request"), 24.0);
    let e = ev.get(5);
    assert_eq!(
        get(&e, "message").as_string().unwrap(),
        HeapError::DoubleFree { addr: a as usize }.to_string()
    );
    let c = ev.get(7);
    assert_eq!(get_f(&c, "block"), start);
    assert_eq!(get_f(&c, "absorbed"), start + 32.0);
    assert_eq!(get_f(&c, "size"), 64.0);
    assert_eq!(h.events().unwrap().length(), 0, "events() drains");
}

#[wasm_bindgen_test]
fn bytes_are_the_real_heap_bytes() {
    let h = heap("{}");
    let p = h.malloc(16.0).unwrap();
    // Write through a view of linear memory, read back through bytes().
    let mem: WebAssembly::Memory = heaptale_wasm::wasm_memory().dyn_into().unwrap();
    let view = Uint8Array::new(&mem.buffer());
    for i in 0..16u32 {
        view.set_index(p as u32 + i, 0xA0 + i as u8);
    }
    let got = h.bytes(p, 16.0).unwrap().to_vec();
    assert_eq!(got, (0..16).map(|i| 0xA0 + i as u8).collect::<Vec<_>>());
    // The header word: size 24, used, previous used (the first block).
    let hdr = h.bytes(p - 8.0, 4.0).unwrap().to_vec();
    assert_eq!(
        u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]),
        24 | 1 << 31 | 1 << 30
    );
    // Clipped to the heap.
    assert_eq!(h.bytes(h.brk().unwrap() - 4.0, 100.0).unwrap().length(), 4);
    assert_eq!(h.bytes(0.0, 100.0).unwrap().length(), 0);
    // calloc zeroes a reused block.
    h.free_block(p.into()).unwrap();
    let q = h.calloc(4.0, 4.0).unwrap();
    assert_eq!(q, p);
    assert_eq!(h.bytes(q, 16.0).unwrap().to_vec(), vec![0u8; 16]);
    let packed = h.blocks_packed().unwrap().to_vec();
    assert_eq!(
        packed,
        vec![h.heap_start().unwrap() as u32, 24, 16, 8 | 1 << 31]
    );
}

#[wasm_bindgen_test]
fn realloc_keeps_requested_sizes_and_data() {
    let h = heap("{}");
    let a = h.malloc(10.0).unwrap();
    let _b = h.malloc(10.0).unwrap();
    let a2 = h.realloc(a, 4.0).unwrap(); // in place
    assert_eq!(a2, a);
    assert_eq!(blocks(&h)[0].3, 4);
    let a3 = h.realloc(a2, 100.0).unwrap(); // moves to the top
    assert_ne!(a3, a2);
    let bl = blocks(&h);
    assert_eq!(
        bl.iter().filter(|b| b.2).map(|b| b.3).collect::<Vec<_>>(),
        vec![10, 100]
    );
    assert!(h.usable_size(a3).unwrap() >= 100.0);
    assert!(
        h.realloc(0.0, 8.0).unwrap() > 0.0,
        "realloc(0, n) is malloc"
    );
    h.free_block(0.0.into()).unwrap(); // free(0) does nothing
    h.check().unwrap();
}

// ---- every error path ----------------------------------------------------------------------

#[wasm_bindgen_test]
fn a_double_free_throws_and_the_heap_goes_on() {
    let h = heap("{}");
    let a = h.malloc(40.0).unwrap();
    let _keep = h.malloc(8.0).unwrap();
    h.free_block(a.into()).unwrap();
    assert_eq!(
        err(h.free_block(a.into())),
        HeapError::DoubleFree { addr: a as usize }.to_string()
    );
    assert_eq!(
        err(h.realloc(a, 8.0)),
        HeapError::DoubleFree { addr: a as usize }.to_string()
    );
    assert_eq!(
        err(h.usable_size(a)),
        HeapError::DoubleFree { addr: a as usize }.to_string()
    );
    still_usable(&h);
}

#[wasm_bindgen_test]
fn foreign_and_interior_pointers_throw() {
    let h = heap("{}");
    let start = h.heap_start().unwrap();
    let a = h.malloc(64.0).unwrap();
    let _keep = h.malloc(8.0).unwrap();
    for bad in [
        8.0,
        12345.0,
        start - 8.0,
        start + 1.0,
        h.brk().unwrap() + 64.0,
        4294967288.0,
    ] {
        assert_eq!(
            err(h.free_block(bad.into())),
            HeapError::Foreign { addr: bad as usize }.to_string(),
            "free({bad})"
        );
        h.check().unwrap();
    }
    let inside = a + 16.0;
    assert_eq!(
        err(h.free_block(inside.into())),
        HeapError::Interior {
            addr: inside as usize
        }
        .to_string()
    );
    assert_eq!(
        err(h.realloc(inside, 8.0)),
        HeapError::Interior {
            addr: inside as usize
        }
        .to_string()
    );
    still_usable(&h);
    // The block survived every bad call.
    h.free_block(a.into()).unwrap();
    h.check().unwrap();
}

#[wasm_bindgen_test]
fn bad_alignments_and_overflowing_sizes_throw() {
    let h = heap("{}");
    for al in [0.0, 3.0, 24.0, 131072.0] {
        assert_eq!(
            err(h.memalign(al, 8.0)),
            HeapError::BadAlignment { align: al as usize }.to_string()
        );
    }
    assert_eq!(
        err(h.calloc(65536.0, 65537.0)),
        HeapError::SizeOverflow.to_string()
    );
    assert_eq!(
        err(h.calloc(2147483648.0, 2.0)),
        HeapError::SizeOverflow.to_string()
    );
    assert_eq!(
        err(h.malloc(4294967295.0)),
        HeapError::SizeOverflow.to_string()
    );
    let p = h.memalign(4096.0, 10.0).unwrap();
    assert_eq!(p % 4096.0, 0.0);
    still_usable(&h);
}

#[wasm_bindgen_test]
fn bad_numbers_throw_errors_not_traps() {
    let h = heap("{}");
    let cases: [(f64, &str); 6] = [
        (f64::NAN, "must be a number"),
        (-1.0, "must not be negative"),
        (1.5, "must be a whole number"),
        (f64::INFINITY, "must be a whole number"),
        (4294967296.0, "too large"),
        (1e300, "too large"),
    ];
    for (v, want) in cases {
        let m = err(h.malloc(v));
        assert!(
            m.starts_with("malloc: size") && m.contains(want),
            "malloc({v}): {m}"
        );
        assert!(err(h.realloc(v, 8.0)).contains(want));
        assert!(err(h.realloc(0.0, v)).contains(want));
        assert!(err(h.calloc(v, 1.0)).contains(want));
        assert!(err(h.memalign(8.0, v)).contains(want));
        assert!(err(h.usable_size(v)).contains(want));
        assert!(err(h.bytes(v, 1.0)).contains(want));
        assert!(err(h.free_block(v.into())).contains(want));
    }
    for v in [
        JsValue::NULL,
        JsValue::from_str("0x10008"),
        JsValue::TRUE,
        Array::new().into(),
    ] {
        assert!(err(h.free_block(v)).starts_with("free: the address must be a number"));
    }
    still_usable(&h);
}

#[wasm_bindgen_test]
fn a_full_fixed_heap_throws_out_of_memory() {
    let h = heap("{\"heapSize\": 4096}");
    let start = h.heap_start().unwrap();
    assert_eq!(h.brk().unwrap(), start + 4096.0);
    assert_eq!(blocks(&h), vec![(0, 4096, false, 0)]);
    assert_eq!(
        err(h.malloc(5000.0)),
        HeapError::OutOfMemory { requested: 5000 }.to_string()
    );
    let mut n = 0;
    while h.malloc(1000.0).is_ok() {
        n += 1;
    }
    assert_eq!(n, 4);
    assert!(err(h.malloc(1000.0)).starts_with("out of memory"));
    assert_eq!(h.brk().unwrap(), start + 4096.0, "a fixed heap never grows");
    h.check().unwrap();
    let small = h.malloc(16.0).unwrap();
    h.free_block(small.into()).unwrap();
    h.check().unwrap();
}

#[wasm_bindgen_test]
fn malformed_options_throw_and_keep_the_live_heap() {
    let h = heap("{}");
    let p = h.malloc(24.0).unwrap();
    let cases: [(JsValue, &str); 16] = [
        (opts("{\"policy\": \"nope\"}"), "unknown policy"),
        (opts("{\"policy\": 7}"), "option 'policy' must be"),
        (opts("{\"order\": \"sideways\"}"), "unknown order"),
        (
            opts("{\"coalesce\": \"maybe\"}"),
            "option 'coalesce' must be",
        ),
        (
            opts("{\"header\": 2}"),
            "the header must be at least 4 bytes",
        ),
        (
            opts("{\"header\": 1000}"),
            "the header must be at most 256 bytes",
        ),
        (
            opts("{\"align\": 3}"),
            "the alignment must be a power of two",
        ),
        (opts("{\"align\": -8}"), "must not be negative"),
        (
            opts("{\"header\": \"8\"}"),
            "option 'header' must be a number",
        ),
        (
            opts("{\"heapSize\": 0}"),
            "the heap size must be between 1 byte and 1 GiB",
        ),
        (
            opts("{\"heapSize\": 2147483648}"),
            "the heap size must be between 1 byte and 1 GiB",
        ),
        (opts("{\"heapSize\": 1.5}"), "must be a whole number"),
        (opts("{\"polcy\": \"first\"}"), "unknown option 'polcy'"),
        (JsValue::from_f64(42.0), "the options must be an object"),
        (JsValue::from_str("first"), "the options must be an object"),
        (Array::new().into(), "the options must be an object"),
    ];
    for (o, want) in cases {
        let m = err(JsHeap::new(o));
        assert!(
            m.starts_with("new Heap: ") && m.contains(want),
            "{want}: {m}"
        );
    }
    // The heap made before is still the live one, intact.
    assert_eq!(h.usable_size(p).unwrap(), 24.0);
    still_usable(&h);
    // Undefined and null options (and undefined values) mean the defaults.
    for o in [
        JsValue::UNDEFINED,
        JsValue::NULL,
        opts("{\"heapSize\": null}"),
    ] {
        let h = JsHeap::new(o).unwrap();
        still_usable(&h);
    }
    let h = heap("{\"coalesce\": \"off\", \"order\": \"size-desc\", \"policy\": \"worst\"}");
    still_usable(&h);
}

// ---- run() and replay() --------------------------------------------------------------------

fn run(h: &JsHeap, stmt: &str) -> (String, Option<f64>, Option<String>) {
    let r = h.run(JsValue::from_str(stmt));
    (
        get(&r, "text").as_string().unwrap(),
        get(&r, "addr").as_f64(),
        get(&r, "error").as_string(),
    )
}

fn run_ok(h: &JsHeap, stmt: &str) -> Option<f64> {
    let (text, addr, error) = run(h, stmt);
    assert!(error.is_none(), "{stmt}: {error:?}");
    assert!(
        text.starts_with(stmt.trim_end_matches(';')),
        "{stmt} -> {text}"
    );
    addr
}

fn run_err(h: &JsHeap, stmt: &str) -> String {
    let before = blocks(h);
    let (_, addr, error) = run(h, stmt);
    assert_eq!(addr, None);
    assert_eq!(
        blocks(h),
        before,
        "{stmt}: a failed statement changed the heap"
    );
    let e = error.unwrap_or_else(|| panic!("{stmt}: expected an error"));
    // The heap and the console go on.
    still_usable(h);
    assert!(run_ok(h, "ok_after_error = malloc(8)").is_some());
    assert!(run_ok(h, "free(ok_after_error)").is_none());
    e
}

#[wasm_bindgen_test]
fn run_executes_statements_with_variables() {
    let h = heap("{}");
    let start = h.heap_start().unwrap();
    assert_eq!(run_ok(&h, "p = malloc(24)"), Some(start + 8.0));
    let (text, _, _) = run(&h, "q = malloc(40);");
    assert_eq!(text, format!("q = malloc(40) = {:#x}", start as usize + 40));
    assert_eq!(run_ok(&h, "free(p)"), None);
    assert_eq!(run_ok(&h, "r = calloc(2, 8)"), Some(start + 8.0));
    assert_eq!(run_ok(&h, "s = memalign(64, 8)"), Some(start + 128.0));
    // An in-place realloc: the requested size follows.
    let q = run_ok(&h, "q = realloc(q, 20)").unwrap();
    assert_eq!(q, start + 40.0);
    let bl = blocks(&h);
    let qb = bl.iter().find(|b| b.0 == 32).unwrap();
    assert_eq!((qb.2, qb.3), (true, 20));
    h.check().unwrap();
    // Statements and direct calls share the heap.
    let x = h.malloc(8.0).unwrap();
    h.free_block(x.into()).unwrap();
    h.check().unwrap();
}

#[wasm_bindgen_test]
fn bad_statements_return_errors_and_change_nothing() {
    let h = heap("{}");
    run_ok(&h, "p = malloc(24)");
    run_ok(&h, "free(p)");
    let e = run_err(&h, "free(p)");
    assert!(
        e.ends_with(
            &HeapError::DoubleFree {
                addr: h.heap_start().unwrap() as usize + 8
            }
            .to_string()
        ),
        "{e}"
    );
    for (stmt, want) in [
        ("", "nothing to run"),
        ("   ", "nothing to run"),
        ("p = malloc(", ""),
        ("malloc(8)", ""),
        ("free(nobody)", "nobody was never allocated"),
        ("p = frobnicate(3)", ""),
        ("p = malloc(-1)", ""),
        ("p = malloc(99999999999)", ""),
        ("p = memalign(3, 8)", "power of two"),
        ("p = calloc(65536, 65537)", ""),
        ("a = malloc(1); b = malloc(2)", "one statement at a time"),
        ("p = malloc(8) garbage", ""),
        ("p = realloc(nobody, 8)", "never allocated"),
    ] {
        let e = run_err(&h, stmt);
        assert!(e.contains(want), "{stmt:?}: {e}");
    }
    // Not a string, or far too long.
    for v in [
        JsValue::from_f64(42.0),
        JsValue::NULL,
        JsValue::UNDEFINED,
        Array::new().into(),
    ] {
        let r = h.run(v);
        assert!(get(&r, "error")
            .as_string()
            .unwrap()
            .starts_with("run: the statement must be a string"));
    }
    let long = format!("p = malloc({})", "1".repeat(5000));
    assert!(run(&h, &long).2.unwrap().contains("characters long"));
    still_usable(&h);
}

const SMALL_REP: &str =
    "0\r\n3\r\n6\r\n1\r\na 0 24\r\na 1 40\r\nf 0\r\nr 1 100\r\na 2 16\r\nf 2\r\n";

fn replay(h: &JsHeap, text: &str) -> JsValue {
    h.replay(JsValue::from_str(text)).into()
}

#[wasm_bindgen_test]
fn replay_of_a_small_rep_file() {
    let h = heap("{\"policy\": \"first\"}");
    run_ok(&h, "junk = malloc(1000)"); // replay starts from an empty heap
    let r = replay(&h, SMALL_REP);
    assert!(get(&r, "error").is_null(), "{:?}", get(&r, "error"));
    assert_eq!(get_f(&r, "ops"), 6.0);
    assert_eq!(Array::from(&get(&r, "integrity_errors")).length(), 0);
    assert_eq!(get_f(&r, "alloc_failures"), 0.0);
    assert_eq!(get(&r, "format").as_string().unwrap(), "rep");
    // a0: 32 at 0; a1: 48 at 32; f0; r1 grows in place at the top to 112 (brk 144);
    // a2 takes the whole 32-byte hole (an 8-byte rest cannot be a block); f2.
    assert_eq!(get_f(&r, "peak_live_bytes"), 116.0);
    assert_eq!(get_f(&r, "peak_heap_bytes"), 144.0);
    assert_eq!(get_f(&r, "heap_bytes"), 144.0);
    assert_eq!(get_f(&r, "utilization"), 116.0 / 144.0);
    assert_eq!(blocks(&h), vec![(0, 32, false, 0), (32, 112, true, 100)]);
    assert_eq!(get_f(&h.stats().unwrap(), "live_bytes"), 100.0);
    h.check().unwrap();
    // The console starts afresh (the trace's ids are not variables), on the same heap.
    assert!(run(&h, "free(junk)").2.unwrap().contains("never allocated"));
    still_usable(&h);
    // The same trace again gives the same numbers and layout.
    let r2 = replay(&h, SMALL_REP);
    assert_eq!(JSON::stringify(&r2).unwrap(), JSON::stringify(&r).unwrap());
    assert_eq!(blocks(&h), vec![(0, 32, false, 0), (32, 112, true, 100)]);
}

#[wasm_bindgen_test]
fn replay_of_a_script() {
    let h = heap("{}");
    let r = replay(
        &h,
        "a = malloc(24)\nb = malloc(40) // comment\nfree(a)\nc = realloc(b, 200);\nfree(c)\n",
    );
    assert!(get(&r, "error").is_null());
    assert_eq!(get(&r, "format").as_string().unwrap(), "script");
    assert_eq!(get_f(&r, "ops"), 5.0);
    assert_eq!(Array::from(&get(&r, "integrity_errors")).length(), 0);
    assert_eq!(blocks(&h).iter().filter(|b| b.2).count(), 0);
    h.check().unwrap();
}

#[wasm_bindgen_test]
fn bad_traces_return_errors_and_leave_the_heap() {
    let h = heap("{}");
    let p = h.malloc(24.0).unwrap();
    let before = blocks(&h);
    let cases: [(&str, &str); 6] = [
        ("0\n3\n6\n", "line"),
        ("0\n1\n2\n1\na 0 8\nx 0\n", "line 6: unknown op"),
        ("0\n1\n1\n1\nf 0\n", "never allocated"),
        ("p = malloc(8)\nfree(q)\n", "line 2"),
        // Headers that would make the parser reserve far too much: refused up front.
        ("0\n1\n10000000\n1\na 0 8\n", "too large for the playground"),
        (
            "0\n1000000\n2\n1\na 999999 8\nf 999999\n",
            "too large for the playground",
        ),
    ];
    for (text, want) in cases {
        let r = replay(&h, text);
        let e = get(&r, "error")
            .as_string()
            .unwrap_or_else(|| panic!("{text:?}: expected an error"));
        assert!(e.contains(want), "{text:?}: {e}");
        assert_eq!(blocks(&h), before, "{text:?} changed the heap");
    }
    for v in [JsValue::from_f64(1.0), JsValue::NULL, Object::new().into()] {
        let r = h.replay(v);
        assert!(get(&r, "error")
            .as_string()
            .unwrap()
            .starts_with("replay: the trace must be a string"));
    }
    assert_eq!(h.usable_size(p).unwrap(), 24.0);
    still_usable(&h);
}

/// A .rep text of `n` ids, each allocated, some reallocated, all freed, with sizes that mix.
fn synthetic_rep(n: u32) -> String {
    let mut body = String::new();
    let mut ops = 0;
    for i in 0..n {
        body.push_str(&format!("a {i} {}\n", 1 + (i * 7919) % 700));
        ops += 1;
        if i % 3 == 0 {
            body.push_str(&format!("r {i} {}\n", 1 + (i * 104729) % 1500));
            ops += 1;
        }
        if i >= 50 && i % 2 == 0 {
            body.push_str(&format!("f {}\n", i - 50));
            ops += 1;
        }
    }
    for i in 0..n {
        if !(i + 50 < n && i % 2 == 0) {
            body.push_str(&format!("f {i}\n"));
            ops += 1;
        }
    }
    format!("0\n{n}\n{ops}\n1\n{body}")
}

#[wasm_bindgen_test]
fn replay_of_a_larger_trace_stays_inside_the_module_arena() {
    let h = heap("{\"policy\": \"tlsf\"}");
    let mem = h.memory_bytes();
    let text = synthetic_rep(40_000);
    let r = replay(&h, &text);
    assert!(get(&r, "error").is_null(), "{:?}", get(&r, "error"));
    assert_eq!(
        Array::from(&get(&r, "integrity_errors")).length(),
        0,
        "{:?}",
        JSON::stringify(&get(&r, "integrity_errors"))
    );
    assert!(get_f(&r, "ops") > 80_000.0);
    assert_eq!(
        blocks(&h).iter().filter(|b| b.2).count(),
        0,
        "the trace frees everything"
    );
    // The events went unread: they are bounded, and the count of dropped ones comes first.
    let ev = h.events().unwrap();
    assert!(ev.length() <= 1 << 17 | 1);
    assert_eq!(get(&ev.get(0), "kind").as_string().unwrap(), "dropped");
    let mm = heaptale_wasm::module_memory();
    assert!(get_f(&mm, "arena_used") < get_f(&mm, "arena_end") - get_f(&mm, "arena_start"));
    assert!(h.memory_bytes() >= mem);
    still_usable(&h);
}

// ---- the timeline: load, seek, time travel -------------------------------------------------

/// Everything that tells one heap state from another: the break, the blocks and every byte
/// from the heap's start to the break (hashed: the tests keep hundreds of states).
type State = (f64, Vec<(u32, u32, bool, u32)>, u64);

fn state(h: &JsHeap) -> State {
    let start = h.heap_start().unwrap();
    let brk = h.brk().unwrap();
    let bytes = h.bytes(start, brk - start).unwrap().to_vec();
    let hash = bytes.iter().fold(0xcbf29ce484222325u64, |a, &b| {
        (a ^ b as u64).wrapping_mul(0x100000001b3)
    });
    (brk - start, blocks(h), hash)
}

fn load(h: &JsHeap, text: &str) -> JsValue {
    let r: JsValue = h.load(JsValue::from_str(text), JsValue::UNDEFINED).into();
    assert!(get(&r, "error").is_null(), "load: {:?}", get(&r, "error"));
    r
}

/// A script of `n` statements that mixes sizes, frees, reallocs and callocs (and grows the
/// heap past several pages).
fn synthetic_script(n: usize) -> String {
    let mut s = String::from("# synthetic\n");
    let mut live: Vec<usize> = Vec::new();
    let mut x: u64 = 12345;
    let mut next = 0;
    for _ in 0..n {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let r = (x >> 33) as usize;
        if live.len() > 3 && r.is_multiple_of(3) {
            let v = live.swap_remove(r % live.len());
            s.push_str(&format!("free(v{v})\n"));
        } else if !live.is_empty() && r % 7 == 1 {
            let v = live[r % live.len()];
            s.push_str(&format!("v{v} = realloc(v{v}, {})\n", 1 + r % 3000));
        } else if r % 11 == 2 {
            s.push_str(&format!("v{next} = calloc({}, 8)\n", 1 + r % 50));
            live.push(next);
            next += 1;
        } else {
            s.push_str(&format!("v{next} = malloc({})\n", 1 + (r % 5) * (r % 977)));
            live.push(next);
            next += 1;
        }
    }
    s
}

/// Under the heaptale policy, whether the quick lists merge before the heap grows depends on
/// the pages the heap's own growth committed, which the snapshots keep: stepping back and
/// forth gives the blocks, free lists and events of the first run, though memory has grown.
#[wasm_bindgen_test]
fn heaptale_quick_lists_merge_alike_when_a_step_runs_again() {
    let h = heap("{\"policy\": \"heaptale\"}");
    let script = "a = malloc(40)\nb = malloc(40)\nc = malloc(100)\nbig = malloc(2000)\nfree(a)\nfree(c)\nfree(b)\nd = malloc(40)\nfree(big)\ne = malloc(200)\nf = malloc(70000)\n";
    load(&h, script);
    let first = state(&h);
    let lists = h.free_lists_packed().unwrap().to_vec();
    // The last step merged the quick lists before growing (no quick list is left).
    assert!(
        lists
            .chunks(3)
            .all(|e| e[0] < 0x8000_0000 || e[0] == u32::MAX),
        "{lists:?}"
    );
    h.seek(0.0).unwrap();
    h.seek(11.0).unwrap();
    assert_eq!(state(&h), first);
    assert_eq!(h.free_lists_packed().unwrap().to_vec(), lists);
    h.seek(10.0).unwrap();
    let before_last = h.free_lists_packed().unwrap().to_vec();
    assert!(
        before_last
            .chunks(3)
            .any(|e| (0x8000_0000..u32::MAX).contains(&e[0])),
        "before the last step a quick list holds a block: {before_last:?}"
    );
    h.check().unwrap();
}

#[wasm_bindgen_test]
fn seek_returns_the_heap_to_the_exact_state_of_every_step() {
    for policy in ["first", "next", "best", "tlsf", "heaptale", "buddy"] {
        let h = heap(&format!("{{\"policy\": \"{policy}\"}}"));
        let script = synthetic_script(700);
        // The state after each step, from the first run of the steps (one load per prefix
        // would be slow: the load's own forward run, read step by step with seek(pos + 1),
        // is checked against independent loads of prefixes below).
        let r = load(&h, &script);
        let n = get_f(&r, "steps") as u32;
        assert_eq!(n, 700);
        let mut forward = Vec::new();
        h.seek(0.0).unwrap();
        forward.push(state(&h));
        for i in 1..=n {
            h.seek(i as f64).unwrap();
            forward.push(state(&h));
        }
        // Prefix loads agree with the forward states.
        let lines: Vec<&str> = script.lines().collect();
        for &k in &[1usize, 129, 350, 700] {
            let prefix = lines[..=k].join("\n");
            load(&h, &prefix);
            assert_eq!(state(&h), forward[k], "{policy}: a load of {k} steps");
        }
        // Back and forth, in a scrambled order, from one load.
        load(&h, &script);
        let mem = h.memory_bytes();
        let mut x = 7u32;
        for _ in 0..120 {
            x = x.wrapping_mul(1103515245).wrapping_add(12345);
            let k = (x >> 8) % (n + 1);
            let info = h.seek(k as f64).unwrap();
            assert_eq!(get_f(&info, "step"), k as f64);
            assert_eq!(h.position().unwrap(), k as f64);
            assert_eq!(state(&h), forward[k as usize], "{policy}: after seek({k})");
            h.check().unwrap();
            assert_eq!(h.memory_bytes(), mem, "seek never grows memory");
        }
        // From the middle, the heap goes on with new steps (the future is forgotten).
        h.seek(300.0).unwrap();
        assert!(run_ok(&h, "extra = malloc(40)").is_some());
        assert_eq!(h.step_count().unwrap(), 301.0);
        h.check().unwrap();
        h.seek(300.0).unwrap();
        assert_eq!(state(&h), forward[300]);
    }
}

#[wasm_bindgen_test]
fn stepping_back_past_memory_grow_leaves_the_break_below_memory_size() {
    let h = heap("{\"policy\": \"first\"}");
    let start = h.heap_start().unwrap();
    load(
        &h,
        "a = malloc(100)\nb = malloc(200000)\nc = malloc(300000)\n",
    );
    let mem = h.memory_bytes();
    assert!(h.brk().unwrap() > start + 500_000.0);
    let info = h.seek(1.0).unwrap();
    assert_eq!(get(&info, "text").as_string().unwrap(), "a = malloc(100)");
    assert_eq!(h.brk().unwrap(), start + 112.0, "the break went back");
    assert_eq!(
        h.memory_bytes(),
        mem,
        "memory.size stays: memory never shrinks"
    );
    // The bytes above the break are zero again, as they were the first time.
    let view = Uint8Array::new(
        &heaptale_wasm::wasm_memory()
            .dyn_into::<WebAssembly::Memory>()
            .unwrap()
            .buffer(),
    );
    let above = view
        .subarray(start as u32 + 112, start as u32 + 600_000)
        .to_vec();
    assert!(above.iter().all(|&b| b == 0));
    // Step 2's events: the grow with its pages.
    let info = h.seek(2.0).unwrap();
    assert!(get(&info, "addr").as_f64().unwrap() > start);
    let ev = h.events().unwrap();
    assert_eq!(kinds(&ev), ["grow", "alloc"]);
    let grow = ev.get(0);
    assert_eq!(get_f(&grow, "old_brk"), start + 112.0);
    // Run again, the step finds its pages already there; the first run's growth is kept.
    assert_eq!(get_f(&grow, "pages"), 0.0);
    assert!(get_f(&info, "grewPages") >= 3.0);
    assert_eq!(h.memory_bytes(), mem);
    h.seek(0.0).unwrap();
    assert_eq!(h.brk().unwrap(), start);
    assert_eq!(blocks(&h), vec![]);
}

#[wasm_bindgen_test]
fn a_script_with_errors_loads_and_each_error_names_its_line() {
    let h = heap("{}");
    let r = load(&h, "p = malloc(24)\n\n# comment\nfree(q)\nq = malloc(8); free(p)\nfree(p)\np = malloc(\nr = malloc(16)\n");
    assert_eq!(get_f(&r, "steps"), 7.0);
    assert_eq!(get_f(&r, "failed"), 3.0);
    let f = h.failures(10.0).unwrap();
    let got: Vec<(f64, f64)> = f
        .iter()
        .map(|e| (get_f(&e, "step"), get_f(&e, "line")))
        .collect();
    assert_eq!(got, vec![(2.0, 4.0), (5.0, 6.0), (6.0, 7.0)]);
    assert!(get(&f.get(0), "error")
        .as_string()
        .unwrap()
        .contains("q was never allocated"));
    assert!(get(&f.get(1), "error")
        .as_string()
        .unwrap()
        .contains("double free"));
    // The steps after the errors ran.
    assert_eq!(blocks(&h).iter().filter(|b| b.2).count(), 2);
    let last = h.step_info(7.0).unwrap();
    assert_eq!(get_f(&last, "line"), 8.0);
    assert_eq!(get(&last, "text").as_string().unwrap(), "r = malloc(16)");
    assert!(get(&last, "addr").as_f64().is_some());
    // A .rep file that cannot be read is refused as a whole, and nothing changes.
    let before = state(&h);
    let bad: JsValue = h
        .load(
            JsValue::from_str("0\n1\n2\n1\na 0 8\nx 0\n"),
            JsValue::UNDEFINED,
        )
        .into();
    assert!(get(&bad, "error").as_string().unwrap().contains("line 6"));
    assert_eq!(state(&h), before);
    assert_eq!(h.step_count().unwrap(), 7.0);
}

#[wasm_bindgen_test]
fn calls_and_statements_are_steps_too() {
    let h = heap("{}");
    let a = h.malloc(24.0).unwrap();
    let s0 = state(&h);
    run_ok(&h, "x = malloc(100)");
    h.free_block(a.into()).unwrap();
    let _ = err(h.free_block(a.into())); // a failed step
    assert_eq!(h.step_count().unwrap(), 4.0);
    let end = state(&h);
    let info = h.seek(1.0).unwrap();
    assert_eq!(get(&info, "text").as_string().unwrap(), "malloc(24)");
    assert_eq!(state(&h), s0);
    let info = h.step_info(4.0).unwrap();
    assert!(get(&info, "error")
        .as_string()
        .unwrap()
        .contains("double free"));
    h.seek(4.0).unwrap();
    assert_eq!(state(&h), end);
    assert_eq!(kinds(&h.events().unwrap()), ["error"]);
}

#[wasm_bindgen_test]
fn a_large_trace_can_be_stepped_anywhere() {
    let h = heap("{\"policy\": \"tlsf\"}");
    let text = synthetic_rep(20_000);
    let r = load(&h, &text);
    let n = get_f(&r, "steps");
    assert!(n > 40_000.0);
    assert_eq!(get(&r, "format").as_string().unwrap(), "rep");
    // Forward states at a few steps, read by stepping forward from them.
    let picks = [0.0, 1.0, 999.0, 17_001.0, 30_000.0, n];
    let mut want = Vec::new();
    for &k in &picks {
        h.seek(k).unwrap();
        want.push(state(&h));
    }
    for (i, &k) in picks.iter().enumerate().rev() {
        h.seek(k).unwrap();
        assert_eq!(state(&h), want[i], "seek({k})");
    }
    let t = h.timeline().unwrap();
    assert!(get_f(&t, "snapshots") >= 2.0);
    let s = h.series().unwrap().to_vec();
    assert_eq!(s.len() % 10, 0);
    assert!(s.len() / 10 > 100, "samples over the steps");
    assert_eq!(s[s.len() - 10], n, "the last sample is the last step");
    let text_info = h.step_info(1.0).unwrap();
    assert_eq!(
        get(&text_info, "text").as_string().unwrap(),
        "#0 = malloc(1)"
    );
    assert!(err(h.seek(n + 1.0)).contains("no step"));
    still_usable(&h);
}

#[wasm_bindgen_test]
fn a_load_can_stop_early_and_run_in_parts() {
    let h = heap("{\"policy\": \"best\"}");
    let text = synthetic_rep(3_000);
    let full = load(&h, &text);
    let n = get_f(&full, "steps");
    let end = state(&h);
    h.seek(1000.0).unwrap();
    let at_1000 = state(&h);
    // A limit keeps the first steps only.
    let r: JsValue = h
        .load(JsValue::from_str(&text), JsValue::from_f64(1000.0))
        .into();
    assert_eq!(get_f(&r, "steps"), 1000.0);
    assert_eq!(state(&h), at_1000);
    // In parts: nothing runs until loadContinue, and seek waits for the end.
    let r: JsValue = h
        .load_start(JsValue::from_str(&text), JsValue::UNDEFINED)
        .into();
    assert_eq!(get_f(&r, "steps"), n);
    assert!(err(h.seek(1.0)).contains("still loading"));
    assert!(run(&h, "x = malloc(1)")
        .2
        .unwrap()
        .contains("still loading"));
    let mut parts = 0;
    loop {
        let p = h.load_continue(2_500.0).unwrap();
        parts += 1;
        if get_f(&p, "done") == n {
            break;
        }
    }
    assert!(parts >= 2);
    assert_eq!(state(&h), end);
    h.seek(1000.0).unwrap();
    assert_eq!(state(&h), at_1000);
}

// ---- a base: addresses reported from it ----------------------------------------------------

/// The base of these tests (OSTEP's `-b 0x1000`).
const BASE: f64 = 4096.0;

/// The events of the step shown, their addresses made offsets from `start`.
fn relative_events(h: &JsHeap, start: f64) -> Vec<String> {
    let keys = [
        "kind",
        "block",
        "rest",
        "absorbed",
        "old_brk",
        "new_brk",
        "old",
        "new",
        "size",
        "rest_size",
        "request",
        "probes",
        "pages",
        "message",
    ];
    let addr_keys = [
        "block", "rest", "absorbed", "old_brk", "new_brk", "old", "new",
    ];
    h.events()
        .unwrap()
        .iter()
        .map(|e| {
            let mut s = String::new();
            for k in keys {
                let v = get(&e, k);
                if v.is_undefined() {
                    continue;
                }
                let shown = match v.as_f64() {
                    Some(x) if addr_keys.contains(&k) => format!("{}", x - start),
                    Some(x) => format!("{x}"),
                    None => v.as_string().unwrap_or_else(|| format!("{v:?}")),
                };
                s.push_str(&format!("{k}={shown} "));
            }
            s
        })
        .collect()
}

#[wasm_bindgen_test]
fn a_base_shifts_every_address_by_base_minus_the_real_start() {
    let script = synthetic_script(300);
    // The script without a base (this heap goes when the next is made: one per instance).
    let (real_start, real_addrs, real_packed, real_free, real_state, real_events, real_memory) = {
        let h = heap("{\"policy\": \"first\"}");
        let start = h.heap_start().unwrap();
        assert_eq!(
            h.real_start().unwrap(),
            start,
            "no base: reports give real addresses"
        );
        assert_eq!(h.memory_end().unwrap(), h.memory_bytes());
        load(&h, &script);
        let n = h.step_count().unwrap() as u32;
        let addrs: Vec<Option<f64>> = (1..=n)
            .map(|i| get(&h.step_info(i as f64).unwrap(), "addr").as_f64())
            .collect();
        let packed = h.blocks_packed().unwrap().to_vec();
        let free = h.free_lists_packed().unwrap().to_vec();
        let st = state(&h);
        h.seek(40.0).unwrap();
        let ev = relative_events(&h, start);
        h.seek(n as f64).unwrap();
        (start, addrs, packed, free, st, ev, h.memory_bytes())
    };
    // The same script from base 0x1000: the same pages, the same layout and bytes, every
    // address shifted by exactly base - real start.
    let h = heap("{\"policy\": \"first\", \"base\": 4096}");
    let shift = BASE - real_start;
    assert_eq!(h.heap_start().unwrap(), BASE);
    assert_eq!(
        h.real_start().unwrap(),
        real_start,
        "the bytes stay where they are"
    );
    load(&h, &script);
    assert_eq!(h.memory_bytes(), real_memory);
    assert_eq!(h.memory_end().unwrap(), real_memory + shift);
    let n = h.step_count().unwrap() as u32;
    let addrs: Vec<Option<f64>> = (1..=n)
        .map(|i| get(&h.step_info(i as f64).unwrap(), "addr").as_f64())
        .collect();
    assert_eq!(
        addrs,
        real_addrs
            .iter()
            .map(|a| a.map(|a| a + shift))
            .collect::<Vec<_>>()
    );
    assert!(addrs
        .iter()
        .flatten()
        .all(|&a| a > BASE && a < BASE + (1 << 20) as f64));
    let packed = h.blocks_packed().unwrap().to_vec();
    let want: Vec<u32> = real_packed
        .iter()
        .enumerate()
        .map(|(i, &w)| {
            if i % 4 == 0 {
                (w as f64 + shift) as u32
            } else {
                w
            }
        })
        .collect();
    assert_eq!(packed, want, "blocksPacked");
    let free = h.free_lists_packed().unwrap().to_vec();
    let want: Vec<u32> = real_free
        .iter()
        .enumerate()
        .map(|(i, &w)| {
            if i % 3 == 1 {
                (w as f64 + shift) as u32
            } else {
                w
            }
        })
        .collect();
    assert_eq!(free, want, "freeListsPacked");
    assert_eq!(
        state(&h),
        real_state,
        "the same break, blocks and bytes from the heap's start"
    );
    assert_eq!(h.brk().unwrap(), BASE + real_state.0);
    h.seek(40.0).unwrap();
    assert_eq!(
        relative_events(&h, BASE),
        real_events,
        "the events of step 40"
    );
    h.seek(n as f64).unwrap();
    h.check().unwrap();

    // Calls take and give addresses from the base; bytes() reads the real memory under them.
    let p = h.malloc(100.0).unwrap();
    assert!(p > BASE && p < h.brk().unwrap(), "{p}");
    let mem: WebAssembly::Memory = heaptale_wasm::wasm_memory().dyn_into().unwrap();
    let view = Uint8Array::new(&mem.buffer());
    for i in 0..16u32 {
        view.set_index((p - shift) as u32 + i, 0xB0 + i as u8);
    }
    let pattern: Vec<u8> = (0..16).map(|i| 0xB0 + i as u8).collect();
    assert_eq!(h.bytes(p, 16.0).unwrap().to_vec(), pattern);
    let q = h.realloc(p, 70000.0).unwrap();
    assert!(q > BASE && q < h.brk().unwrap(), "{q}");
    assert_eq!(
        h.bytes(q, 16.0).unwrap().to_vec(),
        pattern,
        "realloc kept the data"
    );
    assert!(h.usable_size(q).unwrap() >= 70000.0);
    h.free_block(q.into()).unwrap();
    assert_eq!(
        err(h.free_block(q.into())),
        HeapError::DoubleFree { addr: q as usize }.to_string()
    );
    // A real address means nothing to it.
    let c = h.calloc(4.0, 8.0).unwrap();
    assert!(err(h.free_block((c - shift).into())).contains(&format!("{:#x}", (c - shift) as u32)));
    h.free_block(c.into()).unwrap();
    // Statements too.
    let x = run_ok(&h, "x = malloc(24)").unwrap();
    assert!(x > BASE && x < h.brk().unwrap());
    let (text, x2, _) = run(&h, "x = realloc(x, 3000)");
    let x2 = x2.unwrap();
    assert!(x2 > BASE && x2 < h.brk().unwrap(), "{x2}");
    assert_eq!(text, format!("x = realloc(x, 3000) = {:#x}", x2 as u32));
    assert!(run_ok(&h, "free(x)").is_none());
    let e = run(&h, "free(x)").2.unwrap();
    assert!(
        e.contains("double free") && e.contains(&format!("{:#x}", x2 as u32)),
        "{e}"
    );
    still_usable(&h);

    // A replay from the base reports what it reports without one, and lays the heap out
    // the same way.
    let r = replay(&h, SMALL_REP);
    assert!(get(&r, "error").is_null());
    assert_eq!(get_f(&r, "peak_heap_bytes"), 144.0);
    assert_eq!(get_f(&r, "heap_bytes"), 144.0);
    assert_eq!(Array::from(&get(&r, "integrity_errors")).length(), 0);
    assert_eq!(blocks(&h), vec![(0, 32, false, 0), (32, 112, true, 100)]);
    assert_eq!(h.heap_start().unwrap(), BASE);
}

#[wasm_bindgen_test]
fn a_base_is_a_number_or_a_string_and_a_bad_one_is_refused() {
    for (json, start) in [
        ("{\"base\": \"0x1000\"}", 4096.0),
        ("{\"base\": \" 4_096 \"}", 4096.0),
        ("{\"base\": 0}", 0.0),
        ("{\"base\": \"0XBFFFFFFF\"}", 3221225471.0),
        ("{\"base\": null}", -1.0),
    ] {
        let h = heap(json);
        if start >= 0.0 {
            assert_eq!(h.heap_start().unwrap(), start, "{json}");
        } else {
            assert_eq!(h.heap_start().unwrap(), h.real_start().unwrap(), "{json}");
        }
        still_usable(&h);
        let p = h.malloc(8.0).unwrap();
        assert_eq!(p, h.heap_start().unwrap() + 8.0, "{json}");
        h.free_block(p.into()).unwrap();
        h.check().unwrap();
    }
    let h = heap("{\"base\": 4096}");
    let p = h.malloc(24.0).unwrap();
    let cases: [(&str, &str); 8] = [
        ("{\"base\": -1}", "must not be negative"),
        ("{\"base\": 1.5}", "must be a whole number"),
        ("{\"base\": \"zz\"}", "must be an address: a number such as 4096, or a string such as '0x1000', got the string 'zz'"),
        ("{\"base\": \"0x\"}", "must be an address"),
        ("{\"base\": true}", "must be an address"),
        ("{\"base\": 3221225472}", "0xc0000000 is too large: the heap (up to 1 GiB) must fit below 4 GiB, so the base is at most 0xbfffffff"),
        ("{\"base\": \"0x100000000\"}", "is too large"),
        ("{\"base\": 4294967296}", "too large"),
    ];
    for (json, want) in cases {
        let m = err(JsHeap::new(opts(json)));
        assert!(
            m.starts_with("new Heap: ") && m.contains("option 'base'") && m.contains(want),
            "{json}: {m}"
        );
    }
    // The heap made before is still the live one, from its base.
    assert_eq!(h.usable_size(p).unwrap(), 24.0);
    assert_eq!(h.heap_start().unwrap(), 4096.0);
    still_usable(&h);
}

#[wasm_bindgen_test]
fn a_failed_op_of_a_replay_names_its_index_line_and_text() {
    let h = heap("{\"heapSize\": 4096}");
    let r = replay(&h, "0\n2\n3\n1\na 0 100000\na 1 24\nf 1\n");
    assert!(get(&r, "error").is_null());
    assert_eq!(get_f(&r, "alloc_failures"), 1.0);
    let m = get(&r, "first_alloc_failure").as_string().unwrap();
    assert_eq!(m, "op 0 (line 5): #0 = malloc(100000): out of memory: no room for 100000 bytes and the heap cannot grow");
    assert_eq!(
        get(&h.step_info(1.0).unwrap(), "error")
            .as_string()
            .unwrap(),
        "#0 = malloc(100000): out of memory: no room for 100000 bytes and the heap cannot grow"
    );
    assert_eq!(
        get(&h.step_info(2.0).unwrap(), "text").as_string().unwrap(),
        "#1 = malloc(24)"
    );
    assert!(get(&h.step_info(2.0).unwrap(), "error").is_null());
}
