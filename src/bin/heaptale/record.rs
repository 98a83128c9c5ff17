//! `heaptale record [--out DIR] [--keep-raw] -- COMMAND [ARGS]`: runs a Linux program under
//! the interposer `libheaptale_record.so` (the workspace member `record/`, built with
//! `cargo build -p heaptale-record --release`), then turns each process's raw log into a
//! malloc-lab `.rep` trace.
//!
//! The conversion: every block gets the next id (ids are reused only past heaptale's limit
//! of ids); malloc, calloc, memalign, posix_memalign, aligned_alloc, valloc and pvalloc are
//! `a`, realloc of a known block `r` (of NULL, or of a block the log never saw allocated,
//! `a`), free `f`; dropped are free(NULL), frees of blocks the log never saw allocated (a
//! fork child's inherited blocks, for one), failed calls, and sizes of 4 GiB or more. A
//! realloc to 0 that returns NULL freed its block (glibc); an address handed out while the
//! log still holds it live frees the old id first. Whatever is live at the end is freed, by
//! id, as the shared traces do. Past heaptale's limit of ops the trace is cut (and says so).

use heaptale::trace::{MAX_IDS, MAX_OPS, MAX_SIZE};
use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The interposer's file name.
pub const LIB: &str = "libheaptale_record.so";

#[derive(clap::Args)]
pub struct RecordArgs {
    /// The directory for the traces, created if missing.
    #[arg(long, value_name = "DIR", default_value = "heaptale-record")]
    out: PathBuf,
    /// Keep the raw logs (DIR/raw-PID/heaptale-PID-SEQ.raw) after converting them.
    #[arg(long)]
    keep_raw: bool,
    /// The program to run and its arguments (after `--`).
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    command: Vec<OsString>,
}

// ---------------------------------------------------------------- the raw log
// Written by record/src/lib.rs: keep the two in step.

const MAGIC: [u8; 8] = *b"HTREC01\n";
const HEADER: usize = 256;
const RECORD: usize = 32;

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

/// A raw log's header.
#[derive(Debug, Clone)]
pub struct RawHeader {
    pub pid: u64,
    pub ppid: u64,
    /// How many `exec`s under this pid came before this log's program.
    pub seq: u64,
    pub start_ns: u64,
    pub flags: u64,
    pub comm: String,
    pub cmdline: String,
}

fn word(b: &[u8], i: usize) -> u64 {
    u64::from_ne_bytes(b[i * 8..i * 8 + 8].try_into().unwrap())
}

fn c_string(b: &[u8]) -> String {
    let end = b.iter().rposition(|&c| c != 0).map_or(0, |i| i + 1);
    let text: Vec<u8> = b[..end]
        .iter()
        .map(|&c| if c == 0 { b' ' } else { c })
        .collect();
    String::from_utf8_lossy(&text).into_owned()
}

pub fn parse_header(h: &[u8; HEADER]) -> Result<RawHeader, String> {
    if h[..8] != MAGIC {
        return Err("not a heaptale-record log (bad magic)".into());
    }
    if word(h, 6) != RECORD as u64 {
        return Err(format!(
            "records of {} bytes, expected {RECORD}",
            word(h, 6)
        ));
    }
    Ok(RawHeader {
        pid: word(h, 1),
        ppid: word(h, 2),
        seq: word(h, 3),
        start_ns: word(h, 4),
        flags: word(h, 5),
        comm: c_string(&h[64..80]),
        cmdline: c_string(&h[80..HEADER]),
    })
}

// ---------------------------------------------------------------- conversion

/// What a conversion made and left out.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Calls logged, by function.
    pub malloc: u64,
    pub calloc: u64,
    pub realloc: u64,
    pub free: u64,
    pub memalign: u64,
    /// Ops of the trace.
    pub a: u64,
    pub r: u64,
    pub f: u64,
    pub ids: u32,
    /// Dropped: free(NULL), frees of blocks never seen allocated, failed calls, sizes above
    /// the trace format's limit.
    pub free_null: u64,
    pub free_unknown: u64,
    pub failed: u64,
    pub too_large: u64,
    /// Reallocs of blocks never seen allocated (written as `a`).
    pub realloc_unknown: u64,
    /// Addresses handed out while still live in the log (the old id freed first).
    pub reused_live: u64,
    /// Frees of the blocks live at the end.
    pub end_frees: u64,
    /// Records claimed but never written (a thread stopped mid-call).
    pub unwritten: u64,
    /// The trace stops early: heaptale's op or id limit.
    pub cut: bool,
}

impl Stats {
    pub fn ops(&self) -> u64 {
        self.a + self.r + self.f
    }
}

/// One process's log turned into a `.rep` trace.
#[derive(Default)]
pub struct Converter {
    body: String,
    live: HashMap<u64, u32>,
    /// Blocks inside a realloc (begun, not yet ended), by their old address and thread.
    pending: HashMap<(u64, u64), u32>,
    next_id: u32,
    /// Freed ids, kept only once every id has been used.
    spare: Vec<u32>,
    pub stats: Stats,
}

impl Converter {
    fn op_f(&mut self, id: u32) {
        let _ = writeln!(self.body, "f {id}");
        self.stats.f += 1;
        if self.next_id == MAX_IDS {
            self.spare.push(id);
        }
    }

    fn new_id(&mut self) -> Option<u32> {
        if self.next_id < MAX_IDS {
            self.next_id += 1;
            Some(self.next_id - 1)
        } else {
            self.spare.pop()
        }
    }

    /// A block handed out at `addr`.
    fn alloc(&mut self, addr: u64, size: u64) {
        if addr == 0 {
            self.stats.failed += 1;
            return;
        }
        if let Some(old) = self.live.remove(&addr) {
            self.stats.reused_live += 1;
            self.op_f(old);
        }
        if size > MAX_SIZE {
            self.stats.too_large += 1;
            return;
        }
        let Some(id) = self.new_id() else {
            self.stats.cut = true;
            return;
        };
        let _ = writeln!(self.body, "a {id} {size}");
        self.stats.a += 1;
        self.live.insert(addr, id);
    }

    /// Takes one record; false once the trace is full (the rest is ignored).
    pub fn record(&mut self, r: [u64; 4]) -> bool {
        if self.stats.cut {
            return false;
        }
        // Room for this op, the one it may free first, and the final frees of every block.
        if self.stats.ops() + (self.live.len() + self.pending.len()) as u64 + 3 > MAX_OPS as u64 {
            self.stats.cut = true;
            return false;
        }
        let [w0, arg, size, result] = r;
        // Realloc's records carry the calling thread above the op.
        let thread = w0 >> 8;
        match w0 & 0xFF {
            0 => self.stats.unwritten += 1,
            OP_MALLOC => {
                self.stats.malloc += 1;
                self.alloc(result, size);
            }
            OP_CALLOC => {
                self.stats.calloc += 1;
                self.alloc(result, size);
            }
            OP_MEMALIGN | OP_POSIX_MEMALIGN | OP_ALIGNED_ALLOC | OP_VALLOC | OP_PVALLOC => {
                self.stats.memalign += 1;
                self.alloc(result, size);
            }
            OP_FREE => {
                self.stats.free += 1;
                if arg == 0 {
                    self.stats.free_null += 1;
                } else if let Some(id) = self.live.remove(&arg) {
                    self.op_f(id);
                } else {
                    self.stats.free_unknown += 1;
                }
            }
            OP_REALLOC_BEGIN => {
                // The old address may be handed out again from here on.
                if let Some(id) = self.live.remove(&arg) {
                    self.pending.insert((arg, thread), id);
                }
            }
            OP_REALLOC => {
                self.stats.realloc += 1;
                if arg == 0 {
                    self.alloc(result, size);
                    return true;
                }
                // A begin record not written (or not logged): the block is still in `live`.
                let id = self
                    .pending
                    .remove(&(arg, thread))
                    .or_else(|| self.live.remove(&arg));
                match (id, result) {
                    (Some(id), 0) if size == 0 => self.op_f(id), // realloc(p, 0) freed p
                    (Some(id), 0) => {
                        self.stats.failed += 1;
                        self.live.insert(arg, id);
                    }
                    (None, 0) => self.stats.failed += 1,
                    (Some(id), new) => {
                        if let Some(old) = self.live.remove(&new) {
                            self.stats.reused_live += 1;
                            self.op_f(old);
                        }
                        if size > MAX_SIZE {
                            self.stats.too_large += 1;
                            self.op_f(id);
                        } else {
                            let _ = writeln!(self.body, "r {id} {size}");
                            self.stats.r += 1;
                            self.live.insert(new, id);
                        }
                    }
                    (None, new) => {
                        self.stats.realloc_unknown += 1;
                        self.alloc(new, size);
                    }
                }
            }
            _ => self.stats.unwritten += 1,
        }
        true
    }

    /// Frees what is still live, by id, and returns the trace's text and its stats.
    pub fn finish(mut self) -> (String, Stats) {
        let mut left: Vec<u32> = self
            .live
            .values()
            .chain(self.pending.values())
            .copied()
            .collect();
        left.sort_unstable();
        self.stats.end_frees = left.len() as u64;
        for id in left {
            self.op_f(id);
        }
        self.stats.ids = self.next_id;
        let s = &self.stats;
        let text = format!("0\n{}\n{}\n1\n{}", s.ids, s.ops(), self.body);
        (text, self.stats)
    }
}

/// Converts one raw log file.
pub fn convert_file(path: &Path) -> Result<(RawHeader, String, Stats), String> {
    let f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut r = io::BufReader::with_capacity(1 << 20, f);
    let mut h = [0u8; HEADER];
    r.read_exact(&mut h)
        .map_err(|_| "shorter than its header".to_string())?;
    let header = parse_header(&h)?;
    let mut c = Converter::default();
    let mut rec = [0u8; RECORD];
    // The log ends in zeros (the rest of its last 4 MiB chunk): those are not records.
    let mut zeros = 0u64;
    loop {
        match r.read_exact(&mut rec) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e.to_string()),
        }
        let w = [word(&rec, 0), word(&rec, 1), word(&rec, 2), word(&rec, 3)];
        if w == [0; 4] {
            zeros += 1;
            continue;
        }
        // Zero records between written ones: claimed, never written.
        c.stats.unwritten += std::mem::take(&mut zeros);
        if !c.record(w) {
            break;
        }
    }
    let (text, stats) = c.finish();
    Ok((header, text, stats))
}

// ---------------------------------------------------------------- the command

/// Where the interposer is looked for, in order.
fn candidates() -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        v.push(dir.join(LIB));
    }
    for base in [
        PathBuf::from("target"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target"),
    ] {
        for profile in ["release", "debug"] {
            let p = base.join(profile).join(LIB);
            if !v.contains(&p) {
                v.push(p);
            }
        }
    }
    v
}

fn find_library() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("HEAPTALE_RECORD_LIB") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!(
                "HEAPTALE_RECORD_LIB names {}, which is not a file",
                p.display()
            ))
        };
    }
    let looked = candidates();
    if let Some(p) = looked.iter().find(|p| p.is_file()) {
        return Ok(p.clone());
    }
    let list: Vec<String> = looked
        .iter()
        .map(|p| format!("  {}", p.display()))
        .collect();
    Err(format!(
        "the recording library {LIB} was not found; looked at\n{}\nbuild it with `cargo build -p heaptale-record --release` \
         (it lands next to target/release/heaptale), or set HEAPTALE_RECORD_LIB to its path",
        list.join("\n")
    ))
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A command line on one line: whitespace runs as one space, at most `max` characters.
fn one_line(s: &str, max: usize) -> String {
    let flat = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        flat
    } else {
        flat.chars().take(max - 3).collect::<String>() + "..."
    }
}

fn file_stem(h: &RawHeader) -> String {
    let mut name: String = h
        .comm
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() || name.starts_with('.') {
        name.insert_str(0, "process");
    }
    if h.seq == 0 {
        format!("{name}-{}", h.pid)
    } else {
        format!("{name}-{}-{}", h.pid, h.seq)
    }
}

/// Ignores SIGINT in heaptale while the child runs (Ctrl-C stops the program, and its
/// traces are still written); restores the old handler on drop.
#[cfg(unix)]
struct IgnoreInterrupt(libc::sighandler_t);
#[cfg(unix)]
impl IgnoreInterrupt {
    fn new() -> Self {
        // SAFETY: installs SIG_IGN; the previous disposition is restored on drop.
        IgnoreInterrupt(unsafe { libc::signal(libc::SIGINT, libc::SIG_IGN) })
    }
}
#[cfg(unix)]
impl Drop for IgnoreInterrupt {
    fn drop(&mut self) {
        // SAFETY: restores what `new` replaced.
        unsafe { libc::signal(libc::SIGINT, self.0) };
    }
}

#[cfg(not(unix))]
struct IgnoreInterrupt;
#[cfg(not(unix))]
impl IgnoreInterrupt {
    fn new() -> Self {
        IgnoreInterrupt
    }
}

pub fn record(args: &RecordArgs, out: &mut impl Write) -> ExitCode {
    const BAD: u8 = 2;
    if !cfg!(target_os = "linux") {
        eprintln!("heaptale: record works on Linux only (it preloads a library with LD_PRELOAD)");
        return ExitCode::from(BAD);
    }
    let lib = match find_library().and_then(|p| {
        p.canonicalize()
            .map_err(|e| format!("{}: {e}", p.display()))
    }) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("heaptale: {e}");
            return ExitCode::from(BAD);
        }
    };
    let lib_text = lib.to_string_lossy().into_owned();
    if lib_text.contains([' ', ':']) {
        eprintln!("heaptale: {lib_text}: LD_PRELOAD cannot name a path with a space or a colon; copy the library elsewhere and set HEAPTALE_RECORD_LIB");
        return ExitCode::from(BAD);
    }
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        eprintln!("heaptale: cannot create {}: {e}", args.out.display());
        return ExitCode::from(BAD);
    }
    let out_dir = match args.out.canonicalize() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("heaptale: {}: {e}", args.out.display());
            return ExitCode::from(BAD);
        }
    };
    let raw_dir = out_dir.join(format!("raw-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&raw_dir);
    if let Err(e) = std::fs::create_dir(&raw_dir) {
        eprintln!("heaptale: cannot create {}: {e}", raw_dir.display());
        return ExitCode::from(BAD);
    }
    let program = &args.command[0];
    let shown = one_line(
        &args
            .command
            .iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" "),
        100,
    );
    let preload = match std::env::var_os("LD_PRELOAD") {
        Some(old) if !old.is_empty() => {
            let mut v = OsString::from(&lib_text);
            v.push(" ");
            v.push(old);
            v
        }
        _ => OsString::from(&lib_text),
    };
    let child = std::process::Command::new(program)
        .args(&args.command[1..])
        .env("HEAPTALE_RECORD_DIR", &raw_dir)
        .env("LD_PRELOAD", &preload)
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&raw_dir);
            let why = match e.kind() {
                io::ErrorKind::NotFound => "no such command".to_string(),
                io::ErrorKind::PermissionDenied => {
                    "permission denied (not an executable?)".to_string()
                }
                _ => e.to_string(),
            };
            eprintln!("heaptale: cannot run {}: {why}", program.to_string_lossy());
            return ExitCode::from(BAD);
        }
    };
    let status = {
        let _quiet = IgnoreInterrupt::new();
        child.wait()
    };

    // Every log, oldest process first.
    let mut logs = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&raw_dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "raw") {
                logs.push(p);
            }
        }
    }
    let mut done = Vec::new();
    let mut failed = false;
    for p in &logs {
        match convert_file(p) {
            Ok(t) => done.push(t),
            Err(e) => {
                eprintln!("heaptale: {}: {e}", p.display());
                failed = true;
            }
        }
    }
    done.sort_by_key(|(h, _, _)| (h.start_ns, h.pid, h.seq));
    let mut written = 0;
    let _ = writeln!(
        out,
        "recorded `{shown}`: {} process{}",
        done.len(),
        if done.len() == 1 { "" } else { "es" }
    );
    for (h, text, s) in &done {
        let what = one_line(
            if h.cmdline.is_empty() {
                &h.comm
            } else {
                &h.cmdline
            },
            60,
        );
        if s.ops() == 0 {
            let _ = writeln!(out, "  (no trace)  pid {} ({what}): no allocations", h.pid);
            continue;
        }
        let path = out_dir.join(format!("{}.rep", file_stem(h)));
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!("heaptale: cannot write {}: {e}", path.display());
            failed = true;
            continue;
        }
        written += 1;
        let shown_path = args.out.join(path.file_name().unwrap());
        let _ = writeln!(
            out,
            "  {}  pid {}, parent {}: {} ops (a {}, r {}, f {}), {} ids  [{what}]",
            shown_path.display(),
            h.pid,
            h.ppid,
            thousands(s.ops()),
            thousands(s.a),
            thousands(s.r),
            thousands(s.f),
            thousands(s.ids as u64)
        );
        let mut notes = Vec::new();
        let mut note = |n: u64, what: &str| {
            if n > 0 {
                notes.push(format!("{} {what}", thousands(n)));
            }
        };
        note(s.free_null, "free(NULL) dropped");
        note(
            s.free_unknown,
            "frees of blocks allocated before the log dropped",
        );
        note(s.failed, "failed calls dropped");
        note(s.too_large, "blocks of 4 GiB or more dropped");
        note(s.realloc_unknown, "reallocs of unseen blocks as a");
        note(s.reused_live, "addresses reused while live");
        note(s.unwritten, "records cut short");
        note(s.end_frees, "blocks live at the end freed");
        if s.cut {
            notes.push(format!(
                "cut at heaptale's limit ({} ops, {} ids)",
                thousands(MAX_OPS as u64),
                thousands(MAX_IDS as u64)
            ));
        }
        if h.flags & FLAG_FULL != 0 {
            notes.push("the log filled up (16 GiB): later calls are missing".into());
        }
        if h.flags & FLAG_EXITED == 0 {
            notes.push("ended without exit (exec, _exit or a signal)".into());
        }
        if !notes.is_empty() {
            let _ = writeln!(out, "      {}", notes.join("; "));
        }
    }
    if !args.keep_raw {
        let _ = std::fs::remove_dir_all(&raw_dir);
    } else {
        let _ = writeln!(out, "raw logs kept in {}", raw_dir.display());
    }
    if written == 0 && !failed {
        eprintln!(
            "heaptale: no allocation was recorded (a static or setuid program ignores LD_PRELOAD; one that clears its \
             environment drops it)"
        );
        failed = true;
    }
    match status {
        Ok(s) if s.success() => ExitCode::from(if failed { 1 } else { 0 }),
        Ok(s) => {
            eprintln!(
                "heaptale: {} ended with {s}; its traces are written all the same",
                program.to_string_lossy()
            );
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("heaptale: waiting for {}: {e}", program.to_string_lossy());
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(op: u64, arg: u64, size: u64, result: u64) -> [u64; 4] {
        [op, arg, size, result]
    }

    fn convert(records: &[[u64; 4]]) -> (String, Stats) {
        let mut c = Converter::default();
        for &r in records {
            c.record(r);
        }
        c.finish()
    }

    #[test]
    fn calls_become_ops() {
        let (text, s) = convert(&[
            rec(OP_MALLOC, 0, 24, 0x1000),
            rec(OP_CALLOC, 0, 64, 0x2000),
            rec(OP_MEMALIGN | 64 << 8, 0, 100, 0x3000),
            rec(OP_REALLOC_BEGIN, 0x1000, 200, 0),
            rec(OP_REALLOC, 0x1000, 200, 0x4000),
            rec(OP_FREE, 0, 0, 0),         // free(NULL)
            rec(OP_FREE, 0x9999, 0, 0),    // never allocated
            rec(OP_MALLOC, 0, 10, 0),      // failed
            rec(OP_REALLOC, 0, 8, 0x5000), // realloc(NULL, 8)
            rec(OP_FREE, 0x2000, 0, 0),
            rec(OP_POSIX_MEMALIGN | 16 << 8, 0, 32, 0x1000), // the old address again
        ]);
        assert_eq!(text, "0\n5\n11\n1\na 0 24\na 1 64\na 2 100\nr 0 200\na 3 8\nf 1\na 4 32\nf 0\nf 2\nf 3\nf 4\n");
        assert_eq!(
            (
                s.a,
                s.r,
                s.f,
                s.ids,
                s.free_null,
                s.free_unknown,
                s.failed,
                s.end_frees
            ),
            (5, 1, 5, 5, 1, 1, 1, 4)
        );
        heaptale::trace::parse_rep(&text).unwrap();
    }

    #[test]
    fn realloc_edges() {
        let (text, s) = convert(&[
            rec(OP_MALLOC, 0, 24, 0x1000),
            rec(OP_MALLOC, 0, 24, 0x2000),
            // realloc(p, 0) returning NULL freed p.
            rec(OP_REALLOC_BEGIN, 0x1000, 0, 0),
            rec(OP_REALLOC, 0x1000, 0, 0),
            // A failed realloc keeps the block.
            rec(OP_REALLOC_BEGIN, 0x2000, 1 << 20, 0),
            rec(OP_REALLOC, 0x2000, 1 << 20, 0),
            // Between begin and end another thread gets the old address.
            rec(OP_REALLOC_BEGIN, 0x2000, 48, 0),
            rec(OP_MALLOC, 0, 16, 0x2000),
            rec(OP_REALLOC, 0x2000, 48, 0x3000),
            // A realloc of a block never seen allocated.
            rec(OP_REALLOC_BEGIN, 0x7000, 8, 0),
            rec(OP_REALLOC, 0x7000, 8, 0x8000),
            // A claimed, never written record.
            rec(0, 0, 0, 0),
        ]);
        assert_eq!(
            text,
            "0\n4\n9\n1\na 0 24\na 1 24\nf 0\na 2 16\nr 1 48\na 3 8\nf 1\nf 2\nf 3\n"
        );
        assert_eq!(
            (s.failed, s.realloc_unknown, s.unwritten, s.reused_live),
            (1, 1, 1, 0)
        );
        heaptale::trace::parse_rep(&text).unwrap();
    }

    #[test]
    fn reallocs_of_one_address_on_two_threads() {
        let (t1, t2) = (0x7f00_0000_1000u64 << 8, 0x7f00_0080_2000u64 << 8);
        let (text, s) = convert(&[
            rec(OP_MALLOC, 0, 24, 0x1000),
            rec(OP_REALLOC_BEGIN | t1, 0x1000, 4000, 0),
            // Thread 1's block moves; thread 2 gets the old address and reallocs it in turn.
            rec(OP_MALLOC, 0, 16, 0x1000),
            rec(OP_REALLOC_BEGIN | t2, 0x1000, 32, 0),
            rec(OP_REALLOC | t1, 0x1000, 4000, 0x9000),
            rec(OP_REALLOC | t2, 0x1000, 32, 0x1000),
        ]);
        assert_eq!(
            text,
            "0\n2\n6\n1\na 0 24\na 1 16\nr 0 4000\nr 1 32\nf 0\nf 1\n"
        );
        assert_eq!((s.reused_live, s.realloc_unknown), (0, 0));
    }

    #[test]
    fn reused_live_address_and_too_large() {
        let (text, s) = convert(&[
            rec(OP_MALLOC, 0, 24, 0x1000),
            rec(OP_MALLOC, 0, 32, 0x1000), // its free was never logged
            rec(OP_MALLOC, 0, 1 << 33, 0x9000),
            rec(OP_FREE, 0x9000, 0, 0),
        ]);
        assert_eq!(text, "0\n2\n4\n1\na 0 24\nf 0\na 1 32\nf 1\n");
        assert_eq!((s.reused_live, s.too_large, s.free_unknown), (1, 1, 1));
    }

    #[test]
    fn empty_log_is_an_empty_trace() {
        let (text, s) = convert(&[]);
        assert_eq!(text, "0\n0\n0\n1\n");
        assert_eq!(s.ops(), 0);
    }

    #[test]
    fn names() {
        let h = RawHeader {
            pid: 7,
            ppid: 1,
            seq: 0,
            start_ns: 0,
            flags: 0,
            comm: "py thon/3".into(),
            cmdline: String::new(),
        };
        assert_eq!(file_stem(&h), "py_thon_3-7");
        assert_eq!(
            file_stem(&RawHeader {
                seq: 2,
                comm: String::new(),
                ..h
            }),
            "process-7-2"
        );
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(12), "12");
        assert_eq!(
            one_line("python3 -c '\nx = 1\n'", 100),
            "python3 -c ' x = 1 '"
        );
        assert_eq!(one_line("abcdefghij", 8), "abcde...");
    }
}
