//! [`Allocator`]: the engine's TLSF policy as a `#[global_allocator]`.
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOC: heaptale::Allocator = heaptale::Allocator::new();
//! ```
//!
//! On wasm32 it grows linear memory itself with `memory.grow`; elsewhere it runs over a
//! source the user gives ([`Allocator::with_source`]), e.g. a [`FixedRegion`] over a static
//! array, which is how its tests and fuzzing run natively.
//!
//! It is the same code the playground shows as the `tlsf` policy, with a 4-byte header (no
//! check tag), 8-byte granules and the no-op observer, so it records nothing.
//!
//! ## Threads
//! A tiny spin lock guards the heap. On wasm32 without the `atomics` target feature (the
//! usual single-threaded module) the lock's atomic operations compile to plain loads and
//! stores and never spin. With `atomics` (shared memory and threads), or natively, the lock
//! makes it correct but serialises allocation.
//!
//! [`FixedRegion`]: crate::source::FixedRegion

use crate::policy::bt::Bt;
use crate::policy::tlsf::Tlsf;
use crate::policy::Layout;
use crate::source::Source;
use crate::Heap;
use core::alloc::{GlobalAlloc, Layout as AllocLayout};
use core::cell::UnsafeCell;
use core::ptr::null_mut;
use core::sync::atomic::{AtomicBool, Ordering};

/// The block geometry of the production allocator: 4-byte header, 8-byte granules.
pub const LAYOUT: Layout = match Layout::new(4, 8) {
    Ok(l) => l,
    Err(_) => panic!("bad production layout"),
};

#[cfg(target_arch = "wasm32")]
type DefaultSource = crate::source::WasmMemory;
#[cfg(not(target_arch = "wasm32"))]
type DefaultSource = crate::source::FixedRegion;

type Engine<S> = Heap<S, Bt<Tlsf>>;

enum State<S: Source> {
    /// Not used yet: the source waits (making a heap is not `const`).
    Idle(Option<S>),
    Ready(Engine<S>),
}

/// A `GlobalAlloc` over memory source `S` (on wasm32, linear memory by default).
pub struct Allocator<S: Source = DefaultSource> {
    lock: AtomicBool,
    state: UnsafeCell<State<S>>,
}

// SAFETY: every access to `state` happens under `lock`.
unsafe impl<S: Source + Send> Sync for Allocator<S> {}

#[cfg(target_arch = "wasm32")]
impl Allocator<crate::source::WasmMemory> {
    /// The allocator over wasm linear memory.
    pub const fn new() -> Self {
        Allocator::with_source(crate::source::WasmMemory::new())
    }
}

#[cfg(target_arch = "wasm32")]
impl Default for Allocator<crate::source::WasmMemory> {
    fn default() -> Self {
        Allocator::new()
    }
}

impl<S: Source> Allocator<S> {
    /// The allocator over a source of the caller's. The source must report real addresses
    /// (the default of [`Source::report_base`]).
    pub const fn with_source(src: S) -> Self {
        Allocator { lock: AtomicBool::new(false), state: UnsafeCell::new(State::Idle(Some(src))) }
    }

    /// Runs `f` on the heap, under the lock; `None` if the heap cannot be made.
    #[inline]
    fn with<R>(&self, f: impl FnOnce(&mut Engine<S>) -> R) -> Option<R> {
        while self.lock.swap(true, Ordering::Acquire) {
            core::hint::spin_loop();
        }
        // SAFETY: the lock gives this thread the only access to `state` until released.
        let state = unsafe { &mut *self.state.get() };
        if let State::Idle(src) = state {
            let made = src.take().and_then(|s| Heap::with_policy(s, Bt::new(LAYOUT, true, Tlsf::new()), crate::NoObserver, None).ok());
            if let Some(h) = made {
                *state = State::Ready(h);
            }
        }
        let r = match state {
            State::Ready(h) => Some(f(h)),
            State::Idle(_) => None,
        };
        self.lock.store(false, Ordering::Release);
        r
    }

    /// Runs the heap checker (for tests and debugging). It allocates nothing: it runs under
    /// the allocator's own lock.
    pub fn check(&self) -> Result<(), crate::HeapError> {
        self.with(|h| h.check_in_place()).unwrap_or(Ok(()))
    }

    /// Walk figures of the heap.
    pub fn stats(&self) -> crate::Stats {
        self.with(|h| h.stats()).unwrap_or_default()
    }
}

// SAFETY: payloads come from the engine, which hands out each byte to one live block at a
// time, aligned as asked; errors become null, as `GlobalAlloc` wants.
unsafe impl<S: Source> GlobalAlloc for Allocator<S> {
    #[inline]
    unsafe fn alloc(&self, layout: AllocLayout) -> *mut u8 {
        self.with(|h| h.memalign(layout.align(), layout.size()))
            .and_then(Result::ok)
            .map_or(null_mut(), |a| a as *mut u8)
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: AllocLayout) {
        let r = self.with(|h| h.free(ptr as usize));
        debug_assert!(matches!(r, Some(Ok(()))), "heaptale: bad dealloc of {ptr:p}: {r:?}");
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: AllocLayout) -> *mut u8 {
        let p = unsafe { self.alloc(layout) };
        if !p.is_null() {
            // SAFETY: `p` is a fresh block of at least `layout.size()` bytes.
            unsafe { p.write_bytes(0, layout.size()) };
        }
        p
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: AllocLayout, new_size: usize) -> *mut u8 {
        if layout.align() <= LAYOUT.align as usize {
            return self
                .with(|h| h.realloc(ptr as usize, new_size))
                .and_then(Result::ok)
                .map_or(null_mut(), |a| a as *mut u8);
        }
        // Over-aligned blocks: a moved block would lose its alignment, so move by hand.
        // SAFETY: the new layout has the old alignment and a size the caller vouches for.
        let new_layout = unsafe { AllocLayout::from_size_align_unchecked(new_size, layout.align()) };
        let q = unsafe { self.alloc(new_layout) };
        if !q.is_null() {
            // SAFETY: both blocks are live and distinct; we copy what both can hold.
            unsafe {
                q.copy_from_nonoverlapping(ptr, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        q
    }
}
