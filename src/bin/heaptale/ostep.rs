//! `heaptale replay --ostep`: OSTEP's `malloc.py`, exactly (the model is
//! `heaptale::trace::ostep`).
//!
//! Output: a summary per run (default), one JSON object per run (`--json`), malloc.py's own
//! text (`--ostep-text`: with `-c`; `--ostep-quiz`: without), and `--steps FILE`, one JSON
//! object per op as DESIGN's contract says. Exit status: 0 when the ops ran to their end
//! (allocations that return -1 and frees that return -1 are malloc.py's answers, not
//! failures); 2 for bad input or knobs, and where malloc.py itself would stop with a Python
//! exception (the text printed up to there is malloc.py's, the reason goes to stderr).

use super::{io_message, read_text, OnOff, Outcome, ReplayArgs};
use heaptale::trace::ostep::{self, Crash, Event, Knobs, OpSpec, RandomOps, Run, Search};
use heaptale::trace::{self, MAX_OPS};
use heaptale::PolicyKind;
use std::io::{self, Write};
use std::process::ExitCode;

/// Where a run's ops come from.
enum Ops {
    /// An op list, with each op's id for `--steps` (the trace's ids, or the `ptr` numbers).
    List(Vec<OpSpec>, Vec<Option<u32>>),
    Random,
}

fn bad(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("heaptale: {msg}");
    ExitCode::from(Outcome::BadInput as u8)
}

/// malloc.py's knobs from the CLI's, with malloc.py's defaults.
fn knobs(args: &ReplayArgs) -> Result<Knobs, String> {
    let d = Knobs::default();
    let policy = match args.policy {
        None => d.policy,
        Some(PolicyKind::First) => Search::First,
        Some(PolicyKind::Best) => Search::Best,
        Some(PolicyKind::Worst) => Search::Worst,
        Some(p) => {
            return Err(format!("--ostep: malloc.py has no {p} policy (its -p takes FIRST, BEST and WORST): use --policy first, best or worst"));
        }
    };
    if args.check_every != 0 {
        return Err(
            "--ostep: --check-every does not apply (malloc.py's allocator has no heap to check)"
                .into(),
        );
    }
    let align = match args.align {
        None | Some(1) => -1,
        Some(0) => {
            return Err(
                "--ostep: --align must be 1 (no alignment, malloc.py's -a -1) or more".into(),
            )
        }
        Some(a) => a as i64,
    };
    let base = match args.base {
        None => d.base,
        Some(b) => i64::try_from(b).map_err(|_| format!("--ostep: --base {b} is too large"))?,
    };
    Ok(Knobs {
        heap_size: args.heap_size.map_or(d.heap_size, i64::from),
        base,
        header: args.header.map_or(d.header, i64::from),
        align,
        policy,
        order: args.order.unwrap_or(d.order),
        coalesce: args.coalesce.is_some_and(|c| matches!(c, OnOff::On)),
    })
}

fn random_opts(args: &ReplayArgs) -> Result<RandomOps, String> {
    let d = RandomOps::default();
    let r = RandomOps {
        seed: args.seed.unwrap_or(d.seed),
        num_ops: args.num_ops.unwrap_or(d.num_ops),
        range: args.range.unwrap_or(d.range),
        percent_alloc: args.percent_alloc.unwrap_or(d.percent_alloc),
    };
    if r.percent_alloc <= 0 {
        return Err(format!("--ostep: --percent-alloc must be above 0, not {} (malloc.py stops with an AssertionError)", r.percent_alloc));
    }
    if r.num_ops > MAX_OPS as u64 {
        return Err(format!(
            "--ostep: --num-ops {} is more than heaptale runs ({MAX_OPS})",
            r.num_ops
        ));
    }
    Ok(r)
}

/// The op list in a file: malloc.py's own syntax, or a script or `.rep` trace.
fn load(file: &str, stdin_used: &mut bool) -> Result<Ops, String> {
    let text = read_text(file, stdin_used)?;
    if ostep::looks_like_ops(&text) {
        let ops = ostep::parse_ops_file(&text).map_err(|e| e.to_string())?;
        let ids = ptr_ids(&ops);
        return Ok(Ops::List(ops, ids));
    }
    let t = trace::parse(&text).map_err(|e| e.to_string())?;
    let (ops, ids) = ostep::ops_from_trace(&t).map_err(|e| format!("--ostep: {e}"))?;
    Ok(Ops::List(ops, ids.into_iter().map(Some).collect()))
}

/// The ids of an `-A` list: an allocation's number, a free's index.
fn ptr_ids(ops: &[OpSpec]) -> Vec<Option<u32>> {
    let mut c = 0u32;
    ops.iter()
        .map(|op| match *op {
            OpSpec::Alloc(_) => {
                c = c.saturating_add(1);
                Some(c - 1)
            }
            OpSpec::Free(i) => u32::try_from(i).ok(),
        })
        .collect()
}

pub(super) fn replay(args: &ReplayArgs, out: &mut impl Write) -> ExitCode {
    let (knobs, random) = match knobs(args).and_then(|k| Ok((k, random_opts(args)?))) {
        Ok(x) => x,
        Err(e) => return bad(e),
    };
    if let Err(e) = Run::with_ops(knobs, Vec::new()) {
        return bad(format!("--ostep: {e}"));
    }
    // The runs: --ops, each file, or random ops.
    let mut sources: Vec<(String, Result<Ops, String>)> = Vec::new();
    if let Some(list) = &args.ops {
        let parsed = ostep::parse_ops(list).map(|ops| {
            let ids = ptr_ids(&ops);
            Ops::List(ops, ids)
        });
        match parsed {
            Ok(ops) => sources.push(("--ops".into(), Ok(ops))),
            Err(e) => return bad(format!("--ops: {e}")),
        }
    } else if args.files.is_empty() {
        sources.push(("random ops".into(), Ok(Ops::Random)));
    }
    if args.steps.is_some() && args.files.len() > 1 {
        return bad("--steps takes exactly one trace file");
    }
    let mut stdin_used = false;
    for f in &args.files {
        sources.push((f.clone(), load(f, &mut stdin_used)));
    }
    let mut worst = Outcome::Clean;
    for (name, ops) in sources {
        let ops = match ops {
            Ok(o) => o,
            Err(e) => {
                eprintln!("heaptale: {name}: {e}");
                worst = worst.max(Outcome::BadInput);
                continue;
            }
        };
        match run_one(args, knobs, random, &name, ops, out) {
            Ok(o) => worst = worst.max(o),
            // Standard output is gone (a closed pipe): nobody reads further.
            Err(_) => return ExitCode::from(worst as u8),
        }
    }
    ExitCode::from(worst as u8)
}

/// What a run came to, for the summary.
#[derive(Default)]
struct Tally {
    ops: usize,
    allocs: usize,
    frees: usize,
    failed_allocs: usize,
    failed_frees: usize,
    skipped_frees: usize,
}

/// Runs one op source; the outcome, or an error writing standard output.
fn run_one(
    args: &ReplayArgs,
    knobs: Knobs,
    random: RandomOps,
    name: &str,
    ops: Ops,
    out: &mut impl Write,
) -> io::Result<Outcome> {
    let (mut run, list, ids) = match ops {
        Ops::List(ops, ids) => match Run::with_ops_and(knobs, ops.clone(), random) {
            Ok(mut r) => {
                if let Some(raw) = &args.ops {
                    r.set_alloc_list(raw);
                }
                (r, Some(ops), ids)
            }
            Err(e) => {
                eprintln!("heaptale: {name}: {e}");
                return Ok(Outcome::BadInput);
            }
        },
        Ops::Random => match Run::random(knobs, random) {
            Ok(r) => (r, None, Vec::new()),
            Err(e) => {
                eprintln!("heaptale: {name}: {e}");
                return Ok(Outcome::BadInput);
            }
        },
    };
    let text = args.ostep_text || args.ostep_quiz;
    let compute = args.ostep_text;
    let mut steps = match &args.steps {
        None => None,
        Some(path) => match std::fs::File::create(path) {
            Ok(f) => Some((path.as_str(), io::BufWriter::new(f))),
            Err(e) => {
                eprintln!("heaptale: --steps {path}: {}", io_message(&e));
                return Ok(Outcome::BadInput);
            }
        },
    };
    let mut steps_failed: Option<io::Error> = None;
    if text {
        out.write_all(run.text_header(compute).as_bytes())?;
    }
    let mut tally = Tally::default();
    let mut outcome = Outcome::Clean;
    let mut i = 0usize;
    while let Some(r) = run.step() {
        let id = ids.get(i).copied().flatten();
        let line = match &r {
            Ok(e) => {
                tally.ops += 1;
                match *e {
                    Event::Alloc { block, .. } => {
                        tally.allocs += 1;
                        tally.failed_allocs += usize::from(block == -1);
                    }
                    Event::Free { rc, .. } => {
                        tally.frees += 1;
                        tally.failed_frees += usize::from(rc != 0);
                    }
                    Event::InvalidFree { .. } => tally.skipped_frees += 1,
                }
                if text {
                    out.write_all(run.text_event(e, compute).as_bytes())?;
                }
                step_json(&run, i, id, e)
            }
            Err(c) => {
                if text {
                    out.write_all(run.text_crash(c).as_bytes())?;
                }
                let op = list.as_ref().and_then(|l| l.get(i).copied());
                eprintln!(
                    "heaptale: {name}: op {i}{}: {c}",
                    op.map(|o| format!(" ({o})")).unwrap_or_default()
                );
                outcome = Outcome::BadInput;
                crash_json(&run, i, id, op, c)
            }
        };
        if let Some((_, w)) = &mut steps {
            if steps_failed.is_none() {
                steps_failed = writeln!(w, "{line}").err();
            }
        }
        i += 1;
    }
    if let Some((path, mut w)) = steps {
        if let Some(e) = steps_failed.or_else(|| w.flush().err()) {
            eprintln!("heaptale: --steps {path}: {}", io_message(&e));
            outcome = Outcome::BadInput;
        }
    }
    if !text {
        summary(out, &run, name, &tally, args.json)?;
    }
    Ok(outcome)
}

fn free_list(run: &Run) -> Vec<[i64; 2]> {
    run.sim().free_list().iter().map(|&(a, s)| [a, s]).collect()
}

/// One `--steps` line for an op malloc.py ran.
fn step_json(run: &Run, i: usize, id: Option<u32>, e: &Event) -> serde_json::Value {
    let (op, id, size, addr, error) = match *e {
        Event::Alloc {
            ptr,
            size,
            addr,
            block,
            ..
        } => {
            let id = id.or(u32::try_from(ptr).ok());
            if block == -1 {
                let need = run
                    .sim()
                    .block_size(size)
                    .map_or_else(|_| String::from("too many"), |n| n.to_string());
                let msg =
                    format!("out of memory: no free block of {need} bytes (malloc.py returns -1)");
                ("malloc", id, Some(size), None, Some(msg))
            } else {
                ("malloc", id, Some(size), Some(addr), None)
            }
        }
        Event::Free { ptr, block, rc } => {
            let id = id.or(u32::try_from(ptr).ok());
            let error = (rc != 0).then(|| format!("free of an unknown pointer: {block} is not an allocated block (malloc.py returns -1)"));
            ("free", id, None, None, error)
        }
        Event::InvalidFree { index } => {
            let n = run.successful_allocs();
            let msg = format!("Invalid Free: Skipping (malloc.py skips -{index}: only {n} allocation{} succeeded)", if n == 1 { "" } else { "s" });
            (
                "free",
                id.or(u32::try_from(index).ok()),
                None,
                None,
                Some(msg),
            )
        }
    };
    serde_json::json!({"i": i, "op": op, "id": id, "size": size, "addr": addr, "error": error, "free_list": free_list(run)})
}

/// The `--steps` line for the op malloc.py stops at.
fn crash_json(
    run: &Run,
    i: usize,
    id: Option<u32>,
    op: Option<OpSpec>,
    c: &Crash,
) -> serde_json::Value {
    let (kind, size) = match op {
        Some(OpSpec::Alloc(n)) => ("malloc", Some(n)),
        Some(OpSpec::Free(_)) => ("free", None),
        None => ("malloc", None),
    };
    serde_json::json!({"i": i, "op": kind, "id": id, "size": size, "addr": null, "error": c.to_string(), "free_list": free_list(run)})
}

fn summary(out: &mut impl Write, run: &Run, name: &str, t: &Tally, json: bool) -> io::Result<()> {
    let k = run.sim().knobs();
    if json {
        let v = serde_json::json!({
            "trace": name,
            "policy": k.policy.name(),
            "ostep": run.command(),
            "ops": t.ops,
            "failed_allocs": t.failed_allocs,
            "failed_frees": t.failed_frees,
            "skipped_frees": t.skipped_frees,
            "free_list": free_list(run),
        });
        return writeln!(out, "{v}");
    }
    let s = |n: usize| if n == 1 { "" } else { "s" };
    writeln!(out, "{name}")?;
    writeln!(out, "  as                {}", run.command())?;
    writeln!(
        out,
        "  ops               {} ({} alloc{}, {} free{})",
        t.ops,
        t.allocs,
        s(t.allocs),
        t.frees + t.skipped_frees,
        s(t.frees + t.skipped_frees)
    )?;
    writeln!(
        out,
        "  returned -1       {} alloc{}, {} free{} ({} free{} skipped)",
        t.failed_allocs,
        s(t.failed_allocs),
        t.failed_frees,
        s(t.failed_frees),
        t.skipped_frees,
        s(t.skipped_frees)
    )?;
    writeln!(out, "  {}", run.sim().dump())
}
