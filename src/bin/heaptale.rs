//! `heaptale`: the engine's command line.
//!
//! ```text
//! heaptale policies
//! heaptale replay [--policy NAME] [--order ORDER] [--coalesce on|off] [--header BYTES]
//!                 [--align BYTES] [--heap-size BYTES] [--base ADDR] [--check-every N]
//!                 [--json] [--steps FILE] FILE...
//! heaptale replay --ostep [knobs] [--ostep-text | --ostep-quiz] [--steps FILE]
//!                 [--ops LIST | FILE... | --seed N --num-ops N --range N --percent-alloc N]
//! heaptale record [--out DIR] [--keep-raw] -- COMMAND [ARGS]     (Linux; see record.rs)
//! ```
//! `--ostep` reproduces OSTEP's `malloc.py` exactly (see `ostep.rs` next to this file).
//! Exit status: 0 when every trace replayed cleanly; 1 when a replay met an integrity error
//! or an allocation failure; 2 for bad input (unreadable file, malformed trace, bad knob).

use clap::{Parser, Subcommand, ValueEnum};
use heaptale::source::Arena;
use heaptale::trace::{self, Op, OpKind, Options, Report, Trace, NULL_ID};
use heaptale::{Config, Heap, HeapError, Order, PolicyKind};
use std::io::{self, Read, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[path = "heaptale/ostep.rs"]
mod ostep;
#[path = "heaptale/record.rs"]
mod record;

/// The largest input file read (a 10-million-op trace is about 150 MB).
const MAX_INPUT: u64 = 1 << 30;

#[derive(Parser)]
#[command(
    name = "heaptale",
    version,
    about = "Replay allocation traces on heaptale's allocator and measure them"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// List the placement policies, one per line with what it does.
    Policies,
    /// Replay traces (malloc-lab .rep files or heaptale scripts) with integrity checks.
    ///
    /// Prints, per trace, the ops, the peak live payload bytes, the heap bytes, the
    /// utilization (peak live payload / peak heap) and the integrity errors. Exit status:
    /// 0 clean, 1 integrity error or allocation failure, 2 bad input.
    Replay(ReplayArgs),
    /// Run a Linux program under the recording library and write one .rep trace per
    /// process (see README: "The command line tool").
    Record(record::RecordArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum OnOff {
    On,
    Off,
}

#[derive(clap::Args)]
struct ReplayArgs {
    /// Placement policy (see `heaptale policies`) [default: first; with --ostep: best].
    #[arg(long, value_parser = parse_policy)]
    policy: Option<PolicyKind>,
    /// Free-list order: addr, size-asc, size-desc, front, back (list policies only; OSTEP's
    /// ADDRSORT, SIZESORT+, SIZESORT-, INSERT-FRONT, INSERT-BACK are accepted) [default: addr].
    #[arg(long, value_parser = parse_order)]
    order: Option<Order>,
    /// Coalesce free neighbours (list policies only; the others always do) [default: on;
    /// with --ostep: off].
    #[arg(long, value_enum)]
    coalesce: Option<OnOff>,
    /// Header bytes before every payload [default: 8; with --ostep: 0].
    #[arg(long, value_name = "BYTES", value_parser = parse_u32)]
    header: Option<u32>,
    /// Payload alignment in bytes, a power of two [default: 8; with --ostep: 1, none, and
    /// any number above it rounds requests up to a multiple of it, as malloc.py's -a].
    #[arg(long, value_name = "BYTES", value_parser = parse_u32)]
    align: Option<u32>,
    /// A fixed heap of this many bytes that never grows (OSTEP's -S) [with --ostep: 100].
    #[arg(long, value_name = "BYTES", value_parser = parse_u32)]
    heap_size: Option<u32>,
    /// The address reports give the heap's start (OSTEP's -b); decimal or 0x hex [with
    /// --ostep: 1000].
    #[arg(long, value_name = "ADDR", value_parser = parse_usize)]
    base: Option<usize>,
    /// Run the heap checker after every N ops (0: only at the end).
    #[arg(long, value_name = "N", default_value = "0", value_parser = parse_u32)]
    check_every: u32,
    /// One JSON object per trace and line: trace, policy, ops, peak_live_bytes, heap_bytes,
    /// utilization, integrity_errors (a count).
    #[arg(long)]
    json: bool,
    /// Write one JSON object per op to FILE: {"i", "op", "id", "size", "addr", "error",
    /// "free_list": [[addr, size], ...]} (every free list, in list order). One trace only;
    /// meant for small traces (each line lists every free block).
    #[arg(long, value_name = "FILE")]
    steps: Option<String>,
    /// Reproduce OSTEP's free-space simulator, malloc.py, exactly: its addresses, free lists
    /// in its order, its quirks, its knob defaults (-S 100 -b 1000 -H 0, no alignment, best
    /// fit, address order, no coalescing). Ops come from --ops, from FILEs (malloc.py op
    /// lists like +10,-0,+20, scripts or .rep traces of malloc and free), or, with neither,
    /// are drawn at random as malloc.py draws them (--seed, --num-ops, --range,
    /// --percent-alloc).
    #[arg(long)]
    ostep: bool,
    /// With --ostep: the ops as malloc.py's -A takes them, e.g. "+10,-0,+20".
    #[arg(
        long,
        value_name = "LIST",
        requires = "ostep",
        conflicts_with = "files",
        allow_hyphen_values = true
    )]
    ops: Option<String>,
    /// With --ostep: print exactly what `malloc.py ... -c` prints.
    #[arg(long, requires = "ostep", conflicts_with_all = ["json", "ostep_quiz"])]
    ostep_text: bool,
    /// With --ostep: print exactly what malloc.py prints without -c (the questions).
    #[arg(long, requires = "ostep", conflicts_with = "json")]
    ostep_quiz: bool,
    /// With --ostep, random ops: the seed (malloc.py's -s) [default: 0].
    #[arg(
        long,
        value_name = "N",
        requires = "ostep",
        allow_negative_numbers = true
    )]
    seed: Option<i64>,
    /// With --ostep, random ops: how many (malloc.py's -n) [default: 10].
    #[arg(long, value_name = "N", requires = "ostep")]
    num_ops: Option<u64>,
    /// With --ostep, random ops: sizes from 1 to N (malloc.py's -r) [default: 10].
    #[arg(
        long,
        value_name = "N",
        requires = "ostep",
        allow_negative_numbers = true
    )]
    range: Option<i64>,
    /// With --ostep, random ops: the percent that are allocations (malloc.py's -P)
    /// [default: 50].
    #[arg(
        long,
        value_name = "N",
        requires = "ostep",
        allow_negative_numbers = true
    )]
    percent_alloc: Option<i64>,
    /// Trace files (`-` reads standard input). xz-compressed files must be decompressed first.
    #[arg(required_unless_present = "ostep", value_name = "FILE")]
    files: Vec<String>,
}

fn parse_policy(s: &str) -> Result<PolicyKind, String> {
    // OSTEP's upper-case names (-p BEST) are accepted too.
    s.to_ascii_lowercase()
        .parse()
        .map_err(|e: &str| e.to_string())
}
fn parse_order(s: &str) -> Result<Order, String> {
    // OSTEP's names (-l SIZESORT+) are accepted too.
    let ostep = Order::ALL
        .into_iter()
        .find(|&o| heaptale::trace::ostep::order_ostep_name(o).eq_ignore_ascii_case(s));
    ostep.map_or_else(|| s.parse().map_err(|e: &str| e.to_string()), Ok)
}
fn parse_u64(s: &str) -> Result<u64, String> {
    let t = s.trim().replace('_', "");
    let r = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16),
        None => t.parse(),
    };
    r.map_err(|_| format!("expected a number (decimal or 0x hex), found {s:?}"))
}
fn parse_u32(s: &str) -> Result<u32, String> {
    let v = parse_u64(s)?;
    u32::try_from(v).map_err(|_| format!("{v} is too large (at most {})", u32::MAX))
}
fn parse_usize(s: &str) -> Result<usize, String> {
    let v = parse_u64(s)?;
    usize::try_from(v).map_err(|_| format!("{v} is too large for an address"))
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // Help and version go to stdout with status 0; usage errors to stderr with 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let out = io::stdout();
    let mut out = out.lock();
    let status = match cli.cmd {
        Cmd::Policies => policies(&mut out),
        Cmd::Replay(args) if args.ostep => ostep::replay(&args, &mut out),
        Cmd::Replay(args) => replay(&args, &mut out),
        Cmd::Record(args) => record::record(&args, &mut out),
    };
    // A closed pipe (`heaptale ... | head`) is not an error worth a message.
    match out.flush() {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            eprintln!("heaptale: cannot write the output: {e}");
            ExitCode::from(2)
        }
        _ => status,
    }
}

fn policies(out: &mut impl Write) -> ExitCode {
    let width = PolicyKind::ALL
        .iter()
        .map(|p| p.name().len())
        .max()
        .unwrap_or(0);
    for p in PolicyKind::ALL {
        if writeln!(out, "{:width$}  {}", p.name(), p.description()).is_err() {
            break;
        }
    }
    ExitCode::SUCCESS
}

/// The worst outcome over all traces.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Clean = 0,
    Failed = 1,
    BadInput = 2,
}

fn replay(args: &ReplayArgs, out: &mut impl Write) -> ExitCode {
    let d = Config::default();
    let config = Config {
        policy: args.policy.unwrap_or(d.policy),
        order: args.order.unwrap_or(d.order),
        coalesce: args.coalesce.map_or(d.coalesce, |c| matches!(c, OnOff::On)),
        header: args.header.unwrap_or(d.header),
        align: args.align.unwrap_or(d.align),
        heap_size: args.heap_size,
        base: args.base,
    };
    // Knobs the engine refuses are reported once, before any file is read.
    let probe = Config {
        heap_size: None,
        ..config
    };
    let mut bad = Arena::new(heaptale::source::PAGE).and_then(|a| Heap::new(a, &probe).err());
    if config
        .heap_size
        .is_some_and(|n| n == 0 || n > heaptale::heap::MAX_HEAP)
    {
        bad = Some(HeapError::BadConfig(
            "the heap size must be between 1 byte and 1 GiB",
        ));
    }
    if let Some(e) = bad {
        eprintln!("heaptale: {e}");
        return ExitCode::from(Outcome::BadInput as u8);
    }
    let opts = Options {
        check_every: args.check_every,
        ..Options::default()
    };
    if args.steps.is_some() && args.files.len() != 1 {
        eprintln!("heaptale: --steps takes exactly one trace file");
        return ExitCode::from(Outcome::BadInput as u8);
    }
    let mut worst = Outcome::Clean;
    let mut stdin_used = false;
    for file in &args.files {
        let outcome = match load(file, &mut stdin_used) {
            Err(msg) => {
                eprintln!("heaptale: {file}: {msg}");
                Outcome::BadInput
            }
            Ok(trace) => match run(&config, &opts, &trace, args.steps.as_deref()) {
                Err(msg) => {
                    eprintln!("heaptale: {msg}");
                    Outcome::BadInput
                }
                Ok((report, time)) => {
                    if print_report(out, file, &config, &report, time, args.json).is_err() {
                        // Standard output is gone (a closed pipe): nobody reads further.
                        return ExitCode::from(worst.max(complain(file, &report)) as u8);
                    }
                    complain(file, &report)
                }
            },
        };
        worst = worst.max(outcome);
    }
    ExitCode::from(worst as u8)
}

/// Reads and parses one file.
fn load(file: &str, stdin_used: &mut bool) -> Result<Trace, String> {
    trace::parse(&read_text(file, stdin_used)?).map_err(|e| e.to_string())
}

/// Reads one text file (`-`: standard input, once), refusing what is not text.
fn read_text(file: &str, stdin_used: &mut bool) -> Result<String, String> {
    let mut bytes = Vec::new();
    if file == "-" {
        if std::mem::replace(stdin_used, true) {
            return Err("standard input can be read only once".into());
        }
        io::stdin()
            .lock()
            .take(MAX_INPUT + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| e.to_string())?;
    } else {
        let f = std::fs::File::open(file).map_err(|e| io_message(&e))?;
        if f.metadata().is_ok_and(|m| m.is_dir()) {
            return Err("is a directory, not a trace".into());
        }
        f.take(MAX_INPUT + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| io_message(&e))?;
    }
    if bytes.len() as u64 > MAX_INPUT {
        return Err(format!(
            "larger than {} MiB: heaptale does not read traces that big",
            MAX_INPUT >> 20
        ));
    }
    if bytes.starts_with(&[0xFD, b'7', b'z', b'X', b'Z', 0]) {
        return Err(
            "xz-compressed: decompress it first (xz -dk FILE) and replay the result".into(),
        );
    }
    if bytes.starts_with(&[0x1F, 0x8B]) {
        return Err(
            "gzip-compressed: decompress it first (gunzip -k FILE) and replay the result".into(),
        );
    }
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err("UTF-16 text: heaptale reads UTF-8 (or ASCII); convert it first (iconv -f UTF-16 -t UTF-8 FILE)".into());
    }
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        format!(
            "not a text file (invalid UTF-8 at byte {}): expected a .rep trace or a script",
            e.valid_up_to()
        )
    })?;
    if let Some(i) = text.bytes().position(|b| b == 0) {
        return Err(format!(
            "not a text file (a NUL byte at byte {i}): expected a .rep trace or a script"
        ));
    }
    Ok(text.to_string())
}

fn io_message(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Replays a trace over an arena of the fixed heap's size or, for a growing heap, one sized
/// from the trace: the arena's memory is zeroed (so committed) when it is made, so it is not
/// simply made as large as the engine allows (1 GiB). Four times the trace's peak live bytes
/// plus 16 MiB is plenty for every policy; a replay that still runs out of memory is run
/// again over an arena four times larger, up to 1 GiB. Returns the report and the time the
/// (last) replay took, checks included.
fn run(
    config: &Config,
    opts: &Options,
    trace: &Trace,
    steps: Option<&str>,
) -> Result<(Report, Duration), String> {
    const MAX: u64 = heaptale::heap::MAX_HEAP as u64;
    let mut cap = match config.heap_size {
        Some(n) => n as u64,
        None => (peak_estimate(trace)
            .saturating_mul(4)
            .saturating_add(16 << 20))
        .min(MAX),
    };
    loop {
        let arena = match config.base {
            Some(b) => Arena::with_base(cap as usize, b),
            None => Arena::new(cap as usize),
        }
        .ok_or_else(|| format!("cannot get {} MiB of memory for the heap", cap >> 20))?;
        let mut heap = Heap::new(arena, config).map_err(|e| e.to_string())?;
        let t0 = Instant::now();
        let report = match steps {
            None => trace::replay_with(&mut heap, trace, opts),
            Some(path) => {
                let what = |e: io::Error| format!("--steps {path}: {}", io_message(&e));
                let mut w = io::BufWriter::new(std::fs::File::create(path).map_err(what)?);
                let mut failed = None;
                let report = trace::replay_each(&mut heap, trace, opts, |i, op, outcome, heap| {
                    if failed.is_none() {
                        failed = write_step(&mut w, i, op, outcome, heap, trace).err();
                    }
                });
                if let Some(e) = failed.or_else(|| w.flush().err()) {
                    return Err(what(e));
                }
                report
            }
        };
        let time = t0.elapsed();
        let ran_out = matches!(
            report.first_alloc_error,
            Some(HeapError::OutOfMemory { .. })
        );
        if config.heap_size.is_some() || !ran_out || cap >= MAX {
            return Ok((report, time));
        }
        cap = cap.saturating_mul(4).min(MAX);
    }
}

/// One line of `--steps`.
fn write_step(
    w: &mut impl Write,
    i: usize,
    op: &Op,
    outcome: trace::Outcome<'_>,
    heap: &Heap<Arena>,
    trace: &Trace,
) -> io::Result<()> {
    // For write and memset, the bytes written.
    let size = match op.kind {
        OpKind::Free => None,
        OpKind::Write { text, .. } => {
            Some(trace.texts.get(text as usize).map_or(0, |t| t.len() as u64))
        }
        OpKind::Memset { n, .. } => Some(n as u64),
        k => Some(k.bytes()),
    };
    let id = (op.id != NULL_ID).then_some(op.id);
    let (addr, error) = match outcome {
        Ok(a) => (a, None),
        Err(e) => (None, Some(e.message.as_str())),
    };
    let mut sizes = std::collections::HashMap::new();
    heap.walk(|b| {
        if !b.used {
            sizes.insert(b.block, b.size);
        }
    });
    let mut free_list = Vec::new();
    heap.free_lists(|_, b| {
        free_list.push([
            heap.addr(b) as u64,
            sizes.get(&b).copied().unwrap_or(0) as u64,
        ])
    });
    let v = serde_json::json!({
        "i": i,
        "op": op.kind.name(),
        "id": id,
        "size": size,
        "addr": addr,
        "error": error,
        "free_list": free_list,
    });
    writeln!(w, "{v}")
}

/// The trace's peak live payload bytes, were every call to succeed.
fn peak_estimate(trace: &Trace) -> u64 {
    // Ids are below MAX_IDS, so this table stays small.
    let slots = trace
        .ops
        .iter()
        .flat_map(|o| [o.id, o.to])
        .filter(|&i| i != NULL_ID)
        .max()
        .map_or(0, |m| m as usize + 1);
    let mut sizes = vec![0u64; slots];
    let (mut live, mut peak) = (0u64, 0u64);
    for op in trace.ops.iter().filter(|o| !o.kind.is_access()) {
        if let Some(s) = sizes.get_mut(op.id as usize) {
            live -= std::mem::take(s).min(live);
        }
        if op.kind != OpKind::Free {
            let new = op.kind.bytes();
            if let Some(s) = sizes.get_mut(op.to as usize) {
                // A block `to` held until now stays live (leaked) and counted.
                *s = new;
            }
            live += new;
        }
        peak = peak.max(live);
    }
    peak
}

fn print_report(
    out: &mut impl Write,
    file: &str,
    c: &Config,
    r: &Report,
    time: Duration,
    json: bool,
) -> io::Result<()> {
    if json {
        let v = serde_json::json!({
            "trace": file,
            "policy": c.policy.name(),
            "ops": r.ops,
            "peak_live_bytes": r.peak_live_bytes,
            "heap_bytes": r.heap_bytes,
            "utilization": r.utilization,
            "integrity_errors": r.integrity_errors.len(),
        });
        writeln!(out, "{v}")
    } else {
        let knobs = if c.policy.has_order() {
            format!(
                "order {}, coalesce {}, ",
                c.order,
                if c.coalesce { "on" } else { "off" }
            )
        } else {
            String::new()
        };
        writeln!(out, "{file}")?;
        writeln!(
            out,
            "  policy            {} ({knobs}header {}, align {})",
            c.policy, c.header, c.align
        )?;
        writeln!(out, "  ops               {}", r.ops)?;
        writeln!(out, "  peak live bytes   {}", r.peak_live_bytes)?;
        writeln!(
            out,
            "  heap bytes        {} (peak {})",
            r.heap_bytes, r.peak_heap_bytes
        )?;
        writeln!(out, "  utilization       {:.1}%", r.utilization * 100.0)?;
        writeln!(out, "  integrity errors  {}", r.integrity_errors.len())?;
        writeln!(out, "  alloc failures    {}", r.alloc_failures)?;
        if !r.write_errors.is_empty() {
            writeln!(out, "  refused writes    {}", r.write_errors.len())?;
        }
        let secs = time.as_secs_f64();
        let rate = if secs > 0.0 { r.ops as f64 / secs } else { 0.0 };
        writeln!(
            out,
            "  time              {:.1} ms ({:.0} ops/s, checks included)",
            secs * 1e3,
            rate
        )
    }
}

/// Tells stderr what went wrong in a replay.
fn complain(file: &str, r: &Report) -> Outcome {
    const SHOWN: usize = 20;
    for e in r.integrity_errors.iter().take(SHOWN) {
        eprintln!("heaptale: {file}: {e}");
    }
    if r.integrity_errors.len() > SHOWN {
        eprintln!(
            "heaptale: {file}: ... and {} more integrity errors",
            r.integrity_errors.len() - SHOWN
        );
    }
    for e in r.write_errors.iter().take(SHOWN) {
        eprintln!("heaptale: {file}: {e}");
    }
    if r.write_errors.len() > SHOWN {
        eprintln!(
            "heaptale: {file}: ... and {} more refused writes",
            r.write_errors.len() - SHOWN
        );
    }
    if let Some(first) = &r.first_alloc_failure {
        let n = r.alloc_failures;
        eprintln!(
            "heaptale: {file}: {n} allocation failure{}; the first: {first}",
            if n == 1 { "" } else { "s" }
        );
    }
    if r.ok() {
        Outcome::Clean
    } else {
        Outcome::Failed
    }
}
