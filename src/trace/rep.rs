//! CS:APP malloc-lab `.rep` traces.
//!
//! ```text
//! 20000        suggested heap size (classic)  | weight 0..3 (2016)
//! 3            number of ids                  | number of ids
//! 8            number of ops                  | number of ops
//! 1            weight (classic)               | peak payload bytes (2016)
//! a 0 512      ptr_0 = malloc(512)
//! r 0 640      ptr_0 = realloc(ptr_0, 640)
//! f 0          free(ptr_0)
//! ```
//! Both headers have four numbers; they differ in the first and last. A header whose first
//! number is 0 to 3 and whose last is above 3 is read as the 2016 header (a weight and a
//! peak byte count); any other as the classic one. Only the counts matter to a replay, and
//! they sit on the same lines in both.
//!
//! Accepted: CRLF line ends, blank lines anywhere, spaces or tabs between fields, a UTF-8
//! byte order mark, `f -1` (free(NULL), which the 2016 driver allows). Checked: the header
//! counts against the body (ids must be exactly `0..num_ids`, as malloc-lab's driver
//! requires), that `f` and `r` name a live id and `a` does not.

use super::op::{Format, Op, OpKind, Trace, MAX_IDS, MAX_OPS, MAX_SIZE, NULL_ID};
use super::{clip, lines, ParseError};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// What an id has been through so far (the line of its last op).
#[derive(Clone, Copy)]
enum IdState {
    Never,
    Live(u32),
    Freed(u32),
}

const HEADER: [&str; 4] = [
    "suggested heap size (or weight, in the 2016 format)",
    "number of ids",
    "number of ops",
    "weight (or peak payload bytes, in the 2016 format)",
];

fn line_u32(line: usize) -> u32 {
    u32::try_from(line).unwrap_or(u32::MAX)
}

/// Parses a CS:APP malloc-lab `.rep` trace (either header).
pub fn parse_rep(text: &str) -> Result<Trace, ParseError> {
    let err = |line: usize, message: String| ParseError { line, message };
    let mut it = lines(text).filter(|(_, l)| !l.trim().is_empty());

    // ---- header ----
    let mut header = [0u64; 4];
    let mut header_lines = [0usize; 4];
    let mut last_line = 1;
    for (k, what) in HEADER.iter().enumerate() {
        let Some((n, l)) = it.next() else {
            let message = if k == 0 {
                String::from("empty trace: expected a 4-line header (suggested heap size, number of ids, number of ops, weight)")
            } else {
                format!("the file ends inside the header: expected 4 header lines, found {k}")
            };
            return Err(err(last_line, message));
        };
        last_line = n;
        let t = l.trim();
        header[k] = t.parse::<u64>().map_err(|_| {
            err(
                n,
                format!(
                    "header line {}: expected the {what} as a number, found {:?}",
                    k + 1,
                    clip(t)
                ),
            )
        })?;
        header_lines[k] = n;
    }
    let [first, num_ids, num_ops, last] = header;
    let format = if first <= 3 && last > 3 {
        Format::Rep2016
    } else {
        Format::Rep
    };
    if num_ids > MAX_IDS as u64 {
        return Err(err(
            header_lines[1],
            format!("{num_ids} ids is more than heaptale accepts ({MAX_IDS})"),
        ));
    }
    if num_ops > MAX_OPS as u64 {
        return Err(err(
            header_lines[2],
            format!("{num_ops} ops is more than heaptale accepts ({MAX_OPS})"),
        ));
    }

    // ---- body ----
    // The header's count is only a claim: reserve no more than the text can hold (an op
    // line takes at least four bytes), so a lying header cannot exhaust memory.
    let mut ops: Vec<Op> = Vec::with_capacity((num_ops as usize).min(text.len() / 4 + 1));
    let mut state: Vec<IdState> = Vec::new();
    let mut max_id: Option<u32> = None;
    for (n, l) in it {
        let line = line_u32(n);
        let t = l.trim();
        let mut f = t.split_ascii_whitespace();
        let code = f.next().unwrap_or("");
        let usage = match code {
            "a" => "a ID SIZE",
            "r" => "r ID SIZE",
            "f" => "f ID",
            _ => {
                return Err(err(
                    n,
                    format!(
                        "unknown op {:?}: expected a ID SIZE, r ID SIZE or f ID",
                        clip(code)
                    ),
                ));
            }
        };
        if ops.len() == MAX_OPS {
            return Err(err(
                n,
                format!("more than {MAX_OPS} ops: heaptale accepts no more"),
            ));
        }
        let id_text = f
            .next()
            .ok_or_else(|| err(n, format!("{}: expected {usage}", clip(t))))?;
        let size = if code == "f" {
            0
        } else {
            let s = f
                .next()
                .ok_or_else(|| err(n, format!("{}: expected {usage}", clip(t))))?;
            parse_size(s).map_err(|m| err(n, format!("{}: {m}", clip(t))))?
        };
        if let Some(extra) = f.next() {
            return Err(err(
                n,
                format!("{}: unexpected {:?} after {usage}", clip(t), clip(extra)),
            ));
        }
        if code == "f" && id_text == "-1" {
            ops.push(Op {
                line,
                kind: OpKind::Free,
                id: NULL_ID,
                to: NULL_ID,
            });
            continue;
        }
        let id = id_text.parse::<u64>().map_err(|_| {
            err(
                n,
                format!(
                    "{}: the id must be a number from 0 to {}, found {:?}",
                    clip(t),
                    MAX_IDS - 1,
                    clip(id_text)
                ),
            )
        })?;
        if id >= MAX_IDS as u64 {
            return Err(err(
                n,
                format!("{}: id {id} is beyond the limit of {MAX_IDS} ids", clip(t)),
            ));
        }
        let id = id as u32;
        if state.len() <= id as usize {
            state.resize(id as usize + 1, IdState::Never);
        }
        max_id = Some(max_id.map_or(id, |m| m.max(id)));
        let st = &mut state[id as usize];
        let kind = match (code, *st) {
            ("a", IdState::Live(at)) => {
                return Err(err(
                    n,
                    format!("{}: id {id} is still allocated (since line {at})", clip(t)),
                ));
            }
            ("a", _) => OpKind::Malloc { size },
            (_, IdState::Never) => {
                return Err(err(n, format!("{}: id {id} was never allocated", clip(t))))
            }
            (_, IdState::Freed(at)) => {
                return Err(err(
                    n,
                    format!("{}: id {id} was already freed (line {at})", clip(t)),
                ));
            }
            ("r", IdState::Live(_)) => OpKind::Realloc { size },
            _ => OpKind::Free,
        };
        *st = if kind == OpKind::Free {
            IdState::Freed(line)
        } else {
            IdState::Live(line)
        };
        ops.push(Op {
            line,
            kind,
            id,
            to: id,
        });
    }

    // ---- counts ----
    if ops.len() as u64 != num_ops {
        return Err(err(
            header_lines[2],
            format!(
                "the header says {num_ops} ops but the file has {}",
                ops.len()
            ),
        ));
    }
    let used = max_id.map_or(0, |m| m as u64 + 1);
    if used != num_ids {
        let what = match max_id {
            None => String::from("none"),
            Some(0) => String::from("1 (id 0)"),
            Some(m) => format!("{used} (ids 0 to {m})"),
        };
        return Err(err(
            header_lines[1],
            format!("the header says {num_ids} ids but the ops use {what}"),
        ));
    }

    let (heap_hint, weight) = match format {
        Format::Rep2016 => (Some(last), first as u32),
        _ => (
            (first != 0).then_some(first),
            u32::try_from(last).unwrap_or(u32::MAX),
        ),
    };
    Ok(Trace {
        ops,
        names: Vec::new(),
        ids: num_ids as u32,
        heap_hint,
        format,
        weight: Some(weight),
        texts: Vec::new(),
    })
}

fn parse_size(s: &str) -> Result<u32, String> {
    match s.parse::<u64>() {
        Ok(v) if v <= MAX_SIZE => Ok(v as u32),
        Ok(v) => Err(format!("size {v} is too large (sizes must be below 4 GiB)")),
        Err(_) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => Err(format!(
            "size {} is too large (sizes must be below 4 GiB)",
            clip(s)
        )),
        Err(_) => Err(format!(
            "the size must be a number from 0 to {MAX_SIZE}, found {:?}",
            clip(s)
        )),
    }
}
