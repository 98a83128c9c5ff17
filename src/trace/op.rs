//! The op list every trace format is parsed into, and the limits that keep hostile input cheap.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// The most distinct ids (`.rep` ids, script variables) a trace may use.
pub const MAX_IDS: u32 = 1_000_000;
/// The most ops a trace may hold.
pub const MAX_OPS: usize = 10_000_000;
/// The largest size (or count, or alignment) an op may name: sizes must be below 4 GiB.
pub const MAX_SIZE: u64 = u32::MAX as u64;
/// The id that stands for the null pointer: `free(NULL)`, `realloc(NULL, n)` in scripts,
/// `f -1` in `.rep` files. It is never a real id and never appears in [`Trace::names`].
pub const NULL_ID: u32 = u32::MAX;

/// What an op asks for. Sizes are in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// `to = malloc(size)` (`.rep`: `a id size`).
    Malloc { size: u32 },
    /// `to = calloc(n, size)`: `n * size` zeroed bytes.
    Calloc { n: u32, size: u32 },
    /// `to = memalign(align, size)` / `aligned_alloc(align, size)`.
    Memalign { align: u32, size: u32 },
    /// `to = realloc(id, size)` (`.rep`: `r id size`, where `to == id`).
    Realloc { size: u32 },
    /// `free(id)` (`.rep`: `f id`).
    Free,
    /// `write(id, "text")`, or `write(id + off, "text")`: the user writes the bytes of
    /// [`Trace::texts`]`[text]` into the block's payload, `off` bytes in (scripts only).
    Write { off: u32, text: u32 },
    /// `memset(id, byte, n)`, or `memset(id + off, byte, n)`: the user sets `n` bytes of
    /// the block's payload to `byte`, `off` bytes in (scripts only).
    Memset { off: u32, byte: u8, n: u32 },
}

impl OpKind {
    /// The C function the op calls.
    pub const fn name(&self) -> &'static str {
        match self {
            OpKind::Malloc { .. } => "malloc",
            OpKind::Calloc { .. } => "calloc",
            OpKind::Memalign { .. } => "memalign",
            OpKind::Realloc { .. } => "realloc",
            OpKind::Free => "free",
            OpKind::Write { .. } => "write",
            OpKind::Memset { .. } => "memset",
        }
    }

    /// Whether the op asks for a block (malloc, calloc, memalign, realloc).
    pub const fn allocates(&self) -> bool {
        matches!(
            self,
            OpKind::Malloc { .. }
                | OpKind::Calloc { .. }
                | OpKind::Memalign { .. }
                | OpKind::Realloc { .. }
        )
    }

    /// Whether the op is the user's own access to a block's bytes (write, memset).
    pub const fn is_access(&self) -> bool {
        matches!(self, OpKind::Write { .. } | OpKind::Memset { .. })
    }

    /// The payload bytes the op asks for (`n * size` for calloc, 0 for free, write and
    /// memset).
    pub const fn bytes(&self) -> u64 {
        match *self {
            OpKind::Malloc { size } | OpKind::Memalign { size, .. } | OpKind::Realloc { size } => {
                size as u64
            }
            OpKind::Calloc { n, size } => n as u64 * size as u64,
            OpKind::Free | OpKind::Write { .. } | OpKind::Memset { .. } => 0,
        }
    }
}

/// One op of a trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Op {
    /// The line of the source text the op came from (1-based; 0 for ops built by hand).
    pub line: u32,
    pub kind: OpKind,
    /// The id the op reads: the block freed or written, or the source of a realloc. For malloc, calloc
    /// and memalign, the id the new block is stored in (equal to `to`). May be [`NULL_ID`].
    pub id: u32,
    /// The id the result is stored in: equal to `id` except for a script's
    /// `q = realloc(p, n)`. For free, write and memset, equal to `id`.
    pub to: u32,
}

/// Which text format a trace was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// heaptale's C-like script.
    #[default]
    Script,
    /// CS:APP malloc-lab `.rep`, classic header: suggested heap size, number of ids,
    /// number of ops, weight.
    Rep,
    /// CS:APP malloc-lab `.rep`, 2016 header: weight (0 to 3), number of ids, number of
    /// ops, peak payload bytes.
    Rep2016,
}

impl Format {
    pub const fn name(self) -> &'static str {
        match self {
            Format::Script => "script",
            Format::Rep => "rep",
            Format::Rep2016 => "rep-2016",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A parsed trace: ops in order, the name of every id, and what the header said.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Trace {
    pub ops: Vec<Op>,
    /// `names[id]`: the script variable. Empty for `.rep` files, whose id `N` is named
    /// `"#N"` on demand (a million ids need no million strings).
    pub names: Vec<String>,
    /// How many ids the ops may use (`0..ids`): `names.len()` for scripts, the header's
    /// count for `.rep` files.
    pub ids: u32,
    /// The heap size the file suggests: a classic `.rep` header's first line (when it is
    /// not 0), a 2016 header's peak payload bytes; `None` for scripts.
    pub heap_hint: Option<u64>,
    pub format: Format,
    /// The `.rep` header's weight (`None` for scripts).
    pub weight: Option<u32>,
    /// The bytes of the scripts' `write(p, "text")` ops, escapes decoded (empty for `.rep`
    /// files): [`OpKind::Write`]'s `text` indexes it.
    pub texts: Vec<Vec<u8>>,
}

impl Trace {
    /// The name of an id (`"NULL"` for [`NULL_ID`], `"#N"` for an id without a name).
    pub fn name(&self, id: u32) -> String {
        if id == NULL_ID {
            return String::from("NULL");
        }
        match self.names.get(id as usize) {
            Some(n) => n.clone(),
            None => format!("#{id}"),
        }
    }

    /// The op written as a C statement, e.g. `q = realloc(p, 100)` or `write(p, "hi\n")`.
    pub fn op_text(&self, op: &Op) -> String {
        op_text_with(op, |id| self.name(id), &self.texts)
    }
}

/// The op written as a C statement, naming ids with `name`. A `write`'s text is not known
/// here: it is written `write(p, <text N>)`; [`op_text_with`] gives it.
pub fn op_text(op: &Op, name: impl Fn(u32) -> String) -> String {
    op_text_with::<Vec<u8>>(op, name, &[])
}

/// A pointer argument with its offset: `p`, `p + 8`.
fn at(name: String, off: u32) -> String {
    if off == 0 {
        name
    } else {
        format!("{name} + {off}")
    }
}

/// `bytes` as a C string literal (with its quotes): printable ASCII as is, `\"`, `\\`,
/// `\n`, `\t`, `\r`, `\0` escaped, any other byte as `\xHH`. The script parser reads it
/// back to the same bytes.
pub fn quote(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() + 2);
    s.push('"');
    for &b in bytes {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\r' => s.push_str("\\r"),
            0 => s.push_str("\\0"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('"');
    s
}

/// The op written as a C statement, naming ids with `name`, a `write`'s text from `texts`.
pub fn op_text_with<T: AsRef<[u8]>>(op: &Op, name: impl Fn(u32) -> String, texts: &[T]) -> String {
    match op.kind {
        OpKind::Write { off, text } => match texts.get(text as usize) {
            Some(t) => format!("write({}, {})", at(name(op.id), off), quote(t.as_ref())),
            None => format!("write({}, <text {text}>)", at(name(op.id), off)),
        },
        OpKind::Memset { off, byte, n } => format!("memset({}, {byte}, {n})", at(name(op.id), off)),
        OpKind::Malloc { size } => format!("{} = malloc({size})", name(op.to)),
        OpKind::Calloc { n, size } => format!("{} = calloc({n}, {size})", name(op.to)),
        OpKind::Memalign { align, size } => format!("{} = memalign({align}, {size})", name(op.to)),
        OpKind::Realloc { size } => format!("{} = realloc({}, {size})", name(op.to), name(op.id)),
        OpKind::Free => format!("free({})", name(op.id)),
    }
}
