//! A source over a fixed region given by its owner: no growth past its capacity, so out of
//! memory is reachable on purpose. Needs no allocator, so it serves `no_std` users too.

use super::{Source, PAGE};

/// `report_base` meaning "the real address".
const REAL: usize = usize::MAX;

/// A fixed-capacity region `[start, start + capacity)`; the break starts at `start`.
#[derive(Debug)]
pub struct FixedRegion {
    start: *mut u8,
    capacity: usize,
    brk: usize,
    report_base: usize,
}

impl FixedRegion {
    /// # Safety
    /// `start..start + capacity` must be writable memory that only this region uses for as
    /// long as it (and any heap over it) lives, and `start` must be 64 KiB aligned.
    pub const unsafe fn new(start: *mut u8, capacity: usize, report_base: usize) -> Self {
        FixedRegion {
            start,
            capacity,
            brk: 0,
            report_base,
        }
    }
    /// A region whose reports give real addresses (what [`crate::Allocator`] needs).
    ///
    /// # Safety
    /// As for [`FixedRegion::new`].
    pub const unsafe fn real(start: *mut u8, capacity: usize) -> Self {
        FixedRegion {
            start,
            capacity,
            brk: 0,
            report_base: REAL,
        }
    }
    /// Bytes still available above the break.
    pub fn remaining(&self) -> usize {
        self.capacity - self.brk
    }
    /// The whole capacity.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

// SAFETY: the region is owned exclusively (the constructor's contract), so it may move to
// another thread with its owner.
unsafe impl Send for FixedRegion {}

// SAFETY: the constructor's contract gives us exclusive use of `start..start + capacity`;
// `sbrk` never moves the break past `capacity`.
unsafe impl Source for FixedRegion {
    fn start(&mut self) -> *mut u8 {
        self.start
    }
    fn brk(&self) -> *mut u8 {
        self.start.wrapping_add(self.brk)
    }
    fn sbrk(&mut self, bytes: usize) -> Option<*mut u8> {
        if bytes > self.capacity - self.brk {
            return None;
        }
        let old = self.brk;
        self.brk += bytes;
        Some(self.start.wrapping_add(old))
    }
    fn committed_end(&self) -> *mut u8 {
        // Like a wasm memory, a fixed region "commits" whole 64 KiB pages.
        let end = self.brk.div_ceil(PAGE) * PAGE;
        self.start.wrapping_add(end.min(self.capacity))
    }
    fn report_base(&mut self) -> usize {
        if self.report_base == REAL {
            self.start as usize
        } else {
            self.report_base
        }
    }
}
