//! The minimal module for code size: `run(n)` makes a few Box and Vec operations that reach
//! every `GlobalAlloc` method (alloc, dealloc, realloc up and down, alloc_zeroed, an
//! over-aligned alloc). Built with one allocator per cargo feature; the figure reported is
//! its size minus the size of the same module built with feature `bump` (below).
//!
//! The allocators are set up exactly as in the benchmark module (`../src/alloc.rs`).

use core::hint::black_box;
use std::alloc::{alloc, dealloc, Layout};

#[no_mangle]
pub extern "C" fn run(n: u32) -> u32 {
    let n = black_box(n);
    let b = Box::new(n as u64);
    let mut v: Vec<u32> = Vec::new();
    for i in 0..n {
        v.push(i);
    }
    v.truncate(n as usize / 2);
    v.shrink_to_fit();
    let z = vec![0u8; n as usize];
    // SAFETY: size > 0, align 64 a power of two.
    let l = unsafe { Layout::from_size_align_unchecked(n as usize + 1, 64) };
    let p = unsafe { alloc(l) };
    let r = black_box(p) as u32;
    if !p.is_null() {
        unsafe { dealloc(p, l) };
    }
    black_box(&z);
    black_box(&v);
    (*b as u32) ^ v.len() as u32 ^ z.len() as u32 ^ r
}

/// The baseline: a trivial never-freeing bump allocator (`bump.rs`).
#[cfg(feature = "bump")]
mod bump;

#[cfg(feature = "bump")]
#[global_allocator]
static ALLOC: bump::Bump = bump::Bump::new();

#[cfg(any(feature = "heaptale", feature = "heaptale_small"))]
#[global_allocator]
static ALLOC: heaptale::Allocator = heaptale::Allocator::new();

#[cfg(feature = "dlmalloc")]
#[global_allocator]
static ALLOC: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

#[cfg(feature = "talc")]
#[global_allocator]
static ALLOC: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

#[cfg(feature = "rlsf")]
#[global_allocator]
static ALLOC: rlsf::GlobalTlsf = rlsf::GlobalTlsf::new();

/// Not in the speed runs: rlsf's size-optimised variant, for the code-size table only.
#[cfg(feature = "rlsf_small")]
#[global_allocator]
static ALLOC: rlsf::SmallGlobalTlsf = rlsf::SmallGlobalTlsf::new();

#[cfg(feature = "lol_alloc")]
#[global_allocator]
static ALLOC: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };

#[cfg(feature = "wee_alloc")]
#[global_allocator]
static ALLOC: wee_alloc::WeeAlloc = wee_alloc::WeeAlloc::INIT;

#[cfg(feature = "buddy_system_allocator")]
#[global_allocator]
static ALLOC: buddy_system_allocator::LockedHeapWithRescue<32> =
    buddy_system_allocator::LockedHeapWithRescue::new(buddy_rescue);

#[cfg(feature = "buddy_system_allocator")]
#[path = "../../src/buddy.rs"]
mod buddy;
#[cfg(feature = "buddy_system_allocator")]
use buddy::rescue as buddy_rescue;

#[cfg(feature = "linked_list_allocator")]
#[path = "../../src/lla.rs"]
mod lla;

#[cfg(feature = "linked_list_allocator")]
#[global_allocator]
static ALLOC: lla::Growing = lla::Growing(linked_list_allocator::LockedHeap::empty());
