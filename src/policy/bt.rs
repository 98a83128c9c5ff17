//! The boundary-tag heap: split, coalesce, grow and realloc in place, written once for every
//! policy whose blocks carry boundary tags. What differs between those policies — how free
//! blocks are indexed and which one a request takes — is a [`FreeIndex`].

use super::block::{Geometry, Layout, NIL};
use crate::event::{Event, Observer};
use crate::heap::{BlockInfo, Mem};
use crate::source::Source;
use crate::HeapError;

/// How a policy keeps its free blocks: a list, segregated lists, bitmapped classes...
///
/// The heap calls `insert` for every block that becomes free and `remove` before a free block
/// is used or merged, so the index always holds exactly the free blocks.
pub trait FreeIndex {
    /// Whether heaps over this index always coalesce (then `Bt::new` ignores its `coalesce`
    /// argument, and the compiler drops the checks).
    const COALESCES: bool = false;
    fn insert<G: Geometry, S: Source>(&mut self, m: &mut Mem<S>, l: &G, b: u32, size: u32);
    fn remove<G: Geometry, S: Source>(&mut self, m: &mut Mem<S>, l: &G, b: u32, size: u32);
    /// The free block `old` lost its front: `new` (the rest) takes its place. Lists that keep
    /// positions by address override this to keep the rest where the block was.
    fn replace<G: Geometry, S: Source>(
        &mut self,
        m: &mut Mem<S>,
        l: &G,
        old: u32,
        old_size: u32,
        new: u32,
        new_size: u32,
    ) {
        self.remove(m, l, old, old_size);
        self.insert(m, l, new, new_size);
    }
    /// The free block `old` (indexed, `old_size` bytes) became part of the free block `new`
    /// of `new_size` bytes, which starts at or before it (a coalesce). Indexes whose list
    /// for `new_size` is the one `old` is in override this to keep the merged block in
    /// `old`'s place, with no list traffic.
    #[inline]
    fn merged<G: Geometry, S: Source>(
        &mut self,
        m: &mut Mem<S>,
        l: &G,
        old: u32,
        old_size: u32,
        new: u32,
        new_size: u32,
    ) {
        self.remove(m, l, old, old_size);
        self.insert(m, l, new, new_size);
    }
    /// A free block that can hold `asize` bytes with its payload aligned to `align`: the
    /// block, its size and the lead gap before the payload's block (see [`Layout::fit`]).
    /// `probes` counts the free blocks examined.
    fn find<G: Geometry, S: Source>(
        &mut self,
        m: &Mem<S>,
        l: &G,
        asize: u32,
        align: u32,
        probes: &mut u32,
    ) -> Option<(u32, u32, u32)>;
    /// A free block for the request that [`FreeIndex::find`] may have passed over, looked
    /// for block by block: the heap asks before its memory grows, which is rare enough to
    /// afford a scan (indexes whose `find` misses nothing have none).
    #[inline]
    fn find_thorough<G: Geometry, S: Source>(
        &mut self,
        m: &Mem<S>,
        l: &G,
        asize: u32,
        align: u32,
        probes: &mut u32,
    ) -> Option<(u32, u32, u32)> {
        let _ = (m, l, asize, align, probes);
        None
    }
    /// Every free block, list by list, in list order.
    fn for_each<G: Geometry, S: Source>(&self, m: &Mem<S>, l: &G, f: &mut dyn FnMut(usize, u32));
    /// Checks the index's own structure (links both ways, order, classes) and returns how
    /// many blocks it holds; `free` is the number of free blocks in the heap, a bound on how
    /// far a list may be followed.
    fn check<G: Geometry, S: Source>(
        &self,
        m: &Mem<S>,
        l: &G,
        free: u32,
    ) -> Result<u32, &'static str>;
}

/// A boundary-tag heap over a free index.
#[derive(Clone, Debug)]
pub struct Bt<F, G = Layout> {
    pub layout: G,
    pub coalesce: bool,
    pub index: F,
    /// Offset of the first block (alignment padding before it).
    first: u32,
    /// The `P` bit of the block that would start at the break.
    top_prev_used: bool,
    /// Used blocks that stand for foreign memory (pages someone else grew between our
    /// growths): never handed out, never freed.
    foreign: [u32; MAX_FOREIGN],
    nforeign: usize,
    /// Quick lists (see [`Bt::with_quick_lists`]): per exact block size, the offset + 1 of
    /// the last block freed into it (0: empty).
    quick: [u32; QUICK_LISTS],
    /// Blocks up to this size go to the quick lists (0: no quick lists).
    quick_max: u32,
    /// How many bytes the quick lists hold (0: they are empty).
    quick_bytes: u32,
    /// The top block kept apart (see [`Bt::with_top_apart`]).
    top_apart: bool,
    /// The end of the 64 KiB pages the heap's own growth has committed: the page that holds
    /// its break, rounded up from its start (page-aligned). Its own state rather than the
    /// memory underneath (which other heaps before it may have grown), so that a heap
    /// decides alike in a fresh instance, after others, and restored from a snapshot.
    committed: u32,
    /// The end of the block area (see [`Bt::end`]).
    end: u32,
}

/// The list number [`crate::policy::Policy::free_lists`] gives the top block when it is
/// kept apart from the index (see [`Bt::with_top_apart`]).
pub const TOP_LIST: usize = usize::MAX;

/// How many quick lists there can be (one per size granule from the minimum block up).
pub const QUICK_LISTS: usize = 32;
/// Bytes the quick lists may hold before a large request merges them back.
pub const QUICK_HOLD: u32 = 64 * 1024;
/// Requests of this block size or more are large: they merge the quick lists first when
/// those hold more than [`QUICK_HOLD`] bytes (a constant, so that the check costs one
/// comparison on the path of every request).
pub const QUICK_LARGE: u32 = 256;
/// Bytes the quick lists may hold before a large free area or a realloc that cannot grow in
/// place merges them back.
pub const QUICK_SOME: u32 = 4 * 1024;

/// The mark of a quick block that [`Bt::consolidate`] is merging back, in its second payload
/// word (where a free block in the index keeps its back link: `NIL` or an offset below 1 GiB).
#[cfg(not(feature = "small"))]
const MERGING: u32 = NIL - 1;

/// How many foreign regions a heap steps over before it stops growing past them.
pub const MAX_FOREIGN: usize = 8;

impl<F: FreeIndex, G: Geometry> Bt<F, G> {
    pub fn new(layout: G, coalesce: bool, index: F) -> Self {
        let coalesce = coalesce || F::COALESCES;
        Bt {
            layout,
            coalesce,
            index,
            first: 0,
            top_prev_used: true,
            foreign: [0; MAX_FOREIGN],
            nforeign: 0,
            quick: [0; QUICK_LISTS],
            quick_max: 0,
            quick_bytes: 0,
            top_apart: false,
            committed: 0,
            end: 0,
        }
    }

    /// Quick lists, as glibc's fastbins: a freed block of up to `max_block` bytes stays a used
    /// block and goes on a singly linked LIFO list of its exact size, from which the next
    /// request of that size takes it back in a few instructions, without splitting,
    /// coalescing or touching its neighbours. Before the memory underneath the heap grows
    /// (the break may move inside memory already committed first, which costs nothing), when
    /// a large free block forms, when a large request ([`QUICK_LARGE`] bytes or more) finds them holding more than
    /// [`QUICK_HOLD`] bytes, and when a realloc cannot grow in place while they hold more than
    /// [`QUICK_SOME`], the quick lists are emptied into the free index (coalescing runs of
    /// neighbours into one block each), so they cost little memory the heap would otherwise
    /// have reused. A block in a quick list stays marked used, so its header cannot show a
    /// second `free` of it: validation (the playground's checked calls) looks it up in the
    /// quick lists instead ([`Bt::in_quick_list`]); the production allocator, which trusts
    /// its callers, does not look. The playground's `heaptale` policy turns them on.
    pub fn with_quick_lists(mut self, max_block: u32) -> Self {
        let l = self.layout;
        let most = l.min_block() + (QUICK_LISTS as u32 - 1) * l.align();
        self.quick_max = max_block.min(most);
        self
    }

    /// The top block apart, as dlmalloc's "top chunk": the free block that ends at the break
    /// is kept out of the free index. Requests the index cannot serve are cut from it (a
    /// bump of its start: no list traffic), frees next to it merge into it, and so it is
    /// used last, which keeps blocks low and the break where it is. Free lists report it
    /// as the list [`TOP_LIST`].
    /// (Only with coalescing, which keeps one free block at most at the top.)
    pub fn with_top_apart(mut self) -> Self {
        self.top_apart = self.coalescing();
        self
    }

    /// Whether free neighbours merge (always, for an index that says so).
    #[inline(always)]
    fn coalescing(&self) -> bool {
        F::COALESCES || self.coalesce
    }

    /// Whether the free block that ends at the break stays out of the index (as built, or
    /// as the geometry fixes it: see [`Geometry::fixed_options`]).
    #[inline(always)]
    pub fn top_apart(&self) -> bool {
        match self.layout.fixed_options() {
            Some((_, top_apart)) => top_apart && self.coalescing(),
            None => self.top_apart,
        }
    }

    /// The largest block the quick lists take (0: none), as built or as the geometry fixes it.
    #[inline(always)]
    fn quick_max(&self) -> u32 {
        match self.layout.fixed_options() {
            Some((quick_max, _)) => quick_max,
            None => self.quick_max,
        }
    }

    /// The top block, when it is kept apart and free.
    #[inline]
    pub fn top<S: Source>(&self, m: &Mem<S>) -> Option<u32> {
        if self.top_apart() {
            self.last_free(m)
        } else {
            None
        }
    }

    /// The top block apart, as it was when the block area ended at `end`.
    fn top_at<S: Source>(&self, m: &Mem<S>, end: u32) -> Option<u32> {
        if !self.top_apart() || self.top_prev_used || end <= self.first {
            return None;
        }
        Some(end - m.read(end - 4))
    }

    /// The quick list of a block size, if it has one.
    #[inline(always)]
    fn quick_list(&self, size: u32) -> Option<usize> {
        if size > self.quick_max() {
            return None;
        }
        let l = self.layout;
        Some(((size - l.min_block()) / l.align()) as usize & (QUICK_LISTS - 1))
    }

    /// Empties the quick lists into the free index, in two passes so that a run of
    /// neighbours merges into one free block with one index update (freeing them one by one
    /// would insert, remove and insert again as the run grows). First every quick block
    /// becomes a free block marked [`MERGING`]; then each run of free blocks that holds a
    /// marked one merges from its first block, taking in any indexed free block it meets.
    #[cold]
    #[inline(never)]
    #[cfg(not(feature = "small"))]
    fn consolidate<S: Source, O: Observer>(&mut self, m: &mut Mem<S>, o: &mut O) {
        let l = self.layout;
        let h = l.header();
        self.quick_bytes = 0;
        // The top block apart as it was: its payload words are not links, so not marks.
        let old_top = self.top(m).unwrap_or(NIL);
        let mut blocks = 0;
        for i in 0..QUICK_LISTS {
            let mut e = self.quick[i];
            while e != 0 {
                let b = e - 1;
                e = m.read_at(b, h);
                let size = m.size_of(b);
                m.set_block(&l, b, size, false);
                m.write_at(b, h + 4, MERGING);
                self.set_prev_used(m, b + size, false);
                blocks += 1;
            }
        }
        o.event(Event::Consolidate { blocks });
        let end = self.end(m);
        for i in 0..QUICK_LISTS {
            let mut e = core::mem::take(&mut self.quick[i]);
            while e != 0 {
                let b = e - 1;
                e = m.read_at(b, h);
                if m.read_at(b, h + 4) != MERGING {
                    continue; // taken in by the run of a block before it
                }
                let (mut start, mut total) = (b, m.size_of(b));
                // The indexed free block the run takes the place of, if any.
                let mut absorbed = None;
                if self.coalescing() && b > self.first && !m.prev_is_used(b) {
                    let prev = b - m.read(b - 4);
                    if m.read_at(prev, h + 4) == MERGING || !m.prev_is_used(prev) {
                        // The run starts before b: at a block still marked, or before the
                        // indexed block `prev` (whose free neighbour can only be marked).
                        continue;
                    }
                    let psize = m.size_of(prev);
                    start = prev;
                    total += psize;
                    absorbed = Some((prev, psize));
                    o.event(Event::Coalesce {
                        block: prev,
                        absorbed: b,
                        size: total,
                    });
                }
                m.write_at(b, h + 4, 0);
                let mut next = b + m.size_of(b);
                while self.coalescing() && next < end && !m.is_used(next) {
                    let nsize = m.size_of(next);
                    if next == old_top {
                        // The top block apart: not in the index.
                    } else if m.read_at(next, h + 4) == MERGING {
                        m.write_at(next, h + 4, 0);
                    } else if absorbed.is_none() {
                        absorbed = Some((next, nsize));
                    } else {
                        self.index.remove(m, &l, next, nsize);
                    }
                    total += nsize;
                    o.event(Event::Coalesce {
                        block: start,
                        absorbed: next,
                        size: total,
                    });
                    next += nsize;
                }
                m.set_block(&l, start, total, false);
                let top = self.top_apart() && start + total == end;
                match absorbed {
                    Some((a, asize)) if top => self.index.remove(m, &l, a, asize),
                    Some((a, asize)) => self.index.merged(m, &l, a, asize, start, total),
                    None if top => {}
                    None => self.index.insert(m, &l, start, total),
                }
            }
        }
    }

    /// Empties the quick lists into the free index (feature `small`: block by block, as
    /// `free` would have released them; the same blocks result, with less code).
    #[cold]
    #[inline(never)]
    #[cfg(feature = "small")]
    fn consolidate<S: Source, O: Observer>(&mut self, m: &mut Mem<S>, o: &mut O) {
        self.quick_bytes = 0;
        let mut blocks = 0;
        for i in 0..QUICK_LISTS {
            let mut e = core::mem::take(&mut self.quick[i]);
            while e != 0 {
                let b = e - 1;
                e = m.read_at(b, self.layout.header());
                let size = m.size_of(b);
                self.release_inline(m, o, b, size);
                blocks += 1;
            }
        }
        // After the merges here (only the production allocator, which watches nothing,
        // builds with feature `small`).
        o.event(Event::Consolidate { blocks });
    }

    /// Whether the used block `b` waits in a quick list (a walk of the quick lists).
    pub fn in_quick_list<S: Source>(&self, m: &Mem<S>, b: u32) -> bool {
        let Some(q) = self
            .quick_list(m.size_of(b))
            .filter(|_| self.quick_bytes > 0)
        else {
            return false;
        };
        let mut found = false;
        self.quick_list_blocks(m, q, &mut |x| found |= x == b);
        found
    }

    /// The blocks waiting in the quick lists, by list.
    pub fn quick_blocks<S: Source>(&self, m: &Mem<S>, f: &mut dyn FnMut(usize, u32)) {
        for i in 0..QUICK_LISTS {
            self.quick_list_blocks(m, i, &mut |b| f(i, b));
        }
    }

    /// The blocks of quick list `i`, in list order (no more than the lists' byte count
    /// allows, should a link be broken).
    fn quick_list_blocks<S: Source>(&self, m: &Mem<S>, i: usize, f: &mut dyn FnMut(u32)) {
        let (mut e, mut n) = (self.quick[i], 0);
        while e != 0 && n <= self.quick_bytes / self.layout.min_block() {
            f(e - 1);
            e = m.read_at(e - 1, self.layout.header());
            n += 1;
        }
    }

    pub fn first(&self) -> u32 {
        self.first
    }

    /// Sets up a heap whose source is at its start; a fixed heap becomes one free block.
    pub fn init<S: Source>(&mut self, m: &mut Mem<S>) {
        let start = m.start();
        self.first = start
            + self
                .layout
                .first_block(m.base_ptr() as usize + start as usize);
        let brk = m.brk();
        if brk >= self.first + self.layout.min_block() {
            let size = (brk - self.first) / self.layout.align() * self.layout.align();
            m.set_header(&self.layout, self.first, size, false, true);
            if !self.top_apart() {
                self.index.insert(m, &self.layout, self.first, size);
            }
            self.top_prev_used = false;
            // Bytes past the last whole granule stay unused; a fixed heap never grows into them.
        } else if brk > self.first {
            // A fixed heap too small for one block holds none: all of it is unusable tail,
            // and the (empty) block area starts at its end.
            self.first = brk;
        }
        self.end = self.end_of(m);
        self.committed = Self::page_end(m);
    }

    /// The end of the block area: the break, less a fixed heap's unusable tail (kept in
    /// `end`, which every change of the break updates).
    #[inline(always)]
    fn end<S: Source>(&self, m: &Mem<S>) -> u32 {
        debug_assert_eq!(self.end, self.end_of(m));
        self.end
    }

    fn end_of<S: Source>(&self, m: &Mem<S>) -> u32 {
        let brk = m.brk();
        if brk <= self.first {
            return brk;
        }
        brk - ((brk - self.first) & (self.layout.align() - 1))
    }

    fn set_prev_used<S: Source>(&mut self, m: &mut Mem<S>, b: u32, used: bool) {
        if b >= self.end(m) {
            self.top_prev_used = used;
        } else {
            // `b` is a block inside the heap (below the end, so below the break).
            let h = m.read(b);
            m.write(
                b,
                if used {
                    h | super::block::PREV_USED
                } else {
                    h & !super::block::PREV_USED
                },
            );
        }
    }

    /// Writes the header and footer of the free block `b`. When neighbours always merge, a
    /// free block's previous block is used (or there is none), so its `P` bit is known and
    /// need not be read first.
    #[inline(always)]
    fn set_free<S: Source>(&self, m: &mut Mem<S>, b: u32, size: u32) {
        if self.coalescing() {
            m.set_header(&self.layout, b, size, false, true);
        } else {
            m.set_block(&self.layout, b, size, false);
        }
    }

    /// The end of the page the break is in (the break itself when it is on a page boundary).
    fn page_end<S: Source>(m: &Mem<S>) -> u32 {
        let page = crate::source::PAGE as u32;
        m.brk().div_ceil(page).saturating_mul(page)
    }

    /// The free block that ends at the break, if any.
    fn last_free<S: Source>(&self, m: &Mem<S>) -> Option<u32> {
        let end = self.end(m);
        if end <= self.first || self.top_prev_used {
            return None;
        }
        Some(end - m.read(end - 4))
    }

    /// Payload offset → block offset, refusing anything that is not a live block (a block
    /// waiting in a quick list is marked used, but freed: a double free).
    pub fn validate<S: Source>(&self, m: &Mem<S>, p: u32, addr: usize) -> Result<u32, HeapError> {
        let b = self.validate_header(m, p, addr)?;
        if self.in_quick_list(m, b) {
            return Err(HeapError::DoubleFree { addr });
        }
        Ok(b)
    }

    /// [`Bt::validate`] by what the headers say.
    fn validate_header<S: Source>(
        &self,
        m: &Mem<S>,
        p: u32,
        addr: usize,
    ) -> Result<u32, HeapError> {
        let l = &self.layout;
        let end = self.end(m);
        if p < self.first + l.header()
            || p >= end
            || (m.base_ptr() as usize).wrapping_add(p as usize) & (l.align() as usize - 1) != 0
        {
            return Err(HeapError::Foreign { addr });
        }
        let b = p - l.header();
        let h = m.read(b);
        let size = h & super::block::SIZE_MASK;
        let plausible = |b: u32, size: u32| {
            size >= l.min_block() && size & (l.align() - 1) == 0 && size <= end - b
        };
        if l.tagged() {
            // `b + 8 <= p < end`: the tag word is inside the heap.
            let t = m.read(b + 4);
            if plausible(b, size) && t == super::block::tag(b, size, true) && m.is_used(b) {
                self.not_foreign(b, addr)?;
                return self.neighbours_intact(m, b, size, addr);
            }
            if plausible(b, size) && t == super::block::tag(b, size, false) && !m.is_used(b) {
                return Err(HeapError::DoubleFree { addr });
            }
            // Not a block as its header stands. If the tag word is a block's tag (it names a
            // size that fits here), the engine wrote a header here and something overwrote it.
            if plausible(b, super::block::tag_size(b, t, true))
                || plausible(b, super::block::tag_size(b, t, false))
            {
                return Err(HeapError::Corrupt {
                    addr: addr.wrapping_sub(l.header() as usize),
                    what: "the block's header was overwritten: its size and flags no longer match its check tag (a write past the end of the block before it, or a pointer to a block freed and reused since)",
                });
            }
            return Err(HeapError::Interior { addr });
        }
        if !plausible(b, size) {
            return Err(HeapError::Interior { addr });
        }
        if !m.is_used(b) {
            Err(HeapError::DoubleFree { addr })
        } else if b + size < end && !m.prev_is_used(b + size) {
            Err(HeapError::Interior { addr })
        } else {
            self.not_foreign(b, addr)
        }
    }

    /// With check tags: the blocks next to the live block `b` (which `free` and `realloc`
    /// merge with) are intact, so that an overflow out of `b` or into its header from the
    /// block before is refused before it spreads. `addr` is `b`'s payload address.
    fn neighbours_intact<S: Source>(
        &self,
        m: &Mem<S>,
        b: u32,
        size: u32,
        addr: usize,
    ) -> Result<u32, HeapError> {
        let l = &self.layout;
        let end = self.end(m);
        let at = |off: u32| {
            addr.wrapping_sub((b + l.header()) as usize)
                .wrapping_add(off as usize)
        };
        let intact = |x: u32| {
            let h = m.read(x);
            let s = h & super::block::SIZE_MASK;
            s >= l.min_block()
                && s & (l.align() - 1) == 0
                && s <= end - x
                && m.read(x + 4) == super::block::tag(x, s, h & super::block::USED != 0)
        };
        let next = b + size;
        if next < end && !intact(next) {
            return Err(HeapError::Corrupt {
                addr: at(next),
                what: "the header of the block after this one was overwritten: it no longer matches its check tag (a write past the end of this block?)",
            });
        }
        if b > self.first && !m.prev_is_used(b) {
            let ps = m.read(b - 4);
            let prev_ok = ps <= b - self.first && {
                let prev = b - ps;
                intact(prev) && !m.is_used(prev) && m.size_of(prev) == ps
            };
            if !prev_ok {
                return Err(HeapError::Corrupt {
                    addr: at(b),
                    what: "the block's header says the block before it is free, but no intact free block ends there: a header or footer was overwritten",
                });
            }
        }
        Ok(b)
    }

    #[inline]
    fn not_foreign(&self, b: u32, addr: usize) -> Result<u32, HeapError> {
        if self.nforeign > 0 && self.foreign().contains(&b) {
            return Err(HeapError::Foreign { addr });
        }
        Ok(b)
    }

    /// A payload of `request` bytes aligned to `align`: from a quick list if one holds a
    /// block of the size (inlined into the caller: a few instructions and no call), else
    /// from [`Bt::malloc_indexed`].
    #[cfg_attr(not(feature = "small"), inline(always))]
    pub fn malloc<S: Source, O: Observer>(
        &mut self,
        m: &mut Mem<S>,
        o: &mut O,
        request: usize,
        align: u32,
    ) -> Result<u32, HeapError> {
        let l = self.layout;
        let Some(asize) = l.block_size(request) else {
            return Err(HeapError::SizeOverflow);
        };
        if let Some(q) = self.quick_list(asize) {
            let e = self.quick[q];
            if e != 0 && align <= l.align() {
                let b = e - 1;
                let next = m.read_at(b, l.header());
                self.quick[q] = next;
                self.quick_bytes -= asize;
                o.event(Event::QuickAlloc {
                    block: b,
                    size: asize,
                    list: q as u32,
                });
                o.event(Event::Alloc {
                    block: b,
                    size: asize,
                    request: request as u32,
                    probes: 1,
                });
                return Ok(b + l.header());
            }
        }
        self.malloc_indexed(m, o, request, asize, align)
    }

    /// `malloc` from the free index, the top block or new memory.
    #[cfg_attr(not(feature = "small"), inline(never))]
    fn malloc_indexed<S: Source, O: Observer>(
        &mut self,
        m: &mut Mem<S>,
        o: &mut O,
        request: usize,
        asize: u32,
        align: u32,
    ) -> Result<u32, HeapError> {
        let l = self.layout;
        if asize >= QUICK_LARGE && self.quick_bytes > QUICK_HOLD {
            // A large request merges what the quick lists hold first once that is more than a
            // little (glibc merges its fastbins for every large request), so small blocks
            // waiting there do not fragment the heap for it.
            self.consolidate(m, o);
        }
        let mut probes = 0;
        let (b, size, lead, indexed) = match self.index.find(m, &l, asize, align, &mut probes) {
            Some((b, size, lead)) => (b, size, lead, true),
            None => self.beyond_index(m, o, asize, align, &mut probes)?,
        };
        let r = self.carve(m, o, b, size, lead, asize, indexed);
        o.event(Event::Alloc {
            block: r,
            size: m.size_of(r),
            request: request as u32,
            probes,
        });
        Ok(r + l.header())
    }

    /// A free block for a request the index could not serve: the top block apart if it fits,
    /// else (after merging the quick lists) the index again or the grown top of the heap.
    /// The block, its size, the lead gap and whether it is in the index.
    fn beyond_index<S: Source, O: Observer>(
        &mut self,
        m: &mut Mem<S>,
        o: &mut O,
        asize: u32,
        align: u32,
        probes: &mut u32,
    ) -> Result<(u32, u32, u32, bool), HeapError> {
        let l = self.layout;
        if let Some(t) = self.top(m) {
            *probes += 1;
            let size = m.size_of(t);
            if let Some(lead) = l.fit(m.base_ptr() as usize, t, size, asize, align) {
                return Ok((t, size, lead, false));
            }
        }
        // Merge what the quick lists hold before the memory underneath grows. Moving the
        // break inside memory already committed costs nothing, so that comes first.
        let extra = l.lead_room(align);
        let within =
            !m.is_fixed() && m.brk() as u64 + asize as u64 + extra as u64 <= self.committed as u64;
        if !within {
            if let Some((b, size, lead)) = self.before_growth(m, o, asize, align, probes) {
                return Ok((b, size, lead, true));
            }
        }
        match self.grow_for(m, o, asize, align) {
            Ok((b, size, lead)) => Ok((b, size, lead, false)),
            // The break could not move after all: the quick lists merge before failing.
            Err(_) if self.quick_bytes > 0 => {
                self.consolidate(m, o);
                if let Some((b, size, lead)) = self.index.find(m, &l, asize, align, probes) {
                    return Ok((b, size, lead, true));
                }
                let (b, size, lead) = self.grow_for(m, o, asize, align)?;
                Ok((b, size, lead, false))
            }
            Err(e) => Err(e),
        }
    }

    /// Memory is about to grow for a request: the last chances not to. The quick lists
    /// merge (if they hold anything) and the index is asked again, then asked to look
    /// block by block for one its quick search passed over. A block of the index, or none.
    #[cold]
    #[inline(never)]
    fn before_growth<S: Source, O: Observer>(
        &mut self,
        m: &mut Mem<S>,
        o: &mut O,
        asize: u32,
        align: u32,
        probes: &mut u32,
    ) -> Option<(u32, u32, u32)> {
        let l = self.layout;
        if self.quick_bytes > 0 {
            self.consolidate(m, o);
            if let Some(found) = self.index.find(m, &l, asize, align, probes) {
                return Some(found);
            }
        }
        self.index.find_thorough(m, &l, asize, align, probes)
    }

    /// The blocks that stand for foreign memory.
    pub fn foreign(&self) -> &[u32] {
        self.foreign.get(..self.nforeign).unwrap_or(&[])
    }

    /// Grows the heap by `bytes`: true if the new bytes follow the old break. If the source
    /// had to skip foreign memory, that region becomes a used block marked foreign, the new
    /// bytes a free block, and the answer is false: the caller plans again.
    fn grow_heap<S: Source, O: Observer>(
        &mut self,
        m: &mut Mem<S>,
        o: &mut O,
        bytes: u32,
    ) -> Result<bool, HeapError> {
        if self.nforeign == MAX_FOREIGN {
            let (old_brk, pages) = m.grow(bytes)?;
            self.end = self.end_of(m);
            self.committed = Self::page_end(m);
            o.event(Event::Grow {
                old_brk,
                new_brk: m.brk(),
                pages,
            });
            return Ok(true);
        }
        let g = m.grow_any(bytes)?;
        let old_end = core::mem::replace(&mut self.end, 0);
        self.end = self.end_of(m);
        self.committed = Self::page_end(m);
        o.event(Event::Grow {
            old_brk: g.old_brk,
            new_brk: m.brk(),
            pages: g.pages,
        });
        if g.start == g.old_brk {
            return Ok(true);
        }
        let l = self.layout;
        if let Some(t) = self.top_at(m, old_end) {
            // The top block apart is the top no more: the foreign block follows it.
            let size = m.size_of(t);
            self.index.insert(m, &l, t, size);
        }
        let fb = g.old_brk.max(self.first);
        let next_first = g.start + l.first_block(m.base_ptr() as usize + g.start as usize);
        let end = self.end(m);
        // Too few new bytes to stand as a block of their own: the foreign block takes them.
        let fend = if end >= next_first + l.min_block() {
            next_first
        } else {
            end
        };
        m.set_header(
            &l,
            fb,
            fend - fb,
            true,
            fb == self.first || self.top_prev_used,
        );
        if let Some(slot) = self.foreign.get_mut(self.nforeign) {
            *slot = fb;
            self.nforeign += 1;
        }
        self.top_prev_used = true;
        if fend < end {
            m.set_header(&l, fend, end - fend, false, true);
            if !self.top_apart() {
                self.index.insert(m, &l, fend, end - fend);
            }
            self.top_prev_used = false;
        }
        Ok(false)
    }

    /// Grows the heap so that a free block at the top can take the request; that block is
    /// returned outside the index. On failure nothing has changed.
    fn grow_for<S: Source, O: Observer>(
        &mut self,
        m: &mut Mem<S>,
        o: &mut O,
        asize: u32,
        align: u32,
    ) -> Result<(u32, u32, u32), HeapError> {
        // Growing past a foreign region changes the top of the heap: plan again (bounded,
        // since each such growth uses up one of the foreign slots).
        loop {
            if let Some(found) = self.grow_once(m, o, asize, align)? {
                return Ok(found);
            }
        }
    }

    fn grow_once<S: Source, O: Observer>(
        &mut self,
        m: &mut Mem<S>,
        o: &mut O,
        asize: u32,
        align: u32,
    ) -> Result<Option<(u32, u32, u32)>, HeapError> {
        let l = self.layout;
        let end = self.end(m);
        let last = if self.coalescing() {
            self.last_free(m)
        } else {
            None
        };
        let b = match last {
            Some(b) => b,
            None => end.max(self.first),
        };
        let oom = HeapError::OutOfMemory {
            requested: asize as usize,
        };
        let lead = l
            .fit(m.base_ptr() as usize, b, u32::MAX, asize, align)
            .ok_or(oom)?;
        let new_end = b
            .checked_add(lead)
            .and_then(|x| x.checked_add(asize))
            .ok_or(oom)?;
        // The top block may already be large enough (an index that searches conservatively,
        // as TLSF does for aligned requests, can miss it): then it is used as it is.
        let size = if new_end > end {
            if !self.grow_heap(m, o, new_end - m.brk())? {
                return Ok(None);
            }
            new_end - b
        } else {
            end - b
        };
        match last {
            Some(b) => {
                if !self.top_apart() {
                    let old = m.size_of(b);
                    self.index.remove(m, &l, b, old);
                }
                m.set_block(&l, b, size, false);
            }
            None => {
                let prev_used = b == self.first || self.top_prev_used;
                m.set_header(&l, b, size, false, prev_used);
            }
        }
        self.top_prev_used = false;
        Ok(Some((b, size, lead)))
    }

    /// Takes `asize` bytes (after `lead`) from the free block `b`; the lead and any remainder
    /// large enough to be a block stay free. Returns the used block.
    #[cfg_attr(not(feature = "small"), inline(always))]
    #[cfg_attr(feature = "small", inline(never))]
    fn carve<S: Source, O: Observer>(
        &mut self,
        m: &mut Mem<S>,
        o: &mut O,
        b: u32,
        size: u32,
        lead: u32,
        asize: u32,
        indexed: bool,
    ) -> u32 {
        let l = self.layout;
        let (mut r, mut rsize, mut r_indexed) = (b, size, indexed);
        if lead > 0 {
            // The lead gap stays a free block in b's place; the rest is cut off.
            self.set_free(m, b, lead);
            if indexed {
                self.index.replace(m, &l, b, size, b, lead);
            } else {
                self.index.insert(m, &l, b, lead);
            }
            r = b + lead;
            rsize = size - lead;
            r_indexed = false;
            m.set_header(&l, r, rsize, false, false);
            o.event(Event::Split {
                block: b,
                size: lead,
                rest: r,
                rest_size: rsize,
            });
        }
        let rem = rsize - asize;
        if rem >= l.min_block() {
            let rest = r + asize;
            m.set_block(&l, r, asize, true);
            m.set_header(&l, rest, rem, false, true);
            if r_indexed {
                self.index.replace(m, &l, r, rsize, rest, rem);
            } else if !(self.top_apart() && rest + rem == self.end(m)) {
                self.index.insert(m, &l, rest, rem);
            }
            o.event(Event::Split {
                block: r,
                size: asize,
                rest,
                rest_size: rem,
            });
        } else {
            if r_indexed {
                self.index.remove(m, &l, r, rsize);
            }
            m.set_block(&l, r, rsize, true);
            self.set_prev_used(m, r + rsize, true);
        }
        r
    }

    pub fn free<S: Source, O: Observer>(&mut self, m: &mut Mem<S>, o: &mut O, b: u32) {
        let size = m.size_of(b);
        o.event(Event::Free { block: b, size });
        if let Some(q) = self.quick_list(size) {
            // The block stays used; its first payload word links the quick list.
            m.write_at(b, self.layout.header(), self.quick[q]);
            self.quick[q] = b + 1;
            self.quick_bytes += size;
            o.event(Event::QuickFree {
                block: b,
                size,
                list: q as u32,
            });
            return;
        }
        let merged = self.release_inline(m, o, b, size);
        if merged >= QUICK_HOLD && self.quick_bytes > 0 {
            // A large free area just formed (after a mass free, say): quick blocks scattered
            // in it would cut it up, so merge them now (glibc does so past 64 KiB too).
            self.consolidate(m, o);
        }
    }

    /// Makes `[b, b + size)` a free block, merging it with free neighbours when coalescing.
    /// Returns the size of the free block it made.
    fn release<S: Source, O: Observer>(
        &mut self,
        m: &mut Mem<S>,
        o: &mut O,
        b: u32,
        size: u32,
    ) -> u32 {
        self.release_inline(m, o, b, size)
    }

    /// [`Bt::release`], inlined in `free` (one copy, out of line, with feature `small`).
    #[cfg_attr(not(feature = "small"), inline(always))]
    #[cfg_attr(feature = "small", inline(never))]
    fn release_inline<S: Source, O: Observer>(
        &mut self,
        m: &mut Mem<S>,
        o: &mut O,
        b: u32,
        size: u32,
    ) -> u32 {
        let l = self.layout;
        let (mut start, mut total) = (b, size);
        let end = self.end(m);
        // The indexed free block the new one absorbs and takes the place of, if any.
        let mut absorbed = None;
        if self.coalescing() {
            if let Some(prev) = m.prev_free(self.first, b) {
                let psize = m.size_of(prev);
                // b's own header stays behind inside the merged block: mark it free, so a
                // second free of b is seen as the double free it is (unless callers are
                // trusted, as the production allocator's are).
                if !l.trusts_callers() {
                    m.set_header(&l, b, size, false, false);
                }
                start = prev;
                total += psize;
                absorbed = Some((prev, psize));
                o.event(Event::Coalesce {
                    block: prev,
                    absorbed: b,
                    size: total,
                });
            }
            let next = b + size;
            if next < end && !m.is_used(next) {
                let nsize = m.size_of(next);
                total += nsize;
                if self.top_apart() && next + nsize == end {
                    // The top block apart: not in the index.
                } else if absorbed.is_none() {
                    absorbed = Some((next, nsize));
                } else {
                    self.index.remove(m, &l, next, nsize);
                }
                o.event(Event::Coalesce {
                    block: start,
                    absorbed: next,
                    size: total,
                });
            }
        }
        self.set_free(m, start, total);
        self.set_prev_used(m, start + total, false);
        let top = self.top_apart() && start + total == end;
        match absorbed {
            Some((a, asize)) if top => self.index.remove(m, &l, a, asize),
            Some((a, asize)) => self.index.merged(m, &l, a, asize, start, total),
            None if top => {}
            None => self.index.insert(m, &l, start, total),
        }
        total
    }

    pub fn realloc<S: Source, O: Observer>(
        &mut self,
        m: &mut Mem<S>,
        o: &mut O,
        b: u32,
        request: usize,
    ) -> Result<u32, HeapError> {
        let l = self.layout;
        let asize = l.block_size(request).ok_or(HeapError::SizeOverflow)?;
        let size = m.size_of(b);
        let mut in_place = self.resize_in_place(m, o, b, size, asize);
        if !in_place && self.quick_bytes > QUICK_SOME && asize > self.quick_max() {
            // A neighbour waiting in a quick list cannot be grown into: merge them, try again.
            self.consolidate(m, o);
            in_place = self.resize_in_place(m, o, b, size, asize);
        }
        if in_place {
            o.event(Event::Realloc {
                old: b,
                new: b,
                size: m.size_of(b),
                in_place: true,
            });
            return Ok(b + l.header());
        }
        let p = self.malloc(m, o, request, l.align())?;
        let keep = (size - l.header()).min(request as u32);
        m.copy(b + l.header(), p, keep);
        self.free(m, o, b);
        o.event(Event::Realloc {
            old: b,
            new: p - l.header(),
            size: m.size_of(p - l.header()),
            in_place: false,
        });
        Ok(p)
    }

    /// Resizes the used block `b` of `size` bytes to `asize` where it is: shrinking, growing
    /// into a free block after it, or moving the break. False (and no change) if it cannot.
    fn resize_in_place<S: Source, O: Observer>(
        &mut self,
        m: &mut Mem<S>,
        o: &mut O,
        b: u32,
        size: u32,
        asize: u32,
    ) -> bool {
        let l = self.layout;
        let end = self.end(m);
        let next = b + size;
        let next_free = next < end && !m.is_used(next);
        let nsize = if next_free { m.size_of(next) } else { 0 };
        if asize <= size {
            self.shrink(m, o, b, size, asize);
            true
        } else if self.coalescing() && next_free && size + nsize >= asize {
            let top = self.top_apart() && next + nsize == end;
            if !top {
                self.index.remove(m, &l, next, nsize);
            }
            o.event(Event::Coalesce {
                block: b,
                absorbed: next,
                size: size + nsize,
            });
            let rem = size + nsize - asize;
            if rem >= l.min_block() {
                // The rest stays free between b and a used block (or the break), whose P
                // bit stays clear: nothing to merge it with, so it goes straight back.
                let rest = b + asize;
                m.set_block(&l, b, asize, true);
                m.set_header(&l, rest, rem, false, true);
                o.event(Event::Split {
                    block: b,
                    size: asize,
                    rest,
                    rest_size: rem,
                });
                if !top {
                    self.index.insert(m, &l, rest, rem);
                }
            } else {
                m.set_block(&l, b, size + nsize, true);
                self.set_prev_used(m, next + nsize, true);
            }
            true
        } else if next == end && self.try_grow(m, o, asize - size) {
            m.set_block(&l, b, asize, true);
            self.top_prev_used = true;
            true
        } else if self.coalescing()
            && next_free
            && next + nsize == end
            && self.try_grow(m, o, asize - size - nsize)
        {
            if !self.top_apart() {
                self.index.remove(m, &l, next, nsize);
            }
            o.event(Event::Coalesce {
                block: b,
                absorbed: next,
                size: asize,
            });
            m.set_block(&l, b, asize, true);
            self.top_prev_used = true;
            true
        } else {
            false
        }
    }

    /// Moves the break up by `bytes`, reporting the growth; false (and no change) if it cannot.
    /// (When the growth had to skip foreign memory, the block cannot grow in place: false,
    /// and the new memory is a free block for the move that follows.)
    fn try_grow<S: Source, O: Observer>(&mut self, m: &mut Mem<S>, o: &mut O, bytes: u32) -> bool {
        matches!(self.grow_heap(m, o, bytes), Ok(true))
    }

    /// Cuts the used block `b` of `size` bytes down to `asize`, freeing the tail if it is
    /// large enough to be a block.
    fn shrink<S: Source, O: Observer>(
        &mut self,
        m: &mut Mem<S>,
        o: &mut O,
        b: u32,
        size: u32,
        asize: u32,
    ) {
        let l = self.layout;
        let rem = size - asize;
        if rem < l.min_block() {
            return;
        }
        m.set_block(&l, b, asize, true);
        let rest = b + asize;
        m.set_header(&l, rest, rem, false, true);
        o.event(Event::Split {
            block: b,
            size: asize,
            rest,
            rest_size: rem,
        });
        self.release(m, o, rest, rem);
    }

    pub fn usable_size(&self, m: &Mem<impl Source>, b: u32) -> u32 {
        m.size_of(b) - self.layout.header()
    }

    /// Walks the blocks from the first to the break, stopping at a broken header.
    pub fn walk<S: Source>(&self, m: &Mem<S>, f: &mut dyn FnMut(BlockInfo)) {
        let l = &self.layout;
        let end = self.end(m);
        let mut b = self.first;
        while b < end {
            let size = m.size_of(b);
            if size < l.min_block() || size > end - b {
                return;
            }
            f(BlockInfo {
                block: b,
                size,
                header: l.header(),
                used: m.is_used(b),
            });
            b += size;
        }
    }

    /// Verifies every invariant of the block format and of the index.
    pub fn check<S: Source>(&self, m: &Mem<S>) -> Result<(), (u32, &'static str)> {
        let l = &self.layout;
        let end = self.end(m);
        let base = m.base_ptr() as usize;
        let mut b = self.first;
        let (mut prev_used, mut prev_free_block) = (true, false);
        let mut free = 0u32;
        while b < end {
            let h = m.read(b);
            let size = h & super::block::SIZE_MASK;
            let used = h & super::block::USED != 0;
            if size < l.min_block() || size & (l.align() - 1) != 0 || size > end - b {
                return Err((b, "block size is impossible: blocks do not tile the heap"));
            }
            if base.wrapping_add((b + l.header()) as usize) & (l.align() as usize - 1) != 0 {
                return Err((b, "payload is not aligned"));
            }
            if (h & super::block::PREV_USED != 0) != prev_used {
                return Err((
                    b,
                    "the previous-block-used bit does not match the previous block",
                ));
            }
            if l.tagged() && m.read(b + 4) != super::block::tag(b, size, used) {
                return Err((
                    b,
                    "the header's check tag does not match its size and state",
                ));
            }
            if !used {
                if m.read(b + size - 4) != size {
                    return Err((b, "a free block's footer does not match its header"));
                }
                if self.coalescing() && prev_free_block {
                    return Err((b, "two adjacent free blocks while coalescing is on"));
                }
                free += 1;
            }
            prev_used = used;
            prev_free_block = !used;
            b += size;
        }
        if b > self.first && prev_used != self.top_prev_used {
            return Err((b, "the last block's state is recorded wrongly"));
        }
        let mut quick_ok = Ok(());
        let mut quick_bytes = 0u32;
        self.quick_blocks(m, &mut |q, b| {
            if b >= end || !m.is_used(b) || self.quick_list(m.size_of(b)) != Some(q) {
                quick_ok = Err((b, "a quick list holds a block that is not one of its size"));
            } else {
                quick_bytes += m.size_of(b);
            }
        });
        quick_ok?;
        if quick_bytes != self.quick_bytes {
            return Err((NIL, "the quick lists do not hold as many bytes as counted"));
        }
        for &f in self.foreign() {
            if f >= end || !m.is_used(f) {
                return Err((f, "a foreign region is not a used block"));
            }
        }
        let free = free - self.top(m).is_some() as u32;
        let listed = self.index.check(m, l, free).map_err(|w| (NIL, w))?;
        if listed != free {
            return Err((NIL, "the free lists do not hold exactly the free blocks"));
        }
        Ok(())
    }
}
