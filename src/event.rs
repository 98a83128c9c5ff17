//! What the engine tells an observer while it works, so a UI can animate and narrate a step.
//!
//! The production allocator uses [`NoObserver`], whose empty `#[inline(always)]` method lets
//! the compiler remove every event construction: observation is free when nobody watches.
//! All addresses in events are heap *offsets* (see the crate docs); [`crate::Heap`] adds the
//! report base before it hands them out.

use crate::HeapError;

/// One thing the allocator did. Sizes are block sizes in bytes, headers included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A block was handed out. `probes` counts the free blocks examined to find it.
    Alloc {
        block: u32,
        size: u32,
        request: u32,
        probes: u32,
    },
    /// A block was given back.
    Free { block: u32, size: u32 },
    /// Block `block` was cut: it keeps `size` bytes, the rest became the free block `rest`.
    Split {
        block: u32,
        size: u32,
        rest: u32,
        rest_size: u32,
    },
    /// The free block `absorbed` was merged into its neighbour `block`, now `size` bytes.
    Coalesce {
        block: u32,
        absorbed: u32,
        size: u32,
    },
    /// The break moved from `old_brk` to `new_brk` (offsets); `pages` 64 KiB pages were added
    /// to the memory underneath (0 when the break moved inside pages already grown).
    Grow {
        old_brk: u32,
        new_brk: u32,
        pages: u32,
    },
    /// A realloc kept its block (`in_place`) or moved from `old` to `new`.
    Realloc {
        old: u32,
        new: u32,
        size: u32,
        in_place: bool,
    },
    /// A free put `block` (`size` bytes) on quick list `list`: it stays marked used.
    QuickFree { block: u32, size: u32, list: u32 },
    /// A malloc took `block` back from quick list `list` (its `Alloc` follows).
    QuickAlloc { block: u32, size: u32, list: u32 },
    /// The quick lists, holding `blocks` blocks, were merged back into the free index (the
    /// `Coalesce` events of the merges follow).
    Consolidate { blocks: u32 },
    /// A call failed; the heap is unchanged.
    Error(HeapError),
}

/// Receives events. Every method has an empty default body.
pub trait Observer {
    #[inline(always)]
    fn event(&mut self, _e: Event) {}
}

/// The observer that watches nothing and costs nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoObserver;
impl Observer for NoObserver {}

/// Records every event in order (for the playground, the CLI and tests).
#[cfg(feature = "alloc")]
#[derive(Clone, Debug, Default)]
pub struct Recorder {
    pub events: alloc::vec::Vec<Event>,
}

#[cfg(feature = "alloc")]
impl Observer for Recorder {
    #[inline]
    fn event(&mut self, e: Event) {
        self.events.push(e);
    }
}

impl<O: Observer + ?Sized> Observer for &mut O {
    #[inline(always)]
    fn event(&mut self, e: Event) {
        (**self).event(e)
    }
}
