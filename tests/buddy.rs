//! The binary buddy policy: exact layouts worked out by hand (header 8, alignment 8, so the
//! first block is at offset 0 and the smallest block is 32 bytes; reports from base 0x10000),
//! growth by doubling the root, fixed heaps cut into trees, every error path, memalign,
//! realloc, and random operation sequences checked against a model.

#![cfg(feature = "alloc")]

use heaptale::event::Recorder;
use heaptale::policy::AnyPolicy;
use heaptale::source::Arena;
use heaptale::{Config, Event, Heap, HeapError, PolicyKind, Stats};
use proptest::prelude::*;

const BASE: usize = 0x1_0000;

fn cfg() -> Config {
    Config {
        policy: PolicyKind::Buddy,
        ..Config::default()
    }
}

fn heap() -> Heap<Arena> {
    Heap::new(Arena::new(1 << 20).unwrap(), &cfg()).unwrap()
}

fn observed(c: &Config, capacity: usize) -> Heap<Arena, AnyPolicy, Recorder> {
    Heap::observed(Arena::new(capacity).unwrap(), c, Recorder::default()).unwrap()
}

/// The blocks as (offset, size, used).
fn blocks<O: heaptale::Observer>(h: &Heap<Arena, AnyPolicy, O>) -> Vec<(u32, u32, bool)> {
    let mut v = Vec::new();
    h.walk(|b| v.push((b.block, b.size, b.used)));
    v
}

/// The free lists as (order, block), in list order.
fn lists<O: heaptale::Observer>(h: &Heap<Arena, AnyPolicy, O>) -> Vec<(usize, u32)> {
    let mut v = Vec::new();
    h.free_lists(|k, b| v.push((k, b)));
    v
}

fn events(h: &mut Heap<Arena, AnyPolicy, Recorder>) -> Vec<Event> {
    std::mem::take(&mut h.observer_mut().events)
}

fn first_block<O: heaptale::Observer>(h: &Heap<Arena, AnyPolicy, O>) -> u32 {
    match h.policy() {
        AnyPolicy::Buddy(b) => b.first(),
        _ => unreachable!("not a buddy heap"),
    }
}

type Snapshot = (Vec<(u32, u32, bool)>, Vec<(usize, u32)>, Stats, usize);

fn snapshot<O: heaptale::Observer>(h: &Heap<Arena, AnyPolicy, O>) -> Snapshot {
    (blocks(h), lists(h), h.stats(), h.brk())
}

#[test]
fn a_small_script_by_hand() {
    let mut h = observed(&cfg(), 1 << 20);
    assert_eq!(h.layout().min_block, 32);
    assert_eq!((h.brk(), blocks(&h)), (BASE, vec![]));

    // 24 + 8 = 32 bytes: order 5. The first growth makes a root of exactly that.
    let a = h.malloc(24).unwrap();
    assert_eq!(a, BASE + 8);
    assert_eq!(h.brk(), BASE + 32);
    assert_eq!(blocks(&h), vec![(0, 32, true)]);
    assert_eq!(
        events(&mut h),
        vec![
            Event::Grow {
                old_brk: 0,
                new_brk: 32,
                pages: 1
            },
            Event::Alloc {
                block: 0,
                size: 32,
                request: 24,
                probes: 1
            }
        ]
    );

    // No free block: the heap grows by the root's size; the new half is a's buddy.
    let b = h.malloc(24).unwrap();
    assert_eq!(b, BASE + 0x28);
    assert_eq!(h.brk(), BASE + 64);
    assert_eq!(blocks(&h), vec![(0, 32, true), (32, 32, true)]);
    assert_eq!(
        events(&mut h),
        vec![
            Event::Grow {
                old_brk: 32,
                new_brk: 64,
                pages: 0
            },
            Event::Alloc {
                block: 32,
                size: 32,
                request: 24,
                probes: 1
            }
        ]
    );

    h.free(a).unwrap();
    assert_eq!(blocks(&h), vec![(0, 32, false), (32, 32, true)]);
    assert_eq!(lists(&h), vec![(5, 0)]);
    h.free(b).unwrap(); // merges with its buddy: one free 64-byte root
    assert_eq!(blocks(&h), vec![(0, 64, false)]);
    assert_eq!(lists(&h), vec![(6, 0)]);
    assert_eq!(
        events(&mut h),
        vec![
            Event::Free { block: 0, size: 32 },
            Event::Free {
                block: 32,
                size: 32
            },
            Event::Coalesce {
                block: 0,
                absorbed: 32,
                size: 64
            }
        ]
    );
    h.check().unwrap();

    // 100 + 8 = 108: order 7. The free root (order 6) doubles and merges with its new half.
    let c = h.malloc(100).unwrap();
    assert_eq!(c, BASE + 8);
    assert_eq!(h.brk(), BASE + 128);
    assert_eq!(blocks(&h), vec![(0, 128, true)]);
    assert_eq!(
        events(&mut h),
        vec![
            Event::Grow {
                old_brk: 64,
                new_brk: 128,
                pages: 0
            },
            Event::Coalesce {
                block: 0,
                absorbed: 64,
                size: 128
            },
            Event::Alloc {
                block: 0,
                size: 128,
                request: 100,
                probes: 1
            }
        ]
    );

    // 8 + 8 = 16 < 32: order 5. The root (used, order 7) doubles; the new 128-byte half is
    // split twice.
    let d = h.malloc(8).unwrap();
    assert_eq!(d, BASE + 128 + 8);
    assert_eq!(h.brk(), BASE + 256);
    assert_eq!(
        blocks(&h),
        vec![
            (0, 128, true),
            (128, 32, true),
            (160, 32, false),
            (192, 64, false)
        ]
    );
    assert_eq!(lists(&h), vec![(5, 160), (6, 192)]);
    assert_eq!(
        events(&mut h),
        vec![
            Event::Grow {
                old_brk: 128,
                new_brk: 256,
                pages: 0
            },
            Event::Split {
                block: 128,
                size: 64,
                rest: 192,
                rest_size: 64
            },
            Event::Split {
                block: 128,
                size: 32,
                rest: 160,
                rest_size: 32
            },
            Event::Alloc {
                block: 128,
                size: 32,
                request: 8,
                probes: 1
            }
        ]
    );

    // 40 + 8 = 48: order 6, the free block at 192.
    let e = h.malloc(40).unwrap();
    assert_eq!(e, BASE + 192 + 8);
    assert_eq!(lists(&h), vec![(5, 160)]);

    // A 64-aligned payload cannot sit right after an 8-byte header in a block aligned to 64:
    // it goes 64 bytes in, with the back-offset word before it. 64 + 1 bytes: order 7.
    let f = h.memalign(64, 1).unwrap();
    assert_eq!(f, BASE + 256 + 64);
    assert_eq!(h.brk(), BASE + 512);
    assert_eq!(h.usable_size(f), Ok(64));
    let mut infos = Vec::new();
    h.walk(|b| infos.push(b));
    let fb = infos.iter().find(|b| b.block == 256).unwrap();
    assert_eq!((fb.size, fb.header, fb.used), (128, 64, true));
    assert_eq!(
        blocks(&h),
        vec![
            (0, 128, true),
            (128, 32, true),
            (160, 32, false),
            (192, 64, true),
            (256, 128, true),
            (384, 128, false)
        ]
    );
    // The header word and the back-offset word, byte for byte.
    assert_eq!(h.bytes(BASE + 256, 4), &[7, 0x80 | 6, 0xDD, 0xB0]);
    assert_eq!(h.bytes(f - 4, 4), &0xBAC0_0040u32.to_le_bytes());
    h.check().unwrap();

    // Free everything: all the way back to one free root.
    for p in [c, d, e, f] {
        h.free(p).unwrap();
        h.check().unwrap();
    }
    assert_eq!(blocks(&h), vec![(0, 512, false)]);
    assert_eq!(lists(&h), vec![(9, 0)]);
    assert_eq!(h.brk(), BASE + 512);
}

#[test]
fn header_bytes_of_used_and_free_blocks() {
    let mut h = heap();
    let a = h.malloc(24).unwrap();
    let b = h.malloc(24).unwrap();
    // Used, order 5: 05 80 DD B0, then the check tag.
    assert_eq!(h.bytes(BASE, 4), &[5, 0x80, 0xDD, 0xB0]);
    h.free(a).unwrap();
    // Free, order 5: 05 00 DD B0; the links follow the header (no neighbours: NIL both).
    assert_eq!(h.bytes(BASE, 4), &[5, 0, 0xDD, 0xB0]);
    assert_eq!(h.bytes(BASE + 8, 8), &[0xFF; 8]);
    let _ = b;
}

#[test]
fn growth_doubles_the_root() {
    let mut h = observed(&cfg(), 1 << 20);
    let mut brks = Vec::new();
    for _ in 0..5 {
        h.malloc(24).unwrap();
        brks.push(h.brk() - BASE);
    }
    // 32; doubled to 64; doubled to 128 (the new 64 split: one 32 used, one free); the free
    // 32 at 96 is used; doubled to 256.
    assert_eq!(brks, vec![32, 64, 128, 128, 256]);
    assert_eq!(
        blocks(&h),
        vec![
            (0, 32, true),
            (32, 32, true),
            (64, 32, true),
            (96, 32, true),
            (128, 32, true),
            (160, 32, false),
            (192, 64, false)
        ]
    );
    h.check().unwrap();

    // Several doublings in one growth: from a used 1 KiB root to a 16 KiB one for a block of
    // 8 KiB (5000 + 8 bytes), in one call to grow.
    let mut h = observed(&cfg(), 1 << 20);
    h.malloc(1000).unwrap();
    assert_eq!(h.brk(), BASE + 1024);
    events(&mut h);
    let p = h.malloc(5000).unwrap();
    assert_eq!(p, BASE + 8192 + 8);
    assert_eq!(h.brk(), BASE + 16384);
    assert_eq!(
        blocks(&h),
        vec![
            (0, 1024, true),
            (1024, 1024, false),
            (2048, 2048, false),
            (4096, 4096, false),
            (8192, 8192, true)
        ]
    );
    assert_eq!(lists(&h), vec![(10, 1024), (11, 2048), (12, 4096)]);
    assert_eq!(
        events(&mut h),
        vec![
            Event::Grow {
                old_brk: 1024,
                new_brk: 16384,
                pages: 0
            },
            Event::Alloc {
                block: 8192,
                size: 8192,
                request: 5000,
                probes: 1
            }
        ]
    );
    h.check().unwrap();

    // A free root merges with every new half.
    let mut h = observed(&cfg(), 1 << 20);
    let a = h.malloc(24).unwrap();
    h.free(a).unwrap();
    events(&mut h);
    h.malloc(200).unwrap(); // 208: order 8; the free root of order 5 doubles three times
    assert_eq!(h.brk(), BASE + 256);
    assert_eq!(blocks(&h), vec![(0, 256, true)]);
    assert_eq!(
        events(&mut h),
        vec![
            Event::Grow {
                old_brk: 32,
                new_brk: 256,
                pages: 0
            },
            Event::Coalesce {
                block: 0,
                absorbed: 32,
                size: 64
            },
            Event::Coalesce {
                block: 0,
                absorbed: 64,
                size: 128
            },
            Event::Coalesce {
                block: 0,
                absorbed: 128,
                size: 256
            },
            Event::Alloc {
                block: 0,
                size: 256,
                request: 200,
                probes: 1
            }
        ]
    );

    // Growth counts the 64 KiB pages the memory underneath gained.
    let mut h = observed(&cfg(), 1 << 20);
    h.malloc(60_000).unwrap(); // 65 536
    h.malloc(60_000).unwrap(); // the root doubles to 128 KiB: one more page
    let grows: Vec<Event> = events(&mut h)
        .into_iter()
        .filter(|e| matches!(e, Event::Grow { .. }))
        .collect();
    assert_eq!(
        grows,
        vec![
            Event::Grow {
                old_brk: 0,
                new_brk: 65536,
                pages: 1
            },
            Event::Grow {
                old_brk: 65536,
                new_brk: 131072,
                pages: 1
            }
        ]
    );
}

#[test]
fn other_header_and_alignment_knobs() {
    // Header 4, align 8: the first payload must be 8-aligned, so the first block is at 4;
    // the smallest block is 16 (a header and two links fit in 12).
    let c = Config {
        header: 4,
        align: 8,
        ..cfg()
    };
    let mut h = Heap::new(Arena::new(1 << 20).unwrap(), &c).unwrap();
    assert_eq!(h.layout().min_block, 16);
    assert_eq!(first_block(&h), 4);
    let a = h.malloc(1).unwrap();
    assert_eq!((a, h.brk()), (BASE + 8, BASE + 20));
    let b = h.malloc(12).unwrap(); // 16 bytes: the buddy at 4 + 16
    assert_eq!((b, h.brk()), (BASE + 24, BASE + 36));
    let m = h.memalign(16, 4).unwrap();
    assert_eq!(m % 16, 0);
    h.check().unwrap();
    for p in [a, b, m] {
        h.free(p).unwrap();
        h.check().unwrap();
    }
    assert_eq!(blocks(&h).len(), 1);

    // Header 16, align 16: blocks at 0, 32 bytes at least (round_up(16 + 12, 16) = 32, the
    // boundary-tag minimum, is already a power of two).
    let c = Config {
        header: 16,
        align: 16,
        ..cfg()
    };
    let mut h = Heap::new(Arena::new(1 << 20).unwrap(), &c).unwrap();
    assert_eq!(h.layout().min_block, 32);
    let a = h.malloc(16).unwrap();
    assert_eq!((a, h.brk()), (BASE + 16, BASE + 32));
    // A 16-aligned request needs no offset payload: the header is 16 bytes already.
    let b = h.memalign(16, 16).unwrap();
    assert_eq!(b, BASE + 48);
    let mut headers = Vec::new();
    h.walk(|b| headers.push(b.header));
    assert_eq!(headers, vec![16, 16]);
    h.check().unwrap();

    // Header 12, align 4: payload offsets stay 12, blocks start at 0, smallest 32.
    let c = Config {
        header: 12,
        align: 4,
        ..cfg()
    };
    let mut h = Heap::new(Arena::new(1 << 20).unwrap(), &c).unwrap();
    assert_eq!(h.layout().min_block, 32);
    let a = h.malloc(20).unwrap();
    let b = h.malloc(21).unwrap(); // 33 bytes: order 6
    assert_eq!((a, b), (BASE + 12, BASE + 64 + 12));
    assert_eq!(
        blocks(&h),
        vec![(0, 32, true), (32, 32, false), (64, 64, true)]
    );
    h.check().unwrap();
}

#[test]
fn fixed_heaps_are_cut_into_trees() {
    let c = Config {
        heap_size: Some(100_000),
        ..cfg()
    };
    let h = Heap::new(Arena::new(1 << 20).unwrap(), &c).unwrap();
    assert_eq!(
        blocks(&h),
        vec![
            (0, 65536, false),
            (65536, 32768, false),
            (98304, 1024, false),
            (99328, 512, false),
            (99840, 128, false),
            (99968, 32, false)
        ]
    );
    assert_eq!(
        lists(&h),
        vec![
            (5, 99968),
            (7, 99840),
            (9, 99328),
            (10, 98304),
            (15, 65536),
            (16, 0)
        ]
    );
    h.check().unwrap();

    // 1000 bytes: 992 in trees of 512, 256, 128, 64 and 32; the last 8 bytes stay unused.
    let c = Config {
        heap_size: Some(1000),
        ..cfg()
    };
    let mut h = observed(&c, 1 << 16);
    let initial = blocks(&h);
    assert_eq!(
        initial,
        vec![
            (0, 512, false),
            (512, 256, false),
            (768, 128, false),
            (896, 64, false),
            (960, 32, false)
        ]
    );
    assert_eq!(h.brk(), BASE + 1000);
    let before = snapshot(&h);
    assert_eq!(
        h.malloc(600),
        Err(HeapError::OutOfMemory { requested: 600 })
    );
    assert_eq!(snapshot(&h), before);
    let a = h.malloc(500).unwrap(); // 508: the 512 tree
    assert_eq!(a, BASE + 8);
    let b = h.malloc(100).unwrap(); // 108: the 128 tree
    assert_eq!(b, BASE + 768 + 8);
    let c2 = h.malloc(100).unwrap(); // 108: the 256 tree, split
    assert_eq!(c2, BASE + 512 + 8);
    let before = snapshot(&h);
    events(&mut h);
    assert_eq!(
        h.malloc(300),
        Err(HeapError::OutOfMemory { requested: 300 })
    );
    assert_eq!(
        h.memalign(512, 1),
        Err(HeapError::OutOfMemory { requested: 1 })
    );
    assert_eq!(
        h.realloc(b, 200),
        Err(HeapError::OutOfMemory { requested: 200 })
    );
    assert_eq!(snapshot(&h), before);
    assert!(events(&mut h).iter().all(|e| matches!(e, Event::Error(_))));
    h.check().unwrap();
    // Blocks never merge across trees: freeing everything gives the trees back.
    for p in [a, b, c2] {
        h.free(p).unwrap();
        h.check().unwrap();
    }
    assert_eq!(blocks(&h), initial);
    // The unused tail is neither a block nor a payload.
    assert_eq!(
        h.free(BASE + 992 + 8),
        Err(HeapError::Foreign {
            addr: BASE + 992 + 8
        })
    );

    // Too small for even one block: every request fails, cleanly.
    let c = Config {
        heap_size: Some(20),
        ..cfg()
    };
    let mut h = Heap::new(Arena::new(1 << 16).unwrap(), &c).unwrap();
    assert_eq!(blocks(&h), vec![]);
    assert_eq!(h.malloc(1), Err(HeapError::OutOfMemory { requested: 1 }));
    h.check().unwrap();
}

#[test]
fn out_of_memory_leaves_the_heap_unchanged() {
    // A 64 KiB arena: the root can reach 64 KiB and no further.
    let mut h = observed(&cfg(), 1 << 16);
    let a = h.malloc(30_000).unwrap(); // 32 KiB
    let b = h.malloc(10).unwrap(); // the root doubles to 64 KiB
    assert_eq!(h.brk(), BASE + 65536);
    let before = snapshot(&h);
    events(&mut h);
    assert_eq!(
        h.malloc(20_000),
        Err(HeapError::OutOfMemory { requested: 20_000 })
    );
    assert_eq!(snapshot(&h), before);
    assert_eq!(
        h.realloc(a, 40_000),
        Err(HeapError::OutOfMemory { requested: 40_000 })
    );
    assert_eq!(snapshot(&h), before);
    assert_eq!(
        h.memalign(65536, 1),
        Err(HeapError::OutOfMemory { requested: 1 })
    );
    assert_eq!(snapshot(&h), before);
    assert_eq!(
        events(&mut h),
        vec![
            Event::Error(HeapError::OutOfMemory { requested: 20_000 }),
            Event::Error(HeapError::OutOfMemory { requested: 40_000 }),
            Event::Error(HeapError::OutOfMemory { requested: 1 })
        ]
    );
    h.check().unwrap();
    // The old block is intact and still usable.
    assert_eq!(h.usable_size(a), Ok(32768 - 8));
    h.free(a).unwrap();
    h.free(b).unwrap();
    assert_eq!(blocks(&h), vec![(0, 65536, false)]);

    // A whole-heap block growing in place at the root: the same failure, the same heap.
    let mut h = heap_with(1 << 16);
    let a = h.malloc(40_000).unwrap();
    let before = snapshot(&h);
    assert_eq!(
        h.realloc(a, 70_000),
        Err(HeapError::OutOfMemory { requested: 70_000 })
    );
    assert_eq!(snapshot(&h), before);
    h.check().unwrap();

    // Sizes no block can ever hold are size overflows.
    let mut h = heap();
    let before = snapshot(&h);
    for n in [usize::MAX, usize::MAX / 4, 1 << 30, (1 << 30) - 7] {
        assert_eq!(h.malloc(n), Err(HeapError::SizeOverflow), "{n}");
    }
    assert_eq!(h.calloc(1 << 20, 1 << 20), Err(HeapError::SizeOverflow));
    assert_eq!(snapshot(&h), before);
    // The largest block possible is still out of memory here.
    assert_eq!(
        h.malloc((1 << 30) - 8),
        Err(HeapError::OutOfMemory {
            requested: (1 << 30) - 8
        })
    );
    let p = h.malloc(8).unwrap();
    assert_eq!(h.realloc(p, 1 << 30), Err(HeapError::SizeOverflow));
    assert_eq!(h.usable_size(p), Ok(24));
    h.check().unwrap();
}

fn heap_with(capacity: usize) -> Heap<Arena> {
    Heap::new(Arena::new(capacity).unwrap(), &cfg()).unwrap()
}

#[test]
fn every_bad_pointer_is_refused() {
    let mut h = observed(&cfg(), 1 << 20);
    let a = h.malloc(24).unwrap();
    let b = h.malloc(100).unwrap();
    let m = h.memalign(256, 10).unwrap();
    h.free(a).unwrap();
    let before = snapshot(&h);
    events(&mut h);
    let cases = [
        (a, HeapError::DoubleFree { addr: a }),
        (b + 8, HeapError::Interior { addr: b + 8 }),
        (b + 16, HeapError::Interior { addr: b + 16 }),
        (b + 4, HeapError::Foreign { addr: b + 4 }), // not 8-aligned
        (b + 1, HeapError::Foreign { addr: b + 1 }),
        (m + 8, HeapError::Interior { addr: m + 8 }),
        (m - 8, HeapError::Interior { addr: m - 8 }),
        (BASE, HeapError::Foreign { addr: BASE }), // a header, not a payload
        (BASE - 8, HeapError::Foreign { addr: BASE - 8 }),
        (8, HeapError::Foreign { addr: 8 }),
        (h.brk(), HeapError::Foreign { addr: h.brk() }),
        (
            h.brk() + 4096,
            HeapError::Foreign {
                addr: h.brk() + 4096,
            },
        ),
        (
            usize::MAX - 7,
            HeapError::Foreign {
                addr: usize::MAX - 7,
            },
        ),
    ];
    for (p, e) in cases {
        assert_eq!(h.free(p), Err(e), "free({p:#x})");
        assert_eq!(h.realloc(p, 10), Err(e), "realloc({p:#x})");
        if !matches!(e, HeapError::DoubleFree { .. }) {
            assert_eq!(h.usable_size(p), Err(e), "usable_size({p:#x})");
        }
        assert_eq!(snapshot(&h), before, "free({p:#x}) changed the heap");
        h.check().unwrap();
    }
    let n = events(&mut h).len();
    assert!(
        n >= 2 * cases.len(),
        "every failure is reported as an event"
    );

    for align in [0, 3, 24, 1 << 17, usize::MAX] {
        assert_eq!(h.memalign(align, 8), Err(HeapError::BadAlignment { align }));
    }
    assert_eq!(snapshot(&h), before);

    // An over-aligned block freed twice; a block freed and merged into its buddy, twice.
    h.free(m).unwrap();
    assert_eq!(h.free(m), Err(HeapError::DoubleFree { addr: m }));
    let x = h.malloc(24).unwrap(); // takes a's old block
    assert_eq!(x, a);
    let y = h.malloc(24).unwrap(); // its buddy
    h.free(x).unwrap();
    h.free(y).unwrap(); // y merges into x's block
    assert_eq!(h.free(y), Err(HeapError::DoubleFree { addr: y }));
    assert_eq!(h.free(x), Err(HeapError::DoubleFree { addr: x }));
    h.check().unwrap();
    // free(NULL) does nothing.
    h.free(0).unwrap();
}

#[test]
fn header_4_refuses_pointers_without_a_tag() {
    let c = Config {
        header: 4,
        align: 4,
        ..cfg()
    };
    let mut h = Heap::new(Arena::new(1 << 20).unwrap(), &c).unwrap();
    let a = h.malloc(40).unwrap();
    let b = h.memalign(64, 8).unwrap();
    let before = snapshot(&h);
    assert_eq!(h.free(a + 4), Err(HeapError::Interior { addr: a + 4 }));
    assert_eq!(h.free(a + 12), Err(HeapError::Interior { addr: a + 12 }));
    assert_eq!(h.free(b + 4), Err(HeapError::Interior { addr: b + 4 }));
    assert_eq!(h.free(b - 4), Err(HeapError::Interior { addr: b - 4 }));
    assert_eq!(snapshot(&h), before);
    h.free(b).unwrap();
    assert_eq!(h.free(b), Err(HeapError::DoubleFree { addr: b }));
    h.free(a).unwrap();
    assert_eq!(h.free(a), Err(HeapError::DoubleFree { addr: a }));
    h.check().unwrap();
}

#[test]
fn memalign_from_16_to_64k() {
    for align in (4..=16).map(|s| 1usize << s) {
        let mut h = heap_with(1 << 20);
        let p = h.memalign(align, 8).unwrap();
        assert_eq!(p % align, 0, "align {align}");
        assert!(h.usable_size(p).unwrap() >= 8);
        // On a fresh heap: a block of order log2(align) or one more, at 0; the payload at
        // `align` bytes in (16: the header is 8, so 16 bytes in), in the first block.
        let want = if align == 16 { BASE + 16 } else { BASE + align };
        assert_eq!(p, want, "align {align}");
        h.payload_mut(p).unwrap().fill(0xAB);
        // Neighbours are untouched by payload writes.
        let q = h.malloc(8).unwrap();
        h.payload_mut(q).unwrap().fill(0xCD);
        assert!(h.payload(p).unwrap().iter().all(|&x| x == 0xAB));
        h.check().unwrap();
        h.free(p).unwrap();
        h.free(q).unwrap();
        h.check().unwrap();
        assert_eq!(blocks(&h).len(), 1, "align {align}: everything merged back");
    }
    // Sizes around the alignment, mixed with small blocks, under several knobs.
    for (header, knob) in [(8, 8), (4, 4), (4, 8), (12, 4), (16, 16), (8, 1), (24, 64)] {
        let c = Config {
            header,
            align: knob,
            ..cfg()
        };
        let mut h = Heap::new(Arena::new(8 << 20).unwrap(), &c).unwrap();
        let mut live = Vec::new();
        for s in 0..=16 {
            for size in [0, 1, 7, 100, 1 << s] {
                let p = h.memalign(1 << s, size).unwrap();
                assert_eq!(
                    p % (1 << s),
                    0,
                    "header {header} align knob {knob}: memalign({}, {size})",
                    1 << s
                );
                assert!(h.usable_size(p).unwrap() >= size);
                h.check().unwrap();
                live.push(p);
                live.push(h.malloc(size % 50).unwrap());
            }
        }
        for (i, p) in live.iter().enumerate() {
            if i % 3 != 0 {
                h.free(*p).unwrap();
            }
        }
        h.check().unwrap();
        for (i, p) in live.iter().enumerate() {
            if i % 3 == 0 {
                h.free(*p).unwrap();
            }
        }
        h.check().unwrap();
        assert_eq!(blocks(&h).len(), 1, "header {header} align knob {knob}");
    }
}

#[test]
fn realloc_in_place_and_moving() {
    let mut h = observed(&cfg(), 1 << 20);
    let a = h.malloc(24).unwrap();
    h.payload_mut(a).unwrap().copy_from_slice(&[7; 24]);
    events(&mut h);
    // The only block is the root: it grows in place by doubling the heap.
    assert_eq!(h.realloc(a, 50), Ok(a));
    assert_eq!(h.brk(), BASE + 64);
    assert_eq!(blocks(&h), vec![(0, 64, true)]);
    assert_eq!(
        events(&mut h),
        vec![
            Event::Grow {
                old_brk: 32,
                new_brk: 64,
                pages: 0
            },
            Event::Coalesce {
                block: 0,
                absorbed: 32,
                size: 64
            },
            Event::Realloc {
                old: 0,
                new: 0,
                size: 64,
                in_place: true
            }
        ]
    );
    assert_eq!(&h.payload(a).unwrap()[..24], &[7; 24]);

    let b = h.malloc(24).unwrap();
    assert_eq!(b, BASE + 64 + 8);
    assert_eq!(
        blocks(&h),
        vec![(0, 64, true), (64, 32, true), (96, 32, false)]
    );
    events(&mut h);
    // b absorbs its free upper buddy.
    assert_eq!(h.realloc(b, 50), Ok(b));
    assert_eq!(blocks(&h), vec![(0, 64, true), (64, 64, true)]);
    assert_eq!(
        events(&mut h),
        vec![
            Event::Coalesce {
                block: 64,
                absorbed: 96,
                size: 64
            },
            Event::Realloc {
                old: 64,
                new: 64,
                size: 64,
                in_place: true
            }
        ]
    );
    h.payload_mut(b).unwrap()[..50].copy_from_slice(&[9; 50]);

    // a's buddy (b) is used: a moves, with its 56 usable bytes.
    h.payload_mut(a).unwrap().copy_from_slice(&[3; 56]);
    let a2 = h.realloc(a, 100).unwrap();
    assert_eq!(a2, BASE + 128 + 8);
    assert_eq!(&h.payload(a2).unwrap()[..56], &[3; 56]);
    assert_eq!(
        blocks(&h),
        vec![(0, 64, false), (64, 64, true), (128, 128, true)]
    );
    let ev = events(&mut h);
    assert_eq!(
        ev.first(),
        Some(&Event::Grow {
            old_brk: 128,
            new_brk: 256,
            pages: 0
        })
    );
    assert_eq!(
        ev.last(),
        Some(&Event::Realloc {
            old: 0,
            new: 128,
            size: 128,
            in_place: false
        })
    );
    assert!(ev.contains(&Event::Free { block: 0, size: 64 }));

    // Shrinking gives the upper halves back.
    assert_eq!(h.realloc(a2, 10), Ok(a2));
    assert_eq!(
        blocks(&h),
        vec![
            (0, 64, false),
            (64, 64, true),
            (128, 32, true),
            (160, 32, false),
            (192, 64, false)
        ]
    );
    assert_eq!(
        events(&mut h),
        vec![
            Event::Split {
                block: 128,
                size: 64,
                rest: 192,
                rest_size: 64
            },
            Event::Split {
                block: 128,
                size: 32,
                rest: 160,
                rest_size: 32
            },
            Event::Realloc {
                old: 128,
                new: 128,
                size: 32,
                in_place: true
            }
        ]
    );
    assert_eq!(&h.payload(a2).unwrap()[..10], &[3; 10]);
    assert_eq!(&h.payload(b).unwrap()[..50], &[9; 50]);
    h.check().unwrap();

    // Growing in place across several levels: 32 -> 128 needs the 32 and the 64 above it.
    assert_eq!(h.realloc(a2, 120), Ok(a2));
    assert_eq!(
        blocks(&h),
        vec![(0, 64, false), (64, 64, true), (128, 128, true)]
    );
    // b (at 64) is an upper buddy: blocks only grow upwards, so it moves.
    let b2 = h.realloc(b, 100).unwrap();
    assert_ne!(b2, b);
    assert_eq!(&h.payload(b2).unwrap()[..50], &[9; 50]);
    h.check().unwrap();

    // realloc(NULL, n) is malloc; realloc(p, 0) keeps the smallest block.
    let c = h.realloc(0, 5).unwrap();
    assert_eq!(h.realloc(c, 0), Ok(c));
    assert_eq!(h.usable_size(c), Ok(24));
    h.check().unwrap();
}

#[test]
fn realloc_keeps_an_over_aligned_payload_in_place() {
    let mut h = heap();
    let p = h.memalign(4096, 100).unwrap();
    assert_eq!(p, BASE + 4096);
    for (i, x) in h.payload_mut(p).unwrap()[..100].iter_mut().enumerate() {
        *x = i as u8;
    }
    // Order 13 (4096 + 100 bytes); shrinking to 20 bytes keeps order 13 (the payload is
    // 4096 bytes in), growing to 4000 bytes too.
    assert_eq!(h.realloc(p, 20), Ok(p));
    assert_eq!(h.realloc(p, 4000), Ok(p));
    assert_eq!(h.usable_size(p), Ok(4096));
    // Past the block: it grows in place at the root.
    assert_eq!(h.realloc(p, 5000), Ok(p));
    assert_eq!(h.usable_size(p), Ok(16384 - 4096));
    h.check().unwrap();
    // A block after it forces a move; the moved block is an ordinary one.
    let q = h.malloc(8).unwrap();
    let p2 = h.realloc(p, 20_000).unwrap();
    assert_ne!(p2, p);
    assert!(h.payload(p2).unwrap()[..100]
        .iter()
        .enumerate()
        .all(|(i, &x)| x == i as u8));
    h.check().unwrap();
    h.free(p2).unwrap();
    h.free(q).unwrap();
    h.check().unwrap();
    assert_eq!(blocks(&h).len(), 1);
}

#[test]
fn calloc_zeroes_reused_memory() {
    let mut h = heap();
    let a = h.malloc(100).unwrap();
    h.payload_mut(a).unwrap().fill(0xEE);
    h.free(a).unwrap();
    let b = h.calloc(10, 10).unwrap();
    assert_eq!(b, a);
    assert!(h.payload(b).unwrap()[..100].iter().all(|&x| x == 0));
}

// ---- random sequences against a model ----

#[derive(Clone, Debug)]
enum Op {
    Malloc(usize),
    Memalign(u32, usize),
    Calloc(usize, usize),
    Realloc(usize, usize),
    Free(usize),
    DoubleFree(usize),
    Interior(usize, usize),
}

fn size() -> impl Strategy<Value = usize> {
    prop_oneof![6 => 0usize..64, 3 => 0usize..700, 1 => 0usize..9000, 1 => Just(1usize << 30)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => size().prop_map(Op::Malloc),
        2 => (0u32..17, 0usize..300).prop_map(|(a, s)| Op::Memalign(a, s)),
        1 => (0usize..20, 0usize..40).prop_map(|(n, s)| Op::Calloc(n, s)),
        3 => (any::<usize>(), size()).prop_map(|(i, s)| Op::Realloc(i, s)),
        5 => any::<usize>().prop_map(Op::Free),
        1 => any::<usize>().prop_map(Op::DoubleFree),
        1 => (any::<usize>(), 1usize..64).prop_map(|(i, d)| Op::Interior(i, d)),
    ]
}

fn config() -> impl Strategy<Value = Config> {
    let header = proptest::sample::select(vec![4u32, 8, 12, 16, 24]);
    let align = proptest::sample::select(vec![1u32, 2, 4, 8, 16, 64]);
    let heap_size = proptest::option::weighted(0.3, 64u32..200_000);
    (header, align, heap_size).prop_map(|(header, align, heap_size)| Config {
        header,
        align,
        heap_size,
        ..cfg()
    })
}

struct Live {
    addr: usize,
    len: usize,
    seed: u8,
}

fn fill(h: &mut Heap<Arena>, l: &Live) {
    for (i, b) in h.payload_mut(l.addr).unwrap()[..l.len]
        .iter_mut()
        .enumerate()
    {
        *b = l.seed.wrapping_add(i as u8);
    }
}

fn intact(h: &Heap<Arena>, l: &Live, len: usize) -> bool {
    h.payload(l.addr).unwrap()[..len]
        .iter()
        .enumerate()
        .all(|(i, &b)| b == l.seed.wrapping_add(i as u8))
}

/// The buddy invariants seen from outside: sizes are powers of two, blocks aligned to their
/// size (from the first block), tiling without gaps, no two free buddies of one order, the
/// free lists hold each free block once under its order.
fn outside_view(h: &Heap<Arena>, fixed: bool) -> Result<(), TestCaseError> {
    let first = first_block(h);
    let mut all = Vec::new();
    h.walk(|b| all.push(b));
    let mut at = first;
    for (i, b) in all.iter().enumerate() {
        prop_assert_eq!(b.block, at, "blocks tile the heap");
        prop_assert!(b.size.is_power_of_two() && b.size >= h.layout().min_block);
        prop_assert_eq!((b.block - first) % b.size, 0, "aligned to its size");
        if let Some(n) = all.get(i + 1) {
            let buddies =
                (b.block - first) & b.size == 0 && n.block == b.block + b.size && n.size == b.size;
            prop_assert!(
                !(buddies && !b.used && !n.used),
                "free buddies at {:#x}",
                b.block
            );
        }
        at += b.size;
    }
    if !fixed {
        prop_assert_eq!(
            h.brk() - h.start(),
            if all.is_empty() { 0 } else { at as usize }
        );
        prop_assert!(
            all.is_empty() || (at - first).is_power_of_two(),
            "a growable heap is one tree"
        );
    }
    let mut listed = Vec::new();
    h.free_lists(|k, b| listed.push((b, k)));
    listed.sort();
    let free: Vec<(u32, usize)> = all
        .iter()
        .filter(|b| !b.used)
        .map(|b| (b.block, b.size.trailing_zeros() as usize))
        .collect();
    prop_assert_eq!(listed, free);
    Ok(())
}

fn run(cfg: Config, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut h = Heap::new(Arena::new(2 << 20).unwrap(), &cfg).unwrap();
    let fixed = cfg.heap_size.is_some();
    let mut live: Vec<Live> = Vec::new();
    let mut dead: Vec<usize> = Vec::new();
    let mut seed = 0u8;
    for (step, op) in ops.into_iter().enumerate() {
        seed = seed.wrapping_add(41);
        let before = snapshot(&h);
        let result: Result<(), HeapError> = match op {
            Op::Malloc(_) | Op::Memalign(..) | Op::Calloc(..) => {
                let (r, align, len) = match op {
                    Op::Malloc(n) => (h.malloc(n), 1, n),
                    Op::Memalign(a, n) => (h.memalign(1 << a, n), 1usize << a, n),
                    Op::Calloc(k, n) => (h.calloc(k, n), 1, k * n),
                    _ => unreachable!(),
                };
                r.map(|addr| {
                    assert_eq!(
                        addr % align.max(cfg.align as usize),
                        0,
                        "step {step}: {addr:#x} misaligned"
                    );
                    assert!(h.usable_size(addr).unwrap() >= len);
                    if let Op::Calloc(..) = op {
                        assert!(
                            h.payload(addr).unwrap()[..len].iter().all(|&b| b == 0),
                            "calloc not zeroed"
                        );
                    }
                    let l = Live { addr, len, seed };
                    fill(&mut h, &l);
                    dead.retain(|&d| d != addr);
                    live.push(l);
                })
            }
            Op::Realloc(i, n) if !live.is_empty() => {
                let i = i % live.len();
                let old = live[i].addr;
                h.realloc(old, n).map(|addr| {
                    let keep = live[i].len.min(n);
                    let moved = Live {
                        addr,
                        len: keep,
                        seed: live[i].seed,
                    };
                    assert!(intact(&h, &moved, keep), "step {step}: realloc lost bytes");
                    assert!(h.usable_size(addr).unwrap() >= n);
                    let l = Live { addr, len: n, seed };
                    fill(&mut h, &l);
                    if addr != old {
                        dead.push(old);
                    }
                    dead.retain(|&d| d != addr);
                    live[i] = l;
                })
            }
            Op::Free(i) if !live.is_empty() => {
                let l = live.swap_remove(i % live.len());
                prop_assert!(
                    intact(&h, &l, l.len),
                    "step {}: bytes changed before free",
                    step
                );
                dead.push(l.addr);
                h.free(l.addr)
            }
            Op::DoubleFree(i) if !dead.is_empty() => {
                let d = dead[i % dead.len()];
                let r = h.free(d);
                if live.iter().any(|l| l.addr == d) {
                    r // handed out again: a legal free
                } else {
                    prop_assert!(
                        matches!(
                            r,
                            Err(HeapError::DoubleFree { .. }) | Err(HeapError::Interior { .. })
                        ),
                        "step {}: double free of {:#x} gave {:?}",
                        step,
                        d,
                        r
                    );
                    Ok(())
                }
            }
            Op::Interior(i, d) if !live.is_empty() => {
                let l = &live[i % live.len()];
                // Strictly inside its payload; a stale header left there by an earlier block
                // may make it a double free, which is refused as well.
                let d = 1 + d % (h.usable_size(l.addr).unwrap() - 1);
                let r = h.free(l.addr + d);
                prop_assert!(
                    matches!(
                        r,
                        Err(HeapError::Interior { .. })
                            | Err(HeapError::Foreign { .. })
                            | Err(HeapError::DoubleFree { .. })
                    ),
                    "step {}: interior free gave {:?}",
                    step,
                    r
                );
                Ok(())
            }
            _ => Ok(()),
        };
        if let Err(e) = result {
            prop_assert!(
                matches!(
                    e,
                    HeapError::OutOfMemory { .. }
                        | HeapError::SizeOverflow
                        | HeapError::DoubleFree { .. }
                        | HeapError::Interior { .. }
                        | HeapError::Foreign { .. }
                ),
                "step {}: unexpected {}",
                step,
                e
            );
            prop_assert_eq!(
                &snapshot(&h),
                &before,
                "step {}: a failed call changed the heap",
                step
            );
        }
        if let Err(e) = h.check() {
            return Err(TestCaseError::fail(format!("step {step} ({cfg:?}): {e}")));
        }
        outside_view(&h, fixed)?;
        let mut spans: Vec<(usize, usize)> = live
            .iter()
            .map(|l| (l.addr, l.addr + h.usable_size(l.addr).unwrap()))
            .collect();
        spans.sort();
        for w in spans.windows(2) {
            prop_assert!(w[0].1 <= w[1].0, "step {}: payloads overlap", step);
        }
        for l in &live {
            prop_assert!(
                intact(&h, l, l.len),
                "step {}: a live payload changed",
                step
            );
        }
    }
    // Freeing everything leaves only whole trees.
    for l in live.drain(..) {
        h.free(l.addr).unwrap();
    }
    h.check().unwrap();
    let mut free = Vec::new();
    h.walk(|b| free.push(b.used));
    prop_assert!(free.iter().all(|&u| !u));
    if !fixed {
        prop_assert!(free.len() <= 1, "a growable heap merges back into one root");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: if cfg!(miri) { 2 } else { 300 }, ..ProptestConfig::default() })]
    #[test]
    fn random_sequences_keep_every_invariant(cfg in config(), ops in proptest::collection::vec(op(), 1..150)) {
        run(cfg, ops)?;
    }
}
