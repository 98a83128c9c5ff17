//! The rescue function given to buddy_system_allocator (see `alloc.rs`).

pub fn rescue(heap: &mut buddy_system_allocator::Heap<32>, layout: &core::alloc::Layout) {
    use core::arch::wasm32;
    const PAGE: usize = 65536;
    let block = layout.size().next_power_of_two().max(layout.align()).max(8);
    let start = wasm32::memory_size(0) * PAGE;
    let Some(end) = start
        .checked_next_multiple_of(block)
        .and_then(|a| a.checked_add(block))
    else {
        return;
    };
    let pages = (end - start).div_ceil(PAGE);
    if wasm32::memory_grow(0, pages) != usize::MAX {
        // SAFETY: the pages were just grown: nobody else owns them.
        unsafe { heap.add_to_heap(start, start + pages * PAGE) };
    }
}
