//! WebAssembly linear memory as a source: the break moves by bytes inside pages already
//! grown, and `memory.grow` adds whole 64 KiB pages when it passes their end.

use super::{Source, PAGE};
use core::arch::wasm32;

/// The heap over linear memory 0, starting at the end of memory when first used.
///
/// It assumes nobody else grows the memory between its calls; if someone does, the next
/// growth fails cleanly (out of memory) rather than overlap their pages.
#[derive(Debug)]
pub struct WasmMemory {
    start: usize,
    brk: usize,
    /// End of the pages this heap grew (its own part of `memory.size`).
    end: usize,
}

impl WasmMemory {
    pub const fn new() -> WasmMemory {
        WasmMemory { start: 0, brk: 0, end: 0 }
    }

    /// A source over the pages this one has grown, with its break back at its start.
    ///
    /// Memory never shrinks, but a break can fall: a heap made over the returned source
    /// starts where the heap over `self` started and reuses the pages it grew, so that every
    /// heap one after the other in an instance gets the same addresses (the playground makes
    /// a new heap to change policy or to start again). `self` is left as it is.
    ///
    /// # Safety
    /// The heap over `self` (and any other user of those pages) must be gone before the
    /// returned source is used: both would own the same memory.
    pub unsafe fn restart(&self) -> WasmMemory {
        WasmMemory { start: self.start, brk: self.start, end: self.end }
    }

    fn init(&mut self) {
        if self.end == 0 {
            let end = wasm32::memory_size(0) * PAGE;
            self.start = end;
            self.brk = end;
            self.end = end;
        }
    }
}

impl Default for WasmMemory {
    fn default() -> Self {
        WasmMemory::new()
    }
}

// SAFETY: the heap uses only pages it grew itself with memory.grow (nothing else in the
// module owns them); linear memory never moves or shrinks.
unsafe impl Source for WasmMemory {
    fn start(&mut self) -> *mut u8 {
        self.init();
        self.start as *mut u8
    }
    fn brk(&self) -> *mut u8 {
        self.brk as *mut u8
    }
    fn sbrk(&mut self, bytes: usize) -> Option<*mut u8> {
        self.init();
        let new_brk = self.brk.checked_add(bytes)?;
        if new_brk > self.end {
            let pages = (new_brk - self.end).div_ceil(PAGE);
            // Someone else grew memory since our last growth: our pages are not at the end
            // any more, so new pages would not extend the heap. Refuse.
            if wasm32::memory_size(0) * PAGE != self.end {
                return None;
            }
            let old_pages = wasm32::memory_grow(0, pages);
            if old_pages == usize::MAX {
                return None;
            }
            self.end += pages * PAGE;
        }
        let old = self.brk;
        self.brk = new_brk;
        Some(old as *mut u8)
    }
    fn committed_end(&self) -> *mut u8 {
        (wasm32::memory_size(0) * PAGE) as *mut u8
    }
}
