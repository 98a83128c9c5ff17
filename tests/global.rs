//! heaptale::Allocator as the real global allocator of this test binary (natively, over a
//! static region): the test harness, its threads and the collections below all run on it.

use heaptale::source::FixedRegion;
use heaptale::Allocator;
use std::alloc::{GlobalAlloc, Layout};
use std::collections::{BTreeMap, HashMap};

const SIZE: usize = 256 << 20;
#[repr(C, align(65536))]
struct Region([u8; SIZE]);
static mut REGION: Region = Region([0; SIZE]);

#[global_allocator]
// SAFETY: REGION is used by nothing else.
static ALLOC: Allocator<FixedRegion> = Allocator::with_source(unsafe {
    FixedRegion::real(core::ptr::addr_of_mut!(REGION).cast(), SIZE)
});

#[test]
fn collections_churn_and_the_heap_stays_sound() {
    let mut map: HashMap<u64, String> = HashMap::new();
    let mut tree: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for i in 0..20_000u64 {
        map.insert(i, format!("value {i}").repeat((i % 7) as usize + 1));
        if i % 3 == 0 {
            map.remove(&(i / 2));
        }
        tree.entry(format!("k{}", i % 500))
            .or_default()
            .push(i as u32);
    }
    for (k, v) in &map {
        assert!(v.starts_with(&format!("value {k}")));
    }
    assert_eq!(tree.values().map(Vec::len).sum::<usize>(), 20_000);
    drop(map);
    drop(tree);
    ALLOC.check().unwrap();
}

#[test]
fn vectors_grow_by_realloc_and_keep_their_bytes() {
    let mut v: Vec<u8> = Vec::new();
    for i in 0..1_000_000u32 {
        v.push(i as u8);
    }
    assert!(v.iter().enumerate().all(|(i, &b)| b == i as u8));
    v.shrink_to(10);
    ALLOC.check().unwrap();
}

#[test]
fn alignments_up_to_a_page() {
    let mut blocks = Vec::new();
    for shift in 0..=16 {
        let layout = Layout::from_size_align(100, 1 << shift).unwrap();
        // SAFETY: a non-zero size; freed below with the same layout.
        let p = unsafe { ALLOC.alloc(layout) };
        assert!(!p.is_null());
        assert_eq!(p as usize % (1 << shift), 0);
        // SAFETY: a fresh block of 100 bytes.
        unsafe { p.write_bytes(0xEE, 100) };
        // Over-aligned realloc keeps the alignment and the bytes.
        // SAFETY: p is live with `layout`.
        let q = unsafe { ALLOC.realloc(p, layout, 5000) };
        assert_eq!(q as usize % (1 << shift), 0);
        // SAFETY: q holds the first 100 bytes of p.
        assert!(unsafe { std::slice::from_raw_parts(q, 100) }
            .iter()
            .all(|&b| b == 0xEE));
        blocks.push((q, Layout::from_size_align(5000, 1 << shift).unwrap()));
    }
    for (p, l) in blocks {
        // SAFETY: allocated above with this layout.
        unsafe { ALLOC.dealloc(p, l) };
    }
    ALLOC.check().unwrap();
}

#[test]
fn impossible_requests_get_null_and_nothing_changes() {
    let layout = Layout::from_size_align(SIZE * 2, 8).unwrap();
    // SAFETY: a valid layout; null is the expected answer.
    let p = unsafe { ALLOC.alloc(layout) };
    assert!(p.is_null());
    ALLOC.check().unwrap();
    let v = vec![1u8; 100];
    assert_eq!(v.iter().map(|&x| x as u32).sum::<u32>(), 100);
}

#[test]
fn threads_share_it_safely() {
    let handles: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                let mut v: Vec<Box<[u64]>> = Vec::new();
                for i in 0..5000usize {
                    v.push(vec![(t * 1000 + i) as u64; i % 50 + 1].into_boxed_slice());
                    if i % 2 == 0 {
                        v.swap_remove(i / 3 % v.len());
                    }
                }
                v.iter().all(|b| b.iter().all(|&x| x == b[0]))
            })
        })
        .collect();
    for h in handles {
        assert!(h.join().unwrap());
    }
    ALLOC.check().unwrap();
}
