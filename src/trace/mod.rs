//! Traces: what programs asked of their allocator, read from text and replayed against a
//! [`Heap`](crate::Heap) with malloc-lab style integrity checks.
//!
//! - [`parse_rep`]: CS:APP malloc-lab `.rep` files, classic and 2016 headers (see [`rep`]'s
//!   notes in the source for both layouts);
//! - [`parse_script`]: heaptale's C-like scripts (`p = malloc(24)`, `free(p)`, ...);
//! - [`parse`]: either, chosen by content;
//! - [`replay`]: runs a [`Trace`] on a heap, checking every block (alignment, inside the
//!   heap, no overlap, contents kept across realloc and until free, calloc zeroed) and
//!   measuring utilization;
//! - [`Session`]: the playground console, one statement at a time;
//! - [`ostep`]: OSTEP's free-space simulator (`malloc.py`), reproduced exactly.
//!
//! Limits, so that hostile input stays cheap: at most [`MAX_OPS`] ops, [`MAX_IDS`] ids
//! (or script variables), sizes below 4 GiB ([`MAX_SIZE`]). Nothing here panics on any
//! input: every problem is a [`ParseError`] or a message.

mod op;
pub mod ostep;
mod rep;
mod replay;
mod script;

pub use op::{
    op_text, op_text_with, quote, Format, Op, OpKind, Trace, MAX_IDS, MAX_OPS, MAX_SIZE, NULL_ID,
};
pub use rep::parse_rep;
pub use replay::{
    replay, replay_each, replay_with, Options, Outcome, Report, Session, Step, StepError,
    StepErrorKind,
};
pub use script::{parse_script, statements_of, strip_comment, unescape};

use alloc::string::String;
use core::fmt;

/// Why a trace could not be read: the 1-based line and a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ParseError {}

/// Parses a `.rep` trace or a script, telling them apart by content: a `.rep` file's first
/// non-blank line is a number, a script's never is.
pub fn parse(text: &str) -> Result<Trace, ParseError> {
    let first = lines(text).map(|(_, l)| l.trim()).find(|l| !l.is_empty());
    match first {
        Some(l) if l.as_bytes()[0].is_ascii_digit() => parse_rep(text),
        _ => parse_script(text),
    }
}

/// The lines of `text` with their 1-based numbers, `\r` before `\n` and a leading byte order
/// mark removed.
pub(crate) fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.split('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
}

/// At most 40 characters of `s` (then `...`), for quoting input in messages.
pub(crate) fn clip(s: &str) -> String {
    match s.char_indices().nth(40) {
        Some((i, _)) => alloc::format!("{}...", &s[..i]),
        None => String::from(s),
    }
}
