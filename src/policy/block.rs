//! Boundary-tag blocks: the block format shared by the list, segregated and TLSF policies.
//!
//! ```text
//!  used block                          free block
//!  +-----------------------------+     +-----------------------------+
//!  | size | U | P   (u32)       |     | size | 0 | P   (u32)       |  header word
//!  | check tag       (u32, H>=8) |     | check tag       (u32, H>=8) |
//!  | (rest of the H-byte header) |     | (rest of the header)        |
//!  +-----------------------------+ <-- +-----------------------------+ payload start
//!  | payload ...                 |     | next free (u32 offset)      |
//!  |                             |     | prev free (u32 offset)      |
//!  |                             |     | ...                         |
//!  |                             |     | size (u32 footer)           |
//!  +-----------------------------+     +-----------------------------+
//! ```
//! - `size` is the whole block in bytes, header included; bit 31 `U` says the block is used,
//!   bit 30 `P` says the block *before* it is used. Only free blocks carry a footer, so the
//!   previous block is found from the footer just before a header whose `P` is clear.
//! - The header is `H` bytes (the header knob, at least 4). With `H >= 8` the second word is a
//!   check tag computed from the block's offset, size and state: a pointer whose "header"
//!   does not carry the right tag is not a block (an interior or stale pointer, or a header
//!   overwritten by an overflow).
//! - Payloads are aligned to `A` (the alignment knob): blocks start at offsets `b` with
//!   `b + H ≡ 0 (mod A)` and sizes are multiples of `A`, so the next block is aligned too.
//! - Free-list links are offsets into the heap, `NIL` for none.
//!
//! Invariants (checked by `check`): blocks tile `[first, brk)`; every `P` bit matches the
//! previous block; every free block's footer equals its size; sizes are multiples of `A`
//! and at least the minimum block.

use crate::heap::Mem;
use crate::source::Source;
use crate::HeapError;

pub const USED: u32 = 1 << 31;
pub const PREV_USED: u32 = 1 << 30;
pub const SIZE_MASK: u32 = PREV_USED - 1;
/// "No block" in a free-list link.
pub const NIL: u32 = u32::MAX;

/// The largest alignment `memalign` accepts: one WebAssembly page.
pub const MAX_ALIGN: usize = 64 * 1024;

/// Block geometry: header size and payload alignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Header bytes before every payload.
    pub header: u32,
    /// Payload alignment and size granule.
    pub align: u32,
    /// Smallest block: room for a header, two links and a footer.
    pub min_block: u32,
}

impl Layout {
    /// Checks the knobs: a header of 4 to 256 bytes, a power-of-two alignment of 1 to 4096.
    pub const fn new(header: u32, align: u32) -> Result<Layout, HeapError> {
        if header < 4 {
            return Err(HeapError::BadConfig(
                "the header must be at least 4 bytes: it holds the block's size",
            ));
        }
        if header > 256 {
            return Err(HeapError::BadConfig("the header must be at most 256 bytes"));
        }
        if !align.is_power_of_two() || align > 4096 {
            return Err(HeapError::BadConfig(
                "the alignment must be a power of two from 1 to 4096",
            ));
        }
        let min_block = round_up(header + 12, align);
        Ok(Layout {
            header,
            align,
            min_block,
        })
    }
}

/// Block geometry as the engine reads it: a run-time [`Layout`] for the playground's knobs,
/// or a type whose numbers are constants ([`Compact`]), which lets the compiler fold them
/// into the production allocator's code.
pub trait Geometry: Copy + core::fmt::Debug {
    /// Header bytes before every payload.
    fn header(&self) -> u32;
    /// Payload alignment and size granule (a power of two).
    fn align(&self) -> u32;
    /// Smallest block: room for a header, two links and a footer.
    fn min_block(&self) -> u32;

    /// Policy options this geometry fixes at compile time, so that the production
    /// allocator's code tests constants rather than fields: the largest block the quick
    /// lists take and whether the top block is kept apart (see `Bt::with_quick_lists` and
    /// `Bt::with_top_apart`, which it overrides). `None`: as the policy was built.
    #[inline(always)]
    fn fixed_options(&self) -> Option<(u32, bool)> {
        None
    }

    /// Whether the heap may skip work whose only use is to catch a caller's mistakes (such as
    /// marking the header a merge leaves inside a free block, so that a second free of it is
    /// seen): the production allocator's callers are bound by `GlobalAlloc`'s contract.
    #[inline(always)]
    fn trusts_callers(&self) -> bool {
        false
    }

    /// Whether headers carry a check tag.
    #[inline(always)]
    fn tagged(&self) -> bool {
        self.header() >= 8
    }

    /// The block size that serves a request of `request` bytes, or `None` if too large.
    #[inline(always)]
    fn block_size(&self, request: usize) -> Option<u32> {
        // Blocks stay below 1 GiB (the size field's 30 bits): rounded up to the granule, the
        // request and its header must fit in the largest granule multiple below that.
        let most = SIZE_MASK & !(self.align() - 1);
        if request > (most - self.header()) as usize {
            return None;
        }
        let s = round_up(request as u32 + self.header(), self.align());
        Some(if s < self.min_block() {
            self.min_block()
        } else {
            s
        })
    }

    /// Bytes a request aligned to `align` may need before its block for the lead gap, at
    /// worst (0 when the granule's alignment is enough): a free block of the request's size
    /// plus this much surely holds it, wherever the block starts.
    #[inline(always)]
    fn lead_room(&self, align: u32) -> u32 {
        if align > self.align() {
            align + self.min_block()
        } else {
            0
        }
    }

    /// The first offset at which a block may start, given the heap's real start address.
    #[inline]
    fn first_block(&self, base: usize) -> u32 {
        let a = self.align() as usize;
        let h = self.header() as usize;
        let payload = (base.wrapping_add(h).wrapping_add(a - 1)) & !(a - 1);
        payload.wrapping_sub(h).wrapping_sub(base) as u32
    }

    /// Where a block of `asize` bytes with a payload aligned to `align` (real addresses)
    /// fits inside the free block `[b, b + size)`: the lead gap before it, which is either 0
    /// or large enough to stand as a free block of its own. `None` if it does not fit.
    #[inline(always)]
    fn fit(&self, base: usize, b: u32, size: u32, asize: u32, align: u32) -> Option<u32> {
        if align <= self.align() {
            return if size >= asize { Some(0) } else { None };
        }
        let real_payload = base.wrapping_add((b + self.header()) as usize);
        let mask = align as usize - 1;
        let mut lead =
            ((real_payload.wrapping_add(mask) & !mask).wrapping_sub(real_payload)) as u32;
        if lead != 0 && lead < self.min_block() {
            lead += round_up(self.min_block() - lead, align);
        }
        if lead.checked_add(asize)? <= size {
            Some(lead)
        } else {
            None
        }
    }

    /// As a [`Layout`] value.
    fn layout(&self) -> Layout {
        Layout {
            header: self.header(),
            align: self.align(),
            min_block: self.min_block(),
        }
    }
}

impl Geometry for Layout {
    #[inline(always)]
    fn header(&self) -> u32 {
        self.header
    }
    #[inline(always)]
    fn align(&self) -> u32 {
        self.align
    }
    #[inline(always)]
    fn min_block(&self) -> u32 {
        self.min_block
    }
}

/// The production geometry, as constants: a 4-byte header (size and two flag bits, no check
/// tag), 8-byte granules, 16-byte minimum blocks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Compact;

impl Geometry for Compact {
    #[inline(always)]
    fn header(&self) -> u32 {
        4
    }
    #[inline(always)]
    fn align(&self) -> u32 {
        8
    }
    #[inline(always)]
    fn min_block(&self) -> u32 {
        16
    }
}

/// The production allocator's geometry: [`Compact`]'s numbers, with quick lists up to
/// [`PRODUCTION_QUICK_MAX`] bytes and the top block kept apart fixed as constants, and
/// trusted callers (see [`Geometry::trusts_callers`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Production;

/// The largest block the production allocator's quick lists take: the block of a request of
/// 128 bytes (with its 4-byte header, rounded up to 8).
pub const PRODUCTION_QUICK_MAX: u32 = 136;

impl Geometry for Production {
    #[inline(always)]
    fn header(&self) -> u32 {
        Compact.header()
    }
    #[inline(always)]
    fn align(&self) -> u32 {
        Compact.align()
    }
    #[inline(always)]
    fn min_block(&self) -> u32 {
        Compact.min_block()
    }
    #[inline(always)]
    fn fixed_options(&self) -> Option<(u32, bool)> {
        Some((PRODUCTION_QUICK_MAX, true))
    }
    #[inline(always)]
    fn trusts_callers(&self) -> bool {
        true
    }
}

#[inline]
pub const fn round_up(x: u32, a: u32) -> u32 {
    (x + a - 1) & !(a - 1)
}

/// The check tag of a block header: mixes offset, size and state, so that a stale or forged
/// header (or random payload bytes read as one) almost never passes.
#[inline]
pub fn tag(b: u32, size: u32, used: bool) -> u32 {
    let x = b.wrapping_mul(0x9E37_79B1) ^ size.rotate_left(13) ^ 0xA110_C8ED;
    if used {
        !x
    } else {
        x
    }
}

/// The size a check tag `t` was made for, were it the tag of a block at `b` in that state:
/// the inverse of [`tag`]. A header whose own tag names a plausible size was written by the
/// engine and overwritten since (rather than never being a header at all).
#[inline]
pub fn tag_size(b: u32, t: u32, used: bool) -> u32 {
    let x = if used { !t } else { t };
    (x ^ b.wrapping_mul(0x9E37_79B1) ^ 0xA110_C8ED).rotate_right(13)
}

/// Reading and writing boundary tags on a heap.
impl<S: Source> Mem<S> {
    #[inline]
    pub fn size_of(&self, b: u32) -> u32 {
        self.read(b) & SIZE_MASK
    }
    #[inline]
    pub fn is_used(&self, b: u32) -> bool {
        self.read(b) & USED != 0
    }
    #[inline]
    pub fn prev_is_used(&self, b: u32) -> bool {
        self.read(b) & PREV_USED != 0
    }

    /// Writes the header of block `b` (and, for a free block, its footer), keeping `P`.
    #[inline]
    pub fn set_block<G: Geometry>(&mut self, l: &G, b: u32, size: u32, used: bool) {
        let p = self.read(b) & PREV_USED;
        self.set_header(l, b, size, used, p != 0);
    }

    /// Writes the whole header of block `b` (and, for a free block, its footer).
    #[inline]
    pub fn set_header<G: Geometry>(
        &mut self,
        l: &G,
        b: u32,
        size: u32,
        used: bool,
        prev_used: bool,
    ) {
        let flags = if used { USED } else { 0 } | if prev_used { PREV_USED } else { 0 };
        self.write(b, size | flags);
        if l.tagged() {
            self.write(b + 4, tag(b, size, used));
        }
        if !used {
            self.write(b + size - 4, size);
        }
    }

    /// Sets or clears the `P` bit of the block that starts at `b`, if it is inside the heap.
    #[inline]
    pub fn set_prev_used(&mut self, b: u32, used: bool) {
        if b < self.brk() {
            let h = self.read(b);
            self.write(b, if used { h | PREV_USED } else { h & !PREV_USED });
        }
    }

    /// The free block just before `b`, if there is one (read from its footer).
    #[inline]
    pub fn prev_free(&self, first: u32, b: u32) -> Option<u32> {
        if b <= first || self.prev_is_used(b) {
            return None;
        }
        Some(b - self.read(b - 4))
    }

    /// Free-list links, stored in a free block's payload.
    #[inline]
    pub fn next_link<G: Geometry>(&self, l: &G, b: u32) -> u32 {
        self.read_at(b, l.header())
    }
    #[inline]
    pub fn prev_link<G: Geometry>(&self, l: &G, b: u32) -> u32 {
        self.read_at(b, l.header() + 4)
    }
    #[inline]
    pub fn set_next_link<G: Geometry>(&mut self, l: &G, b: u32, v: u32) {
        self.write_at(b, l.header(), v)
    }
    #[inline]
    pub fn set_prev_link<G: Geometry>(&mut self, l: &G, b: u32, v: u32) {
        self.write_at(b, l.header() + 4, v)
    }
}
