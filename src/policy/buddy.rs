//! Binary buddy allocator (Knowlton 1965, Knuth TAOCP §2.5): every block is a power of two
//! in size and aligned to its size; a block of order `k` (2^k bytes) is split into two
//! *buddies* of order `k - 1`, and two free buddies merge back into their parent.
//!
//! ```text
//!  used block, order k                  free block, order k
//!  +------------------------------+     +------------------------------+  b
//!  | MAGIC | U | s | k     (u32)  |     | MAGIC | 0 | 0 | k     (u32)  |  header word
//!  | check tag      (u32, H >= 8) |     | check tag      (u32, H >= 8) |
//!  | (rest of the H-byte header)  |     | (rest of the header)         |
//!  +------------------------------+     +------------------------------+  b + H
//!  | payload ...        (s == 0)  |     | next free (u32 offset)       |
//!  |                              |     | prev free (u32 offset)       |
//!  |                              |     | ...                          |
//!  +------------------------------+     +------------------------------+  b + 2^k
//!
//!  used block with an over-aligned payload (s > 0)
//!  +------------------------------+  b
//!  | MAGIC | U | s | k  | tag ... |  header
//!  | padding (its first word at p - H is zeroed when it is past the header)
//!  | BACK | off          (u32)    |  p - 4, the back-offset word
//!  +------------------------------+  p = b + off(s), aligned to 2^s
//!  | payload ...                  |
//!  +------------------------------+  b + 2^k
//! ```
//! The header word, little-endian, so that a hex view shows the order as the block's first
//! byte (`05 80 DD B0` is a used 32-byte block):
//! - bits 0..8: the order `k` (block size 2^k, `kmin <= k <= 30`);
//! - bits 8..13: `s`, the payload's alignment shift: 0 puts the payload right after the
//!   header (`p = b + H`); `s > 0` (used blocks only) puts it at
//!   `p = b + off(s)`, where `off(s) = round_up(first + H + 4, 2^s) - first`: the first
//!   offset at least 4 bytes past the header whose real address is a multiple of 2^s;
//! - bits 13..15: zero; bit 15 `U`: the block is used;
//! - bits 16..32: the magic `0xB0DD`, so a pointer whose "header" lacks it is not a block.
//!
//! With a header of 8 bytes or more (`H` is the header knob) the second word is the check tag
//! [`tag`]`(b, header word, used)`: a stale or forged header almost never carries the
//! right one. An over-aligned block stores `BACK | off` (`BACK = 0xBAC0_0000`, `off < 2^20`)
//! in the word just before its payload, which is how `free(p)` finds the header. Free-list
//! links are offsets in the free block's payload, as in [`super::block`], `NIL` for none.
//!
//! ## Geometry and growth
//! - `first`: the offset of the first block, the smallest one whose payload `first + H` is
//!   aligned to the alignment knob `A` in real memory (0 for the default header 8, align 8).
//!   Blocks are aligned to their size *relative to `first`*; the heap's start is 64 KiB
//!   aligned in real memory, so with `first == 0` they are really aligned as well.
//! - The minimum block is the smallest power of two that holds a header and two links (at
//!   least `H + 8`) and that the boundary-tag layout would allow (`Layout::new`'s
//!   `min_block`); [`Policy::layout`] reports it as `min_block`.
//! - `span`: the bytes `[first, first + span)` that the buddy trees cover.
//! - A growable heap starts empty and is always *one* tree. The first request grows the heap
//!   to `first + 2^k`, a root just big enough. When no free block is large enough later, the
//!   heap grows by the root's size (sbrk): the new upper half is the old root's buddy, free,
//!   and the root's order goes up by one (merging with the old root if that was free),
//!   repeated until a large enough free block exists — all in one `grow` call, so a failure
//!   leaves the heap exactly as it was.
//! - A fixed heap (`--heap-size`) never grows. `[first, brk)` rounded down to the minimum
//!   block is cut into trees of decreasing size, one per set bit of that length (a 100 000
//!   byte heap holds trees of 65 536, 32 768, 1 024, 512, 128 and 32 bytes); each tree is one free
//!   block to begin with, and blocks never merge across trees. The remainder, fewer bytes
//!   than the minimum block, stays unused past the last block (walks end before it).
//! - `memalign(a)` with `a` above `A` takes a block of order at least `log2(a)`, so every
//!   candidate block has the same payload offset and the free lists answer in constant time.
//!
//! ## Invariants (checked by [`Policy::check`])
//! Blocks tile `[first, first + span)`; each has a valid header (magic, fields, tag); block
//! `b` of order `k` has `(b - first) % 2^k == 0` and lies inside one tree; two free buddies
//! of the same order never coexist; free list `k` holds exactly the free blocks of order `k`,
//! doubly linked, and bit `k` of the bitmap is set exactly when that list is non-empty;
//! payloads are aligned (to `A`, or to `2^s` with a matching back-offset word); a growable
//! heap ends exactly at `first + span`, a power of two.

use super::block::{tag, Geometry, Layout, NIL};
use super::classes::{push, unlink};
use super::Policy;
use crate::event::{Event, Observer};
use crate::heap::{BlockInfo, Mem, MAX_HEAP};
use crate::source::Source;
use crate::HeapError;

/// The largest order: a block as large as the largest heap.
pub const MAX_ORDER: u32 = 30;
const ORDERS: usize = MAX_ORDER as usize + 1;

const MAGIC: u32 = 0xB0DD_0000;
const MAGIC_MASK: u32 = 0xFFFF_0000;
const USED: u32 = 1 << 15;
const RESERVED: u32 = 0x6000;
const S_SHIFT: u32 = 8;
const S_MASK: u32 = 0x1F;
const ORDER_MASK: u32 = 0xFF;
/// The largest alignment shift (64 KiB).
const MAX_S: u32 = 16;

const BACK: u32 = 0xBAC0_0000;
const BACK_MASK: u32 = 0xFFF0_0000;

/// A decoded header word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Hdr {
    k: u32,
    used: bool,
    s: u32,
}

#[inline]
const fn word(k: u32, used: bool, s: u32) -> u32 {
    MAGIC | if used { USED } else { 0 } | (s << S_SHIFT) | k
}

/// `ceil(log2(n))` for `n >= 1`.
#[inline]
fn ceil_log2(n: u64) -> u32 {
    if n <= 1 {
        0
    } else {
        64 - (n - 1).leading_zeros()
    }
}

/// A binary buddy heap.
#[derive(Clone, Debug)]
pub struct Buddy {
    /// The knobs, with `min_block` the smallest block (2^kmin).
    layout: Layout,
    kmin: u32,
    /// Offset of the first block; trees are aligned relative to it.
    first: u32,
    /// Bytes covered by trees, from `first`.
    span: u32,
    /// Free-list heads per order; meaningful only while the order's bit is set.
    heads: [u32; ORDERS],
    /// Bit `k`: free list `k` is not empty.
    nonempty: u32,
}

impl Buddy {
    pub fn new(layout: Layout) -> Result<Buddy, HeapError> {
        let min = layout.min_block.max(layout.header + 8) as u64;
        let kmin = ceil_log2(min);
        if kmin > MAX_ORDER {
            return Err(HeapError::BadConfig(
                "the header is too large for a buddy block",
            ));
        }
        let layout = Layout {
            min_block: 1 << kmin,
            ..layout
        };
        Ok(Buddy {
            layout,
            kmin,
            first: 0,
            span: 0,
            heads: [NIL; ORDERS],
            nonempty: 0,
        })
    }

    /// Offset of the first block.
    pub fn first(&self) -> u32 {
        self.first
    }

    /// The order of the smallest block.
    pub fn min_order(&self) -> u32 {
        self.kmin
    }

    /// Bytes covered by the buddy trees (from [`Buddy::first`]).
    pub fn span(&self) -> u32 {
        self.span
    }

    /// The payload offset inside a block whose header says `s`.
    #[inline]
    fn off(&self, s: u32) -> u32 {
        if s == 0 {
            self.layout.header
        } else {
            let a = 1u32 << s;
            (self.first + self.layout.header + 4).next_multiple_of(a) - self.first
        }
    }

    /// Decodes a header word, refusing impossible fields.
    fn decode(&self, w: u32) -> Result<Hdr, &'static str> {
        if w & MAGIC_MASK != MAGIC || w & RESERVED != 0 {
            return Err("a block header lacks the buddy magic");
        }
        let k = w & ORDER_MASK;
        if k < self.kmin || k > MAX_ORDER {
            return Err("a block header holds an impossible order");
        }
        let used = w & USED != 0;
        let s = (w >> S_SHIFT) & S_MASK;
        if s > MAX_S || (!used && s != 0) || (s > 0 && (s > k || self.off(s) >= 1 << k)) {
            return Err("a block header holds an impossible alignment shift");
        }
        Ok(Hdr { k, used, s })
    }

    /// Whether the block `(b, k)` (b relative to first) is aligned and lies inside the span
    /// (hence inside one tree: an aligned block that fits in the span never straddles two).
    #[inline]
    fn fits(&self, rel: u32, k: u32) -> bool {
        rel & ((1u32 << k) - 1) == 0 && rel as u64 + (1u64 << k) <= self.span as u64
    }

    /// The header of the block that starts at `b`, if a valid one is there.
    fn hdr<S: Source>(&self, m: &Mem<S>, b: u32) -> Option<Hdr> {
        if b < self.first {
            return None;
        }
        let rel = b - self.first;
        if rel >= self.span || rel & ((1u32 << self.kmin) - 1) != 0 {
            return None;
        }
        let w = m.read(b);
        let h = self.decode(w).ok()?;
        if !self.fits(rel, h.k) {
            return None;
        }
        if self.layout.tagged() && m.read(b + 4) != tag(b, w, h.used) {
            return None;
        }
        Some(h)
    }

    /// Reads the header of a block known to be valid.
    #[inline]
    fn hdr_of<S: Source>(&self, m: &Mem<S>, b: u32) -> Hdr {
        let w = m.read(b);
        Hdr {
            k: w & ORDER_MASK,
            used: w & USED != 0,
            s: (w >> S_SHIFT) & S_MASK,
        }
    }

    #[inline]
    fn set_header<S: Source>(&self, m: &mut Mem<S>, b: u32, k: u32, used: bool, s: u32) {
        let w = word(k, used, s);
        m.write(b, w);
        if self.layout.tagged() {
            m.write(b + 4, tag(b, w, used));
        }
    }

    #[inline]
    fn push_free<S: Source>(&mut self, m: &mut Mem<S>, b: u32, k: u32) {
        let l = self.layout;
        let k = k as usize;
        push(m, &l, &mut self.heads[k], self.nonempty & (1 << k) != 0, b);
        self.nonempty |= 1 << k;
    }

    #[inline]
    fn unlink_free<S: Source>(&mut self, m: &mut Mem<S>, b: u32, k: u32) {
        let l = self.layout;
        let k = k as usize;
        if unlink(m, &l, &mut self.heads[k], b) {
            self.nonempty &= !(1 << k);
        }
    }

    /// The lowest non-empty order at or above `k`, and its head.
    #[inline]
    fn find(&self, k: u32) -> Option<(u32, u32)> {
        let orders = self.nonempty & (u32::MAX << k);
        if orders == 0 {
            return None;
        }
        let i = orders.trailing_zeros();
        Some((self.heads[i as usize], i))
    }

    /// Makes `(x, k)` free, merging it with its buddy while the buddy is a free block of the
    /// same order and the parent lies inside the trees. `x`'s own header is rewritten last.
    fn release<S: Source, O: Observer>(
        &mut self,
        m: &mut Mem<S>,
        o: &mut O,
        mut x: u32,
        mut k: u32,
    ) {
        while k < MAX_ORDER {
            let rel = x - self.first;
            let parent = rel & !(1u32 << k);
            if parent as u64 + (2u64 << k) > self.span as u64 {
                break;
            }
            let bud = self.first + (rel ^ (1u32 << k));
            match self.hdr(m, bud) {
                Some(h) if !h.used && h.k == k => {}
                _ => break,
            }
            self.unlink_free(m, bud, k);
            let (lo, hi) = if bud < x { (bud, x) } else { (x, bud) };
            x = lo;
            k += 1;
            o.event(Event::Coalesce {
                block: lo,
                absorbed: hi,
                size: 1 << k,
            });
        }
        self.set_header(m, x, k, false, 0);
        self.push_free(m, x, k);
    }

    /// Grows the heap so that a free block of order `k` or more exists. On failure nothing
    /// has changed.
    fn grow_for<S: Source, O: Observer>(
        &mut self,
        m: &mut Mem<S>,
        o: &mut O,
        k: u32,
        request: usize,
    ) -> Result<(), HeapError> {
        let oom = HeapError::OutOfMemory { requested: request };
        if m.is_fixed() {
            return Err(oom);
        }
        if self.span == 0 {
            // The first growth: a root just big enough, after the alignment padding.
            let end = self.first as u64 + (1u64 << k);
            if end > MAX_HEAP as u64 || (m.brk() as u64) > self.first as u64 {
                return Err(oom);
            }
            let (old_brk, pages) = m.grow(end as u32 - m.brk()).map_err(|_| oom)?;
            o.event(Event::Grow {
                old_brk,
                new_brk: m.brk(),
                pages,
            });
            self.span = 1 << k;
            self.set_header(m, self.first, k, false, 0);
            self.push_free(m, self.first, k);
            return Ok(());
        }
        // Double the root until a free block of order k appears: the new halves have orders
        // r, r + 1, ..., and they merge with the old root if it is free.
        let r = self.span.trailing_zeros();
        let root_free = matches!(self.hdr(m, self.first), Some(h) if !h.used && h.k == r);
        let target = if root_free { k } else { r.max(k) + 1 };
        if target > MAX_ORDER || self.first as u64 + (1u64 << target) > MAX_HEAP as u64 {
            return Err(oom);
        }
        let (old_brk, pages) = m.grow((1u32 << target) - self.span).map_err(|_| oom)?;
        o.event(Event::Grow {
            old_brk,
            new_brk: m.brk(),
            pages,
        });
        for i in r..target {
            let half = self.first + (1u32 << i);
            self.span = 2u32 << i;
            self.set_header(m, half, i, false, 0);
            self.release(m, o, half, i);
        }
        Ok(())
    }

    /// Takes the free block `b` of order `i` off its list and splits it down to order `k`,
    /// the lower half kept each time; writes the used header. Returns the payload.
    fn take<S: Source, O: Observer>(
        &mut self,
        m: &mut Mem<S>,
        o: &mut O,
        b: u32,
        mut i: u32,
        k: u32,
        s: u32,
    ) -> u32 {
        self.unlink_free(m, b, i);
        while i > k {
            i -= 1;
            let upper = b + (1u32 << i);
            self.set_header(m, upper, i, false, 0);
            self.push_free(m, upper, i);
            o.event(Event::Split {
                block: b,
                size: 1 << i,
                rest: upper,
                rest_size: 1 << i,
            });
        }
        self.set_header(m, b, k, true, s);
        let h = self.layout.header;
        let off = self.off(s);
        let p = b + off;
        if s > 0 {
            m.write(p - 4, BACK | off);
            // A stale header at p - H must not make `validate(p)` see a block there.
            if p - h >= b + h && p - h + 4 <= p - 4 {
                m.write(p - h, 0);
            }
        }
        p
    }

    /// The order of a block whose payload sits `off` bytes in and holds `request` bytes, or
    /// `SizeOverflow` beyond the largest block.
    fn order_for(&self, off: u32, request: usize) -> Result<u32, HeapError> {
        let need = (off as u64).saturating_add(request.max(1) as u64);
        if need > 1u64 << MAX_ORDER {
            return Err(HeapError::SizeOverflow);
        }
        Ok(ceil_log2(need).max(self.kmin))
    }
}

impl Policy for Buddy {
    unsafe fn block_unchecked<S: Source>(&self, m: &Mem<S>, p: u32) -> u32 {
        // Over-aligned payloads sit past their header: find the block the checked way.
        self.validate(m, p, 0).unwrap_or(p)
    }
    fn init<S: Source>(&mut self, m: &mut Mem<S>) {
        let base = m.base_ptr() as usize;
        let brk = m.brk();
        self.heads = [NIL; ORDERS];
        self.nonempty = 0;
        self.span = 0;
        if !m.is_fixed() {
            // A growable heap starts empty, at the break (the heap's start).
            self.first = brk + self.layout.first_block(base + brk as usize);
            return;
        }
        let start = m.start();
        self.first = start + self.layout.first_block(base + start as usize);
        let area = brk.saturating_sub(self.first);
        self.span = area & !((1u32 << self.kmin) - 1);
        // One tree per set bit of the span, largest first.
        for r in (self.kmin..=MAX_ORDER).rev() {
            if self.span & (1 << r) != 0 {
                let rel = (self.span as u64 & !((2u64 << r) - 1)) as u32;
                let b = self.first + rel;
                self.set_header(m, b, r, false, 0);
                self.push_free(m, b, r);
            }
        }
    }

    fn layout(&self) -> Layout {
        self.layout
    }

    fn validate<S: Source>(&self, m: &Mem<S>, p: u32, addr: usize) -> Result<u32, HeapError> {
        let l = &self.layout;
        let h = l.header;
        let end = self.first as u64 + self.span as u64;
        if (p as u64) < self.first as u64 + h as u64
            || p as u64 >= end
            || (m.base_ptr() as usize).wrapping_add(p as usize) % l.align as usize != 0
        {
            return Err(HeapError::Foreign { addr });
        }
        // A payload right after its header.
        if let Some(hd) = self.hdr(m, p - h) {
            if hd.s == 0 {
                return if hd.used {
                    Ok(p - h)
                } else {
                    Err(HeapError::DoubleFree { addr })
                };
            }
        }
        // An over-aligned payload: the back-offset word just before it names the block.
        if p >= self.first + h + 4 {
            let w = m.read(p - 4);
            if w & BACK_MASK == BACK {
                let off = w & !BACK_MASK;
                if off <= p - self.first {
                    let b = p - off;
                    match self.hdr(m, b) {
                        Some(hd) if hd.used && hd.s > 0 && self.off(hd.s) == off => return Ok(b),
                        // The block that stood here was freed (and maybe merged).
                        Some(hd) if !hd.used => return Err(HeapError::DoubleFree { addr }),
                        _ => {}
                    }
                }
            }
        }
        Err(HeapError::Interior { addr })
    }

    fn malloc<S: Source, O: Observer>(
        &mut self,
        m: &mut Mem<S>,
        o: &mut O,
        request: usize,
        align: u32,
    ) -> Result<u32, HeapError> {
        let l = self.layout;
        // Over-aligned requests take blocks at least as large as the alignment, so every
        // candidate has the same payload offset.
        let (s, kalign) = if align <= l.align {
            (0, 0)
        } else {
            let a = align.trailing_zeros();
            let s = if (self.first + l.header) % align == 0 {
                0
            } else {
                a
            };
            (s, a)
        };
        let off = self.off(s);
        let k = self.order_for(off, request)?.max(kalign);
        let found = match self.find(k) {
            Some(f) => f,
            None => {
                self.grow_for(m, o, k, request)?;
                self.find(k)
                    .expect("growth makes a large enough free block")
            }
        };
        let (b, i) = found;
        let p = self.take(m, o, b, i, k, s);
        o.event(Event::Alloc {
            block: b,
            size: 1 << k,
            request: request as u32,
            probes: 1,
        });
        Ok(p)
    }

    fn free<S: Source, O: Observer>(&mut self, m: &mut Mem<S>, o: &mut O, b: u32) {
        let k = self.hdr_of(m, b).k;
        o.event(Event::Free {
            block: b,
            size: 1 << k,
        });
        // Mark it free first: if it is absorbed by its buddy, no stale "used" header stays.
        self.set_header(m, b, k, false, 0);
        self.release(m, o, b, k);
    }

    fn realloc<S: Source, O: Observer>(
        &mut self,
        m: &mut Mem<S>,
        o: &mut O,
        b: u32,
        request: usize,
    ) -> Result<u32, HeapError> {
        let Hdr { k, s, .. } = self.hdr_of(m, b);
        let off = self.off(s);
        let j = self.order_for(off, request)?;
        if j <= k {
            // Shrink: give the upper halves back (their buddies are ours, so no merging).
            let mut i = k;
            while i > j {
                i -= 1;
                let upper = b + (1u32 << i);
                self.set_header(m, upper, i, false, 0);
                self.push_free(m, upper, i);
                o.event(Event::Split {
                    block: b,
                    size: 1 << i,
                    rest: upper,
                    rest_size: 1 << i,
                });
            }
            self.set_header(m, b, j, true, s);
            o.event(Event::Realloc {
                old: b,
                new: b,
                size: 1 << j,
                in_place: true,
            });
            return Ok(b + off);
        }
        // Grow in place: at every level from k to j, b must be the lower buddy and the upper
        // one a free block of that order; at the root of a growable heap, the heap can grow.
        let rel = b - self.first;
        let mut i = k;
        let mut grow_from = None;
        while i < j {
            if rel & (1u32 << i) != 0 {
                break;
            }
            if rel as u64 + (2u64 << i) > self.span as u64 {
                if !m.is_fixed() && rel == 0 && self.span == 1u32 << i {
                    grow_from = Some(i);
                    i = j;
                }
                break;
            }
            match self.hdr(m, b + (1u32 << i)) {
                Some(h) if !h.used && h.k == i => i += 1,
                _ => break,
            }
        }
        let grown = i == j
            && match grow_from {
                None => true,
                // `grow` refuses a heap past MAX_HEAP; on failure nothing changed and the move
                // below fails the same way.
                Some(r) => match m.grow((1u32 << j) - (1u32 << r)) {
                    Ok((old_brk, pages)) => {
                        o.event(Event::Grow {
                            old_brk,
                            new_brk: m.brk(),
                            pages,
                        });
                        true
                    }
                    Err(_) => false,
                },
            };
        if grown {
            let top = grow_from.unwrap_or(j);
            for i in k..j {
                let bud = b + (1u32 << i);
                if i < top {
                    self.unlink_free(m, bud, i);
                }
                o.event(Event::Coalesce {
                    block: b,
                    absorbed: bud,
                    size: 2 << i,
                });
            }
            if grow_from.is_some() {
                self.span = 1 << j;
            }
            self.set_header(m, b, j, true, s);
            o.event(Event::Realloc {
                old: b,
                new: b,
                size: 1 << j,
                in_place: true,
            });
            return Ok(b + off);
        }
        // Move: a new block, the bytes, then the old block freed.
        let p = self.malloc(m, o, request, 1)?;
        let keep = ((1u32 << k) - off).min(request as u32);
        m.copy(b + off, p, keep);
        self.free(m, o, b);
        let nb = p - self.layout.header;
        o.event(Event::Realloc {
            old: b,
            new: nb,
            size: 1 << self.hdr_of(m, nb).k,
            in_place: false,
        });
        Ok(p)
    }

    fn usable_size<S: Source>(&self, m: &Mem<S>, b: u32) -> u32 {
        let h = self.hdr_of(m, b);
        (1u32 << h.k) - self.off(h.s)
    }

    fn walk<S: Source>(&self, m: &Mem<S>, f: &mut dyn FnMut(BlockInfo)) {
        let end = self.first + self.span;
        let mut b = self.first;
        while b < end {
            let Some(h) = self.hdr(m, b) else { return };
            f(BlockInfo {
                block: b,
                size: 1 << h.k,
                header: self.off(h.s),
                used: h.used,
            });
            b += 1 << h.k;
        }
    }

    fn free_lists<S: Source>(&self, m: &Mem<S>, f: &mut dyn FnMut(usize, u32)) {
        let l = &self.layout;
        // No list can hold more blocks than the heap has room for (a bound against cycles).
        let mut budget = self.span >> self.kmin;
        for k in 0..ORDERS {
            if self.nonempty & (1 << k) != 0 {
                let mut e = self.heads[k];
                while e != NIL && budget > 0 && e < m.brk() {
                    budget -= 1;
                    f(k, e);
                    e = m.next_link(l, e);
                }
            }
        }
    }

    fn check<S: Source>(&self, m: &Mem<S>) -> Result<(), (u32, &'static str)> {
        let l = &self.layout;
        let base = m.base_ptr() as usize;
        let brk = m.brk();
        let end = self.first as u64 + self.span as u64;
        if self.span > 0 && end > brk as u64 {
            return Err((NIL, "the buddy trees run past the break"));
        }
        if m.is_fixed() {
            if self.first != l.first_block(base)
                || self.span != brk.saturating_sub(self.first) & !((1u32 << self.kmin) - 1)
            {
                return Err((NIL, "the fixed heap's trees do not cover it as they should"));
            }
        } else if self.span != 0 && (!self.span.is_power_of_two() || end != brk as u64) {
            return Err((
                NIL,
                "a growable heap must be one tree that ends at the break",
            ));
        }
        if (base + (self.first + l.header) as usize) % l.align as usize != 0 {
            return Err((NIL, "the first payload is not aligned"));
        }
        // Walk the blocks.
        let mut b = self.first;
        let mut free = 0u32;
        let mut prev_free: Option<(u32, u32)> = None;
        while (b as u64) < end {
            let rel = b - self.first;
            if rel & ((1u32 << self.kmin) - 1) != 0 {
                return Err((b, "a block is not aligned to the minimum block size"));
            }
            let w = m.read(b);
            let h = self.decode(w).map_err(|e| (b, e))?;
            let size = 1u32 << h.k;
            if rel & (size - 1) != 0 {
                return Err((b, "a block is not aligned to its size"));
            }
            if rel as u64 + size as u64 > self.span as u64 {
                return Err((
                    b,
                    "a block runs past the end of its tree: blocks do not tile the heap",
                ));
            }
            if l.tagged() && m.read(b + 4) != tag(b, w, h.used) {
                return Err((b, "the header's check tag does not match it"));
            }
            let p = b + self.off(h.s);
            if h.s == 0 {
                if (base + p as usize) % l.align as usize != 0 {
                    return Err((b, "payload is not aligned"));
                }
            } else {
                if (base + p as usize) % (1usize << h.s) != 0 {
                    return Err((b, "an over-aligned payload is not aligned"));
                }
                if m.read(p - 4) != BACK | self.off(h.s) {
                    return Err((b, "an over-aligned block's back-offset word is wrong"));
                }
            }
            if let Some((pb, pk)) = prev_free {
                if !h.used
                    && pk == h.k
                    && pb + (1u32 << pk) == b
                    && (pb - self.first) & (1u32 << pk) == 0
                {
                    let parent = pb - self.first;
                    if parent as u64 + (2u64 << pk) <= self.span as u64 {
                        return Err((b, "two free buddies of the same order were not merged"));
                    }
                }
            }
            if h.used {
                prev_free = None;
            } else {
                free += 1;
                prev_free = Some((b, h.k));
            }
            b += size;
        }
        if b as u64 != end {
            return Err((b, "blocks do not tile the heap"));
        }
        // The free lists.
        if self.nonempty >> ORDERS != 0 {
            return Err((NIL, "the bitmap marks an order that does not exist"));
        }
        let mut budget = free;
        let mut listed = 0;
        for k in 0..ORDERS as u32 {
            if self.nonempty & (1 << k) == 0 {
                continue;
            }
            let (mut prev, mut e, mut n) = (NIL, self.heads[k as usize], 0);
            while e != NIL {
                if budget == 0 {
                    return Err((
                        NIL,
                        "the free lists hold more entries than there are free blocks (a cycle?)",
                    ));
                }
                budget -= 1;
                match self.hdr(m, e) {
                    Some(h) if !h.used && h.k == k => {}
                    Some(h) if !h.used => {
                        return Err((e, "a free block sits in the list of another order"))
                    }
                    _ => return Err((e, "a free list holds a block that is not free")),
                }
                if m.prev_link(l, e) != prev {
                    return Err((e, "a free-list back link does not match"));
                }
                n += 1;
                prev = e;
                e = m.next_link(l, e);
            }
            if n == 0 {
                return Err((NIL, "an order is marked non-empty but its list is empty"));
            }
            listed += n;
        }
        if listed != free {
            return Err((NIL, "the free lists do not hold exactly the free blocks"));
        }
        Ok(())
    }
}
