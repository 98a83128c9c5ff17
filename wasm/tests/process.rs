//! The JS `Process` (the simulated process around the live heap) under node:
//! `wasm-pack test --node wasm`. Its options, first-touch faults, time travel (seek back
//! and forth gives the same process as running there), page walks in both paging modes and
//! the frame map.
#![cfg(target_arch = "wasm32")]

use heaptale_wasm::{JsHeap, JsProcess};
use js_sys::{Array, Object, Reflect, JSON};
use wasm_bindgen::{JsCast, JsError, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

fn opts(json: &str) -> JsValue {
    JSON::parse(json).expect("test JSON")
}
fn message(e: JsError) -> String {
    let v = JsValue::from(e);
    let err: js_sys::Error = v.dyn_into().expect("a JS Error");
    err.message().into()
}
fn get(o: &JsValue, k: &str) -> JsValue {
    Reflect::get(o, &k.into()).expect("property")
}
fn n(o: &JsValue, k: &str) -> f64 {
    get(o, k)
        .as_f64()
        .unwrap_or_else(|| panic!("{k} is not a number: {:?}", get(o, k)))
}
fn heap() -> JsHeap {
    JsHeap::new(opts("{}")).map_err(message).expect("heap")
}
fn process(h: &JsHeap, json: &str) -> JsProcess {
    JsProcess::new(h, opts(json))
        .map_err(message)
        .expect("process")
}
fn run(h: &JsHeap, s: &str) -> JsValue {
    let r: JsValue = h.run(s.into()).into();
    assert!(
        get(&r, "error").is_null() || get(&r, "error").is_undefined(),
        "{s}: {:?}",
        get(&r, "error")
    );
    r
}

#[wasm_bindgen_test]
fn bad_options_are_refused_with_clear_errors() {
    let h = heap();
    for (json, want) in [
        (r#"{"mode": "arm"}"#, "mode must be 'x86'"),
        (
            r#"{"physicalMemory": 1000}"#,
            "physicalMemory must be a whole number from",
        ),
        (
            r#"{"physicalMemory": 70000}"#,
            "whole number of 4 KiB frames",
        ),
        (r#"{"policy": "mru"}"#, "policy must be one of"),
        (r#"{"tlbEntries": 64, "tlbWays": 3}"#, "must divide"),
        (r#"{"mmap": "yes"}"#, "mmap must be true or false"),
        (r#"{"colour": 1}"#, "unknown option 'colour'"),
    ] {
        let e = JsProcess::new(&h, opts(json))
            .err()
            .map(message)
            .unwrap_or_else(|| panic!("{json} accepted"));
        assert!(e.contains(want), "{json}: {e}");
    }
    let p = process(
        &h,
        r#"{"mode": "x86-64", "policy": "clock", "tlbEntries": 0, "mmap": true}"#,
    );
    let o: JsValue = p.options().into();
    assert_eq!(get(&o, "mode").as_string().unwrap(), "x86-64");
    assert_eq!(get(&o, "simulated").as_bool(), Some(true));
    assert_eq!(n(&o, "tlbEntries"), 0.0);
}

#[wasm_bindgen_test]
fn first_touch_faults_once_and_seek_undoes_them() {
    let h = heap();
    let p = process(&h, "{}");
    let s0: JsValue = p.stats().map_err(message).unwrap().into();
    assert_eq!(n(&s0, "minorFaults"), 0.0);
    run(&h, "a = malloc(24)");
    let s1: JsValue = p.stats().map_err(message).unwrap().into();
    assert!(n(&s1, "minorFaults") >= 1.0, "a first touch faults");
    let notes = p.notes().map_err(message).unwrap();
    let text: Vec<String> = notes.iter().filter_map(|v| v.as_string()).collect();
    assert!(text.iter().any(|t| t.contains("page fault")), "{text:?}");
    run(&h, "b = malloc(24)"); // same page: no new fault
    let s2: JsValue = p.stats().map_err(message).unwrap().into();
    assert_eq!(n(&s2, "minorFaults"), n(&s1, "minorFaults"));
    run(&h, "c = malloc(20000)");
    let s3: JsValue = p.stats().map_err(message).unwrap().into();
    assert!(n(&s3, "rssPages") >= n(&s2, "rssPages"));
    // Back in time: the counters return; forward again: the same as before.
    h.seek(1.0).map_err(message).unwrap();
    let b1: JsValue = p.stats().map_err(message).unwrap().into();
    assert_eq!(JSON::stringify(&b1).unwrap(), JSON::stringify(&s1).unwrap());
    h.seek(0.0).map_err(message).unwrap();
    let b0: JsValue = p.stats().map_err(message).unwrap().into();
    assert_eq!(n(&b0, "minorFaults"), 0.0);
    assert_eq!(p.notes().unwrap().length(), 0);
    h.seek(3.0).map_err(message).unwrap();
    let b3: JsValue = p.stats().map_err(message).unwrap().into();
    assert_eq!(JSON::stringify(&b3).unwrap(), JSON::stringify(&s3).unwrap());
    // A new step where the future was: the process follows the new past.
    h.seek(1.0).map_err(message).unwrap();
    run(&h, "d = malloc(8)");
    let d: JsValue = p.stats().map_err(message).unwrap().into();
    assert_eq!(n(&d, "minorFaults"), n(&s1, "minorFaults"));
    // Attached late: rebuilt from the steps so far, same figures.
    let q = process(&h, "{}");
    let late: JsValue = q.stats().map_err(message).unwrap().into();
    assert_eq!(
        JSON::stringify(&late).unwrap(),
        JSON::stringify(&d).unwrap()
    );
    assert!(p.stats().is_err(), "the older Process was replaced");
}

#[wasm_bindgen_test]
fn layout_pages_walk_and_frames() {
    let h = heap();
    let p = process(&h, "{}");
    let a = n(&run(&h, "a = malloc(100)"), "addr");
    let lay: JsValue = p.layout().map_err(message).unwrap().into();
    assert_eq!(n(&lay, "startBrk"), h.heap_start().unwrap());
    assert_eq!(n(&lay, "brk"), h.brk().unwrap());
    assert!(n(&lay, "memoryEnd") >= n(&lay, "brk"));
    let kinds: Vec<String> = Array::from(&get(&lay, "vmas"))
        .iter()
        .map(|v| get(&v, "kind").as_string().unwrap())
        .collect();
    for k in ["code", "data", "bss", "heap", "stack"] {
        assert!(kinds.iter().any(|x| x == k), "{k} in {kinds:?}");
    }
    let grid: JsValue = p.pages().map_err(message).unwrap().into();
    let pages = Array::from(&get(&grid, "pages"));
    assert_eq!(get(&pages.get(0), "state").as_string().unwrap(), "resident");
    // x86: 10/10/12 over the real address, two levels, the frame of the grid's page.
    let w: JsValue = p
        .walk(JsValue::from_f64(a))
        .map_err(message)
        .unwrap()
        .into();
    let f = Array::from(&get(&w, "fields"));
    assert_eq!(f.length(), 3);
    let a = a as u64;
    assert_eq!(n(&f.get(0), "value") as u64, a >> 22);
    assert_eq!(n(&f.get(1), "value") as u64, (a >> 12) & 0x3ff);
    assert_eq!(n(&f.get(2), "value") as u64, a & 0xfff);
    let lv = Array::from(&get(&w, "levels"));
    assert_eq!(lv.length(), 2);
    assert_eq!(get(&lv.get(0), "entry").as_string().unwrap(), "PDE");
    assert_eq!(n(&lv.get(0), "index") as u64, a >> 22);
    assert_eq!(get(&lv.get(1), "entry").as_string().unwrap(), "PTE");
    assert_eq!(get(&lv.get(1), "dirty").as_bool(), Some(true));
    assert!(get(&w, "fault").is_null());
    let frame = n(&lv.get(1), "frame") as u64;
    assert_eq!(n(&w, "paddr") as u64, frame << 12 | (a & 0xfff));
    // An address above the break faults.
    let far = p.walk("0x70000000".into()).map_err(message).unwrap();
    assert!(!get(&far, "fault").is_null());
    assert!(p.walk("zz".into()).is_err());
    // The frame map knows the frame as ours.
    let fr: JsValue = p.frames().map_err(message).unwrap().into();
    let kinds = js_sys::Uint8Array::from(get(&fr, "kinds"));
    assert_eq!(kinds.get_index(frame as u32), 4);
    let detail = js_sys::Float64Array::from(get(&fr, "detail"));
    assert_eq!(detail.get_index(frame as u32) as u64, a >> 12);
    // x86-64: four levels, 9/9/9/9/12.
    let q = process(&h, r#"{"mode": "x86-64"}"#);
    let w: JsValue = q
        .walk(JsValue::from_f64(a as f64))
        .map_err(message)
        .unwrap()
        .into();
    assert_eq!(Array::from(&get(&w, "fields")).length(), 5);
    let lv = Array::from(&get(&w, "levels"));
    assert_eq!(lv.length(), 4);
    let names: Vec<String> = lv
        .iter()
        .map(|v| get(&v, "entry").as_string().unwrap())
        .collect();
    assert_eq!(names, ["PML4E", "PDPTE", "PDE", "PTE"]);
    assert_eq!(n(&lv.get(3), "index") as u64, (a >> 12) & 0x1ff);
    let _ = Object::new();
}

#[wasm_bindgen_test]
fn mmap_threshold_maps_big_blocks_apart_and_free_unmaps_them() {
    let h = heap();
    let p = process(&h, r#"{"mmap": true}"#);
    run(&h, "big = malloc(200000)");
    let lay: JsValue = p.layout().map_err(message).unwrap().into();
    let chunks = Array::from(&get(&lay, "chunks"));
    assert_eq!(
        chunks.length(),
        1,
        "a request above 128 KiB has its own mapping"
    );
    let kinds: Vec<String> = Array::from(&get(&lay, "vmas"))
        .iter()
        .map(|v| get(&v, "kind").as_string().unwrap())
        .collect();
    assert!(kinds.iter().any(|k| k == "mmap"), "{kinds:?}");
    assert!(n(&chunks.get(0), "mapStart") >= n(&lay, "mmapBase") - 64.0 * 1024.0 * 1024.0);
    run(&h, "free(big)");
    let lay: JsValue = p.layout().map_err(message).unwrap().into();
    assert_eq!(
        Array::from(&get(&lay, "chunks")).length(),
        0,
        "free unmaps it"
    );
    assert!(
        n(&lay, "threshold") > 128.0 * 1024.0,
        "and raises the threshold, as glibc's dynamic threshold does"
    );
    // Without the threshold, no mapping.
    let q = process(&h, "{}");
    h.seek(1.0).map_err(message).unwrap();
    let lay: JsValue = q.layout().map_err(message).unwrap().into();
    assert_eq!(Array::from(&get(&lay, "chunks")).length(), 0);
    assert!(get(&lay, "threshold").is_null());
}

#[wasm_bindgen_test]
fn a_small_physical_memory_evicts_to_swap_and_faults_pages_back() {
    let h = heap();
    let p = process(&h, r#"{"physicalMemory": 65536, "policy": "fifo"}"#);
    for i in 0..24 {
        run(&h, &format!("p{i} = malloc(5000)"));
    }
    let s: JsValue = p.stats().map_err(message).unwrap().into();
    assert!(
        n(&s, "evictions") > 0.0,
        "more pages than free frames: evictions"
    );
    assert!(n(&s, "swappedPages") > 0.0);
    assert!(n(&s, "rssPages") <= n(&s, "frames"));
    run(&h, "free(p0)"); // its header's page went to swap first (FIFO)
    let t: JsValue = p.stats().map_err(message).unwrap().into();
    assert!(
        n(&t, "majorFaults") > n(&s, "majorFaults"),
        "touching a swapped page is a major fault"
    );
    let grid: JsValue = p.pages().map_err(message).unwrap().into();
    let states: Vec<String> = Array::from(&get(&grid, "pages"))
        .iter()
        .map(|v| get(&v, "state").as_string().unwrap())
        .collect();
    assert!(states.iter().any(|s| s == "swapped"), "{states:?}");
}

#[wasm_bindgen_test]
fn opt_knows_the_recorded_future_and_evicts_no_more_than_fifo_or_lru() {
    let h = heap();
    let script: Vec<String> = (0..24)
        .map(|i| format!("p{i} = malloc(5000)"))
        .chain((0..24).rev().map(|i| format!("free(p{i})")))
        .collect();
    for s in &script {
        run(&h, s);
    }
    let major = |policy: &str| {
        let p = process(
            &h,
            &format!(r#"{{"physicalMemory": 65536, "policy": "{policy}"}}"#),
        );
        let s: JsValue = p.stats().map_err(message).unwrap().into();
        (
            n(&s, "majorFaults"),
            n(&s, "evictions"),
            n(&s, "minorFaults"),
        )
    };
    let (opt, fifo, lru) = (major("opt"), major("fifo"), major("lru"));
    assert!(fifo.1 > 0.0, "the script must evict: {fifo:?}");
    assert!(
        opt.0 <= fifo.0 && opt.0 <= lru.0,
        "OPT {opt:?}, FIFO {fifo:?}, LRU {lru:?}"
    );
    assert_eq!(
        opt.2, fifo.2,
        "first touches are the same under every policy"
    );
    // Stepping back and forth under OPT gives the same figures.
    let p = process(&h, r#"{"physicalMemory": 65536, "policy": "opt"}"#);
    let end: JsValue = p.stats().map_err(message).unwrap().into();
    h.seek(10.0).map_err(message).unwrap();
    p.stats().map_err(message).unwrap();
    h.seek(script.len() as f64).map_err(message).unwrap();
    let again: JsValue = p.stats().map_err(message).unwrap().into();
    assert_eq!(
        JSON::stringify(&again).unwrap(),
        JSON::stringify(&end).unwrap()
    );
}

#[wasm_bindgen_test]
fn user_writes_put_real_bytes_touch_pages_and_follow_time_travel() {
    let h = heap();
    let p = process(&h, "{}");
    // A 9000-byte block: the allocator writes only its header, on its first page.
    let a = n(&run(&h, "a = malloc(9000)"), "addr") as u64;
    let f1 = n(&p.stats().map_err(message).unwrap().into(), "minorFaults");
    let end = a + 8999;
    // write(a + 8999, "!"): the block's last page, untouched until now: a minor fault.
    let r = run(&h, "write(a + 8999, \"!\")");
    assert_eq!(
        get(&r, "text").as_string().unwrap(),
        "write(a + 8999, \"!\")"
    );
    assert!(get(&r, "addr").is_null());
    let s2: JsValue = p.stats().map_err(message).unwrap().into();
    assert_eq!(n(&s2, "minorFaults"), f1 + 1.0);
    let notes: Vec<String> = p
        .notes()
        .map_err(message)
        .unwrap()
        .iter()
        .filter_map(|v| v.as_string())
        .collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    let want = format!(
        "writing 1 byte at {end:#x} touched page {:#x}: page fault (minor: first touch), frame 0x",
        end >> 12
    );
    assert!(notes[0].starts_with(&want), "{notes:?} against {want}");
    // The byte is in the real heap.
    assert_eq!(
        h.bytes(end as f64, 1.0).map_err(message).unwrap().to_vec(),
        b"!"
    );
    // Its page is resident and dirty; a page in the middle of the block still has no frame
    // unless the header or the write reached it.
    let pages = get(&p.pages().map_err(message).unwrap().into(), "pages");
    let pages: Array = pages.dyn_into().unwrap();
    let page = |addr: u64| {
        pages
            .iter()
            .find(|pg| n(pg, "vpn") as u64 == addr >> 12)
            .expect("page in the grid")
    };
    let last = page(end);
    assert_eq!(get(&last, "state").as_string().unwrap(), "resident");
    assert_eq!(get(&last, "dirty").as_bool(), Some(true));
    let mid = (a + 4096) & !4095;
    if mid >> 12 != end >> 12 && mid >> 12 != (a - 8) >> 12 {
        assert_eq!(get(&page(mid), "state").as_string().unwrap(), "mapped");
    }
    // memset(a, 0, 9000) reaches every page: the ones left fault in, once.
    run(&h, "memset(a, 0x41, 9000)");
    let s3: JsValue = p.stats().map_err(message).unwrap().into();
    let pages_spanned = ((end >> 12) - (a >> 12) + 1) as f64;
    // Resident already: the last page, and the header's page when the payload starts on it.
    let header_page_spanned = if (a - 8) >> 12 == a >> 12 { 1.0 } else { 0.0 };
    assert_eq!(
        n(&s3, "minorFaults"),
        f1 + 1.0 + pages_spanned - 1.0 - header_page_spanned
    );
    assert_eq!(
        h.bytes(a as f64, 4.0).map_err(message).unwrap().to_vec(),
        b"AAAA"
    );
    run(&h, "memset(a, 0x42, 9000)");
    assert_eq!(
        n(&p.stats().map_err(message).unwrap().into(), "minorFaults"),
        n(&s3, "minorFaults"),
        "a second touch is no fault"
    );
    // A write past the usable size is refused and is a step that failed: nothing touched.
    let r: JsValue = h.run("write(a + 9000, \"xyz\")".into()).into();
    let e = get(&r, "error").as_string().expect("an error");
    let usable = h.usable_size(a as f64).map_err(message).unwrap();
    assert_eq!(e, format!("write(a + 9000, \"xyz\"): 3 bytes at offset 9000 would overflow the block of a at {a:#x}: it holds {usable} usable bytes"));
    assert_eq!(
        n(&p.stats().map_err(message).unwrap().into(), "minorFaults"),
        n(&s3, "minorFaults")
    );
    // Back in time the faults and the bytes are undone; forward, the same again.
    h.seek(1.0).map_err(message).unwrap();
    assert_eq!(
        n(&p.stats().map_err(message).unwrap().into(), "minorFaults"),
        f1
    );
    h.seek(2.0).map_err(message).unwrap();
    assert_eq!(
        n(&p.stats().map_err(message).unwrap().into(), "minorFaults"),
        f1 + 1.0
    );
    let again: Vec<String> = p
        .notes()
        .map_err(message)
        .unwrap()
        .iter()
        .filter_map(|v| v.as_string())
        .collect();
    assert_eq!(again, notes);
    h.seek(3.0).map_err(message).unwrap();
    assert_eq!(
        h.bytes(a as f64, 4.0).map_err(message).unwrap().to_vec(),
        b"AAAA"
    );
    assert_eq!(
        n(&p.stats().map_err(message).unwrap().into(), "minorFaults"),
        n(&s3, "minorFaults")
    );
    // A process attached afterwards rebuilds the same from the steps.
    let p2 = process(&h, "{}");
    assert_eq!(
        n(&p2.stats().map_err(message).unwrap().into(), "minorFaults"),
        n(&s3, "minorFaults")
    );
}

#[wasm_bindgen_test]
fn other_processes_hold_the_share_of_frames_asked_for() {
    let h = heap();
    run(&h, "a = malloc(24)");
    let kinds = |json: &str| -> (Vec<u32>, JsValue) {
        let p = process(&h, json);
        let f: JsValue = p.frames().map_err(message).unwrap().into();
        let k: js_sys::Uint8Array = get(&f, "kinds").dyn_into().unwrap();
        let mut count = vec![0u32; 5];
        for v in k.to_vec() {
            count[v as usize] += 1;
        }
        (count, p.options().into())
    };
    // 1 MiB: 256 frames; the kernel holds 12 % (30), the others the share asked for.
    let (c0, o0) = kinds(r#"{"physicalMemory": 1048576, "othersPercent": 0}"#);
    assert_eq!((c0[1], c0[2]), (30, 0));
    assert_eq!(n(&o0, "othersPercent"), 0.0);
    assert_eq!(
        (
            n(&o0, "kernelPercent"),
            n(&o0, "pageSize"),
            n(&o0, "addressSpace")
        ),
        (12.0, 4096.0, 4294967296.0)
    );
    let (c75, _) = kinds(r#"{"physicalMemory": 1048576, "othersPercent": 75}"#);
    assert_eq!((c75[1], c75[2]), (30, 192));
    // Our page, its page table and the directory take frames either way, the rest is free.
    assert_eq!((c0[3], c0[4], c0[0]), (2, 1, 256 - 30 - 3));
    assert_eq!((c75[3], c75[4], c75[0]), (2, 1, 256 - 30 - 192 - 3));
    let e = JsProcess::new(&h, opts(r#"{"othersPercent": 90}"#))
        .err()
        .map(message)
        .unwrap();
    assert_eq!(
        e,
        "new Process: othersPercent must be a whole number from 0 to 80, got the number 90"
    );
    let (_, o64) = kinds(r#"{"mode": "x86-64"}"#);
    assert_eq!(n(&o64, "addressSpace"), 281474976710656.0);
}

#[wasm_bindgen_test]
fn ostep_paging_exercise_matches_the_script() {
    // paging-linear-translate.py -a 32k -p 1m -P 1k -u 75 -n 6 -s 1 -v -c
    let o: JsValue = heaptale_wasm::process::ostep_paging(opts(
        r#"{"addressSpace": 32768, "physicalMemory": 1048576, "pageSize": 1024, "percentValid": 75, "count": 6, "seed": 1, "verbose": true, "answers": true}"#,
    ))
    .map_err(message)
    .unwrap()
    .into();
    assert_eq!(
        get(&o, "text").as_string().unwrap(),
        include_str!("../../tests/vm_ostep_seed1.txt")
    );
    let table: Array = get(&o, "pageTable").dyn_into().unwrap();
    assert_eq!(table.length(), 32);
    let trace: Array = get(&o, "trace").dyn_into().unwrap();
    assert_eq!(trace.length(), 6);
    let t0 = trace.get(0);
    assert_eq!(
        (n(&t0, "vaddr"), n(&t0, "vpn"), n(&t0, "paddr")),
        (0x1f12 as f64, 7.0, 0xb12 as f64)
    );
    assert!(get(&trace.get(1), "paddr").is_null());
    // The defaults: the script's (16k space, 4k pages, 64k memory, 50 %, 5 addresses).
    let d: JsValue = heaptale_wasm::process::ostep_paging(JsValue::UNDEFINED)
        .map_err(message)
        .unwrap()
        .into();
    assert_eq!(Array::from(&get(&d, "pageTable")).length(), 4);
    assert!(get(&d, "text")
        .as_string()
        .unwrap()
        .ends_with("--> PA or invalid address?\n"));
    for (json, want) in [
        (r#"{"pageSize": 3000}"#, "ostepPaging: bad setting: "),
        (
            r#"{"percentValid": 101}"#,
            "ostepPaging: percentValid must be a whole number from 0 to 100, got the number 101",
        ),
        (
            r#"{"addressSpace": 1073741824, "pageSize": 1024, "physicalMemory": 1073741824}"#,
            "ostepPaging: 1048576 virtual pages is more than the 4,096 this page shows",
        ),
        (r#"{"colour": 1}"#, "ostepPaging: unknown option 'colour'"),
        (
            r#"{"answers": "yes"}"#,
            "ostepPaging: answers must be true or false",
        ),
    ] {
        let e = heaptale_wasm::process::ostep_paging(opts(json))
            .err()
            .map(message)
            .unwrap_or_else(|| panic!("{json} accepted"));
        assert!(e.starts_with(want), "{json}: {e}");
    }
}
