//! Memory sources: where the heap's bytes come from. The `sbrk` analog.
//!
//! A source owns one contiguous region that starts at [`Source::start`] and ends at the
//! break. [`Source::sbrk`] moves the break up by a number of bytes and returns the old one,
//! exactly as `sbrk(2)` does; it fails cleanly when no more memory can be had. Sources also
//! say how far memory has been *committed* beyond the break (on wasm32, up to `memory.size`),
//! which is what the playground draws as "grown but unused".

#[cfg(feature = "alloc")]
mod arena;
mod fixed;
#[cfg(target_arch = "wasm32")]
mod wasm;

#[cfg(feature = "alloc")]
pub use arena::Arena;
pub use fixed::FixedRegion;
#[cfg(target_arch = "wasm32")]
pub use wasm::WasmMemory;
#[cfg(target_pointer_width = "32")]
mod addressed;
#[cfg(target_pointer_width = "32")]
pub use addressed::Addressed;

/// The size of a WebAssembly page, the unit in which `memory.grow` works.
pub const PAGE: usize = 64 * 1024;

/// A growable contiguous region of memory.
///
/// # Safety
/// Implementors promise that `[start(), brk())` is readable and writable memory that nothing
/// else uses while the source lives, that it stays in place, and that a successful
/// `sbrk(n)` makes the `n` bytes after the old break part of it.
pub unsafe trait Source {
    /// Whether the heap names its bytes by their addresses (offset = address) rather than
    /// by their distance from [`Source::start`]. Then every access to the heap's memory is
    /// one instruction shorter (no base to add), which is what [`Addressed`] is for; only
    /// where addresses fit in 32 bits.
    const ADDRESSED: bool = false;
    /// Where the heap starts: the break before the first growth. Must be 64 KiB aligned, so
    /// that layouts (and so addresses) are the same on every target.
    fn start(&mut self) -> *mut u8;
    /// The current break.
    fn brk(&self) -> *mut u8;
    /// Moves the break up by `bytes` and returns where those bytes start, or `None` when the
    /// memory cannot grow (then nothing changed). That is the old break, unless memory that
    /// is not the source's now lies above it (on wasm32: someone else called `memory.grow`);
    /// then the new bytes start past that foreign region, at a 64 KiB boundary, and
    /// `[old break, returned)` must be left alone.
    fn sbrk(&mut self, bytes: usize) -> Option<*mut u8>;
    /// End of the memory committed so far (`memory.size` on wasm32): the break is at or below.
    fn committed_end(&self) -> *mut u8 {
        self.brk()
    }
    /// The address reports use for the heap's start (defaults to the real one).
    fn report_base(&mut self) -> usize {
        self.start() as usize
    }
    /// Whether every byte past the break is zero and unwritten, so that a block made of new
    /// bytes needs no zeroing (`calloc`, `alloc_zeroed`): true for memory that only
    /// `memory.grow` ever gave (zero-filled by WebAssembly). Defaults to false.
    fn zeroed_past_break(&self) -> bool {
        false
    }
}
