//! The translation lookaside buffer: a small cache of page translations.
//!
//! `entries` entries in `entries / ways` sets of `ways` each; a virtual page number goes to
//! set `vpn % sets` (the low bits of the VPN, as x86 TLBs index them) and may sit in any way
//! of that set. A lookup that finds the page is a hit; otherwise a miss, after which the
//! page walk's result is inserted, replacing the set's least recently used entry. `ways ==
//! entries` (or `ways == 0`) makes it fully associative, `ways == 1` direct-mapped.
//!
//! Like x86's, the TLB caches the translation with its permissions and dirty state; the
//! kernel invalidates an entry (`invlpg`) when it changes or removes a mapping (eviction,
//! unmap). Entries carry no address-space tag: one process is simulated.

use super::VmError;
use alloc::vec;
use alloc::vec::Vec;

/// The TLB knobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlbConfig {
    /// Total entries, 1 to 4096.
    pub entries: u32,
    /// Entries per set; must divide `entries`; 0 means fully associative.
    pub ways: u32,
}

impl Default for TlbConfig {
    /// 64 entries, 4-way: the size of a classic x86 L1 data TLB.
    fn default() -> Self {
        TlbConfig {
            entries: 64,
            ways: 4,
        }
    }
}

/// One cached translation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlbEntry {
    pub vpn: u64,
    pub frame: u64,
    pub writable: bool,
    pub dirty: bool,
    /// Last use, for LRU within the set.
    pub stamp: u64,
}

/// A set-associative TLB with hit and miss counts.
#[derive(Clone, Debug)]
pub struct Tlb {
    sets: u32,
    ways: u32,
    slots: Vec<Option<TlbEntry>>,
    hits: u64,
    misses: u64,
    tick: u64,
}

impl Tlb {
    pub fn new(c: &TlbConfig) -> Result<Tlb, VmError> {
        if c.entries == 0 || c.entries > 4096 {
            return Err(VmError::BadKnob("the TLB holds 1 to 4096 entries"));
        }
        let ways = if c.ways == 0 { c.entries } else { c.ways };
        if ways > c.entries || c.entries % ways != 0 {
            return Err(VmError::BadKnob(
                "the TLB's associativity must divide its entries",
            ));
        }
        Ok(Tlb {
            sets: c.entries / ways,
            ways,
            slots: vec![None; c.entries as usize],
            hits: 0,
            misses: 0,
            tick: 0,
        })
    }

    pub fn sets(&self) -> u32 {
        self.sets
    }
    pub fn ways(&self) -> u32 {
        self.ways
    }
    pub fn hits(&self) -> u64 {
        self.hits
    }
    pub fn misses(&self) -> u64 {
        self.misses
    }
    /// Hits over lookups (0 before any lookup).
    pub fn hit_rate(&self) -> f64 {
        let n = self.hits + self.misses;
        if n == 0 {
            0.0
        } else {
            self.hits as f64 / n as f64
        }
    }
    /// The set a page goes to.
    pub fn set_of(&self, vpn: u64) -> u32 {
        (vpn % self.sets as u64) as u32
    }
    /// Every slot, set by set (`ways` slots per set), for drawing.
    pub fn slots(&self) -> &[Option<TlbEntry>] {
        &self.slots
    }

    fn set_range(&self, vpn: u64) -> core::ops::Range<usize> {
        let s = self.set_of(vpn) as usize * self.ways as usize;
        s..s + self.ways as usize
    }

    /// Looks `vpn` up, counting a hit or a miss; a hit refreshes the entry's LRU stamp.
    pub fn lookup(&mut self, vpn: u64) -> Option<TlbEntry> {
        self.tick += 1;
        let r = self.set_range(vpn);
        let tick = self.tick;
        match self.slots[r].iter_mut().flatten().find(|e| e.vpn == vpn) {
            Some(e) => {
                e.stamp = tick;
                self.hits += 1;
                Some(*e)
            }
            None => {
                self.misses += 1;
                None
            }
        }
    }

    /// The entry for `vpn`, without counting or touching it.
    pub fn probe(&self, vpn: u64) -> Option<TlbEntry> {
        self.slots[self.set_range(vpn)]
            .iter()
            .flatten()
            .find(|e| e.vpn == vpn)
            .copied()
    }

    /// Caches a translation (replacing any entry for the same page); returns the page whose
    /// entry it displaced, if the set was full.
    pub fn insert(&mut self, vpn: u64, frame: u64, writable: bool, dirty: bool) -> Option<u64> {
        self.tick += 1;
        let e = TlbEntry {
            vpn,
            frame,
            writable,
            dirty,
            stamp: self.tick,
        };
        let r = self.set_range(vpn);
        let set = &mut self.slots[r];
        if let Some(s) = set
            .iter_mut()
            .find(|s| matches!(s, Some(x) if x.vpn == vpn))
        {
            *s = Some(e);
            return None;
        }
        if let Some(s) = set.iter_mut().find(|s| s.is_none()) {
            *s = Some(e);
            return None;
        }
        let lru = set
            .iter_mut()
            .min_by_key(|s| s.map(|x| x.stamp).unwrap_or(0))?;
        let old = lru.map(|x| x.vpn);
        *lru = Some(e);
        old
    }

    /// Marks a cached translation dirty (the hardware sets D in the PTE on a first write
    /// through a clean entry).
    pub fn set_dirty(&mut self, vpn: u64) {
        let r = self.set_range(vpn);
        if let Some(e) = self.slots[r].iter_mut().flatten().find(|e| e.vpn == vpn) {
            e.dirty = true;
        }
    }

    /// `invlpg`: drops the entry for `vpn`.
    pub fn invalidate(&mut self, vpn: u64) {
        let r = self.set_range(vpn);
        for s in &mut self.slots[r] {
            if matches!(s, Some(e) if e.vpn == vpn) {
                *s = None;
            }
        }
    }

    /// Drops every entry (a CR3 reload).
    pub fn flush(&mut self) {
        self.slots.iter_mut().for_each(|s| *s = None);
    }
}
