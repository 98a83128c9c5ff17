//! `h.run(statement)` and `h.replay(text)`: the console and trace replay, through
//! `heaptale::trace`. Both return their errors in `.error` and never throw.
//!
//! The module's own memory is a fixed arena, and Rust aborts (a trap) when an allocation
//! fails, so input is sized up before it is copied or parsed: strings come over in bounded
//! chunks with `try_reserve`, and a trace whose bookkeeping could not fit is refused with a
//! message instead of being parsed.

use heaptale::trace::{self, OpKind, Session};
use js_sys::{Array, JsString, Object};
use wasm_bindgen::prelude::*;

use crate::args::describe;
use crate::heap::{set, JsHeap};
use crate::instance;
use crate::timeline::{self, Appended, ErrKind, Timeline};

/// The longest statement `run` takes (UTF-16 units).
const MAX_STATEMENT: u32 = 4096;
/// The longest trace text `replay` takes (UTF-16 units).
const MAX_TRACE_CHARS: u32 = 8 << 20;
/// The most module memory a trace's parsed form and replay bookkeeping may need (estimate).
const TRACE_BUDGET: u64 = 40 << 20;
/// Estimated module bytes per op (the parsed op) ...
const BYTES_PER_OP: u64 = 24;
/// ... per id (its name, twice while the replay starts, its slot, its live block in the
/// replayer's and this layer's maps) ...
const BYTES_PER_ID: u64 = 100;
/// ... and per character of text (the copy, and the parser's working state).
const BYTES_PER_CHAR: u64 = 2;
/// A replay stops after this many integrity errors (as the CLI's does).
const MAX_ERRORS: usize = 100;

#[wasm_bindgen(js_class = Heap)]
impl JsHeap {
    /// Runs one C-like statement (`p = malloc(24)`, `free(p)`, `q = realloc(p, 100)`, ...)
    /// with the console's variables: `{text, addr, error}`. `text` is the statement as C with
    /// its result (`p = malloc(24) = 0x...`), `addr` the address it returned (or null),
    /// `error` null or why it failed. Never throws.
    pub fn run(&self, statement: JsValue) -> Object {
        let text = match js_string(&statement, MAX_STATEMENT, "run", "statement") {
            Ok(t) => t,
            Err(e) => return run_result("", None, Some(&e)),
        };
        // One statement, which becomes a step of the timeline (errors included); nothing
        // to run, or several statements, are refused without becoming a step.
        let pieces = statements(&text);
        let one = match pieces.as_slice() {
            [] => {
                return run_result(
                    "",
                    None,
                    Some("nothing to run: type a statement such as p = malloc(24)"),
                )
            }
            [one] => *one,
            _ => return run_result(text.trim(), None, Some("one statement at a time, please")),
        };
        let r = instance::with_live(
            self.id(),
            |l| Ok(timeline::append(l, Appended::Stmt(one)).0),
        );
        match r {
            Ok(out) => match out.err {
                Some(e) => run_result(one, None, Some(&e.message)),
                None => run_result(out.text.as_deref().unwrap_or(one), out.addr, None),
            },
            Err(e) => run_result(text.trim(), None, Some(&crate::heap::js_error_message(e))),
        }
    }

    /// Empties the heap (same options, same start address) and replays a whole trace on it
    /// (a CS:APP `.rep` file or a script, told apart by content), checking every block as
    /// malloc-lab's driver does. Returns `{ops, peak_live_bytes, peak_heap_bytes, heap_bytes,
    /// utilization, integrity_errors, alloc_failures, first_alloc_failure, write_errors, format, error}`;
    /// `error` is null, or why the trace could not be replayed (then nothing changed). Never
    /// throws. The trace's ops become the heap's timeline (see `seek`); the console's
    /// variables are forgotten.
    pub fn replay(&self, text: JsValue) -> Object {
        match self.replay_inner(&text) {
            Ok(o) => o,
            Err(msg) => {
                let o = report_object(&Summary::default(), "", 0);
                set(&o, "error", &msg.into());
                o
            }
        }
    }

    /// Empties the heap (same options, same start address) and makes a script or a trace its
    /// timeline, running every step: `{steps, format, failed, lines, error}`. Unlike
    /// `replay`, a script's bad statements do not stop it: each is a step that failed, with
    /// its message (see `stepInfo`, `failures`), and the steps after it run. A `.rep` file
    /// that cannot be read is refused as a whole: `error` says why (line and reason) and
    /// nothing changed. `limit` (optional): keep only the first `limit` steps. Never throws.
    /// Go to any step with `seek(n)`.
    pub fn load(&self, text: JsValue, limit: JsValue) -> Object {
        self.load_object(self.load_inner(&text, &limit, true))
    }

    /// `load` without running the steps: `{steps, format, error}`; run them with
    /// `loadContinue(count)` (a page can show progress between calls). Until every step has
    /// run, `seek` and new steps are refused.
    #[wasm_bindgen(js_name = loadStart)]
    pub fn load_start(&self, text: JsValue, limit: JsValue) -> Object {
        self.load_object(self.load_inner(&text, &limit, false))
    }

    /// Runs up to `count` more steps of a `loadStart`: `{done, steps, failed}` (`done`:
    /// steps run so far; every step has run when it equals `steps`).
    #[wasm_bindgen(js_name = loadContinue)]
    pub fn load_continue(&self, count: f64) -> Result<Object, JsError> {
        let n = crate::args::whole(count, "loadContinue", "count")?.min(u32::MAX as usize) as u32;
        instance::with_live(self.id(), |l| {
            timeline::run_all(l, n, |_, _| true);
            let o = Object::new();
            set(&o, "done", &(l.timeline.done() as f64).into());
            set(&o, "steps", &(l.timeline.len() as f64).into());
            set(&o, "failed", &(l.timeline.failed_count() as f64).into());
            Ok(o)
        })
    }
}

impl JsHeap {
    fn load_object(&self, r: Result<(u32, &'static str, usize, u32), String>) -> Object {
        let out = Object::new();
        match r {
            Ok((steps, format, failed, lines)) => {
                set(&out, "steps", &(steps as f64).into());
                set(&out, "format", &format.into());
                set(&out, "failed", &(failed as f64).into());
                set(&out, "lines", &(lines as f64).into());
                set(&out, "error", &JsValue::NULL);
            }
            Err(msg) => {
                set(&out, "steps", &0.0.into());
                set(&out, "error", &msg.into());
            }
        }
        out
    }
}

/// The statements of a console entry: the pieces between `;`s, comments cut off.
fn statements(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for line in text.split('\n') {
        // Quote-aware: a `;`, `#` or `//` inside `write(p, "...")`'s text is text.
        for piece in trace::statements_of(line) {
            let t = piece.trim();
            if !t.is_empty() {
                out.push(t);
            }
        }
    }
    out
}

impl JsHeap {
    fn checked_text(&self, text: &JsValue, call: &str) -> Result<String, String> {
        let src = js_string(text, MAX_TRACE_CHARS, call, "trace")?;
        let estimate = estimate(&src);
        if estimate > TRACE_BUDGET {
            return Err(format!(
                "{call}: this trace is too large for the playground (its bookkeeping would need about {} MB of the module's memory, at most {} MB): replay it with the heaptale command line tool",
                estimate >> 20,
                TRACE_BUDGET >> 20
            ));
        }
        Ok(src)
    }

    fn load_inner(
        &self,
        text: &JsValue,
        limit: &JsValue,
        run: bool,
    ) -> Result<(u32, &'static str, usize, u32), String> {
        let limit = if limit.is_undefined() || limit.is_null() {
            None
        } else {
            let n = limit.as_f64().ok_or_else(|| {
                format!(
                    "load: the step limit must be a number, got {}",
                    describe(limit)
                )
            })?;
            Some(
                crate::args::whole(n, "load", "step limit")
                    .map_err(crate::heap::js_error_message)?
                    .min(u32::MAX as usize) as u32,
            )
        };
        let src = self.checked_text(text, "load")?;
        let mut t = Timeline::default();
        let is_rep = src
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .is_some_and(|l| l.as_bytes()[0].is_ascii_digit());
        let session = if is_rep {
            let mut parsed = trace::parse(&src).map_err(|e| format!("load: {e}"))?;
            drop(src);
            // The plain driver keeps the ids' addresses itself: the session starts empty (for
            // statements typed after the trace).
            let session = Session::new();
            let ops = core::mem::take(&mut parsed.ops);
            t.set_ops(ops, parsed.ids, parsed.format.name(), false);
            session
        } else {
            t.set_script(&src)?;
            drop(src);
            Session::new()
        };
        if let Some(n) = limit {
            t.limit(n);
        }
        let id = self.id();
        instance::with(|inst| {
            if inst.live.as_ref().is_none_or(|l| l.id != id) {
                return Err(JsError::new(crate::instance::NOT_LIVE));
            }
            inst.renew()
                .map_err(|e| JsError::new(&format!("load: {e}")))?;
            let Some(l) = inst.live.as_mut() else {
                return Err(JsError::new(crate::instance::NOT_LIVE));
            };
            timeline::install(l, t, session).map_err(|e| JsError::new(&e))?;
            if run {
                timeline::run_all(l, u32::MAX, |_, _| true);
            }
            Ok((
                l.timeline.len(),
                l.timeline.format,
                l.timeline.failed_count(),
                l.timeline.lines,
            ))
        })
        .map_err(crate::heap::js_error_message)
    }

    fn replay_inner(&self, text: &JsValue) -> Result<Object, String> {
        let src = self.checked_text(text, "replay")?;
        let mut parsed = trace::parse(&src).map_err(|e| e.to_string())?;
        drop(src);
        let format = parsed.format.name();
        let ops = core::mem::take(&mut parsed.ops);
        let session = Session::for_trace(&parsed);
        let mut t = Timeline::default();
        t.set_ops(ops, parsed.ids, format, true);
        drop(parsed);

        let id = self.id();
        // The report is made into a JS object after the instance is let go.
        let (r, heap_bytes) = instance::with(|inst| {
            if inst.live.as_ref().is_none_or(|l| l.id != id) {
                return Err(JsError::new(crate::instance::NOT_LIVE));
            }
            inst.renew()
                .map_err(|e| JsError::new(&format!("replay: {e}")))?;
            let Some(l) = inst.live.as_mut() else {
                return Err(JsError::new(crate::instance::NOT_LIVE));
            };
            timeline::install(l, t, session).map_err(|e| JsError::new(&e))?;
            let mut r = Summary::default();
            // Failures by op index, named with their lines after the run (the timeline
            // keeps the ops and their lines).
            let mut first_failure: Option<(u32, String)> = None;
            let mut integrity: Vec<(u32, String)> = Vec::new();
            // A script's `write`/`memset` that did not fit, or wrote through NULL or a freed
            // pointer: the program's mistake, not the heap's.
            let mut writes: Vec<(u32, String)> = Vec::new();
            timeline::run_all(l, u32::MAX, |i, out| {
                r.ops += 1;
                if let Some(e) = &out.err {
                    match e.kind {
                        ErrKind::Engine => {
                            r.alloc_failures += 1;
                            first_failure.get_or_insert_with(|| (i, e.message.clone()));
                        }
                        ErrKind::Usage => writes.push((i, e.message.clone())),
                        _ => integrity.push((i, e.message.clone())),
                    }
                }
                // Stop at the limit (as the CLI does).
                integrity.len() < MAX_ERRORS
            });
            let at = |i: u32, m: &str| format!("op {i} (line {}): {m}", l.timeline.line(i));
            r.first_alloc_failure = first_failure.map(|(i, m)| at(i, &m));
            r.integrity_errors = integrity.iter().map(|(i, m)| at(*i, m)).collect();
            r.write_errors = writes.iter().map(|(i, m)| at(*i, m)).collect();
            if r.integrity_errors.len() >= MAX_ERRORS {
                r.integrity_errors.push(format!(
                    "stopped after {} integrity errors",
                    r.integrity_errors.len()
                ));
            }
            if let Err(e) = l.heap.check() {
                r.integrity_errors
                    .push(format!("at the end: heap check failed: {e}"));
            }
            r.peak_live_bytes = l.session.peak_live_bytes();
            r.peak_heap_bytes = l.session.peak_heap_bytes();
            let heap_bytes = l.heap.mem().brk() as u64;
            Ok((r, heap_bytes))
        })
        .map_err(crate::heap::js_error_message)?;
        Ok(report_object(&r, format, heap_bytes))
    }
}

#[derive(Default)]
struct Summary {
    ops: u64,
    peak_live_bytes: u64,
    peak_heap_bytes: u64,
    integrity_errors: Vec<String>,
    alloc_failures: u64,
    first_alloc_failure: Option<String>,
    write_errors: Vec<String>,
}

fn report_object(r: &Summary, format: &str, heap_bytes: u64) -> Object {
    let o = Object::new();
    let utilization = if r.peak_heap_bytes == 0 {
        0.0
    } else {
        r.peak_live_bytes as f64 / r.peak_heap_bytes as f64
    };
    set(&o, "ops", &(r.ops as f64).into());
    set(&o, "peak_live_bytes", &(r.peak_live_bytes as f64).into());
    set(&o, "peak_heap_bytes", &(r.peak_heap_bytes as f64).into());
    set(&o, "heap_bytes", &(heap_bytes as f64).into());
    set(&o, "utilization", &utilization.into());
    let errors = Array::new();
    for e in &r.integrity_errors {
        errors.push(&e.into());
    }
    set(&o, "integrity_errors", &errors);
    let writes = Array::new();
    for e in &r.write_errors {
        writes.push(&e.into());
    }
    set(&o, "write_errors", &writes);
    set(&o, "alloc_failures", &(r.alloc_failures as f64).into());
    set(
        &o,
        "first_alloc_failure",
        &r.first_alloc_failure
            .as_deref()
            .map_or(JsValue::NULL, JsValue::from_str),
    );
    set(&o, "format", &format.into());
    set(&o, "error", &JsValue::NULL);
    o
}

/// The size a `realloc` statement asks for (the engine's in-place realloc events do not
/// carry it), read by the engine's own script parser: the statement's variables are declared
/// first, since the parser wants every variable allocated before use.
pub(crate) fn realloc_size(text: &str) -> Option<usize> {
    if !text.contains("realloc") {
        return None;
    }
    const WORDS: [&str; 7] = [
        "malloc",
        "calloc",
        "realloc",
        "free",
        "memalign",
        "aligned_alloc",
        "NULL",
    ];
    let mut script = String::new();
    for w in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        if w.is_empty() || w.starts_with(|c: char| c.is_ascii_digit()) || WORDS.contains(&w) {
            continue;
        }
        script.push_str(w);
        script.push_str(" = malloc(1)\n");
    }
    script.push_str(text);
    match trace::parse_script(&script).ok()?.ops.last()?.kind {
        OpKind::Realloc { size } => Some(size as usize),
        _ => None,
    }
}

fn run_result(text: &str, addr: Option<usize>, error: Option<&str>) -> Object {
    let o = Object::new();
    set(&o, "text", &text.into());
    set(
        &o,
        "addr",
        &addr.map_or(JsValue::NULL, |a| JsValue::from_f64(a as f64)),
    );
    set(&o, "error", &error.map_or(JsValue::NULL, JsValue::from_str));
    o
}

/// A JS string as a Rust `String`, at most `max` UTF-16 units, copied in bounded chunks so
/// that a huge string cannot make an allocation fail (which would trap).
pub(crate) fn js_string(v: &JsValue, max: u32, call: &str, what: &str) -> Result<String, String> {
    let Some(s) = v.dyn_ref::<JsString>() else {
        return Err(format!(
            "{call}: the {what} must be a string, got {}",
            describe(v)
        ));
    };
    let n = s.length();
    if n > max {
        return Err(format!(
            "{call}: the {what} is {n} characters long, more than the {max} the playground takes"
        ));
    }
    let oom = || format!("{call}: no module memory left for a {what} of {n} characters");
    let mut out = String::new();
    out.try_reserve(n as usize).map_err(|_| oom())?;
    const CHUNK: u32 = 1 << 16;
    let mut at = 0;
    while at < n {
        let mut end = (at + CHUNK).min(n);
        // Never split a surrogate pair.
        if end < n && (0xD800 as f64..0xDC00 as f64).contains(&s.char_code_at(end - 1)) {
            end += 1;
        }
        let part: String = s.slice(at, end).into();
        out.try_reserve(part.len()).map_err(|_| oom())?;
        out.push_str(&part);
        at = end;
    }
    Ok(out)
}

/// Module bytes a trace's parsed form and replay would need, roughly (and generously).
pub(crate) fn estimate(text: &str) -> u64 {
    let lines = text.bytes().filter(|&b| b == b'\n').count() as u64 + 1;
    let chars = text.len() as u64;
    // The ids: a .rep header's count, or its largest id (the parser sizes tables by both),
    // or, for a script, at most one variable a line.
    let mut ids = lines;
    let mut body = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = body.clone().next().unwrap_or("");
    if first.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        let header: Vec<u64> = body
            .by_ref()
            .take(4)
            .map(|l| l.parse::<u64>().unwrap_or(0))
            .collect();
        let declared_ids = header.get(1).copied().unwrap_or(0);
        let declared_ops = header.get(2).copied().unwrap_or(0);
        let max_id = body
            .filter_map(|l| l.split_ascii_whitespace().nth(1))
            .filter_map(|t| t.parse::<u64>().ok())
            .max()
            .map_or(0, |m| m.saturating_add(1));
        ids = declared_ids.max(max_id);
        // The parser reserves room for as many ops as the header declares.
        return declared_ops.max(lines).saturating_mul(BYTES_PER_OP)
            + ids.saturating_mul(BYTES_PER_ID)
            + chars.saturating_mul(BYTES_PER_CHAR);
    }
    lines.saturating_mul(BYTES_PER_OP)
        + ids.saturating_mul(BYTES_PER_ID)
        + chars.saturating_mul(BYTES_PER_CHAR)
}
