//! Quick lists (`Bt::with_quick_lists`) and the top block apart (`Bt::with_top_apart`), as
//! `heaptale::Allocator` uses them: random work keeps every invariant and payload bytes; the
//! quick lists merge what they hold before the heap grows, a run of neighbours into one
//! block; the top block stays out of the index and is used last.
#![cfg(feature = "alloc")]

use heaptale::event::NoObserver;
use heaptale::policy::block::Compact;
use heaptale::policy::bt::{Bt, TOP_LIST};
use heaptale::policy::tlsf::Tlsf;
use heaptale::source::Arena;
use heaptale::Heap;
use proptest::prelude::*;

type Quick = Heap<Arena, Bt<Tlsf, Compact>>;

fn heap(cap: usize) -> Quick {
    Heap::with_policy(
        Arena::new(cap).unwrap(),
        Bt::new(Compact, true, Tlsf::new()).with_quick_lists(256),
        NoObserver,
        None,
    )
    .unwrap()
}

/// As `heaptale::Allocator` makes it: quick lists and the top block apart.
fn production(cap: usize) -> Quick {
    Heap::with_policy(
        Arena::new(cap).unwrap(),
        Bt::new(Compact, true, Tlsf::new())
            .with_quick_lists(256)
            .with_top_apart(),
        NoObserver,
        None,
    )
    .unwrap()
}

/// The free lists as (list, payload address).
fn lists(h: &Quick) -> Vec<(usize, usize)> {
    let mut v = Vec::new();
    h.free_lists(|l, b| v.push((l, h.addr(b) + 4)));
    v
}

#[test]
fn the_top_block_stays_out_of_the_index_and_is_used_last() {
    let mut h = production(1 << 20);
    let a = h.malloc(1000).unwrap();
    let b = h.malloc(1000).unwrap();
    let c = h.malloc(1000).unwrap();
    assert_eq!((b - a, c - b), (1008, 1008));
    let brk = h.brk();
    // c merges into the top block: the free lists report it apart.
    h.free(c).unwrap();
    assert_eq!(lists(&h), vec![(TOP_LIST, c)]);
    h.free(a).unwrap();
    assert_eq!(lists(&h).len(), 2);
    assert!(
        lists(&h).contains(&(TOP_LIST, c))
            && lists(&h).iter().any(|&(l, p)| p == a && l != TOP_LIST)
    );
    h.check().unwrap();
    // A request the index can serve is placed low; only then is the top cut.
    assert_eq!(h.malloc(900).unwrap(), a);
    assert_eq!(h.malloc(4000).unwrap(), c);
    assert_eq!(h.brk(), c - 4 + 4008);
    assert!(h.brk() > brk);
    h.check().unwrap();
}

#[test]
fn a_run_of_quick_and_indexed_neighbours_merges_into_one_block() {
    let mut h = production(1 << 20);
    // 104-byte quick block, a 304-byte block (past the quick lists), a 104-byte quick block.
    let q1 = h.malloc(100).unwrap();
    let big = h.malloc(300).unwrap();
    let q2 = h.malloc(100).unwrap();
    let _guard = h.malloc(100).unwrap();
    assert_eq!((big - q1, q2 - big), (104, 304));
    h.free(q1).unwrap();
    h.free(q2).unwrap();
    h.free(big).unwrap();
    // Only `big` is in the index: the quick blocks stay used.
    assert_eq!(
        lists(&h).iter().map(|&(_, p)| p).collect::<Vec<_>>(),
        vec![big]
    );
    // The break 4 bytes short of the end of the first 64 KiB page: the next request needs
    // a new page, so the quick lists merge first.
    let _fill = fill_to_page_end(&mut h);
    let brk = h.brk();
    // 504 bytes fit only once the run of 104 + 304 + 104 bytes is one block.
    assert_eq!(h.malloc(500).unwrap(), q1);
    assert_eq!(
        h.brk(),
        brk,
        "the heap grew instead of merging its quick lists"
    );
    assert_eq!(lists(&h), vec![]);
    let mut blocks = Vec::new();
    h.walk(|b| blocks.push((h.addr(b.block) + 4, b.size, b.used)));
    assert_eq!(&blocks[..2], &[(q1, 512, true), (q2 + 104, 104, true)]);
    h.check().unwrap();
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
    // ...and the next request of its block size (32 bytes) takes it back.
    assert_eq!(h.malloc(21).unwrap(), a);
}

#[test]
fn quick_blocks_merge_before_the_heap_grows() {
    let mut h = heap(1 << 20);
    let small: Vec<usize> = (0..64).map(|_| h.malloc(100).unwrap()).collect();
    for &p in &small {
        h.free(p).unwrap();
    }
    // 64 blocks of 104 bytes wait in a quick list. While the break can move inside the
    // memory already committed, a 4 KiB request moves it (that costs no memory)...
    let end = h.committed_end();
    let big = h.malloc(4096).unwrap();
    assert_eq!(big, small[63] + 104);
    assert_eq!(h.committed_end(), end);
    // ...and once the memory underneath would have to grow, they merge first.
    let _fill = fill_to_page_end(&mut h);
    let brk = h.brk();
    let big2 = h.malloc(4096).unwrap();
    assert_eq!(
        h.brk(),
        brk,
        "the heap grew instead of merging its quick lists"
    );
    assert_eq!(h.committed_end(), end);
    assert_eq!(big2, small[0]);
    h.check().unwrap();
}

/// Allocates a block that takes the break to 4 bytes short of the end of the committed
/// memory (the most a heap of 8-byte blocks from offset 4 can reach), so that the next
/// growth needs a new page.
fn fill_to_page_end(h: &mut Quick) -> usize {
    let room = h.committed_end() - h.brk();
    let p = h.malloc(room - 4 - 4).unwrap();
    assert_eq!(h.committed_end() - h.brk(), 4);
    p
}

proptest! {
    #![proptest_config(ProptestConfig { cases: if cfg!(miri) { 3 } else { 200 }, ..ProptestConfig::default() })]
    #[test]
    fn random_work_keeps_invariants_and_bytes(top in any::<bool>(), ops in proptest::collection::vec((0u8..4, 0usize..2000, any::<usize>()), 1..400)) {
        let mut h = if top { production(16 << 20) } else { heap(16 << 20) };
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

/// TLSF looks at the head of a request's own list only; before the memory underneath grows,
/// the rest of that list is searched block by block (`FreeIndex::find_thorough`), so a block
/// that fits, passed over because a smaller one sat at the head, is used instead of new pages.
#[test]
fn before_memory_grows_the_requests_own_list_is_searched_through() {
    let mut h = production(1 << 20);
    let x1 = h.malloc(1036).unwrap(); // a 1,040-byte block
    let _s1 = h.malloc(8).unwrap();
    let x2 = h.malloc(1020).unwrap(); // a 1,024-byte block: the same list (1,024..1,087)
    let _s2 = h.malloc(8).unwrap();
    // Fill the first 64 KiB page up to 500 bytes from its end.
    let used = h.brk() - h.start();
    let _fill = h.malloc(65536 - used - 500 - 4).unwrap();
    assert_eq!(h.brk() - h.start(), 65536 - 500);
    h.free(x1).unwrap();
    h.free(x2).unwrap(); // now the head of the list: too small for 1,036 bytes
    let brk = h.brk();
    let pages = h.committed_end();
    let y = h.malloc(1036).unwrap();
    assert_eq!(y, x1, "the fitting block behind the list's head");
    assert_eq!((h.brk(), h.committed_end()), (brk, pages), "no growth");
    // Left free: x2 alone, in the list of 1,024..1,087-byte blocks (10 * 16 + 0).
    assert_eq!(lists(&h), vec![(160, x2)]);
    h.check().unwrap();
}
