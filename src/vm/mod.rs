//! # The simulated process around the real heap
//!
//! A heap only makes sense inside a process. This module simulates the process that the real
//! heap lives in, following Linux and x86 semantics, so that the playground can tell the whole
//! story: an address space (`mm_struct`) with code, data, bss, the heap from `start_brk` to
//! `brk`, an mmap region and a stack; page tables walked level by level; physical frames, some
//! held by the kernel and by other processes; demand paging with minor faults; page
//! replacement with a swap area and major faults; a TLB; glibc's mmap threshold.
//!
//! **What is real and what is simulated.** The heap is real: its bytes are the engine's
//! linear memory, its break is the engine's break (the simulation's `brk` follows the engine's
//! [`Event::Grow`](crate::Event::Grow) events, and falls when the playground starts a heap over
//! again), and its addresses are the process's virtual addresses (wasm32 addresses form a
//! 32-bit address space). Everything else here is a simulation, labelled as one in the UI:
//! page tables, frames, faults, swap, TLB, the other segments of the address space.
//!
//! | file | concept |
//! |---|---|
//! | [`layout`] | the address space (`mm_struct`): VMAs, `brk`/`sbrk`, `mmap`/`munmap`/`mremap` |
//! | [`paging`] | x86 page tables: two-level 10/10/12 and four-level 9/9/9/9/12, PTE bits, walks |
//! | [`frames`] | simulated physical memory: frames owned by the kernel, other processes, us |
//! | [`replace`] | page replacement: FIFO, LRU, CLOCK, OPT, random; reference-string runs |
//! | [`swap`] | the swap area: slots that hold evicted pages |
//! | [`tlb`] | a set-associative TLB with hit and miss counts |
//! | [`mmap`] | glibc's mmap threshold (128 KiB, dynamic) and its mmapped-chunk geometry |
//! | [`process`] | the process: demand paging, faults, eviction, RSS, all of the above together |
//! | [`driver`] | the bridge to the real heap: engine events and memory touches in, narration out |
//! | [`ostep`] | OSTEP's paging knobs: `paging-linear-translate.py` exercises, same seed same output |
//!
//! Everything is deterministic (seeded), `no_std` + `alloc`, and reports every problem as a
//! [`VmError`] value: no input — a wild address, a zero-sized knob, a huge length — panics.
//!
//! Pages are 4 KiB ([`PAGE_SIZE`]), x86's base page size, in both paging modes; OSTEP's
//! exercise generator ([`ostep`]) is where other page sizes apply.

pub mod driver;
pub mod frames;
pub mod layout;
pub mod mmap;
pub mod ostep;
pub mod paging;
pub mod process;
pub mod replace;
pub(crate) mod rng;
pub mod swap;
pub mod tlb;

pub use driver::{BlockFormat, Cause, Driver, Note, Touch};
pub use frames::{FrameOwner, FramesConfig, PhysMem};
pub use layout::{LayoutConfig, Mm, Prot, Vma, VmaKind};
pub use mmap::{MmapConfig, MmapThreshold};
pub use ostep::{Exercise, OstepKnobs};
pub use paging::{Access, FaultKind, Mode, PageTable, Pte, Walk, WalkFault, WalkStep};
pub use process::{
    Counters, Eviction, Fault, PageAccess, PageState, Process, ProcessConfig, Stats, TlbResult,
};
pub use replace::{simulate, ReplacePolicy, Replacer, Step};
pub use rng::Mt19937;
pub use swap::Swap;
pub use tlb::{Tlb, TlbConfig, TlbEntry};

use core::fmt;

/// log2 of the page size.
pub const PAGE_SHIFT: u32 = 12;
/// x86's base page size: 4 KiB.
pub const PAGE_SIZE: u64 = 1 << PAGE_SHIFT;

/// The page number of an address.
#[inline]
pub const fn vpn_of(addr: u64) -> u64 {
    addr >> PAGE_SHIFT
}

/// `addr` rounded down to a page boundary.
#[inline]
pub const fn page_floor(addr: u64) -> u64 {
    addr & !(PAGE_SIZE - 1)
}

/// `addr` rounded up to a page boundary (`PAGE_ALIGN` in Linux), `None` on overflow.
#[inline]
pub const fn page_ceil(addr: u64) -> Option<u64> {
    match addr.checked_add(PAGE_SIZE - 1) {
        Some(x) => Some(x & !(PAGE_SIZE - 1)),
        None => None,
    }
}

/// Why a simulated operation failed. After any of these the simulation is consistent (its
/// invariants hold, see [`Process::check`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmError {
    /// A knob has a value the simulation cannot use.
    BadKnob(&'static str),
    /// An address the paging mode cannot express (above 4 GiB in 32-bit mode, not canonical
    /// or beyond the 48-bit space in x86-64 mode).
    BadAddress { addr: u64, why: &'static str },
    /// The access would kill the process with SIGSEGV: no mapping there, or a write to a
    /// read-only one.
    SegFault { addr: u64, why: &'static str },
    /// `brk`, `sbrk`, `mmap` or `mremap` failed with `ENOMEM`.
    NoMemory(&'static str),
    /// Invalid arguments (`EINVAL`), e.g. `munmap` of an unaligned address.
    Invalid(&'static str),
    /// Every frame is in use and no page can be evicted (no swap, or swap full): the kernel
    /// would invoke the OOM killer.
    OutOfFrames,
    /// A name that is not one of the choices (policy, mode).
    Unknown(&'static str),
    /// A broken invariant (found by a `check`; a bug in the simulation).
    Invariant(&'static str),
}

impl fmt::Display for VmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            VmError::BadKnob(why) => write!(f, "bad setting: {why}"),
            VmError::BadAddress { addr, why } => write!(f, "bad address {addr:#x}: {why}"),
            VmError::SegFault { addr, why } => write!(f, "segmentation fault at {addr:#x}: {why}"),
            VmError::NoMemory(why) => write!(f, "ENOMEM: {why}"),
            VmError::Invalid(why) => write!(f, "EINVAL: {why}"),
            VmError::OutOfFrames => write!(
                f,
                "out of memory: every frame is in use and no page can be swapped out (the kernel would call the OOM killer)"
            ),
            VmError::Unknown(what) => write!(f, "unknown {what}"),
            VmError::Invariant(what) => write!(f, "simulation invariant broken: {what}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for VmError {}
