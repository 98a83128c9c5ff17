//! The simulated process: its address space, page tables, frames, swap, TLB and replacement
//! policy together, and what happens on every memory access.
//!
//! An access to `addr` runs as on x86 Linux:
//! 1. the **TLB** is looked up (one hit or miss per access); a hit translates at once (a
//!    first write through a clean entry sets D in the PTE, as the hardware's assist does);
//! 2. on a miss the **MMU walks** the page tables ([`super::paging`]), setting A bits (and D
//!    on a write), and fills the TLB;
//! 3. if the walk faults, the kernel's **page-fault handler** runs (`do_page_fault` →
//!    `handle_mm_fault`): an address in no VMA (the stack may grow down to it) or a write to a
//!    read-only VMA is a segmentation fault; a PTE holding a swap entry is a **major fault**
//!    (the page is read back from its swap slot, `do_swap_page`); anything else is a **minor
//!    fault**: demand paging gives the page a zeroed frame on first touch
//!    (`do_anonymous_page`), creating any missing page tables. (Linux would map its shared
//!    zero page on a first *read* and copy on the first write; here every first touch gets
//!    its own frame, so a page is never mapped twice.) Then the access is retried.
//!
//! A frame comes from the free list; when none is free, the replacement policy
//! ([`super::replace`]) picks a resident page to evict: it goes to swap (written if dirty or
//! never written there, see [`super::swap`]), its PTE becomes a swap entry and its TLB entry
//! is invalidated. No swap or a full one means the OOM killer's turn: an error.
//!
//! RSS is the number of resident pages (`VmRSS`); virtual size is the sum of the VMAs
//! (`VmSize`); page tables (`VmPTE`) and swapped pages (`VmSwap`) are counted apart. Moving
//! the break down or unmapping frees the pages' frames and swap slots and the page tables
//! left empty; `free` inside the heap unmaps nothing (the break did not move).

use super::frames::{FrameOwner, FramesConfig, PhysMem};
use super::layout::{LayoutConfig, Mm, VmaKind};
use super::mmap::{MmapConfig, MmapThreshold};
use super::paging::{Access, FaultKind, Mode, PageTable, Pte, Walk};
use super::replace::{ReplacePolicy, Replacer};
use super::swap::Swap;
use super::tlb::{Tlb, TlbConfig};
use super::{page_ceil, page_floor, vpn_of, VmError, PAGE_SHIFT, PAGE_SIZE};
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;

/// Every knob of the process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessConfig {
    pub mode: Mode,
    pub layout: LayoutConfig,
    pub frames: FramesConfig,
    /// Swap area in bytes (0: no swap).
    pub swap_bytes: u64,
    pub policy: ReplacePolicy,
    /// Seed of the random replacement policy.
    pub seed: u64,
    /// `None`: no TLB (every access walks the tables).
    pub tlb: Option<TlbConfig>,
    /// `Some`: glibc's mmap threshold decides which requests go to the mmap region.
    pub mmap: Option<MmapConfig>,
    /// Record the page of every access (for OPT's future in a later run).
    pub record_stream: bool,
    /// Our process's id, for the frame map.
    pub pid: u32,
}

impl Default for ProcessConfig {
    fn default() -> Self {
        ProcessConfig {
            mode: Mode::X86,
            layout: LayoutConfig::default(),
            frames: FramesConfig::default(),
            swap_bytes: 16 << 20,
            policy: ReplacePolicy::Lru,
            seed: 0,
            tlb: Some(TlbConfig::default()),
            mmap: None,
            record_stream: false,
            pid: 1000,
        }
    }
}

/// How the TLB answered an access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlbResult {
    /// No TLB is simulated.
    Off,
    Hit,
    Miss,
}

/// Which fault an access took.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    None,
    /// First touch: a zeroed frame was mapped.
    Minor,
    /// The page came back from swap slot `slot`.
    Major {
        slot: u32,
    },
}

/// A page evicted to free a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Eviction {
    pub vpn: u64,
    pub frame: u64,
    pub slot: u32,
    /// Whether it had to be written to swap (dirty, or no copy there yet).
    pub written: bool,
}

/// What one access did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageAccess {
    pub addr: u64,
    pub vpn: u64,
    pub write: bool,
    pub tlb: TlbResult,
    pub fault: Fault,
    pub frame: u64,
    pub paddr: u64,
    /// Pages evicted to make room (for the page and any new page table).
    pub evictions: Vec<Eviction>,
    /// Page tables created.
    pub new_tables: u8,
    /// The stack grew down to reach the address.
    pub stack_grew: bool,
}

/// Event counts since the process started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub accesses: u64,
    pub reads: u64,
    pub writes: u64,
    pub tlb_hits: u64,
    pub tlb_misses: u64,
    pub minor_faults: u64,
    pub major_faults: u64,
    pub evictions: u64,
    pub swap_outs: u64,
    pub swap_ins: u64,
    pub segfaults: u64,
}

/// A virtual page as the page grid draws it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageState {
    /// In no VMA.
    Unmapped,
    /// In a VMA, never touched (or dropped): no frame, no swap.
    Mapped,
    Resident {
        frame: u64,
        accessed: bool,
        dirty: bool,
    },
    Swapped {
        slot: u32,
    },
}

/// Sizes, in pages unless named in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// `VmSize`, bytes.
    pub virtual_bytes: u64,
    /// `VmRSS`: resident pages.
    pub rss: u64,
    pub rss_heap: u64,
    pub rss_mmap: u64,
    /// `VmSwap`: pages in swap and not resident.
    pub swapped: u64,
    /// `VmPTE`: frames holding our page tables.
    pub page_tables: u64,
    pub frames: u64,
    pub free_frames: u64,
    pub swap_slots: u32,
    pub swap_used: u32,
    pub counters: Counters,
}

/// The simulated process.
#[derive(Clone, Debug)]
pub struct Process {
    cfg: ProcessConfig,
    mm: Mm,
    pt: PageTable,
    phys: PhysMem,
    swap: Swap,
    /// Resident pages whose copy in swap is still valid (Linux's swap cache).
    swap_cache: BTreeMap<u64, u32>,
    repl: Replacer,
    tlb: Option<Tlb>,
    mmap: Option<MmapThreshold>,
    counters: Counters,
    stream: Vec<u64>,
}

/// The most pages [`Process::touch`] and [`Process::pages`] cover in one call (1 GiB).
pub const MAX_TOUCH_PAGES: u64 = 1 << 18;

impl Process {
    /// A process whose heap starts at `heap_start` (the real heap's first address, page
    /// aligned), with its break there.
    pub fn new(cfg: &ProcessConfig, heap_start: u64) -> Result<Process, VmError> {
        let mm = Mm::new(cfg.mode, &cfg.layout, heap_start)?;
        let mut phys = PhysMem::new(&cfg.frames)?;
        if phys.frames() > cfg.mode.max_frames() {
            return Err(VmError::BadKnob(
                "more physical memory than the mode can address",
            ));
        }
        let root = phys
            .alloc(FrameOwner::PageTable { level: 0 })
            .ok_or(VmError::BadKnob(
                "no free frame for the page directory: physical memory is all taken",
            ))?;
        let pt = PageTable::new(cfg.mode, root)?;
        let tlb = match &cfg.tlb {
            Some(t) => Some(Tlb::new(t)?),
            None => None,
        };
        let mmap = match &cfg.mmap {
            Some(m) => Some(MmapThreshold::new(cfg.mode, m)?),
            None => None,
        };
        Ok(Process {
            cfg: *cfg,
            mm,
            pt,
            phys,
            swap: Swap::new(cfg.swap_bytes)?,
            swap_cache: BTreeMap::new(),
            repl: Replacer::new(cfg.policy, cfg.seed),
            tlb,
            mmap,
            counters: Counters::default(),
            stream: Vec::new(),
        })
    }

    pub fn config(&self) -> &ProcessConfig {
        &self.cfg
    }
    pub fn mode(&self) -> Mode {
        self.cfg.mode
    }
    pub fn mm(&self) -> &Mm {
        &self.mm
    }
    pub fn page_table(&self) -> &PageTable {
        &self.pt
    }
    pub fn phys(&self) -> &PhysMem {
        &self.phys
    }
    pub fn swap(&self) -> &Swap {
        &self.swap
    }
    pub fn tlb(&self) -> Option<&Tlb> {
        self.tlb.as_ref()
    }
    pub fn replacer(&self) -> &Replacer {
        &self.repl
    }
    /// glibc's threshold state, in mmap-threshold mode.
    pub fn mmap_threshold(&self) -> Option<&MmapThreshold> {
        self.mmap.as_ref()
    }
    pub fn mmap_threshold_mut(&mut self) -> Option<&mut MmapThreshold> {
        self.mmap.as_mut()
    }
    pub fn counters(&self) -> Counters {
        let mut c = self.counters;
        if let Some(t) = &self.tlb {
            c.tlb_hits = t.hits();
            c.tlb_misses = t.misses();
        }
        c
    }
    /// Pages resident now (RSS).
    pub fn rss(&self) -> u64 {
        self.repl.len() as u64
    }

    pub fn stats(&self) -> Stats {
        let mut s = Stats {
            virtual_bytes: self.mm.virtual_size(),
            rss: self.rss(),
            page_tables: self.pt.table_count() as u64,
            frames: self.phys.frames(),
            free_frames: self.phys.free_frames(),
            swap_slots: self.swap.slots(),
            swap_used: self.swap.used(),
            counters: self.counters(),
            ..Stats::default()
        };
        s.swapped = self.swap.used() as u64 - self.swap_cache.len() as u64;
        self.pt.for_each_leaf(&mut |va, pte| {
            if pte.present() {
                match self.mm.find(va).map(|v| v.kind) {
                    Some(VmaKind::Heap) => s.rss_heap += 1,
                    Some(VmaKind::Mmap) => s.rss_mmap += 1,
                    _ => {}
                }
            }
        });
        s
    }

    // ---- brk, sbrk, mmap ----

    /// `brk(new)`: moves the break (pages above a lower break are unmapped). Returns the new
    /// break; `ENOMEM` leaves everything as it was.
    pub fn brk(&mut self, new: u64) -> Result<u64, VmError> {
        let change = self.mm.set_brk(new)?;
        if let Some((a, b)) = change.unmapped {
            self.unmap_range(a, b);
        }
        Ok(new)
    }

    /// `sbrk(incr)`: returns the old break; `sbrk(0)` reports the break.
    pub fn sbrk(&mut self, incr: i64) -> Result<u64, VmError> {
        let (old, change) = self.mm.sbrk(incr)?;
        if let Some((a, b)) = change.unmapped {
            self.unmap_range(a, b);
        }
        Ok(old)
    }

    /// An anonymous mapping in the mmap region; its pages fault in on first touch.
    pub fn mmap(&mut self, len: u64) -> Result<u64, VmError> {
        self.mm.mmap(len)
    }

    /// `munmap(addr, len)`: returns how many resident pages it freed.
    pub fn munmap(&mut self, addr: u64, len: u64) -> Result<u64, VmError> {
        let ranges = self.mm.munmap(addr, len)?;
        Ok(ranges
            .into_iter()
            .map(|(a, b)| self.unmap_range(a, b))
            .sum())
    }

    /// `mremap(old, old_len, new_len, MREMAP_MAYMOVE)`: returns the mapping's new start; a
    /// moved mapping takes its pages along (frames, swap slots and all).
    pub fn mremap(&mut self, old: u64, old_len: u64, new_len: u64) -> Result<u64, VmError> {
        let r = self.mm.mremap(old, old_len, new_len)?;
        if let Some((a, b)) = r.unmapped {
            self.unmap_range(a, b);
        }
        if r.new_start != r.old_start {
            let keep = page_ceil(old_len)
                .unwrap_or(0)
                .min(page_ceil(new_len).unwrap_or(0));
            let mut pages = Vec::new();
            self.pt
                .for_each_leaf_in(old, old.saturating_add(keep), &mut |va, _| pages.push(va));
            for (k, &va) in pages.iter().enumerate() {
                if let Err(e) = self.move_page(va, r.new_start + (va - old)) {
                    // Out of frames for the new page tables: the pages not moved are lost with
                    // the old range, so every page stays inside a mapping.
                    for &rest in &pages[k..] {
                        self.unmap_range(rest, rest + PAGE_SIZE);
                    }
                    return Err(e);
                }
            }
        }
        Ok(r.new_start)
    }

    /// Moves one page's mapping from `from` to `to`.
    fn move_page(&mut self, from: u64, to: u64) -> Result<(), VmError> {
        let (old_vpn, new_vpn) = (vpn_of(from), vpn_of(to));
        let Some(pte) = self.pt.leaf(from).filter(|p| !p.is_empty()) else {
            return Ok(());
        };
        // Tables for the destination first: taking frames may evict this very page, so the
        // entry is read again afterwards. The destination is mapped before the source is
        // cleared, so a table they share is never freed in between.
        let n = self.pt.missing_tables(to);
        let mut ev = Vec::new();
        let tables = self.take_frames(n, &mut ev)?;
        let pte = self.pt.leaf(from).unwrap_or(pte);
        let mut it = tables.iter().copied();
        let mapped = self.pt.map(to, pte, &mut it);
        let unused: Vec<u64> = it.collect();
        for f in unused {
            let _ = self.phys.release(f);
        }
        self.fix_table_owners(&tables);
        mapped?;
        let mut freed = Vec::new();
        self.pt.unmap(from, &mut freed);
        for f in freed {
            let _ = self.phys.release(f);
        }
        self.tlb_invalidate(old_vpn);
        if pte.present() {
            self.phys
                .reassign(pte.frame(), FrameOwner::Page { vpn: new_vpn })?;
            self.repl.rename(old_vpn, new_vpn);
        }
        if let Some(slot) = pte
            .swap_slot()
            .or_else(|| self.swap_cache.get(&old_vpn).copied())
        {
            self.swap.rename(slot, new_vpn);
        }
        if let Some(slot) = self.swap_cache.remove(&old_vpn) {
            self.swap_cache.insert(new_vpn, slot);
        }
        Ok(())
    }

    /// Unmaps every page of `[start, end)`: frees frames, swap slots and empty tables.
    /// Returns how many resident pages it freed. Only pages with entries are visited, so a
    /// huge range costs what it holds.
    fn unmap_range(&mut self, start: u64, end: u64) -> u64 {
        let mut pages = Vec::new();
        self.pt
            .for_each_leaf_in(page_floor(start), end, &mut |va, _| pages.push(va));
        let mut resident = 0;
        let mut freed = Vec::new();
        for a in pages {
            let vpn = vpn_of(a);
            let pte = self.pt.unmap(a, &mut freed);
            if pte.present() {
                let _ = self.phys.release(pte.frame());
                self.repl.remove(vpn);
                self.tlb_invalidate(vpn);
                resident += 1;
            }
            if let Some(slot) = pte.swap_slot() {
                self.swap.release(slot);
            }
            if let Some(slot) = self.swap_cache.remove(&vpn) {
                self.swap.release(slot);
            }
            for f in freed.drain(..) {
                let _ = self.phys.release(f);
            }
        }
        resident
    }

    fn tlb_invalidate(&mut self, vpn: u64) {
        if let Some(t) = &mut self.tlb {
            t.invalidate(vpn);
        }
    }

    // ---- accesses ----

    /// One access (read or write) to the byte at `addr`, with everything it sets off.
    pub fn access(&mut self, addr: u64, write: bool) -> Result<PageAccess, VmError> {
        self.cfg.mode.check(addr)?;
        let vpn = vpn_of(addr);
        let acc = if write {
            Access::USER_WRITE
        } else {
            Access::USER_READ
        };
        let mut out = PageAccess {
            addr,
            vpn,
            write,
            tlb: TlbResult::Off,
            fault: Fault::None,
            frame: 0,
            paddr: 0,
            evictions: Vec::new(),
            new_tables: 0,
            stack_grew: false,
        };
        if let Some(tlb) = &mut self.tlb {
            match tlb.lookup(vpn) {
                Some(e) if !write || e.writable => {
                    out.tlb = TlbResult::Hit;
                    if write && !e.dirty {
                        tlb.set_dirty(vpn);
                        self.pt
                            .update_leaf(addr, |p| p.with(Pte::DIRTY | Pte::ACCESSED));
                    }
                    out.frame = e.frame;
                    out.paddr = (e.frame << PAGE_SHIFT) | (addr & (PAGE_SIZE - 1));
                    self.finish(vpn, write);
                    return Ok(out);
                }
                Some(_) => out.tlb = TlbResult::Hit,
                None => out.tlb = TlbResult::Miss,
            }
        }
        let fault = match self.pt.access(addr, acc) {
            Ok(paddr) => {
                self.fill(addr, paddr, &mut out);
                self.finish(vpn, write);
                return Ok(out);
            }
            Err(f) => f,
        };
        // The page-fault handler.
        let segv = |c: &mut Counters, why| {
            c.segfaults += 1;
            Err(VmError::SegFault { addr, why })
        };
        let vma = match self.mm.find(addr).copied() {
            Some(v) => v,
            None if self.mm.grow_stack(addr) => {
                out.stack_grew = true;
                match self.mm.find(addr) {
                    Some(v) => *v,
                    None => return segv(&mut self.counters, "no mapping holds this address"),
                }
            }
            None => return segv(&mut self.counters, "no mapping holds this address"),
        };
        if write && !vma.prot.write {
            return segv(&mut self.counters, "write to a read-only mapping");
        }
        let flags = Pte::PRESENT | Pte::USER | if vma.prot.write { Pte::WRITABLE } else { 0 };
        match fault.kind {
            FaultKind::Swapped { slot } => {
                let frame = self.take_frames(1, &mut out.evictions)?[0];
                self.phys.reassign(frame, FrameOwner::Page { vpn })?;
                self.pt.update_leaf(addr, |_| Pte::new(frame, flags));
                self.swap_cache.insert(vpn, slot);
                self.repl.insert(vpn);
                self.counters.major_faults += 1;
                self.counters.swap_ins += 1;
                out.fault = Fault::Major { slot };
            }
            FaultKind::NotPresent => {
                let n = self.pt.missing_tables(addr);
                let frames = self.take_frames(n + 1, &mut out.evictions)?;
                let page = frames[n];
                self.phys.reassign(page, FrameOwner::Page { vpn })?;
                let mut it = frames[..n].iter().copied();
                if let Err(e) = self.pt.map(addr, Pte::new(page, flags), &mut it) {
                    for &f in &frames {
                        let _ = self.phys.release(f);
                    }
                    return Err(e);
                }
                self.fix_table_owners(&frames[..n]);
                self.repl.insert(vpn);
                self.counters.minor_faults += 1;
                out.fault = Fault::Minor;
                out.new_tables = n as u8;
            }
            _ => return segv(&mut self.counters, "access denied by the page tables"),
        }
        let paddr = self
            .pt
            .access(addr, acc)
            .map_err(|_| VmError::Invariant("the retried access faulted again"))?;
        self.fill(addr, paddr, &mut out);
        self.finish(vpn, write);
        Ok(out)
    }

    /// After a walk: the translation goes into the TLB.
    fn fill(&mut self, addr: u64, paddr: u64, out: &mut PageAccess) {
        out.paddr = paddr;
        out.frame = paddr >> PAGE_SHIFT;
        if let (Some(tlb), Some(pte)) = (&mut self.tlb, self.pt.leaf(addr)) {
            tlb.insert(out.vpn, pte.frame(), pte.writable(), pte.dirty());
        }
    }

    fn finish(&mut self, vpn: u64, write: bool) {
        self.counters.accesses += 1;
        if write {
            self.counters.writes += 1;
        } else {
            self.counters.reads += 1;
        }
        self.repl.reference(vpn);
        if self.cfg.record_stream {
            self.stream.push(vpn);
        }
    }

    /// Gives new tables their level in the frame map.
    fn fix_table_owners(&mut self, frames: &[u64]) {
        for &f in frames {
            if let Some(t) = self.pt.tables().get(&f) {
                let _ = self
                    .phys
                    .reassign(f, FrameOwner::PageTable { level: t.level });
            }
        }
    }

    /// `n` frames of ours (owned as tables until reassigned), evicting pages as needed.
    /// On failure, the frames taken so far go back to the free list.
    fn take_frames(&mut self, n: usize, ev: &mut Vec<Eviction>) -> Result<Vec<u64>, VmError> {
        let mut got = Vec::with_capacity(n);
        for _ in 0..n {
            match self.frame(ev) {
                Ok(f) => got.push(f),
                Err(e) => {
                    for f in got {
                        let _ = self.phys.release(f);
                    }
                    return Err(e);
                }
            }
        }
        Ok(got)
    }

    /// One frame: a free one, or one freed by evicting a page.
    fn frame(&mut self, ev: &mut Vec<Eviction>) -> Result<u64, VmError> {
        let owner = FrameOwner::PageTable { level: 0 };
        if let Some(f) = self.phys.alloc(owner) {
            return Ok(f);
        }
        let victim = self.repl.victim().ok_or(VmError::OutOfFrames)?;
        let va = victim << PAGE_SHIFT;
        let pte = self
            .pt
            .leaf(va)
            .filter(|p| p.present())
            .ok_or(VmError::Invariant("a victim page is not resident"))?;
        let cached = self.swap_cache.get(&victim).copied();
        let (slot, written) = match cached {
            Some(s) => (s, pte.dirty()),
            None => {
                let slot = match self.swap.alloc(victim) {
                    Some(s) => Some(s),
                    None => {
                        // Swap full: drop another resident page's swap-cache copy, as Linux
                        // frees swap cache under pressure (`try_to_free_swap`).
                        match self.swap_cache.iter().next().map(|(&v, &s)| (v, s)) {
                            Some((v, s)) => {
                                self.swap_cache.remove(&v);
                                self.swap.release(s);
                                self.swap.alloc(victim)
                            }
                            None => None,
                        }
                    }
                };
                match slot {
                    Some(s) => (s, true),
                    None => {
                        self.repl.insert(victim);
                        return Err(VmError::OutOfFrames);
                    }
                }
            }
        };
        self.swap_cache.remove(&victim);
        self.pt.update_leaf(va, |_| Pte::swap(slot));
        self.tlb_invalidate(victim);
        self.phys.reassign(pte.frame(), owner)?;
        self.counters.evictions += 1;
        if written {
            self.counters.swap_outs += 1;
        }
        ev.push(Eviction {
            vpn: victim,
            frame: pte.frame(),
            slot,
            written,
        });
        Ok(pte.frame())
    }

    /// Touches every page of `[addr, addr + len)` once (the first byte touched in each),
    /// calling `f` with each access. Stops at the first failure, as a `memset` that runs off
    /// a mapping stops there: the pages before it were touched. `len == 0` touches nothing.
    pub fn touch(
        &mut self,
        addr: u64,
        len: u64,
        write: bool,
        f: &mut dyn FnMut(PageAccess),
    ) -> Result<u64, VmError> {
        if len == 0 {
            return Ok(0);
        }
        let last = addr.checked_add(len - 1).ok_or(VmError::BadAddress {
            addr,
            why: "the range wraps around the address space",
        })?;
        let pages = vpn_of(last) - vpn_of(addr) + 1;
        if pages > MAX_TOUCH_PAGES {
            return Err(VmError::BadKnob("at most 1 GiB is touched at once"));
        }
        let mut a = addr;
        for i in 0..pages {
            f(self.access(a, write)?);
            if i + 1 < pages {
                a = page_floor(a) + PAGE_SIZE;
            }
        }
        Ok(pages)
    }

    // ---- looking at it ----

    /// Walks `addr` through the page tables (no side effects).
    pub fn walk(&self, addr: u64) -> Walk {
        self.pt.walk(addr)
    }

    /// The state of the page holding `addr`.
    pub fn page_state(&self, addr: u64) -> PageState {
        if self.mm.find(addr).is_none() {
            return PageState::Unmapped;
        }
        match self.pt.leaf(addr) {
            Some(p) if p.present() => PageState::Resident {
                frame: p.frame(),
                accessed: p.accessed(),
                dirty: p.dirty(),
            },
            Some(p) => match p.swap_slot() {
                Some(slot) => PageState::Swapped { slot },
                None => PageState::Mapped,
            },
            None => PageState::Mapped,
        }
    }

    /// The state of every page of `[start, end)` (at most [`MAX_TOUCH_PAGES`]).
    pub fn pages(&self, start: u64, end: u64) -> Vec<PageState> {
        let (a, b) = (vpn_of(start), vpn_of(page_ceil(end).unwrap_or(end)));
        (a..b.min(a.saturating_add(MAX_TOUCH_PAGES)))
            .map(|v| self.page_state(v << PAGE_SHIFT))
            .collect()
    }

    /// Gives OPT the page stream of a previous run ([`Self::page_stream`]).
    pub fn set_future(&mut self, stream: Vec<u64>) {
        self.repl.set_future(stream);
    }
    /// The page of every access so far (with `record_stream`).
    pub fn page_stream(&self) -> &[u64] {
        &self.stream
    }

    /// Checks every invariant: each mapped page lies in a VMA; each resident page owns
    /// exactly its frame and is known to the replacement policy, and no frame is mapped
    /// twice; RSS fits in physical memory; swap slots, the swap cache, tables and TLB entries
    /// agree with the page tables; the VMAs are sorted and disjoint and the heap ends at the
    /// break's page.
    pub fn check(&self) -> Result<(), VmError> {
        let bad = |w| Err(VmError::Invariant(w));
        let mut frames = BTreeSet::new();
        let mut problem = None;
        let mut resident = 0u64;
        let mut swapped = 0u64;
        self.pt.for_each_leaf(&mut |va, pte| {
            if problem.is_some() {
                return;
            }
            let vpn = vpn_of(va);
            if self.mm.find(va).is_none() {
                problem = Some("a page outside every mapping has a page-table entry");
            } else if pte.present() {
                resident += 1;
                if !frames.insert(pte.frame()) {
                    problem = Some("a frame is mapped twice");
                } else if self.phys.owner(pte.frame()) != Some(FrameOwner::Page { vpn }) {
                    problem = Some("a resident page's frame is not recorded as its own");
                } else if !self.repl.contains(vpn) {
                    problem = Some("a resident page is unknown to the replacement policy");
                }
            } else if let Some(slot) = pte.swap_slot() {
                swapped += 1;
                if self.swap.holder(slot) != Some(vpn) {
                    problem = Some("a swapped page's slot holds another page");
                }
            } else {
                problem = Some("a non-present entry that holds no swap slot");
            }
        });
        if let Some(p) = problem {
            return bad(p);
        }
        if resident != self.repl.len() as u64 {
            return bad("the replacement policy tracks pages that are not resident");
        }
        if resident > self.phys.frames() {
            return bad("more resident pages than frames");
        }
        if self.phys.count(|o| matches!(o, FrameOwner::Page { .. })) != resident {
            return bad("frames owned by pages that are not mapped");
        }
        if self
            .phys
            .count(|o| matches!(o, FrameOwner::PageTable { .. }))
            != self.pt.table_count() as u64
        {
            return bad("frames owned by page tables that do not exist");
        }
        for &f in self.pt.tables().keys() {
            if !matches!(self.phys.owner(f), Some(FrameOwner::PageTable { .. }))
                || frames.contains(&f)
            {
                return bad("a page table's frame is not recorded as a table");
            }
        }
        if self.phys.count(|o| o == FrameOwner::Free) != self.phys.free_frames() {
            return bad("the free list and the frame map disagree");
        }
        for (&vpn, &slot) in &self.swap_cache {
            let present = self.pt.leaf(vpn << PAGE_SHIFT).is_some_and(|p| p.present());
            if !present || self.swap.holder(slot) != Some(vpn) {
                return bad("a swap-cache entry for a page that is not resident, or a slot it does not hold");
            }
        }
        if self.swap.used() as u64 != swapped + self.swap_cache.len() as u64 {
            return bad("swap slots are used by no page");
        }
        if let Some(t) = &self.tlb {
            for e in t.slots().iter().flatten() {
                match self.pt.leaf(e.vpn << PAGE_SHIFT) {
                    Some(p) if p.present() && p.frame() == e.frame => {}
                    _ => return bad("a TLB entry is stale"),
                }
            }
        }
        let v = self.mm.vmas();
        if v.windows(2).any(|w| w[0].end > w[1].start) || v.iter().any(|x| x.start >= x.end) {
            return bad("the VMAs overlap or are empty");
        }
        let heap_end = self.mm.heap().map(|h| h.end).unwrap_or(self.mm.start_brk());
        if Some(heap_end.max(self.mm.start_brk()))
            != page_ceil(self.mm.brk()).map(|e| e.max(self.mm.start_brk()))
        {
            return bad("the heap does not end at the break's page");
        }
        Ok(())
    }
}
