//! Exact layouts: small scripts whose every address was worked out by hand from the block
//! format (header 8, alignment 8, minimum block 24, reports from base 0x10000).

#![cfg(feature = "alloc")]

use heaptale::source::Arena;
use heaptale::{Config, Heap, HeapError, Order, PolicyKind};

const BASE: usize = 0x1_0000;

fn heap(policy: PolicyKind, order: Order, coalesce: bool) -> Heap<Arena> {
    let cfg = Config {
        policy,
        order,
        coalesce,
        ..Config::default()
    };
    Heap::new(Arena::new(1 << 20).unwrap(), &cfg).unwrap()
}

/// The blocks as (offset, size, used).
fn blocks(h: &Heap<Arena>) -> Vec<(u32, u32, bool)> {
    let mut v = Vec::new();
    h.walk(|b| v.push((b.block, b.size, b.used)));
    v
}

fn free_list(h: &Heap<Arena>) -> Vec<(u32, u32)> {
    let mut v = Vec::new();
    h.free_lists(|_, b| v.push(b));
    v.into_iter().map(|b| (b, h.mem().size_of(b))).collect()
}

#[test]
fn split_and_coalesce_under_first_fit() {
    let mut h = heap(PolicyKind::First, Order::Addr, true);
    let a = h.malloc(24).unwrap(); // 24 + 8 header = 32-byte block at 0
    let b = h.malloc(40).unwrap(); // 48-byte block at 32
    let c = h.malloc(8).unwrap(); //  8 + 8 = 16 < 24, the minimum block: 24 at 80
    assert_eq!((a, b, c), (BASE + 8, BASE + 40, BASE + 88));
    assert_eq!(h.brk(), BASE + 104);
    h.free(a).unwrap();
    h.free(b).unwrap(); // merges with a's block
    assert_eq!(blocks(&h), vec![(0, 80, false), (80, 24, true)]);
    let d = h.malloc(16).unwrap(); // 24 bytes from the 80-byte block, 56 stay free
    assert_eq!(d, BASE + 8);
    assert_eq!(
        blocks(&h),
        vec![(0, 24, true), (24, 56, false), (80, 24, true)]
    );
    assert_eq!(free_list(&h), vec![(24, 56)]);
    h.check().unwrap();
    h.free(c).unwrap(); // merges with the free block before it; the heap ends free
    h.free(d).unwrap();
    assert_eq!(blocks(&h), vec![(0, 104, false)]);
    assert_eq!(h.brk(), BASE + 104);
    h.check().unwrap();
}

/// Three free blocks A = 0:48, B = 72:112, C = 208:208, separated by 24-byte used blocks;
/// then malloc(60) (a 72-byte block) and malloc(16) (24 bytes). Returns both payloads.
fn fits(policy: PolicyKind, order: Order) -> (usize, usize, Heap<Arena>) {
    let mut h = heap(policy, order, true);
    let x1 = h.malloc(40).unwrap();
    h.malloc(8).unwrap();
    let x2 = h.malloc(100).unwrap();
    h.malloc(8).unwrap();
    let x3 = h.malloc(200).unwrap();
    h.malloc(8).unwrap();
    assert_eq!((x1, x2, x3), (BASE + 8, BASE + 80, BASE + 216));
    assert_eq!(h.brk(), BASE + 440);
    for p in [x1, x2, x3] {
        h.free(p).unwrap();
    }
    let r1 = h.malloc(60).unwrap();
    let r2 = h.malloc(16).unwrap();
    h.check().unwrap();
    (r1, r2, h)
}

#[test]
fn first_fit_takes_the_first_block_that_fits() {
    let (r1, r2, h) = fits(PolicyKind::First, Order::Addr);
    assert_eq!(r1, BASE + 80); // A is too small, B fits: B splits into 72 used + 40 free
    assert_eq!(r2, BASE + 8); // A comes first again and fits
    assert_eq!(free_list(&h), vec![(24, 24), (144, 40), (208, 208)]);
}

#[test]
fn next_fit_goes_on_from_where_it_stopped() {
    let (r1, r2, h) = fits(PolicyKind::Next, Order::Addr);
    assert_eq!(r1, BASE + 80);
    // The search resumes at B's remainder (144:40): a 16-byte tail is too small to split.
    assert_eq!(r2, BASE + 152);
    assert_eq!(free_list(&h), vec![(0, 48), (208, 208)]);
}

#[test]
fn best_fit_takes_the_smallest_block_that_fits() {
    let (r1, r2, h) = fits(PolicyKind::Best, Order::Addr);
    assert_eq!(r1, BASE + 80); // B (112) is the smallest of those >= 72
    assert_eq!(r2, BASE + 152); // 144:40 is smaller than A (48)
    assert_eq!(free_list(&h), vec![(0, 48), (208, 208)]);
}

#[test]
fn worst_fit_takes_the_largest_block() {
    let (r1, r2, h) = fits(PolicyKind::Worst, Order::Addr);
    assert_eq!(r1, BASE + 216); // C splits: 72 used + 136 free at 280
    assert_eq!(r2, BASE + 288); // 280:136 is still the largest
    assert_eq!(free_list(&h), vec![(0, 48), (72, 112), (304, 112)]);
}

#[test]
fn list_orders_change_what_first_fit_finds() {
    // Freed x1, x2, x3 in that order. LIFO: [C, B, A]; FIFO: [A, B, C].
    let (r1, _, h) = fits(PolicyKind::First, Order::Front);
    assert_eq!(r1, BASE + 216);
    // C's remainder 280:136 took C's place at the head, so malloc(16) cut it again.
    assert_eq!(free_list(&h), vec![(304, 112), (72, 112), (0, 48)]);
    let (r1, r2, _) = fits(PolicyKind::First, Order::Back);
    assert_eq!((r1, r2), (BASE + 80, BASE + 8));
    let (r1, _, h) = fits(PolicyKind::First, Order::SizeDesc);
    assert_eq!(r1, BASE + 216);
    // The remainder 304:112 is re-sorted after the block of equal size already there.
    assert_eq!(free_list(&h), vec![(72, 112), (304, 112), (0, 48)]);
    let (r1, r2, h) = fits(PolicyKind::First, Order::SizeAsc);
    assert_eq!((r1, r2), (BASE + 80, BASE + 152)); // ascending first fit is best fit
    assert_eq!(free_list(&h), vec![(0, 48), (208, 208)]);
}

#[test]
fn without_coalescing_neighbours_stay_apart() {
    for coalesce in [true, false] {
        let mut h = heap(PolicyKind::First, Order::Addr, coalesce);
        let a = h.malloc(24).unwrap();
        let b = h.malloc(24).unwrap();
        h.malloc(8).unwrap();
        h.free(a).unwrap();
        h.free(b).unwrap();
        let d = h.malloc(40).unwrap(); // 48 bytes
        h.check().unwrap();
        if coalesce {
            // 0:64 holds it; the 16 left over are too few for a block.
            assert_eq!(d, BASE + 8);
            assert_eq!(blocks(&h), vec![(0, 64, true), (64, 24, true)]);
        } else {
            // Two 32-byte holes, neither fits: the heap grows.
            assert_eq!(d, BASE + 96);
            assert_eq!(
                blocks(&h),
                vec![
                    (0, 32, false),
                    (32, 32, false),
                    (64, 24, true),
                    (88, 48, true)
                ]
            );
        }
    }
}

#[test]
fn tlsf_and_seglist_layouts() {
    for policy in [PolicyKind::Tlsf, PolicyKind::Seglist] {
        let mut h = heap(policy, Order::Addr, true);
        let a = h.malloc(24).unwrap();
        let b = h.malloc(100).unwrap();
        assert_eq!((a, b), (BASE + 8, BASE + 40));
        h.free(a).unwrap();
        // 24 bytes wanted, the 32-byte hole fits and the 8 left are too few to split.
        assert_eq!(h.malloc(16).unwrap(), BASE + 8);
        h.free(b).unwrap(); // the top block is free now
        let c = h.malloc(200).unwrap(); // 208: the free 112 at the top grows by 96
        assert_eq!(c, BASE + 40);
        assert_eq!(h.brk(), BASE + 32 + 208);
        h.check().unwrap();
    }
}

#[test]
fn memalign_leaves_the_lead_gap_free() {
    let mut h = heap(PolicyKind::First, Order::Addr, true);
    let p = h.memalign(4096, 100).unwrap();
    assert_eq!(p, BASE + 4096);
    assert_eq!(blocks(&h), vec![(0, 4088, false), (4088, 112, true)]);
    let q = h.malloc(10).unwrap(); // into the gap
    assert_eq!(q, BASE + 8);
    for align in [1, 2, 4, 8, 16, 64, 1024, 65536] {
        let p = h.memalign(align, 33).unwrap();
        assert_eq!(p % align, 0, "align {align}");
        h.check().unwrap();
    }
    assert_eq!(h.memalign(3, 8), Err(HeapError::BadAlignment { align: 3 }));
    assert_eq!(
        h.memalign(131072, 8),
        Err(HeapError::BadAlignment { align: 131072 })
    );
}

#[test]
fn realloc_grows_in_place_then_moves_with_its_bytes() {
    let mut h = heap(PolicyKind::First, Order::Addr, true);
    let a = h.malloc(24).unwrap();
    h.payload_mut(a).unwrap()[..24].copy_from_slice(&[7u8; 24]);
    // At the top of the heap: the break moves and the block stays.
    let a2 = h.realloc(a, 100).unwrap();
    assert_eq!(a2, a);
    assert_eq!(h.brk(), BASE + 112);
    let b = h.malloc(24).unwrap();
    let c = h.malloc(24).unwrap();
    h.free(c).unwrap();
    // b's free neighbour (c's block and the top) takes the growth.
    assert_eq!(h.realloc(b, 40).unwrap(), b);
    // a cannot grow in place any more: it moves, bytes and all.
    let a3 = h.realloc(a2, 300).unwrap();
    assert_ne!(a3, a2);
    assert_eq!(&h.payload(a3).unwrap()[..24], &[7u8; 24]);
    // Shrinking gives the tail back.
    let a4 = h.realloc(a3, 8).unwrap();
    assert_eq!(a4, a3);
    assert_eq!(h.usable_size(a4).unwrap(), 16);
    h.check().unwrap();
}

#[test]
fn bad_pointers_are_refused_and_change_nothing() {
    let mut h = heap(PolicyKind::First, Order::Addr, true);
    let a = h.malloc(24).unwrap();
    let b = h.malloc(24).unwrap();
    h.free(a).unwrap();
    let before = blocks(&h);
    let cases = [
        (a, HeapError::DoubleFree { addr: a }),
        (b + 8, HeapError::Interior { addr: b + 8 }),
        (b + 1, HeapError::Foreign { addr: b + 1 }),
        (0x1234_5678, HeapError::Foreign { addr: 0x1234_5678 }),
        (BASE - 8, HeapError::Foreign { addr: BASE - 8 }),
    ];
    for (p, e) in cases {
        assert_eq!(h.free(p), Err(e));
        assert_eq!(h.realloc(p, 10), Err(e));
        assert_eq!(blocks(&h), before);
        h.check().unwrap();
    }
    assert_eq!(
        h.free(a).unwrap_err().to_string(),
        format!("double free: the block at {a:#x} is already free")
    );
    assert_eq!(
        h.free(0x1234_5678).unwrap_err().to_string(),
        "invalid pointer 0x12345678: it was not returned by this heap"
    );
    assert_eq!(
        h.free(b + 8).unwrap_err().to_string(),
        format!(
            "invalid pointer {:#x}: it points inside the heap but not at the start of a block",
            b + 8
        )
    );
    assert_eq!(h.free(0), Ok(()), "free(NULL) does nothing");
}

#[test]
fn sizes_that_cannot_be_met() {
    let cfg = Config {
        heap_size: Some(256),
        ..Config::default()
    };
    let mut h = Heap::new(Arena::new(1 << 20).unwrap(), &cfg).unwrap();
    assert_eq!(blocks(&h), vec![(0, 256, false)]);
    let a = h.malloc(100).unwrap();
    let before = blocks(&h);
    assert_eq!(
        h.malloc(200),
        Err(HeapError::OutOfMemory { requested: 200 })
    );
    assert_eq!(
        h.realloc(a, 1000),
        Err(HeapError::OutOfMemory { requested: 1000 })
    );
    assert_eq!(h.calloc(usize::MAX / 2, 3), Err(HeapError::SizeOverflow));
    assert_eq!(h.malloc(usize::MAX), Err(HeapError::SizeOverflow));
    assert_eq!(blocks(&h), before);
    assert_eq!(h.brk(), BASE + 256);
    h.check().unwrap();
    assert_eq!(h.malloc(100).unwrap(), BASE + 120, "the heap still works");
    // A growable heap over a small arena runs out too, and stays usable.
    let mut g = Heap::new(Arena::new(64 * 1024).unwrap(), &Config::default()).unwrap();
    assert!(matches!(
        g.malloc(70_000),
        Err(HeapError::OutOfMemory { .. })
    ));
    assert_eq!(g.brk(), BASE);
    assert_eq!(g.malloc(10).unwrap(), BASE + 8);
}

#[test]
fn calloc_zeroes_reused_memory() {
    let mut h = heap(PolicyKind::First, Order::Addr, true);
    let a = h.malloc(64).unwrap();
    h.payload_mut(a).unwrap().fill(0xAB);
    h.free(a).unwrap();
    let b = h.calloc(8, 8).unwrap();
    assert_eq!(b, a);
    assert!(h.payload(b).unwrap()[..64].iter().all(|&x| x == 0));
}

#[test]
fn bad_knobs_are_refused() {
    for (header, align, msg) in [
        (
            2,
            8,
            "bad configuration: the header must be at least 4 bytes: it holds the block's size",
        ),
        (
            8,
            12,
            "bad configuration: the alignment must be a power of two from 1 to 4096",
        ),
    ] {
        let cfg = Config {
            header,
            align,
            ..Config::default()
        };
        let e = Heap::new(Arena::new(1 << 16).unwrap(), &cfg).err().unwrap();
        assert_eq!(e.to_string(), msg);
    }
}
