//! Foreign memory: when other code grows the memory between the heap's growths (another
//! allocator, `memory.grow` called by hand), the heap steps over those pages, marks them as a
//! foreign block, and never writes them. Natively, a source that skips pages on request plays
//! the other code.
#![cfg(feature = "alloc")]

use heaptale::event::NoObserver;
use heaptale::policy::block::Compact;
use heaptale::policy::bt::Bt;
use heaptale::policy::tlsf::Tlsf;
use heaptale::policy::Policy;
use heaptale::source::{Arena, Source, PAGE};
use heaptale::{Config, Heap, HeapError, PolicyKind};

/// An arena whose next growth, when `skip` is set, first lets "someone else" take pages.
struct Shared {
    arena: Arena,
    skip: usize,
    /// The foreign regions handed out: (start, len), filled with 0xEE.
    foreign: Vec<(usize, usize)>,
}

// SAFETY: delegates to the arena; the skipped pages are written only here, before the heap
// learns of them, and the heap is told they are not its own (sbrk returns past them).
unsafe impl Source for Shared {
    fn start(&mut self) -> *mut u8 {
        self.arena.start()
    }
    fn brk(&self) -> *mut u8 {
        self.arena.brk()
    }
    fn sbrk(&mut self, bytes: usize) -> Option<*mut u8> {
        if self.skip == 0 {
            return self.arena.sbrk(bytes);
        }
        let brk = self.arena.brk() as usize;
        let from = brk.next_multiple_of(PAGE); // our pages end here
        let to = from + self.skip; // theirs
        let p = self.arena.sbrk(to - brk + bytes)?;
        // SAFETY: `from..to` was just grown; the heap will not touch it.
        unsafe { std::ptr::write_bytes(p.add(from - brk), 0xEE, self.skip) };
        self.foreign.push((from, self.skip));
        self.skip = 0;
        // The same address as `to`, derived from the arena's pointer (no integer-to-pointer
        // cast: Miri's strict provenance checks run these tests).
        Some(p.wrapping_add(to - brk))
    }
    fn committed_end(&self) -> *mut u8 {
        self.arena.committed_end()
    }
    fn report_base(&mut self) -> usize {
        self.arena.start() as usize
    }
}

fn shared() -> Shared {
    Shared {
        arena: Arena::new(if cfg!(miri) { 8 << 20 } else { 64 << 20 }).unwrap(),
        skip: 0,
        foreign: Vec::new(),
    }
}

fn heap(policy: PolicyKind) -> Heap<Shared> {
    Heap::new(
        shared(),
        &Config {
            policy,
            ..Config::default()
        },
    )
    .unwrap()
}

fn untouched<P: Policy>(h: &Heap<Shared, P>) -> bool {
    h.mem().source().foreign.iter().all(|&(at, len)| {
        let p = h.mem().base_ptr().wrapping_add(at - h.start());
        // SAFETY: inside the arena, which lives as long as the heap.
        unsafe { std::slice::from_raw_parts(p, len) }
            .iter()
            .all(|&b| b == 0xEE)
    })
}

fn skip<P: Policy>(h: &mut Heap<Shared, P>, pages: usize) {
    // SAFETY: setting `skip` neither moves the break nor touches the heap.
    unsafe { h.source_mut().skip = pages * PAGE };
}

#[test]
fn growth_steps_over_foreign_pages() {
    for policy in [
        PolicyKind::First,
        PolicyKind::Best,
        PolicyKind::Seglist,
        PolicyKind::Tlsf,
    ] {
        let mut h = heap(policy);
        let a = h.malloc(100).unwrap();
        skip(&mut h, 3);
        // Does not fit in the first page's remainder: the heap grows, past 3 foreign pages.
        let b = h.malloc(100_000).unwrap();
        h.check().unwrap();
        let (fstart, flen) = h.mem().source().foreign[0];
        assert!(
            b >= fstart + flen,
            "{policy}: {b:#x} inside the foreign region"
        );
        // The foreign region is a used block nobody may free.
        let mut foreign_block = None;
        h.walk(|blk| {
            if h.addr(blk.block) < fstart + flen && h.addr(blk.block + blk.size) > fstart {
                foreign_block = Some(blk);
            }
        });
        let fb = foreign_block.expect("a block covers the foreign region");
        assert!(fb.used);
        let fp = h.addr(fb.block + fb.header);
        assert_eq!(h.free(fp), Err(HeapError::Foreign { addr: fp }), "{policy}");
        // Work goes on around it; nothing ever writes the foreign bytes.
        let mut live = vec![a, b];
        for i in 0..if cfg!(miri) { 150 } else { 2000usize } {
            live.push(h.malloc(i * 37 % 3000).unwrap());
            if i % 3 == 0 {
                let p = live.swap_remove(i * 7 % live.len());
                h.free(p).unwrap();
            }
            if i % 5 == 0 {
                let k = i % live.len();
                live[k] = h.realloc(live[k], i * 11 % 9000).unwrap();
            }
        }
        h.check().unwrap();
        assert!(untouched(&h), "{policy}: the heap wrote foreign memory");
        for p in live {
            h.free(p).unwrap();
        }
        h.check().unwrap();
    }
}

#[test]
fn the_top_block_apart_goes_to_the_index_when_foreign_pages_follow_it() {
    // As `heaptale::Allocator` makes it.
    let policy = Bt::new(Compact, true, Tlsf::new())
        .with_quick_lists(128)
        .with_top_apart();
    let mut h = Heap::with_policy(shared(), policy, NoObserver, None).unwrap();
    let a = h.malloc(100).unwrap();
    let b = h.malloc(3000).unwrap();
    // b merges into the free top block, which the index does not hold.
    h.free(b).unwrap();
    let mut lists = Vec::new();
    h.free_lists(|l, blk| lists.push((l, h.addr(blk) + 4)));
    assert_eq!(lists, vec![(heaptale::policy::bt::TOP_LIST, b)]);
    skip(&mut h, 3);
    // Past the first page: the heap grows past 3 foreign pages; the old top block is the
    // top no more, and goes to the index...
    let c = h.malloc(100_000).unwrap();
    let (fstart, flen) = h.mem().source().foreign[0];
    assert!(c >= fstart + flen);
    h.check().unwrap();
    // ...from which the next request that fits it takes it.
    assert_eq!(h.malloc(2000).unwrap(), b);
    let mut live = vec![a, b, c];
    for i in 0..if cfg!(miri) { 150 } else { 2000usize } {
        live.push(h.malloc(i * 37 % 3000).unwrap());
        if i % 3 == 0 {
            let p = live.swap_remove(i * 7 % live.len());
            h.free(p).unwrap();
        }
        if i % 500 == 250 {
            // A few more foreign regions (a heap steps over at most MAX_FOREIGN of them).
            skip(&mut h, 1);
        }
    }
    h.check().unwrap();
    assert!(
        cfg!(miri) || h.mem().source().foreign.len() > 2,
        "the heap grew past one foreign region only"
    );
    assert!(untouched(&h), "the heap wrote foreign memory");
    for p in live {
        h.free(p).unwrap();
    }
    h.check().unwrap();
}

#[test]
fn realloc_at_the_top_moves_when_foreign_pages_intervene() {
    let mut h = heap(PolicyKind::Tlsf);
    let a = h.malloc(1000).unwrap();
    h.payload_mut(a).unwrap()[..1000].fill(0x5A);
    skip(&mut h, 1);
    let b = h.realloc(a, 200_000).unwrap();
    assert_ne!(
        a, b,
        "it could not grow in place across someone else's page"
    );
    assert!(h.payload(b).unwrap()[..1000].iter().all(|&x| x == 0x5A));
    h.check().unwrap();
    assert!(untouched(&h));
}

#[test]
fn buddy_stops_growing_past_foreign_pages_cleanly() {
    let mut h = heap(PolicyKind::Buddy);
    let a = h.malloc(100).unwrap();
    skip(&mut h, 2);
    let before = h.brk();
    assert!(matches!(
        h.malloc(1 << 20),
        Err(HeapError::OutOfMemory { .. })
    ));
    assert_eq!(h.brk(), before);
    h.check().unwrap();
    h.free(a).unwrap();
    assert!(untouched(&h));
}
