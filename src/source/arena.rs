//! A heap-allocated arena: the native stand-in for linear memory, with a fixed capacity so
//! that out-of-memory can be tested.

use super::{FixedRegion, Source, PAGE};
use alloc::alloc::{alloc_zeroed, dealloc, Layout};

/// The address an arena's heap reports as its start unless told otherwise: the first 64 KiB
/// page after the null page, as a small wasm module's heap would be.
pub const DEFAULT_BASE: usize = 0x1_0000;

/// Memory from the host allocator, 64 KiB aligned and zeroed (as fresh wasm pages are).
pub struct Arena {
    region: FixedRegion,
    /// The host allocation (larger than the region by up to a page, for alignment).
    raw: *mut u8,
    layout: Layout,
}

impl Arena {
    /// An arena of `capacity` bytes (rounded up to whole 64 KiB pages), reporting addresses
    /// from [`DEFAULT_BASE`]. `None` if the host cannot provide it.
    pub fn new(capacity: usize) -> Option<Arena> {
        Arena::with_base(capacity, DEFAULT_BASE)
    }

    /// An arena whose reports start at `base` (OSTEP's `-b`).
    pub fn with_base(capacity: usize, base: usize) -> Option<Arena> {
        let capacity = capacity.max(1).checked_next_multiple_of(PAGE)?;
        // Ask for a page more at a small alignment and align by hand: the host then hands out
        // lazily zeroed pages (calloc) instead of zeroing a large aligned block up front.
        let layout = Layout::from_size_align(capacity.checked_add(PAGE)?, 16).ok()?;
        // SAFETY: layout has a non-zero size.
        let raw = unsafe { alloc_zeroed(layout) };
        if raw.is_null() {
            return None;
        }
        let start = raw.wrapping_add(raw.align_offset(PAGE));
        // SAFETY: `start..start + capacity` lies inside the allocation, which we own until
        // drop, and it is 64 KiB aligned.
        let region = unsafe { FixedRegion::new(start, capacity, base) };
        Some(Arena {
            region,
            raw,
            layout,
        })
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        // SAFETY: allocated in `with_base` with this very layout.
        unsafe { dealloc(self.raw, self.layout) }
    }
}

// SAFETY: the arena owns its memory; it may move to another thread with its owner.
unsafe impl Send for Arena {}

// SAFETY: delegates to a FixedRegion over memory this arena owns.
unsafe impl Source for Arena {
    fn start(&mut self) -> *mut u8 {
        self.region.start()
    }
    fn brk(&self) -> *mut u8 {
        self.region.brk()
    }
    fn sbrk(&mut self, bytes: usize) -> Option<*mut u8> {
        self.region.sbrk(bytes)
    }
    fn committed_end(&self) -> *mut u8 {
        self.region.committed_end()
    }
    fn report_base(&mut self) -> usize {
        self.region.report_base()
    }
}
