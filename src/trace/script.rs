//! heaptale's scripts: C-like statements, one per line or separated by `;`.
//!
//! ```text
//! # a comment, and so is // this
//! p = malloc(24)
//! q = realloc(p, 100);      // p is consumed: use q from here on
//! r = calloc(4, 8); free(r)
//! s = memalign(64, 100)
//! t = aligned_alloc(0x40, 128)
//! char *u = malloc(16 * 4)  // a C declaration and a product are fine
//! free(q)
//! free(NULL)
//! ```
//! Numbers are decimal or `0x` hex; a size may be a sum of products of numbers. Pointer
//! arguments are variables, `NULL` or `0`. Assigning a new block to a variable that still
//! holds one leaks the old block, as in C.
//!
//! The user's own writes into a block's payload (real bytes, in the real heap):
//! ```text
//! write(p, "hello")        // the 5 bytes of the text (no terminating NUL: add \0)
//! write(p + 8, "a\tb\n")   // 8 bytes in; escapes \n \t \r \0 \\ \" \xHH
//! memset(q, 0, 100)        // 100 bytes set to 0 (a byte value, 0 to 255, and a count)
//! memset(q + 16, 0xff, 8)
//! ```
//! They must stay inside the block's usable size (checked when they run), and the pointer
//! must be a live block: not NULL, not freed. A `;`, `#` or `//` inside a string is text.

use super::op::{Op, OpKind, Trace, MAX_IDS, MAX_OPS, MAX_SIZE, NULL_ID};
use super::{clip, lines, ParseError};
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// A pointer argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ptr<'a> {
    Null,
    Var(&'a str),
}

/// A call, sizes evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Call<'a> {
    Malloc {
        size: u32,
    },
    Calloc {
        n: u32,
        size: u32,
    },
    Memalign {
        align: u32,
        size: u32,
    },
    Realloc {
        ptr: Ptr<'a>,
        size: u32,
    },
    Free {
        ptr: Ptr<'a>,
    },
    /// `write(ptr + off, "raw")`: `raw` is the literal as written (escapes not decoded:
    /// [`unescape`] decodes them; the parser has checked they are good).
    Write {
        ptr: Ptr<'a>,
        off: u32,
        raw: &'a str,
    },
    Memset {
        ptr: Ptr<'a>,
        off: u32,
        byte: u8,
        n: u32,
    },
}

/// One statement: `target = call` or a bare `free(...)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stmt<'a> {
    pub target: Option<&'a str>,
    pub call: Call<'a>,
}

fn ptr_text(p: Ptr<'_>) -> &str {
    match p {
        Ptr::Null => "NULL",
        Ptr::Var(v) => v,
    }
}

/// `ptr` or `ptr + off`.
fn at_text(p: Ptr<'_>, off: u32) -> String {
    if off == 0 {
        String::from(ptr_text(p))
    } else {
        format!("{} + {off}", ptr_text(p))
    }
}

impl Call<'_> {
    /// The call as C text, e.g. `realloc(p, 100)`.
    pub fn text(&self) -> String {
        match *self {
            Call::Write { ptr, off, raw } => {
                format!("write({}, \"{}\")", at_text(ptr, off), clip(raw))
            }
            Call::Memset { ptr, off, byte, n } => {
                format!("memset({}, {byte}, {n})", at_text(ptr, off))
            }
            Call::Malloc { size } => format!("malloc({size})"),
            Call::Calloc { n, size } => format!("calloc({n}, {size})"),
            Call::Memalign { align, size } => format!("memalign({align}, {size})"),
            Call::Realloc { ptr, size } => format!("realloc({}, {size})", ptr_text(ptr)),
            Call::Free { ptr } => format!("free({})", ptr_text(ptr)),
        }
    }
}

// ---------------------------------------------------------------- lexing

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok<'a> {
    Ident(&'a str),
    Num(u64),
    Punct(char),
    /// A string literal: what is between the quotes, escapes not decoded.
    Str(&'a str),
}

fn tok_text(t: &Tok<'_>) -> String {
    match t {
        Tok::Ident(s) => format!("{:?}", clip(s)),
        Tok::Num(n) => format!("{n}"),
        Tok::Punct(c) => format!("'{c}'"),
        Tok::Str(s) => format!("\"{}\"", clip(s)),
    }
}

fn lex(s: &str) -> Result<Vec<Tok<'_>>, String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b' ' || c == b'\t' || c == b'\r' || c == b'\n' || c == 0x0b || c == 0x0c {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let st = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(Tok::Ident(&s[st..i]));
        } else if c.is_ascii_digit() {
            let st = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(Tok::Num(number(&s[st..i])?));
        } else if c == b'"' {
            let st = i + 1;
            i = st;
            loop {
                match b.get(i) {
                    None => {
                        return Err(String::from(
                            "unterminated string: the closing '\"' is missing",
                        ))
                    }
                    Some(b'"') => break,
                    Some(b'\\') => i += 2,
                    Some(_) => i += 1,
                }
            }
            let raw = &s[st..i];
            unescape(raw)?;
            out.push(Tok::Str(raw));
            i += 1;
        } else if b"()=,*+".contains(&c) {
            out.push(Tok::Punct(c as char));
            i += 1;
        } else {
            // `i` is on a char boundary: every branch above advances over ASCII only.
            let ch = s[i..].chars().next().unwrap_or('?');
            return Err(format!("unexpected character {ch:?}"));
        }
    }
    Ok(out)
}

fn number(t: &str) -> Result<u64, String> {
    let (digits, radix) = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) => (h, 16),
        None => (t, 10),
    };
    let digits_ok = !digits.is_empty() && digits.bytes().all(|c| (c as char).is_digit(radix));
    if !digits_ok {
        return Err(format!(
            "bad number {:?}: expected a decimal or 0x hex number",
            clip(t)
        ));
    }
    u64::from_str_radix(digits, radix).map_err(|_| format!("the number {} is too large", clip(t)))
}

/// The bytes of a string literal's contents (between the quotes): `\n`, `\t`, `\r`, `\0`
/// (one NUL byte), `\\`, `\"` and `\xHH` (two hex digits) decoded; any other character as
/// its UTF-8 bytes.
pub fn unescape(raw: &str) -> Result<Vec<u8>, String> {
    let b = raw.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let bad = |what: &str| {
            format!("bad escape \"{what}\" in a string: use \\n, \\t, \\r, \\0, \\\\, \\\" or \\x and two hex digits")
        };
        let Some(&e) = b.get(i + 1) else {
            return Err(bad("\\"));
        };
        let v = match e {
            b'n' => b'\n',
            b't' => b'\t',
            b'r' => b'\r',
            b'0' => 0,
            b'\\' => b'\\',
            b'"' => b'"',
            b'x' => match raw.get(i + 2..i + 4).and_then(|h| {
                u8::from_str_radix(h, 16)
                    .ok()
                    .filter(|_| !h.starts_with('+'))
            }) {
                Some(v) => {
                    i += 2;
                    v
                }
                None => {
                    let mut end = (i + 4).min(raw.len());
                    while !raw.is_char_boundary(end) {
                        end += 1;
                    }
                    return Err(bad(&raw[i..end]));
                }
            },
            _ => {
                let ch = raw[i + 1..].chars().next().unwrap_or('?');
                return Err(bad(&format!("\\{ch}")));
            }
        };
        out.push(v);
        i += 2;
    }
    Ok(out)
}

// ---------------------------------------------------------------- parsing

const FUNCS: [&str; 8] = [
    "malloc",
    "calloc",
    "realloc",
    "free",
    "memalign",
    "aligned_alloc",
    "write",
    "memset",
];

struct P<'t, 'a> {
    toks: &'t [Tok<'a>],
    i: usize,
    /// Parentheses open in a size, bounded so that hostile input cannot exhaust the stack.
    depth: u32,
}

const MAX_DEPTH: u32 = 16;

impl<'a> P<'_, 'a> {
    fn peek(&self) -> Option<Tok<'a>> {
        self.toks.get(self.i).copied()
    }
    fn next(&mut self) -> Option<Tok<'a>> {
        let t = self.peek();
        self.i += 1;
        t
    }
    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(Tok::Punct(c)) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn found(&self) -> String {
        match self.peek() {
            Some(t) => tok_text(&t),
            None => String::from("the end of the statement"),
        }
    }

    /// `sum := product ('+' product)*`, `product := atom ('*' atom)*`,
    /// `atom := NUMBER | '(' sum ')'`. `None` if the argument is not a number at all.
    fn size_expr(&mut self) -> Result<Option<u64>, String> {
        let mut sum: u64 = 0;
        loop {
            let mut prod: u64 = 1;
            loop {
                let v = match self.peek() {
                    Some(Tok::Num(v)) => {
                        self.i += 1;
                        v
                    }
                    Some(Tok::Punct('(')) => {
                        self.i += 1;
                        self.depth += 1;
                        if self.depth > MAX_DEPTH {
                            return Err(format!("parentheses nested more than {MAX_DEPTH} deep"));
                        }
                        let v = self
                            .size_expr()?
                            .ok_or_else(|| format!("expected a number, found {}", self.found()))?;
                        if !self.eat(')') {
                            return Err(format!("expected ')', found {}", self.found()));
                        }
                        self.depth -= 1;
                        v
                    }
                    _ => return Ok(None),
                };
                prod = prod.saturating_mul(v);
                if !self.eat('*') {
                    break;
                }
            }
            sum = sum.saturating_add(prod);
            if !self.eat('+') {
                return Ok(Some(sum));
            }
        }
    }
}

/// Parses one statement (no `;`, no comment). `Ok(None)` for an empty one.
pub(crate) fn statement<'a>(text: &'a str) -> Result<Option<Stmt<'a>>, String> {
    let toks = lex(text)?;
    if toks.is_empty() {
        return Ok(None);
    }
    let mut p = P {
        toks: &toks,
        i: 0,
        depth: 0,
    };

    // An optional `[type words and stars] NAME =` in front.
    let mut target = None;
    if let Some(eq) = toks.iter().position(|t| *t == Tok::Punct('=')) {
        let lhs = &toks[..eq];
        let Some(&Tok::Ident(name)) = lhs.last() else {
            return Err(String::from("expected a variable name before '='"));
        };
        if let Some(bad) = lhs[..lhs.len() - 1]
            .iter()
            .find(|t| !matches!(t, Tok::Ident(_) | Tok::Punct('*')))
        {
            return Err(format!(
                "unexpected {} before the variable name",
                tok_text(bad)
            ));
        }
        if FUNCS.contains(&name) || name == "NULL" {
            return Err(format!("{name} is not a variable name"));
        }
        target = Some(name);
        p.i = eq + 1;
        // An optional cast: `(char *)`.
        if p.peek() == Some(Tok::Punct('(')) {
            let mut j = p.i + 1;
            while matches!(toks.get(j), Some(Tok::Ident(_) | Tok::Punct('*'))) {
                j += 1;
            }
            if j > p.i + 1 && toks.get(j) == Some(&Tok::Punct(')')) {
                p.i = j + 1;
            }
        }
    }

    let func = match p.next() {
        Some(Tok::Ident(f)) => f,
        Some(t) => {
            return Err(format!(
                "expected a call such as malloc(24), found {}",
                tok_text(&t)
            ))
        }
        None => {
            return Err(format!(
                "expected a call after '{} =', such as malloc(24)",
                target.unwrap_or("")
            ))
        }
    };
    if !FUNCS.contains(&func) {
        if p.peek() == Some(Tok::Punct('(')) {
            return Err(format!(
                "unknown function {:?}: expected malloc, calloc, realloc, free, memalign, aligned_alloc, write or memset",
                clip(func)
            ));
        }
        return Err(format!(
            "expected a call such as malloc(24), found {}",
            tok_text(&Tok::Ident(func))
        ));
    }
    if !p.eat('(') {
        return Err(format!("expected '(' after {func}, found {}", p.found()));
    }

    // Arguments: sizes, pointers (with an offset: `p + 8`) or strings.
    enum Arg<'a> {
        Size(u64),
        Ptr(Ptr<'a>, u64),
        Str(&'a str),
    }
    let mut args: Vec<Arg<'a>> = Vec::new();
    if !p.eat(')') {
        loop {
            if args.len() == 8 {
                return Err(format!("too many arguments to {func}"));
            }
            let arg = match p.size_expr()? {
                Some(v) => Arg::Size(v),
                None => match p.next() {
                    Some(Tok::Str(raw)) => Arg::Str(raw),
                    Some(Tok::Ident(v)) if !FUNCS.contains(&v) => {
                        let ptr = if v == "NULL" { Ptr::Null } else { Ptr::Var(v) };
                        let mut off = 0;
                        if p.eat('+') {
                            off = p.size_expr()?.ok_or_else(|| {
                                format!(
                                    "{func}: expected a number after '{v} +', found {}",
                                    p.found()
                                )
                            })?;
                        }
                        Arg::Ptr(ptr, off)
                    }
                    Some(Tok::Ident(v)) => {
                        return Err(format!(
                            "{func}: {v} cannot be an argument (nested calls are not supported)"
                        ))
                    }
                    Some(t) => {
                        return Err(format!(
                            "{func}: expected an argument, found {}",
                            tok_text(&t)
                        ))
                    }
                    None => return Err(format!("{func}: expected an argument and ')'")),
                },
            };
            args.push(arg);
            if p.eat(')') {
                break;
            }
            if !p.eat(',') {
                return Err(format!("{func}: expected ',' or ')', found {}", p.found()));
            }
        }
    }
    if let Some(t) = p.peek() {
        return Err(format!("unexpected {} after {func}(...)", tok_text(&t)));
    }

    let want = match func {
        "malloc" => "1 argument (a size)",
        "free" => "1 argument (a pointer)",
        "calloc" => "2 arguments (a count and a size)",
        "realloc" => "2 arguments (a pointer and a size)",
        "write" => "2 arguments (a pointer and a string in quotes)",
        "memset" => "3 arguments (a pointer, a byte value and a count)",
        _ => "2 arguments (an alignment and a size)",
    };
    let arity = match func {
        "malloc" | "free" => 1,
        "memset" => 3,
        _ => 2,
    };
    if args.len() != arity {
        let n = args.len();
        return Err(format!("{func} takes {want}, found {n}"));
    }
    let size = |a: &Arg<'_>, what: &str| -> Result<u32, String> {
        match *a {
            Arg::Size(v) if v <= MAX_SIZE => Ok(v as u32),
            Arg::Size(v) => Err(format!(
                "{func}: {what} {v} is too large (it must be below 4 GiB)"
            )),
            Arg::Ptr(p, _) => Err(format!(
                "{func}: the {what} must be a number, found {}",
                ptr_text(p)
            )),
            Arg::Str(r) => Err(format!(
                "{func}: the {what} must be a number, found \"{}\"",
                clip(r)
            )),
        }
    };
    let ptr = |a: &Arg<'a>| -> Result<Ptr<'a>, String> {
        match *a {
            Arg::Ptr(p, 0) => Ok(p),
            Arg::Ptr(p, off) => Err(format!(
                "{func}: the pointer must be a variable or NULL, found {} + {off} (a pointer into a block is not one the heap gave out)",
                ptr_text(p)
            )),
            Arg::Size(0) => Ok(Ptr::Null),
            Arg::Size(v) => Err(format!("{func}: the pointer must be a variable or NULL, found {v}")),
            Arg::Str(r) => Err(format!("{func}: the pointer must be a variable or NULL, found \"{}\"", clip(r))),
        }
    };
    // The destination of a write: a variable, maybe with an offset.
    let dest = |a: &Arg<'a>| -> Result<(Ptr<'a>, u32), String> {
        let (p, off) = match *a {
            Arg::Ptr(p, off) => (p, off),
            Arg::Size(0) => (Ptr::Null, 0),
            Arg::Size(v) => {
                return Err(format!("{func}: the pointer must be a variable, found {v}"))
            }
            Arg::Str(r) => {
                return Err(format!(
                    "{func}: the pointer must be a variable, found \"{}\"",
                    clip(r)
                ))
            }
        };
        if p == Ptr::Null {
            return Err(format!("{func}: writing through NULL would crash the program (a segmentation fault): the pointer must be a variable"));
        }
        if off > MAX_SIZE {
            return Err(format!(
                "{func}: the offset {off} is too large (it must be below 4 GiB)"
            ));
        }
        Ok((p, off as u32))
    };
    let call = match func {
        "malloc" => Call::Malloc {
            size: size(&args[0], "size")?,
        },
        "free" => Call::Free {
            ptr: ptr(&args[0])?,
        },
        "calloc" => Call::Calloc {
            n: size(&args[0], "count")?,
            size: size(&args[1], "size")?,
        },
        "realloc" => Call::Realloc {
            ptr: ptr(&args[0])?,
            size: size(&args[1], "size")?,
        },
        "write" => {
            let (ptr, off) = dest(&args[0])?;
            let Arg::Str(raw) = args[1] else {
                return Err(String::from(
                    "write: the text must be a string in double quotes, such as \"hello\"",
                ));
            };
            Call::Write { ptr, off, raw }
        }
        "memset" => {
            let (ptr, off) = dest(&args[0])?;
            let byte = size(&args[1], "byte value")?;
            let byte = u8::try_from(byte)
                .map_err(|_| format!("memset: the byte value must be 0 to 255, found {byte}"))?;
            Call::Memset {
                ptr,
                off,
                byte,
                n: size(&args[2], "count")?,
            }
        }
        _ => {
            let align = size(&args[0], "alignment")?;
            if !align.is_power_of_two() {
                return Err(format!(
                    "{func}: the alignment must be a power of two, found {align}"
                ));
            }
            Call::Memalign {
                align,
                size: size(&args[1], "size")?,
            }
        }
    };
    match (target, call) {
        (Some(t), Call::Free { .. } | Call::Write { .. } | Call::Memset { .. }) => Err(format!(
            "{func} returns nothing: write {} instead of {t} = {}",
            call.text(),
            call.text()
        )),
        (None, Call::Free { .. } | Call::Write { .. } | Call::Memset { .. }) => {
            Ok(Some(Stmt { target, call }))
        }
        (None, _) => Err(format!(
            "the result of {} must be stored in a variable, e.g. p = {}",
            call.text(),
            call.text()
        )),
        (Some(_), _) => Ok(Some(Stmt { target, call })),
    }
}

/// Cuts a line's comment (`#` or `//` to the end of the line; not inside a string).
pub fn strip_comment(line: &str) -> &str {
    let b = line.as_bytes();
    let mut quoted = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' if quoted => i += 1,
            b'"' => quoted = !quoted,
            b'#' if !quoted => return &line[..i],
            b'/' if !quoted && b.get(i + 1) == Some(&b'/') => return &line[..i],
            _ => {}
        }
        i += 1;
    }
    line
}

/// The statements of one line: its comment cut off, split at each `;` outside a string
/// (empty pieces included).
pub fn statements_of(line: &str) -> impl Iterator<Item = &str> {
    let code = strip_comment(line);
    let b = code.as_bytes();
    let mut quoted = false;
    let mut from = 0;
    let mut i = 0;
    let mut done = false;
    core::iter::from_fn(move || {
        if done {
            return None;
        }
        while i < b.len() {
            match b[i] {
                b'\\' if quoted => i += 1,
                b'"' => quoted = !quoted,
                b';' if !quoted => {
                    let piece = &code[from..i];
                    i += 1;
                    from = i;
                    return Some(piece);
                }
                _ => {}
            }
            i += 1;
        }
        done = true;
        Some(&code[from.min(code.len())..])
    })
}

/// What a script variable has been through (the line of its last op).
#[derive(Clone, Copy)]
enum VarState {
    Live,
    Freed(u32),
    Moved(u32),
}

/// Parses a script.
pub fn parse_script(text: &str) -> Result<Trace, ParseError> {
    let mut ops = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut ids: BTreeMap<&str, u32> = BTreeMap::new();
    let mut state: Vec<VarState> = Vec::new();
    let mut texts: Vec<Vec<u8>> = Vec::new();
    for (n, l) in lines(text) {
        let line = u32::try_from(n).unwrap_or(u32::MAX);
        for piece in statements_of(l) {
            let err = |message: String| ParseError { line: n, message };
            let Some(st) = statement(piece).map_err(err)? else {
                continue;
            };
            if ops.len() == MAX_OPS {
                return Err(err(format!(
                    "more than {MAX_OPS} ops: heaptale accepts no more"
                )));
            }
            let lookup = |v: Ptr<'_>| -> Result<u32, ParseError> {
                let Ptr::Var(v) = v else { return Ok(NULL_ID) };
                let Some(&id) = ids.get(v) else {
                    return Err(err(format!("{}: {v} was never allocated", st.call.text())));
                };
                match state[id as usize] {
                    VarState::Live => Ok(id),
                    VarState::Freed(at) => Err(err(format!("{}: {v} was already freed (line {at})", st.call.text()))),
                    VarState::Moved(at) => Err(err(format!(
                        "{}: {v} was passed to realloc at line {at}; use the pointer realloc returned",
                        st.call.text()
                    ))),
                }
            };
            let (id, kind) = match st.call {
                Call::Malloc { size } => (None, OpKind::Malloc { size }),
                Call::Calloc { n, size } => (None, OpKind::Calloc { n, size }),
                Call::Memalign { align, size } => (None, OpKind::Memalign { align, size }),
                Call::Realloc { ptr, size } => (Some(lookup(ptr)?), OpKind::Realloc { size }),
                Call::Free { ptr } => (Some(lookup(ptr)?), OpKind::Free),
                Call::Write { ptr, off, raw } => {
                    let id = lookup(ptr)?;
                    let bytes = unescape(raw).map_err(err)?;
                    let text = u32::try_from(texts.len()).unwrap_or(u32::MAX);
                    texts.push(bytes);
                    (Some(id), OpKind::Write { off, text })
                }
                Call::Memset { ptr, off, byte, n } => {
                    (Some(lookup(ptr)?), OpKind::Memset { off, byte, n })
                }
            };
            let to = match st.target {
                None => id.unwrap_or(NULL_ID),
                Some(t) => match ids.get(t) {
                    Some(&i) => i,
                    None => {
                        if names.len() as u32 == MAX_IDS {
                            return Err(err(format!(
                                "more than {MAX_IDS} variables: heaptale accepts no more"
                            )));
                        }
                        let i = names.len() as u32;
                        names.push(t.to_string());
                        state.push(VarState::Live);
                        ids.insert(t, i);
                        i
                    }
                },
            };
            let id = id.unwrap_or(to);
            if id != NULL_ID {
                if kind == OpKind::Free {
                    state[id as usize] = VarState::Freed(line);
                } else if id != to {
                    state[id as usize] = VarState::Moved(line);
                }
            }
            if kind.allocates() {
                state[to as usize] = VarState::Live;
            }
            ops.push(Op { line, kind, id, to });
        }
    }
    Ok(Trace {
        ops,
        ids: names.len() as u32,
        names,
        heap_hint: None,
        format: super::Format::Script,
        weight: None,
        texts,
    })
}
