//! The heap's bytes: the one place that reads and writes raw memory.
//!
//! Everything above this module names memory by `u32` offsets from the heap's start, so the
//! same heap has the same bytes (and the same reported addresses) on every target. Every
//! access is bounds-checked against the break in debug builds; release builds rely on the
//! engine's invariants, which `Heap::check` verifies.

use crate::source::{Source, PAGE};
use crate::HeapError;

/// The heap region of a source, addressed by offsets.
pub struct Mem<S: Source> {
    src: S,
    base: *mut u8,
    brk: u32,
    report_base: usize,
    /// `Some(n)`: the heap was made `n` bytes long at the start and never grows.
    fixed: Option<u32>,
}

/// The largest heap the engine manages: offsets are `u32`, sizes keep two flag bits.
pub const MAX_HEAP: u32 = 1 << 30;

impl<S: Source> Mem<S> {
    pub fn new(mut src: S) -> Self {
        let base = src.start();
        let report_base = src.report_base();
        let brk = (src.brk() as usize - base as usize) as u32;
        Mem { src, base, brk, report_base, fixed: None }
    }

    pub fn source(&self) -> &S {
        &self.src
    }
    /// Real address of the heap's start.
    pub fn base_ptr(&self) -> *mut u8 {
        self.base
    }
    /// Address reports use for offset 0.
    pub fn report_base(&self) -> usize {
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
        end.saturating_sub(self.base as usize).min(u32::MAX as usize) as u32
    }
    pub fn is_fixed(&self) -> bool {
        self.fixed.is_some()
    }
    pub(crate) fn set_fixed(&mut self, size: u32) {
        self.fixed = Some(size);
    }

    /// Moves the break up by `bytes`; returns the old break and how many 64 KiB pages the
    /// memory underneath had to add.
    pub fn grow(&mut self, bytes: u32) -> Result<(u32, u32), HeapError> {
        let oom = HeapError::OutOfMemory { requested: bytes as usize };
        let new_brk = self.brk.checked_add(bytes).filter(|&b| b <= MAX_HEAP).ok_or(oom)?;
        if self.fixed.is_some() {
            return Err(oom);
        }
        let before = self.committed();
        let old = self.src.sbrk(bytes as usize).ok_or(oom)?;
        debug_assert_eq!(old as usize, self.base as usize + self.brk as usize);
        self.brk = new_brk;
        let pages = (self.committed().saturating_sub(before) as usize / PAGE) as u32;
        Ok((new_brk - bytes, pages))
    }

    /// Real address of an offset.
    #[inline]
    pub fn ptr(&self, off: u32) -> *mut u8 {
        self.base.wrapping_add(off as usize)
    }

    #[inline]
    pub fn read(&self, off: u32) -> u32 {
        debug_assert!(off as u64 + 4 <= self.brk as u64, "read at {off:#x} past the break");
        // SAFETY: `off + 4 <= brk` (an engine invariant, asserted in debug builds), and
        // `[base, base + brk)` is memory the source gave us.
        unsafe { self.ptr(off).cast::<u32>().read_unaligned() }
    }

    #[inline]
    pub fn write(&mut self, off: u32, v: u32) {
        debug_assert!(off as u64 + 4 <= self.brk as u64, "write at {off:#x} past the break");
        // SAFETY: as in `read`; `&mut self` makes the write exclusive.
        unsafe { self.ptr(off).cast::<u32>().write_unaligned(v) }
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
