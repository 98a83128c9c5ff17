//! Replaying traces: every real trace under every policy with zero integrity errors, the
//! list knobs, the integrity checks themselves (against deliberately broken policies), and
//! random scripts on small heaps.
#![cfg(feature = "alloc")]

use heaptale::heap::{BlockInfo, Mem};
use heaptale::policy::{AnyPolicy, Layout, Policy};
use heaptale::source::{Arena, Source};
use heaptale::trace::{self, parse, parse_script, replay, replay_with, Options, Report, Trace};
use heaptale::{Config, Heap, HeapError, NoObserver, Observer, Order, PolicyKind};
use proptest::prelude::*;
use std::sync::OnceLock;

const TRACES: [&str; 3] = [
    "awk-wordcount.rep",
    "node-json.rep",
    "python-regex-counter.rep",
];

fn load(name: &str) -> &'static Trace {
    static CACHE: OnceLock<Vec<Trace>> = OnceLock::new();
    let all = CACHE.get_or_init(|| {
        TRACES
            .iter()
            .map(|n| {
                let path = format!("{}/tests/traces/{n}", env!("CARGO_MANIFEST_DIR"));
                parse(&std::fs::read_to_string(&path).unwrap()).unwrap()
            })
            .collect()
    });
    &all[TRACES.iter().position(|n| *n == name).unwrap()]
}

fn heap(cfg: &Config, cap: usize) -> Heap<Arena> {
    let arena = match cfg.base {
        Some(b) => Arena::with_base(cap, b),
        None => Arena::new(cap),
    };
    Heap::new(arena.unwrap(), cfg).unwrap()
}

/// Whether a policy allocates at all yet (buddy was being written alongside these tests).
fn works(policy: PolicyKind) -> bool {
    let mut h = heap(
        &Config {
            policy,
            ..Config::default()
        },
        1 << 20,
    );
    !matches!(h.malloc(16), Err(HeapError::OutOfMemory { .. }))
}

fn assert_clean(what: &str, r: &Report, trace: &Trace) {
    assert!(
        r.integrity_errors.is_empty(),
        "{what}: {} integrity errors, first: {}",
        r.integrity_errors.len(),
        r.integrity_errors[0]
    );
    assert_eq!(r.alloc_failures, 0, "{what}: {:?}", r.first_alloc_failure);
    assert_eq!(r.ops, trace.ops.len() as u64, "{what}");
    assert!(
        r.peak_live_bytes > 0 && r.peak_live_bytes <= r.peak_heap_bytes,
        "{what}: {r:?}"
    );
    assert!(r.utilization > 0.0 && r.utilization <= 1.0, "{what}: {r:?}");
}

fn replay_all_traces(policy: PolicyKind) {
    if !works(policy) {
        eprintln!("skipping {policy}: it does not allocate yet");
        return;
    }
    for name in TRACES {
        let t = load(name);
        let cfg = Config {
            policy,
            ..Config::default()
        };
        let mut h = heap(&cfg, 64 << 20);
        let check_every = if t.ops.len() > 10_000 { 20_000 } else { 100 };
        let r = replay_with(
            &mut h,
            t,
            &Options {
                check_every,
                ..Options::default()
            },
        );
        assert_clean(&format!("{name} under {policy}"), &r, t);
        h.check().unwrap();
        // Every trace ends with everything freed.
        let s = h.stats();
        assert_eq!(s.used_blocks, 0, "{name} under {policy}: {s:?}");
        assert_eq!(r.heap_bytes, r.peak_heap_bytes);
        assert_eq!(r.heap_bytes, (h.brk() - h.start()) as u64);
        eprintln!(
            "{name:28} {policy:8} utilization {:.4} heap {}",
            r.utilization, r.heap_bytes
        );
    }
}

#[test]
fn real_traces_first() {
    replay_all_traces(PolicyKind::First);
}
#[test]
fn real_traces_next() {
    replay_all_traces(PolicyKind::Next);
}
#[test]
fn real_traces_best() {
    replay_all_traces(PolicyKind::Best);
}
#[test]
fn real_traces_worst() {
    replay_all_traces(PolicyKind::Worst);
}
#[test]
fn real_traces_seglist() {
    replay_all_traces(PolicyKind::Seglist);
}
#[test]
fn real_traces_tlsf() {
    replay_all_traces(PolicyKind::Tlsf);
}
#[test]
fn real_traces_buddy() {
    replay_all_traces(PolicyKind::Buddy);
}

#[test]
fn real_traces_heaptale() {
    replay_all_traces(PolicyKind::Heaptale);
}

#[test]
fn every_policy_is_covered() {
    // When a policy is added, add a real_traces_* test for it.
    assert_eq!(PolicyKind::ALL.len(), 8);
}

#[test]
fn list_knobs_on_the_small_trace() {
    let t = load("awk-wordcount.rep");
    for policy in [
        PolicyKind::First,
        PolicyKind::Next,
        PolicyKind::Best,
        PolicyKind::Worst,
    ] {
        for order in Order::ALL {
            for coalesce in [true, false] {
                let cfg = Config {
                    policy,
                    order,
                    coalesce,
                    ..Config::default()
                };
                let mut h = heap(&cfg, 16 << 20);
                let r = replay_with(
                    &mut h,
                    t,
                    &Options {
                        check_every: 50,
                        ..Options::default()
                    },
                );
                assert_clean(&format!("{policy} {order} coalesce {coalesce}"), &r, t);
            }
        }
    }
}

#[test]
fn header_and_align_knobs() {
    let t = load("awk-wordcount.rep");
    for policy in PolicyKind::ALL.into_iter().filter(|&p| works(p)) {
        for (header, align) in [(4, 4), (8, 16), (16, 32), (12, 8), (64, 64)] {
            let cfg = Config {
                policy,
                header,
                align,
                ..Config::default()
            };
            let Ok(mut h) = Heap::new(Arena::new(16 << 20).unwrap(), &cfg) else {
                continue;
            };
            let r = replay_with(
                &mut h,
                t,
                &Options {
                    check_every: 100,
                    ..Options::default()
                },
            );
            assert_clean(&format!("{policy} header {header} align {align}"), &r, t);
        }
    }
}

#[test]
fn base_moves_addresses_not_results() {
    let t = load("awk-wordcount.rep");
    let a = replay(&mut heap(&Config::default(), 16 << 20), t);
    let b = replay(
        &mut heap(
            &Config {
                base: Some(0x4000_0000),
                ..Config::default()
            },
            16 << 20,
        ),
        t,
    );
    assert_eq!(a, b);
}

#[test]
fn any_base_reports_the_same_and_never_panics() {
    // Alignment is checked on offsets from the heap's (64 KiB aligned) start, so a base that is
    // not a multiple of the alignment (OSTEP's -b 1000, or 1001) is fine.
    let t = load("awk-wordcount.rep");
    let want = replay(&mut heap(&Config::default(), 16 << 20), t);
    for base in [1000usize, 1001, 0x10004] {
        let r = replay(
            &mut heap(
                &Config {
                    base: Some(base),
                    ..Config::default()
                },
                16 << 20,
            ),
            t,
        );
        assert_eq!(r, want, "base {base:#x}");
    }
    // Near the top of the address space reported addresses would wrap: such a base is refused.
    for base in [usize::MAX - 0xFFFF, usize::MAX - 7] {
        let cfg = Config {
            base: Some(base),
            ..Config::default()
        };
        let e = Heap::new(Arena::with_base(1 << 16, base).unwrap(), &cfg).err();
        assert!(matches!(e, Some(HeapError::BadConfig(_))), "base {base:#x}");
    }
}

#[test]
fn fixed_heap_runs_out_cleanly() {
    let t = load("awk-wordcount.rep");
    let cfg = Config {
        heap_size: Some(1 << 20),
        ..Config::default()
    };
    let mut h = heap(&cfg, 1 << 20);
    let r = replay(&mut h, t);
    assert!(r.integrity_errors.is_empty(), "{:?}", r.integrity_errors);
    assert!(r.alloc_failures > 0);
    let first = r.first_alloc_failure.unwrap();
    assert!(
        first.starts_with("op ") && first.contains("(line ") && first.contains("out of memory"),
        "{first}"
    );
    assert!(matches!(
        r.first_alloc_error,
        Some(HeapError::OutOfMemory { .. })
    ));
    assert_eq!(r.heap_bytes, 1 << 20);
    h.check().unwrap();
}

#[test]
fn script_replay_report() {
    let t = parse_script("p = malloc(100)\nq = calloc(10, 10)\nr = memalign(256, 50)\np = realloc(p, 1000)\nfree(q)\nfree(r)\nfree(p)\n").unwrap();
    let mut h = heap(&Config::default(), 1 << 20);
    let r = replay(&mut h, &t);
    assert!(r.ok(), "{r:?}");
    assert_eq!(r.ops, 7);
    assert_eq!(r.peak_live_bytes, 100 + 100 + 50 - 100 + 1000);
    assert!(r.peak_heap_bytes >= r.peak_live_bytes);
}

#[test]
fn leaked_blocks_stay_checked() {
    // p's first block is leaked: it stays live, is verified at the end, and counts as live.
    let t = parse_script("p = malloc(64)\np = malloc(32)\nfree(p)\n").unwrap();
    let mut h = heap(&Config::default(), 1 << 20);
    let r = replay(&mut h, &t);
    assert!(r.ok(), "{r:?}");
    assert_eq!(r.peak_live_bytes, 96);
    assert_eq!(h.stats().used_blocks, 1);
}

#[test]
fn empty_trace() {
    let t = parse("").unwrap();
    let r = replay(&mut heap(&Config::default(), 1 << 16), &t);
    assert!(r.ok());
    assert_eq!((r.ops, r.peak_live_bytes, r.utilization), (0, 0, 0.0));
}

#[test]
fn failed_allocations_store_null_in_replays() {
    // The huge malloc fails; free(p) is then free(NULL), and realloc(p) is malloc.
    let t = parse_script(
        "p = malloc(4000000000)\nfree(p)\nq = malloc(4000000000)\nq = realloc(q, 16)\nfree(q)\n",
    )
    .unwrap();
    let mut h = heap(&Config::default(), 1 << 20);
    let r = replay(&mut h, &t);
    assert!(r.integrity_errors.is_empty(), "{:?}", r.integrity_errors);
    assert_eq!(r.alloc_failures, 2);
    assert_eq!(
        r.first_alloc_failure.as_deref(),
        Some(
            "op 0 (line 1): p = malloc(4000000000): size overflow: the requested size is too large"
        )
    );
    assert_eq!(h.stats().used_blocks, 0);
}

#[test]
fn a_failed_realloc_in_place_keeps_the_block() {
    // `r 0 huge` fails; id 0 still holds its block, so `f 0` frees it and the heap ends empty.
    let t = parse("0\n1\n3\n1\na 0 16\nr 0 4000000000\nf 0\n").unwrap();
    let mut h = heap(&Config::default(), 1 << 20);
    let r = replay(&mut h, &t);
    assert!(r.integrity_errors.is_empty(), "{:?}", r.integrity_errors);
    assert_eq!(r.alloc_failures, 1);
    assert_eq!(h.stats().used_blocks, 0);
}

// ---------------------------------------------------------------- the checks catch bugs

/// A policy that delegates to a real one and then misbehaves in one way.
struct Broken {
    inner: AnyPolicy,
    bug: Bug,
    mallocs: u32,
    last: Option<u32>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Bug {
    /// Every malloc writes a byte into the payload of the one before (still live).
    Scribble,
    /// A realloc that moves forgets to copy.
    NoCopy,
    /// The third malloc hands out the second one's payload again.
    Overlap,
    /// Payloads 4 bytes off.
    Misalign,
    /// A payload past the break.
    Outside,
}

impl Policy for Broken {
    fn init<S: Source>(&mut self, m: &mut Mem<S>) {
        self.inner.init(m)
    }
    fn layout(&self) -> Layout {
        self.inner.layout()
    }
    fn validate<S: Source>(&self, m: &Mem<S>, p: u32, addr: usize) -> Result<u32, HeapError> {
        let p = match self.bug {
            Bug::Misalign => p.wrapping_sub(4),
            Bug::Outside if p >= m.brk() => return Err(HeapError::Foreign { addr }),
            _ => p,
        };
        self.inner.validate(m, p, addr)
    }
    fn malloc<S: Source, O: Observer>(
        &mut self,
        m: &mut Mem<S>,
        o: &mut O,
        request: usize,
        align: u32,
    ) -> Result<u32, HeapError> {
        self.mallocs += 1;
        if self.bug == Bug::Overlap && self.mallocs == 3 {
            return Ok(self.last.unwrap());
        }
        if self.bug == Bug::Outside && self.mallocs == 2 {
            return Ok(m.brk() + 64);
        }
        let p = self.inner.malloc(m, o, request, align)?;
        if self.bug == Bug::Scribble {
            if let Some(prev) = self.last {
                m.bytes_mut(prev, 1)[0] ^= 0xFF;
            }
        }
        self.last = Some(p);
        Ok(if self.bug == Bug::Misalign { p + 4 } else { p })
    }
    fn free<S: Source, O: Observer>(&mut self, m: &mut Mem<S>, o: &mut O, b: u32) {
        self.inner.free(m, o, b)
    }
    fn realloc<S: Source, O: Observer>(
        &mut self,
        m: &mut Mem<S>,
        o: &mut O,
        b: u32,
        request: usize,
    ) -> Result<u32, HeapError> {
        if self.bug == Bug::NoCopy {
            let p = self.inner.malloc(m, o, request, self.layout().align)?;
            m.bytes_mut(p, request as u32).fill(0);
            self.inner.free(m, o, b);
            return Ok(p);
        }
        self.inner.realloc(m, o, b, request)
    }
    fn usable_size<S: Source>(&self, m: &Mem<S>, b: u32) -> u32 {
        self.inner.usable_size(m, b)
    }
    fn walk<S: Source>(&self, m: &Mem<S>, f: &mut dyn FnMut(BlockInfo)) {
        self.inner.walk(m, f)
    }
    fn free_lists<S: Source>(&self, m: &Mem<S>, f: &mut dyn FnMut(usize, u32)) {
        self.inner.free_lists(m, f)
    }
    fn check<S: Source>(&self, m: &Mem<S>) -> Result<(), (u32, &'static str)> {
        self.inner.check(m)
    }
}

fn broken_replay(bug: Bug, script: &str) -> Report {
    let cfg = Config {
        policy: PolicyKind::Tlsf,
        ..Config::default()
    };
    let policy = Broken {
        inner: AnyPolicy::new(&cfg).unwrap(),
        bug,
        mallocs: 0,
        last: None,
    };
    let mut h = Heap::with_policy(Arena::new(1 << 20).unwrap(), policy, NoObserver, None).unwrap();
    replay(&mut h, &parse_script(script).unwrap())
}

fn first_error(r: &Report) -> &str {
    r.integrity_errors
        .first()
        .map(String::as_str)
        .unwrap_or("no integrity error")
}

#[test]
fn catches_a_scribble_over_a_live_block() {
    let r = broken_replay(
        Bug::Scribble,
        "a = malloc(40)\nb = malloc(40)\nfree(a)\nfree(b)\n",
    );
    let e = first_error(&r);
    assert!(
        e.starts_with("op 2 (line 3): free(a): the block of a at 0x"),
        "{e}"
    );
    assert!(
        e.contains("changed: 1 of its first 40 bytes differ, from byte 0 (0x"),
        "{e}"
    );
}

#[test]
fn catches_a_realloc_that_loses_data() {
    let r = broken_replay(
        Bug::NoCopy,
        "a = malloc(40)\nb = malloc(8)\na = realloc(a, 400)\nfree(a)\nfree(b)\n",
    );
    let e = first_error(&r);
    assert!(e.starts_with("op 2 (line 3): a = realloc(a, 400): realloc did not keep the data: the block of a at 0x"), "{e}");
    assert_eq!(r.integrity_errors.len(), 1, "{:?}", r.integrity_errors);
}

#[test]
fn catches_overlapping_blocks() {
    let r = broken_replay(
        Bug::Overlap,
        "a = malloc(40)\nb = malloc(40)\nc = malloc(40)\n",
    );
    let e = first_error(&r);
    assert!(
        e.starts_with("op 2 (line 3): c = malloc(40): payload [0x"),
        "{e}"
    );
    assert!(e.contains("overlaps the live block of b at [0x"), "{e}");
}

#[test]
fn catches_misaligned_payloads() {
    let r = broken_replay(Bug::Misalign, "a = malloc(40)\nfree(a)\n");
    let e = first_error(&r);
    assert!(
        e.starts_with("op 0 (line 1): a = malloc(40): payload 0x")
            && e.contains("is not aligned to 8 bytes"),
        "{e}"
    );
}

#[test]
fn catches_payloads_outside_the_heap() {
    let r = broken_replay(Bug::Outside, "a = malloc(40)\nb = malloc(40)\nfree(a)\n");
    let e = first_error(&r);
    assert!(
        e.starts_with("op 1 (line 2): b = malloc(40): payload [0x")
            && e.contains("lies outside the heap [0x10000, 0x"),
        "{e}"
    );
    assert!(
        e.contains("the heap does not know the block it returned"),
        "{e}"
    );
}

#[test]
fn stops_after_max_errors() {
    let mut text = String::from("x = malloc(8)\n");
    for i in 0..50 {
        text.push_str(&format!("v{i} = malloc(8)\n"));
    }
    let cfg = Config {
        policy: PolicyKind::Tlsf,
        ..Config::default()
    };
    let policy = Broken {
        inner: AnyPolicy::new(&cfg).unwrap(),
        bug: Bug::Misalign,
        mallocs: 0,
        last: None,
    };
    let mut h = Heap::with_policy(Arena::new(1 << 20).unwrap(), policy, NoObserver, None).unwrap();
    let r = replay_with(
        &mut h,
        &parse_script(&text).unwrap(),
        &Options {
            max_errors: 5,
            ..Options::default()
        },
    );
    assert_eq!(r.ops, 5);
    assert_eq!(r.integrity_errors.len(), 6);
    assert_eq!(r.integrity_errors[5], "stopped after 5 integrity errors");
}

// ---------------------------------------------------------------- random scripts

#[derive(Clone, Debug)]
enum Cmd {
    Malloc(usize, u32),
    Calloc(usize, u32, u32),
    Memalign(usize, u32, u32),
    Realloc(usize, usize, u32),
    Free(usize),
}

fn cmd() -> impl Strategy<Value = Cmd> {
    let size = prop_oneof![0u32..64, 0u32..600, 0u32..20_000];
    prop_oneof![
        3 => (0usize..12, size.clone()).prop_map(|(v, s)| Cmd::Malloc(v, s)),
        1 => (0usize..12, 0u32..20, 0u32..100).prop_map(|(v, n, s)| Cmd::Calloc(v, n, s)),
        1 => (0usize..12, 0u32..13, size.clone()).prop_map(|(v, a, s)| Cmd::Memalign(v, 1 << a, s)),
        2 => (0usize..12, 0usize..12, size).prop_map(|(v, w, s)| Cmd::Realloc(v, w, s)),
        3 => (0usize..12).prop_map(Cmd::Free),
    ]
}

/// A valid script from random commands: uses only live variables, frees everything at the end.
fn script(cmds: &[Cmd]) -> String {
    let mut live = [false; 12];
    let mut out = String::new();
    for c in cmds {
        match *c {
            Cmd::Malloc(v, s) if !live[v] => {
                out += &format!("v{v} = malloc({s})\n");
                live[v] = true;
            }
            Cmd::Calloc(v, n, s) if !live[v] => {
                out += &format!("v{v} = calloc({n}, {s})\n");
                live[v] = true;
            }
            Cmd::Memalign(v, a, s) if !live[v] => {
                out += &format!("v{v} = aligned_alloc({a}, {s})\n");
                live[v] = true;
            }
            Cmd::Realloc(v, w, s) if live[v] && (v == w || !live[w]) => {
                out += &format!("v{w} = realloc(v{v}, {s})\n");
                live[v] = false;
                live[w] = true;
            }
            Cmd::Free(v) if live[v] => {
                out += &format!("free(v{v})\n");
                live[v] = false;
            }
            _ => {}
        }
    }
    for (v, l) in live.iter().enumerate() {
        if *l {
            out += &format!("free(v{v})\n");
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: if cfg!(miri) { 2 } else { 64 }, ..ProptestConfig::default() })]

    #[test]
    fn random_scripts_replay_cleanly(cmds in proptest::collection::vec(cmd(), 1..120), small in any::<bool>()) {
        let text = script(&cmds);
        let t = parse_script(&text).unwrap();
        for policy in PolicyKind::ALL.into_iter().filter(|&p| works(p)) {
            for order in [Order::Addr, Order::Front] {
                if order != Order::Addr && !policy.has_order() {
                    continue;
                }
                // A small fixed heap makes some calls fail: failures must leave everything intact.
                let cfg = Config { policy, order, heap_size: small.then_some(96 << 10), ..Config::default() };
                let mut h = heap(&cfg, 4 << 20);
                let r = replay_with(&mut h, &t, &Options { check_every: 1, ..Options::default() });
                prop_assert!(r.integrity_errors.is_empty(), "{policy} {order}: {:?}\n{text}", r.integrity_errors);
                prop_assert!(small || r.alloc_failures == 0, "{policy}: {:?}\n{text}", r.first_alloc_failure);
                // A failed `q = realloc(p, n)` leaves p's block live, and the script never frees it.
                if r.alloc_failures == 0 {
                    prop_assert_eq!(h.stats().used_blocks, 0, "{} {}\n{}", policy, order, text);
                }
            }
        }
    }
}

#[test]
fn trace_api_is_reexported() {
    // The names the wasm layer uses.
    let _: fn(&str) -> Result<Trace, trace::ParseError> = trace::parse;
    assert_eq!(trace::MAX_IDS, 1_000_000);
    assert_eq!(trace::MAX_OPS, 10_000_000);
    assert_eq!(trace::MAX_SIZE, u32::MAX as u64);
}
