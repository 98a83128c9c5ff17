//! `heaptale-record`: an `LD_PRELOAD` interposer that logs a Linux program's malloc-family
//! calls, one raw log per process, for `heaptale record` to turn into `.rep` traces.
//!
//! Exported: `malloc`, `calloc`, `realloc`, `free`, `memalign`, `posix_memalign`,
//! `aligned_alloc`, `valloc`, `pvalloc` (logged, then or first forwarded to the next
//! definition, `dlsym(RTLD_NEXT, ...)`, normally glibc's) and `malloc_usable_size`
//! (forwarded). With `HEAPTALE_RECORD_DIR` unset the library only forwards.
//!
//! Discipline in the hooks: nothing here allocates (no `Vec`, no formatting, no `std`
//! thread locals), takes a blocking lock, or panics; only atomics, raw pointers and system
//! calls (`open`, `pwrite`, `ftruncate`, `mmap`).
//!
//! * **The log** is the file `$HEAPTALE_RECORD_DIR/heaptale-PID-SEQ.raw`, made at the
//!   process's first logged call (SEQ counts `exec`s under one pid: the file is created with
//!   `O_EXCL`, the first free SEQ wins). A call claims its record slot with one `fetch_add`
//!   on a cursor and writes 32 bytes into a `MAP_SHARED` mapping of the file, in 4 MiB
//!   chunks mapped on first use (a spinlock guards only the mapping of a new chunk). The
//!   bytes are in the file the moment they are written: nothing to flush at exit, and a
//!   process that calls `_exit`, `exec`s or is killed still leaves its whole log.
//! * **Order across threads**: `free` claims its slot before the block goes back to libc, an
//!   allocation after it came from libc, and `realloc` of a block logs twice (a begin before
//!   the call, the outcome after), so the log never shows an address handed out while it is
//!   still live.
//! * **Before the log is ready**: the first call resolves the real functions; calls made
//!   meanwhile on the resolving thread (`dlsym` calls `calloc`) are served from a static
//!   bump buffer that is never given to libc (`free` of it is ignored, `realloc` copies it
//!   out); other threads wait for the resolution to finish.
//! * **Recursion**: a table of the threads inside a hook, keyed by `pthread_self()`, lets a
//!   call made from within a hook (a signal handler, libc calling itself) go straight to
//!   libc unlogged.
//! * **fork**: a `pthread_atfork` child handler drops the parent's mappings and state; the
//!   child starts its own log at its first call.
//! * **exit**: a `.fini_array` destructor marks the log's header "exited" (a log without
//!   the mark was cut short by `_exit`, `exec` or a signal; it is whole all the same).
//!
//! Limits: glibc on 64-bit Linux (the hooks take `dlsym(RTLD_NEXT)`'s functions as glibc's);
//! a child made by a raw `clone` or `vfork` (no atfork handlers) that allocates before
//! `exec`, or an atfork child handler registered before this library's that allocates,
//! writes into the parent's log; static and setuid programs ignore `LD_PRELOAD`.
//!
//! The raw format, read by `src/bin/heaptale/record.rs` (keep the two in step): a 256-byte
//! header (magic `HTREC01\n`, then native-endian u64s: pid, parent pid, SEQ, start time in
//! ns of `CLOCK_MONOTONIC`, flags (1: exited, 2: log full), record size 32, unused; then
//! `/proc/self/comm` in 16 bytes and `/proc/self/cmdline` in 176, NUL-padded), then 32-byte
//! records of four native-endian u64s: `op | align << 8` (the aligned calls) or `op |
//! pthread_self() << 8` (realloc's two records), pointer argument, size in bytes (calloc's
//! product), result. A record whose first word is 0 was claimed but never written.
#![cfg(target_os = "linux")]
#![allow(clippy::missing_safety_doc)]

use core::cell::UnsafeCell;
use core::ffi::{c_char, c_int, c_void};
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicU8, AtomicUsize, Ordering::*};

// ---------------------------------------------------------------- raw format

const MAGIC: [u8; 8] = *b"HTREC01\n";
const HEADER: usize = 256;
const RECORD: usize = 32;
const CHUNK: usize = 4 << 20;
const MAX_CHUNKS: usize = 4096; // 16 GiB of log, about 537 million calls

const OP_MALLOC: u64 = 1;
const OP_CALLOC: u64 = 2;
const OP_REALLOC_BEGIN: u64 = 3;
const OP_REALLOC: u64 = 4;
const OP_FREE: u64 = 5;
const OP_MEMALIGN: u64 = 6;
const OP_POSIX_MEMALIGN: u64 = 7;
const OP_ALIGNED_ALLOC: u64 = 8;
const OP_VALLOC: u64 = 9;
const OP_PVALLOC: u64 = 10;

const FLAG_EXITED: u64 = 1;
const FLAG_FULL: u64 = 2;

// ---------------------------------------------------------------- the real functions

type MallocFn = unsafe extern "C" fn(usize) -> *mut c_void;
type CallocFn = unsafe extern "C" fn(usize, usize) -> *mut c_void;
type ReallocFn = unsafe extern "C" fn(*mut c_void, usize) -> *mut c_void;
type FreeFn = unsafe extern "C" fn(*mut c_void);
type MemalignFn = unsafe extern "C" fn(usize, usize) -> *mut c_void;
type PosixMemalignFn = unsafe extern "C" fn(*mut *mut c_void, usize, usize) -> c_int;
type UsableFn = unsafe extern "C" fn(*mut c_void) -> usize;

struct Real {
    malloc: AtomicUsize,
    calloc: AtomicUsize,
    realloc: AtomicUsize,
    free: AtomicUsize,
    memalign: AtomicUsize,
    posix_memalign: AtomicUsize,
    aligned_alloc: AtomicUsize,
    valloc: AtomicUsize,
    pvalloc: AtomicUsize,
    usable: AtomicUsize,
}

static REAL: Real = Real {
    malloc: AtomicUsize::new(0),
    calloc: AtomicUsize::new(0),
    realloc: AtomicUsize::new(0),
    free: AtomicUsize::new(0),
    memalign: AtomicUsize::new(0),
    posix_memalign: AtomicUsize::new(0),
    aligned_alloc: AtomicUsize::new(0),
    valloc: AtomicUsize::new(0),
    pvalloc: AtomicUsize::new(0),
    usable: AtomicUsize::new(0),
};

/// The resolved function in `slot`, if resolved.
macro_rules! real {
    ($slot:ident as $ty:ty) => {{
        let p = REAL.$slot.load(Acquire);
        if p == 0 {
            None
        } else {
            // SAFETY: the slot holds `dlsym`'s address for a function of this signature.
            Some(unsafe { core::mem::transmute::<usize, $ty>(p) })
        }
    }};
}

/// The resolved function in `slot` (resolved, for a logged call: `ready()` was true).
macro_rules! must {
    ($slot:ident as $ty:ty) => {
        match real!($slot as $ty) {
            Some(f) => f,
            None => libc::abort(),
        }
    };
}

unsafe fn resolve(slot: &AtomicUsize, name: &[u8]) {
    let p = libc::dlsym(libc::RTLD_NEXT, name.as_ptr() as *const c_char);
    slot.store(p as usize, Release);
}

// ---------------------------------------------------------------- start-up

/// 0: nothing resolved; 1: resolving (by `RESOLVER`); 2: ready.
static STATE: AtomicU8 = AtomicU8::new(0);
static RESOLVER: AtomicUsize = AtomicUsize::new(0);
/// Whether calls are logged (`HEAPTALE_RECORD_DIR` set, the log not broken).
static ENABLED: AtomicBool = AtomicBool::new(false);

/// A static byte buffer written only under a lock or before threads exist.
struct Buf<const N: usize>(UnsafeCell<[u8; N]>);
// SAFETY: every access is serialized (see each use).
unsafe impl<const N: usize> Sync for Buf<N> {}
impl<const N: usize> Buf<N> {
    const fn new() -> Self {
        Buf(UnsafeCell::new([0; N]))
    }
    fn ptr(&self) -> *mut u8 {
        self.0.get() as *mut u8
    }
}

/// `HEAPTALE_RECORD_DIR` with room for the file name; written once while resolving.
static PATH: Buf<4096> = Buf::new();
static DIR_LEN: AtomicUsize = AtomicUsize::new(0);

fn me() -> usize {
    // SAFETY: pthread_self only reads the thread pointer.
    unsafe { libc::pthread_self() as usize }
}

/// Makes the real functions callable. False only on the resolving thread while it resolves
/// (its calls, those `dlsym` makes, are served from the bump buffer).
#[inline]
fn ready() -> bool {
    STATE.load(Acquire) == 2 || init_slow()
}

#[cold]
fn init_slow() -> bool {
    let me = me();
    loop {
        match STATE.compare_exchange(0, 1, AcqRel, Acquire) {
            Ok(_) => {
                RESOLVER.store(me, Release);
                // SAFETY: dlsym with NUL-terminated names; getenv reads the environment.
                unsafe {
                    resolve(&REAL.malloc, b"malloc\0");
                    resolve(&REAL.calloc, b"calloc\0");
                    resolve(&REAL.realloc, b"realloc\0");
                    resolve(&REAL.free, b"free\0");
                    resolve(&REAL.memalign, b"memalign\0");
                    resolve(&REAL.posix_memalign, b"posix_memalign\0");
                    resolve(&REAL.aligned_alloc, b"aligned_alloc\0");
                    resolve(&REAL.valloc, b"valloc\0");
                    resolve(&REAL.pvalloc, b"pvalloc\0");
                    resolve(&REAL.usable, b"malloc_usable_size\0");
                    if REAL.malloc.load(Relaxed) == 0 || REAL.free.load(Relaxed) == 0 {
                        complain(b"heaptale-record: no malloc after this library (dlsym RTLD_NEXT failed)\n");
                        libc::abort();
                    }
                    let dir = libc::getenv(b"HEAPTALE_RECORD_DIR\0".as_ptr() as *const c_char);
                    if !dir.is_null() {
                        let n = libc::strlen(dir);
                        // Room for "/heaptale-PID-SEQ.raw" and the NUL.
                        if n > 0 && n < 4096 - 64 {
                            ptr::copy_nonoverlapping(dir as *const u8, PATH.ptr(), n);
                            DIR_LEN.store(n, Release);
                            ENABLED.store(true, Release);
                        } else {
                            complain(b"heaptale-record: HEAPTALE_RECORD_DIR is empty or too long; not recording\n");
                        }
                    }
                }
                STATE.store(2, Release);
                // After STATE is 2: pthread_atfork may allocate, from the real malloc.
                // SAFETY: registers a handler that only touches this library's statics.
                unsafe { libc::pthread_atfork(None, None, Some(after_fork_child)) };
                return true;
            }
            Err(2) => return true,
            Err(_) => {
                if RESOLVER.load(Acquire) == me {
                    return false;
                }
                // SAFETY: a plain system call.
                unsafe { libc::sched_yield() };
            }
        }
    }
}

fn complain(msg: &[u8]) {
    // SAFETY: write of a byte slice to standard error.
    unsafe { libc::write(2, msg.as_ptr() as *const c_void, msg.len()) };
}

#[used]
#[link_section = ".init_array"]
static CONSTRUCTOR: extern "C" fn() = constructor;

extern "C" fn constructor() {
    // Inside the guard: what resolving allocates (pthread_atfork) is not the program's.
    let _g = Guard::enter();
    ready();
}

#[used]
#[link_section = ".fini_array"]
static DESTRUCTOR: extern "C" fn() = destructor;

extern "C" fn destructor() {
    // The mapping stays: frees made by later destructors are still logged.
    set_flag(FLAG_EXITED);
}

// ---------------------------------------------------------------- the bump buffer

const BUMP_SIZE: usize = 256 << 10;
#[repr(C, align(4096))]
struct Bump(UnsafeCell<[u8; BUMP_SIZE]>);
// SAFETY: disjoint ranges are handed out by an atomic bump pointer.
unsafe impl Sync for Bump {}
static BUMP: Bump = Bump(UnsafeCell::new([0; BUMP_SIZE]));
static BUMP_TOP: AtomicUsize = AtomicUsize::new(0);

fn in_bump(p: *mut c_void) -> bool {
    let base = BUMP.0.get() as usize;
    (p as usize) >= base && (p as usize) < base + BUMP_SIZE
}

/// Zeroed memory from the bump buffer, a 16-byte size header before it; never reused.
fn bump(size: usize, align: usize) -> *mut c_void {
    let align = align.max(16);
    if !align.is_power_of_two() || size > BUMP_SIZE {
        return ptr::null_mut();
    }
    let base = BUMP.0.get() as usize;
    let mut top = BUMP_TOP.load(Relaxed);
    loop {
        let payload = (base + top + 16 + align - 1) & !(align - 1);
        let end = payload + size;
        if end > base + BUMP_SIZE {
            return ptr::null_mut();
        }
        match BUMP_TOP.compare_exchange_weak(top, end - base, AcqRel, Relaxed) {
            Ok(_) => {
                // SAFETY: [payload - 16, end) lies in the buffer and is ours alone.
                unsafe { ((payload - 16) as *mut usize).write(size) };
                return payload as *mut c_void;
            }
            Err(t) => top = t,
        }
    }
}

fn bump_size(p: *mut c_void) -> usize {
    // SAFETY: p came from `bump`, which wrote its size 16 bytes before it.
    unsafe { ((p as usize - 16) as *const usize).read() }
}

// ---------------------------------------------------------------- recursion guard

const GUARD_SLOTS: usize = 4096;
static GUARD: [AtomicUsize; GUARD_SLOTS] = [const { AtomicUsize::new(0) }; GUARD_SLOTS];

/// A thread's presence inside a hook.
enum Guard {
    /// This thread is already inside a hook: forward without logging.
    Nested,
    /// Marked in slot `.0`; unmarked on drop.
    Held(usize),
    /// Another thread holds this thread's slot (a hash collision): log unguarded.
    Unguarded,
}

impl Guard {
    #[inline]
    fn enter() -> Guard {
        let me = me();
        let h = ((me >> 6).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 52) % GUARD_SLOTS;
        match GUARD[h].compare_exchange(0, me, Acquire, Relaxed) {
            Ok(_) => Guard::Held(h),
            Err(v) if v == me => Guard::Nested,
            Err(_) => Guard::Unguarded,
        }
    }
    /// Whether this call is to be logged (then the real functions are resolved).
    #[inline]
    fn logs(&self) -> bool {
        !matches!(self, Guard::Nested) && ready() && ENABLED.load(Relaxed)
    }
}

impl Drop for Guard {
    #[inline]
    fn drop(&mut self) {
        if let Guard::Held(h) = *self {
            GUARD[h].store(0, Release);
        }
    }
}

// ---------------------------------------------------------------- the log

/// Records claimed so far (the next record's index).
static CURSOR: AtomicU64 = AtomicU64::new(0);
static CHUNKS: [AtomicPtr<u8>; MAX_CHUNKS] =
    [const { AtomicPtr::new(ptr::null_mut()) }; MAX_CHUNKS];
/// Guards the creation of the file and the mapping of chunks.
static MAP_LOCK: AtomicBool = AtomicBool::new(false);
/// The file exists; `PATH` holds its full name.
static FILE_READY: AtomicBool = AtomicBool::new(false);
static FLAGS: AtomicU64 = AtomicU64::new(0);

struct MapLock;
impl MapLock {
    fn take() -> MapLock {
        while MAP_LOCK
            .compare_exchange_weak(false, true, Acquire, Relaxed)
            .is_err()
        {
            // SAFETY: a plain system call.
            unsafe { libc::sched_yield() };
        }
        MapLock
    }
}
impl Drop for MapLock {
    fn drop(&mut self) {
        MAP_LOCK.store(false, Release);
    }
}

/// Appends one record.
#[inline]
fn log(op: u64, arg: *mut c_void, size: usize, result: *mut c_void) {
    let i = CURSOR.fetch_add(1, AcqRel) as usize;
    let off = HEADER + i * RECORD;
    let k = off / CHUNK;
    if k >= MAX_CHUNKS {
        set_flag(FLAG_FULL);
        return;
    }
    let mut base = CHUNKS[k].load(Acquire);
    if base.is_null() {
        base = map_chunk(k);
        if base.is_null() {
            return;
        }
    }
    // SAFETY: the record lies inside chunk k's mapping, and slot i is this call's alone.
    unsafe {
        let r = base.add(off % CHUNK) as *mut u64;
        r.add(1).write_volatile(arg as u64);
        r.add(2).write_volatile(size as u64);
        r.add(3).write_volatile(result as u64);
        r.write_volatile(op);
    }
}

/// Maps chunk `k` (creating the file first if need be); null when the log cannot be written
/// (then logging stops).
#[cold]
fn map_chunk(k: usize) -> *mut u8 {
    let _lock = MapLock::take();
    let p = CHUNKS[k].load(Acquire);
    if !p.is_null() {
        return p;
    }
    if !ENABLED.load(Acquire) {
        return ptr::null_mut();
    }
    // SAFETY: PATH is written only under MAP_LOCK (and once while resolving, before any log).
    unsafe {
        if !FILE_READY.load(Acquire) && !create_file() {
            ENABLED.store(false, Release);
            complain(
                b"heaptale-record: cannot create the log in HEAPTALE_RECORD_DIR; not recording\n",
            );
            return ptr::null_mut();
        }
        let fd = libc::open(PATH.ptr() as *const c_char, libc::O_RDWR | libc::O_CLOEXEC);
        let mut st: libc::stat = core::mem::zeroed();
        let mut p = libc::MAP_FAILED;
        if fd >= 0 && libc::fstat(fd, &mut st) == 0 {
            let want = ((k + 1) * CHUNK) as libc::off_t;
            // Grow only: another chunk further on may be mapped already.
            if st.st_size >= want || libc::ftruncate(fd, want) == 0 {
                p = libc::mmap(
                    ptr::null_mut(),
                    CHUNK,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED,
                    fd,
                    (k * CHUNK) as libc::off_t,
                );
            }
        }
        if fd >= 0 {
            libc::close(fd);
        }
        if p == libc::MAP_FAILED {
            ENABLED.store(false, Release);
            complain(b"heaptale-record: cannot grow the log; recording stops here\n");
            return ptr::null_mut();
        }
        CHUNKS[k].store(p as *mut u8, Release);
        p as *mut u8
    }
}

/// Appends a decimal number at `at`; returns the new end.
unsafe fn put_num(at: *mut u8, mut v: u64) -> *mut u8 {
    let mut digits = [0u8; 20];
    let mut n = 0;
    loop {
        digits[n] = b'0' + (v % 10) as u8;
        n += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for j in 0..n {
        at.add(j).write(digits[n - 1 - j]);
    }
    at.add(n)
}

unsafe fn put(at: *mut u8, s: &[u8]) -> *mut u8 {
    ptr::copy_nonoverlapping(s.as_ptr(), at, s.len());
    at.add(s.len())
}

/// Reads a small /proc file into `buf`; returns the bytes read.
unsafe fn read_proc(name: &[u8], buf: &mut [u8]) -> usize {
    let fd = libc::open(
        name.as_ptr() as *const c_char,
        libc::O_RDONLY | libc::O_CLOEXEC,
    );
    if fd < 0 {
        return 0;
    }
    let n = libc::read(fd, buf.as_mut_ptr() as *mut c_void, buf.len());
    libc::close(fd);
    n.max(0) as usize
}

/// Creates `DIR/heaptale-PID-SEQ.raw` with its header. Under MAP_LOCK.
unsafe fn create_file() -> bool {
    let pid = libc::getpid() as u64;
    let dir = DIR_LEN.load(Acquire);
    for seq in 0..1000u64 {
        let mut end = put(PATH.ptr().add(dir), b"/heaptale-");
        end = put_num(end, pid);
        end = put(end, b"-");
        end = put_num(end, seq);
        end = put(end, b".raw\0");
        let _ = end;
        let fd = libc::open(
            PATH.ptr() as *const c_char,
            libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC,
            0o644 as libc::c_uint,
        );
        if fd < 0 {
            if *libc::__errno_location() == libc::EEXIST {
                continue;
            }
            return false;
        }
        let mut h = [0u8; HEADER];
        let mut ts: libc::timespec = core::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
        let words = [
            u64::from_ne_bytes(MAGIC),
            pid,
            libc::getppid() as u64,
            seq,
            (ts.tv_sec as u64)
                .wrapping_mul(1_000_000_000)
                .wrapping_add(ts.tv_nsec as u64),
            FLAGS.load(Acquire),
            RECORD as u64,
            0,
        ];
        for (j, w) in words.iter().enumerate() {
            h[j * 8..j * 8 + 8].copy_from_slice(&w.to_ne_bytes());
        }
        let n = read_proc(b"/proc/self/comm\0", &mut h[64..80]);
        if n > 0 && h[64 + n - 1] == b'\n' {
            h[64 + n - 1] = 0;
        }
        read_proc(b"/proc/self/cmdline\0", &mut h[80..HEADER]);
        let ok = libc::pwrite(fd, h.as_ptr() as *const c_void, HEADER, 0) == HEADER as isize;
        libc::close(fd);
        if !ok {
            return false;
        }
        FILE_READY.store(true, Release);
        return true;
    }
    false
}

/// Sets a header flag, in the file if it exists.
fn set_flag(flag: u64) {
    if FLAGS.fetch_or(flag, AcqRel) & flag != 0 || !FILE_READY.load(Acquire) {
        return;
    }
    let _lock = MapLock::take();
    // SAFETY: PATH holds the file's NUL-terminated name (FILE_READY), read under MAP_LOCK.
    unsafe {
        let fd = libc::open(
            PATH.ptr() as *const c_char,
            libc::O_WRONLY | libc::O_CLOEXEC,
        );
        if fd >= 0 {
            let w = FLAGS.load(Acquire).to_ne_bytes();
            libc::pwrite(fd, w.as_ptr() as *const c_void, 8, 40);
            libc::close(fd);
        }
    }
}

/// In the child of `fork`: forget the parent's log (its mappings are the parent's file).
extern "C" fn after_fork_child() {
    for c in CHUNKS.iter() {
        let p = c.swap(ptr::null_mut(), AcqRel);
        if !p.is_null() {
            // SAFETY: p is a CHUNK-long mapping made by map_chunk, no longer referenced.
            unsafe { libc::munmap(p as *mut c_void, CHUNK) };
        }
    }
    // Threads other than this one are gone; so are their guard marks. This thread is
    // inside fork, not inside a hook.
    for g in GUARD.iter() {
        g.store(0, Relaxed);
    }
    CURSOR.store(0, Release);
    FLAGS.store(0, Release);
    FILE_READY.store(false, Release);
    MAP_LOCK.store(false, Release);
    ENABLED.store(DIR_LEN.load(Acquire) > 0, Release);
}

// ---------------------------------------------------------------- the hooks

#[no_mangle]
pub unsafe extern "C" fn malloc(size: usize) -> *mut c_void {
    let g = Guard::enter();
    if !g.logs() {
        return match real!(malloc as MallocFn) {
            Some(f) => f(size),
            None => bump(size, 16),
        };
    }
    let p = must!(malloc as MallocFn)(size);
    log(OP_MALLOC, ptr::null_mut(), size, p);
    p
}

#[no_mangle]
pub unsafe extern "C" fn calloc(n: usize, size: usize) -> *mut c_void {
    let g = Guard::enter();
    if !g.logs() {
        return match real!(calloc as CallocFn) {
            Some(f) => f(n, size),
            None => n.checked_mul(size).map_or(ptr::null_mut(), |b| bump(b, 16)),
        };
    }
    let p = must!(calloc as CallocFn)(n, size);
    log(OP_CALLOC, ptr::null_mut(), n.saturating_mul(size), p);
    p
}

#[no_mangle]
pub unsafe extern "C" fn realloc(old: *mut c_void, size: usize) -> *mut c_void {
    if in_bump(old) {
        // Out of the bump buffer for good: a fresh (logged) block with the bytes copied.
        let p = malloc(size);
        if !p.is_null() {
            ptr::copy_nonoverlapping(old as *const u8, p as *mut u8, bump_size(old).min(size));
        }
        return p;
    }
    let g = Guard::enter();
    if !g.logs() {
        return match real!(realloc as ReallocFn) {
            Some(f) => f(old, size),
            None if old.is_null() => bump(size, 16),
            None => ptr::null_mut(),
        };
    }
    // The thread in both records: two threads may be inside reallocs of the same address
    // at once (the first one's block moved, the address handed to the second).
    let thread = (me() as u64) << 8;
    if !old.is_null() {
        log(OP_REALLOC_BEGIN | thread, old, size, ptr::null_mut());
    }
    let p = must!(realloc as ReallocFn)(old, size);
    log(OP_REALLOC | thread, old, size, p);
    p
}

#[no_mangle]
pub unsafe extern "C" fn free(p: *mut c_void) {
    if in_bump(p) {
        return;
    }
    let g = Guard::enter();
    if !g.logs() {
        if let Some(f) = real!(free as FreeFn) {
            f(p);
        }
        // Unresolved: only a block from elsewhere can be freed this early; keep it.
        return;
    }
    // Before libc has it back: no other thread can be handed it earlier in the log.
    log(OP_FREE, p, 0, ptr::null_mut());
    must!(free as FreeFn)(p);
}

/// The shared body of memalign, aligned_alloc, valloc and pvalloc.
#[inline]
unsafe fn aligned(
    op: u64,
    align: usize,
    size: usize,
    call: impl FnOnce() -> Option<*mut c_void>,
) -> *mut c_void {
    let g = Guard::enter();
    if !g.logs() {
        return call().unwrap_or_else(|| bump(size, align));
    }
    let p = call().unwrap_or(ptr::null_mut());
    log(op | (align as u64) << 8, ptr::null_mut(), size, p);
    p
}

#[no_mangle]
pub unsafe extern "C" fn memalign(align: usize, size: usize) -> *mut c_void {
    aligned(OP_MEMALIGN, align, size, || {
        real!(memalign as MemalignFn).map(|f| f(align, size))
    })
}

#[no_mangle]
pub unsafe extern "C" fn aligned_alloc(align: usize, size: usize) -> *mut c_void {
    aligned(OP_ALIGNED_ALLOC, align, size, || {
        real!(aligned_alloc as MemalignFn).map(|f| f(align, size))
    })
}

fn page_size() -> usize {
    // SAFETY: a plain libc query.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}

#[no_mangle]
pub unsafe extern "C" fn valloc(size: usize) -> *mut c_void {
    let page = page_size();
    aligned(OP_VALLOC, page, size, || {
        real!(valloc as MallocFn).map(|f| f(size))
    })
}

#[no_mangle]
pub unsafe extern "C" fn pvalloc(size: usize) -> *mut c_void {
    let page = page_size();
    let rounded = size.checked_add(page - 1).map_or(size, |s| s & !(page - 1));
    aligned(OP_PVALLOC, page, rounded, || {
        real!(pvalloc as MallocFn).map(|f| f(size))
    })
}

#[no_mangle]
pub unsafe extern "C" fn posix_memalign(out: *mut *mut c_void, align: usize, size: usize) -> c_int {
    let g = Guard::enter();
    if !g.logs() {
        return match real!(posix_memalign as PosixMemalignFn) {
            Some(f) => f(out, align, size),
            None => {
                let p = bump(size, align);
                if p.is_null() {
                    return libc::ENOMEM;
                }
                *out = p;
                0
            }
        };
    }
    let r = must!(posix_memalign as PosixMemalignFn)(out, align, size);
    let p = if r == 0 { *out } else { ptr::null_mut() };
    log(
        OP_POSIX_MEMALIGN | (align as u64) << 8,
        ptr::null_mut(),
        size,
        p,
    );
    r
}

#[no_mangle]
pub unsafe extern "C" fn malloc_usable_size(p: *mut c_void) -> usize {
    if p.is_null() {
        return 0;
    }
    if in_bump(p) {
        return bump_size(p);
    }
    ready();
    real!(usable as UsableFn).map_or(0, |f| f(p))
}
