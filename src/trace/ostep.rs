//! OSTEP's free-space simulator, exactly: a model of `malloc.py` from the homework of
//! *Operating Systems: Three Easy Pieces*, chapter "Free-Space Management"
//! (`vm-freespace/malloc.py` in github.com/remzi-arpacidusseau/ostep-homework).
//!
//! Teachers check homework answers against that script, so this module reproduces it to the
//! byte: the same addresses, the same free lists in the same order, the same "searched N
//! elements" counts, the same random ops for a seed, and the same text ([`Run::text`]). It is
//! a model of the script, not an allocator: it keeps a list of `(addr, size)` pairs and a map
//! from each allocated address to its size, and touches no memory.
//!
//! ## What malloc.py does, and its quirks
//! - **malloc(size)**: rounds `size` up to a multiple of the alignment (`-a`, -1 for none),
//!   adds the header size (`-H`), then walks the whole list in list order (first fit stops at
//!   the first block large enough; best and worst fit keep the first of equals). *Searched*
//!   counts the entries looked at. The block found is split in place: the remainder keeps
//!   the block's **position in the list**, so a size-sorted list is re-sorted only at the
//!   next free. An exact fit leaves the list. The size allocated (alignment and header
//!   included) goes into the size map; a request no block fits returns -1.
//! - **free(addr)**: an address not in the size map returns -1 and changes nothing. Else the
//!   block goes to the front (INSERT-FRONT) or the back (INSERT-BACK) of the list, or is
//!   appended and the whole list is sorted again (ADDRSORT, SIZESORT+, SIZESORT-) with
//!   Python's stable sort: a freed block goes **after entries of equal size**.
//! - **Coalescing** (`-C`) runs over the list after every successful free and merges an entry
//!   into the one before it *in the list* when they touch in memory. Under ADDRSORT that is
//!   true coalescing; under the other orders only neighbours in the list merge.
//! - **Sizes live in a side table**, not in headers: the header size may be 0.
//! - **Addresses printed**: with `-A` ops, the block's own address (the header's, with a
//!   header); with random ops, the block's address plus the header size (the payload's) —
//!   and for a failed allocation, `-1 + header`.
//! - **`-A` frees** name an allocation by its number (`-0` frees `ptr[0]`). A number not
//!   below the count of *successful* allocations prints `Invalid Free: Skipping` and nothing
//!   else; a number below it whose allocation failed stops the script (a Python `KeyError`).
//!   Freeing `ptr[i]` twice frees whatever block lives at its address again (or returns -1).
//! - **`-A` parsing**: each comma-separated op must start with `+` or `-`; its number is the
//!   text after that character up to the next one (`+10+3` allocates 10), read as Python's
//!   `int()` reads it (spaces around it, `_` between digits, a sign: `+-5` allocates -5).
//!   malloc.py stops at an op it cannot read, after running those before it.
//! - Two allocations at the same address (possible only with size 0) stop the script (an
//!   `AssertionError`).
//!
//! Where malloc.py stops with a Python exception, this model returns a [`Crash`] that says
//! which, and the text printed up to that point is the script's. Numbers are `i64` (the
//! script's are unbounded); a sum that would overflow is a [`Crash::Overflow`].
//!
//! ```
//! use heaptale::trace::ostep::{parse_ops, Knobs, Run, Search};
//! let knobs = Knobs { policy: Search::First, ..Knobs::default() };
//! let mut run = Run::with_ops(knobs, parse_ops("+10,-0,+20").unwrap()).unwrap();
//! assert_eq!(run.text_body(true).unwrap(), "\
//! ptr[0] = Alloc(10) returned 1000 (searched 1 elements)
//! Free List [ Size 1 ]: [ addr:1010 sz:90 ]
//!
//! Free(ptr[0])
//! returned 0
//! Free List [ Size 2 ]: [ addr:1000 sz:10 ][ addr:1010 sz:90 ]
//!
//! ptr[1] = Alloc(20) returned 1010 (searched 2 elements)
//! Free List [ Size 2 ]: [ addr:1000 sz:10 ][ addr:1030 sz:70 ]
//!
//! ");
//! ```

use super::op::{OpKind, Trace, NULL_ID};
use super::{clip, ParseError};
use crate::policy::Order;
use crate::vm::rng::Mt19937 as Mt;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::{self, Write as _};

/// malloc.py's search rules (`-p`). It has no next fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Search {
    First,
    #[default]
    Best,
    Worst,
}

impl Search {
    pub const ALL: [Search; 3] = [Search::First, Search::Best, Search::Worst];
    /// The name malloc.py's `-p` takes.
    pub const fn ostep_name(self) -> &'static str {
        match self {
            Search::First => "FIRST",
            Search::Best => "BEST",
            Search::Worst => "WORST",
        }
    }
    /// heaptale's name for the same rule (`--policy`).
    pub const fn name(self) -> &'static str {
        match self {
            Search::First => "first",
            Search::Best => "best",
            Search::Worst => "worst",
        }
    }
}

/// The name malloc.py's `-l` takes for a list order.
pub const fn order_ostep_name(o: Order) -> &'static str {
    match o {
        Order::Addr => "ADDRSORT",
        Order::SizeAsc => "SIZESORT+",
        Order::SizeDesc => "SIZESORT-",
        Order::Front => "INSERT-FRONT",
        Order::Back => "INSERT-BACK",
    }
}

/// malloc.py's allocator knobs. The defaults are the script's: `-S 100 -b 1000 -H 0 -a -1
/// -p BEST -l ADDRSORT`, no `-C`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Knobs {
    /// `-S`: the heap's size.
    pub heap_size: i64,
    /// `-b`: the heap's first address.
    pub base: i64,
    /// `-H`: the bytes added to every request.
    pub header: i64,
    /// `-a`: requests are rounded up to a multiple of this; -1 for none (1 is the same).
    pub align: i64,
    /// `-p`
    pub policy: Search,
    /// `-l`
    pub order: Order,
    /// `-C`
    pub coalesce: bool,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            heap_size: 100,
            base: 1000,
            header: 0,
            align: -1,
            policy: Search::Best,
            order: Order::Addr,
            coalesce: false,
        }
    }
}

/// Where malloc.py itself stops with a Python exception (or where its unbounded integers
/// would outgrow this model's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Crash {
    /// `-a` is neither -1 nor positive: the constructor's assertion fails before anything
    /// is printed.
    BadAlign(i64),
    /// `-P` is not positive: an assertion fails after the option lines are printed.
    PercentNotPositive(i64),
    /// An allocation at an address the size map already holds (only size-0 blocks can
    /// share an address): `addToMap`'s assertion fails.
    AddrInUse(i64),
    /// `-A`: `-N` where `N` is below the count of successful allocations but allocation `N`
    /// failed (or, through the API, `N` is negative): `p[N]` raises `KeyError` (after
    /// `Free(ptr[N])` is printed).
    NoSuchPtr(i64),
    /// `-A`: an op malloc.py cannot read (the op's index, its text, and what Python raises).
    BadOp {
        index: usize,
        text: String,
        why: &'static str,
    },
    /// A number outgrew 64 bits (malloc.py's integers are unbounded).
    Overflow,
}

impl fmt::Display for Crash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Crash::BadAlign(a) => write!(f, "malloc.py stops at once (AssertionError): the alignment must be -1 or positive, not {a}"),
            Crash::PercentNotPositive(p) => write!(f, "malloc.py stops after its option lines (AssertionError): the percent of allocations must be positive, not {p}"),
            Crash::AddrInUse(a) => write!(f, "malloc.py stops here (AssertionError in addToMap): address {a} is already allocated (only blocks of 0 bytes or less share an address)"),
            Crash::NoSuchPtr(i) => write!(f, "malloc.py stops here (KeyError: {i}): ptr[{i}] was never allocated (its allocation failed)"),
            Crash::BadOp { index, text, why } => write!(f, "malloc.py stops at op {index} {:?} ({why}): an op is +SIZE or -INDEX, ops separated by commas without spaces", clip(text)),
            Crash::Overflow => f.write_str("a number outgrew 64 bits (malloc.py's integers are unbounded; heaptale's model stops here)"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Crash {}

/// malloc.py's allocator: the free list in list order and the size map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sim {
    knobs: Knobs,
    list: Vec<(i64, i64)>,
    sizes: BTreeMap<i64, i64>,
}

/// What `malloc` returned: the block's address (-1 when no block fits) and the entries
/// searched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Alloc {
    pub addr: i64,
    pub searched: usize,
}

impl Sim {
    /// A heap of one free block `(base, heap_size)`.
    pub fn new(knobs: Knobs) -> Result<Sim, Crash> {
        if knobs.align != -1 && knobs.align <= 0 {
            return Err(Crash::BadAlign(knobs.align));
        }
        Ok(Sim {
            knobs,
            list: alloc::vec![(knobs.base, knobs.heap_size)],
            sizes: BTreeMap::new(),
        })
    }

    pub fn knobs(&self) -> &Knobs {
        &self.knobs
    }

    /// The free list, in list order: `(addr, size)`.
    pub fn free_list(&self) -> &[(i64, i64)] {
        &self.list
    }

    /// The allocated blocks: address to size (alignment and header included).
    pub fn allocated(&self) -> &BTreeMap<i64, i64> {
        &self.sizes
    }

    /// The size `malloc(size)` takes from the list: rounded up to the alignment, plus the
    /// header.
    pub fn block_size(&self, size: i64) -> Result<i64, Crash> {
        let mut size = size;
        if self.knobs.align != -1 {
            // Python's `%` with a positive divisor is never negative.
            let left = size.rem_euclid(self.knobs.align);
            if left != 0 {
                size = size
                    .checked_add(self.knobs.align - left)
                    .ok_or(Crash::Overflow)?;
            }
        }
        size.checked_add(self.knobs.header).ok_or(Crash::Overflow)
    }

    /// `malloc(size)`. On a crash nothing changes.
    pub fn malloc(&mut self, size: i64) -> Result<Alloc, Crash> {
        let size = self.block_size(size)?;
        let mut best: Option<(usize, i64, i64)> = None;
        let mut best_size = match self.knobs.policy {
            Search::Best => self.knobs.heap_size.checked_add(1).ok_or(Crash::Overflow)?,
            Search::First | Search::Worst => -1,
        };
        let mut searched = 0;
        for (i, &(eaddr, esize)) in self.list.iter().enumerate() {
            searched += 1;
            let better = match self.knobs.policy {
                Search::Best => esize < best_size,
                Search::Worst => esize > best_size,
                Search::First => true,
            };
            if esize >= size && better {
                best = Some((i, eaddr, esize));
                best_size = esize;
                if self.knobs.policy == Search::First {
                    break;
                }
            }
        }
        let Some((i, addr, bsize)) = best else {
            return Ok(Alloc { addr: -1, searched });
        };
        if self.sizes.contains_key(&addr) {
            return Err(Crash::AddrInUse(addr));
        }
        if bsize > size {
            let rest = (
                addr.checked_add(size).ok_or(Crash::Overflow)?,
                bsize.checked_sub(size).ok_or(Crash::Overflow)?,
            );
            self.list[i] = rest;
        } else {
            self.list.remove(i);
        }
        self.sizes.insert(addr, size);
        Ok(Alloc { addr, searched })
    }

    /// `free(addr)`: 0, or -1 for an address that is not an allocated block's. On a crash
    /// nothing changes.
    pub fn free(&mut self, addr: i64) -> Result<i64, Crash> {
        let Some(&size) = self.sizes.get(&addr) else {
            return Ok(-1);
        };
        let mut list = self.list.clone();
        match self.knobs.order {
            Order::Back => list.push((addr, size)),
            Order::Front => list.insert(0, (addr, size)),
            // Rust's sorts are stable, as Python's `sorted` is (`reverse=True` included:
            // equal keys keep their order), so the new entry goes after its equals.
            Order::Addr => {
                list.push((addr, size));
                list.sort_by_key(|e| e.0);
            }
            Order::SizeAsc => {
                list.push((addr, size));
                list.sort_by_key(|e| e.1);
            }
            Order::SizeDesc => {
                list.push((addr, size));
                list.sort_by_key(|e| core::cmp::Reverse(e.1));
            }
        }
        if self.knobs.coalesce {
            let mut merged = Vec::with_capacity(list.len());
            let mut curr = list[0];
            for &(eaddr, esize) in &list[1..] {
                if Some(eaddr) == curr.0.checked_add(curr.1) {
                    curr.1 = curr.1.checked_add(esize).ok_or(Crash::Overflow)?;
                } else {
                    merged.push(curr);
                    curr = (eaddr, esize);
                }
            }
            merged.push(curr);
            list = merged;
        }
        self.list = list;
        self.sizes.remove(&addr);
        Ok(0)
    }

    /// malloc.py's `dump()`: `Free List [ Size N ]: [ addr:A sz:S ]...`, no newline.
    pub fn dump(&self) -> String {
        let mut s = format!("Free List [ Size {} ]: ", self.list.len());
        for &(a, z) in &self.list {
            let _ = write!(s, "[ addr:{a} sz:{z} ]");
        }
        s
    }
}

// ---------------------------------------------------------------------------------------
// Op lists
// ---------------------------------------------------------------------------------------

/// One op of an `-A` list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpSpec {
    /// `+SIZE`: `ptr[c] = Alloc(SIZE)`, `c` counting every allocation.
    Alloc(i64),
    /// `-INDEX`: `Free(ptr[INDEX])`.
    Free(i64),
}

impl fmt::Display for OpSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpSpec::Alloc(n) => write!(f, "+{n}"),
            OpSpec::Free(n) => write!(f, "-{n}"),
        }
    }
}

/// An op list as `-A` takes it: `+10,-0,+20`.
pub fn ops_text(ops: &[OpSpec]) -> String {
    let mut s = String::new();
    for (i, op) in ops.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{op}");
    }
    s
}

/// Python's `int(text)` for a `str`: surrounding whitespace, one sign, ASCII digits with
/// single underscores between them (Python 3). `Ok(None)`: a number beyond 64 bits.
fn python_int(text: &str) -> Result<Option<i64>, &'static str> {
    let t = text.trim_matches(|c: char| c.is_whitespace());
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let b = digits.as_bytes();
    if b.is_empty() || !b[0].is_ascii_digit() || !b[b.len() - 1].is_ascii_digit() {
        return Err("ValueError: invalid literal for int()");
    }
    let mut v: i64 = 0;
    let mut prev_underscore = false;
    for &c in b {
        if c == b'_' {
            if prev_underscore {
                return Err("ValueError: invalid literal for int()");
            }
            prev_underscore = true;
            continue;
        }
        if !c.is_ascii_digit() {
            return Err("ValueError: invalid literal for int()");
        }
        prev_underscore = false;
        match v
            .checked_mul(10)
            .and_then(|v| v.checked_add((c - b'0') as i64))
        {
            Some(n) => v = n,
            None => return Ok(None),
        }
    }
    Ok(Some(if neg { -v } else { v }))
}

/// One `-A` op, as malloc.py reads it: `op[0]` picks the kind, `int(op.split(op[0])[1])`
/// the number.
fn parse_op(index: usize, op: &str) -> Result<OpSpec, Crash> {
    let bad = |why| Crash::BadOp {
        index,
        text: String::from(op),
        why,
    };
    let Some(c) = op.chars().next() else {
        return Err(bad("IndexError: an empty op"));
    };
    if c != '+' && c != '-' {
        return Err(bad("NameError: abort is not defined"));
    }
    let field = op[1..].split(c).next().unwrap_or("");
    let n = python_int(field).map_err(bad)?.ok_or(Crash::Overflow)?;
    Ok(if c == '+' {
        OpSpec::Alloc(n)
    } else {
        OpSpec::Free(n)
    })
}

/// Parses an `-A` list exactly as malloc.py does (see the module notes). The error is the
/// [`Crash`] malloc.py meets at the first op it cannot read; the ops before it run in
/// malloc.py, but heaptale refuses the whole list.
pub fn parse_ops(list: &str) -> Result<Vec<OpSpec>, Crash> {
    list.split(',')
        .enumerate()
        .map(|(i, op)| parse_op(i, op))
        .collect()
}

/// Parses an op list from a file: ops separated by commas, newlines or both, blank lines
/// and a trailing newline ignored, spaces around a line too; each op read as `-A` reads it
/// (no space between a comma and the next `+`/`-`).
pub fn parse_ops_file(text: &str) -> Result<Vec<OpSpec>, ParseError> {
    let mut ops = Vec::new();
    for (n, line) in super::lines(text) {
        if line.trim().is_empty() {
            continue;
        }
        let line = line.trim();
        for op in line.split(',') {
            let i = ops.len();
            ops.push(parse_op(i, op).map_err(|e| ParseError {
                line: n,
                message: alloc::string::ToString::to_string(&e),
            })?);
        }
    }
    if ops.is_empty() {
        return Err(ParseError {
            line: 1,
            message: String::from("no ops: expected +SIZE and -INDEX ops separated by commas"),
        });
    }
    Ok(ops)
}

/// Whether a text is an op list rather than a `.rep` trace or a script: its first non-blank
/// character is `+` or `-`.
pub fn looks_like_ops(text: &str) -> bool {
    let t = text.strip_prefix('\u{feff}').unwrap_or(text);
    matches!(t.trim_start().as_bytes().first(), Some(b'+' | b'-'))
}

/// A trace (script or `.rep`) as an op list: `x = malloc(n)` is `+n`, `free(x)` is `-i`
/// where `i` numbers the allocation that last stored into `x`. The second vector holds each
/// op's trace id. Calls malloc.py does not have (realloc, calloc, memalign), `free(NULL)`,
/// and the free of an id never allocated are refused.
pub fn ops_from_trace(trace: &Trace) -> Result<(Vec<OpSpec>, Vec<u32>), ParseError> {
    let mut ops = Vec::with_capacity(trace.ops.len());
    let mut ids = Vec::with_capacity(trace.ops.len());
    let mut last: BTreeMap<u32, i64> = BTreeMap::new();
    let mut c: i64 = 0;
    for op in &trace.ops {
        let err = |what: String| ParseError {
            line: op.line as usize,
            message: format!("{}: {what}", trace.op_text(op)),
        };
        match op.kind {
            OpKind::Malloc { size } => {
                last.insert(op.to, c);
                c += 1;
                ops.push(OpSpec::Alloc(size as i64));
            }
            OpKind::Free if op.id == NULL_ID => {
                return Err(err(String::from(
                    "malloc.py has no free(NULL) (an op is +SIZE or -INDEX)",
                )));
            }
            OpKind::Free => match last.get(&op.id) {
                Some(&i) => ops.push(OpSpec::Free(i)),
                None => {
                    return Err(err(format!(
                        "{} was never allocated, so malloc.py has no index to free",
                        trace.name(op.id)
                    )))
                }
            },
            k => {
                return Err(err(format!(
                    "malloc.py has only malloc and free, no {}",
                    k.name()
                )));
            }
        }
        ids.push(op.id);
    }
    Ok((ops, ids))
}

// ---------------------------------------------------------------------------------------
// Runs: malloc.py's main program
// ---------------------------------------------------------------------------------------

/// The options of malloc.py's random mode (no `-A`): `-s`, `-n`, `-r`, `-P`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RandomOps {
    /// `-s`
    pub seed: i64,
    /// `-n`: how many ops (frees drawn while nothing is allocated do not count).
    pub num_ops: u64,
    /// `-r`: sizes are drawn from 1 to this.
    pub range: i64,
    /// `-P`: the percent of ops that are allocations.
    pub percent_alloc: i64,
}

impl Default for RandomOps {
    fn default() -> Self {
        RandomOps {
            seed: 0,
            num_ops: 10,
            range: 10,
            percent_alloc: 50,
        }
    }
}

/// One op as malloc.py ran it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// `ptr[ptr] = Alloc(size) returned addr (searched N elements)`. `addr` is what malloc.py
    /// prints: the block's address with `-A`, the block's address plus the header with
    /// random ops; -1 (plus the header, with random ops) when no block fits. `block` is the
    /// block's own address (-1 when none).
    Alloc {
        ptr: usize,
        size: i64,
        addr: i64,
        block: i64,
        searched: usize,
    },
    /// `Free(ptr[ptr])` of the block at `block`: `rc` 0, or -1 when `block` is not allocated.
    Free { ptr: usize, block: i64, rc: i64 },
    /// `-A`: `Invalid Free: Skipping` (the index is not below the count of successful
    /// allocations). Nothing changes; malloc.py prints no free list.
    InvalidFree { index: i64 },
}

impl Event {
    /// Whether malloc.py reports a failure: an allocation that returned -1, a free that
    /// returned -1, or a skipped free.
    pub fn failed(&self) -> bool {
        match *self {
            Event::Alloc { block, .. } => block == -1,
            Event::Free { rc, .. } => rc != 0,
            Event::InvalidFree { .. } => true,
        }
    }
}

enum Source {
    List {
        ops: Vec<OpSpec>,
        next: usize,
    },
    Random {
        opts: RandomOps,
        rng: alloc::boxed::Box<Mt>,
        percent: f64,
        live: Vec<usize>,
        done: u64,
    },
}

/// malloc.py's main program over an allocator: the `-A` ops, or random ops drawn from a
/// seed, one [`Event`] at a time.
pub struct Run {
    sim: Sim,
    source: Source,
    /// `p`: allocation number to block address (successful allocations only).
    ptrs: BTreeMap<usize, i64>,
    /// `c`: allocations so far.
    count: usize,
    /// Allocations that returned -1.
    failed_allocs: usize,
    alloc_list: String,
    random: RandomOps,
    stopped: bool,
}

impl Run {
    /// `malloc.py -A LIST` with these knobs (`-s -n -r -P` at their defaults).
    pub fn with_ops(knobs: Knobs, ops: Vec<OpSpec>) -> Result<Run, Crash> {
        Run::with_ops_and(knobs, ops, RandomOps::default())
    }

    /// `malloc.py -A LIST` with `-s -n -r -P` given too (they show in the option lines, and
    /// `-P` must be positive even with `-A`).
    pub fn with_ops_and(knobs: Knobs, ops: Vec<OpSpec>, random: RandomOps) -> Result<Run, Crash> {
        let sim = Sim::new(knobs)?;
        if random.percent_alloc <= 0 {
            return Err(Crash::PercentNotPositive(random.percent_alloc));
        }
        let alloc_list = ops_text(&ops);
        Ok(Run {
            sim,
            source: Source::List { ops, next: 0 },
            ptrs: BTreeMap::new(),
            count: 0,
            failed_allocs: 0,
            alloc_list,
            random,
            stopped: false,
        })
    }

    /// `malloc.py -s SEED -n N -r R -P P` (random ops) with these knobs.
    pub fn random(knobs: Knobs, opts: RandomOps) -> Result<Run, Crash> {
        let sim = Sim::new(knobs)?;
        if opts.percent_alloc <= 0 {
            return Err(Crash::PercentNotPositive(opts.percent_alloc));
        }
        let source = Source::Random {
            opts,
            rng: alloc::boxed::Box::new(Mt::new(opts.seed.unsigned_abs())),
            percent: opts.percent_alloc as f64 / 100.0,
            live: Vec::new(),
            done: 0,
        };
        Ok(Run {
            sim,
            source,
            ptrs: BTreeMap::new(),
            count: 0,
            failed_allocs: 0,
            alloc_list: String::new(),
            random: opts,
            stopped: false,
        })
    }

    /// Sets the `-A` text the option lines show (by default the ops written back, which
    /// can differ from what was typed: `+10 ` for `+10`).
    pub fn set_alloc_list(&mut self, list: &str) {
        self.alloc_list = String::from(list);
    }

    /// The allocator as it stands.
    pub fn sim(&self) -> &Sim {
        &self.sim
    }

    /// How many allocations have succeeded (`len(p)` with `-A`: a free's index must be below
    /// it).
    pub fn successful_allocs(&self) -> usize {
        match &self.source {
            Source::List { .. } => self.ptrs.len(),
            Source::Random { .. } => self.count - self.failed_allocs,
        }
    }

    /// Whether the ops are random (no `-A`).
    pub fn is_random(&self) -> bool {
        matches!(self.source, Source::Random { .. })
    }

    /// The next op, `None` at the end, or where malloc.py stops. After a crash, `None`.
    pub fn step(&mut self) -> Option<Result<Event, Crash>> {
        if self.stopped {
            return None;
        }
        let r = self.step_inner();
        if matches!(r, Some(Err(_))) {
            self.stopped = true;
        }
        r
    }

    fn step_inner(&mut self) -> Option<Result<Event, Crash>> {
        let header = self.sim.knobs.header;
        match &mut self.source {
            Source::List { ops, next } => {
                let op = *ops.get(*next)?;
                *next += 1;
                Some(match op {
                    OpSpec::Alloc(size) => self.sim.malloc(size).map(|a| {
                        let ptr = self.count;
                        if a.addr != -1 {
                            self.ptrs.insert(ptr, a.addr);
                        } else {
                            self.failed_allocs += 1;
                        }
                        self.count += 1;
                        Event::Alloc {
                            ptr,
                            size,
                            addr: a.addr,
                            block: a.addr,
                            searched: a.searched,
                        }
                    }),
                    OpSpec::Free(index) => {
                        // `index >= len(p)`: p holds the successful allocations only.
                        if index >= 0 && index as u64 >= self.ptrs.len() as u64 {
                            Ok(Event::InvalidFree { index })
                        } else {
                            let ptr = usize::try_from(index).unwrap_or(usize::MAX);
                            match self.ptrs.get(&ptr) {
                                None => Err(Crash::NoSuchPtr(index)),
                                Some(&block) => {
                                    self.sim
                                        .free(block)
                                        .map(|rc| Event::Free { ptr, block, rc })
                                }
                            }
                        }
                    }
                })
            }
            Source::Random {
                opts,
                rng,
                percent,
                live,
                done,
            } => loop {
                if *done >= opts.num_ops {
                    return None;
                }
                if rng.random() < *percent {
                    let size = match python_trunc(rng.random() * opts.range as f64) {
                        Some(s) => s.checked_add(1),
                        None => None,
                    };
                    let Some(size) = size else {
                        return Some(Err(Crash::Overflow));
                    };
                    let a = match self.sim.malloc(size) {
                        Ok(a) => a,
                        Err(e) => return Some(Err(e)),
                    };
                    let ptr = self.count;
                    if a.addr != -1 {
                        self.ptrs.insert(ptr, a.addr);
                        live.push(ptr);
                    } else {
                        self.failed_allocs += 1;
                    }
                    self.count += 1;
                    *done += 1;
                    let Some(shown) = a.addr.checked_add(header) else {
                        return Some(Err(Crash::Overflow));
                    };
                    return Some(Ok(Event::Alloc {
                        ptr,
                        size,
                        addr: shown,
                        block: a.addr,
                        searched: a.searched,
                    }));
                } else if !self.ptrs.is_empty() {
                    // random() < 1, so d < len(L) (the product never rounds up to len(L)).
                    let d = python_trunc(rng.random() * live.len() as f64).unwrap_or(0) as usize;
                    let Some(&ptr) = live.get(d) else {
                        return Some(Err(Crash::Overflow));
                    };
                    let Some(&block) = self.ptrs.get(&ptr) else {
                        return Some(Err(Crash::NoSuchPtr(ptr as i64)));
                    };
                    let rc = match self.sim.free(block) {
                        Ok(rc) => rc,
                        Err(e) => return Some(Err(e)),
                    };
                    self.ptrs.remove(&ptr);
                    live.remove(d);
                    *done += 1;
                    return Some(Ok(Event::Free { ptr, block, rc }));
                }
            },
        }
    }

    /// The option lines malloc.py prints first, then a blank line.
    pub fn text_header(&self, compute: bool) -> String {
        let k = &self.sim.knobs;
        let r = &self.random;
        let mut s = String::new();
        let _ = write!(
            s,
            "seed {}\nsize {}\nbaseAddr {}\nheaderSize {}\nalignment {}\npolicy {}\nlistOrder {}\ncoalesce {}\nnumOps {}\nrange {}\npercentAlloc {}\nallocList {}\ncompute {}\n\n",
            r.seed,
            k.heap_size,
            k.base,
            k.header,
            k.align,
            k.policy.ostep_name(),
            order_ostep_name(k.order),
            py_bool(k.coalesce),
            r.num_ops,
            r.range,
            r.percent_alloc,
            self.alloc_list,
            py_bool(compute),
        );
        s
    }

    /// The lines malloc.py prints for `e` (with `-c` when `compute`), the allocator being
    /// as `e` left it.
    pub fn text_event(&self, e: &Event, compute: bool) -> String {
        let mut s = String::new();
        match *e {
            Event::Alloc {
                ptr,
                size,
                addr,
                searched,
                ..
            } => {
                let _ = write!(s, "ptr[{ptr}] = Alloc({size})");
                if compute {
                    let _ = writeln!(s, " returned {addr} (searched {searched} elements)");
                } else {
                    s.push_str(" returned ?\n");
                }
            }
            Event::Free { ptr, rc, .. } => {
                let _ = writeln!(s, "Free(ptr[{ptr}])");
                if compute {
                    let _ = writeln!(s, "returned {rc}");
                } else {
                    s.push_str("returned ?\n");
                }
            }
            Event::InvalidFree { .. } => {
                s.push_str("Invalid Free: Skipping\n");
                return s;
            }
        }
        if compute {
            s.push_str(&self.sim.dump());
            s.push('\n');
        } else if self.is_random() {
            // Random mode prints "List? " with a space, -A mode "List?" without.
            s.push_str("List? \n");
        } else {
            s.push_str("List?\n");
        }
        s.push('\n');
        s
    }

    /// What malloc.py prints for the op it stops at, before its traceback.
    pub fn text_crash(&self, c: &Crash) -> String {
        match c {
            Crash::NoSuchPtr(i) => format!("Free(ptr[{i}])\n"),
            _ => String::new(),
        }
    }

    /// Runs every op; returns what malloc.py prints after its option lines, or, where it
    /// stops, that text so far and the crash.
    pub fn text_body(&mut self, compute: bool) -> Result<String, (String, Crash)> {
        let mut s = String::new();
        while let Some(r) = self.step() {
            match r {
                Ok(e) => s.push_str(&self.text_event(&e, compute)),
                Err(c) => {
                    s.push_str(&self.text_crash(&c));
                    return Err((s, c));
                }
            }
        }
        Ok(s)
    }

    /// Runs every op; returns malloc.py's whole standard output (with `-c` when `compute`).
    pub fn text(&mut self, compute: bool) -> Result<String, (String, Crash)> {
        let mut s = self.text_header(compute);
        match self.text_body(compute) {
            Ok(b) => {
                s.push_str(&b);
                Ok(s)
            }
            Err((b, c)) => {
                s.push_str(&b);
                Err((s, c))
            }
        }
    }

    /// The malloc.py command line this run reproduces (every knob spelled out).
    pub fn command(&self) -> String {
        let k = &self.sim.knobs;
        let mut s = format!(
            "malloc.py -S {} -b {} -H {} -a {} -p {} -l {}",
            k.heap_size,
            k.base,
            k.header,
            k.align,
            k.policy.ostep_name(),
            order_ostep_name(k.order)
        );
        if k.coalesce {
            s.push_str(" -C");
        }
        match &self.source {
            Source::List { .. } => {
                let _ = write!(s, " -A {}", self.alloc_list);
            }
            Source::Random { opts, .. } => {
                let _ = write!(
                    s,
                    " -s {} -n {} -r {} -P {}",
                    opts.seed, opts.num_ops, opts.range, opts.percent_alloc
                );
            }
        }
        s.push_str(" -c");
        s
    }
}

fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

/// Python's `int(x)` for a float within 64 bits (truncation toward zero).
fn python_trunc(x: f64) -> Option<i64> {
    // 2^63 as f64 is exact; anything at or beyond it does not fit.
    if !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&x) {
        return None;
    }
    Some(x as i64)
}

// ---------------------------------------------------------------------------------------
// CPython's random: MT19937 seeded by `random.seed(int)`, `random.random()` on top
// ---------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_random_seed_0() {
        // CPython: random.seed(0); random.random() == 0.8444218515250481
        let mut g = Mt::new(0);
        assert_eq!(g.random(), 0.844_421_851_525_048_1);
        assert_eq!(g.random(), 0.757_954_402_940_302_5);
    }

    #[test]
    fn python_int_reads_like_python() {
        assert_eq!(python_int(" 10 "), Ok(Some(10)));
        assert_eq!(python_int("1_0"), Ok(Some(10)));
        assert_eq!(python_int("-5"), Ok(Some(-5)));
        assert_eq!(python_int("+007"), Ok(Some(7)));
        assert_eq!(python_int("99999999999999999999"), Ok(None));
        for bad in ["", " ", "1__0", "_1", "1_", "1 0", "0x10", "--1", "+"] {
            assert!(python_int(bad).is_err(), "{bad:?}");
        }
    }
}
