//! The module's own allocator: heaptale itself (TLSF over boundary tags) over a fixed static
//! arena, so that nothing but the user's heap ever calls `memory.grow`.
//!
//! wasm-bindgen's glue, the strings and Vecs of this layer, the event buffers and (in tests)
//! the test harness all allocate here. The arena is part of the module's static data (zeroed,
//! so it costs nothing in the `.wasm` file: it only raises the memory's initial size), which
//! puts it below the point where the user's heap starts; the user's heap is then one
//! contiguous region from its start to the break, and the break means what it says.
//!
//! When the arena is full, `alloc` returns null, as `GlobalAlloc` requires; it never traps
//! itself. (What the caller does with null is its business: the paths of this layer that can
//! take user-sized amounts reserve with `try_reserve` and report an error instead.)

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr;

use heaptale::policy::block::Layout as BlockLayout;
use heaptale::policy::bt::Bt;
use heaptale::policy::tlsf::Tlsf;
use heaptale::source::FixedRegion;
use heaptale::{Heap, NoObserver};

/// Bytes of the arena.
pub const ARENA_BYTES: usize = 64 << 20;

/// Payload alignment of every block; larger alignments go through `memalign`.
const ALIGN: u32 = 8;

type ModuleHeap = Heap<FixedRegion, Bt<Tlsf>>;

/// The arena's bytes, 64 KiB aligned as a heap's start must be.
#[repr(C, align(65536))]
struct Bytes([u8; ARENA_BYTES]);

static mut ARENA: Bytes = Bytes([0; ARENA_BYTES]);

/// The allocator: a heap over the arena, made on first use.
pub struct ArenaAlloc {
    heap: UnsafeCell<Option<ModuleHeap>>,
}

// SAFETY: this module is built for wasm32 without the `atomics` target feature, where there is
// exactly one thread: no two calls can ever run at the same time. The engine never allocates
// while it serves a call (its NoObserver heap paths use no Vec), so calls do not nest either.
unsafe impl Sync for ArenaAlloc {}

impl ArenaAlloc {
    pub const fn new() -> Self {
        ArenaAlloc {
            heap: UnsafeCell::new(None),
        }
    }

    /// The heap, made over the arena on first use; `None` if that failed.
    ///
    /// # Safety
    /// No other reference to the heap may be alive (see the `Sync` impl: single thread, no
    /// nesting), so the `&mut` returned is unique for as long as the caller uses it.
    #[allow(clippy::mut_from_ref)]
    unsafe fn heap(&self) -> Option<&mut ModuleHeap> {
        // SAFETY: uniqueness is the caller's promise.
        let slot = unsafe { &mut *self.heap.get() };
        if slot.is_none() {
            let layout = BlockLayout::new(8, ALIGN).ok()?;
            // SAFETY: the arena is used by this region only (nothing else names ARENA), lives
            // for the whole program, is writable, and is 64 KiB aligned (`Bytes`' repr).
            let region = unsafe {
                let start = ptr::addr_of_mut!(ARENA).cast::<u8>();
                FixedRegion::new(start, ARENA_BYTES, start as usize)
            };
            let heap =
                Heap::with_policy(region, Bt::new(layout, true, Tlsf::new()), NoObserver, None)
                    .ok()?;
            *slot = Some(heap);
        }
        slot.as_mut()
    }
}

impl Default for ArenaAlloc {
    fn default() -> Self {
        ArenaAlloc::new()
    }
}

// SAFETY: every block comes from the engine over memory only it uses; blocks never overlap,
// are aligned as asked (memalign, power-of-two alignments up to 64 KiB, anything larger is
// refused with null) and hold at least the requested size; failures return null.
unsafe impl GlobalAlloc for ArenaAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: single thread, no nesting (see the `Sync` impl).
        match unsafe { self.heap() } {
            Some(h) => h
                .memalign(layout.align(), layout.size())
                .map_or(ptr::null_mut(), |a| a as *mut u8),
            None => ptr::null_mut(),
        }
    }

    unsafe fn dealloc(&self, p: *mut u8, _layout: Layout) {
        // SAFETY: as in `alloc`.
        if let Some(h) = unsafe { self.heap() } {
            // `p` came from `alloc` (GlobalAlloc's contract): free cannot fail on it.
            let _ = h.free(p as usize);
        }
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.align() <= ALIGN as usize {
            // SAFETY: as in `alloc`.
            return match unsafe { self.heap() } {
                // The engine keeps the data and the block's alignment (`ALIGN`), in place
                // when it can; on failure the old block is untouched, as required.
                Some(h) => h
                    .realloc(p as usize, new_size)
                    .map_or(ptr::null_mut(), |a| a as *mut u8),
                None => ptr::null_mut(),
            };
        }
        // Over-aligned: a new block, the bytes copied, the old block freed.
        // SAFETY: `layout.align()` is a valid alignment and `new_size` a size the caller
        // vouches for (GlobalAlloc::realloc's contract).
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: as above.
        let q = unsafe { self.alloc(new_layout) };
        if !q.is_null() {
            // SAFETY: both blocks are live, distinct, and at least this long.
            unsafe {
                ptr::copy_nonoverlapping(p, q, layout.size().min(new_size));
                self.dealloc(p, layout);
            }
        }
        q
    }
}

/// How much of the arena the module uses: (break, capacity) in bytes. For the UI's honest
/// "module bookkeeping" figure and for tests.
pub fn usage() -> (usize, usize) {
    // SAFETY: single thread; the reference does not outlive this call and no allocation
    // happens while it is alive.
    match unsafe { crate::ALLOC.heap() } {
        Some(h) => (h.brk() - h.start(), ARENA_BYTES),
        None => (0, ARENA_BYTES),
    }
}

/// Where the arena starts and ends (real addresses).
pub fn bounds() -> (usize, usize) {
    let start = ptr::addr_of!(ARENA) as usize;
    (start, start + ARENA_BYTES)
}
