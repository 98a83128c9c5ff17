//! The checks behind heaptale's fuzz targets, shared by the cargo-fuzz targets in `fuzz/`
//! (nightly, libFuzzer) and by `tests/fuzz_corpus.rs`, which replays every input kept in
//! `fuzz/corpus/` on stable as part of `make test`.
//!
//! Each `pub fn NAME(data: &[u8])` is one target: it decodes what to do from the bytes and
//! panics when heaptale misbehaves (a panic is what libFuzzer reports as a crash). Nothing
//! here may panic on a *refusal*: refusing bad input with an error is heaptale's job.
//!
//! | target | what the bytes decode to | what must hold |
//! |---|---|---|
//! | `heap_ops` | a [`Config`] (every policy and knob, a fixed or growing heap, a capped arena) and a list of calls, bad ones included | the shadow model below |
//! | `quick_ops` | the production geometry `Bt<Tlsf, Compact>` with quick lists, and valid calls | the same model (minus double-free detection, which quick lists give up) |
//! | `global_alloc` | `heaptale::Allocator<FixedRegion>` and `GlobalAlloc` calls | bytes kept, alignment, no overlap, `check()` after every call, the heap usable after failures |
//! | `rep` | text for the `.rep` parser | no panic; a parsed trace is well formed, round-trips, replays with no integrity error |
//! | `script` | text for the script parser and the console (`Session::run`) | no panic; parsed scripts round-trip and replay cleanly; every statement leaves a sound heap |
//! | `ostep_ops` | text for malloc.py's `-A` op lists, and knobs | no panic; op lists round-trip; the model runs to an end or a [`Crash`] |
//!
//! The shadow model of the heap targets: every live block with its address, the bytes asked
//! for and a seed its payload was filled from. After every call: `Heap::check()` passes; no
//! two live payloads overlap; all lie in `[start, brk)`; payloads are aligned (the heap's
//! knob, and memalign's alignment) and `usable_size` covers the request; the edges of every
//! live payload still hold their pattern (the whole payload is verified on free, realloc and
//! at the end); calloc gives zeros; realloc keeps the old bytes; a call that fails leaves
//! the blocks and the break exactly as they were; the heap never grows past its cap; a bad
//! pointer (double free, interior, foreign) is refused.
//!
//! `FUZZ_DEBUG=1` makes `heap_ops` print the configuration an input decodes to.
//!
//! [`Config`]: heaptale::Config
//! [`Crash`]: heaptale::trace::ostep::Crash
#![allow(dead_code)]

use heaptale::event::NoObserver;
use heaptale::policy::block::Compact;
use heaptale::policy::bt::Bt;
use heaptale::policy::tlsf::Tlsf;
use heaptale::policy::Policy;
use heaptale::source::{Arena, FixedRegion, PAGE};
use heaptale::trace::{self, OpKind, Options, Session, Trace, NULL_ID};
use heaptale::{Allocator, Config, Heap, HeapError, Order, PolicyKind};
use std::alloc::{GlobalAlloc, Layout as AllocLayout};

/// The largest input the targets look at (`make fuzz` runs with `-max_len=4096`).
pub const MAX_INPUT: usize = 4096;

// ---------------------------------------------------------------------------------------
// Decoding bytes
// ---------------------------------------------------------------------------------------

/// Reads numbers from fuzz bytes; past the end everything reads as 0.
pub struct Bytes<'a> {
    data: &'a [u8],
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Bytes {
            data: &data[..data.len().min(MAX_INPUT)],
        }
    }
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.data
    }
    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    pub fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.u8() as usize % from.len()]
    }
    /// A request size: mostly small, sometimes large, now and then absurd.
    pub fn size(&mut self) -> usize {
        match self.u8() % 16 {
            0..=7 => self.u8() as usize,
            8..=11 => self.u16() as usize % 5000,
            12 => self.u32() as usize % (1 << 20),
            13 => self.u32() as usize % (64 << 20),
            14 => [
                0,
                1,
                (1 << 30) - 8,
                1 << 30,
                u32::MAX as usize,
                usize::MAX / 2,
                usize::MAX,
            ][self.u8() as usize % 7],
            _ => usize::MAX - self.u8() as usize,
        }
    }
}

// ---------------------------------------------------------------------------------------
// The shadow model
// ---------------------------------------------------------------------------------------

/// A live block as the model knows it.
#[derive(Clone, Copy, Debug)]
struct Live {
    addr: usize,
    len: usize,
    seed: u8,
}

/// The bytes a block filled from `seed` holds: a window of a fixed pseudo-random table,
/// so that filling and verifying are one copy and one comparison (byte-by-byte loops are
/// slow under the fuzzer's coverage instrumentation), and a block displaced by any number
/// of bytes shows different bytes.
fn pattern(seed: u8, len: usize) -> &'static [u8] {
    static TABLE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let t = TABLE.get_or_init(|| {
        // Eight bytes a step (Miri interprets every step).
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut t = vec![0u8; PATTERN_MAX + 256];
        for word in t.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            word.copy_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
        }
        t
    });
    assert!(
        len <= PATTERN_MAX,
        "a block of {len} bytes is larger than the pattern table"
    );
    &t[seed as usize..seed as usize + len]
}

/// The largest block a target fills (arenas and regions are at most 16 pages).
const PATTERN_MAX: usize = 2 << 20;

/// Where `got` differs from `want`, if anywhere.
fn first_difference(got: &[u8], want: &[u8]) -> Option<usize> {
    if got == want {
        None
    } else {
        got.iter().zip(want).position(|(a, b)| a != b)
    }
}

/// Bytes verified at each end of every live payload after every call (the whole payload is
/// verified when the block is freed or reallocated, and at the end).
const EDGE: usize = 64;

/// What a heap target expects of the engine.
#[derive(Clone, Copy)]
struct Expect {
    /// Double frees and interior pointers are refused (false for the 4-byte header with
    /// quick lists, which trusts its callers).
    detects_bad_pointers: bool,
    /// A failed call leaves the block walk exactly as it was (false with quick lists: a
    /// failing request may first merge what they hold, which changes no live block).
    failure_keeps_walk: bool,
    /// The alignment every payload has.
    align: usize,
    /// The most bytes the heap may span (`brk - start`).
    cap: usize,
}

struct Model<'h, P: Policy> {
    h: &'h mut Heap<Arena, P>,
    live: Vec<Live>,
    /// Addresses freed and not handed out since.
    dead: Vec<usize>,
    seed: u8,
    x: Expect,
    step: usize,
}

type Snapshot = (Vec<(u32, u32, bool)>, usize);

impl<P: Policy> Model<'_, P> {
    fn snapshot(&self) -> Snapshot {
        let mut v = Vec::new();
        self.h.walk(|b| v.push((b.block, b.size, b.used)));
        (v, self.h.brk())
    }

    fn fill(&mut self, l: Live) {
        let p = self
            .h
            .payload_mut(l.addr)
            .expect("a live block has a payload");
        p[..l.len].copy_from_slice(pattern(l.seed, l.len));
    }

    /// The first `len` bytes of a live block hold its pattern (`edges`: only its two ends).
    fn verify(&self, l: &Live, len: usize, edges: bool, what: &str) {
        let p = self.h.payload(l.addr).unwrap_or_else(|e| {
            panic!(
                "step {}: {what}: live block {:#x} refused: {e}",
                self.step, l.addr
            )
        });
        assert!(
            p.len() >= len,
            "step {}: {what}: payload of {:#x} shrank to {} < {len}",
            self.step,
            l.addr,
            p.len()
        );
        let want = pattern(l.seed, len);
        let bad = if edges && len > 2 * EDGE {
            first_difference(&p[..EDGE], &want[..EDGE]).or_else(|| {
                first_difference(&p[len - EDGE..len], &want[len - EDGE..]).map(|i| i + len - EDGE)
            })
        } else {
            first_difference(&p[..len], want)
        };
        if let Some(i) = bad {
            panic!(
                "step {}: {what}: byte {i} of the block at {:#x} ({len} bytes) changed",
                self.step, l.addr
            );
        }
    }

    /// A new block handed out for `len` bytes at `align`.
    fn got(&mut self, addr: usize, len: usize, align: usize, zeroed: bool) {
        let what = "new block";
        assert_ne!(
            addr, 0,
            "step {}: {what}: a null address is not an error value",
            self.step
        );
        assert_eq!(
            addr % align.max(self.x.align),
            0,
            "step {}: {what}: {addr:#x} is not aligned to {}",
            self.step,
            align.max(self.x.align)
        );
        let usable = self.h.usable_size(addr).unwrap_or_else(|e| {
            panic!(
                "step {}: {what}: {addr:#x} is not a live block: {e}",
                self.step
            )
        });
        assert!(
            usable >= len,
            "step {}: {what}: usable size {usable} < {len}",
            self.step
        );
        if zeroed {
            assert!(
                self.h.payload(addr).unwrap()[..len].iter().all(|&b| b == 0),
                "step {}: calloc'd block not zeroed",
                self.step
            );
        }
        self.seed = self.seed.wrapping_add(101);
        let l = Live {
            addr,
            len,
            seed: self.seed,
        };
        self.fill(l);
        self.dead.retain(|&d| d != addr);
        self.live.push(l);
    }

    fn failed(&self, e: HeapError, before: &Snapshot, allowed: &[&str], what: &str) {
        let kind = match e {
            HeapError::OutOfMemory { .. } => "oom",
            HeapError::SizeOverflow => "overflow",
            HeapError::BadAlignment { .. } => "align",
            HeapError::DoubleFree { .. } => "double",
            HeapError::Foreign { .. } => "foreign",
            HeapError::Interior { .. } => "interior",
            HeapError::Corrupt { .. } => "corrupt",
            HeapError::BadConfig(_) => "config",
        };
        assert!(
            allowed.contains(&kind),
            "step {}: {what} failed with an unexpected error: {e}",
            self.step
        );
        assert!(!e.to_string().is_empty());
        let now = self.snapshot();
        if self.x.failure_keeps_walk {
            assert!(
                now == *before,
                "step {}: {what} failed ({e}) but changed the heap",
                self.step
            );
        } else {
            assert_eq!(
                now.1, before.1,
                "step {}: {what} failed ({e}) but moved the break",
                self.step
            );
        }
    }

    /// Every invariant, after every call.
    fn invariants(&mut self) {
        if let Err(e) = self.h.check() {
            panic!("step {}: heap check: {e}", self.step);
        }
        let (start, brk) = (self.h.start(), self.h.brk());
        assert!(
            brk.wrapping_sub(start) <= self.x.cap,
            "step {}: the heap grew past its cap: {} > {}",
            self.step,
            brk - start,
            self.x.cap
        );
        let mut spans: Vec<(usize, usize)> = Vec::with_capacity(self.live.len());
        for l in &self.live {
            let n = self.h.usable_size(l.addr).unwrap_or_else(|e| {
                panic!("step {}: live block {:#x} refused: {e}", self.step, l.addr)
            });
            spans.push((l.addr, l.addr + n));
            self.verify(l, l.len, true, "after the call");
        }
        spans.sort_unstable();
        for w in spans.windows(2) {
            assert!(
                w[0].1 <= w[1].0,
                "step {}: payloads {:#x?} and {:#x?} overlap",
                self.step,
                w[0],
                w[1]
            );
        }
        if let (Some(first), Some(last)) = (spans.first(), spans.last()) {
            assert!(
                first.0 >= start && last.1 <= brk,
                "step {}: a payload lies outside [start, brk)",
                self.step
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn malloc_like(
        &mut self,
        r: Result<usize, HeapError>,
        len: Option<usize>,
        align: usize,
        zeroed: bool,
        before: &Snapshot,
        allowed: &[&str],
        what: &str,
    ) {
        match (r, len) {
            (Ok(addr), Some(len)) => self.got(addr, len, align, zeroed),
            (Ok(addr), None) => panic!(
                "step {}: {what} succeeded ({addr:#x}) for a size that overflows",
                self.step
            ),
            (Err(e), _) => self.failed(e, before, allowed, what),
        }
    }

    fn op(&mut self, b: &mut Bytes<'_>) {
        let before = self.snapshot();
        let code = b.u8();
        match code % 12 {
            0..=2 => {
                let n = b.size();
                let r = self.h.malloc(n);
                self.malloc_like(
                    r,
                    Some(n),
                    1,
                    false,
                    &before,
                    &["oom", "overflow"],
                    "malloc",
                );
            }
            3 => {
                let a = b.u8();
                let align = if a & 0x80 != 0 {
                    a as usize & 0x7f
                } else {
                    1usize << (a % 18)
                };
                let n = b.size() % (1 << 20);
                let r = self.h.memalign(align, n);
                let bad = !align.is_power_of_two() || align > 65536;
                if bad {
                    assert!(
                        matches!(r, Err(HeapError::BadAlignment { .. })),
                        "step {}: memalign({align}) accepted",
                        self.step
                    );
                }
                self.malloc_like(
                    r,
                    Some(n),
                    align.max(1),
                    false,
                    &before,
                    &["oom", "overflow", "align"],
                    "memalign",
                );
            }
            4 => {
                let (k, n) = if code & 0x80 != 0 {
                    (b.u32() as usize, b.size())
                } else {
                    (b.u8() as usize, b.u8() as usize)
                };
                let r = self.h.calloc(k, n);
                self.malloc_like(
                    r,
                    k.checked_mul(n),
                    1,
                    true,
                    &before,
                    &["oom", "overflow"],
                    "calloc",
                );
            }
            5 | 6 if !self.live.is_empty() => {
                let i = b.u16() as usize % self.live.len();
                let old = self.live[i];
                let n = b.size();
                self.verify(&old, old.len, false, "before realloc");
                match self.h.realloc(old.addr, n) {
                    Ok(addr) => {
                        let keep = old.len.min(n);
                        let moved = Live { addr, ..old };
                        self.verify(&moved, keep, false, "after realloc");
                        self.live.swap_remove(i);
                        if addr != old.addr {
                            self.dead.push(old.addr);
                        }
                        self.got(addr, n, 1, false);
                        // Keep the old bytes' pattern where the old bytes are.
                        let l = self.live.last_mut().unwrap();
                        l.seed = old.seed;
                        let l = *l;
                        self.fill(l);
                    }
                    Err(e) => {
                        self.failed(e, &before, &["oom", "overflow"], "realloc");
                        self.verify(&old, old.len, false, "after a failed realloc");
                    }
                }
            }
            7..=9 if !self.live.is_empty() => {
                let l = self.live.swap_remove(b.u16() as usize % self.live.len());
                self.verify(&l, l.len, false, "before free");
                if let Err(e) = self.h.free(l.addr) {
                    panic!(
                        "step {}: free of the live block {:#x} refused: {e}",
                        self.step, l.addr
                    );
                }
                self.dead.push(l.addr);
            }
            10 => self.bad_pointer(b, &before),
            _ => {
                // realloc(NULL, n) is malloc(n); free(NULL) does nothing.
                if code & 1 == 0 {
                    let n = b.size();
                    let r = self.h.realloc(0, n);
                    self.malloc_like(
                        r,
                        Some(n),
                        1,
                        false,
                        &before,
                        &["oom", "overflow"],
                        "realloc(NULL)",
                    );
                } else {
                    self.h.free(0).expect("free(NULL)");
                    assert!(
                        self.snapshot() == before,
                        "step {}: free(NULL) changed the heap",
                        self.step
                    );
                }
            }
        }
    }

    /// A pointer the heap must refuse: freed, interior, outside, misaligned.
    fn bad_pointer(&mut self, b: &mut Bytes<'_>, before: &Snapshot) {
        let k = b.u8();
        let (addr, what) = match k % 4 {
            0 if !self.dead.is_empty() => {
                (self.dead[b.u16() as usize % self.dead.len()], "double free")
            }
            1 if !self.live.is_empty() => {
                let l = self.live[b.u16() as usize % self.live.len()];
                let n = self.h.usable_size(l.addr).unwrap();
                (l.addr + 1 + b.u16() as usize % n.max(1), "interior")
            }
            2 => (self.h.brk() + b.u16() as usize, "past the break"),
            _ => (
                self.h.start().wrapping_sub(1 + b.u8() as usize),
                "below the start",
            ),
        };
        // A stale address may have been handed out again; an interior offset may land on the
        // next live payload: those are live blocks, not bad pointers.
        if self.live.iter().any(|l| l.addr == addr) {
            return;
        }
        let outside = addr < self.h.start() || addr >= self.h.brk();
        if !outside && !self.x.detects_bad_pointers {
            return;
        }
        let call = b.u8() % 3;
        let r = match call {
            0 => self.h.free(addr),
            1 => self.h.realloc(addr, b.size()).map(|a| {
                panic!(
                    "step {}: realloc of a bad pointer {addr:#x} ({what}) returned {a:#x}",
                    self.step
                )
            }),
            _ => self.h.usable_size(addr).map(|_| ()),
        };
        match r {
            Ok(()) => panic!(
                "step {}: a bad pointer {addr:#x} ({what}) was accepted",
                self.step
            ),
            Err(e) => {
                let allowed: &[&str] = if outside {
                    &["foreign"]
                } else {
                    &["double", "interior", "foreign", "corrupt"]
                };
                self.failed(e, before, allowed, what);
            }
        }
    }

    fn run(&mut self, b: &mut Bytes<'_>) {
        self.invariants();
        while !b.is_empty() {
            self.step += 1;
            self.op(b);
            self.invariants();
        }
        for l in std::mem::take(&mut self.live) {
            self.verify(&l, l.len, false, "at the end");
            self.h
                .free(l.addr)
                .unwrap_or_else(|e| panic!("at the end: free({:#x}): {e}", l.addr));
        }
        self.h
            .check()
            .unwrap_or_else(|e| panic!("at the end, all freed: {e}"));
    }
}

/// Arena capacity: 1 to 16 pages.
fn arena_cap(b: &mut Bytes<'_>) -> usize {
    PAGE * (1 + b.u8() as usize % 16)
}

fn heap_size(b: &mut Bytes<'_>, cap: usize) -> Option<u32> {
    match b.u8() % 4 {
        0 => Some(1 + (b.u32() as usize % cap) as u32),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// Targets
// ---------------------------------------------------------------------------------------

/// Every policy and knob set (the playground's heaps) under calls good and bad.
pub fn heap_ops(data: &[u8]) {
    let mut b = Bytes::new(data);
    let cap = arena_cap(&mut b);
    let k = b.u8();
    let config = Config {
        policy: PolicyKind::ALL[k as usize % PolicyKind::ALL.len()],
        order: Order::ALL[(k >> 3) as usize % 5],
        coalesce: k & 0x80 == 0,
        header: b.pick(&[8, 4, 8, 12, 16, 24, 32, 3, 64, 257]),
        align: b.pick(&[8, 1, 2, 4, 8, 16, 64, 4096, 3]),
        heap_size: heap_size(&mut b, cap),
        base: None,
    };
    if std::env::var_os("FUZZ_DEBUG").is_some() {
        eprintln!("heap_ops: cap {cap}, {config:?}");
    }
    let Some(arena) = Arena::new(cap) else { return };
    let mut h = match Heap::new(arena, &config) {
        Ok(h) => h,
        Err(HeapError::BadConfig(why)) => {
            assert!(!why.is_empty());
            return;
        }
        Err(e) => panic!("{config:?}: the heap could not be made: {e}"),
    };
    // A 4-byte header has no check tag: a pointer inside the heap is told from a block by
    // plausibility only (RELIABILITY.md), so only pointers outside it must be refused.
    let x = Expect {
        detects_bad_pointers: config.header >= 8,
        // The heaptale policy's quick lists may merge before a request fails.
        failure_keeps_walk: config.policy != PolicyKind::Heaptale,
        align: config.align as usize,
        cap,
    };
    Model {
        h: &mut h,
        live: Vec::new(),
        dead: Vec::new(),
        seed: 0,
        x,
        step: 0,
    }
    .run(&mut b);
}

/// The production geometry (`Bt<Tlsf, Compact>`, 4-byte header) with quick lists and the
/// top block apart, as `heaptale::Allocator` builds it (and without either), under valid calls and pointers from outside the heap.
pub fn quick_ops(data: &[u8]) {
    let mut b = Bytes::new(data);
    let cap = arena_cap(&mut b);
    // (quick lists up to, top block kept apart)
    let (quick_max, top) = b.pick(&[
        (256, true),
        (0, false),
        (16, true),
        (64, false),
        (256, false),
        (512, true),
    ]);
    let size = heap_size(&mut b, cap);
    let Some(arena) = Arena::new(cap) else { return };
    let policy = Bt::new(Compact, true, Tlsf::new()).with_quick_lists(quick_max);
    let policy = if top { policy.with_top_apart() } else { policy };
    let mut h = Heap::with_policy(arena, policy, NoObserver, size).expect("a heap over an arena");
    let x = Expect {
        detects_bad_pointers: false,
        failure_keeps_walk: quick_max == 0,
        align: 8,
        cap,
    };
    Model {
        h: &mut h,
        live: Vec::new(),
        dead: Vec::new(),
        seed: 0,
        x,
        step: 0,
    }
    .run(&mut b);
}

/// A 64 KiB-aligned zeroed region from the host, for a [`FixedRegion`].
struct Region {
    ptr: *mut u8,
    layout: AllocLayout,
}

impl Region {
    fn new(size: usize) -> Region {
        let layout = AllocLayout::from_size_align(size, PAGE).unwrap();
        // SAFETY: a non-zero size.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        assert!(!ptr.is_null(), "the host has no {size} bytes");
        Region { ptr, layout }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { std::alloc::dealloc(self.ptr, self.layout) }
    }
}

/// `heaptale::Allocator<FixedRegion>` through `GlobalAlloc`, as a program would call it.
pub fn global_alloc(data: &[u8]) {
    let mut b = Bytes::new(data);
    let cap = arena_cap(&mut b);
    let region = Region::new(cap);
    {
        // SAFETY: the region is ours and outlives the allocator (dropped first, below).
        let a: Allocator<FixedRegion> =
            Allocator::with_source(unsafe { FixedRegion::real(region.ptr, cap) });
        global_ops(&a, &mut b, region.ptr as usize, cap);
    }
}

fn global_ops(a: &Allocator<FixedRegion>, b: &mut Bytes<'_>, start: usize, cap: usize) {
    // (pointer, layout, seed)
    let mut live: Vec<(*mut u8, AllocLayout, u8)> = Vec::new();
    let mut seed = 0u8;
    let fill = |p: *mut u8, n: usize, s: u8| {
        // SAFETY: `p` is a live block of at least `n` bytes.
        unsafe { std::slice::from_raw_parts_mut(p, n) }.copy_from_slice(pattern(s, n));
    };
    let verify = |p: *mut u8, n: usize, s: u8, step: usize, what: &str| {
        // SAFETY: `p` is a live block of at least `n` bytes.
        let bytes = unsafe { std::slice::from_raw_parts(p, n) };
        if let Some(i) = first_difference(bytes, pattern(s, n)) {
            panic!("step {step}: {what}: byte {i} of the block at {p:?} changed");
        }
    };
    let mut step = 0;
    while !b.is_empty() {
        step += 1;
        let code = b.u8();
        match code % 8 {
            0..=3 => {
                let size = 1 + b.size() % (cap + PAGE);
                let align = 1usize << (b.u8() % 18);
                let Ok(layout) = AllocLayout::from_size_align(size, align) else {
                    continue;
                };
                let zeroed = code & 0x80 != 0;
                // SAFETY: a non-zero size.
                let p = unsafe {
                    if zeroed {
                        a.alloc_zeroed(layout)
                    } else {
                        a.alloc(layout)
                    }
                };
                if p.is_null() {
                    continue;
                }
                assert_eq!(
                    p as usize % align,
                    0,
                    "step {step}: {p:?} not aligned to {align}"
                );
                assert!(
                    p as usize >= start && p as usize + size <= start + cap,
                    "step {step}: {p:?} + {size} outside the region"
                );
                if zeroed {
                    // SAFETY: a fresh block of `size` bytes.
                    assert!(
                        unsafe { std::slice::from_raw_parts(p, size) }
                            .iter()
                            .all(|&x| x == 0),
                        "step {step}: alloc_zeroed not zeroed"
                    );
                }
                seed = seed.wrapping_add(101);
                fill(p, size, seed);
                live.push((p, layout, seed));
            }
            4 | 5 if !live.is_empty() => {
                let i = b.u16() as usize % live.len();
                let (p, layout, s) = live[i];
                verify(p, layout.size(), s, step, "before realloc");
                let new_size = 1 + b.size() % (cap + PAGE);
                if AllocLayout::from_size_align(new_size, layout.align()).is_err() {
                    continue;
                }
                // SAFETY: `p` is live with `layout`; the new size is non-zero and valid.
                let q = unsafe { a.realloc(p, layout, new_size) };
                if q.is_null() {
                    verify(p, layout.size(), s, step, "after a failed realloc");
                    continue;
                }
                assert_eq!(
                    q as usize % layout.align(),
                    0,
                    "step {step}: realloc lost the alignment"
                );
                verify(q, layout.size().min(new_size), s, step, "after realloc");
                fill(q, new_size, s);
                live[i] = (
                    q,
                    AllocLayout::from_size_align(new_size, layout.align()).unwrap(),
                    s,
                );
            }
            6 | 7 if !live.is_empty() => {
                let (p, layout, s) = live.swap_remove(b.u16() as usize % live.len());
                verify(p, layout.size(), s, step, "before dealloc");
                // SAFETY: `p` is live with `layout`.
                unsafe { a.dealloc(p, layout) };
            }
            _ => {}
        }
        if let Err(e) = a.check() {
            panic!("step {step}: heap check: {e}");
        }
        let mut spans: Vec<(usize, usize)> = live
            .iter()
            .map(|&(p, l, _)| (p as usize, p as usize + l.size()))
            .collect();
        spans.sort_unstable();
        for w in spans.windows(2) {
            assert!(
                w[0].1 <= w[1].0,
                "step {step}: blocks {:#x?} and {:#x?} overlap",
                w[0],
                w[1]
            );
        }
        for &(p, l, s) in &live {
            let n = l.size().min(EDGE);
            verify(p, n, s, step, "after the call");
        }
    }
    for (p, layout, s) in live.drain(..) {
        verify(p, layout.size(), s, step, "at the end");
        // SAFETY: `p` is live with `layout`.
        unsafe { a.dealloc(p, layout) };
    }
    a.check()
        .unwrap_or_else(|e| panic!("at the end, all freed: {e}"));
    // Everything is free: the heap must take a request of half the region again (no block
    // leaked, quick lists merged, failures left nothing behind).
    let big = AllocLayout::from_size_align(cap / 2, 8).unwrap();
    // SAFETY: a non-zero size.
    let p = unsafe { a.alloc(big) };
    assert!(
        !p.is_null(),
        "after every block was freed, {} bytes of a {cap}-byte region could not be had: {:?}",
        cap / 2,
        a.stats()
    );
    // SAFETY: just allocated with `big`.
    unsafe { a.dealloc(p, big) };
    a.check().unwrap();
}

// ---------------------------------------------------------------------------------------
// Parsers
// ---------------------------------------------------------------------------------------

/// Bytes as text the way the CLI would see them (it refuses invalid UTF-8; the library
/// takes `&str`, so the parsers see the lossy text).
fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(&data[..data.len().min(MAX_INPUT)]).into_owned()
}

/// A parsed trace is well formed: ids in range, sizes as the format allows.
fn well_formed(t: &Trace) {
    assert!(t.ops.len() <= trace::MAX_OPS);
    for op in &t.ops {
        for id in [op.id, op.to] {
            assert!(
                id == NULL_ID || id < t.ids.max(t.names.len() as u32),
                "op {op:?}: id beyond the trace's {} ids",
                t.ids
            );
        }
        assert!(op.kind.bytes() <= u32::MAX as u64 * u32::MAX as u64);
        let s = t.op_text(op);
        assert!(!s.is_empty());
    }
    for n in &t.names {
        assert!(
            !n.is_empty() && n.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_'),
            "variable name {n:?}"
        );
    }
}

/// A trace replays on a small capped heap with no integrity error (allocation failures are
/// fine: the heap may run out), checking the heap after every op.
fn replays_cleanly(t: &Trace, policy: PolicyKind) {
    let config = Config {
        policy,
        ..Config::default()
    };
    let mut h = Heap::new(Arena::new(1 << 20).unwrap(), &config).unwrap();
    let r = trace::replay_with(
        &mut h,
        t,
        &Options {
            check_every: 1,
            ..Options::default()
        },
    );
    assert!(
        r.integrity_errors.is_empty(),
        "{policy}: {:?}",
        r.integrity_errors
    );
    assert!(r.ops <= t.ops.len() as u64);
    h.check().unwrap();
}

fn same_ops(a: &Trace, b: &Trace, what: &str) {
    assert_eq!(a.ops.len(), b.ops.len(), "{what}: op count");
    for (x, y) in a.ops.iter().zip(&b.ops) {
        assert_eq!((x.kind, x.id, x.to), (y.kind, y.id, y.to), "{what}");
    }
}

/// The `.rep` parser (and the format sniffer `trace::parse`).
pub fn rep(data: &[u8]) {
    let s = text(data);
    let _ = trace::parse(&s);
    let t = match trace::parse_rep(&s) {
        Ok(t) => t,
        Err(e) => {
            assert!(e.line >= 1 && !e.message.is_empty(), "{e:?}");
            assert!(
                e.message.chars().count() < 400,
                "an error message quotes too much: {}",
                e.message.len()
            );
            return;
        }
    };
    well_formed(&t);
    assert!(t.names.is_empty());
    // Written back as a .rep file, it reads the same.
    let mut back = format!("0\n{}\n{}\n1\n", t.ids, t.ops.len());
    for op in &t.ops {
        match op.kind {
            OpKind::Malloc { size } => back += &format!("a {} {size}\n", op.id),
            OpKind::Realloc { size } => back += &format!("r {} {size}\n", op.id),
            OpKind::Free if op.id == NULL_ID => back += "f -1\n",
            OpKind::Free => back += &format!("f {}\n", op.id),
            k => panic!("a .rep file gave a {} op", k.name()),
        }
    }
    let again = trace::parse_rep(&back)
        .unwrap_or_else(|e| panic!("the trace written back does not parse: {e}\n{back}"));
    same_ops(&t, &again, ".rep round trip");
    if t.ops.len() <= 2000 {
        replays_cleanly(&t, PolicyKind::ALL[data.len() % PolicyKind::ALL.len()]);
    }
}

/// The script parser, and the playground console (`Session::run`) line by line.
pub fn script(data: &[u8]) {
    let s = text(data);
    let policy =
        PolicyKind::ALL[data.first().copied().unwrap_or(0) as usize % PolicyKind::ALL.len()];
    match trace::parse_script(&s) {
        Ok(t) => {
            well_formed(&t);
            // Written back as C statements, it reads the same.
            let back: Vec<String> = t.ops.iter().map(|op| t.op_text(op)).collect();
            let back = back.join("\n");
            let again = trace::parse_script(&back)
                .unwrap_or_else(|e| panic!("the script written back does not parse: {e}\n{back}"));
            same_ops(&t, &again, "script round trip");
            assert_eq!(t.names, again.names);
            if t.ops.len() <= 2000 {
                replays_cleanly(&t, policy);
            }
        }
        Err(e) => {
            assert!(e.line >= 1 && !e.message.is_empty(), "{e:?}");
            assert!(
                e.message.chars().count() < 400,
                "an error message quotes too much: {}",
                e.message.len()
            );
        }
    }
    // The console: every line as typed, on one heap; bad lines are refused with a message
    // and change nothing the model can see.
    let config = Config {
        policy,
        ..Config::default()
    };
    let mut h = Heap::new(Arena::new(1 << 20).unwrap(), &config).unwrap();
    let mut session = Session::new();
    for line in s.split('\n').take(500) {
        let vars_before: Vec<(String, usize, bool)> = session
            .vars()
            .map(|(n, a, l)| (n.to_string(), a, l))
            .collect();
        match session.run(&mut h, line) {
            Ok(step) => assert!(!step.text.is_empty()),
            Err(msg) => {
                assert!(!msg.is_empty());
                let after: Vec<(String, usize, bool)> = session
                    .vars()
                    .map(|(n, a, l)| (n.to_string(), a, l))
                    .collect();
                assert_eq!(
                    vars_before, after,
                    "a refused statement changed the variables: {line:?}: {msg}"
                );
            }
        }
        h.check().unwrap_or_else(|e| panic!("after {line:?}: {e}"));
        for (name, addr, live) in session.vars() {
            if live {
                assert!(
                    h.usable_size(addr).is_ok(),
                    "{name} = {addr:#x} is live but the heap refuses it"
                );
            }
        }
    }
    // And the whole text at once: one statement or a clear refusal.
    let _ = Session::new().run(&mut h, &s);
    h.check().unwrap();
}

/// OSTEP's op lists (`-A`, and op-list files) and its simulator.
pub fn ostep_ops(data: &[u8]) {
    use heaptale::trace::ostep::{
        ops_text, parse_ops, parse_ops_file, Knobs, RandomOps, Run, Search,
    };
    let mut b = Bytes::new(data);
    let knobs = Knobs {
        heap_size: b.pick(&[100, 0, 1, 64, 1000, 65536, -5, i64::MAX]),
        base: b.pick(&[1000, 0, -1000, i64::MAX - 50, i64::MIN]),
        header: b.pick(&[0, 4, 8, -4, i64::MAX]),
        align: b.pick(&[-1, 1, 4, 8, 0, -7, 3]),
        policy: b.pick(&Search::ALL),
        order: b.pick(&Order::ALL),
        coalesce: b.u8() & 1 == 1,
    };
    let random = RandomOps {
        seed: b.u32() as i32 as i64,
        num_ops: b.u8() as u64 * 4,
        range: b.pick(&[10, 1, 0, -3, 100, 1 << 20, i64::MAX]),
        percent_alloc: b.pick(&[50, 1, 100, 0, -1, 99, 150]),
    };
    let s = text(b.rest());
    let _ = trace::ostep::looks_like_ops(&s);
    if let Ok(ops) = parse_ops_file(&s) {
        let again = parse_ops_file(&ops_text(&ops)).expect("an op list written back parses");
        assert_eq!(ops, again);
    }
    let ops = match parse_ops(&s) {
        Ok(ops) => {
            assert_eq!(
                parse_ops(&ops_text(&ops)).expect("an op list written back parses"),
                ops,
                "op list round trip"
            );
            Some(ops)
        }
        Err(c) => {
            assert!(!c.to_string().is_empty());
            None
        }
    };
    let run = match ops {
        Some(ops) => Run::with_ops_and(knobs, ops, random),
        None => Run::random(knobs, random),
    };
    let Ok(mut run) = run else { return };
    let header = run.text_header(true);
    assert!(!header.is_empty());
    let mut steps = 0;
    while let Some(e) = run.step() {
        steps += 1;
        assert!(steps <= 100_000, "the run does not end");
        match e {
            Ok(ev) => {
                let _ = run.text_event(&ev, true);
            }
            Err(c) => {
                let _ = run.text_crash(&c);
                break;
            }
        }
    }
    let _ = run.command();
}

/// A target: its name and its function.
pub type Target = (&'static str, fn(&[u8]));

/// Every target by its name (the folder names under `fuzz/corpus/`).
pub const TARGETS: [Target; 6] = [
    ("heap_ops", heap_ops),
    ("quick_ops", quick_ops),
    ("global_alloc", global_alloc),
    ("rep", rep),
    ("script", script),
    ("ostep_ops", ostep_ops),
];
