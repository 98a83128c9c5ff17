//! The swap area: numbered page-sized slots on a simulated disk.
//!
//! An evicted page that has no up-to-date copy in swap is written to a free slot (a swap-out);
//! its PTE then holds the slot (a swap entry, see [`super::paging`]). Touching it again is a
//! major fault that reads the slot back (a swap-in). As in Linux's swap cache, the slot stays
//! with the page after swap-in while the page is clean, so evicting it again costs no write;
//! once the page is dirtied its copy is stale and the next eviction writes it again. Slots are
//! taken lowest first (Linux's allocator scans from the start of the area, in clusters).

use super::{VmError, PAGE_SIZE};
use alloc::vec;
use alloc::vec::Vec;

/// The most slots: 2^20 (4 GiB of swap).
pub const MAX_SLOTS: u64 = 1 << 20;

/// The swap area.
#[derive(Clone, Debug)]
pub struct Swap {
    /// The virtual page each slot holds.
    slots: Vec<Option<u64>>,
    used: u32,
    /// Lowest slot that may be free.
    hint: u32,
}

impl Swap {
    /// A swap area of `bytes` (a whole number of pages, 0 for none, at most 4 GiB).
    pub fn new(bytes: u64) -> Result<Swap, VmError> {
        if bytes % PAGE_SIZE != 0 {
            return Err(VmError::BadKnob(
                "swap must be a whole number of 4 KiB pages",
            ));
        }
        let n = bytes / PAGE_SIZE;
        if n > MAX_SLOTS {
            return Err(VmError::BadKnob("swap is at most 4 GiB (2^20 slots)"));
        }
        Ok(Swap {
            slots: vec![None; n as usize],
            used: 0,
            hint: 0,
        })
    }

    pub fn slots(&self) -> u32 {
        self.slots.len() as u32
    }
    pub fn used(&self) -> u32 {
        self.used
    }
    pub fn free_slots(&self) -> u32 {
        self.slots() - self.used
    }
    /// The page slot `slot` holds.
    pub fn holder(&self, slot: u32) -> Option<u64> {
        self.slots.get(slot as usize).copied().flatten()
    }
    /// Every slot's page, for drawing.
    pub fn contents(&self) -> &[Option<u64>] {
        &self.slots
    }

    /// Takes the lowest free slot for page `vpn`.
    pub fn alloc(&mut self, vpn: u64) -> Option<u32> {
        let start = self.hint as usize;
        let i = self.slots[start..].iter().position(|s| s.is_none())? + start;
        self.slots[i] = Some(vpn);
        self.used += 1;
        self.hint = i as u32 + 1;
        Some(i as u32)
    }

    /// Frees slot `slot` (nothing if already free).
    pub fn release(&mut self, slot: u32) {
        if let Some(s) = self.slots.get_mut(slot as usize) {
            if s.take().is_some() {
                self.used -= 1;
                self.hint = self.hint.min(slot);
            }
        }
    }

    /// Records that slot `slot` now belongs to page `vpn` (a page moved by `mremap`).
    pub fn rename(&mut self, slot: u32, vpn: u64) {
        if let Some(Some(s)) = self.slots.get_mut(slot as usize) {
            *s = vpn;
        }
    }
}
