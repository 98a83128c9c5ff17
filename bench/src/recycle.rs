//! The baseline of the instruction counts (feature `baseline`), not a contender: about the
//! least an allocator can do. A freed block goes on a LIFO list of its class (its size rounded
//! up to 8 bytes, and its alignment) and the next request of that class takes it back; any
//! other request is bumped from the top (growing memory by whole pages). Nothing is split or
//! merged; blocks over 64 KiB or aligned past 4 KiB are never reused. realloc and
//! alloc_zeroed are `GlobalAlloc`'s defaults.

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::cell::UnsafeCell;

const CLASSES: usize = 8192 + 1; // sizes up to 65,536 in steps of 8
const ALIGNS: usize = 13; // 1 to 4,096

struct State {
    next: usize,
    end: usize,
    heads: [[usize; CLASSES]; ALIGNS],
}

pub struct Recycle(UnsafeCell<State>);

impl Recycle {
    pub const fn new() -> Self {
        Recycle(UnsafeCell::new(State {
            next: 0,
            end: 0,
            heads: [[0; CLASSES]; ALIGNS],
        }))
    }
}

// SAFETY: single-threaded wasm.
unsafe impl Sync for Recycle {}

#[inline]
fn class(l: &Layout) -> Option<(usize, usize)> {
    let c = l.size().div_ceil(8);
    let a = l.align().trailing_zeros() as usize;
    (c < CLASSES && a < ALIGNS).then_some((a, c))
}

unsafe impl GlobalAlloc for Recycle {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let s = unsafe { &mut *self.0.get() };
        if let Some((a, c)) = class(&l) {
            let h = s.heads[a][c];
            if h != 0 {
                s.heads[a][c] = unsafe { *(h as *const usize) };
                return h as *mut u8;
            }
        }
        if s.end == 0 {
            s.end = wasm32::memory_size(0) << 16;
            s.next = s.end;
        }
        let start = (s.next + l.align() - 1) & !(l.align() - 1);
        let Some(end) = start.checked_add(l.size().next_multiple_of(8)) else {
            return core::ptr::null_mut();
        };
        if end > s.end {
            let pages = (end - s.end).div_ceil(65536);
            if wasm32::memory_grow(0, pages) == usize::MAX {
                return core::ptr::null_mut();
            }
            s.end += pages << 16;
        }
        s.next = end;
        start as *mut u8
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        let s = unsafe { &mut *self.0.get() };
        if let Some((a, c)) = class(&l) {
            unsafe { *(p as *mut usize) = s.heads[a][c] };
            s.heads[a][c] = p as usize;
        }
    }
}
