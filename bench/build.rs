//! Build step of the benchmark module: turns the traces into compact binary op lists that
//! `src/traces.rs` includes with `include_bytes!`.
//!
//! * the real traces `../tests/traces/*.rep` (CS:APP malloc-lab format), and
//! * four malloc-lab-style traces generated here from fixed seeds (`gen-*`, see `gen`).
//!
//! Binary format, little-endian `u32` words: `kind << 30 | id` with kind 0 = alloc, 1 = free,
//! 2 = realloc; alloc and realloc are followed by one word, the size in bytes.
//! The generated traces are also written as `.rep` text into `$OUT_DIR/rep/` (and copied to
//! `bench/target/traces/` by `run.mjs`) so the heaptale CLI can replay them.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy)]
enum Op {
    A(u32, u32),
    F(u32),
    R(u32, u32),
}

struct Trace {
    name: String,
    ops: Vec<Op>,
    ids: u32,
    /// Replays of the trace in one run of the workload (short traces are replayed several
    /// times so a run lasts long enough to time).
    repeat: u32,
    source: String,
}

/// Replay at least this many ops per run.
const MIN_OPS_PER_RUN: usize = 1_000_000;

fn parse_rep(path: &Path) -> Trace {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut ops = Vec::new();
    let mut max_id = 0u32;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.is_empty() || f[0].parse::<u64>().is_ok() {
            continue; // header lines are bare numbers
        }
        let num = |i: usize| -> u32 {
            f.get(i)
                .and_then(|s| s.parse::<u32>().ok())
                .unwrap_or_else(|| panic!("{}:{}: bad line {line:?}", path.display(), n + 1))
        };
        let op = match f[0] {
            "a" => Op::A(num(1), num(2)),
            "r" => Op::R(num(1), num(2)),
            "f" => Op::F(num(1)),
            _ => panic!("{}:{}: unknown op {line:?}", path.display(), n + 1),
        };
        let id = match op {
            Op::A(i, _) | Op::R(i, _) | Op::F(i) => i,
        };
        max_id = max_id.max(id);
        ops.push(op);
    }
    let name = format!("trace-{}", path.file_stem().unwrap().to_string_lossy());
    let repeat = MIN_OPS_PER_RUN.div_ceil(ops.len().max(1)) as u32;
    Trace {
        name,
        ops,
        ids: max_id + 1,
        repeat,
        source: format!(
            "tests/traces/{}",
            path.file_name().unwrap().to_string_lossy()
        ),
    }
}

/// splitmix64: the generators' deterministic PRNG.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u32) -> u32 {
        ((self.next() >> 32) * n as u64 >> 32) as u32
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u32, hi: u32) -> u32 {
        lo + self.below(hi - lo + 1)
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i as u32 + 1) as usize;
            v.swap(i, j);
        }
    }
}

/// Ids handed out from a free list, so every trace uses a small dense id space.
struct Ids {
    free: Vec<u32>,
    next: u32,
}
impl Ids {
    fn new() -> Self {
        Ids {
            free: Vec::new(),
            next: 0,
        }
    }
    fn get(&mut self) -> u32 {
        self.free.pop().unwrap_or_else(|| {
            self.next += 1;
            self.next - 1
        })
    }
    fn put(&mut self, id: u32) {
        self.free.push(id)
    }
}

struct Gen {
    ops: Vec<Op>,
    ids: Ids,
    rng: Rng,
}
impl Gen {
    fn new(seed: u64) -> Self {
        Gen {
            ops: Vec::new(),
            ids: Ids::new(),
            rng: Rng(seed),
        }
    }
    fn a(&mut self, size: u32) -> u32 {
        let id = self.ids.get();
        self.ops.push(Op::A(id, size));
        id
    }
    fn f(&mut self, id: u32) {
        self.ops.push(Op::F(id));
        self.ids.put(id);
    }
    fn r(&mut self, id: u32, size: u32) {
        self.ops.push(Op::R(id, size));
    }
    fn done(self, name: &str, about: &str) -> Trace {
        let repeat = MIN_OPS_PER_RUN.div_ceil(self.ops.len()) as u32;
        Trace {
            name: name.into(),
            ids: self.ids.next,
            repeat,
            ops: self.ops,
            source: format!("generated: {about}"),
        }
    }
}

/// malloc-lab's binary-bal pattern, randomised: pairs of a small and a large block, every
/// large one freed, then blocks a little larger than the holes left, then everything freed.
fn gen_binary() -> Trace {
    let mut g = Gen::new(0xB1A7);
    for _round in 0..12 {
        let n = 2000;
        let mut small = Vec::new();
        let mut large = Vec::new();
        for _ in 0..n {
            let s = g.rng.range(16, 64);
            small.push(g.a(s));
            let l = g.rng.range(112, 448);
            large.push(g.a(l));
        }
        for id in large {
            g.f(id);
        }
        let mut big = Vec::new();
        for _ in 0..n {
            let s = g.rng.range(512, 640);
            big.push(g.a(s));
        }
        let mut all: Vec<u32> = small.into_iter().chain(big).collect();
        g.rng.shuffle(&mut all);
        for id in all {
            g.f(id);
        }
    }
    g.done("gen-binary", "malloc-lab binary-bal pattern: small/large pairs, larges freed, slightly larger blocks, all freed; 12 rounds of 2,000 pairs")
}

/// The binary-trees benchmark's allocation pattern: a long-lived tree, and many short-lived
/// complete trees built and freed in post-order; nodes of 16 bytes, leaves carry a payload of
/// 8..64 bytes.
fn gen_tree() -> Trace {
    let mut g = Gen::new(0x7EE5);
    fn build(g: &mut Gen, depth: u32, out: &mut Vec<u32>) {
        let id = g.a(16);
        out.push(id);
        if depth == 0 {
            let s = g.rng.range(8, 64);
            out.push(g.a(s));
        } else {
            build(g, depth - 1, out);
            build(g, depth - 1, out);
        }
    }
    let (min_depth, max_depth) = (4u32, 12u32);
    let mut long_lived = Vec::new();
    build(&mut g, max_depth, &mut long_lived);
    let mut d = min_depth;
    while d <= max_depth {
        let iterations = 1u32 << (max_depth - d + min_depth - 4);
        for _ in 0..iterations {
            let mut t = Vec::new();
            build(&mut g, d, &mut t);
            for id in t.into_iter().rev() {
                g.f(id);
            }
        }
        d += 2;
    }
    for id in long_lived.into_iter().rev() {
        g.f(id);
    }
    g.done("gen-tree", "binary-trees: a long-lived tree of depth 12, short-lived trees of depth 4..12 built and freed in post-order")
}

/// malloc-lab's realloc-bal pattern, randomised: 200 buffers grown by realloc in steps of up
/// to half their size (to 64 KiB), sometimes shrunk or freed, with small blocks allocated in
/// between (kept in a ring of 1,000) that stand in the way of growing in place.
fn gen_realloc() -> Trace {
    let mut g = Gen::new(0x5EA1);
    const B: usize = 200;
    let mut buf: [Option<(u32, u32)>; B] = [None; B];
    let mut ring: Vec<Option<u32>> = vec![None; 1000];
    let mut ri = 0;
    for _ in 0..120_000 {
        let i = g.rng.below(B as u32) as usize;
        match buf[i] {
            None => {
                let s = g.rng.range(64, 256);
                buf[i] = Some((g.a(s), s));
            }
            Some((id, size)) => {
                let p = g.rng.below(100);
                if p < 85 {
                    let ns = size + g.rng.range(16, size / 2 + 16);
                    if ns > 65536 {
                        g.f(id);
                        buf[i] = None;
                    } else {
                        g.r(id, ns);
                        buf[i] = Some((id, ns));
                    }
                } else if p < 95 {
                    let ns = (size / 2).max(16);
                    g.r(id, ns);
                    buf[i] = Some((id, ns));
                } else {
                    g.f(id);
                    buf[i] = None;
                }
            }
        }
        if g.rng.below(100) < 30 {
            if let Some(old) = ring[ri].take() {
                g.f(old);
            }
            let s = g.rng.range(16, 96);
            ring[ri] = Some(g.a(s));
            ri = (ri + 1) % ring.len();
        }
    }
    for (id, _) in buf.iter().flatten() {
        g.f(*id);
    }
    for id in ring.into_iter().flatten() {
        g.f(id);
    }
    g.done("gen-realloc", "malloc-lab realloc-bal pattern: 200 buffers grown by realloc to 64 KiB, with small blocks allocated in between")
}

/// malloc-lab's coalescing-bal pattern and batch frees: pairs freed and replaced by one block
/// of their joint size; batches of 1,000 blocks (16..2,048 bytes) freed in random order except
/// a tenth kept long-lived (at most 2,000, oldest freed first), then half as many blocks of
/// up to twice the size allocated and freed.
fn gen_coalesce() -> Trace {
    let mut g = Gen::new(0xC0A1);
    let mut long: std::collections::VecDeque<u32> = Default::default();
    for _round in 0..40 {
        for _ in 0..500 {
            let (s1, s2) = (g.rng.range(16, 1024), g.rng.range(16, 1024));
            let a = g.a(s1);
            let b = g.a(s2);
            g.f(a);
            g.f(b);
            let c = g.a(s1 + s2);
            if g.rng.below(10) == 0 {
                long.push_back(c);
            } else {
                g.f(c);
            }
        }
        let mut batch: Vec<u32> = (0..1000)
            .map(|_| {
                let s = g.rng.range(16, 2048);
                g.a(s)
            })
            .collect();
        g.rng.shuffle(&mut batch);
        for id in batch {
            if g.rng.below(10) == 0 {
                long.push_back(id);
            } else {
                g.f(id);
            }
        }
        while long.len() > 2000 {
            let id = long.pop_front().unwrap();
            g.f(id);
        }
        let big: Vec<u32> = (0..500)
            .map(|_| {
                let s = g.rng.range(32, 4096);
                g.a(s)
            })
            .collect();
        for id in big {
            g.f(id);
        }
    }
    for id in long {
        g.f(id);
    }
    g.done("gen-coalesce", "malloc-lab coalescing-bal pattern plus batch frees in random order, a tenth kept long-lived")
}

fn encode(t: &Trace) -> Vec<u8> {
    let mut out = Vec::with_capacity(t.ops.len() * 8);
    for op in &t.ops {
        let (word, size) = match *op {
            Op::A(id, s) => (id, Some(s)),
            Op::F(id) => (1 << 30 | id, None),
            Op::R(id, s) => (2 << 30 | id, Some(s)),
        };
        assert!(word & 0x3FFF_FFFF < 1 << 30);
        out.extend_from_slice(&word.to_le_bytes());
        if let Some(s) = size {
            out.extend_from_slice(&s.to_le_bytes());
        }
    }
    out
}

fn to_rep(t: &Trace) -> String {
    let mut s = format!("0\n{}\n{}\n1\n", t.ids, t.ops.len());
    for op in &t.ops {
        match *op {
            Op::A(id, n) => writeln!(s, "a {id} {n}"),
            Op::F(id) => writeln!(s, "f {id}"),
            Op::R(id, n) => writeln!(s, "r {id} {n}"),
        }
        .unwrap();
    }
    s
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let dir = manifest.join("../tests/traces");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut reps: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rep"))
        .collect();
    reps.sort();
    let mut traces: Vec<Trace> = reps.iter().map(|p| parse_rep(p)).collect();
    traces.extend([gen_binary(), gen_tree(), gen_realloc(), gen_coalesce()]);

    fs::create_dir_all(out.join("rep")).unwrap();
    let mut rs = String::from("// generated by build.rs\npub static TRACES: &[TraceData] = &[\n");
    for t in &traces {
        let file = out.join(format!("{}.bin", t.name));
        fs::write(&file, encode(t)).unwrap();
        if t.name.starts_with("gen-") {
            fs::write(out.join("rep").join(format!("{}.rep", t.name)), to_rep(t)).unwrap();
        }
        writeln!(
            rs,
            "    TraceData {{ name: {:?}, source: {:?}, ids: {}, ops: {}, repeat: {}, bytes: &Aligned(*include_bytes!({:?})) }},",
            t.name,
            t.source,
            t.ids,
            t.ops.len(),
            t.repeat,
            file.display().to_string()
        )
        .unwrap();
    }
    rs.push_str("];\n");
    fs::write(out.join("traces.rs"), rs).unwrap();
}
