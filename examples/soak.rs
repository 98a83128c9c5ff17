//! `make soak`: millions of random calls per policy, the heap checker at intervals, payload
//! bytes verified, and the same workload run again and again to show the heap does not grow
//! when it repeats. Prints a table; exits non-zero on any violation or growth.
//!
//! ```text
//! cargo run --release --example soak -- [--ops N] [--rounds R] [--check-every N] [--settle K] [--policy NAME]...
//! ```
//! Defaults: 10,000,000 ops per policy in 10 rounds of the same 1,000,000-op workload (the
//! same seed each round; every block still live at the end of a round is freed), the
//! checker every 1,000 ops. The policies: every one of the playground with its default
//! knobs (header 8, align 8, coalescing on) and `production`, the geometry of
//! `heaptale::Allocator` (4-byte header, TLSF, quick lists).
//!
//! A violation is any of: `Heap::check` failing, a live payload whose bytes changed, a
//! payload misaligned or overlapping the heap's edges, a failed call other than out of
//! memory, a failed call that changed the break. Growth: the break after the last round
//! above the break `--settle` (3) rounds before it. The first repeats may settle the heap —
//! a fresh heap grows at its top while a reused one carves the free blocks the last round
//! left — so the table also shows the heap after rounds 1 and 2 and the round from which it
//! never grew again: memory is bounded when the heap reaches such a fixed point.

use heaptale::event::NoObserver;
use heaptale::policy::block::Compact;
use heaptale::policy::bt::Bt;
use heaptale::policy::tlsf::Tlsf;
use heaptale::policy::Policy;
use heaptale::source::Arena;
use heaptale::{Config, Heap, HeapError, PolicyKind};
use std::time::Instant;

/// xorshift64*: small, fast, deterministic.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        (self.next() >> 11) % n
    }
    /// A request size: mostly small, some medium, a few large.
    fn size(&mut self) -> usize {
        (match self.below(100) {
            0..=59 => 1 + self.below(64),
            60..=84 => 64 + self.below(448),
            85..=96 => 512 + self.below(7680),
            _ => 8192 + self.below(122_880),
        }) as usize
    }
}

/// The most blocks live at once.
const MAX_LIVE: usize = 2000;

#[derive(Clone, Copy)]
struct Live {
    addr: usize,
    len: usize,
    sig: u64,
}

#[derive(Default)]
struct Figures {
    ops: u64,
    checks: u64,
    violations: u64,
    first_violation: Option<String>,
    oom: u64,
    /// The break (heap bytes) at the end of each round.
    brk_after: Vec<usize>,
    seconds: f64,
}

impl Figures {
    fn violation(&mut self, msg: String) {
        self.violations += 1;
        if self.first_violation.is_none() {
            self.first_violation = Some(msg);
        }
    }
}

fn sign<S: heaptale::source::Source, P: Policy>(h: &mut Heap<S, P>, l: &Live) {
    let p = h.payload_mut(l.addr).expect("live");
    let n = l.len.min(8);
    p[..n].copy_from_slice(&l.sig.to_le_bytes()[..n]);
    if l.len > 8 {
        p[l.len - 1] = l.sig as u8 ^ 0x5A;
    }
}

fn signed<S: heaptale::source::Source, P: Policy>(h: &Heap<S, P>, l: &Live, len: usize) -> bool {
    let Ok(p) = h.payload(l.addr) else {
        return false;
    };
    let n = len.min(8);
    p.len() >= len
        && p[..n] == l.sig.to_le_bytes()[..n]
        && (len < l.len || len <= 8 || p[len - 1] == l.sig as u8 ^ 0x5A)
}

/// One round: `ops` calls from `seed`, then every live block freed.
fn round<S: heaptale::source::Source, P: Policy>(
    h: &mut Heap<S, P>,
    seed: u64,
    ops: u64,
    check_every: u64,
    align: usize,
    f: &mut Figures,
) {
    let mut rng = Rng(seed | 1);
    let mut live: Vec<Live> = Vec::with_capacity(MAX_LIVE);
    let mut sig = seed;
    for i in 0..ops {
        f.ops += 1;
        let free_now = live.len() >= MAX_LIVE || (!live.is_empty() && rng.below(100) < 45);
        let brk = h.brk();
        if free_now {
            let k = rng.below(live.len() as u64) as usize;
            if rng.below(5) == 0 {
                // realloc
                let l = live[k];
                let n = rng.size();
                match h.realloc(l.addr, n) {
                    Ok(a) => {
                        let moved = Live { addr: a, ..l };
                        if !signed(h, &moved, l.len.min(n)) {
                            f.violation(format!("op {i}: realloc({:#x}, {n}) lost bytes", l.addr));
                        }
                        sig = sig.wrapping_add(0x9E37_79B9_7F4A_7C15);
                        live[k] = Live {
                            addr: a,
                            len: n,
                            sig,
                        };
                        sign(h, &live[k]);
                    }
                    Err(HeapError::OutOfMemory { .. }) if h.brk() == brk => f.oom += 1,
                    Err(e) => f.violation(format!("op {i}: realloc: {e}")),
                }
            } else {
                let l = live.swap_remove(k);
                if !signed(h, &l, l.len) {
                    f.violation(format!(
                        "op {i}: the bytes of {:#x} changed before free",
                        l.addr
                    ));
                }
                if let Err(e) = h.free(l.addr) {
                    f.violation(format!("op {i}: free({:#x}): {e}", l.addr));
                }
            }
        } else {
            let n = rng.size();
            let (r, a, n) = match rng.below(10) {
                0 => {
                    let (k, m) = (1 + n % 8, n / 8 + 1);
                    (h.calloc(k, m), 1, k * m)
                }
                1 => {
                    let a = 16usize << rng.below(9);
                    (h.memalign(a, n), a, n)
                }
                _ => (h.malloc(n), 1, n),
            };
            match r {
                Ok(addr) => {
                    let len = h.usable_size(addr).map(|u| u.min(n.max(1))).unwrap_or(0);
                    if addr % align.max(a) != 0
                        || addr < h.start()
                        || addr + len > h.brk()
                        || len == 0
                    {
                        f.violation(format!("op {i}: block {addr:#x} misplaced (align {a})"));
                        continue;
                    }
                    sig = sig.wrapping_add(0x9E37_79B9_7F4A_7C15);
                    let l = Live { addr, len, sig };
                    sign(h, &l);
                    live.push(l);
                }
                Err(HeapError::OutOfMemory { .. }) if h.brk() == brk => f.oom += 1,
                Err(e) => f.violation(format!("op {i}: allocation: {e}")),
            }
        }
        if (i + 1) % check_every == 0 {
            f.checks += 1;
            if let Err(e) = h.check() {
                f.violation(format!("op {i}: check: {e}"));
                return;
            }
        }
    }
    for l in live.drain(..) {
        if !signed(h, &l, l.len) {
            f.violation(format!("end of round: the bytes of {:#x} changed", l.addr));
        }
        if let Err(e) = h.free(l.addr) {
            f.violation(format!("end of round: free({:#x}): {e}", l.addr));
        }
    }
    f.checks += 1;
    if let Err(e) = h.check() {
        f.violation(format!("end of round: check: {e}"));
    }
    f.brk_after.push(h.brk() - h.start());
}

fn soak<S: heaptale::source::Source, P: Policy>(
    mut h: Heap<S, P>,
    ops: u64,
    rounds: u64,
    check_every: u64,
    align: usize,
) -> Figures {
    let mut f = Figures::default();
    let t0 = Instant::now();
    for _ in 0..rounds {
        round(
            &mut h,
            0x5EED_0001,
            ops / rounds,
            check_every,
            align,
            &mut f,
        );
        if f.violations > 0 {
            break;
        }
    }
    f.seconds = t0.elapsed().as_secs_f64();
    f
}

fn main() {
    let mut ops = 10_000_000u64;
    let mut rounds = 10u64;
    let mut check_every = 1000u64;
    let mut settle = 3u64;
    let mut only: Vec<String> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = |what: &str| -> u64 {
            args.next()
                .and_then(|v| v.replace('_', "").parse().ok())
                .unwrap_or_else(|| {
                    eprintln!("soak: {what} takes a number");
                    std::process::exit(2)
                })
        };
        match a.as_str() {
            "--ops" => ops = num("--ops"),
            "--rounds" => rounds = num("--rounds").max(1),
            "--check-every" => check_every = num("--check-every").max(1),
            "--settle" => settle = num("--settle"),
            "--policy" => only.push(args.next().unwrap_or_default()),
            _ => {
                eprintln!("usage: soak [--ops N] [--rounds R] [--check-every N] [--settle K] [--policy NAME]...");
                std::process::exit(2)
            }
        }
    }
    let names: Vec<&str> = PolicyKind::ALL
        .iter()
        .map(|p| p.name())
        .chain(["production"])
        .collect();
    let run: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| only.is_empty() || only.iter().any(|o| o == n))
        .collect();
    println!("soak: {ops} ops per policy in {rounds} rounds of the same workload, the checker every {check_every} ops\n");
    println!("| policy | ops | checks | violations | out of memory | heap after round 1 (bytes) | after round 2 | after round {rounds} | settled from round | growth over the last {settle} rounds | ops/s (checks included) |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut bad = false;
    for name in run {
        let arena = Arena::new(512 << 20).expect("512 MiB for the arena");
        let f = if name == "production" {
            let h = Heap::with_policy(
                arena,
                Bt::new(Compact, true, Tlsf::new()).with_quick_lists(256),
                NoObserver,
                None,
            )
            .unwrap();
            soak(h, ops, rounds, check_every, 8)
        } else {
            let policy: PolicyKind = name.parse().unwrap();
            let h = Heap::new(
                arena,
                &Config {
                    policy,
                    ..Config::default()
                },
            )
            .unwrap();
            soak(h, ops, rounds, check_every, 8)
        };
        let at = |r: u64| f.brk_after.get(r as usize - 1).copied().unwrap_or(0);
        let last = at(rounds);
        // The first round from which the heap never grew again.
        let settled = (1..=rounds)
            .rev()
            .take_while(|&r| at(r) == last)
            .last()
            .unwrap_or(rounds);
        // The heap may settle over the first repeats (a fresh heap grows at its top, a reused
        // one carves its free blocks); over the last rounds it must not grow at all.
        let growth = last.saturating_sub(at(rounds.saturating_sub(settle).max(1)));
        println!(
            "| {name} | {} | {} | {} | {} | {} | {} | {last} | {settled} | {growth} | {:.0} |",
            f.ops,
            f.checks,
            f.violations,
            f.oom,
            at(1),
            at(2.min(rounds)),
            f.ops as f64 / f.seconds
        );
        if let Some(v) = &f.first_violation {
            eprintln!("soak: {name}: {} violations; the first: {v}", f.violations);
        }
        if growth > 0 {
            eprintln!(
                "soak: {name}: the heap grew when the workload repeated: {:?}",
                f.brk_after
            );
        } else if std::env::var_os("SOAK_VERBOSE").is_some() {
            eprintln!("soak: {name}: heap after each round: {:?}", f.brk_after);
        }
        bad |= f.violations > 0 || growth > 0;
    }
    if bad {
        std::process::exit(1);
    }
}
