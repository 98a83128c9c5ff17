//! The one `#[global_allocator]` of this build, chosen by cargo feature. Each is set up as
//! its own documentation says for wasm32; where that needs more than one line it says why.

#[cfg(any(
    all(
        feature = "heaptale",
        any(
            feature = "dlmalloc",
            feature = "std",
            feature = "talc",
            feature = "rlsf",
            feature = "lol_alloc",
            feature = "wee_alloc",
            feature = "buddy_system_allocator",
            feature = "linked_list_allocator"
        )
    ),
    all(
        feature = "dlmalloc",
        any(
            feature = "std",
            feature = "talc",
            feature = "rlsf",
            feature = "lol_alloc",
            feature = "wee_alloc",
            feature = "buddy_system_allocator",
            feature = "linked_list_allocator"
        )
    ),
    all(
        feature = "std",
        any(
            feature = "talc",
            feature = "rlsf",
            feature = "lol_alloc",
            feature = "wee_alloc",
            feature = "buddy_system_allocator",
            feature = "linked_list_allocator"
        )
    ),
    all(
        feature = "talc",
        any(
            feature = "rlsf",
            feature = "lol_alloc",
            feature = "wee_alloc",
            feature = "buddy_system_allocator",
            feature = "linked_list_allocator"
        )
    ),
    all(
        feature = "rlsf",
        any(
            feature = "lol_alloc",
            feature = "wee_alloc",
            feature = "buddy_system_allocator",
            feature = "linked_list_allocator"
        )
    ),
    all(
        feature = "lol_alloc",
        any(
            feature = "wee_alloc",
            feature = "buddy_system_allocator",
            feature = "linked_list_allocator"
        )
    ),
    all(
        feature = "wee_alloc",
        any(feature = "buddy_system_allocator", feature = "linked_list_allocator")
    ),
    all(feature = "buddy_system_allocator", feature = "linked_list_allocator"),
    all(
        feature = "baseline",
        any(
            feature = "heaptale",
            feature = "dlmalloc",
            feature = "std",
            feature = "talc",
            feature = "rlsf",
            feature = "lol_alloc",
            feature = "wee_alloc",
            feature = "buddy_system_allocator",
            feature = "linked_list_allocator"
        )
    ),
))]
compile_error!("build the benchmark module with exactly one allocator feature");

#[cfg(not(any(
    feature = "baseline",
    feature = "heaptale",
    feature = "dlmalloc",
    feature = "std",
    feature = "talc",
    feature = "rlsf",
    feature = "lol_alloc",
    feature = "wee_alloc",
    feature = "buddy_system_allocator",
    feature = "linked_list_allocator"
)))]
compile_error!("build the benchmark module with one allocator feature (e.g. --features heaptale)");

/// The allocator's name as the report prints it.
pub const NAME: &str = if cfg!(feature = "baseline") {
    "baseline"
} else if cfg!(feature = "heaptale") {
    "heaptale"
} else if cfg!(feature = "dlmalloc") {
    "dlmalloc"
} else if cfg!(feature = "std") {
    "std"
} else if cfg!(feature = "talc") {
    "talc"
} else if cfg!(feature = "rlsf") {
    "rlsf"
} else if cfg!(feature = "lol_alloc") {
    "lol_alloc"
} else if cfg!(feature = "wee_alloc") {
    "wee_alloc"
} else if cfg!(feature = "buddy_system_allocator") {
    "buddy_system_allocator"
} else {
    "linked_list_allocator"
};

#[cfg(feature = "heaptale")]
#[global_allocator]
static ALLOC: heaptale::Allocator = heaptale::Allocator::new();

#[cfg(feature = "dlmalloc")]
#[global_allocator]
static ALLOC: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

// feature "std": no #[global_allocator]: std's default (its own copy of dlmalloc on wasm32).

#[cfg(feature = "talc")]
#[global_allocator]
static ALLOC: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

#[cfg(feature = "rlsf")]
#[global_allocator]
static ALLOC: rlsf::GlobalTlsf = rlsf::GlobalTlsf::new();

// SAFETY: the module is single-threaded (no atomics target feature), as lol_alloc requires.
#[cfg(feature = "lol_alloc")]
#[global_allocator]
static ALLOC: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };

#[cfg(feature = "wee_alloc")]
#[global_allocator]
static ALLOC: wee_alloc::WeeAlloc = wee_alloc::WeeAlloc::INIT;

/// buddy_system_allocator has no memory source of its own: its docs give it a region with
/// `init`/`add_to_heap`, or a `LockedHeapWithRescue` whose rescue function adds memory when
/// an allocation fails. Here the rescue grows linear memory with `memory.grow` just enough
/// for a block of the request's power-of-two size, aligned to that size, and adds the new
/// pages to the heap (the pages below that aligned block go to the heap as smaller blocks).
#[cfg(feature = "buddy_system_allocator")]
#[global_allocator]
static ALLOC: buddy_system_allocator::LockedHeapWithRescue<32> =
    buddy_system_allocator::LockedHeapWithRescue::new(buddy_rescue);

#[cfg(feature = "buddy_system_allocator")]
use crate::buddy::rescue as buddy_rescue;

/// linked_list_allocator's docs show a `LockedHeap::empty()` that the program `init`s with a
/// region before the first allocation; it has no memory source of its own. Here that region
/// is linear memory: the first allocation grows memory and `init`s the heap over the new
/// pages, and an allocation that fails grows memory and `extend`s the heap (its documented
/// way to add memory at the top). Nothing else is changed: `allocate_first_fit` and
/// `deallocate` do the work, and realloc is GlobalAlloc's default (alloc, copy, free), as in
/// the crate's own `GlobalAlloc` for `LockedHeap`.
#[cfg(feature = "linked_list_allocator")]
use crate::lla;

#[cfg(feature = "linked_list_allocator")]
#[global_allocator]
static ALLOC: lla::Growing = lla::Growing(linked_list_allocator::LockedHeap::empty());

/// Not a contender: the baseline of the instruction counts (see `recycle.rs`).
#[cfg(feature = "baseline")]
#[global_allocator]
static ALLOC: crate::recycle::Recycle = crate::recycle::Recycle::new();
