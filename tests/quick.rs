//! Quick lists (`Bt::with_quick_lists`): random work on a heap that uses them keeps every
//! invariant, keeps payload bytes, and merges what the lists hold before the heap grows.
#![cfg(feature = "alloc")]

use heaptale::event::NoObserver;
use heaptale::policy::block::Compact;
use heaptale::policy::bt::Bt;
use heaptale::policy::tlsf::Tlsf;
use heaptale::source::Arena;
use heaptale::Heap;
use proptest::prelude::*;

type Quick = Heap<Arena, Bt<Tlsf, Compact>>;

fn heap(cap: usize) -> Quick {
    Heap::with_policy(Arena::new(cap).unwrap(), Bt::new(Compact, true, Tlsf::new()).with_quick_lists(256), NoObserver, None).unwrap()
}

#[test]
fn a_freed_small_block_comes_back_for_the_same_size() {
    let mut h = heap(1 << 20);
    let a = h.malloc(24).unwrap();
    let _b = h.malloc(24).unwrap();
    h.free(a).unwrap();
    // The block stays a used block in its quick list...
    let mut used = 0;
    h.walk(|b| used += b.used as u32);
    assert_eq!(used, 2);
    h.check().unwrap();
    // ...and the next request of its size takes it back.
    assert_eq!(h.malloc(20).unwrap(), a);
}

#[test]
fn quick_blocks_merge_before_the_heap_grows() {
    let mut h = heap(1 << 20);
    let small: Vec<usize> = (0..64).map(|_| h.malloc(100).unwrap()).collect();
    let brk = h.brk();
    for &p in &small {
        h.free(p).unwrap();
    }
    // 64 blocks of 104 bytes wait in a quick list; a 4 KiB request fits only once they merge.
    let big = h.malloc(4096).unwrap();
    assert_eq!(h.brk(), brk, "the heap grew instead of merging its quick lists");
    assert_eq!(big, small[0]);
    h.check().unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: if cfg!(miri) { 3 } else { 200 }, ..ProptestConfig::default() })]
    #[test]
    fn random_work_keeps_invariants_and_bytes(ops in proptest::collection::vec((0u8..4, 0usize..2000, any::<usize>()), 1..400)) {
        let mut h = heap(16 << 20);
        let mut live: Vec<(usize, usize, u8)> = Vec::new();
        for (k, (op, size, pick)) in ops.into_iter().enumerate() {
            let tag = k as u8;
            match op {
                0 | 1 => {
                    let size = if op == 0 { size % 300 } else { size };
                    let p = h.malloc(size).unwrap();
                    h.payload_mut(p).unwrap()[..size].fill(tag);
                    live.push((p, size, tag));
                }
                2 if !live.is_empty() => {
                    let (p, n, t) = live.swap_remove(pick % live.len());
                    prop_assert!(h.payload(p).unwrap()[..n].iter().all(|&x| x == t));
                    h.free(p).unwrap();
                }
                3 if !live.is_empty() => {
                    let i = pick % live.len();
                    let (p, n, t) = live[i];
                    let q = h.realloc(p, size).unwrap();
                    prop_assert!(h.payload(q).unwrap()[..n.min(size)].iter().all(|&x| x == t));
                    h.payload_mut(q).unwrap()[..size].fill(tag);
                    live[i] = (q, size, tag);
                }
                _ => {}
            }
            if let Err(e) = h.check() {
                return Err(TestCaseError::fail(format!("step {k}: {e}")));
            }
        }
    }
}
