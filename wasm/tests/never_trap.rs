//! Never trap: every exported function of the JS API gets every kind of bad input — wrong
//! types, NaN, infinities, negative, fractional and huge numbers, double frees, foreign and
//! interior pointers at every byte of a block, overwritten headers, out of memory under a
//! fixed heap and with linear memory grown to its 4 GiB maximum, malformed and oversized
//! traces and statements, bad knobs, stale handles — and must answer each with an Error (or
//! an `error` field) with a message, never a trap (a Rust panic here is a wasm trap: the
//! test dies). Then the *same instance* must still allocate exactly as a fresh one does:
//! the layout script of `common/layout.rs` gives its exact offsets, blocks, free list and
//! break.
//!
//! Node only (`wasm-pack test --node wasm --test never_trap`): the second half grows this
//! instance's memory to 65,536 pages (4 GiB of address space, none of it touched).
#![cfg(target_arch = "wasm32")]

use heaptale_wasm::{JsHeap, JsProcess};
use js_sys::{Array, JsString, Object, Reflect, JSON};
use wasm_bindgen::{JsCast, JsError, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

#[path = "common/layout.rs"]
mod layout;

const PAGE: usize = 65536;

fn opts(json: &str) -> JsValue {
    JSON::parse(json).expect("test JSON")
}
fn message(e: JsError) -> String {
    let v = JsValue::from(e);
    let err: js_sys::Error = v.dyn_into().expect("a JS Error object");
    err.message().into()
}
fn get(o: &JsValue, k: &str) -> JsValue {
    Reflect::get(o, &JsValue::from_str(k)).expect("property")
}
fn get_f(o: &JsValue, k: &str) -> f64 {
    get(o, k)
        .as_f64()
        .unwrap_or_else(|| panic!("{k} is not a number"))
}
fn heap(json: &str) -> JsHeap {
    JsHeap::new(opts(json))
        .map_err(message)
        .unwrap_or_else(|e| panic!("new Heap({json}): {e}"))
}

/// Counts the refusals and insists that each one carries a readable message.
#[derive(Default)]
struct Tally {
    refused: usize,
    accepted: usize,
}

impl Tally {
    /// A call that may succeed or fail; a failure must say something.
    fn any<T>(&mut self, what: &str, r: Result<T, JsError>) -> Option<T> {
        match r {
            Ok(v) => {
                self.accepted += 1;
                Some(v)
            }
            Err(e) => {
                let m = message(e);
                assert!(
                    m.len() >= 8 && !m.contains("unreachable") && !m.contains("panicked"),
                    "{what}: {m:?}"
                );
                self.refused += 1;
                None
            }
        }
    }
    /// A call that must fail, with a message containing `want`.
    fn err<T: std::fmt::Debug>(&mut self, what: &str, r: Result<T, JsError>, want: &str) {
        match r {
            Ok(v) => panic!("{what}: expected an Error, got Ok({v:?})"),
            Err(e) => {
                let m = message(e);
                assert!(m.contains(want), "{what}: {m:?} does not say {want:?}");
                self.refused += 1;
            }
        }
    }
    /// `{error}`-style results (run, replay, load): the error, if any, must say something.
    fn field(&mut self, what: &str, o: &JsValue) -> Option<String> {
        let e = get(o, "error");
        if e.is_null() || e.is_undefined() {
            self.accepted += 1;
            return None;
        }
        let m = e
            .as_string()
            .unwrap_or_else(|| panic!("{what}: error is not a string"));
        assert!(m.len() >= 8, "{what}: {m:?}");
        self.refused += 1;
        Some(m)
    }
}

/// Numbers no size, count, address or step may be.
fn bad_numbers() -> Vec<f64> {
    vec![
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        -1.0,
        -0.5,
        0.5,
        1.5,
        -4294967296.0,
        4294967296.0,
        9007199254740992.0,
        18446744073709551616.0,
        1e300,
        f64::MAX,
        f64::MIN_POSITIVE,
    ]
}

/// JS values of every type but a number.
fn not_numbers() -> Vec<JsValue> {
    vec![
        JsValue::UNDEFINED,
        JsValue::NULL,
        JsValue::TRUE,
        JsValue::from_str(""),
        JsValue::from_str("0x10008"),
        JsValue::from_str("<img src=x onerror=alert(1)>"),
        Array::of2(&1.into(), &2.into()).into(),
        Object::new().into(),
        JsValue::bigint_from_str("12345678901234567890"),
        js_sys::Symbol::for_("heaptale").into(),
    ]
}

/// Text values that are not a trace or a statement.
fn bad_texts() -> Vec<JsValue> {
    let mut v = not_numbers();
    v.push(JsValue::from_f64(42.0));
    for s in [
        "\u{0}\u{0}\u{0}",
        "\u{feff}\u{feff}0\n1\n1\n1\na 0 8\n",
        "\u{fffd}\u{fffd}garbage\u{7f}\u{1}",
        "0\n1\n4294967296\n1\na 0 8\n",
        "0\n99999999999999999999999\n1\n1\na 0 8\n",
        "0\n1\n1\n1\na 0 99999999999999999999999\n",
        "0\n1\n1\n1\na 4294967295 8\n",
        "0\n1\n2\n1\na 0 8\nr 0 4294967295\n",
        "p = malloc(4294967295)\nq = calloc(65536, 65536)\nr = memalign(65536, 4000000000)\n",
        "p = malloc(((((((((((((((((((1)))))))))))))))))))\n",
        "p = malloc(8)\nfree(p)\nfree(p)\nfree(q)\nq = realloc(p, 8)\n",
        "<img src=x onerror=alert(1)> = malloc(8)\n",
        "p = malloc(8); q = malloc(8); free(p); free(q); free(p)\n",
    ] {
        v.push(JsValue::from_str(s));
    }
    // A lone surrogate (not UTF-8 representable) and a string past the 8 Mi-character limit,
    // both made on the JS side.
    v.push(JSON::parse("\"p = malloc(8) \\ud800\"").unwrap());
    v.push(JsString::from("a = malloc(1)\n").repeat(700_000).into());
    v
}

/// Throws everything at the live heap `h` and at a process on it.
fn barrage(h: &JsHeap, label: &str, header: u32, t: &mut Tally) {
    let start = h.heap_start().unwrap();
    // ---- the calls, with numbers they cannot take
    for v in bad_numbers() {
        t.any("malloc", h.malloc(v));
        t.any("calloc n", h.calloc(v, 8.0));
        t.any("calloc size", h.calloc(8.0, v));
        t.any("memalign align", h.memalign(v, 8.0));
        t.any("memalign size", h.memalign(8.0, v));
        t.any("realloc addr", h.realloc(v, 8.0));
        t.any("usableSize", h.usable_size(v));
        t.any("bytes addr", h.bytes(v, 8.0));
        t.any("bytes len", h.bytes(start, v));
        t.any("free", h.free_block(v.into()));
        t.any("seek", h.seek(v));
        t.any("stepInfo", h.step_info(v));
        t.any("stepList from", h.step_list(v, 4.0));
        t.any("stepList count", h.step_list(0.0, v));
        t.any("failures", h.failures(v));
        t.any("loadContinue", h.load_continue(v));
    }
    h.check().map_err(message).expect("after bad numbers");
    for v in not_numbers() {
        // (free() with no argument, undefined, releases the whole heap: by design, below)
        if !v.is_undefined() {
            t.err(
                "free(not a number)",
                h.free_block(v.clone()),
                "free: the address must be a number",
            );
        }
        t.field("run(not a string)", &h.run(v.clone()).into());
        t.field(
            "load limit",
            &h.load(JsValue::from_str("p = malloc(1)\n"), v).into(),
        );
    }
    h.check()
        .map_err(message)
        .expect("after values that are not numbers");
    // ---- zero sizes, huge sizes, every alignment that is not a power of two
    for s in [
        0.0,
        1.0,
        4294967295.0,
        4294967288.0,
        2147483648.0,
        1073741824.0,
    ] {
        if let Some(p) = t.any("malloc", h.malloc(s)) {
            t.any("free", h.free_block(p.into()));
        }
        if let Some(p) = t.any("calloc", h.calloc(s, 1.0)) {
            t.any("free", h.free_block(p.into()));
        }
        if let Some(p) = t.any("realloc(0, s)", h.realloc(0.0, s)) {
            t.any("free", h.free_block(p.into()));
        }
    }
    h.check()
        .map_err(message)
        .expect("after zero and huge sizes");
    for a in [
        0.0,
        3.0,
        6.0,
        12.0,
        24.0,
        100.0,
        65537.0,
        131072.0,
        1048576.0,
        2147483648.0,
    ] {
        t.err("memalign", h.memalign(a, 8.0), "bad alignment");
    }
    // ---- an overflow out of a into b's header (its size word, the first of its `header` bytes),
    // with both blocks live; then put back
    let a = h.malloc(40.0).unwrap();
    let b = h.malloc(40.0).unwrap();
    let _after = h.malloc(8.0).unwrap();
    let mem: js_sys::WebAssembly::Memory = heaptale_wasm::wasm_memory().dyn_into().unwrap();
    let buf: js_sys::ArrayBuffer = mem.buffer().unchecked_into();
    // (a view of just that word: a 4 GiB buffer's length does not fit in wasm32's usize)
    let view = js_sys::DataView::new(
        &buf,
        (h.real_start().unwrap() + (b - start) - f64::from(header)) as usize,
        4,
    );
    let at = 0;
    let word = view.get_uint32_endian(at, true);
    for bad in [
        word ^ 0x40,
        word ^ 1,
        word ^ 2,
        word ^ 4,
        0,
        u32::MAX,
        word.wrapping_add(8),
        word.wrapping_sub(8),
    ] {
        view.set_uint32_endian(at, bad, true);
        if header >= 8 {
            // a check tag guards the header: every call on either block refuses
            let why = |call: &str| {
                format!("{label}: {call} took b's header {word:#x} overwritten as {bad:#x}")
            };
            t.any("free(b corrupt)", h.free_block(b.into()))
                .map(|()| panic!("{}", why("free(b)")));
            // freeing the block before it looks at b to coalesce (the buddy allocator looks at
            // b only when b is a's buddy and of a's order: a damaged b just does not merge)
            if !label.contains("buddy") {
                t.any("free(a before corrupt b)", h.free_block(a.into()))
                    .map(|()| panic!("{}", why("free(a)")));
            }
            t.any("realloc(b corrupt)", h.realloc(b, 200.0))
                .map(|_| panic!("{}", why("realloc(b, 200)")));
        }
        t.any("usableSize(corrupt)", h.usable_size(b));
        t.any("check(corrupt)", h.check());
        t.any("blocks(corrupt)", h.blocks());
        t.any("stats(corrupt)", h.stats());
        view.set_uint32_endian(at, word, true);
        h.check().unwrap();
    }
    // ---- double frees, and pointers into every byte of a block and around the heap
    let size = h.usable_size(a).unwrap();
    assert!(b - a > size);
    for off in 1..((b - a) as u32) {
        let p = a + f64::from(off);
        t.any("free(interior)", h.free_block(p.into()))
            .map(|()| panic!("free(a + {off}) succeeded"));
        t.any("realloc(interior)", h.realloc(p, 8.0))
            .map(|_| panic!("realloc(a + {off}) succeeded"));
        t.any("usableSize(interior)", h.usable_size(p));
    }
    let brk = h.brk().unwrap();
    let end = h.memory_end().unwrap();
    for p in [
        1.0,
        8.0,
        start - 8.0,
        start,
        brk,
        brk + 8.0,
        end - 8.0,
        end,
        end + 8.0,
        4294967288.0,
        4294967295.0,
    ] {
        t.any("free(foreign)", h.free_block(p.into()))
            .map(|()| panic!("free({p}) succeeded"));
        t.any("realloc(foreign)", h.realloc(p, 8.0))
            .map(|_| panic!("realloc({p}) succeeded"));
        t.any("usableSize(foreign)", h.usable_size(p));
        t.any("bytes(foreign)", h.bytes(p, 4096.0));
    }
    h.free_block(a.into()).unwrap();
    t.err("double free", h.free_block(a.into()), "double free");
    t.err("realloc after free", h.realloc(a, 80.0), "double free");
    t.err("usableSize after free", h.usable_size(a), "double free");
    h.free_block(b.into()).unwrap();
    t.err("double free", h.free_block(b.into()), "double free");
    h.check().unwrap();
    // ---- statements, traces and scripts
    for v in bad_texts() {
        t.field("run", &h.run(v.clone()).into());
        t.field("replay", &h.replay(v.clone()).into());
        t.field("load", &h.load(v.clone(), JsValue::UNDEFINED).into());
        h.check().unwrap();
    }
    t.field(
        "run (4,097 characters)",
        &h.run(JsString::from("p").repeat(4097).into()).into(),
    );
    // A loadStart left half done: seek and new steps refused, then it finishes.
    let ls: JsValue = h
        .load_start(
            JsValue::from_str(&"x = malloc(8)\nfree(x)\n".repeat(100)),
            JsValue::UNDEFINED,
        )
        .into();
    assert!(get(&ls, "error").is_null());
    t.any("loadContinue", h.load_continue(3.0));
    t.any("seek while loading", h.seek(1.0));
    t.field(
        "run while loading",
        &h.run(JsValue::from_str("y = malloc(1)")).into(),
    );
    t.any(
        "new Process while loading",
        JsProcess::new(h, JsValue::UNDEFINED),
    );
    h.load_continue(1e6).unwrap();
    // ---- the simulated process: bad knobs, bad addresses to walk
    for o in [
        "{\"mode\": \"arm\"}",
        "{\"physicalMemory\": 1}",
        "{\"physicalMemory\": 1e300}",
        "{\"policy\": \"belady\"}",
        "{\"tlbEntries\": -1}",
        "{\"tlbEntries\": 1e9}",
        "{\"tlbWays\": 3}",
        "{\"mmapThreshold\": -1}",
        "{\"mmap\": \"yes\"}",
        "{\"nonsense\": 1}",
        "42",
        "\"x86\"",
        "[]",
    ] {
        t.any("new Process", JsProcess::new(h, opts(o)));
    }
    // (a heap reported from a low base leaves no room for the process's segments: refused)
    let Some(p) = t.any("new Process", JsProcess::new(h, JsValue::UNDEFINED)) else {
        assert!(label.contains("base"), "{label}: no process");
        return;
    };
    let mut walk = not_numbers();
    walk.extend(bad_numbers().into_iter().map(JsValue::from_f64));
    walk.extend([0.0, start, brk, 4294967295.0].map(JsValue::from_f64));
    for v in walk {
        t.any("walk", p.walk(v));
    }
    for n in [0.0, 1.0, 1e9] {
        t.any("seek", h.seek(n));
        t.any("process stats", p.stats());
        t.any("process pages", p.pages());
        t.any("process frames", p.frames());
    }
    // A newer process replaces this one: the old handle answers with an Error.
    let p2 = JsProcess::new(h, JsValue::UNDEFINED).unwrap();
    t.err("stale process", p.stats(), "no longer attached");
    t.err(
        "stale process walk",
        p.walk(start.into()),
        "no longer attached",
    );
    drop(p2);
}

/// The same instance allocates as a fresh one: the layout script's exact offsets, blocks,
/// free list and break, and the checker agrees.
fn allocates_exactly(t: &mut Tally) {
    let h = heap("{\"policy\": \"first\"}");
    let start = h.heap_start().unwrap() as usize;
    assert_eq!(start % PAGE, 0, "the heap starts on a page boundary");
    let seen = layout::run(start, |op, var| {
        let r = match op {
            layout::Op::Malloc(_, n) => h.malloc(n as f64),
            layout::Op::Free(v) => h.free_block((var(v) as f64).into()).map(|()| 0.0),
            layout::Op::Realloc(_, v, n) => h.realloc(var(v) as f64, n as f64),
            layout::Op::Memalign(_, a, n) => h.memalign(a as f64, n as f64),
            layout::Op::Calloc(_, n, s) => h.calloc(n as f64, s as f64),
        };
        r.map_err(message).unwrap_or_else(|e| panic!("{op:?}: {e}")) as usize
    });
    assert_eq!(seen, layout::expected());
    let blocks: Vec<(u32, u32, bool, u32)> = h
        .blocks()
        .unwrap()
        .iter()
        .map(|b| {
            (
                (get_f(&b, "addr") as usize - start) as u32,
                get_f(&b, "size") as u32,
                get(&b, "used").as_bool().unwrap(),
                get_f(&b, "requested") as u32,
            )
        })
        .collect();
    assert_eq!(blocks, layout::BLOCKS.to_vec());
    let free: Vec<(u32, u32)> = h
        .free_list()
        .unwrap()
        .iter()
        .map(|e| {
            let e: Array = e.dyn_into().unwrap();
            (
                (e.get(0).as_f64().unwrap() as usize - start) as u32,
                e.get(1).as_f64().unwrap() as u32,
            )
        })
        .collect();
    assert_eq!(free, layout::FREE_LIST.to_vec());
    assert_eq!(h.brk().unwrap() as usize - start, layout::BRK as usize);
    h.check().unwrap();
    t.accepted += 1;
}

/// One test, in this order (the second leaves memory at its maximum for good).
#[wasm_bindgen_test]
fn never_trap_then_never_trap_at_the_memory_cap() {
    every_bad_input_gets_an_error_and_the_same_instance_still_allocates_exactly();
    with_memory_at_its_maximum_every_call_fails_cleanly_and_small_ones_still_work();
}

fn every_bad_input_gets_an_error_and_the_same_instance_still_allocates_exactly() {
    let mut t = Tally::default();
    allocates_exactly(&mut t);
    let arena_before = get_f(&heaptale_wasm::module_memory(), "arena_used");
    for (json, header) in [
        ("{}", 8),
        ("{\"policy\": \"buddy\"}", 8),
        ("{\"policy\": \"best\", \"order\": \"size-asc\", \"coalesce\": \"off\", \"header\": 16}", 16),
        ("{\"policy\": \"tlsf\", \"header\": 4, \"align\": 16}", 4),
        ("{\"heapSize\": 4096}", 8),
        ("{\"base\": \"0x1000\"}", 8),
    ] {
        let h = heap(json);
        barrage(&h, json, header, &mut t);
        h.check().unwrap();
    }
    // A heap replaced by a newer one (or released) answers every call with an Error.
    let old = heap("{}");
    let p = old.malloc(8.0).unwrap();
    let _new = heap("{}");
    t.err("stale malloc", old.malloc(8.0), "no longer live");
    t.err("stale free", old.free_block(p.into()), "no longer live");
    t.err("stale seek", old.seek(0.0), "no longer live");
    t.err(
        "stale process",
        JsProcess::new(&old, JsValue::UNDEFINED).map(|_| ()),
        "no longer live",
    );
    t.field(
        "stale run",
        &old.run(JsValue::from_str("q = malloc(1)")).into(),
    );
    // free() with no argument releases the heap; its handle then refuses every call.
    let released = heap("{}");
    released.free_block(JsValue::UNDEFINED).unwrap();
    t.err("released malloc", released.malloc(8.0), "no longer live");
    t.err(
        "released load",
        released.load_continue(1.0),
        "no longer live",
    );
    t.field(
        "released load",
        &released
            .load(JsValue::from_str("a = malloc(1)"), JsValue::UNDEFINED)
            .into(),
    );
    // Bad options for a new heap leave the live one as it was.
    for o in [
        "{\"policy\": \"nope\"}",
        "{\"header\": 1e300}",
        "{\"align\": 0}",
        "{\"heapSize\": -1}",
        "{\"base\": \"0xfffffffff\"}",
        "{\"base\": -1}",
        "{\"order\": 3}",
        "{\"coalesce\": 1}",
        "7",
        "\"first\"",
    ] {
        t.any("new Heap", JsHeap::new(opts(o)));
    }
    drop(_new);
    allocates_exactly(&mut t);
    let arena_after = get_f(&heaptale_wasm::module_memory(), "arena_used");
    assert!(
        arena_after <= arena_before + 1_048_576.0,
        "the module's arena grew from {arena_before} to {arena_after} bytes"
    );
    assert!(t.refused > 1500, "only {} refusals", t.refused);
    web_sys_log(&format!(
        "never trap: {} bad calls refused with a message, {} accepted, no trap; the same instance then allocated exactly (arena {} -> {} bytes)",
        t.refused, t.accepted, arena_before, arena_after
    ));
}

/// Out of memory for real: linear memory grown (by "other code") to its 4 GiB maximum, so
/// `memory.grow` fails. Every call that would need more memory fails with a message; those
/// that fit in the pages the heap already has work; and a new heap on the same instance
/// still allocates exactly.
fn with_memory_at_its_maximum_every_call_fails_cleanly_and_small_ones_still_work() {
    let mut t = Tally::default();
    let h = heap("{}");
    let keep = h.malloc(100.0).unwrap();
    let keep_size = h.usable_size(keep).unwrap();
    // Grow memory to its maximum, in big steps then page by page.
    let mut step = 16384;
    while step > 0 {
        if core::arch::wasm32::memory_grow(0, step) == usize::MAX {
            step /= 2;
        }
    }
    let pages = core::arch::wasm32::memory_size(0);
    assert_eq!(
        core::arch::wasm32::memory_grow(0, 1),
        usize::MAX,
        "memory is at its maximum ({pages} pages)"
    );
    let before = h.brk().unwrap();
    for size in [1048576.0, 65536.0 * 3.0, 524288000.0] {
        t.err("malloc past the cap", h.malloc(size), "out of memory");
        t.err("calloc past the cap", h.calloc(size, 1.0), "out of memory");
        t.err(
            "realloc past the cap",
            h.realloc(keep, size),
            "out of memory",
        );
        t.err(
            "memalign past the cap",
            h.memalign(4096.0, size),
            "out of memory",
        );
        assert_eq!(h.brk().unwrap(), before, "a failed call leaves the break");
        h.check().unwrap();
    }
    assert_eq!(
        h.usable_size(keep).unwrap(),
        keep_size,
        "a failed realloc keeps the block"
    );
    // What fits in the heap's own page still works.
    let small = h.malloc(64.0).unwrap();
    h.free_block(small.into()).unwrap();
    // A script whose steps need memory: each such step fails with a message, the rest run.
    let r: JsValue = h
        .load(
            JsValue::from_str(
                "a = malloc(16)\nb = malloc(2000000)\nc = malloc(24)\nfree(a)\nfree(b)\nfree(c)\n",
            ),
            JsValue::UNDEFINED,
        )
        .into();
    assert!(get(&r, "error").is_null());
    assert_eq!(
        get_f(&r, "failed"),
        2.0,
        "b = malloc(2000000) and free(b) fail"
    );
    let fails = h.failures(10.0).unwrap();
    assert!(get(&fails.get(0), "error")
        .as_string()
        .unwrap()
        .contains("out of memory"));
    for n in [0.0, 3.0, 6.0] {
        h.seek(n).unwrap();
        h.check().unwrap();
    }
    let p = JsProcess::new(&h, JsValue::UNDEFINED).unwrap();
    t.any("process stats", p.stats());
    barrage(&h, "{} at the cap", 8, &mut t);
    h.check().unwrap();
    drop(p);
    drop(h);
    allocates_exactly(&mut t);
    web_sys_log(&format!(
        "never trap at the 4 GiB cap ({pages} pages): {} refusals with a message, {} accepted",
        t.refused, t.accepted
    ));
}

fn web_sys_log(s: &str) {
    wasm_bindgen_test::console_log!("{s}");
}
