//! A trivial bump allocator that never frees: it aligns the next address, grows memory by
//! whole 64 KiB pages when it passes the end, and leaves realloc and alloc_zeroed to
//! `GlobalAlloc`'s defaults. The baseline of the code-size and instruction-count figures.

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::cell::UnsafeCell;

/// (next free address, end of memory); 0 until the first allocation.
pub struct Bump(UnsafeCell<(usize, usize)>);

impl Bump {
    pub const fn new() -> Self {
        Bump(UnsafeCell::new((0, 0)))
    }
}

// SAFETY: single-threaded wasm.
unsafe impl Sync for Bump {}

unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let s = unsafe { &mut *self.0.get() };
        if s.1 == 0 {
            s.1 = wasm32::memory_size(0) << 16;
            s.0 = s.1;
        }
        let start = (s.0 + l.align() - 1) & !(l.align() - 1);
        let Some(end) = start.checked_add(l.size()) else {
            return core::ptr::null_mut();
        };
        if end > s.1 {
            let pages = (end - s.1).div_ceil(65536);
            if wasm32::memory_grow(0, pages) == usize::MAX {
                return core::ptr::null_mut();
            }
            s.1 += pages << 16;
        }
        s.0 = end;
        start as *mut u8
    }
    unsafe fn dealloc(&self, _: *mut u8, _: Layout) {}
}
