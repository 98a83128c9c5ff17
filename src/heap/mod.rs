//! The heap: a memory source, a policy and an observer, behind a malloc-style API that
//! speaks in addresses, validates every pointer it is given and reports every failure as a
//! [`HeapError`] after which the heap is unchanged.

mod mem;

pub use mem::{Grown, Mem, MAX_HEAP};

use crate::event::{Event, NoObserver, Observer};
use crate::policy::block::MAX_ALIGN;
use crate::policy::{AnyPolicy, Config, Layout, Policy};
use crate::source::Source;
use crate::HeapError;

/// One block as the walk sees it (offsets).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockInfo {
    /// Offset of the block's first byte (its header).
    pub block: u32,
    /// Whole block, header included.
    pub size: u32,
    /// Header bytes before the payload.
    pub header: u32,
    pub used: bool,
}

/// Figures computed by a walk over the blocks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Break minus heap start.
    pub heap_bytes: u32,
    pub used_blocks: u32,
    /// Bytes in used blocks, headers and padding included.
    pub used_bytes: u32,
    pub free_blocks: u32,
    pub free_bytes: u32,
    pub largest_free: u32,
    /// Blocks freed into quick lists (not counted as used): still marked used, they serve
    /// the next requests of their size and merge with nothing until the lists are emptied.
    pub quick_blocks: u32,
    pub quick_bytes: u32,
}

impl Stats {
    /// External fragmentation: the share of free memory that is not in the largest block.
    pub fn external_fragmentation(&self) -> f64 {
        if self.free_bytes == 0 {
            0.0
        } else {
            1.0 - self.largest_free as f64 / self.free_bytes as f64
        }
    }
}

/// A heap over source `S` with policy `P`, telling observer `O` what it does.
pub struct Heap<S: Source, P: Policy = AnyPolicy, O: Observer = NoObserver> {
    mem: Mem<S>,
    policy: P,
    obs: O,
}

impl<S: Source> Heap<S> {
    /// A heap with the policy and knobs of `config`. `config.base` is applied by the source
    /// (see [`crate::source::Arena::with_base`]); here it is ignored.
    pub fn new(src: S, config: &Config) -> Result<Self, HeapError> {
        Heap::with_policy(src, AnyPolicy::new(config)?, NoObserver, config.heap_size)
    }
}

impl<S: Source, O: Observer> Heap<S, AnyPolicy, O> {
    /// A heap with the policy and knobs of `config`, reporting to `obs`.
    pub fn observed(src: S, config: &Config, obs: O) -> Result<Self, HeapError> {
        Heap::with_policy(src, AnyPolicy::new(config)?, obs, config.heap_size)
    }
}

impl<S: Source, P: Policy, O: Observer> Heap<S, P, O> {
    /// A heap with a given policy. `heap_size`: grow the heap to this size now and never
    /// again (OSTEP's `-S`).
    pub fn with_policy(
        src: S,
        mut policy: P,
        obs: O,
        heap_size: Option<u32>,
    ) -> Result<Self, HeapError> {
        let mut mem = Mem::new(src);
        if mem
            .report_base()
            .checked_add(mem::MAX_HEAP as usize)
            .is_none()
        {
            return Err(HeapError::BadConfig(
                "the base address leaves no room for the heap below the top of the address space",
            ));
        }
        if let Some(size) = heap_size {
            if size == 0 || size > mem::MAX_HEAP {
                return Err(HeapError::BadConfig(
                    "the heap size must be between 1 byte and 1 GiB",
                ));
            }
            mem.grow(size)?;
            mem.set_fixed(size);
        }
        policy.init(&mut mem);
        Ok(Heap { mem, policy, obs })
    }

    // ---- addresses ----

    /// The address reports give an offset.
    #[inline]
    pub fn addr(&self, off: u32) -> usize {
        self.mem.report_base().wrapping_add(off as usize)
    }
    /// The offset of a reported address, if it can be inside the heap at all.
    #[inline]
    fn offset(&self, addr: usize) -> Option<u32> {
        let off = addr.checked_sub(self.mem.report_base())?;
        u32::try_from(off).ok()
    }
    /// Where the heap starts.
    pub fn start(&self) -> usize {
        self.addr(self.mem.start())
    }
    /// The break.
    pub fn brk(&self) -> usize {
        self.addr(self.mem.brk())
    }
    /// End of the memory committed under the heap (`memory.size` on wasm32).
    pub fn committed_end(&self) -> usize {
        self.addr(self.mem.committed())
    }

    pub fn mem(&self) -> &Mem<S> {
        &self.mem
    }
    /// The memory source, for settings of its own.
    ///
    /// # Safety
    /// The caller must not move the break or touch the heap's memory through it.
    pub unsafe fn source_mut(&mut self) -> &mut S {
        // SAFETY: passed on to the caller.
        unsafe { self.mem.source_mut() }
    }
    pub fn policy(&self) -> &P {
        &self.policy
    }
    pub fn layout(&self) -> Layout {
        self.policy.layout()
    }
    pub fn observer(&self) -> &O {
        &self.obs
    }
    pub fn observer_mut(&mut self) -> &mut O {
        &mut self.obs
    }

    /// Out-of-memory errors name the size the caller asked for, not the block size.
    fn fail_for<T>(&mut self, e: HeapError, size: usize) -> Result<T, HeapError> {
        match e {
            HeapError::OutOfMemory { .. } => self.fail(HeapError::OutOfMemory { requested: size }),
            e => self.fail(e),
        }
    }

    fn fail<T>(&mut self, e: HeapError) -> Result<T, HeapError> {
        self.obs.event(Event::Error(e));
        Err(e)
    }

    // ---- the C API ----

    /// `malloc(size)`: a payload of at least `size` bytes (`size` 0 gets the smallest block).
    pub fn malloc(&mut self, size: usize) -> Result<usize, HeapError> {
        self.memalign(1, size)
    }

    /// `memalign(align, size)` / `aligned_alloc`: `align` a power of two up to 64 KiB.
    pub fn memalign(&mut self, align: usize, size: usize) -> Result<usize, HeapError> {
        if !align.is_power_of_two() || align > MAX_ALIGN {
            return self.fail(HeapError::BadAlignment { align });
        }
        match self
            .policy
            .malloc(&mut self.mem, &mut self.obs, size, align as u32)
        {
            Ok(p) => Ok(self.addr(p)),
            Err(e) => self.fail_for(e, size),
        }
    }

    /// `memalign` for a `GlobalAlloc`: a pointer, null on failure, no error reporting.
    #[inline(always)]
    pub fn alloc_raw(&mut self, align: usize, size: usize) -> *mut u8 {
        if align > MAX_ALIGN {
            return core::ptr::null_mut();
        }
        match self
            .policy
            .malloc(&mut self.mem, &mut self.obs, size, align as u32)
        {
            Ok(p) => self.mem.ptr(p),
            Err(_) => core::ptr::null_mut(),
        }
    }

    /// [`Heap::alloc_raw`], zeroed: `size` zero bytes aligned to `align`, or null. Bytes that
    /// were past the break before the call are zero already when the source says so
    /// ([`Source::zeroed_past_break`]: memory from `memory.grow`), and are not written again,
    /// except the block's last word, where the engine may have left the footer of the free
    /// block it was cut from. (When growing had to skip a foreign region, every byte is
    /// zeroed: the engine marks blocks in the new bytes as it plans again.)
    pub fn alloc_zeroed_raw(&mut self, align: usize, size: usize) -> *mut u8 {
        let (before, skips) = (self.mem.brk(), self.mem.skips());
        let fresh = self.mem.source().zeroed_past_break();
        let p = self.alloc_raw(align, size);
        if p.is_null() {
            return p;
        }
        let po = (p as usize).wrapping_sub(self.mem.base_ptr() as usize) as u32;
        let end = po + size as u32;
        let clean = if fresh && self.mem.skips() == skips {
            before.max(po).min(end)
        } else {
            end
        };
        self.mem.bytes_mut(po, clean - po).fill(0);
        if clean < end {
            let h = self.policy.layout().header;
            let block_end = po - h + self.policy.usable_size(&self.mem, po - h) + h;
            let last = (block_end - 4).max(clean);
            if last < end {
                self.mem.bytes_mut(last, end - last).fill(0);
            }
        }
        p
    }

    /// `calloc(n, size)`: `n * size` zeroed bytes; the product is checked for overflow.
    pub fn calloc(&mut self, n: usize, size: usize) -> Result<usize, HeapError> {
        let Some(total) = n.checked_mul(size) else {
            return self.fail(HeapError::SizeOverflow);
        };
        let addr = self.malloc(total)?;
        let p = self.offset(addr).unwrap_or(0);
        self.mem.bytes_mut(p, total as u32).fill(0);
        Ok(addr)
    }

    /// The block of a payload address, or why it is not one.
    fn block_of(&self, addr: usize) -> Result<u32, HeapError> {
        let p = self.offset(addr).ok_or(HeapError::Foreign { addr })?;
        self.policy.validate(&self.mem, p, addr)
    }

    /// `free(addr)`; `free(0)` does nothing, as in C.
    pub fn free(&mut self, addr: usize) -> Result<(), HeapError> {
        if addr == 0 {
            return Ok(());
        }
        match self.block_of(addr) {
            Ok(b) => {
                self.policy.free(&mut self.mem, &mut self.obs, b);
                Ok(())
            }
            Err(e) => self.fail(e),
        }
    }

    /// `free(addr)` without validation, for callers that vouch for the pointer (a
    /// `GlobalAlloc` gets only pointers it handed out). Debug builds still validate.
    ///
    /// # Safety
    /// `addr` must be a live payload of this heap.
    #[inline]
    pub unsafe fn free_unchecked(&mut self, addr: usize) {
        let p = addr.wrapping_sub(self.mem.report_base()) as u32;
        debug_assert_eq!(
            self.block_of(addr),
            Ok(p - self.policy.layout().header),
            "free_unchecked({addr:#x})"
        );
        // SAFETY: passed on from the caller.
        let b = unsafe { self.policy.block_unchecked(&self.mem, p) };
        self.policy.free(&mut self.mem, &mut self.obs, b);
    }

    /// `realloc(addr, size)` without validating `addr` (see [`Heap::free_unchecked`]).
    ///
    /// # Safety
    /// `addr` must be a live payload of this heap.
    #[inline]
    pub unsafe fn realloc_unchecked(
        &mut self,
        addr: usize,
        size: usize,
    ) -> Result<usize, HeapError> {
        let p = addr.wrapping_sub(self.mem.report_base()) as u32;
        debug_assert!(self.block_of(addr).is_ok(), "realloc_unchecked({addr:#x})");
        // SAFETY: passed on from the caller.
        let b = unsafe { self.policy.block_unchecked(&self.mem, p) };
        self.policy
            .realloc(&mut self.mem, &mut self.obs, b, size)
            .map(|p| self.addr(p))
    }

    /// `realloc(addr, size)`: in place when the block can grow into a free neighbour or the
    /// top of the heap, otherwise moved with its bytes. `realloc(0, n)` is `malloc(n)`. On
    /// failure the old block is untouched.
    pub fn realloc(&mut self, addr: usize, size: usize) -> Result<usize, HeapError> {
        if addr == 0 {
            return self.malloc(size);
        }
        let b = match self.block_of(addr) {
            Ok(b) => b,
            Err(e) => return self.fail(e),
        };
        match self.policy.realloc(&mut self.mem, &mut self.obs, b, size) {
            Ok(p) => Ok(self.addr(p)),
            Err(e) => self.fail_for(e, size),
        }
    }

    /// The payload bytes a block can hold (at least what was asked for).
    pub fn usable_size(&self, addr: usize) -> Result<usize, HeapError> {
        let b = self.block_of(addr)?;
        Ok(self.policy.usable_size(&self.mem, b) as usize)
    }

    /// The payload of a live block, for reading.
    pub fn payload(&self, addr: usize) -> Result<&[u8], HeapError> {
        let n = self.usable_size(addr)? as u32;
        let p = self.offset(addr).unwrap_or(0);
        Ok(self.mem.bytes(p, n))
    }

    /// The payload of a live block, for writing.
    pub fn payload_mut(&mut self, addr: usize) -> Result<&mut [u8], HeapError> {
        let n = self.usable_size(addr)? as u32;
        let p = self.offset(addr).unwrap_or(0);
        Ok(self.mem.bytes_mut(p, n))
    }

    /// Raw heap bytes `[addr, addr + len)`, clipped to the heap (for hex views).
    pub fn bytes(&self, addr: usize, len: usize) -> &[u8] {
        match self.offset(addr) {
            Some(off) => self.mem.bytes(off, len.min(u32::MAX as usize) as u32),
            None => &[],
        }
    }

    // ---- looking at the heap ----

    /// Calls `f` for every block from the heap's start to the break.
    pub fn walk(&self, mut f: impl FnMut(BlockInfo)) {
        self.policy.walk(&self.mem, &mut f)
    }

    /// Calls `f(list, block)` for every free block in list order.
    pub fn free_lists(&self, mut f: impl FnMut(usize, u32)) {
        self.policy.free_lists(&self.mem, &mut f)
    }

    /// The blocks waiting in quick lists (freed, still marked used), as `(list, offset)`.
    pub fn quick_blocks(&self, mut f: impl FnMut(usize, u32)) {
        self.policy.quick_blocks(&self.mem, &mut f)
    }

    /// Walk figures.
    pub fn stats(&self) -> Stats {
        let mut s = Stats {
            heap_bytes: self.mem.brk() - self.mem.start(),
            ..Stats::default()
        };
        self.walk(|b| {
            if b.used {
                s.used_blocks += 1;
                s.used_bytes += b.size;
            } else {
                s.free_blocks += 1;
                s.free_bytes += b.size;
                s.largest_free = s.largest_free.max(b.size);
            }
        });
        self.quick_blocks(|_, b| {
            let size = self.mem.size_of(b);
            s.quick_blocks += 1;
            s.quick_bytes += size;
            s.used_blocks -= 1;
            s.used_bytes -= size;
        });
        s
    }

    /// The policy's own checks, which allocate nothing (so an allocator can check itself):
    /// the free lists are compared with the walk by count rather than as sets.
    pub fn check_in_place(&self) -> Result<(), HeapError> {
        self.policy.check(&self.mem).map_err(|e| self.corrupt(e))
    }

    fn corrupt(&self, (off, what): (u32, &'static str)) -> HeapError {
        HeapError::Corrupt {
            addr: if off == u32::MAX {
                self.start()
            } else {
                self.addr(off)
            },
            what,
        }
    }

    /// Verifies every invariant of the heap: blocks tile it from start to break, headers
    /// agree with footers and tags, free lists hold exactly the free blocks, in order, no two
    /// free blocks touch while coalescing, payloads are aligned.
    pub fn check(&self) -> Result<(), HeapError> {
        self.check_in_place()?;
        #[cfg(feature = "alloc")]
        {
            // The exact set comparison the policy's own count check stands in for.
            let mut walked = alloc::vec::Vec::new();
            self.walk(|b| {
                if !b.used {
                    walked.push(b.block)
                }
            });
            let mut listed = alloc::vec::Vec::with_capacity(walked.len());
            self.free_lists(|_, b| listed.push(b));
            listed.sort_unstable();
            if walked != listed {
                return Err(self.corrupt((
                    u32::MAX,
                    "the free lists do not hold exactly the free blocks",
                )));
            }
        }
        Ok(())
    }
}
