//! linked_list_allocator over linear memory (see `alloc.rs`).

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::ptr::{null_mut, NonNull};
use linked_list_allocator::LockedHeap;
const PAGE: usize = 65536;

pub struct Growing(pub LockedHeap);

unsafe impl GlobalAlloc for Growing {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let mut heap = self.0.lock();
        if let Ok(p) = heap.allocate_first_fit(layout) {
            return p.as_ptr();
        }
        let need = layout.size() + layout.align() + 64;
        let pages = need.div_ceil(PAGE);
        let end = wasm32::memory_size(0) * PAGE;
        if heap.size() != 0 && heap.top() as usize != end {
            return null_mut(); // someone else grew memory: the heap cannot extend
        }
        if wasm32::memory_grow(0, pages) == usize::MAX {
            return null_mut();
        }
        // SAFETY: the new pages are ours alone and follow the heap's top.
        unsafe {
            if heap.size() == 0 {
                heap.init(end as *mut u8, pages * PAGE);
            } else {
                heap.extend(pages * PAGE);
            }
        }
        heap.allocate_first_fit(layout)
            .map_or(null_mut(), |p| p.as_ptr())
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe {
            self.0
                .lock()
                .deallocate(NonNull::new_unchecked(ptr), layout)
        }
    }
}
