//! Foreign memory: when other code grows the memory between the heap's growths (another
//! allocator, `memory.grow` called by hand), the heap steps over those pages, marks them as a
//! foreign block, and never writes them. Natively, a source that skips pages on request plays
//! the other code.
#![cfg(feature = "alloc")]

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

fn heap(policy: PolicyKind) -> Heap<Shared> {
    let src = Shared { arena: Arena::new(if cfg!(miri) { 8 << 20 } else { 64 << 20 }).unwrap(), skip: 0, foreign: Vec::new() };
    Heap::new(src, &Config { policy, ..Config::default() }).unwrap()
}

fn untouched(h: &Heap<Shared>) -> bool {
    h.mem().source().foreign.iter().all(|&(at, len)| {
        let p = h.mem().base_ptr().wrapping_add(at - h.start());
        // SAFETY: inside the arena, which lives as long as the heap.
        unsafe { std::slice::from_raw_parts(p, len) }.iter().all(|&b| b == 0xEE)
    })
}

fn skip(h: &mut Heap<Shared>, pages: usize) {
    // SAFETY: setting `skip` neither moves the break nor touches the heap.
    unsafe { h.source_mut().skip = pages * PAGE };
}

#[test]
fn growth_steps_over_foreign_pages() {
    for policy in [PolicyKind::First, PolicyKind::Best, PolicyKind::Seglist, PolicyKind::Tlsf] {
        let mut h = heap(policy);
        let a = h.malloc(100).unwrap();
        skip(&mut h, 3);
        // Does not fit in the first page's remainder: the heap grows, past 3 foreign pages.
        let b = h.malloc(100_000).unwrap();
        h.check().unwrap();
        let (fstart, flen) = h.mem().source().foreign[0];
        assert!(b >= fstart + flen, "{policy}: {b:#x} inside the foreign region");
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
fn realloc_at_the_top_moves_when_foreign_pages_intervene() {
    let mut h = heap(PolicyKind::Tlsf);
    let a = h.malloc(1000).unwrap();
    h.payload_mut(a).unwrap()[..1000].fill(0x5A);
    skip(&mut h, 1);
    let b = h.realloc(a, 200_000).unwrap();
    assert_ne!(a, b, "it could not grow in place across someone else's page");
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
    assert!(matches!(h.malloc(1 << 20), Err(HeapError::OutOfMemory { .. })));
    assert_eq!(h.brk(), before);
    h.check().unwrap();
    h.free(a).unwrap();
    assert!(untouched(&h));
}
