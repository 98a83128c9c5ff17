//! The heap's bytes: the one place that reads and writes raw memory.
//!
//! Everything above this module names memory by `u32` offsets from the heap's start, so the
//! same heap has the same bytes (and the same reported addresses) on every target; over a
//! source that says [`Source::ADDRESSED`], offsets are the real addresses instead (the heap
//! starts at offset [`Mem::start`]), which saves adding a base on every access. Every
//! access is bounds-checked against the break in debug builds; release builds rely on the
//! engine's invariants, which `Heap::check` verifies.

use crate::source::{Source, PAGE};
use crate::HeapError;

/// The heap region of a source, addressed by offsets.
pub struct Mem<S: Source> {
    src: S,
    base: *mut u8,
    start: u32,
    brk: u32,
    report_base: usize,
    /// `Some(n)`: the heap was made `n` bytes long at the start and never grows.
    fixed: Option<u32>,
    /// How many growths had to skip a foreign region.
    skips: u32,
}

/// What a growth did: the old break, where the new bytes start (above the old break if a
/// foreign region lies between), and the 64 KiB pages the memory underneath added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grown {
    pub old_brk: u32,
    pub start: u32,
    pub pages: u32,
}

/// The largest heap the engine manages: offsets are `u32`, sizes keep two flag bits.
pub const MAX_HEAP: u32 = 1 << 30;

impl<S: Source> Mem<S> {
    pub fn new(mut src: S) -> Self {
        let start = src.start();
        let base = if S::ADDRESSED {
            core::ptr::null_mut()
        } else {
            start
        };
        let report_base = src
            .report_base()
            .wrapping_sub(start as usize - base as usize);
        let brk = (src.brk() as usize - base as usize) as u32;
        Mem {
            src,
            base,
            start: (start as usize - base as usize) as u32,
            brk,
            report_base,
            fixed: None,
            skips: 0,
        }
    }
    /// The highest offset the break may reach: [`MAX_HEAP`] bytes past the start, and below
    /// the last 64 KiB of a 32-bit space (offsets and the links' marks must fit in `u32`).
    #[inline]
    fn limit(&self) -> u32 {
        self.start()
            .saturating_add(MAX_HEAP)
            .min(u32::MAX - PAGE as u32 + 1)
    }
    /// The offset of the heap's start (0 unless the source's offsets are addresses).
    #[inline(always)]
    pub fn start(&self) -> u32 {
        if S::ADDRESSED {
            self.start
        } else {
            0
        }
    }

    pub fn source(&self) -> &S {
        &self.src
    }
    /// # Safety
    /// The caller must not move the break or touch the heap's memory through it.
    pub unsafe fn source_mut(&mut self) -> &mut S {
        &mut self.src
    }
    /// Real address of the heap's start.
    pub fn base_ptr(&self) -> *mut u8 {
        self.base
    }
    /// Address reports use for offset 0.
    #[inline(always)]
    pub fn report_base(&self) -> usize {
        if S::ADDRESSED {
            // Offsets are addresses, and reports give them as they are.
            return 0;
        }
        self.report_base
    }
    /// The break, as an offset.
    #[inline]
    pub fn brk(&self) -> u32 {
        self.brk
    }
    /// End of committed memory (offset), at or above the break.
    pub fn committed(&self) -> u32 {
        let end = self.src.committed_end() as usize;
        end.saturating_sub(self.base as usize)
            .min(u32::MAX as usize) as u32
    }
    /// How many growths so far had to skip a foreign region (it changes when one does).
    pub fn skips(&self) -> u32 {
        self.skips
    }
    pub fn is_fixed(&self) -> bool {
        self.fixed.is_some()
    }
    pub(crate) fn set_fixed(&mut self, size: u32) {
        self.fixed = Some(size);
    }

    /// Moves the break up by `bytes` in one piece with the heap; returns the old break and how
    /// many 64 KiB pages the memory underneath had to add. If the source could only grow past
    /// a foreign region, the heap keeps its break and this fails as out of memory (the pages
    /// are lost to it): for policies that cannot step over foreign memory.
    pub fn grow(&mut self, bytes: u32) -> Result<(u32, u32), HeapError> {
        let g = self.grow_any(bytes)?;
        if g.start != g.old_brk {
            self.brk = g.old_brk;
            return Err(HeapError::OutOfMemory {
                requested: bytes as usize,
            });
        }
        Ok((g.old_brk, g.pages))
    }

    /// Moves the break up by `bytes`, wherever the source puts them: `[old_brk, start)` is
    /// foreign memory when `start > old_brk`, and the break becomes `start + bytes`.
    pub fn grow_any(&mut self, bytes: u32) -> Result<Grown, HeapError> {
        let oom = HeapError::OutOfMemory {
            requested: bytes as usize,
        };
        self.brk
            .checked_add(bytes)
            .filter(|&b| b <= self.limit())
            .ok_or(oom)?;
        if self.fixed.is_some() {
            return Err(oom);
        }
        let before = self.committed();
        let at = self.src.sbrk(bytes as usize).ok_or(oom)? as usize;
        let start = at
            .checked_sub(self.base as usize)
            .and_then(|s| u32::try_from(s).ok());
        let Some(start) =
            start.filter(|&s| s >= self.brk && s as u64 + bytes as u64 <= self.limit() as u64)
        else {
            // Beyond what offsets can name: the heap cannot use it.
            return Err(oom);
        };
        let old_brk = self.brk;
        if start != old_brk {
            self.skips = self.skips.wrapping_add(1);
        }
        self.brk = start + bytes;
        let pages = (self.committed().saturating_sub(before) as usize / PAGE) as u32;
        Ok(Grown {
            old_brk,
            start,
            pages,
        })
    }

    /// Real address of an offset.
    #[inline]
    pub fn ptr(&self, off: u32) -> *mut u8 {
        if S::ADDRESSED {
            return off as usize as *mut u8;
        }
        self.base.wrapping_add(off as usize)
    }

    #[inline]
    pub fn read(&self, off: u32) -> u32 {
        debug_assert!(
            off as u64 + 4 <= self.brk as u64,
            "read at {off:#x} past the break"
        );
        // SAFETY: `off + 4 <= brk` (an engine invariant, asserted in debug builds), and
        // `[base, base + brk)` is memory the source gave us.
        unsafe { self.ptr(off).cast::<u32>().read_unaligned() }
    }

    #[inline]
    pub fn write(&mut self, off: u32, v: u32) {
        debug_assert!(
            off as u64 + 4 <= self.brk as u64,
            "write at {off:#x} past the break"
        );
        // SAFETY: as in `read`; `&mut self` makes the write exclusive.
        unsafe { self.ptr(off).cast::<u32>().write_unaligned(v) }
    }

    /// The word `k` bytes into the block at `b` (a constant `k` folds into the load).
    #[inline]
    pub fn read_at(&self, b: u32, k: u32) -> u32 {
        debug_assert!(
            b as u64 + k as u64 + 4 <= self.brk as u64,
            "read at {b:#x} + {k} past the break"
        );
        // SAFETY: as in `read`: `b + k + 4 <= brk`, inside the memory the source gave us.
        unsafe { self.ptr(b).add(k as usize).cast::<u32>().read_unaligned() }
    }

    /// Writes the word `k` bytes into the block at `b`.
    #[inline]
    pub fn write_at(&mut self, b: u32, k: u32, v: u32) {
        debug_assert!(
            b as u64 + k as u64 + 4 <= self.brk as u64,
            "write at {b:#x} + {k} past the break"
        );
        // SAFETY: as in `read_at`; `&mut self` makes the write exclusive.
        unsafe { self.ptr(b).add(k as usize).cast::<u32>().write_unaligned(v) }
    }

    /// The bytes `[off, off + len)`, clipped to the break.
    pub fn bytes(&self, off: u32, len: u32) -> &[u8] {
        let end = off.saturating_add(len).min(self.brk);
        let off = off.min(end);
        // SAFETY: `off..end` lies inside `[0, brk)`, which the source gave us.
        unsafe { core::slice::from_raw_parts(self.ptr(off), (end - off) as usize) }
    }

    /// The bytes `[off, off + len)` for writing, clipped to the break.
    pub fn bytes_mut(&mut self, off: u32, len: u32) -> &mut [u8] {
        let end = off.saturating_add(len).min(self.brk);
        let off = off.min(end);
        // SAFETY: as in `bytes`; `&mut self` makes the slice exclusive.
        unsafe { core::slice::from_raw_parts_mut(self.ptr(off), (end - off) as usize) }
    }

    /// `memmove` inside the heap.
    pub fn copy(&mut self, from: u32, to: u32, len: u32) {
        debug_assert!(from.max(to) as u64 + len as u64 <= self.brk as u64);
        // SAFETY: both ranges lie inside `[0, brk)`; `copy` allows overlap.
        unsafe { core::ptr::copy(self.ptr(from), self.ptr(to), len as usize) }
    }
}
