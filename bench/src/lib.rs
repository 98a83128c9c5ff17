//! The benchmark module: deterministic allocation workloads over the `#[global_allocator]` of
//! this build (see `alloc.rs`), driven from node with the plain WebAssembly API.
//!
//! Exports (all plain `extern "C"`):
//! * `bench_meta_ptr()/bench_meta_len()`: a JSON description of the allocator and workloads;
//! * `bench_run(workload, deadline_ms) -> status`: runs one workload once, from an empty heap
//!   to an empty heap (everything it allocates is freed by the end);
//! * `bench_ops()`, `bench_peak()`, `bench_err_op()`: figures of the last run.
//!
//! The harness allocates nothing itself: its bookkeeping lives in static arrays. Every block
//! is tagged when allocated (a pattern at its start and end) and checked when freed or
//! reallocated; a null pointer, a misaligned one or a broken tag ends the run with an error
//! status, so a wrong allocator is reported, not timed. The only import is `env.now()`
//! (`performance.now()`), read every 1,024 ops to give up on a run past its deadline.

mod alloc;
#[cfg(feature = "buddy_system_allocator")]
mod buddy;
#[cfg(feature = "linked_list_allocator")]
mod lla;
#[cfg(feature = "baseline")]
mod recycle;
mod traces;

use core::cell::UnsafeCell;
use std::alloc::{alloc as raw_alloc, dealloc as raw_dealloc, realloc as raw_realloc, Layout};

#[link(wasm_import_module = "env")]
extern "C" {
    fn now() -> f64;
}

/// Run statuses.
pub const OK: u32 = 0;
pub const E_NULL: u32 = 1;
pub const E_ALIGN: u32 = 2;
pub const E_TAG: u32 = 3;
pub const E_REALLOC_DATA: u32 = 4;
pub const E_VEC_DATA: u32 = 5;
pub const E_TIMEOUT: u32 = 6;
pub const E_TRACE: u32 = 7;
pub const E_WORKLOAD: u32 = 8;

const MAX_SLOTS: usize = 1 << 18;

struct State {
    ptr: [*mut u8; MAX_SLOTS],
    size: [u32; MAX_SLOTS],
    align: [u32; MAX_SLOTS],
    tag: [u64; MAX_SLOTS],
    ops: u64,
    live: u64,
    peak: u64,
    serial: u64,
    err_op: u64,
    /// The request that failed: size and alignment (0 when not a request).
    err_size: u32,
    err_align: u32,
    deadline: f64,
}

struct Global(UnsafeCell<State>);
// SAFETY: the module is single-threaded.
unsafe impl Sync for Global {}

// All zeros, so it costs the module no data bytes (the vectors, whose empty form is not
// zero, are apart).
static STATE: Global = Global(UnsafeCell::new(State {
    ptr: [core::ptr::null_mut(); MAX_SLOTS],
    size: [0; MAX_SLOTS],
    align: [0; MAX_SLOTS],
    tag: [0; MAX_SLOTS],
    ops: 0,
    live: 0,
    peak: 0,
    serial: 0,
    err_op: 0,
    err_size: 0,
    err_align: 0,
    deadline: 0.0,
}));

struct Vecs {
    v8: [Vec<u8>; VEC_SLOTS],
    v64: [Vec<u64>; VEC_SLOTS],
}
struct VecsCell(UnsafeCell<Vecs>);
// SAFETY: the module is single-threaded.
unsafe impl Sync for VecsCell {}
const EMPTY8: Vec<u8> = Vec::new();
const EMPTY64: Vec<u64> = Vec::new();
static VECS: VecsCell = VecsCell(UnsafeCell::new(Vecs {
    v8: [EMPTY8; VEC_SLOTS],
    v64: [EMPTY64; VEC_SLOTS],
}));

/// splitmix64.
struct Rng(u64);
impl Rng {
    #[inline]
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n`.
    #[inline]
    fn below(&mut self, n: u32) -> u32 {
        ((self.next() >> 32) * n as u64 >> 32) as u32
    }
}

#[inline]
fn mix(x: u64) -> u64 {
    Rng(x).next()
}

type R = Result<(), u32>;

impl State {
    #[inline]
    fn count(&mut self) -> R {
        self.ops += 1;
        if self.ops & 1023 == 0 && unsafe { now() } > self.deadline {
            return Err(E_TIMEOUT);
        }
        Ok(())
    }

    #[inline]
    fn fail(&mut self, code: u32) -> R {
        self.err_op = self.ops;
        Err(code)
    }

    #[inline]
    fn add_live(&mut self, n: u64) {
        self.live += n;
        if self.live > self.peak {
            self.peak = self.live;
        }
    }

    /// Allocates slot `i` (which must be empty): `size` bytes aligned to `align`, tagged.
    #[inline]
    fn alloc(&mut self, i: usize, size: u32, align: u32) -> R {
        self.count()?;
        // SAFETY: size > 0 and align a power of two (every caller's sizes are >= 1).
        let layout = unsafe { Layout::from_size_align_unchecked(size as usize, align as usize) };
        let p = unsafe { raw_alloc(layout) };
        if p.is_null() {
            (self.err_size, self.err_align) = (size, align);
            return self.fail(E_NULL);
        }
        if p as usize & (align as usize - 1) != 0 {
            return self.fail(E_ALIGN);
        }
        self.serial += 1;
        let t = mix(self.serial);
        unsafe { write_tag(p, size as usize, t) };
        self.ptr[i] = p;
        self.size[i] = size;
        self.align[i] = align;
        self.tag[i] = t;
        self.add_live(size as u64);
        Ok(())
    }

    /// Frees slot `i` (which must be live) after checking its tags.
    #[inline]
    fn free(&mut self, i: usize) -> R {
        self.count()?;
        let (p, size) = (self.ptr[i], self.size[i] as usize);
        if !unsafe { check_tag(p, size, self.tag[i]) } {
            return self.fail(E_TAG);
        }
        let layout = unsafe { Layout::from_size_align_unchecked(size, self.align[i] as usize) };
        unsafe { raw_dealloc(p, layout) };
        self.ptr[i] = core::ptr::null_mut();
        self.live -= size as u64;
        Ok(())
    }

    /// Reallocates live slot `i` to `new` bytes: the old tag must come through, then the
    /// block is tagged again at its new end.
    #[inline]
    fn realloc(&mut self, i: usize, new: u32) -> R {
        self.count()?;
        let (p, old, align, t) = (
            self.ptr[i],
            self.size[i] as usize,
            self.align[i] as usize,
            self.tag[i],
        );
        if !unsafe { check_tag(p, old, t) } {
            return self.fail(E_TAG);
        }
        let layout = unsafe { Layout::from_size_align_unchecked(old, align) };
        let q = unsafe { raw_realloc(p, layout, new as usize) };
        if q.is_null() {
            (self.err_size, self.err_align) = (new, align as u32);
            return self.fail(E_NULL);
        }
        if q as usize & (align - 1) != 0 {
            return self.fail(E_ALIGN);
        }
        let kept = old.min(new as usize);
        // The first bytes come through, and when the block grew, the old end's tag too.
        let intact =
            unsafe { check_head(q, kept, t) && ((new as usize) < old || check_tail(q, old, t)) };
        if !intact {
            return self.fail(E_REALLOC_DATA);
        }
        unsafe { write_tag(q, new as usize, t) };
        self.ptr[i] = q;
        self.size[i] = new;
        self.live = self.live - old as u64;
        self.add_live(new as u64);
        Ok(())
    }

    /// Frees every live slot below `n` (counted as ops of the workload).
    fn free_all(&mut self, n: usize) -> R {
        for i in 0..n {
            if !self.ptr[i].is_null() {
                self.free(i)?;
            }
        }
        Ok(())
    }

    fn reset(&mut self, deadline: f64) {
        self.ops = 0;
        self.live = 0;
        self.peak = 0;
        self.serial = 0;
        self.err_op = 0;
        self.err_size = 0;
        self.err_align = 0;
        self.deadline = deadline;
    }
}

// ---- tags: byte k of a block's first and last 8 bytes holds byte k % 8 of its tag ----
// (a function of the position, so the two words agree where a block of 8..15 bytes makes
// them overlap)

#[inline]
unsafe fn write_tag(p: *mut u8, n: usize, t: u64) {
    unsafe {
        if n >= 8 {
            (p as *mut u64).write_unaligned(t);
            let o = n - 8;
            (p.add(o) as *mut u64).write_unaligned(t.rotate_right(8 * (o as u32 & 7)));
        } else {
            for k in 0..n {
                *p.add(k) = (t >> (8 * k)) as u8;
            }
        }
    }
}

#[inline]
unsafe fn check_head(p: *const u8, n: usize, t: u64) -> bool {
    unsafe {
        if n >= 8 {
            (p as *const u64).read_unaligned() == t
        } else {
            (0..n).all(|k| *p.add(k) == (t >> (8 * k)) as u8)
        }
    }
}

#[inline]
unsafe fn check_tail(p: *const u8, n: usize, t: u64) -> bool {
    unsafe {
        n < 8
            || (p.add(n - 8) as *const u64).read_unaligned()
                == t.rotate_right(8 * ((n - 8) as u32 & 7))
    }
}

#[inline]
unsafe fn check_tag(p: *const u8, n: usize, t: u64) -> bool {
    unsafe { check_head(p, n, t) && check_tail(p, n, t) }
}

// ---- the workloads ----

/// (a) small random sizes: 16,384 slots; each of 1,500,000 steps picks a slot and frees it if
/// live, else allocates 8..=128 bytes (uniform), align 8.
fn small_random(s: &mut State) -> R {
    const SLOTS: usize = 16384;
    let mut rng = Rng(0xA11C_0001);
    for _ in 0..1_500_000 {
        let i = rng.below(SLOTS as u32) as usize;
        if s.ptr[i].is_null() {
            let size = 8 + rng.below(121);
            s.alloc(i, size, 8)?;
        } else {
            s.free(i)?;
        }
    }
    s.free_all(SLOTS)
}

/// (b) mixed sizes up to 64 KiB with alignments: 2,048 slots; each of 300,000 steps picks a
/// slot and frees it if live, else allocates a size drawn log-uniformly from 8..=65,536 (a
/// power of two 2^e, e uniform in 3..=15, plus a uniform offset below 2^e) with an alignment
/// 2^k, k uniform in 3..=12 (8 to 4,096 bytes).
fn mixed_sizes(s: &mut State) -> R {
    const SLOTS: usize = 2048;
    let mut rng = Rng(0xA11C_0002);
    for _ in 0..300_000 {
        let i = rng.below(SLOTS as u32) as usize;
        if s.ptr[i].is_null() {
            let e = 3 + rng.below(13);
            let size = ((1u32 << e) + rng.below(1 << e)).min(65536);
            let align = 1u32 << (3 + rng.below(10));
            s.alloc(i, size, align)?;
        } else {
            s.free(i)?;
        }
    }
    s.free_all(SLOTS)
}

const VEC_SLOTS: usize = 2048;

#[inline]
fn v8_val(slot: usize, i: usize) -> u8 {
    (slot.wrapping_mul(31) ^ i.wrapping_mul(7)) as u8
}
#[inline]
fn v64_val(slot: usize, i: usize) -> u64 {
    (slot as u64) << 32 | i as u64
}

/// One step of the vector workload on a `Vec<T>`; counts the allocator calls it makes (a
/// change of capacity is one call: alloc, realloc or dealloc) and the live payload
/// (capacity × element size).
#[inline]
fn vec_step<T: Copy + PartialEq>(
    s: &mut State,
    v: &mut Vec<T>,
    slot: usize,
    rng: &mut Rng,
    val: fn(usize, usize) -> T,
) -> R {
    let elem = core::mem::size_of::<T>() as u64;
    let check = |v: &Vec<T>| -> bool {
        let n = v.len();
        n == 0
            || (v[0] == val(slot, 0)
                && v[n - 1] == val(slot, n - 1)
                && v[n / 2] == val(slot, n / 2))
    };
    let p = rng.below(100);
    if p < 60 {
        // grow: push 1..=2^k elements one at a time, k uniform in 0..=9
        let e = rng.below(10);
        let k = 1 + rng.below(1 << e) as usize;
        if v.len() + k > 16384 {
            return vec_drop(s, v, elem, check);
        }
        for _ in 0..k {
            let cap = v.capacity();
            let n = v.len();
            v.push(val(slot, n));
            if v.capacity() != cap {
                s.count()?;
                s.live -= cap as u64 * elem;
                s.add_live(v.capacity() as u64 * elem);
            }
        }
        Ok(())
    } else if p < 80 {
        // shrink: truncate to a uniform length below the current one, then shrink_to_fit
        if !check(v) {
            return s.fail(E_VEC_DATA);
        }
        let n = rng.below(v.len() as u32 + 1) as usize;
        v.truncate(n);
        let cap = v.capacity();
        v.shrink_to_fit();
        if v.capacity() != cap {
            s.count()?;
            s.live -= cap as u64 * elem;
            s.add_live(v.capacity() as u64 * elem);
        }
        if !check(v) {
            return s.fail(E_VEC_DATA);
        }
        Ok(())
    } else {
        vec_drop(s, v, elem, check)
    }
}

#[inline]
fn vec_drop<T>(s: &mut State, v: &mut Vec<T>, elem: u64, check: impl Fn(&Vec<T>) -> bool) -> R {
    if !check(v) {
        return s.fail(E_VEC_DATA);
    }
    let cap = v.capacity();
    *v = Vec::new();
    if cap != 0 {
        s.count()?;
        s.live -= cap as u64 * elem;
    }
    Ok(())
}

/// (c) realloc-grown vectors: 2,048 `Vec<u8>` and 2,048 `Vec<u64>`; each of 300,000 steps
/// picks one and with probability 60 % pushes 1..=2^k elements (k uniform in 0..=9) one at
/// a time (dropping it instead if it would pass 16,384 elements), 20 % truncates it to a
/// uniform shorter length and calls `shrink_to_fit`, 20 % drops it. Contents are checked
/// (first, middle and last element) before every shrink and drop.
fn vec_realloc(s: &mut State) -> R {
    let mut rng = Rng(0xA11C_0003);
    // SAFETY: single-threaded, and nothing else borrows the vectors.
    let vecs = unsafe { &mut *VECS.0.get() };
    for _ in 0..300_000 {
        let i = rng.below(2 * VEC_SLOTS as u32) as usize;
        if i < VEC_SLOTS {
            vec_step(s, &mut vecs.v8[i], i, &mut rng, v8_val)?;
        } else {
            let i = i - VEC_SLOTS;
            vec_step(s, &mut vecs.v64[i], i, &mut rng, v64_val)?;
        }
    }
    for i in 0..VEC_SLOTS {
        vec_drop(s, &mut vecs.v8[i], 1, |_| true)?;
        vec_drop(s, &mut vecs.v64[i], 8, |_| true)?;
    }
    Ok(())
}

/// (d) trace replay: the trace's ops in order, `repeat` times; align 8 (C's malloc); a
/// request of 0 bytes is made 1 (GlobalAlloc does not take zero sizes).
fn replay(s: &mut State, t: &traces::TraceData) -> R {
    let words = t.words();
    if t.ids as usize > MAX_SLOTS {
        return Err(E_TRACE);
    }
    for _ in 0..t.repeat {
        let mut k = 0;
        while k < words.len() {
            let w = words[k];
            let id = (w & 0x3FFF_FFFF) as usize;
            if id >= MAX_SLOTS {
                return Err(E_TRACE);
            }
            match w >> 30 {
                0 => {
                    let size = words[k + 1].max(1);
                    k += 2;
                    if !s.ptr[id].is_null() {
                        return Err(E_TRACE);
                    }
                    s.alloc(id, size, 8)?;
                }
                1 => {
                    k += 1;
                    if s.ptr[id].is_null() {
                        return Err(E_TRACE);
                    }
                    s.free(id)?;
                }
                2 => {
                    let size = words[k + 1].max(1);
                    k += 2;
                    if s.ptr[id].is_null() {
                        s.alloc(id, size, 8)?;
                    } else {
                        s.realloc(id, size)?;
                    }
                }
                _ => return Err(E_TRACE),
            }
        }
        s.free_all(t.ids as usize)?;
    }
    Ok(())
}

/// The workloads: (name, class).
const FIXED: [(&str, &str); 3] = [
    ("small-random", "a"),
    ("mixed-sizes", "b"),
    ("vec-realloc", "c"),
];

fn workload_count() -> usize {
    FIXED.len() + traces::TRACES.len()
}

/// Runs workload `w` once with deadline `deadline` (a `performance.now()` value, in ms).
/// Returns 0, or an error status (see the constants); `bench_ops` etc. give its figures.
#[no_mangle]
pub extern "C" fn bench_run(w: u32, deadline: f64) -> u32 {
    // SAFETY: single-threaded, and no other borrow of the state is alive.
    let s = unsafe { &mut *STATE.0.get() };
    s.reset(deadline);
    let w = w as usize;
    let r = match w {
        0 => small_random(s),
        1 => mixed_sizes(s),
        2 => vec_realloc(s),
        _ if w < workload_count() => replay(s, &traces::TRACES[w - FIXED.len()]),
        _ => Err(E_WORKLOAD),
    };
    match r {
        Ok(()) => OK,
        Err(e) => {
            if s.err_op == 0 {
                s.err_op = s.ops;
            }
            e
        }
    }
}

/// Allocator calls made by the last run.
#[no_mangle]
pub extern "C" fn bench_ops() -> f64 {
    unsafe { (*STATE.0.get()).ops as f64 }
}

/// Peak live payload of the last run (bytes requested, or capacity × element size).
#[no_mangle]
pub extern "C" fn bench_peak() -> f64 {
    unsafe { (*STATE.0.get()).peak as f64 }
}

/// The op at which the last run failed.
#[no_mangle]
pub extern "C" fn bench_err_op() -> f64 {
    unsafe { (*STATE.0.get()).err_op as f64 }
}

/// The size and alignment of the request that failed in the last run (0 if none).
#[no_mangle]
pub extern "C" fn bench_err_size() -> u32 {
    unsafe { (*STATE.0.get()).err_size }
}

#[no_mangle]
pub extern "C" fn bench_err_align() -> u32 {
    unsafe { (*STATE.0.get()).err_align }
}

struct Meta(UnsafeCell<[u8; 8192]>, UnsafeCell<usize>);
unsafe impl Sync for Meta {}
static META: Meta = Meta(UnsafeCell::new([0; 8192]), UnsafeCell::new(0));

/// Writes the JSON description into a static buffer (no allocation) and returns its address.
#[no_mangle]
pub extern "C" fn bench_meta_ptr() -> *const u8 {
    struct W<'a>(&'a mut [u8], usize);
    impl core::fmt::Write for W<'_> {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let b = s.as_bytes();
            let end = self.1 + b.len();
            if end > self.0.len() {
                return Err(core::fmt::Error);
            }
            self.0[self.1..end].copy_from_slice(b);
            self.1 = end;
            Ok(())
        }
    }
    use core::fmt::Write;
    let buf = unsafe { &mut *META.0.get() };
    let mut w = W(buf, 0);
    let _ = write!(w, "{{\"allocator\":\"{}\",\"workloads\":[", alloc::NAME);
    for (i, (name, class)) in FIXED.iter().enumerate() {
        let _ = write!(
            w,
            "{}{{\"name\":\"{}\",\"class\":\"{}\",\"source\":\"synthetic\"}}",
            if i > 0 { "," } else { "" },
            name,
            class
        );
    }
    for t in traces::TRACES {
        let _ = write!(w, ",{{\"name\":\"{}\",\"class\":\"d\",\"source\":\"{}\",\"trace_ops\":{},\"ids\":{},\"repeat\":{}}}", t.name, t.source, t.ops, t.ids, t.repeat);
    }
    let _ = write!(w, "]}}");
    let n = w.1;
    unsafe { *META.1.get() = n };
    buf.as_ptr()
}

#[no_mangle]
pub extern "C" fn bench_meta_len() -> u32 {
    unsafe { *META.1.get() as u32 }
}
