//! The process's address space: Linux's `mm_struct` and its VMAs.
//!
//! ```text
//!  0            start_code   end_code/start_data  end_data   start_brk        brk
//!  | null guard | code (r-x) | data (rw-)         | bss (rw-) | heap (rw-) --> |
//!  ... free ... | <-- mmap region (rw-) | mmap_base | gap | stack (rw-) | task_size
//! ```
//! - **code, data, bss** sit just below the heap: the heap starts where the engine's real
//!   heap starts (`start_brk` is the real heap's first address), and the segments end there,
//!   as with brk randomization off (`setarch -R`). The first page is never mapped (the null
//!   guard).
//! - **heap**: `[start_brk, PAGE_ALIGN(brk))`, Linux's `[heap]` VMA, which exists once the
//!   break has moved. `brk(2)` semantics as in `mm/mmap.c`: a break below `start_brk` fails;
//!   growing fails with `ENOMEM` if `[old end, new end + one guard page)` meets another
//!   mapping, leaves the address space or breaks `RLIMIT_DATA` (heap plus data); shrinking
//!   unmaps the whole pages above the new break. glibc's `sbrk(incr)` returns the old break
//!   (`sbrk(0)` reports it) or fails with `ENOMEM`.
//! - **mmap region**: anonymous mappings placed top-down from `mmap_base` (Linux's default
//!   layout): `mmap_base = PAGE_ALIGN(task_size - gap)`, the gap being `RLIMIT_STACK` plus the
//!   1 MiB stack guard gap, clamped to at least 128 MiB and at most 5/6 of the space
//!   (`mmap_base()` in `mm/util.c`, without randomization). New mappings take the highest
//!   gap that fits, above the heap's end plus a guard page (the simulation keeps mappings
//!   out of the heap's way, since the real heap cannot be told no).
//! - **stack**: `[task_size - stack, task_size)`, growing down on a fault below it as far as
//!   `RLIMIT_STACK`.
//! - `task_size`: 3 GiB for 32-bit x86 (the 3G/1G split; the kernel owns the top GiB),
//!   `0x7ffffffff000` for x86-64 (the lower half of the 48-bit space, less a page).

use super::paging::Mode;
use super::{page_ceil, page_floor, VmError, PAGE_SIZE};
use alloc::vec::Vec;

/// Access rights of a mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Prot {
    pub read: bool,
    pub write: bool,
    pub exec: bool,
}

impl Prot {
    pub const RX: Prot = Prot {
        read: true,
        write: false,
        exec: true,
    };
    pub const RW: Prot = Prot {
        read: true,
        write: true,
        exec: false,
    };
}

/// What a mapping is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VmaKind {
    Code,
    Data,
    Bss,
    Heap,
    Mmap,
    Stack,
}

impl VmaKind {
    pub const fn name(self) -> &'static str {
        match self {
            VmaKind::Code => "code",
            VmaKind::Data => "data",
            VmaKind::Bss => "bss",
            VmaKind::Heap => "heap",
            VmaKind::Mmap => "mmap",
            VmaKind::Stack => "stack",
        }
    }
}

/// A virtual memory area: `[start, end)`, page aligned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Vma {
    pub start: u64,
    pub end: u64,
    pub kind: VmaKind,
    pub prot: Prot,
}

impl Vma {
    pub fn len(&self) -> u64 {
        self.end - self.start
    }
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
    pub fn contains(&self, addr: u64) -> bool {
        self.start <= addr && addr < self.end
    }
}

/// The address-space knobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayoutConfig {
    /// Bytes of code, data and bss (each rounded up to pages; 0 for none).
    pub code: u64,
    pub data: u64,
    pub bss: u64,
    /// The stack's initial size (rounded up to pages, at least one page).
    pub stack: u64,
    /// `RLIMIT_STACK`: how far the stack may grow (8 MiB by default).
    pub stack_limit: u64,
    /// `RLIMIT_DATA`: the most heap plus data (`None`: unlimited, the default).
    pub data_limit: Option<u64>,
    /// The top of user space (`None`: the mode's default).
    pub task_size: Option<u64>,
}

impl Default for LayoutConfig {
    fn default() -> Self {
        LayoutConfig {
            code: 32 << 10,
            data: 8 << 10,
            bss: 8 << 10,
            stack: 132 << 10,
            stack_limit: 8 << 20,
            data_limit: None,
            task_size: None,
        }
    }
}

/// What a move of the break did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BrkChange {
    pub old: u64,
    pub new: u64,
    /// Whole pages `[from, to)` that left the heap (to be unmapped), on a shrink.
    pub unmapped: Option<(u64, u64)>,
}

/// What `mremap` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Remap {
    pub old_start: u64,
    pub new_start: u64,
    /// Whole pages `[from, to)` that left the mapping, on a shrink.
    pub unmapped: Option<(u64, u64)>,
}

/// The address space (`mm_struct`).
#[derive(Clone, Debug)]
pub struct Mm {
    mode: Mode,
    task_size: u64,
    start_code: u64,
    end_code: u64,
    start_data: u64,
    end_data: u64,
    end_bss: u64,
    start_brk: u64,
    brk: u64,
    mmap_base: u64,
    stack_limit: u64,
    data_limit: Option<u64>,
    /// Every mapping, sorted by address, none empty, none overlapping.
    vmas: Vec<Vma>,
}

/// The x86-64 user space top: `(1 << 47) - PAGE_SIZE`.
pub const TASK_SIZE_64: u64 = (1 << 47) - PAGE_SIZE;
/// The 32-bit x86 user space top: 3 GiB.
pub const TASK_SIZE_32: u64 = 0xC000_0000;

fn pages(bytes: u64) -> Result<u64, VmError> {
    page_ceil(bytes).ok_or(VmError::BadKnob("a segment size is too large"))
}

impl Mm {
    /// An address space around a heap that starts at `start_brk` (the real heap's start).
    pub fn new(mode: Mode, c: &LayoutConfig, start_brk: u64) -> Result<Mm, VmError> {
        mode.check(start_brk)?;
        if start_brk % PAGE_SIZE != 0 {
            return Err(VmError::BadKnob(
                "the heap's start must be page aligned (4 KiB)",
            ));
        }
        let max = match mode {
            Mode::X86 => 1 << 32,
            Mode::X86_64 => TASK_SIZE_64,
        };
        let task_size = c.task_size.unwrap_or(match mode {
            Mode::X86 => TASK_SIZE_32,
            Mode::X86_64 => TASK_SIZE_64,
        });
        if task_size % PAGE_SIZE != 0 || task_size > max {
            return Err(VmError::BadKnob(
                "the top of user space must be page aligned and inside the mode's address space",
            ));
        }
        let (code, data, bss) = (pages(c.code)?, pages(c.data)?, pages(c.bss)?);
        let stack = pages(c.stack.max(1))?;
        if c.stack_limit < stack {
            return Err(VmError::BadKnob(
                "the stack limit is below the stack's size",
            ));
        }
        let below = code
            .checked_add(data)
            .and_then(|x| x.checked_add(bss))
            .ok_or(VmError::BadKnob("segments too large"))?;
        let start_code = start_brk
            .checked_sub(below)
            .filter(|&s| s >= PAGE_SIZE)
            .ok_or(VmError::BadKnob(
                "the code, data and bss segments do not fit between the null page and the heap",
            ))?;
        // mmap_base(): gap = RLIMIT_STACK + stack guard gap, clamped to [128 MiB, 5/6 of the space].
        let gap = c
            .stack_limit
            .saturating_add(1 << 20)
            .clamp(128 << 20, (task_size / 6) * 5);
        let mmap_base = page_floor(task_size - gap.min(task_size));
        let stack_start = task_size.checked_sub(stack).ok_or(VmError::BadKnob(
            "the stack is larger than the address space",
        ))?;
        if start_brk.saturating_add(PAGE_SIZE) > mmap_base || mmap_base > stack_start {
            return Err(VmError::BadKnob(
                "the heap must start below the mmap region, which must lie below the stack",
            ));
        }
        let mut vmas = Vec::new();
        let mut at = start_code;
        for (len, kind, prot) in [
            (code, VmaKind::Code, Prot::RX),
            (data, VmaKind::Data, Prot::RW),
            (bss, VmaKind::Bss, Prot::RW),
        ] {
            if len > 0 {
                vmas.push(Vma {
                    start: at,
                    end: at + len,
                    kind,
                    prot,
                });
            }
            at += len;
        }
        vmas.push(Vma {
            start: stack_start,
            end: task_size,
            kind: VmaKind::Stack,
            prot: Prot::RW,
        });
        Ok(Mm {
            mode,
            task_size,
            start_code,
            end_code: start_code + code,
            start_data: start_code + code,
            end_data: start_code + code + data,
            end_bss: start_brk,
            start_brk,
            brk: start_brk,
            mmap_base,
            stack_limit: c.stack_limit,
            data_limit: c.data_limit,
            vmas,
        })
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }
    pub fn task_size(&self) -> u64 {
        self.task_size
    }
    pub fn start_code(&self) -> u64 {
        self.start_code
    }
    pub fn end_code(&self) -> u64 {
        self.end_code
    }
    pub fn start_data(&self) -> u64 {
        self.start_data
    }
    pub fn end_data(&self) -> u64 {
        self.end_data
    }
    pub fn end_bss(&self) -> u64 {
        self.end_bss
    }
    pub fn start_brk(&self) -> u64 {
        self.start_brk
    }
    pub fn brk(&self) -> u64 {
        self.brk
    }
    pub fn mmap_base(&self) -> u64 {
        self.mmap_base
    }
    /// The lowest address of the stack VMA (`start_stack` is its top here).
    pub fn stack_start(&self) -> u64 {
        self.vmas
            .iter()
            .find(|v| v.kind == VmaKind::Stack)
            .map(|v| v.start)
            .unwrap_or(self.task_size)
    }
    /// Every mapping in address order.
    pub fn vmas(&self) -> &[Vma] {
        &self.vmas
    }
    /// The heap VMA, once the break has moved past `start_brk`'s page.
    pub fn heap(&self) -> Option<&Vma> {
        self.vmas.iter().find(|v| v.kind == VmaKind::Heap)
    }
    /// The mapping that holds `addr`.
    pub fn find(&self, addr: u64) -> Option<&Vma> {
        let i = self.vmas.partition_point(|v| v.end <= addr);
        self.vmas.get(i).filter(|v| v.contains(addr))
    }
    /// Total size of every mapping (`VmSize`).
    pub fn virtual_size(&self) -> u64 {
        self.vmas.iter().map(|v| v.len()).sum()
    }

    /// True if any mapping other than those of kind `except` meets `[start, end)`.
    fn collides(&self, start: u64, end: u64, except: Option<(u64, VmaKind)>) -> bool {
        self.vmas
            .iter()
            .any(|v| v.start < end && start < v.end && except != Some((v.start, v.kind)))
    }

    fn insert(&mut self, v: Vma) {
        let i = self.vmas.partition_point(|x| x.start < v.start);
        self.vmas.insert(i, v);
    }

    /// `brk(new)`: moves the break. On failure (`ENOMEM`) nothing changed.
    pub fn set_brk(&mut self, new: u64) -> Result<BrkChange, VmError> {
        if new < self.start_brk {
            return Err(VmError::NoMemory(
                "brk: the break cannot go below the heap's start",
            ));
        }
        let old = self.brk;
        let old_end = page_ceil(old).ok_or(VmError::NoMemory("brk: beyond the address space"))?;
        let new_end = page_ceil(new).ok_or(VmError::NoMemory("brk: beyond the address space"))?;
        if let Some(limit) = self.data_limit {
            let used = (new - self.start_brk).saturating_add(self.end_data - self.start_data);
            if used > limit {
                return Err(VmError::NoMemory("brk: the heap would exceed RLIMIT_DATA"));
            }
        }
        let mut change = BrkChange {
            old,
            new,
            unmapped: None,
        };
        if new_end > old_end {
            let guard = new_end
                .checked_add(PAGE_SIZE)
                .ok_or(VmError::NoMemory("brk: beyond the address space"))?;
            if new_end > self.task_size
                || self.collides(old_end, guard, Some((self.start_brk, VmaKind::Heap)))
            {
                return Err(VmError::NoMemory(
                    "brk: the heap would run into another mapping",
                ));
            }
        } else if new_end < old_end {
            change.unmapped = Some((new_end, old_end));
        }
        self.brk = new;
        self.vmas.retain(|v| v.kind != VmaKind::Heap);
        if new_end > self.start_brk {
            self.insert(Vma {
                start: self.start_brk,
                end: new_end,
                kind: VmaKind::Heap,
                prot: Prot::RW,
            });
        }
        Ok(change)
    }

    /// `sbrk(incr)`: moves the break by `incr` bytes and returns the old break (`sbrk(0)`
    /// reports it). Fails with `ENOMEM` as [`Self::set_brk`] does, or when `brk + incr`
    /// overflows.
    pub fn sbrk(&mut self, incr: i64) -> Result<(u64, BrkChange), VmError> {
        let old = self.brk;
        let new = old.checked_add_signed(incr).ok_or(VmError::NoMemory(
            "sbrk: the break would leave the address space",
        ))?;
        let change = self.set_brk(new)?;
        Ok((old, change))
    }

    /// The highest free range of `len` bytes in the mmap region, below `below`.
    fn find_area(&self, len: u64, below: u64) -> Option<u64> {
        let low = page_ceil(self.brk)?.checked_add(PAGE_SIZE)?;
        let fits = |lo: u64, hi: u64| hi > lo && hi - lo >= len;
        let mut high = below;
        for v in self.vmas.iter().rev() {
            if v.start >= high {
                continue;
            }
            if fits(v.end.max(low), high) {
                return Some(high - len);
            }
            high = v.start;
        }
        if fits(low, high) {
            Some(high - len)
        } else {
            None
        }
    }

    /// An anonymous read-write mapping of `len` bytes (rounded up to pages), placed top-down
    /// from `mmap_base`; returns its start.
    pub fn mmap(&mut self, len: u64) -> Result<u64, VmError> {
        if len == 0 {
            return Err(VmError::Invalid("mmap: the length is zero"));
        }
        let len = page_ceil(len).ok_or(VmError::NoMemory("mmap: the length is too large"))?;
        let start = self
            .find_area(len, self.mmap_base)
            .ok_or(VmError::NoMemory("mmap: no room left in the mmap region"))?;
        self.insert(Vma {
            start,
            end: start + len,
            kind: VmaKind::Mmap,
            prot: Prot::RW,
        });
        Ok(start)
    }

    /// `munmap(addr, len)` over the mmap region: removes `[addr, PAGE_ALIGN(addr + len))` from
    /// every mapping there (splitting where needed) and returns the ranges removed. Ranges
    /// that hold no mapping are fine, as in Linux; other kinds of mapping are refused.
    pub fn munmap(&mut self, addr: u64, len: u64) -> Result<Vec<(u64, u64)>, VmError> {
        if addr % PAGE_SIZE != 0 {
            return Err(VmError::Invalid("munmap: the address is not page aligned"));
        }
        if len == 0 {
            return Err(VmError::Invalid("munmap: the length is zero"));
        }
        let end = addr
            .checked_add(len)
            .and_then(page_ceil)
            .filter(|&e| e <= self.task_size)
            .ok_or(VmError::Invalid(
                "munmap: the range leaves the address space",
            ))?;
        if self
            .vmas
            .iter()
            .any(|v| v.kind != VmaKind::Mmap && v.start < end && addr < v.end)
        {
            return Err(VmError::Invalid(
                "munmap: only mappings in the mmap region can be unmapped here",
            ));
        }
        let mut removed = Vec::new();
        let mut kept = Vec::with_capacity(self.vmas.len() + 1);
        for v in self.vmas.drain(..) {
            if v.end <= addr || end <= v.start {
                kept.push(v);
                continue;
            }
            removed.push((v.start.max(addr), v.end.min(end)));
            if v.start < addr {
                kept.push(Vma { end: addr, ..v });
            }
            if end < v.end {
                kept.push(Vma { start: end, ..v });
            }
        }
        self.vmas = kept;
        Ok(removed)
    }

    /// `mremap(old, old_len, new_len, MREMAP_MAYMOVE)` of a whole mmap-region mapping: shrinks
    /// in place, grows in place if the pages above are free, or moves the mapping to a new
    /// place (the caller moves its pages).
    pub fn mremap(&mut self, old: u64, old_len: u64, new_len: u64) -> Result<Remap, VmError> {
        let old_len =
            page_ceil(old_len).ok_or(VmError::Invalid("mremap: the old length is too large"))?;
        let new_len =
            page_ceil(new_len).ok_or(VmError::NoMemory("mremap: the new length is too large"))?;
        if new_len == 0 || old_len == 0 {
            return Err(VmError::Invalid("mremap: a length is zero"));
        }
        let i = self
            .vmas
            .iter()
            .position(|v| v.kind == VmaKind::Mmap && v.start == old && v.len() == old_len)
            .ok_or(VmError::Invalid(
                "mremap: no mapping of that size starts there",
            ))?;
        let v = self.vmas[i];
        let mut r = Remap {
            old_start: old,
            new_start: old,
            unmapped: None,
        };
        if new_len < old_len {
            self.vmas[i].end = old + new_len;
            r.unmapped = Some((old + new_len, v.end));
            return Ok(r);
        }
        if new_len == old_len {
            return Ok(r);
        }
        let new_end = old
            .checked_add(new_len)
            .ok_or(VmError::NoMemory("mremap: beyond the address space"))?;
        if new_end <= self.mmap_base && !self.collides(v.end, new_end, None) {
            self.vmas[i].end = new_end;
            return Ok(r);
        }
        // Move: to room found while the old mapping still stands (so the two never overlap
        // and the pages can be moved one by one), as Linux's `get_unmapped_area` does.
        let start = self
            .find_area(new_len, self.mmap_base)
            .ok_or(VmError::NoMemory("mremap: no room left in the mmap region"))?;
        self.vmas.remove(i);
        self.insert(Vma {
            start,
            end: start + new_len,
            kind: VmaKind::Mmap,
            prot: Prot::RW,
        });
        r.new_start = start;
        Ok(r)
    }

    /// A fault at `addr` just below the stack: grows the stack down to it if `RLIMIT_STACK`
    /// and the mappings below allow (Linux's `expand_stack`). True if it grew.
    pub fn grow_stack(&mut self, addr: u64) -> bool {
        let Some(i) = self.vmas.iter().position(|v| v.kind == VmaKind::Stack) else {
            return false;
        };
        let v = self.vmas[i];
        let new_start = page_floor(addr);
        if addr >= v.start || self.task_size - new_start > self.stack_limit {
            return false;
        }
        let floor = new_start.saturating_sub(1 << 20); // the stack guard gap
        if self.collides(floor, v.start, None) || new_start < self.mmap_base {
            return false;
        }
        self.vmas[i].start = new_start;
        true
    }
}
