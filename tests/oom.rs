//! Out of memory: with a capped source — a fixed heap (`--heap-size`), a small arena, a
//! `FixedRegion` under `heaptale::Allocator` — every call either succeeds or returns an
//! error (null for `GlobalAlloc`), the heap never grows past the cap, a failed call changes
//! nothing, and the heap stays usable: after freeing, the same requests succeed again.
#![cfg(feature = "std")]

use heaptale::event::NoObserver;
use heaptale::policy::block::Compact;
use heaptale::policy::bt::Bt;
use heaptale::policy::tlsf::Tlsf;
use heaptale::source::{Arena, FixedRegion, PAGE};
use heaptale::{Allocator, Config, Heap, HeapError, PolicyKind};
use std::alloc::{GlobalAlloc, Layout};

/// Calls per round (fewer under Miri, which interprets every one).
const OPS: usize = if cfg!(miri) { 150 } else { 3_000 };

fn walk(h: &Heap<Arena>) -> (Vec<(u32, u32, bool)>, usize) {
    let mut v = Vec::new();
    h.walk(|b| v.push((b.block, b.size, b.used)));
    (v, h.brk())
}

/// A small deterministic generator (xorshift), so every run tries the same calls.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Fills the heap until requests fail, checks the failures changed nothing and the cap
/// held, frees everything, and does it again: the second round must get as far.
fn exhaust(mut h: Heap<Arena>, cap: usize, what: &str) {
    let mut rng = Rng(0x1234_5678 ^ cap as u64);
    for round in 0..if cfg!(miri) { 2 } else { 3 } {
        let mut live: Vec<usize> = Vec::new();
        let mut failures = 0;
        for i in 0..OPS {
            let size = match rng.below(10) {
                0..=5 => rng.below(64) as usize,
                6..=8 => rng.below(2000) as usize,
                _ => rng.below(cap as u64 / 4) as usize,
            };
            let before = walk(&h);
            let mut quick_before = Vec::new();
            h.quick_blocks(|_, b| quick_before.push(b));
            let r = match i % 7 {
                0 => h.calloc(1 + rng.below(8) as usize, size / 8),
                1 => h.memalign(1 << rng.below(10), size),
                2 if !live.is_empty() => {
                    let k = rng.below(live.len() as u64) as usize;
                    h.realloc(live[k], size).inspect(|_| {
                        live.swap_remove(k);
                    })
                }
                _ => h.malloc(size),
            };
            match r {
                Ok(a) => live.push(a),
                Err(e) => {
                    assert!(matches!(e, HeapError::OutOfMemory { .. }), "{what}: {e}");
                    assert!(e.to_string().starts_with("out of memory"), "{what}: {e}");
                    if quick_before.is_empty() {
                        assert_eq!(walk(&h), before, "{what}: a failed call changed the heap");
                    } else {
                        // Quick lists may merge back before a request fails: the blocks
                        // they held change, no live block does.
                        let live = |(w, brk): (Vec<(u32, u32, bool)>, usize)| {
                            let w: Vec<_> = w
                                .into_iter()
                                .filter(|b| b.2 && !quick_before.contains(&b.0))
                                .collect();
                            (w, brk)
                        };
                        assert_eq!(
                            live(walk(&h)),
                            live(before.clone()),
                            "{what}: a failed call changed a live block"
                        );
                    }
                    failures += 1;
                }
            }
            assert!(
                h.brk() - h.start() <= cap,
                "{what}: the heap grew past its cap"
            );
            if i % 64 == 0 {
                h.check().unwrap_or_else(|e| panic!("{what}: {e}"));
            }
            // Free now and then so the heap fragments rather than just fills.
            if i % 3 == 0 && !live.is_empty() {
                let k = rng.below(live.len() as u64) as usize;
                h.free(live.swap_remove(k)).unwrap();
            }
        }
        assert!(
            failures > 0 || cfg!(miri),
            "{what}: the cap was never reached"
        );
        h.check().unwrap();
        for a in live {
            h.free(a).unwrap();
        }
        h.check().unwrap();
        // Usable after the failures: one block of a good part of what was ever held.
        let s = h.stats();
        assert_eq!(
            s.used_blocks, 0,
            "{what}: blocks left after freeing everything"
        );
        let big = h
            .malloc(s.largest_free as usize / 2)
            .unwrap_or_else(|e| panic!("{what}: after round {round}: {e}"));
        h.free(big).unwrap();
    }
}

#[test]
fn every_policy_under_a_fixed_heap() {
    for policy in PolicyKind::ALL {
        for size in [4_000u32, 100_000, 1 << 20]
            .into_iter()
            .take(if cfg!(miri) { 1 } else { 3 })
        {
            let cfg = Config {
                policy,
                heap_size: Some(size),
                ..Config::default()
            };
            let h = Heap::new(Arena::new(size as usize).unwrap(), &cfg).unwrap();
            exhaust(h, size as usize, &format!("{policy} --heap-size {size}"));
        }
    }
}

#[test]
fn every_policy_under_a_small_arena() {
    for policy in PolicyKind::ALL {
        for coalesce in [true, false]
            .into_iter()
            .take(if cfg!(miri) { 1 } else { 2 })
        {
            for pages in [1, 4].into_iter().take(if cfg!(miri) { 1 } else { 2 }) {
                let cfg = Config {
                    policy,
                    coalesce,
                    ..Config::default()
                };
                let h = Heap::new(Arena::new(pages * PAGE).unwrap(), &cfg).unwrap();
                exhaust(
                    h,
                    pages * PAGE,
                    &format!("{policy} coalesce {coalesce}, {pages} pages"),
                );
            }
        }
    }
}

/// A fixed heap too small for a single block holds none: it is consistent, refuses every
/// request as out of memory, and refuses pointers as foreign.
#[test]
fn a_fixed_heap_too_small_for_one_block() {
    for policy in PolicyKind::ALL {
        for (header, align) in [(8, 8), (4, 2), (8, 1), (16, 64)] {
            for size in (1..=80u32).step_by(if cfg!(miri) { 13 } else { 1 }) {
                let cfg = Config {
                    policy,
                    header,
                    align,
                    heap_size: Some(size),
                    ..Config::default()
                };
                let what = format!("{policy} header {header} align {align} --heap-size {size}");
                let mut h = Heap::new(Arena::new(PAGE).unwrap(), &cfg).unwrap();
                h.check().unwrap_or_else(|e| panic!("{what}: {e}"));
                let before = walk(&h);
                match h.malloc(0) {
                    Ok(p) => h.free(p).unwrap(),
                    Err(e) => assert_eq!(e, HeapError::OutOfMemory { requested: 0 }, "{what}"),
                }
                assert!(h.free(h.start() + 8).is_err(), "{what}");
                h.check().unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_eq!(walk(&h).1, before.1);
            }
        }
    }
}

/// The production geometry with quick lists over a small arena.
#[test]
fn production_geometry_with_quick_lists() {
    for pages in [1usize, 3] {
        let cap = pages * PAGE;
        let mut h = Heap::with_policy(
            Arena::new(cap).unwrap(),
            Bt::new(Compact, true, Tlsf::new()).with_quick_lists(256),
            NoObserver,
            None,
        )
        .unwrap();
        let mut rng = Rng(99);
        for round in 0..3 {
            let mut live = Vec::new();
            let mut failures = 0;
            for _ in 0..OPS {
                let size = if rng.below(8) == 0 {
                    rng.below(cap as u64 / 3)
                } else {
                    rng.below(300)
                } as usize;
                match h.malloc(size) {
                    Ok(a) => live.push(a),
                    Err(e) => {
                        assert!(matches!(e, HeapError::OutOfMemory { .. }), "{e}");
                        failures += 1;
                    }
                }
                assert!(h.brk() - h.start() <= cap);
                if rng.below(3) == 0 && !live.is_empty() {
                    let k = rng.below(live.len() as u64) as usize;
                    h.free(live.swap_remove(k)).unwrap();
                }
            }
            assert!(failures > 0 || cfg!(miri));
            h.check().unwrap();
            for a in live {
                h.free(a).unwrap();
            }
            h.check().unwrap();
            // The quick lists merge before the heap is declared full.
            let big = h
                .malloc(cap / 2)
                .unwrap_or_else(|e| panic!("{pages} pages, round {round}: {e}"));
            h.free(big).unwrap();
        }
    }
}

/// `heaptale::Allocator` over a region of a few pages: null when full, never past the
/// region, and usable after.
#[test]
fn allocator_over_a_small_region() {
    const CAP: usize = 2 * PAGE;
    let layout = Layout::from_size_align(CAP, PAGE).unwrap();
    // SAFETY: a non-zero size; freed at the end.
    let region = unsafe { std::alloc::alloc_zeroed(layout) };
    assert!(!region.is_null());
    {
        // SAFETY: the region is ours until the allocator is dropped (before it is freed).
        let a: Allocator<FixedRegion> =
            Allocator::with_source(unsafe { FixedRegion::real(region, CAP) });
        let mut rng = Rng(7);
        for _round in 0..3 {
            let mut live: Vec<(*mut u8, Layout)> = Vec::new();
            let mut nulls = 0;
            for _ in 0..OPS {
                let size = 1 + if rng.below(6) == 0 {
                    rng.below(CAP as u64 / 2)
                } else {
                    rng.below(200)
                } as usize;
                let l = Layout::from_size_align(size, 1 << rng.below(7)).unwrap();
                // SAFETY: a non-zero size.
                let p = unsafe { a.alloc(l) };
                if p.is_null() {
                    nulls += 1;
                } else {
                    assert!(
                        p as usize >= region as usize && p as usize + size <= region as usize + CAP
                    );
                    live.push((p, l));
                }
                if rng.below(3) == 0 && !live.is_empty() {
                    let (p, l) = live.swap_remove(rng.below(live.len() as u64) as usize);
                    // SAFETY: live with this layout.
                    unsafe { a.dealloc(p, l) };
                }
            }
            assert!(nulls > 0 || cfg!(miri));
            a.check().unwrap();
            // realloc that cannot grow returns null and keeps the block.
            if let Some(&(p, l)) = live.first() {
                // SAFETY: live with `l`; the new size is valid.
                let q = unsafe { a.realloc(p, l, 4 * CAP) };
                assert!(q.is_null());
                a.check().unwrap();
            }
            for (p, l) in live {
                // SAFETY: live with this layout.
                unsafe { a.dealloc(p, l) };
            }
            a.check().unwrap();
            let big = Layout::from_size_align(CAP / 2, 8).unwrap();
            // SAFETY: a non-zero size.
            let p = unsafe { a.alloc(big) };
            assert!(!p.is_null(), "{:?}", a.stats());
            // SAFETY: just allocated.
            unsafe { a.dealloc(p, big) };
        }
    }
    // SAFETY: allocated above with this layout; the allocator is gone.
    unsafe { std::alloc::dealloc(region, layout) };
}
