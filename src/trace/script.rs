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
    Malloc { size: u32 },
    Calloc { n: u32, size: u32 },
    Memalign { align: u32, size: u32 },
    Realloc { ptr: Ptr<'a>, size: u32 },
    Free { ptr: Ptr<'a> },
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

impl Call<'_> {
    /// The call as C text, e.g. `realloc(p, 100)`.
    pub fn text(&self) -> String {
        match *self {
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
}

fn tok_text(t: &Tok<'_>) -> String {
    match t {
        Tok::Ident(s) => format!("{:?}", clip(s)),
        Tok::Num(n) => format!("{n}"),
        Tok::Punct(c) => format!("'{c}'"),
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
        return Err(format!("bad number {:?}: expected a decimal or 0x hex number", clip(t)));
    }
    u64::from_str_radix(digits, radix).map_err(|_| format!("the number {} is too large", clip(t)))
}

// ---------------------------------------------------------------- parsing

const FUNCS: [&str; 6] = ["malloc", "calloc", "realloc", "free", "memalign", "aligned_alloc"];

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
                        let v = self.size_expr()?.ok_or_else(|| format!("expected a number, found {}", self.found()))?;
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
    let mut p = P { toks: &toks, i: 0, depth: 0 };

    // An optional `[type words and stars] NAME =` in front.
    let mut target = None;
    if let Some(eq) = toks.iter().position(|t| *t == Tok::Punct('=')) {
        let lhs = &toks[..eq];
        let Some(&Tok::Ident(name)) = lhs.last() else {
            return Err(String::from("expected a variable name before '='"));
        };
        if let Some(bad) = lhs[..lhs.len() - 1].iter().find(|t| !matches!(t, Tok::Ident(_) | Tok::Punct('*'))) {
            return Err(format!("unexpected {} before the variable name", tok_text(bad)));
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
        Some(t) => return Err(format!("expected a call such as malloc(24), found {}", tok_text(&t))),
        None => return Err(format!("expected a call after '{} =', such as malloc(24)", target.unwrap_or(""))),
    };
    if !FUNCS.contains(&func) {
        if p.peek() == Some(Tok::Punct('(')) {
            return Err(format!(
                "unknown function {:?}: expected malloc, calloc, realloc, free, memalign or aligned_alloc",
                clip(func)
            ));
        }
        return Err(format!("expected a call such as malloc(24), found {}", tok_text(&Tok::Ident(func))));
    }
    if !p.eat('(') {
        return Err(format!("expected '(' after {func}, found {}", p.found()));
    }

    // Arguments: sizes or pointers.
    enum Arg<'a> {
        Size(u64),
        Ptr(Ptr<'a>),
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
                    Some(Tok::Ident("NULL")) => Arg::Ptr(Ptr::Null),
                    Some(Tok::Ident(v)) if !FUNCS.contains(&v) => Arg::Ptr(Ptr::Var(v)),
                    Some(Tok::Ident(v)) => return Err(format!("{func}: {v} cannot be an argument (nested calls are not supported)")),
                    Some(t) => return Err(format!("{func}: expected an argument, found {}", tok_text(&t))),
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
        _ => "2 arguments (an alignment and a size)",
    };
    let arity = if func == "malloc" || func == "free" { 1 } else { 2 };
    if args.len() != arity {
        let n = args.len();
        return Err(format!("{func} takes {want}, found {n}"));
    }
    let size = |a: &Arg<'_>, what: &str| -> Result<u32, String> {
        match *a {
            Arg::Size(v) if v <= MAX_SIZE => Ok(v as u32),
            Arg::Size(v) => Err(format!("{func}: {what} {v} is too large (it must be below 4 GiB)")),
            Arg::Ptr(p) => Err(format!("{func}: the {what} must be a number, found {}", ptr_text(p))),
        }
    };
    let ptr = |a: &Arg<'a>| -> Result<Ptr<'a>, String> {
        match *a {
            Arg::Ptr(p) => Ok(p),
            Arg::Size(0) => Ok(Ptr::Null),
            Arg::Size(v) => Err(format!("{func}: the pointer must be a variable or NULL, found {v}")),
        }
    };
    let call = match func {
        "malloc" => Call::Malloc { size: size(&args[0], "size")? },
        "free" => Call::Free { ptr: ptr(&args[0])? },
        "calloc" => Call::Calloc { n: size(&args[0], "count")?, size: size(&args[1], "size")? },
        "realloc" => Call::Realloc { ptr: ptr(&args[0])?, size: size(&args[1], "size")? },
        _ => {
            let align = size(&args[0], "alignment")?;
            if !align.is_power_of_two() {
                return Err(format!("{func}: the alignment must be a power of two, found {align}"));
            }
            Call::Memalign { align, size: size(&args[1], "size")? }
        }
    };
    match (target, call) {
        (Some(t), Call::Free { .. }) => {
            Err(format!("free returns nothing: write {} instead of {t} = {}", call.text(), call.text()))
        }
        (None, Call::Free { .. }) => Ok(Some(Stmt { target, call })),
        (None, _) => Err(format!("the result of {} must be stored in a variable, e.g. p = {}", call.text(), call.text())),
        (Some(_), _) => Ok(Some(Stmt { target, call })),
    }
}

/// Cuts a line's comment (`#` or `//` to the end of the line).
pub(crate) fn strip_comment(line: &str) -> &str {
    let cut = [line.find('#'), line.find("//")].into_iter().flatten().min();
    match cut {
        Some(i) => &line[..i],
        None => line,
    }
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
    for (n, l) in lines(text) {
        let line = u32::try_from(n).unwrap_or(u32::MAX);
        for piece in strip_comment(l).split(';') {
            let err = |message: String| ParseError { line: n, message };
            let Some(st) = statement(piece).map_err(err)? else { continue };
            if ops.len() == MAX_OPS {
                return Err(err(format!("more than {MAX_OPS} ops: heaptale accepts no more")));
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
            };
            let to = match st.target {
                None => id.unwrap_or(NULL_ID),
                Some(t) => match ids.get(t) {
                    Some(&i) => i,
                    None => {
                        if names.len() as u32 == MAX_IDS {
                            return Err(err(format!("more than {MAX_IDS} variables: heaptale accepts no more")));
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
            if kind != OpKind::Free {
                state[to as usize] = VarState::Live;
            }
            ops.push(Op { line, kind, id, to });
        }
    }
    Ok(Trace { ops, ids: names.len() as u32, names, heap_hint: None, format: super::Format::Script, weight: None })
}
