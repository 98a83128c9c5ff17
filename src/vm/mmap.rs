//! glibc's mmap threshold: which requests `malloc` would serve with their own `mmap`.
//!
//! glibc's `malloc` (ptmalloc2, `malloc/malloc.c`) takes a request whose chunk size `nb` is at
//! or above `mp_.mmap_threshold` (128 KiB by default, `M_MMAP_THRESHOLD`) from a private
//! anonymous mapping instead of the heap, when no free chunk can serve it. `free` of such a
//! chunk unmaps it at once; and, the threshold being *dynamic*, if that chunk was larger than
//! the threshold (and at most `DEFAULT_MMAP_THRESHOLD_MAX`: 512 KiB on 32-bit, 32 MiB on
//! 64-bit), the threshold rises to the chunk's size and the trim threshold to twice that, so
//! that a program that keeps allocating and freeing such blocks stops paying for `mmap`.
//! Setting the threshold by hand (`mallopt`) turns the dynamic adjustment off. This module
//! holds that state and the geometry of an mmapped chunk:
//!
//! - `nb = request2size(n)`: `n + SIZE_SZ` rounded up to `MALLOC_ALIGNMENT` (16), at least
//!   `MINSIZE` (16 on i386, 32 on x86-64); `SIZE_SZ` is 4 or 8.
//! - the mapping is `ALIGN_UP(nb + SIZE_SZ, 4096)` bytes on x86-64; on i386, where
//!   `MALLOC_ALIGNMENT` (16) is not the chunk header size (8), `ALIGN_UP(nb + 15, 4096)`, and
//!   the chunk starts 8 bytes in so that its payload is 16-aligned (`sysmalloc_mmap`).
//! - the chunk header (`prev_size`, `size | IS_MMAPPED`) sits just before the payload, which
//!   is 16 bytes into the mapping in both modes.
//!
//! The simulation decides by size alone (glibc would first try its free lists); see
//! [`super::driver`] for how the playground maps such blocks onto linear memory, which has
//! no `mmap`: the real block stays in the real heap, and the simulation draws and pages the
//! mapping glibc would have made.

use super::paging::Mode;
use super::{page_ceil, VmError};

/// The threshold knobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MmapConfig {
    /// `M_MMAP_THRESHOLD` in bytes (128 KiB by default).
    pub threshold: u64,
    /// Whether `free` raises it (glibc's default; `mallopt` turns it off).
    pub dynamic: bool,
}

impl Default for MmapConfig {
    fn default() -> Self {
        MmapConfig {
            threshold: 128 << 10,
            dynamic: true,
        }
    }
}

/// glibc's threshold state (`mp_.mmap_threshold`, `mp_.trim_threshold`, `no_dyn_threshold`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MmapThreshold {
    threshold: u64,
    trim_threshold: u64,
    dynamic: bool,
    max: u64,
    size_sz: u64,
    min_size: u64,
}

/// `MALLOC_ALIGNMENT` on i386 (since glibc 2.26) and x86-64.
pub const MALLOC_ALIGNMENT: u64 = 16;

impl MmapThreshold {
    pub fn new(mode: Mode, c: &MmapConfig) -> Result<MmapThreshold, VmError> {
        let (size_sz, min_size, max) = match mode {
            Mode::X86 => (4, 16, 512 << 10),
            Mode::X86_64 => (8, 32, 32 << 20),
        };
        if c.threshold > max {
            return Err(VmError::BadKnob(match mode {
                Mode::X86 => "the mmap threshold is at most 512 KiB on 32-bit (glibc's DEFAULT_MMAP_THRESHOLD_MAX)",
                Mode::X86_64 => "the mmap threshold is at most 32 MiB on 64-bit (glibc's DEFAULT_MMAP_THRESHOLD_MAX)",
            }));
        }
        Ok(MmapThreshold {
            threshold: c.threshold,
            trim_threshold: 128 << 10,
            dynamic: c.dynamic,
            max,
            size_sz,
            min_size,
        })
    }

    /// The current threshold.
    pub fn threshold(&self) -> u64 {
        self.threshold
    }
    /// The trim threshold glibc keeps beside it (`M_TRIM_THRESHOLD`, 128 KiB until the
    /// dynamic threshold moves it; shown, not acted on: the engine never trims its heap).
    pub fn trim_threshold(&self) -> u64 {
        self.trim_threshold
    }
    pub fn is_dynamic(&self) -> bool {
        self.dynamic
    }
    /// `DEFAULT_MMAP_THRESHOLD_MAX`.
    pub fn max(&self) -> u64 {
        self.max
    }
    /// `SIZE_SZ`: 4 on i386, 8 on x86-64.
    pub fn size_sz(&self) -> u64 {
        self.size_sz
    }

    /// `request2size(n)`: the chunk size glibc needs for `n` bytes (`None` if absurd).
    pub fn chunk_size(&self, request: u64) -> Option<u64> {
        let n = request.checked_add(self.size_sz + MALLOC_ALIGNMENT - 1)? & !(MALLOC_ALIGNMENT - 1);
        Some(n.max(self.min_size))
    }

    /// Whether glibc would `mmap` a request of `request` bytes.
    pub fn wants_mmap(&self, request: u64) -> bool {
        self.chunk_size(request)
            .is_some_and(|nb| nb >= self.threshold)
    }

    /// Bytes of the mapping for `request` (`None` if absurd).
    pub fn mapping_len(&self, request: u64) -> Option<u64> {
        let nb = self.chunk_size(request)?;
        let extra = if self.size_sz * 2 == MALLOC_ALIGNMENT {
            self.size_sz
        } else {
            MALLOC_ALIGNMENT - 1
        };
        page_ceil(nb.checked_add(extra)?)
    }

    /// Where the chunk starts in its mapping: 8 on i386 (the front correction), 0 on x86-64.
    pub fn chunk_offset(&self) -> u64 {
        if self.size_sz * 2 == MALLOC_ALIGNMENT {
            0
        } else {
            MALLOC_ALIGNMENT - self.size_sz * 2
        }
    }

    /// Where the payload starts in its mapping: 16 in both modes.
    pub fn payload_offset(&self) -> u64 {
        self.chunk_offset() + 2 * self.size_sz
    }

    /// `mallopt(M_MMAP_THRESHOLD, value)`: sets the threshold and turns the dynamic
    /// adjustment off; refused above the maximum.
    pub fn set(&mut self, value: u64) -> Result<(), VmError> {
        if value > self.max {
            return Err(VmError::BadKnob(
                "the mmap threshold is above glibc's maximum",
            ));
        }
        self.threshold = value;
        self.dynamic = false;
        Ok(())
    }

    /// `free` of an mmapped chunk of `chunk_size` bytes (its mapping less the front
    /// correction): raises the threshold as glibc does. Returns the new threshold if it
    /// changed.
    pub fn on_free(&mut self, chunk_size: u64) -> Option<u64> {
        // glibc compares chunksize_nomask (IS_MMAPPED set, so size + 2) with the threshold.
        let nomask = chunk_size.saturating_add(2);
        if self.dynamic && nomask > self.threshold && nomask <= self.max {
            let old = self.threshold;
            self.threshold = chunk_size;
            self.trim_threshold = chunk_size.saturating_mul(2);
            if old != chunk_size {
                return Some(chunk_size);
            }
        }
        None
    }
}
