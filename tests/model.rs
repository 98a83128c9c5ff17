//! Property tests: random operation sequences under every policy and knob, against a simple
//! model (the live blocks and the bytes written into them). After every step the heap checker
//! must pass, live payloads must not overlap, must be aligned and must keep their bytes, and a
//! failed call must leave the heap exactly as it was.

#![cfg(feature = "alloc")]

use heaptale::source::Arena;
use heaptale::{Config, Heap, HeapError, Order, PolicyKind};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Malloc(usize),
    Memalign(u32, usize),
    Calloc(usize, usize),
    Realloc(usize, usize),
    Free(usize),
    /// Free a block that was already freed, or a pointer into the middle of a live one.
    BadFree(usize, u8),
}

fn size() -> impl Strategy<Value = usize> {
    prop_oneof![0usize..64, 0usize..600, 0usize..5000, Just(usize::MAX / 4)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => size().prop_map(Op::Malloc),
        1 => (0u32..17, 0usize..300).prop_map(|(a, s)| Op::Memalign(a, s)),
        1 => (0usize..40, 0usize..40).prop_map(|(n, s)| Op::Calloc(n, s)),
        2 => (any::<usize>(), size()).prop_map(|(i, s)| Op::Realloc(i, s)),
        4 => any::<usize>().prop_map(Op::Free),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(i, k)| Op::BadFree(i, k)),
    ]
}

fn config() -> impl Strategy<Value = Config> {
    let policy = proptest::sample::select(PolicyKind::ALL.to_vec());
    let order = proptest::sample::select(Order::ALL.to_vec());
    let header = proptest::sample::select(vec![4u32, 8, 12, 16]);
    let align = proptest::sample::select(vec![1u32, 4, 8, 16, 64]);
    let heap_size = proptest::option::weighted(0.3, 1000u32..40_000);
    (policy, order, any::<bool>(), header, align, heap_size).prop_map(
        |(policy, order, coalesce, header, align, heap_size)| Config {
            policy,
            order,
            coalesce,
            header,
            align,
            heap_size,
            base: None,
        },
    )
}

struct Live {
    addr: usize,
    len: usize,
    seed: u8,
}

fn fill(h: &mut Heap<Arena>, l: &Live) {
    let p = h.payload_mut(l.addr).unwrap();
    for (i, b) in p[..l.len].iter_mut().enumerate() {
        *b = l.seed.wrapping_add(i as u8);
    }
}

fn intact(h: &Heap<Arena>, l: &Live, len: usize) -> bool {
    let p = h.payload(l.addr).unwrap();
    p[..len]
        .iter()
        .enumerate()
        .all(|(i, &b)| b == l.seed.wrapping_add(i as u8))
}

fn snapshot(h: &Heap<Arena>) -> (Vec<(u32, u32, bool)>, usize) {
    let mut v = Vec::new();
    h.walk(|b| v.push((b.block, b.size, b.used)));
    (v, h.brk())
}

fn run(cfg: Config, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut h = match Heap::new(Arena::new(4 << 20).unwrap(), &cfg) {
        Ok(h) => h,
        Err(HeapError::BadConfig(_)) => return Ok(()),
        Err(e) => return Err(TestCaseError::fail(format!("{e}"))),
    };
    let mut live: Vec<Live> = Vec::new();
    let mut dead: Vec<usize> = Vec::new();
    let mut seed = 0u8;
    for (step, op) in ops.into_iter().enumerate() {
        seed = seed.wrapping_add(37);
        let before = snapshot(&h);
        let result: Result<(), HeapError> = match op {
            Op::Malloc(n) | Op::Memalign(_, n) | Op::Calloc(_, n) => {
                let (r, align, len) = match op {
                    Op::Malloc(n) => (h.malloc(n), 1, n),
                    Op::Memalign(a, n) => (h.memalign(1 << a, n), 1usize << a, n),
                    Op::Calloc(k, n) => (h.calloc(k, n), 1, k * n),
                    _ => unreachable!(),
                };
                r.map(|addr| {
                    assert_eq!(
                        addr % align,
                        0,
                        "step {step}: {addr:#x} not aligned to {align}"
                    );
                    assert!(h.usable_size(addr).unwrap() >= len);
                    if let Op::Calloc(..) = op {
                        assert!(
                            h.payload(addr).unwrap()[..len].iter().all(|&b| b == 0),
                            "calloc not zeroed"
                        );
                    }
                    let _ = n;
                    let l = Live { addr, len, seed };
                    fill(&mut h, &l);
                    dead.retain(|&d| d != addr);
                    live.push(l);
                })
            }
            Op::Realloc(i, n) if !live.is_empty() => {
                let i = i % live.len();
                let old = live[i].addr;
                h.realloc(old, n).map(|addr| {
                    let keep = live[i].len.min(n);
                    let moved = Live {
                        addr,
                        len: keep,
                        seed: live[i].seed,
                    };
                    assert!(intact(&h, &moved, keep), "step {step}: realloc lost bytes");
                    let l = Live { addr, len: n, seed };
                    fill(&mut h, &l);
                    if addr != old {
                        dead.push(old);
                    }
                    dead.retain(|&d| d != addr);
                    live[i] = l;
                })
            }
            Op::Free(i) if !live.is_empty() => {
                let l = live.swap_remove(i % live.len());
                assert!(
                    intact(&h, &l, l.len),
                    "step {step}: bytes changed before free"
                );
                dead.push(l.addr);
                h.free(l.addr)
            }
            Op::BadFree(i, k) => {
                let (addr, want) = if k % 2 == 0 && !dead.is_empty() {
                    let d = dead[i % dead.len()];
                    (d, "double free")
                } else if let Some(l) = live.get(i % live.len().max(1)) {
                    (l.addr + 1 + (k as usize % 7), "interior")
                } else {
                    continue;
                };
                let r = h.free(addr);
                // A stale address may have been handed out again (then it is live).
                if want == "double free" && live.iter().any(|l| l.addr == addr) {
                    r
                } else {
                    prop_assert!(
                        r.is_err(),
                        "step {step}: free({addr:#x}) ({want}) was accepted"
                    );
                    Ok(())
                }
            }
            _ => Ok(()),
        };
        if let Err(e) = result {
            // Failures must change nothing.
            prop_assert!(
                matches!(
                    e,
                    HeapError::OutOfMemory { .. }
                        | HeapError::SizeOverflow
                        | HeapError::DoubleFree { .. }
                        | HeapError::Interior { .. }
                        | HeapError::Foreign { .. }
                        | HeapError::Corrupt { .. }
                ),
                "step {step}: unexpected {e}"
            );
            // (The heaptale policy's quick lists may merge back before a request fails: its
            // blocks may change, but no live block does, as the checks below see.)
            if cfg.policy != PolicyKind::Heaptale {
                prop_assert_eq!(
                    &snapshot(&h),
                    &before,
                    "step {}: a failed call changed the heap",
                    step
                );
            } else {
                prop_assert_eq!(
                    snapshot(&h).1,
                    before.1,
                    "step {}: a failed call moved the break",
                    step
                );
            }
        }
        if let Err(e) = h.check() {
            return Err(TestCaseError::fail(format!("step {step} ({cfg:?}): {e}")));
        }
        // No two live payloads overlap, all inside the heap.
        let mut spans: Vec<(usize, usize)> = live
            .iter()
            .map(|l| (l.addr, l.addr + h.usable_size(l.addr).unwrap()))
            .collect();
        spans.sort();
        for w in spans.windows(2) {
            prop_assert!(w[0].1 <= w[1].0, "step {}: payloads overlap", step);
        }
        if let Some(last) = spans.last() {
            prop_assert!(last.1 <= h.brk() && spans[0].0 >= h.start());
        }
    }
    for l in &live {
        prop_assert!(intact(&h, l, l.len));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: if cfg!(miri) { 4 } else { 400 }, ..ProptestConfig::default() })]
    #[test]
    fn random_ops_keep_every_invariant(cfg in config(), ops in proptest::collection::vec(op(), 1..120)) {
        run(cfg, ops)?;
    }
}

/// Every policy in turn, with longer sequences.
#[test]
fn every_policy_survives_long_runs() {
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: if cfg!(miri) { 1 } else { 12 },
        ..ProptestConfig::default()
    });
    for policy in PolicyKind::ALL {
        for coalesce in [true, false] {
            let cfg = Config {
                policy,
                coalesce,
                ..Config::default()
            };
            runner
                .run(&proptest::collection::vec(op(), 200..600), |ops| {
                    run(cfg, ops)
                })
                .unwrap_or_else(|e| panic!("{policy} coalesce={coalesce}: {e}"));
        }
    }
}
