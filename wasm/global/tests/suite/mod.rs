//! heaptale::Allocator as this module's real global allocator: every Vec, String and map
//! below, and the test harness's own allocations, come from it and from `memory.grow`.

use core::arch::wasm32;
use std::alloc::{GlobalAlloc, Layout};
use std::collections::{BTreeMap, HashMap};
use wasm_bindgen_test::wasm_bindgen_test;

#[global_allocator]
static ALLOC: heaptale::Allocator = heaptale::Allocator::new();

const PAGE: usize = 65536;

fn pages() -> usize {
    wasm32::memory_size(0)
}

#[wasm_bindgen_test]
fn collections_churn_on_it() {
    let mut map: HashMap<u32, String> = HashMap::new();
    let mut tree: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for i in 0..20_000u32 {
        map.insert(i, format!("v{i}").repeat((i % 9) as usize + 1));
        if i % 3 == 0 {
            map.remove(&(i / 2));
        }
        tree.entry(format!("k{}", i % 300))
            .or_default()
            .push(i as u64);
    }
    assert!(map.iter().all(|(k, v)| v.starts_with(&format!("v{k}"))));
    assert_eq!(tree.values().map(Vec::len).sum::<usize>(), 20_000);
    drop(map);
    drop(tree);
    ALLOC.check().unwrap();
}

#[wasm_bindgen_test]
fn memory_grows_page_by_page_with_use() {
    // More than all of memory, so the heap must grow by at least 5 pages whatever it holds.
    let n = pages() * PAGE + 5 * PAGE;
    let before = pages();
    let v = vec![7u8; n];
    assert!(pages() >= before + 5, "{} -> {}", before, pages());
    assert!(v.iter().all(|&b| b == 7));
    drop(v);
    // Freed memory is reused: the same request again does not grow memory.
    let grown = pages();
    let w = vec![8u8; n];
    assert_eq!(pages(), grown, "the freed block was not reused");
    drop(w);
    ALLOC.check().unwrap();
}

#[wasm_bindgen_test]
fn the_same_workload_twice_does_not_grow() {
    let work = || {
        let mut v: Vec<Vec<u8>> = Vec::new();
        for i in 0..3000usize {
            v.push(vec![i as u8; i * 13 % 4000 + 1]);
            if i % 4 == 0 {
                v.swap_remove(i * 7 % v.len());
            }
        }
        v.len()
    };
    work();
    let after_one = pages();
    work();
    assert_eq!(pages(), after_one);
    ALLOC.check().unwrap();
}

#[wasm_bindgen_test]
fn alignments_from_1_to_65536() {
    let mut blocks = Vec::new();
    for shift in 0..=16 {
        let layout = Layout::from_size_align(100, 1 << shift).unwrap();
        // SAFETY: a non-zero size; freed below with the same layout.
        let p = unsafe { ALLOC.alloc(layout) };
        assert!(!p.is_null());
        assert_eq!(p as usize % (1 << shift), 0, "align {}", 1 << shift);
        // SAFETY: 100 fresh bytes.
        unsafe { p.write_bytes(shift as u8, 100) };
        blocks.push((p, layout, shift as u8));
    }
    for (p, layout, v) in blocks {
        // SAFETY: p holds 100 bytes written above.
        assert!(unsafe { std::slice::from_raw_parts(p, 100) }
            .iter()
            .all(|&b| b == v));
        // SAFETY: allocated above with this layout.
        unsafe { ALLOC.dealloc(p, layout) };
    }
    ALLOC.check().unwrap();
}

#[wasm_bindgen_test]
fn impossible_requests_return_null_without_growing() {
    let before = pages();
    // Beyond the heap's 1 GiB: refused before any growth.
    for size in [(1usize << 31) - 4096, (1 << 30) + 1, 1 << 30] {
        let layout = Layout::from_size_align(size, 8).unwrap();
        // SAFETY: a valid layout; null is the expected answer.
        assert!(unsafe { ALLOC.alloc(layout) }.is_null(), "{size}");
        assert_eq!(pages(), before, "a failed request of {size} grew memory");
    }
    // Zero-size requests (std never makes them, but a GlobalAlloc may get one) get a block.
    let z = Layout::from_size_align(0, 1).unwrap();
    // SAFETY: freed right away with the same layout.
    unsafe {
        let p = ALLOC.alloc(z);
        assert!(!p.is_null());
        ALLOC.dealloc(p, z);
    }
    // And the allocator still works.
    let v: Vec<u32> = (0..1000).collect();
    assert_eq!(v.iter().sum::<u32>(), 499_500);
    ALLOC.check().unwrap();
}

#[wasm_bindgen_test]
fn realloc_keeps_the_bytes() {
    let mut v: Vec<u32> = Vec::new();
    for i in 0..200_000u32 {
        v.push(i.wrapping_mul(2_654_435_761));
    }
    assert!(v
        .iter()
        .enumerate()
        .all(|(i, &x)| x == (i as u32).wrapping_mul(2_654_435_761)));
    v.truncate(10);
    v.shrink_to_fit();
    assert_eq!(v[9], 9u32.wrapping_mul(2_654_435_761));
    let mut s = String::new();
    for i in 0..10_000 {
        s.push_str(&i.to_string());
    }
    assert!(s.starts_with("0123456789101112"));
    ALLOC.check().unwrap();
}

#[wasm_bindgen_test]
fn other_code_growing_memory_is_stepped_over() {
    // Someone else grows memory and writes their pages; the allocator must not touch them.
    let theirs = wasm32::memory_grow(0, 2);
    assert_ne!(theirs, usize::MAX);
    let region = (theirs * PAGE) as *mut u8;
    // SAFETY: two pages just grown by this test, used by nothing else.
    unsafe { region.write_bytes(0xEE, 2 * PAGE) };
    // Enough to need new pages.
    let big: Vec<Vec<u8>> = (0..8).map(|i| vec![i as u8; PAGE]).collect();
    for (i, b) in big.iter().enumerate() {
        let (lo, hi) = (b.as_ptr() as usize, b.as_ptr() as usize + b.len());
        assert!(
            hi <= theirs * PAGE || lo >= (theirs + 2) * PAGE,
            "block {i} overlaps the foreign pages"
        );
    }
    // SAFETY: the two pages grown above.
    let ok = unsafe { std::slice::from_raw_parts(region, 2 * PAGE) }
        .iter()
        .all(|&b| b == 0xEE);
    assert!(ok, "the allocator wrote someone else's pages");
    drop(big);
    ALLOC.check().unwrap();
}

/// The allocator's heap names bytes by address (`Addressed`) and has its options as
/// constants (`Production`): the same calls over the same kind of region must give the same
/// layout, block for block, as a heap that names them by offset from its start and was built
/// with those options, and pass the checker after every call.
#[wasm_bindgen_test]
fn a_heap_named_by_address_lays_out_as_one_named_by_offset() {
    use heaptale::allocator::QUICK_MAX;
    use heaptale::policy::block::{Compact, Geometry, Production};
    use heaptale::policy::bt::Bt;
    use heaptale::policy::tlsf::Tlsf;
    use heaptale::source::{Addressed, FixedRegion, Source};
    use heaptale::{BlockInfo, Heap, NoObserver};

    const CAP: usize = 4 * PAGE;
    fn engine<S: Source, G: Geometry>(src: S, g: G) -> Heap<S, Bt<Tlsf, G>> {
        let policy = Bt::new(g, true, Tlsf::new())
            .with_quick_lists(QUICK_MAX)
            .with_top_apart();
        Heap::with_policy(src, policy, NoObserver, None).unwrap()
    }
    fn layout<S: Source, G: Geometry>(h: &Heap<S, Bt<Tlsf, G>>) -> Vec<(usize, u32, bool)> {
        let start = h.start();
        let mut v = Vec::new();
        h.walk(|b: BlockInfo| v.push((h.addr(b.block) - start, b.size, b.used)));
        v
    }
    let region = Layout::from_size_align(CAP, PAGE).unwrap();
    // SAFETY: two fresh regions of CAP bytes, each used only by its heap below.
    let (ra, rb) = unsafe { (std::alloc::alloc(region), std::alloc::alloc(region)) };
    assert!(!ra.is_null() && !rb.is_null());
    let mut by_addr = engine(Addressed(unsafe { FixedRegion::real(ra, CAP) }), Production);
    let mut by_off = engine(unsafe { FixedRegion::real(rb, CAP) }, Compact);
    assert_eq!(by_addr.mem().start() as usize, ra as usize);
    assert_eq!(by_off.mem().start(), 0);

    let mut live: Vec<(usize, usize)> = Vec::new();
    let mut x = 0x9E37_79B9u32;
    for step in 0..4000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let (a, b) = match x % 4 {
            0 | 1 => {
                let size = 1 + (x >> 8) as usize % 700;
                let align = 1usize << ((x >> 20) % 8);
                match (by_addr.memalign(align, size), by_off.memalign(align, size)) {
                    (Ok(a), Ok(b)) => {
                        assert_eq!(a % align, 0);
                        live.push((a, b));
                        (true, true)
                    }
                    (a, b) => (a.is_ok(), b.is_ok()),
                }
            }
            2 if !live.is_empty() => {
                let (a, b) = live.swap_remove((x >> 8) as usize % live.len());
                (by_addr.free(a).is_ok(), by_off.free(b).is_ok())
            }
            _ if !live.is_empty() => {
                let i = (x >> 8) as usize % live.len();
                let size = 1 + (x >> 16) as usize % 2000;
                let (a, b) = live[i];
                match (by_addr.realloc(a, size), by_off.realloc(b, size)) {
                    (Ok(a), Ok(b)) => {
                        live[i] = (a, b);
                        (true, true)
                    }
                    (a, b) => (a.is_ok(), b.is_ok()),
                }
            }
            _ => (true, true),
        };
        assert_eq!(a, b, "step {step}: one heap failed where the other did not");
        by_addr.check().unwrap();
        assert_eq!(layout(&by_addr), layout(&by_off), "step {step}");
    }
    assert!(live
        .iter()
        .all(|&(a, b)| a - ra as usize == b - rb as usize));
    drop((by_addr, by_off));
    // SAFETY: the regions allocated above; their heaps are gone.
    unsafe {
        std::alloc::dealloc(ra, region);
        std::alloc::dealloc(rb, region);
    }
}

/// `alloc_zeroed` writes no zeros over bytes fresh from `memory.grow`, yet every block it
/// hands out is zero: over reused blocks (dirtied first), over new pages (with requests that
/// fill their block to the last word, where the free block they were cut from kept its
/// footer), and after other code grew memory in between.
#[wasm_bindgen_test]
fn alloc_zeroed_blocks_are_zero_where_old_bytes_were_and_on_new_pages() {
    let zeroed = |size: usize, align: usize| {
        let layout = Layout::from_size_align(size, align).unwrap();
        // SAFETY: a non-zero size; freed by the caller with the same layout.
        let p = unsafe { ALLOC.alloc_zeroed(layout) };
        assert!(!p.is_null());
        // SAFETY: `p` holds `size` bytes.
        let bytes = unsafe { std::slice::from_raw_parts_mut(p, size) };
        if let Some(i) = bytes.iter().position(|&b| b != 0) {
            panic!(
                "alloc_zeroed({size}, {align}): byte {i} of {size} is {:#x}",
                bytes[i]
            );
        }
        bytes.fill(0xA5); // dirty, for the blocks that reuse these bytes
        (p, layout)
    };
    // Sizes that fill their block exactly (size + 4 a multiple of 8), small to many pages.
    let mut held = Vec::new();
    for round in 0..3 {
        for (i, &size) in [
            1, 4, 12, 60, 124, 132, 1020, 4092, 65532, 65536, 131068, 200_000, 1_048_572,
        ]
        .iter()
        .enumerate()
        {
            let align = [1, 8, 16, 64, 4096][(i + round) % 5];
            held.push(zeroed(size, align));
        }
        // Free every other one, so the next round reuses dirty bytes as well as new pages.
        let mut k = 0;
        held.retain(|&(p, layout)| {
            k += 1;
            if k % 2 == 0 {
                // SAFETY: allocated above with this layout, freed once.
                unsafe { ALLOC.dealloc(p, layout) };
                false
            } else {
                true
            }
        });
        if round == 1 {
            // Someone else grows memory: the next growth steps over their pages.
            assert_ne!(wasm32::memory_grow(0, 1), usize::MAX);
        }
        // Larger than the whole heap so far, so the heap must grow for it (whatever the
        // tests before this one left free), and filling its block to the last word.
        let heap = ALLOC.stats().heap_bytes as usize;
        held.push(zeroed(((heap + 65536) & !7) + 4, 8));
    }
    for (p, layout) in held {
        // SAFETY: allocated above with this layout, freed once.
        unsafe { ALLOC.dealloc(p, layout) };
    }
    ALLOC.check().unwrap();
}
