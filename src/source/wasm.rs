//! WebAssembly linear memory as a source: the break moves by bytes inside pages already
//! grown, and `memory.grow` adds whole 64 KiB pages when it passes their end.

use super::{Source, PAGE};
use core::arch::wasm32;

/// The heap over linear memory 0, starting at the end of memory when first used.
///
/// If other code grows the memory between its calls, its next growth starts past their pages
/// and reports the gap (see [`Source::sbrk`]): the heap marks it foreign and never touches it.
///
/// Reports give real addresses, unless [`WasmMemory::with_report_base`] says otherwise.
#[derive(Debug)]
pub struct WasmMemory {
    start: usize,
    brk: usize,
    /// End of the pages this heap grew (its own part of `memory.size`).
    end: usize,
    /// What [`Source::report_base`] gives when `reports_from_base` is set (else the real
    /// start). Two fields, not an `Option`, so that a new source is all zero bytes.
    report_base: usize,
    reports_from_base: bool,
    /// Made by [`WasmMemory::restart`]: its pages past the break were written before.
    reused: bool,
}

impl WasmMemory {
    pub const fn new() -> WasmMemory {
        WasmMemory {
            start: 0,
            brk: 0,
            end: 0,
            report_base: 0,
            reports_from_base: false,
            reused: false,
        }
    }

    /// The same source, with reports that give the heap's start as `base` (OSTEP's `-b`,
    /// the CLI's `--base`); `None`: the real address, as [`WasmMemory::new`] does.
    ///
    /// Only reports change: a heap over this source names its start `base` and every block
    /// by its offset from there, while its bytes stay at the real start in linear memory
    /// (`Heap::mem().base_ptr()`). A reader of linear memory turns a reported address `a`
    /// into the real one as `a - base + real start`. Layouts do not change either: alignment
    /// applies to real addresses (a base that is not a multiple of the alignment shows
    /// payloads that look misaligned). Set it before a heap is made over the source (the
    /// heap reads it once); [`WasmMemory::restart`] keeps it.
    pub const fn with_report_base(mut self, base: Option<usize>) -> WasmMemory {
        match base {
            Some(b) => {
                self.report_base = b;
                self.reports_from_base = true;
            }
            None => {
                self.report_base = 0;
                self.reports_from_base = false;
            }
        }
        self
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
        WasmMemory {
            brk: self.start,
            reused: true,
            ..*self
        }
    }

    fn init(&mut self) {
        if self.end == 0 {
            let end = memory_end().unwrap_or(usize::MAX & !(PAGE - 1));
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
        if new_brk <= self.end {
            // Inside pages already grown: the break moves by bytes, as brk(2) does.
            let old = self.brk;
            self.brk = new_brk;
            return Some(old as *mut u8);
        }
        if memory_end() == Some(self.end) {
            // Our pages end memory: new pages extend them.
            let pages = (new_brk - self.end).div_ceil(PAGE);
            let end = self.end.checked_add(pages.checked_mul(PAGE)?)?;
            if wasm32::memory_grow(0, pages) == usize::MAX {
                return None;
            }
            self.end = end;
            let old = self.brk;
            self.brk = new_brk;
            return Some(old as *mut u8);
        }
        // Someone else grew memory since our last growth: their pages lie above ours. The new
        // bytes start past them; the heap leaves the foreign region alone.
        let pages = bytes.div_ceil(PAGE);
        let first = wasm32::memory_grow(0, pages);
        if first == usize::MAX {
            return None;
        }
        let start = first.checked_mul(PAGE)?;
        self.end = start.checked_add(pages.checked_mul(PAGE)?)?;
        self.brk = start + bytes;
        Some(start as *mut u8)
    }
    fn committed_end(&self) -> *mut u8 {
        memory_end().unwrap_or(usize::MAX) as *mut u8
    }
    /// Pages from `memory.grow` are zero, and nothing past the break writes them (unless a
    /// heap before this one did: a restarted source).
    fn zeroed_past_break(&self) -> bool {
        !self.reused
    }
    fn report_base(&mut self) -> usize {
        self.init();
        if self.reports_from_base {
            self.report_base
        } else {
            self.start
        }
    }
}

/// The end of linear memory in bytes (`None` at the full 4 GiB, which a wasm32 `usize`
/// cannot hold).
fn memory_end() -> Option<usize> {
    wasm32::memory_size(0).checked_mul(PAGE)
}
