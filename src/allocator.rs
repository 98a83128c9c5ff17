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
//! It is the same code the playground shows as the `tlsf` policy, with the [`Production`]
//! geometry — a 4-byte header (no check tag), 8-byte granules and the two options below, as
//! constants the compiler folds in — and the no-op observer, so it records nothing. Two
//! options of that code are on here: quick lists for freed blocks up to [`QUICK_MAX`] bytes ([`Bt::with_quick_lists`])
//! and the top block kept apart from the size classes, as dlmalloc's top chunk
//! ([`Bt::with_top_apart`]): the index serves first, the top last, so blocks stay low.
//! Pointers handed back by Rust are trusted (the `GlobalAlloc` contract); debug builds
//! validate them anyway. On wasm32 the heap names its bytes by their addresses
//! ([`crate::source::Addressed`]) rather than by offsets from its start, so that no base is
//! added on each access (the same layout; about 9 % fewer instructions a call).
//!
//! ## Threads
//! A tiny spin lock guards the heap. On wasm32 without the `atomics` target feature (the
//! usual single-threaded module) the lock's atomic operations compile to plain loads and
//! stores and never spin. With `atomics` (shared memory and threads), or natively, the lock
//! makes it correct but serialises allocation.
//!
//! [`FixedRegion`]: crate::source::FixedRegion
//! [`Production`]: crate::policy::block::Production

use crate::policy::block::{Production, PRODUCTION_QUICK_MAX};
use crate::policy::bt::Bt;
use crate::policy::tlsf::Tlsf;
use crate::source::Source;
use crate::Heap;
use core::alloc::{GlobalAlloc, Layout as AllocLayout};
use core::cell::UnsafeCell;
use core::mem::{ManuallyDrop, MaybeUninit};
use core::ptr::null_mut;
use core::sync::atomic::{AtomicBool, Ordering};

/// The block geometry of the production allocator: 4-byte header, 8-byte granules, and its
/// options as constants.
pub const GEOMETRY: Production = Production;

/// Linear memory, named by address (see [`crate::source::Addressed`]).
#[cfg(target_arch = "wasm32")]
type DefaultSource = crate::source::Addressed<crate::source::WasmMemory>;
#[cfg(not(target_arch = "wasm32"))]
type DefaultSource = crate::source::FixedRegion;

/// Freed blocks up to this size (those of requests up to 128 bytes) wait in quick lists (see
/// [`Bt::with_quick_lists`]). Measured on BENCHMARKS.md's workloads (`node bench/quick.mjs`:
/// wasm instructions a call beyond the harness's baseline, geometric mean, and linear memory
/// grown): with them the allocator executes 0.73 x dlmalloc's instructions a call, without
/// them 1.15 x (1.9 x on small blocks). They cost memory on two workloads: with them, small
/// random sizes grow one 64 KiB page more than dlmalloc and the generated realloc trace six;
/// without them neither does, but the generated coalescing trace grows a page more and mixed
/// sizes grows again when it runs a second time. Limits of 128, 144, 160 and 256 bytes move a
/// workload or two by a page either way, or make one grow when it runs again.
pub const QUICK_MAX: u32 = PRODUCTION_QUICK_MAX;

/// The heap behind the allocator.
pub type Engine<S> = Heap<S, Bt<Tlsf, Production>>;

/// A `GlobalAlloc` over memory source `S` (on wasm32, linear memory by default).
///
/// A new allocator is all zero bytes when its source is (as [`crate::source::WasmMemory`]
/// is): in a `static` it costs no data segment, only `.bss`.
pub struct Allocator<S: Source = DefaultSource> {
    lock: AtomicBool,
    ready: UnsafeCell<bool>,
    /// The source, until the heap is made from it (then moved into the heap).
    src: UnsafeCell<ManuallyDrop<S>>,
    heap: UnsafeCell<MaybeUninit<Engine<S>>>,
}

// SAFETY: every access to the cells happens under `lock`.
unsafe impl<S: Source + Send> Sync for Allocator<S> {}

#[cfg(target_arch = "wasm32")]
impl Allocator<DefaultSource> {
    /// The allocator over wasm linear memory.
    pub const fn new() -> Self {
        Allocator::with_source(crate::source::Addressed(crate::source::WasmMemory::new()))
    }
}

#[cfg(target_arch = "wasm32")]
impl Default for Allocator<DefaultSource> {
    fn default() -> Self {
        Allocator::new()
    }
}

impl<S: Source> Allocator<S> {
    /// The allocator over a source of the caller's. The source must report real addresses
    /// (the default of [`Source::report_base`]).
    pub const fn with_source(src: S) -> Self {
        Allocator {
            lock: AtomicBool::new(false),
            ready: UnsafeCell::new(false),
            src: UnsafeCell::new(ManuallyDrop::new(src)),
            heap: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// Runs `f` on the heap, under the lock; `None` if the heap cannot be made.
    #[inline(always)]
    fn with<R>(&self, f: impl FnOnce(&mut Engine<S>) -> R) -> Option<R> {
        // Single-threaded wasm (no `atomics` target feature) cannot be re-entered: no lock.
        let locking = !cfg!(all(target_arch = "wasm32", not(target_feature = "atomics")));
        while locking && self.lock.swap(true, Ordering::Acquire) {
            core::hint::spin_loop();
        }
        // SAFETY: the lock gives this thread the only access to the cells until released.
        let r = unsafe {
            if *self.ready.get() || self.make() {
                Some(f((*self.heap.get()).assume_init_mut()))
            } else {
                None
            }
        };
        if locking {
            self.lock.store(false, Ordering::Release);
        }
        r
    }

    /// Makes the heap from the source (once).
    ///
    /// # Safety
    /// Under the lock, and only while `ready` is false.
    #[cold]
    #[inline(never)]
    unsafe fn make(&self) -> bool {
        // SAFETY: `ready` is false, so the source is still here; it is moved out exactly once.
        let src = unsafe { ManuallyDrop::take(&mut *self.src.get()) };
        match Heap::with_policy(
            src,
            Bt::new(GEOMETRY, true, Tlsf::new())
                .with_quick_lists(QUICK_MAX)
                .with_top_apart(),
            crate::NoObserver,
            None,
        ) {
            Ok(h) => {
                // SAFETY: under the lock.
                unsafe {
                    (*self.heap.get()).write(h);
                    *self.ready.get() = true;
                }
                true
            }
            // Cannot happen without a fixed heap size; the source is gone either way, so
            // the allocator answers null from now on.
            Err(_) => false,
        }
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

impl<S: Source> Drop for Allocator<S> {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: no one else looks; exactly one of heap and source is live.
        unsafe {
            if *self.ready.get() {
                (*self.heap.get()).assume_init_drop();
            } else {
                ManuallyDrop::drop(&mut *self.src.get());
            }
        }
    }
}

// SAFETY: payloads come from the engine, which hands out each byte to one live block at a
// time, aligned as asked; errors become null, as `GlobalAlloc` wants.
unsafe impl<S: Source> GlobalAlloc for Allocator<S> {
    #[inline]
    unsafe fn alloc(&self, layout: AllocLayout) -> *mut u8 {
        self.with(|h| h.alloc_raw(layout.align(), layout.size()))
            .unwrap_or(null_mut())
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: AllocLayout) {
        // SAFETY: GlobalAlloc's contract: `ptr` came from this allocator and is live.
        self.with(|h| unsafe { h.free_unchecked(ptr as usize) });
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: AllocLayout) -> *mut u8 {
        // Bytes fresh from memory.grow are zero already: only the others are written.
        self.with(|h| h.alloc_zeroed_raw(layout.align(), layout.size()))
            .unwrap_or(null_mut())
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: AllocLayout, new_size: usize) -> *mut u8 {
        if layout.align() <= 8 {
            // SAFETY: GlobalAlloc's contract: `ptr` came from this allocator and is live.
            return self
                .with(|h| unsafe { h.realloc_unchecked(ptr as usize, new_size) })
                .and_then(Result::ok)
                .map_or(null_mut(), |a| a as *mut u8);
        }
        // Over-aligned blocks: a moved block would lose its alignment, so move by hand.
        // SAFETY: the new layout has the old alignment and a size the caller vouches for.
        let new_layout =
            unsafe { AllocLayout::from_size_align_unchecked(new_size, layout.align()) };
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
