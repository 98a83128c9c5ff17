//! Simulated physical memory: a number of 4 KiB frames, each owned by someone.
//!
//! A real machine's memory is never all ours. At boot the kernel holds the low frames (its
//! image and early allocations sit at the bottom of physical memory); other processes hold
//! frames scattered all over; and the page allocator hands out whatever is free, which after
//! a while of uptime looks random. So the pages of our heap, contiguous in virtual memory,
//! land on frames scattered through physical memory — the point of the frame map.
//!
//! Here: the lowest `kernel_percent` of the frames belong to the kernel; `others_percent` of
//! the frames, picked at random (seeded), belong to `others` other processes; the rest are
//! free, and the free list is shuffled (seeded) once. Allocation takes from the top of the
//! free list and freeing pushes on it, so a frame just freed is the next one handed out, as
//! with Linux's per-CPU page lists (hot pages first). The same seed gives the same frames.

use super::rng::Mt19937;
use super::{VmError, PAGE_SIZE};
use alloc::vec;
use alloc::vec::Vec;

/// The largest simulated physical memory: 4 GiB (2^20 frames), as 32-bit x86 without PAE.
pub const MAX_FRAMES: u64 = 1 << 20;

/// Who holds a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FrameOwner {
    Free,
    /// The kernel (its image, its own allocations).
    Kernel,
    /// Another process.
    Other {
        pid: u32,
    },
    /// One of our process's page tables, at this level (0 is the top).
    PageTable {
        level: u8,
    },
    /// One of our process's pages: virtual page number `vpn`.
    Page {
        vpn: u64,
    },
}

/// The physical memory knobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FramesConfig {
    /// Physical memory size in bytes (a whole number of 4 KiB frames, at most 4 GiB).
    pub bytes: u64,
    /// Share of the frames the kernel holds (the lowest ones), 0 to 100.
    pub kernel_percent: u8,
    /// Share of the frames other processes hold (scattered), 0 to 100.
    pub others_percent: u8,
    /// How many other processes share those frames (at least 1 if they hold any).
    pub others: u8,
    /// Seed for which frames the others hold and the order of the free list.
    pub seed: u64,
}

impl Default for FramesConfig {
    /// 16 MiB (4096 frames), an eighth held by the kernel, three eighths by four other
    /// processes.
    fn default() -> Self {
        FramesConfig {
            bytes: 16 << 20,
            kernel_percent: 12,
            others_percent: 38,
            others: 4,
            seed: 0,
        }
    }
}

/// Physical memory: who owns each frame, and the free list.
#[derive(Clone, Debug)]
pub struct PhysMem {
    owners: Vec<FrameOwner>,
    /// Free frames; the last one is handed out next.
    free: Vec<u64>,
}

impl PhysMem {
    pub fn new(c: &FramesConfig) -> Result<PhysMem, VmError> {
        if c.bytes == 0 || c.bytes % PAGE_SIZE != 0 {
            return Err(VmError::BadKnob(
                "physical memory must be a whole number of 4 KiB frames",
            ));
        }
        let n = c.bytes / PAGE_SIZE;
        if n > MAX_FRAMES {
            return Err(VmError::BadKnob(
                "physical memory is at most 4 GiB (2^20 frames)",
            ));
        }
        if c.kernel_percent > 100
            || c.others_percent > 100
            || c.kernel_percent as u32 + c.others_percent as u32 > 100
        {
            return Err(VmError::BadKnob(
                "the kernel's and the other processes' shares must add up to at most 100 %",
            ));
        }
        if c.others_percent > 0 && c.others == 0 {
            return Err(VmError::BadKnob(
                "other processes hold frames, so there must be at least one",
            ));
        }
        let n = n as usize;
        let mut owners = vec![FrameOwner::Free; n];
        let kernel = n * c.kernel_percent as usize / 100;
        for o in owners.iter_mut().take(kernel) {
            *o = FrameOwner::Kernel;
        }
        let mut rng = Mt19937::new(c.seed);
        // The rest, shuffled (Fisher-Yates): the first `others` of them go to other processes,
        // the remainder is the free list.
        let mut rest: Vec<u64> = (kernel as u64..n as u64).collect();
        for i in (1..rest.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            rest.swap(i, j);
        }
        let others = n * c.others_percent as usize / 100;
        let others = others.min(rest.len());
        for (k, &f) in rest[..others].iter().enumerate() {
            // pids 2, 3, ...: init is 1; the others share the frames round-robin.
            owners[f as usize] = FrameOwner::Other {
                pid: 2 + (k % c.others.max(1) as usize) as u32,
            };
        }
        let free = rest.split_off(others);
        Ok(PhysMem { owners, free })
    }

    /// Frames in all.
    pub fn frames(&self) -> u64 {
        self.owners.len() as u64
    }
    /// Who owns every frame, by frame number (for the frame map).
    pub fn owners(&self) -> &[FrameOwner] {
        &self.owners
    }
    /// Who owns `frame` (`None` beyond physical memory).
    pub fn owner(&self, frame: u64) -> Option<FrameOwner> {
        self.owners.get(usize::try_from(frame).ok()?).copied()
    }
    pub fn free_frames(&self) -> u64 {
        self.free.len() as u64
    }
    /// The free list, the next frame handed out last.
    pub fn free_list(&self) -> &[u64] {
        &self.free
    }
    /// How many frames `pred` accepts.
    pub fn count(&self, pred: impl Fn(FrameOwner) -> bool) -> u64 {
        self.owners.iter().filter(|&&o| pred(o)).count() as u64
    }

    /// Takes a free frame for `owner`.
    pub fn alloc(&mut self, owner: FrameOwner) -> Option<u64> {
        if owner == FrameOwner::Free {
            return None;
        }
        let f = self.free.pop()?;
        self.owners[f as usize] = owner;
        Some(f)
    }

    /// Gives a frame of ours (a page or a table) back to the free list.
    pub fn release(&mut self, frame: u64) -> Result<(), VmError> {
        match self.owner(frame) {
            Some(FrameOwner::Page { .. } | FrameOwner::PageTable { .. }) => {
                self.owners[frame as usize] = FrameOwner::Free;
                self.free.push(frame);
                Ok(())
            }
            _ => Err(VmError::Invariant("freeing a frame that is not ours")),
        }
    }

    /// Hands a frame of ours to a new owner of ours (an evicted page's frame to the page that
    /// replaces it, or to a new table).
    pub fn reassign(&mut self, frame: u64, owner: FrameOwner) -> Result<(), VmError> {
        match (self.owner(frame), owner) {
            (
                Some(FrameOwner::Page { .. } | FrameOwner::PageTable { .. }),
                FrameOwner::Page { .. } | FrameOwner::PageTable { .. },
            ) => {
                self.owners[frame as usize] = owner;
                Ok(())
            }
            _ => Err(VmError::Invariant("reassigning a frame that is not ours")),
        }
    }
}
