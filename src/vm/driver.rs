//! The bridge between the real heap and the simulated process.
//!
//! A [`Driver`] owns a [`Process`] whose heap is the engine's heap, and is fed what the engine
//! does: its [`Event`]s (it is an [`Observer`], so a `Heap` can report to it directly, or the
//! playground can hand it recorded events one by one with [`Driver::apply`]) and the user's
//! own memory accesses ([`Driver::write`], [`Driver::read`] for `write(p, "text")`,
//! `memset(p, 0, n)` and the like). Out come [`Note`]s, one per page touched or mapping
//! changed, each of which narrates itself: "writing the header at 0x11008 touched page 0x11:
//! page fault (minor: first touch), frame 0x2a3".
//!
//! **The break is the engine's.** Every [`Event::Grow`] moves the simulated `brk` to the
//! engine's new break; [`Driver::follow_brk`] moves it anywhere, which is how a heap that
//! starts over (the playground's restart, a step back in time) lowers it, unmapping the pages
//! above. Addresses are the heap's reported addresses: on wasm32 the real linear-memory
//! addresses, which are the process's virtual addresses.
//!
//! **Which bytes the engine touches** is read off its events and the block format
//! ([`metadata_touches`]), as documented in `src/policy/block.rs` and `src/policy/buddy.rs`:
//! an allocated block's header is written; a freed block gets its header, its free-list links
//! (the first 8 payload bytes) and, with boundary tags, its footer (the last 4 bytes); a
//! split writes both headers and the free remainder's links and footer; a coalesce reads the
//! absorbed header and writes the merged header and footer; a moving realloc reads the old
//! payload and writes the new one. Writes of free-list neighbours' links are not visible in
//! events and are not counted.
//!
//! **mmap-threshold mode** ([`super::mmap`]): linear memory has no `mmap`, so the engine still
//! serves a large request from its heap (its real bytes stay there), and the simulation shows
//! the mapping glibc would have made: a VMA in the mmap region, whose pages fault in when the
//! block is touched (the user's accesses to the block are redirected there), and which `free`
//! unmaps at once, raising the threshold as glibc does. The heap's own pages under such a
//! block stay mapped but untouched (they count in virtual size, not in RSS).

use super::layout::VmaKind;
use super::process::{Fault, PageAccess, Process, ProcessConfig, TlbResult};
use super::VmError;
use crate::event::{Event, NoObserver, Observer};
use crate::policy::{Config, PolicyKind};
use crate::HeapError;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::fmt;

/// What the engine's blocks look like, to know which bytes an event touches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockFormat {
    /// Header bytes before each payload.
    pub header: u32,
    /// Whether free blocks carry a footer (boundary tags; not the buddy policy).
    pub footers: bool,
}

impl BlockFormat {
    /// The format of the heap a [`Config`] makes.
    pub fn of(c: &Config) -> BlockFormat {
        BlockFormat {
            header: c.header,
            footers: c.policy != PolicyKind::Buddy,
        }
    }
}

impl Default for BlockFormat {
    fn default() -> Self {
        BlockFormat::of(&Config::default())
    }
}

/// Why memory was touched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// The header of the block at `block`.
    Header { block: u64 },
    /// The footer of the free block at `block`.
    Footer { block: u64 },
    /// The free-list links of the free block at `block`.
    Links { block: u64 },
    /// realloc reading the old payload.
    CopyFrom { payload: u64 },
    /// realloc writing the new payload.
    CopyTo { payload: u64 },
    /// glibc's header of an mmapped chunk (`prev_size`, `size | IS_MMAPPED`).
    ChunkHeader { chunk: u64 },
    /// The user's own access (`write(p, ...)`, `memset`, a read) of `len` bytes at `addr`
    /// (the whole access: a note per page touched carries it).
    User { addr: u64, len: u64 },
}

/// One memory access: `len` bytes at `addr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Touch {
    pub addr: u64,
    pub len: u64,
    pub write: bool,
    pub cause: Cause,
}

/// A block that glibc would have mmapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// The real block and payload addresses (in the heap).
    pub block: u64,
    pub payload: u64,
    /// Payload bytes the engine's block holds.
    pub usable: u64,
    /// The bytes asked for.
    pub request: u64,
    /// The simulated mapping.
    pub map_start: u64,
    pub map_len: u64,
    /// Where the payload is in the simulated mapping.
    pub map_payload: u64,
}

/// Something the simulation did, in the order it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// A page was touched.
    Access {
        cause: Cause,
        write: bool,
        access: PageAccess,
    },
    /// The break moved; `unmapped` resident pages were freed (when it fell).
    Break { old: u64, new: u64, unmapped: u64 },
    /// A request went to its own mapping.
    Mmap { chunk: Chunk, threshold: u64 },
    /// An mmapped chunk was freed and unmapped; `raised`: the new threshold, if it rose.
    Munmap {
        chunk: Chunk,
        unmapped: u64,
        raised: Option<u64>,
    },
    /// An mmapped chunk was resized by `mremap`.
    Mremap {
        chunk: Chunk,
        old_start: u64,
        old_len: u64,
    },
    /// A simulated operation failed (the engine's own operation did not).
    Error {
        cause: Option<Cause>,
        error: VmError,
    },
    /// The engine needed `request` more bytes and its heap could not grow: glibc's
    /// `sbrk` would have failed with `ENOMEM`, returning `(void *) -1`; the break stays.
    SbrkFailed { request: u64, brk: u64 },
}

/// The most notes kept between two [`Driver::take_notes`]; later ones are counted, not kept.
pub const MAX_NOTES: usize = 1 << 16;

/// The accesses to the engine's metadata that an event implies (see the module docs), at
/// addresses `base + offset`. A moving realloc's copy is not here ([`Driver`] adds it: it
/// needs the old block's size).
pub fn metadata_touches(e: &Event, base: u64, f: &BlockFormat, out: &mut Vec<Touch>) {
    let h = f.header as u64;
    let at = |off: u32| base.wrapping_add(off as u64);
    let header = |b: u32, write: bool| Touch {
        addr: at(b),
        len: h,
        write,
        cause: Cause::Header { block: at(b) },
    };
    let footer = |b: u32, size: u32| Touch {
        addr: at(b).wrapping_add(size as u64).wrapping_sub(4),
        len: 4,
        write: true,
        cause: Cause::Footer { block: at(b) },
    };
    let links = |b: u32| Touch {
        addr: at(b).wrapping_add(h),
        len: 8,
        write: true,
        cause: Cause::Links { block: at(b) },
    };
    let fits = |size: u32| size as u64 >= h + 8;
    match *e {
        Event::Alloc { block, .. } => out.push(header(block, true)),
        Event::Free { block, size } => {
            out.push(header(block, true));
            if fits(size) {
                out.push(links(block));
            }
            if f.footers && size >= 4 {
                out.push(footer(block, size));
            }
        }
        Event::Split {
            block,
            rest,
            rest_size,
            ..
        } => {
            out.push(header(block, true));
            out.push(header(rest, true));
            if fits(rest_size) {
                out.push(links(rest));
            }
            if f.footers && rest_size >= 4 {
                out.push(footer(rest, rest_size));
            }
        }
        Event::Coalesce {
            block,
            absorbed,
            size,
        } => {
            out.push(header(absorbed, false));
            out.push(header(block, true));
            if f.footers && size >= 4 {
                out.push(footer(block, size));
            }
        }
        _ => {}
    }
}

/// The simulated process driven by the real heap; see the module docs.
#[derive(Clone, Debug)]
pub struct Driver<O: Observer = NoObserver> {
    proc: Process,
    /// The address of heap offset 0.
    base: u64,
    fmt: BlockFormat,
    inner: O,
    notes: Vec<Note>,
    dropped: u64,
    /// mmapped chunks by block offset.
    chunks: BTreeMap<u32, Chunk>,
    /// The last freed block and its size (a moving realloc's copy length).
    last_free: Option<(u32, u32)>,
    /// The last block whose chunk was unmapped (a moving realloc cannot read it any more).
    last_unmapped: Option<u32>,
    scratch: Vec<Touch>,
}

impl Driver<NoObserver> {
    /// A driver for a heap whose offset 0 is at `heap_start` and whose break is at `brk`.
    pub fn new(
        cfg: &ProcessConfig,
        heap_start: u64,
        brk: u64,
        fmt: BlockFormat,
    ) -> Result<Self, VmError> {
        Driver::with_observer(cfg, heap_start, brk, fmt, NoObserver)
    }
}

impl<O: Observer> Driver<O> {
    /// As [`Driver::new`], passing every event on to `inner` too (a `Recorder`, say).
    pub fn with_observer(
        cfg: &ProcessConfig,
        heap_start: u64,
        brk: u64,
        fmt: BlockFormat,
        inner: O,
    ) -> Result<Self, VmError> {
        let proc = Process::new(cfg, heap_start)?;
        let mut d = Driver {
            proc,
            base: heap_start,
            fmt,
            inner,
            notes: Vec::new(),
            dropped: 0,
            chunks: BTreeMap::new(),
            last_free: None,
            last_unmapped: None,
            scratch: Vec::new(),
        };
        d.follow_brk(brk)?;
        d.notes.clear();
        Ok(d)
    }

    pub fn process(&self) -> &Process {
        &self.proc
    }
    pub fn process_mut(&mut self) -> &mut Process {
        &mut self.proc
    }
    pub fn inner(&self) -> &O {
        &self.inner
    }
    pub fn inner_mut(&mut self) -> &mut O {
        &mut self.inner
    }
    pub fn format(&self) -> BlockFormat {
        self.fmt
    }
    /// The notes since the last [`Self::take_notes`].
    pub fn notes(&self) -> &[Note] {
        &self.notes
    }
    /// Takes the notes (and forgets how many were dropped).
    pub fn take_notes(&mut self) -> Vec<Note> {
        self.dropped = 0;
        core::mem::take(&mut self.notes)
    }
    /// Notes not kept since the last take, beyond [`MAX_NOTES`].
    pub fn dropped_notes(&self) -> u64 {
        self.dropped
    }
    /// The blocks glibc would have mmapped, by address.
    pub fn chunks(&self) -> impl Iterator<Item = &Chunk> {
        self.chunks.values()
    }

    fn note(&mut self, n: Note) {
        if self.notes.len() < MAX_NOTES {
            self.notes.push(n);
        } else {
            self.dropped += 1;
        }
    }

    /// Where a heap address lives in the simulated address space: inside an mmapped chunk's
    /// payload, in its mapping; anywhere else, where it is.
    pub fn sim_addr(&self, addr: u64) -> u64 {
        let Some(off) = addr
            .checked_sub(self.base)
            .and_then(|o| u32::try_from(o).ok())
        else {
            return addr;
        };
        match self.chunks.range(..=off).next_back() {
            Some((_, c)) if addr >= c.payload && addr - c.payload < c.usable => {
                c.map_payload + (addr - c.payload)
            }
            _ => addr,
        }
    }

    /// Moves the simulated break to the heap's real break `brk` (an address). A falling
    /// break unmaps the pages above it, and the mmapped chunks of blocks above it (a heap
    /// that starts over has no blocks left).
    pub fn follow_brk(&mut self, brk: u64) -> Result<(), VmError> {
        let old = self.proc.mm().brk();
        if brk == old {
            return Ok(());
        }
        if brk < old {
            let gone: Vec<u32> = self
                .chunks
                .iter()
                .filter(|(_, c)| c.block >= brk)
                .map(|(&b, _)| b)
                .collect();
            for b in gone {
                self.unmap_chunk(b);
            }
        }
        let before = self.proc.rss();
        self.proc.brk(brk)?;
        let unmapped = before.saturating_sub(self.proc.rss());
        self.note(Note::Break {
            old,
            new: brk,
            unmapped,
        });
        Ok(())
    }

    /// The user wrote `len` bytes at `addr` (`write(p, "text")`, `memset(p, 0, n)`).
    pub fn write(&mut self, addr: u64, len: u64) -> Result<u64, VmError> {
        let addr = self.sim_addr(addr);
        self.touch(Touch {
            addr,
            len,
            write: true,
            cause: Cause::User { addr, len },
        })
    }

    /// The user read `len` bytes at `addr`.
    pub fn read(&mut self, addr: u64, len: u64) -> Result<u64, VmError> {
        let addr = self.sim_addr(addr);
        self.touch(Touch {
            addr,
            len,
            write: false,
            cause: Cause::User { addr, len },
        })
    }

    /// Performs one access (addresses already simulated ones); a failure is also noted.
    pub fn touch(&mut self, t: Touch) -> Result<u64, VmError> {
        let notes = &mut self.notes;
        let dropped = &mut self.dropped;
        let r = self.proc.touch(t.addr, t.len, t.write, &mut |access| {
            if notes.len() < MAX_NOTES {
                notes.push(Note::Access {
                    cause: t.cause,
                    write: t.write,
                    access,
                });
            } else {
                *dropped += 1;
            }
        });
        if let Err(error) = r {
            self.note(Note::Error {
                cause: Some(t.cause),
                error,
            });
        }
        r
    }

    /// Applies one engine event. Never fails: what the simulation cannot do is noted as a
    /// [`Note::Error`] (the engine's operation itself succeeded).
    pub fn apply(&mut self, e: &Event) {
        match *e {
            Event::Grow { new_brk, .. } => {
                if let Err(error) = self.follow_brk(self.base.wrapping_add(new_brk as u64)) {
                    self.note(Note::Error { cause: None, error });
                }
                return;
            }
            Event::Alloc {
                block,
                size,
                request,
                ..
            } => {
                let big = self
                    .proc
                    .mmap_threshold()
                    .is_some_and(|t| t.wants_mmap(request as u64));
                if big
                    && !self.chunks.contains_key(&block)
                    && self.map_chunk(block, size, request as u64)
                {
                    return;
                }
            }
            Event::Free { block, size } => {
                self.last_free = Some((block, size));
                self.last_unmapped = None;
                if self.chunks.contains_key(&block) {
                    self.unmap_chunk(block);
                    self.last_unmapped = Some(block);
                    return;
                }
            }
            Event::Error(HeapError::OutOfMemory { requested }) => {
                self.note(Note::SbrkFailed {
                    request: requested as u64,
                    brk: self.proc.mm().brk(),
                });
                return;
            }
            Event::Realloc {
                old,
                new,
                size,
                in_place,
            } => {
                if in_place {
                    self.remap_chunk(old, size);
                } else {
                    self.realloc_copy(old, new, size);
                }
                return;
            }
            _ => {}
        }
        let mut ts = core::mem::take(&mut self.scratch);
        ts.clear();
        metadata_touches(e, self.base, &self.fmt, &mut ts);
        for &t in &ts {
            let _ = self.touch(t);
        }
        self.scratch = ts;
    }

    fn realloc_copy(&mut self, old: u32, new: u32, size: u32) {
        let h = self.fmt.header as u64;
        let old_size = match self.last_free {
            Some((b, s)) if b == old => s as u64,
            _ => size as u64,
        };
        let len = old_size.min(size as u64).saturating_sub(h);
        if len == 0 {
            return;
        }
        let from = self.base.wrapping_add(old as u64 + h);
        let to = self.base.wrapping_add(new as u64 + h);
        if self.last_unmapped != Some(old) {
            let _ = self.touch(Touch {
                addr: self.sim_addr(from),
                len,
                write: false,
                cause: Cause::CopyFrom { payload: from },
            });
        }
        let _ = self.touch(Touch {
            addr: self.sim_addr(to),
            len,
            write: true,
            cause: Cause::CopyTo { payload: to },
        });
    }

    /// A large request goes to its own mapping; false if the simulation could not map it
    /// (then it is treated as a heap block).
    fn map_chunk(&mut self, block: u32, size: u32, request: u64) -> bool {
        let Some(t) = self.proc.mmap_threshold().copied() else {
            return false;
        };
        let Some(len) = t.mapping_len(request) else {
            return false;
        };
        let start = match self.proc.mmap(len) {
            Ok(s) => s,
            Err(error) => {
                self.note(Note::Error { cause: None, error });
                return false;
            }
        };
        let block_addr = self.base.wrapping_add(block as u64);
        let c = Chunk {
            block: block_addr,
            payload: block_addr.wrapping_add(self.fmt.header as u64),
            usable: (size as u64).saturating_sub(self.fmt.header as u64),
            request,
            map_start: start,
            map_len: len,
            map_payload: start + t.payload_offset(),
        };
        self.chunks.insert(block, c);
        self.note(Note::Mmap {
            chunk: c,
            threshold: t.threshold(),
        });
        let hdr = start + t.chunk_offset();
        let _ = self.touch(Touch {
            addr: hdr,
            len: 2 * t.size_sz(),
            write: true,
            cause: Cause::ChunkHeader { chunk: hdr },
        });
        true
    }

    fn unmap_chunk(&mut self, block: u32) {
        let Some(c) = self.chunks.remove(&block) else {
            return;
        };
        let offset = self
            .proc
            .mmap_threshold()
            .map(|t| t.chunk_offset())
            .unwrap_or(0);
        match self.proc.munmap(c.map_start, c.map_len) {
            Ok(unmapped) => {
                let raised = self
                    .proc
                    .mmap_threshold_mut()
                    .and_then(|t| t.on_free(c.map_len - offset));
                self.note(Note::Munmap {
                    chunk: c,
                    unmapped,
                    raised,
                });
            }
            Err(error) => self.note(Note::Error { cause: None, error }),
        }
    }

    /// An in-place realloc of an mmapped chunk: glibc would `mremap` it to the new size.
    fn remap_chunk(&mut self, block: u32, size: u32) {
        let Some(mut c) = self.chunks.get(&block).copied() else {
            return;
        };
        let Some(t) = self.proc.mmap_threshold().copied() else {
            return;
        };
        let usable = (size as u64).saturating_sub(self.fmt.header as u64);
        let Some(len) = t.mapping_len(usable) else {
            return;
        };
        c.usable = usable;
        if len == c.map_len {
            self.chunks.insert(block, c);
            return;
        }
        let (old_start, old_len) = (c.map_start, c.map_len);
        match self.proc.mremap(old_start, old_len, len) {
            Ok(start) => {
                c.map_start = start;
                c.map_len = len;
                c.map_payload = start + t.payload_offset();
                self.chunks.insert(block, c);
                self.note(Note::Mremap {
                    chunk: c,
                    old_start,
                    old_len,
                });
            }
            Err(error) => {
                // The mapping may be gone (out of frames while moving): forget the chunk if so.
                if self.proc.mm().find(old_start).map(|v| v.kind) != Some(VmaKind::Mmap) {
                    self.chunks.remove(&block);
                }
                self.note(Note::Error { cause: None, error });
            }
        }
    }
}

impl<O: Observer> Observer for Driver<O> {
    fn event(&mut self, e: Event) {
        self.inner.event(e);
        self.apply(&e);
    }
}

impl fmt::Display for Cause {
    /// What was being done: "writing the header", "reading the old payload", ...
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Cause::Header { .. } => "the header",
            Cause::Footer { .. } => "the footer",
            Cause::Links { .. } => "the free-list links",
            Cause::CopyFrom { .. } => "the old payload",
            Cause::CopyTo { .. } => "the new payload",
            Cause::ChunkHeader { .. } => "the mmapped chunk's header",
            Cause::User { .. } => "",
        })
    }
}

fn verb(cause: Cause, write: bool) -> &'static str {
    match (cause, write) {
        (Cause::CopyTo { .. }, _) => "copying into",
        (_, true) => "writing",
        (_, false) => "reading",
    }
}

impl fmt::Display for Note {
    /// One line of narration.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::Access { cause, write, access: a } => {
                match cause {
                    Cause::User { addr, len } => {
                        let s = if *len == 1 { "" } else { "s" };
                        write!(f, "{} {len} byte{s} at {addr:#x}", verb(*cause, *write))?
                    }
                    c => write!(f, "{} {c} at {:#x}", verb(*cause, *write), a.addr)?,
                }
                write!(f, " touched page {:#x}: ", a.vpn)?;
                match a.fault {
                    Fault::Minor => write!(f, "page fault (minor: first touch), frame {:#x}", a.frame)?,
                    Fault::Major { slot } => {
                        write!(f, "page fault (major: read back from swap slot {slot}), frame {:#x}", a.frame)?
                    }
                    Fault::None => match a.tlb {
                        TlbResult::Hit => write!(f, "TLB hit, frame {:#x}", a.frame)?,
                        TlbResult::Miss => write!(f, "TLB miss, page walk, frame {:#x}", a.frame)?,
                        TlbResult::Off => write!(f, "resident in frame {:#x}", a.frame)?,
                    },
                }
                if a.new_tables > 0 {
                    let s = if a.new_tables == 1 { "" } else { "s" };
                    write!(f, " (+{} page table{s})", a.new_tables)?;
                }
                if a.stack_grew {
                    f.write_str(" (the stack grew down)")?;
                }
                for e in &a.evictions {
                    write!(f, "; evicted page {:#x} from frame {:#x} to swap slot {}", e.vpn, e.frame, e.slot)?;
                    if !e.written {
                        f.write_str(" (its copy there was current: no write)")?;
                    }
                }
                Ok(())
            }
            Note::Break { old, new, unmapped } => {
                write!(f, "the break moved from {old:#x} to {new:#x}")?;
                if *unmapped > 0 {
                    let s = if *unmapped == 1 { "" } else { "s" };
                    write!(f, ", unmapping {unmapped} resident page{s}")?;
                }
                Ok(())
            }
            Note::Mmap { chunk: c, threshold } => write!(
                f,
                "{} bytes is at or above the mmap threshold ({threshold} bytes): glibc would mmap {} bytes at {:#x} \
                 (payload at {:#x}); the real block stays at {:#x} in linear memory",
                c.request, c.map_len, c.map_start, c.map_payload, c.payload
            ),
            Note::Munmap { chunk: c, unmapped, raised } => {
                let s = if *unmapped == 1 { "" } else { "s" };
                write!(f, "free: glibc would munmap the {} bytes at {:#x}, freeing {unmapped} resident page{s}", c.map_len, c.map_start)?;
                if let Some(t) = raised {
                    write!(f, "; the mmap threshold rises to {t} bytes")?;
                }
                Ok(())
            }
            Note::Mremap { chunk: c, old_start, old_len } => write!(
                f,
                "realloc: glibc would mremap the {old_len} bytes at {old_start:#x} to {} bytes at {:#x}",
                c.map_len, c.map_start
            ),
            Note::SbrkFailed { request, brk } => write!(
                f,
                "a request of {request} bytes needed more heap and the heap could not grow: sbrk fails with ENOMEM and \
                 returns (void *) -1, the break stays at {brk:#x}, and malloc returns NULL"
            ),
            Note::Error { cause, error } => match cause {
                Some(Cause::User { .. }) | None => write!(f, "{error}"),
                Some(c) => write!(f, "touching {c} failed: {error}"),
            },
        }
    }
}
