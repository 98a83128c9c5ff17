//! x86 page tables, walked level by level as the MMU walks them.
//!
//! Two modes, both with 4 KiB pages:
//! - [`Mode::X86`]: 32-bit two-level paging (no PAE). A linear address splits 10/10/12: bits
//!   31..22 index the *page directory* (its entry is a PDE), bits 21..12 index a *page table*
//!   (PTE), bits 11..0 are the offset in the page. Entries are 4 bytes; CR3 holds the page
//!   directory's frame. wasm32 addresses are 32-bit, so this is the heap's own address space.
//! - [`Mode::X86_64`]: four-level paging over 48-bit canonical addresses, 9/9/9/9/12: PML4E,
//!   PDPTE, PDE, PTE, 8-byte entries, 512 per table. Bits 63..48 must copy bit 47.
//!
//! Entry bits follow the Intel SDM (vol. 3, §4.3 and §4.5): bit 0 present (P), bit 1
//! read/write (R/W), bit 2 user/supervisor (U/S), bit 5 accessed (A), bit 6 dirty (D, in
//! the last level); the frame number from bit 12 up. The walk checks permissions at every
//! level as the hardware does (a user access needs U/S set at every level; a write needs R/W
//! set at every level, CR0.WP being set as Linux sets it) and sets A in every entry it uses
//! and D in the PTE on a write. Large pages (PS) are not simulated.
//!
//! A non-present PTE may hold a *swap entry*, as Linux stores one: here bit 9 (one of the
//! bits the hardware leaves to software) marks it and bits 12 and up hold the swap slot.
//!
//! Tables live in simulated physical frames ([`super::frames`]): a table is identified by its
//! frame number, and a walk step reports the physical address of the entry it read
//! (`table frame << 12 | index * entry size`), so the UI can draw the walk through memory.
//! Tables are stored sparsely (only non-empty entries); a present entry that points to a
//! frame holding no table reads as a zeroed table, as the hardware would see it.

use super::{VmError, PAGE_SHIFT, PAGE_SIZE};
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::fmt;
use core::str::FromStr;

/// The paging mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub enum Mode {
    /// 32-bit x86, two levels: 10/10/12.
    #[default]
    X86,
    /// x86-64, four levels: 9/9/9/9/12.
    X86_64,
}

impl Mode {
    pub const ALL: [Mode; 2] = [Mode::X86, Mode::X86_64];

    pub const fn name(self) -> &'static str {
        match self {
            Mode::X86 => "x86",
            Mode::X86_64 => "x86-64",
        }
    }
    /// Levels of tables.
    pub const fn levels(self) -> usize {
        match self {
            Mode::X86 => 2,
            Mode::X86_64 => 4,
        }
    }
    /// Address bits that index one table.
    pub const fn index_bits(self) -> u32 {
        match self {
            Mode::X86 => 10,
            Mode::X86_64 => 9,
        }
    }
    /// Entries in one table (one 4 KiB frame).
    pub const fn entries(self) -> u16 {
        1 << self.index_bits()
    }
    /// Bytes in one entry.
    pub const fn entry_bytes(self) -> u64 {
        match self {
            Mode::X86 => 4,
            Mode::X86_64 => 8,
        }
    }
    /// Bits of a linear address that translation uses.
    pub const fn va_bits(self) -> u32 {
        PAGE_SHIFT + self.index_bits() * self.levels() as u32
    }
    /// The most frames an entry can name: 2^20 (4 GiB) without PAE, 2^40 with 52-bit
    /// physical addresses.
    pub const fn max_frames(self) -> u64 {
        match self {
            Mode::X86 => 1 << 20,
            Mode::X86_64 => 1 << 40,
        }
    }
    /// The name of an entry at `level` (0 is the top, CR3's table).
    pub const fn entry_name(self, level: usize) -> &'static str {
        match (self, level) {
            (Mode::X86, 0) => "PDE",
            (Mode::X86, _) => "PTE",
            (Mode::X86_64, 0) => "PML4E",
            (Mode::X86_64, 1) => "PDPTE",
            (Mode::X86_64, 2) => "PDE",
            (Mode::X86_64, _) => "PTE",
        }
    }
    /// The name of a table at `level`.
    pub const fn table_name(self, level: usize) -> &'static str {
        match (self, level) {
            (Mode::X86, 0) => "page directory",
            (Mode::X86, _) => "page table",
            (Mode::X86_64, 0) => "PML4",
            (Mode::X86_64, 1) => "page-directory-pointer table",
            (Mode::X86_64, 2) => "page directory",
            (Mode::X86_64, _) => "page table",
        }
    }

    /// Checks that the mode can express `addr`: below 4 GiB for x86, canonical for x86-64.
    pub fn check(self, addr: u64) -> Result<(), VmError> {
        match self {
            Mode::X86 if addr > u32::MAX as u64 => Err(VmError::BadAddress {
                addr,
                why: "32-bit x86 addresses stop at 0xffffffff",
            }),
            Mode::X86_64 => {
                let top = addr >> 47;
                if top == 0 || top == (1 << 17) - 1 {
                    Ok(())
                } else {
                    Err(VmError::BadAddress {
                        addr,
                        why: "not canonical: bits 63..48 must copy bit 47",
                    })
                }
            }
            _ => Ok(()),
        }
    }

    /// The table indices of `addr`, top level first, and its offset in the page.
    pub fn split(self, addr: u64) -> Result<Split, VmError> {
        self.check(addr)?;
        let mut indices = [0u16; 4];
        let bits = self.index_bits();
        let n = self.levels();
        for (l, slot) in indices.iter_mut().enumerate().take(n) {
            let shift = PAGE_SHIFT + bits * (n - 1 - l) as u32;
            *slot = ((addr >> shift) & ((1 << bits) - 1)) as u16;
        }
        Ok(Split {
            indices,
            levels: n as u8,
            offset: addr & (PAGE_SIZE - 1),
        })
    }

    /// The canonical address of the page with these indices (x86-64: sign-extended bit 47).
    pub fn join(self, indices: &[u16]) -> u64 {
        let bits = self.index_bits();
        let mut a = 0u64;
        for &i in indices.iter().take(self.levels()) {
            a = (a << bits) | i as u64;
        }
        a <<= PAGE_SHIFT;
        if self == Mode::X86_64 && a & (1 << 47) != 0 {
            a |= 0xFFFF_0000_0000_0000;
        }
        a
    }
}

impl FromStr for Mode {
    type Err = VmError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "x86" | "i386" | "32" => Ok(Mode::X86),
            "x86-64" | "x86_64" | "amd64" | "64" => Ok(Mode::X86_64),
            _ => Err(VmError::Unknown("paging mode: expected x86 or x86-64")),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An address cut into its bit fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Split {
    /// Index into the table at each level, top first; `levels` of them are used.
    pub indices: [u16; 4],
    pub levels: u8,
    /// Offset in the page (bits 11..0).
    pub offset: u64,
}

impl Split {
    pub fn indices(&self) -> &[u16] {
        &self.indices[..self.levels as usize]
    }
}

/// A page-table entry, as the hardware reads it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Pte(pub u64);

impl Pte {
    pub const PRESENT: u64 = 1 << 0;
    pub const WRITABLE: u64 = 1 << 1;
    pub const USER: u64 = 1 << 2;
    pub const ACCESSED: u64 = 1 << 5;
    pub const DIRTY: u64 = 1 << 6;
    /// Software bit (bit 9): this non-present entry holds a swap slot.
    pub const SWAPPED: u64 = 1 << 9;
    /// The frame number's bits (12..51).
    pub const FRAME_MASK: u64 = 0x000F_FFFF_FFFF_F000;
    /// The flags an intermediate entry of a user mapping gets (Linux's `_PAGE_TABLE` less A
    /// and D, which the walk sets).
    pub const TABLE_FLAGS: u64 = Pte::PRESENT | Pte::WRITABLE | Pte::USER;

    /// An entry that maps `frame` with `flags`.
    pub const fn new(frame: u64, flags: u64) -> Pte {
        Pte(((frame << PAGE_SHIFT) & Pte::FRAME_MASK) | (flags & !Pte::FRAME_MASK))
    }
    /// A non-present entry that records swap slot `slot`.
    pub const fn swap(slot: u32) -> Pte {
        Pte(((slot as u64) << PAGE_SHIFT) | Pte::SWAPPED)
    }
    pub const fn raw(self) -> u64 {
        self.0
    }
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub const fn present(self) -> bool {
        self.0 & Pte::PRESENT != 0
    }
    pub const fn writable(self) -> bool {
        self.0 & Pte::WRITABLE != 0
    }
    pub const fn user(self) -> bool {
        self.0 & Pte::USER != 0
    }
    pub const fn accessed(self) -> bool {
        self.0 & Pte::ACCESSED != 0
    }
    pub const fn dirty(self) -> bool {
        self.0 & Pte::DIRTY != 0
    }
    /// The frame this entry names (meaningful when present).
    pub const fn frame(self) -> u64 {
        (self.0 & Pte::FRAME_MASK) >> PAGE_SHIFT
    }
    /// The swap slot of a non-present swap entry.
    pub const fn swap_slot(self) -> Option<u32> {
        if !self.present() && self.0 & Pte::SWAPPED != 0 {
            Some((self.0 >> PAGE_SHIFT) as u32)
        } else {
            None
        }
    }
    pub const fn with(self, flags: u64) -> Pte {
        Pte(self.0 | flags)
    }
    pub const fn without(self, flags: u64) -> Pte {
        Pte(self.0 & !flags)
    }
}

impl fmt::Display for Pte {
    /// `frame 0x2a3 P W U A D` / `swap slot 3` / `not present`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(slot) = self.swap_slot() {
            return write!(f, "not present, swap slot {slot}");
        }
        if !self.present() {
            return f.write_str("not present");
        }
        write!(f, "frame {:#x} P", self.frame())?;
        for (bit, name) in [
            (Pte::WRITABLE, "W"),
            (Pte::USER, "U"),
            (Pte::ACCESSED, "A"),
            (Pte::DIRTY, "D"),
        ] {
            if self.0 & bit != 0 {
                write!(f, " {name}")?;
            }
        }
        Ok(())
    }
}

/// The kind of memory access being translated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Access {
    pub write: bool,
    /// From user mode (CPL 3): every level must allow user access.
    pub user: bool,
}

impl Access {
    pub const USER_READ: Access = Access {
        write: false,
        user: true,
    };
    pub const USER_WRITE: Access = Access {
        write: true,
        user: true,
    };
}

/// Why a walk stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// The entry's present bit is clear.
    NotPresent,
    /// A non-present PTE holding a swap entry: the page is in swap slot `slot`.
    Swapped { slot: u32 },
    /// A write where an entry's R/W bit is clear.
    WriteProtected,
    /// A user access where an entry's U/S bit is clear.
    SupervisorOnly,
    /// The address itself cannot be translated in this mode.
    BadAddress,
}

/// A page fault, or an address the mode cannot express, found by a walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WalkFault {
    pub addr: u64,
    /// The level whose entry stopped the walk (0 is the top).
    pub level: u8,
    /// That entry's name: `PDE`, `PTE`, `PML4E`, `PDPTE`.
    pub entry: &'static str,
    /// Its index in its table.
    pub index: u16,
    pub kind: FaultKind,
}

impl fmt::Display for WalkFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (addr, e, i) = (self.addr, self.entry, self.index);
        match self.kind {
            FaultKind::NotPresent => {
                write!(f, "page fault at {addr:#x}: {e} {i:#x} is not present")
            }
            FaultKind::Swapped { slot } => {
                write!(f, "page fault at {addr:#x}: {e} {i:#x} is not present (the page is in swap slot {slot})")
            }
            FaultKind::WriteProtected => write!(
                f,
                "page fault at {addr:#x}: write to a read-only page ({e} {i:#x})"
            ),
            FaultKind::SupervisorOnly => {
                write!(
                    f,
                    "page fault at {addr:#x}: user access to a supervisor page ({e} {i:#x})"
                )
            }
            FaultKind::BadAddress => {
                write!(f, "{addr:#x} cannot be translated in this paging mode")
            }
        }
    }
}

/// One level of a walk: the entry read and where it lives in physical memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WalkStep {
    pub level: u8,
    /// `PDE`, `PTE`, ...
    pub entry: &'static str,
    /// `page directory`, `page table`, ...
    pub table_name: &'static str,
    /// Frame of the table read at this level.
    pub table: u64,
    pub index: u16,
    /// Physical address of the entry: `table << 12 | index * entry size`.
    pub entry_addr: u64,
    pub pte: Pte,
}

/// A walk of one address, every level it reached, and where it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Walk {
    pub mode: Mode,
    pub vaddr: u64,
    /// The address's bit fields (zeros when the address is bad).
    pub split: Split,
    /// CR3's frame: the top table.
    pub root: u64,
    pub steps: Vec<WalkStep>,
    /// The physical address, or the fault that stopped the walk.
    pub result: Result<u64, WalkFault>,
}

/// One table: its level and its non-empty entries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Table {
    pub level: u8,
    pub entries: BTreeMap<u16, Pte>,
}

/// A process's page tables, rooted at CR3.
#[derive(Clone, Debug)]
pub struct PageTable {
    mode: Mode,
    root: u64,
    tables: BTreeMap<u64, Table>,
}

impl PageTable {
    /// An empty top-level table in frame `root`.
    pub fn new(mode: Mode, root: u64) -> Result<PageTable, VmError> {
        if root >= mode.max_frames() {
            return Err(VmError::BadKnob(
                "the root table's frame is beyond what the mode can address",
            ));
        }
        let mut tables = BTreeMap::new();
        tables.insert(
            root,
            Table {
                level: 0,
                entries: BTreeMap::new(),
            },
        );
        Ok(PageTable { mode, root, tables })
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }
    /// CR3: the frame of the top table.
    pub fn root(&self) -> u64 {
        self.root
    }
    /// Every table, by frame.
    pub fn tables(&self) -> &BTreeMap<u64, Table> {
        &self.tables
    }
    /// Frames holding tables (the root included).
    pub fn table_count(&self) -> usize {
        self.tables.len()
    }

    /// Declares frame `frame` a (zeroed) table at `level`, for hand-built tables.
    pub fn add_table(&mut self, frame: u64, level: u8) -> Result<(), VmError> {
        if level as usize >= self.mode.levels() {
            return Err(VmError::BadKnob("no such page-table level in this mode"));
        }
        if frame >= self.mode.max_frames() {
            return Err(VmError::BadKnob(
                "the table's frame is beyond what the mode can address",
            ));
        }
        if self.tables.contains_key(&frame) {
            return Err(VmError::BadKnob("that frame already holds a table"));
        }
        self.tables.insert(
            frame,
            Table {
                level,
                entries: BTreeMap::new(),
            },
        );
        Ok(())
    }

    /// Writes entry `index` of the table in frame `table` (an empty entry clears it).
    pub fn set_entry(&mut self, table: u64, index: u16, pte: Pte) -> Result<(), VmError> {
        if index >= self.mode.entries() {
            return Err(VmError::BadKnob("the index is beyond the table's entries"));
        }
        if self.mode == Mode::X86 && (pte.0 >> 32 != 0) {
            return Err(VmError::BadKnob("a 32-bit entry cannot hold that value"));
        }
        let t = self
            .tables
            .get_mut(&table)
            .ok_or(VmError::BadKnob("no table in that frame"))?;
        if pte.is_empty() {
            t.entries.remove(&index);
        } else {
            t.entries.insert(index, pte);
        }
        Ok(())
    }

    /// Entry `index` of the table in frame `table` (empty if unset or no such table).
    pub fn entry(&self, table: u64, index: u16) -> Pte {
        self.tables
            .get(&table)
            .and_then(|t| t.entries.get(&index))
            .copied()
            .unwrap_or_default()
    }

    /// Walks `vaddr` level by level without changing anything (no A/D bits, no permission
    /// checks): what the UI draws.
    pub fn walk(&self, vaddr: u64) -> Walk {
        self.walk_as(vaddr, None)
    }

    /// Walks `vaddr` for an access, checking permissions at every level as the MMU does.
    pub fn walk_for(&self, vaddr: u64, access: Access) -> Walk {
        self.walk_as(vaddr, Some(access))
    }

    fn walk_as(&self, vaddr: u64, access: Option<Access>) -> Walk {
        let mode = self.mode;
        let mut w = Walk {
            mode,
            vaddr,
            split: Split {
                indices: [0; 4],
                levels: mode.levels() as u8,
                offset: 0,
            },
            root: self.root,
            steps: Vec::new(),
            result: Err(WalkFault {
                addr: vaddr,
                level: 0,
                entry: "address",
                index: 0,
                kind: FaultKind::BadAddress,
            }),
        };
        let Ok(split) = mode.split(vaddr) else {
            return w;
        };
        w.split = split;
        let mut table = self.root;
        for level in 0..mode.levels() {
            let index = split.indices[level];
            let pte = self.entry(table, index);
            let entry = mode.entry_name(level);
            w.steps.push(WalkStep {
                level: level as u8,
                entry,
                table_name: mode.table_name(level),
                table,
                index,
                entry_addr: (table << PAGE_SHIFT) | (index as u64 * mode.entry_bytes()),
                pte,
            });
            let fault = |kind| {
                Err(WalkFault {
                    addr: vaddr,
                    level: level as u8,
                    entry,
                    index,
                    kind,
                })
            };
            if !pte.present() {
                w.result = match pte.swap_slot() {
                    Some(slot) if level + 1 == mode.levels() => fault(FaultKind::Swapped { slot }),
                    _ => fault(FaultKind::NotPresent),
                };
                return w;
            }
            if let Some(a) = access {
                if a.user && !pte.user() {
                    w.result = fault(FaultKind::SupervisorOnly);
                    return w;
                }
                if a.write && !pte.writable() {
                    w.result = fault(FaultKind::WriteProtected);
                    return w;
                }
            }
            table = pte.frame();
        }
        w.result = Ok((table << PAGE_SHIFT) | split.offset);
        w
    }

    /// Translates `vaddr` for `access` as the MMU does: checks every level, sets A in every
    /// entry used and D in the PTE on a write. Returns the physical address.
    pub fn access(&mut self, vaddr: u64, access: Access) -> Result<u64, WalkFault> {
        let w = self.walk_for(vaddr, access);
        let paddr = w.result?;
        let last = w.steps.len().saturating_sub(1);
        for (i, s) in w.steps.iter().enumerate() {
            let mut flags = Pte::ACCESSED;
            if i == last && access.write {
                flags |= Pte::DIRTY;
            }
            if let Some(t) = self.tables.get_mut(&s.table) {
                if let Some(e) = t.entries.get_mut(&s.index) {
                    *e = e.with(flags);
                }
            }
        }
        Ok(paddr)
    }

    /// The last-level entry of `vaddr`, if the tables down to it exist.
    pub fn leaf(&self, vaddr: u64) -> Option<Pte> {
        let (table, index) = self.leaf_slot(vaddr)?;
        Some(self.entry(table, index))
    }

    /// The table and index holding `vaddr`'s last-level entry, if the tables exist.
    fn leaf_slot(&self, vaddr: u64) -> Option<(u64, u16)> {
        let split = self.mode.split(vaddr).ok()?;
        let mut table = self.root;
        let n = self.mode.levels();
        for level in 0..n - 1 {
            let pte = self.entry(table, split.indices[level]);
            if !pte.present() || !self.tables.contains_key(&pte.frame()) {
                return None;
            }
            table = pte.frame();
        }
        Some((table, split.indices[n - 1]))
    }

    /// How many tables mapping `vaddr` would have to create.
    pub fn missing_tables(&self, vaddr: u64) -> usize {
        let Ok(split) = self.mode.split(vaddr) else {
            return 0;
        };
        let mut table = self.root;
        let n = self.mode.levels();
        for level in 0..n - 1 {
            let pte = self.entry(table, split.indices[level]);
            if !pte.present() || !self.tables.contains_key(&pte.frame()) {
                return n - 1 - level;
            }
            table = pte.frame();
        }
        0
    }

    /// Sets `vaddr`'s last-level entry to `pte`, creating the missing tables in the frames
    /// `new_tables` yields (exactly [`Self::missing_tables`] of them are taken). Intermediate
    /// entries get [`Pte::TABLE_FLAGS`].
    pub fn map(
        &mut self,
        vaddr: u64,
        pte: Pte,
        new_tables: &mut dyn Iterator<Item = u64>,
    ) -> Result<(), VmError> {
        let split = self.mode.split(vaddr)?;
        if self.mode == Mode::X86 && pte.0 >> 32 != 0 {
            return Err(VmError::BadKnob("a 32-bit entry cannot hold that value"));
        }
        let n = self.mode.levels();
        let mut table = self.root;
        for level in 0..n - 1 {
            let index = split.indices[level];
            let e = self.entry(table, index);
            if e.present() && self.tables.contains_key(&e.frame()) {
                table = e.frame();
                continue;
            }
            let frame = new_tables.next().ok_or(VmError::OutOfFrames)?;
            if frame >= self.mode.max_frames() || self.tables.contains_key(&frame) {
                return Err(VmError::Invariant(
                    "a new table's frame is in use or out of range",
                ));
            }
            self.tables.insert(
                frame,
                Table {
                    level: level as u8 + 1,
                    entries: BTreeMap::new(),
                },
            );
            self.set_entry(table, index, Pte::new(frame, Pte::TABLE_FLAGS))?;
            table = frame;
        }
        self.set_entry(table, split.indices[n - 1], pte)
    }

    /// Changes `vaddr`'s last-level entry in place; false if the tables do not reach it.
    pub fn update_leaf(&mut self, vaddr: u64, f: impl FnOnce(Pte) -> Pte) -> bool {
        let Some((table, index)) = self.leaf_slot(vaddr) else {
            return false;
        };
        let new = f(self.entry(table, index));
        self.set_entry(table, index, new).is_ok()
    }

    /// Clears `vaddr`'s last-level entry and returns what it held; tables left empty are
    /// freed (their frames pushed on `freed`) and their parents' entries cleared, as Linux's
    /// `free_pgtables` does for an unmapped range. The root is never freed.
    pub fn unmap(&mut self, vaddr: u64, freed: &mut Vec<u64>) -> Pte {
        let Ok(split) = self.mode.split(vaddr) else {
            return Pte(0);
        };
        let n = self.mode.levels();
        let mut path = [(0u64, 0u16); 4];
        let mut table = self.root;
        for (level, slot) in path.iter_mut().enumerate().take(n) {
            *slot = (table, split.indices[level]);
            if level + 1 < n {
                let e = self.entry(table, split.indices[level]);
                if !e.present() || !self.tables.contains_key(&e.frame()) {
                    return Pte(0);
                }
                table = e.frame();
            }
        }
        let (t, i) = path[n - 1];
        let old = self.entry(t, i);
        if let Some(tab) = self.tables.get_mut(&t) {
            tab.entries.remove(&i);
        }
        for level in (1..n).rev() {
            let (t, _) = path[level];
            let empty = self
                .tables
                .get(&t)
                .map(|x| x.entries.is_empty())
                .unwrap_or(false);
            if !empty {
                break;
            }
            self.tables.remove(&t);
            freed.push(t);
            let (parent, pi) = path[level - 1];
            if let Some(tab) = self.tables.get_mut(&parent) {
                tab.entries.remove(&pi);
            }
        }
        old
    }

    /// Calls `f(page address, entry)` for every non-empty last-level entry reachable from
    /// the root, in address order.
    pub fn for_each_leaf(&self, f: &mut dyn FnMut(u64, Pte)) {
        self.for_each_leaf_in(0, u64::MAX, f)
    }

    /// As [`Self::for_each_leaf`], for the pages that meet `[start, end)` (canonical
    /// addresses), skipping whole tables outside the range: the cost follows the entries
    /// there, not the size of the range.
    pub fn for_each_leaf_in(&self, start: u64, end: u64, f: &mut dyn FnMut(u64, Pte)) {
        let bits = self.mode.va_bits();
        let mask = if bits >= 64 {
            u64::MAX
        } else {
            (1u64 << bits) - 1
        };
        // Linear (not sign-extended) bounds: canonical upper-half addresses sort above the
        // lower half, as their table indices do.
        let lin = |a: u64| {
            if self.mode == Mode::X86_64 && a >> 47 != 0 {
                (a & mask) | (1 << 48)
            } else {
                a.min(mask + 1)
            }
        };
        let (lo, hi) = (
            lin(start),
            if end == u64::MAX { u64::MAX } else { lin(end) },
        );
        if lo >= hi {
            return;
        }
        let mut idx = [0u16; 4];
        self.leaves_of(self.root, 0, 0, lo, hi, &mut idx, f);
    }

    #[allow(clippy::too_many_arguments)]
    fn leaves_of(
        &self,
        table: u64,
        level: usize,
        base: u64,
        lo: u64,
        hi: u64,
        idx: &mut [u16; 4],
        f: &mut dyn FnMut(u64, Pte),
    ) {
        let Some(t) = self.tables.get(&table) else {
            return;
        };
        let n = self.mode.levels();
        let shift = PAGE_SHIFT + self.mode.index_bits() * (n - 1 - level) as u32;
        for (&i, &e) in &t.entries {
            let mut from = base | ((i as u64) << shift);
            if self.mode == Mode::X86_64 && level == 0 && i >= 256 {
                // The upper half of x86-64 is ordered above 2^48 (see `lin`).
                from |= 1 << 48;
            }
            let to = from + (1u64 << shift);
            if to <= lo || from >= hi {
                continue;
            }
            idx[level] = i;
            if level + 1 == n {
                f(self.mode.join(&idx[..n]), e);
            } else if e.present() {
                self.leaves_of(e.frame(), level + 1, from, lo, hi, idx, f);
            }
        }
    }
}
