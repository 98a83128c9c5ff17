//! [`Addressed`]: a source whose heap names bytes by their addresses.

use super::Source;

/// The source `S`, with the heap's offsets equal to real addresses (its start is at offset
/// `start()`, not 0). Reports give real addresses (whatever `S` would report). Layouts and
/// limits do not change; the engine's code does:
/// with the base known to be 0 at compile time, reading a header is one load instead of an
/// add and a load. The production allocator runs over `Addressed<WasmMemory>`.
///
/// Only on 32-bit targets, where every address fits in a `u32` offset.
#[derive(Debug, Default)]
pub struct Addressed<S>(pub S);

impl<S: Source> Addressed<S> {
    pub const fn new(src: S) -> Self {
        Addressed(src)
    }
}

// SAFETY: every method is the inner source's; only the engine's naming of offsets changes.
unsafe impl<S: Source> Source for Addressed<S> {
    const ADDRESSED: bool = true;

    #[inline]
    fn start(&mut self) -> *mut u8 {
        self.0.start()
    }
    #[inline]
    fn brk(&self) -> *mut u8 {
        self.0.brk()
    }
    #[inline]
    fn sbrk(&mut self, bytes: usize) -> Option<*mut u8> {
        self.0.sbrk(bytes)
    }
    #[inline]
    fn committed_end(&self) -> *mut u8 {
        self.0.committed_end()
    }
    #[inline]
    fn zeroed_past_break(&self) -> bool {
        self.0.zeroed_past_break()
    }
    /// Real addresses: the start itself.
    #[inline]
    fn report_base(&mut self) -> usize {
        self.0.start() as usize
    }
}
