//! OSTEP's paging knobs: translation exercises as `paging-linear-translate.py` makes them.
//!
//! OSTEP's chapter 18 homework gives a linear page table (one entry per virtual page, its
//! top bit the valid bit, the rest the physical frame number) for an address space of a
//! given size, a page size, a physical memory size and a percentage of valid pages, and asks
//! for the translation of some virtual addresses. [`generate`] makes the same exercise from
//! the same knobs: it draws from CPython's generator seeded as the script seeds it
//! ([`super::Mt19937`]) in the same order (for each virtual page, valid with probability
//! `percent_valid`, then a random unused frame; then the addresses), so `-s SEED` gives the
//! very page table and addresses the script prints, and [`Exercise::render`] prints the page
//! table and trace lines in the script's format (with `-v`, and with `-c` for the answers).
//! The knobs are checked as the script checks them (physical memory larger than the address
//! space, both below 1 GiB, powers of two, whole pages), with bounds of our own so no knob can
//! make it run away (at most 2^20 virtual pages, 65,536 addresses).

use super::rng::Mt19937;
use super::VmError;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt::Write;

/// The script's knobs, with its defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OstepKnobs {
    /// `-a`: address-space size in bytes (16k).
    pub address_space: u64,
    /// `-p`: physical memory size in bytes (64k).
    pub phys_mem: u64,
    /// `-P`: page size in bytes (4k).
    pub page_size: u64,
    /// `-u`: percent of the address space that is valid (50).
    pub percent_valid: u32,
    /// `-n`: how many addresses to generate (5).
    pub count: usize,
    /// `-s`: the seed (0).
    pub seed: u64,
    /// `-A`: the addresses to translate instead of random ones.
    pub addresses: Option<Vec<u64>>,
}

impl Default for OstepKnobs {
    fn default() -> Self {
        OstepKnobs {
            address_space: 16 << 10,
            phys_mem: 64 << 10,
            page_size: 4 << 10,
            percent_valid: 50,
            count: 5,
            seed: 0,
            addresses: None,
        }
    }
}

/// One address of the trace and its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Translation {
    pub vaddr: u64,
    pub vpn: u64,
    /// The physical address, or `None` if the page is not valid (or beyond the space).
    pub paddr: Option<u64>,
}

/// A generated exercise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exercise {
    pub knobs: OstepKnobs,
    /// The frame of each virtual page, `None` where invalid.
    pub page_table: Vec<Option<u64>>,
    pub trace: Vec<Translation>,
}

fn log2_exact(x: u64) -> Option<u32> {
    x.is_power_of_two().then(|| x.trailing_zeros())
}

/// Makes the exercise `paging-linear-translate.py` makes with these knobs.
pub fn generate(k: &OstepKnobs) -> Result<Exercise, VmError> {
    let (asize, psize, pagesize) = (k.address_space, k.phys_mem, k.page_size);
    if psize <= 1 {
        return Err(VmError::BadKnob(
            "physical memory must be larger than 1 byte",
        ));
    }
    if asize < 1 {
        return Err(VmError::BadKnob("the address space must not be empty"));
    }
    if psize <= asize {
        return Err(VmError::BadKnob(
            "physical memory must be larger than the address space (for this exercise)",
        ));
    }
    if psize >= 1 << 30 || asize >= 1 << 30 {
        return Err(VmError::BadKnob(
            "sizes must be below 1 GiB for this exercise",
        ));
    }
    if pagesize == 0 || asize % pagesize != 0 {
        return Err(VmError::BadKnob(
            "the address space must be a multiple of the page size",
        ));
    }
    if psize % pagesize != 0 {
        return Err(VmError::BadKnob(
            "physical memory must be a multiple of the page size",
        ));
    }
    log2_exact(asize).ok_or(VmError::BadKnob("the address space must be a power of 2"))?;
    log2_exact(pagesize).ok_or(VmError::BadKnob("the page size must be a power of 2"))?;
    if k.percent_valid > 100 {
        return Err(VmError::BadKnob("the percent of valid pages is 0 to 100"));
    }
    let vpages = asize / pagesize;
    let pages = psize / pagesize;
    if vpages > 1 << 20 {
        return Err(VmError::BadKnob("at most 2^20 virtual pages"));
    }
    let n = k.addresses.as_ref().map(|a| a.len()).unwrap_or(k.count);
    if n > 1 << 16 {
        return Err(VmError::BadKnob("at most 65,536 addresses"));
    }
    let mut rng = Mt19937::new(k.seed);
    let mut used = vec![false; pages as usize];
    let mut pt = Vec::with_capacity(vpages as usize);
    let cut = 100.0 - k.percent_valid as f64;
    for _ in 0..vpages {
        // As the script does: draw "valid?"; if valid, draw a frame; if that frame is taken,
        // start over with both draws. Physical memory has more frames than the space has
        // pages, so a free frame is always left.
        loop {
            if rng.random() * 100.0 > cut {
                let u = rng.below(pages);
                if !used[u as usize] {
                    used[u as usize] = true;
                    pt.push(Some(u));
                    break;
                }
            } else {
                pt.push(None);
                break;
            }
        }
    }
    let addrs: Vec<u64> = match &k.addresses {
        Some(a) => a.clone(),
        None => (0..k.count).map(|_| rng.below(asize)).collect(),
    };
    let mut ex = Exercise {
        knobs: k.clone(),
        page_table: pt,
        trace: Vec::with_capacity(addrs.len()),
    };
    ex.trace = addrs.iter().map(|&v| ex.translate(v)).collect();
    Ok(ex)
}

impl Exercise {
    fn page_bits(&self) -> u32 {
        self.knobs.page_size.trailing_zeros()
    }

    /// The page-table entry as the script prints it: `0x80000000 | pfn`, or 0.
    pub fn entry(&self, vpn: u64) -> u32 {
        match self.page_table.get(vpn as usize) {
            Some(Some(pfn)) => 0x8000_0000 | *pfn as u32,
            _ => 0,
        }
    }

    /// Translates one address: VPN = the bits above the offset, PA = PFN | offset.
    pub fn translate(&self, vaddr: u64) -> Translation {
        let bits = self.page_bits();
        let vpn = vaddr >> bits;
        let offset = vaddr & ((1 << bits) - 1);
        let paddr = self
            .page_table
            .get(vpn as usize)
            .copied()
            .flatten()
            .map(|pfn| (pfn << bits) | offset);
        Translation { vaddr, vpn, paddr }
    }

    /// The page table and the address trace in the script's format; `verbose` is `-v` (VPN
    /// beside each entry), `solve` is `-c` (the answers).
    pub fn render(&self, verbose: bool, solve: bool) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "Page Table (from entry 0 down to the max size)");
        for vpn in 0..self.page_table.len() {
            if verbose {
                let _ = write!(s, "  [{vpn:8}]  ");
            } else {
                s.push_str("  ");
            }
            let _ = writeln!(s, "0x{:08x}", self.entry(vpn as u64));
        }
        s.push('\n');
        let _ = writeln!(s, "Virtual Address Trace");
        for t in &self.trace {
            let v = t.vaddr;
            if !solve {
                let _ = writeln!(
                    s,
                    "  VA 0x{v:08x} (decimal: {v:8}) --> PA or invalid address?"
                );
            } else {
                match t.paddr {
                    None => {
                        let _ = writeln!(
                            s,
                            "  VA 0x{v:08x} (decimal: {v:8}) -->  Invalid (VPN {} not valid)",
                            t.vpn
                        );
                    }
                    Some(p) => {
                        let _ = writeln!(
                            s,
                            "  VA 0x{v:08x} (decimal: {v:8}) --> {p:08x} (decimal {p:8}) [VPN {}]",
                            t.vpn
                        );
                    }
                }
            }
        }
        s
    }
}
