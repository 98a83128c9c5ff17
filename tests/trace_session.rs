//! The playground console: one statement at a time against a heap.
#![cfg(feature = "alloc")]

use heaptale::source::Arena;
use heaptale::trace::{parse, OpKind, Session, Step, StepErrorKind, NULL_ID};
use heaptale::{Config, Heap, HeapError, PolicyKind};

fn heap() -> Heap<Arena> {
    Heap::new(Arena::new(1 << 20).unwrap(), &Config::default()).unwrap()
}

fn ok(s: &mut Session, h: &mut Heap<Arena>, text: &str) -> Step {
    s.run(h, text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn malloc_free_realloc_calloc_memalign() {
    let mut h = heap();
    let mut s = Session::new();
    let p = ok(&mut s, &mut h, "p = malloc(24)");
    assert_eq!(
        p,
        Step {
            text: "p = malloc(24) = 0x10008".into(),
            addr: Some(0x10008)
        }
    );
    let q = ok(&mut s, &mut h, "q = realloc(p, 100);");
    assert_eq!(
        q.text,
        format!("q = realloc(p, 100) = {:#x}", q.addr.unwrap())
    );
    let r = ok(&mut s, &mut h, "  r = calloc(4, 8)   // zeroed");
    assert_eq!(r.text, format!("r = calloc(4, 8) = {:#x}", r.addr.unwrap()));
    let m = ok(&mut s, &mut h, "m = aligned_alloc(64, 128)");
    assert_eq!(m.addr.unwrap() % 64, 0);
    assert_eq!(
        m.text,
        format!("m = memalign(64, 128) = {:#x}", m.addr.unwrap())
    );
    assert_eq!(
        ok(&mut s, &mut h, "free(q)"),
        Step {
            text: "free(q)".into(),
            addr: None
        }
    );
    assert_eq!(ok(&mut s, &mut h, "free(NULL)").text, "free(NULL)");
    ok(&mut s, &mut h, "free(r)");
    ok(&mut s, &mut h, "free(m)");
    h.check().unwrap();
    assert_eq!(h.stats().used_blocks, 0);
    assert_eq!(s.live_bytes(), 0);
    assert_eq!(s.peak_live_bytes(), 100 + 32 + 128);
    assert!(s.peak_heap_bytes() >= 260);
}

#[test]
fn errors_leave_heap_and_session_usable() {
    let mut h = heap();
    let mut s = Session::new();
    let p = ok(&mut s, &mut h, "p = malloc(24)").addr.unwrap();
    let cases = [
        ("free(q)", "free(q): q was never allocated".to_string()),
        ("q = realloc(zz, 8)", "realloc(zz, 8): zz was never allocated".to_string()),
        ("p = malloc(", "malloc: expected an argument and ')'".to_string()),
        ("p = mallok(3)", "unknown function \"mallok\": expected malloc, calloc, realloc, free, memalign, aligned_alloc, write or memset".to_string()),
        ("", "nothing to run: type a statement such as p = malloc(24)".to_string()),
        ("  # just a comment", "nothing to run: type a statement such as p = malloc(24)".to_string()),
        ("x = malloc(1); free(x)", "one statement at a time, please".to_string()),
        ("p = malloc(4000000000)", "p = malloc(4000000000): size overflow: the requested size is too large".to_string()),
        ("big = malloc(100000000)", "big = malloc(100000000): out of memory: no room for 100000000 bytes and the heap cannot grow".to_string()),
        ("a = memalign(131072, 8)", "a = memalign(131072, 8): bad alignment 131072: it must be a power of two no larger than 65536".to_string()),
    ];
    for (text, want) in cases {
        assert_eq!(s.run(&mut h, text), Err(want), "for {text:?}");
        h.check().unwrap();
    }
    // Nothing changed: p still holds its block; no variable was made by a failed call.
    assert_eq!(s.lookup("p"), Some(p));
    assert_eq!(s.lookup("big"), None);
    assert_eq!(s.lookup("a"), None);
    assert_eq!(s.lookup("x"), None);
    assert_eq!(s.vars().collect::<Vec<_>>(), [("p", p, true)]);
    ok(&mut s, &mut h, "free(p)");
    h.check().unwrap();
}

#[test]
fn double_free_reaches_the_heap() {
    let mut h = heap();
    let mut s = Session::new();
    ok(&mut s, &mut h, "p = malloc(24)");
    ok(&mut s, &mut h, "keep = malloc(24)");
    ok(&mut s, &mut h, "free(p)");
    assert_eq!(s.vars().find(|v| v.0 == "p"), Some(("p", 0x10008, false)));
    assert_eq!(
        s.run(&mut h, "free(p)"),
        Err("free(p): double free: the block at 0x10008 is already free".into())
    );
    assert_eq!(
        s.run(&mut h, "p = realloc(p, 8)"),
        Err("p = realloc(p, 8): double free: the block at 0x10008 is already free".into())
    );
    h.check().unwrap();
    // The session goes on.
    let q = ok(&mut s, &mut h, "q = malloc(8)");
    assert_eq!(q.addr, Some(0x10008));
}

#[test]
fn a_dangling_pointer_frees_whoever_has_the_block_now() {
    // As in C: p's old address now belongs to q, so free(p) frees q's block.
    let mut h = heap();
    let mut s = Session::new();
    ok(&mut s, &mut h, "p = malloc(24)");
    ok(&mut s, &mut h, "guard = malloc(24)");
    ok(&mut s, &mut h, "free(p)");
    let q = ok(&mut s, &mut h, "q = malloc(24)");
    assert_eq!(Some(s.lookup("p").unwrap()), q.addr);
    ok(&mut s, &mut h, "free(p)");
    assert_eq!(s.vars().find(|v| v.0 == "q").map(|v| v.2), Some(false));
    let err = s.run(&mut h, "free(q)").unwrap_err();
    assert!(err.starts_with("free(q): double free"), "{err}");
    h.check().unwrap();
}

#[test]
fn step_kinds() {
    let mut h = heap();
    let t = parse("0\n1\n3\n1\na 0 16\nf 0\nf -1\n").unwrap();
    let mut s = Session::for_trace(&t);
    assert_eq!(
        s.step(&mut h, &t.ops[0]).unwrap().text,
        "#0 = malloc(16) = 0x10008"
    );
    assert_eq!(s.step(&mut h, &t.ops[1]).unwrap().text, "free(#0)");
    assert_eq!(s.step(&mut h, &t.ops[2]).unwrap().text, "free(NULL)");
    let e = s.step(&mut h, &t.ops[1]).unwrap_err();
    assert_eq!(
        e.kind,
        StepErrorKind::Engine(HeapError::DoubleFree { addr: 0x10008 })
    );
    assert_eq!(
        e.to_string(),
        "free(#0): double free: the block at 0x10008 is already free"
    );
    // Hand-made ops with impossible ids are refused, not a panic.
    let bad = heaptale::trace::Op {
        line: 0,
        kind: OpKind::Free,
        id: 5_000_000,
        to: 5_000_000,
    };
    assert_eq!(s.step(&mut h, &bad).unwrap_err().kind, StepErrorKind::Usage);
    let bad = heaptale::trace::Op {
        line: 0,
        kind: OpKind::Malloc { size: 1 },
        id: NULL_ID,
        to: NULL_ID,
    };
    assert_eq!(
        s.step(&mut h, &bad).unwrap_err().to_string(),
        "NULL = malloc(1): malloc needs a variable to store its result in"
    );
}

#[test]
fn every_policy_serves_the_console() {
    for policy in PolicyKind::ALL {
        let mut h = Heap::new(
            Arena::new(1 << 20).unwrap(),
            &Config {
                policy,
                ..Config::default()
            },
        )
        .unwrap();
        let mut s = Session::new();
        if s.run(&mut h, "p = malloc(24)").is_err() {
            continue; // a policy still being written
        }
        for st in [
            "q = calloc(3, 10)",
            "p = realloc(p, 300)",
            "r = memalign(4096, 5)",
            "free(p)",
            "free(q)",
            "free(r)",
        ] {
            s.run(&mut h, st)
                .unwrap_or_else(|e| panic!("{policy}: {st}: {e}"));
            h.check()
                .unwrap_or_else(|e| panic!("{policy}: after {st}: {e}"));
        }
        assert!(
            s.run(&mut h, "free(r)")
                .unwrap_err()
                .starts_with("free(r): "),
            "{policy}"
        );
        assert_eq!(h.stats().used_blocks, 0, "{policy}");
    }
}

#[test]
fn reset_forgets_everything() {
    let mut h = heap();
    let mut s = Session::new();
    ok(&mut s, &mut h, "p = malloc(24)");
    s.reset();
    assert_eq!(s.lookup("p"), None);
    assert_eq!(s.vars().count(), 0);
    assert_eq!(
        s.run(&mut h, "free(p)"),
        Err("free(p): p was never allocated".into())
    );
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    fn statement() -> impl Strategy<Value = String> {
        let var = prop_oneof![
            Just("a"),
            Just("b"),
            Just("c"),
            Just("NULL"),
            Just("zz"),
            Just("0")
        ];
        let num = prop_oneof![
            0u64..70,
            0u64..5000,
            Just(u32::MAX as u64),
            Just(1u64 << 40),
            Just(65536),
            Just(131072),
            Just(3)
        ];
        prop_oneof![
            (var.clone(), num.clone()).prop_map(|(v, n)| format!("{v} = malloc({n})")),
            (var.clone(), num.clone(), num.clone())
                .prop_map(|(v, n, s)| format!("{v} = calloc({n}, {s})")),
            (var.clone(), num.clone(), num.clone())
                .prop_map(|(v, a, s)| format!("{v} = memalign({a}, {s})")),
            (var.clone(), var.clone(), num)
                .prop_map(|(v, w, s)| format!("{v} = realloc({w}, {s})")),
            var.prop_map(|v| format!("free({v})")),
            "[a-z0-9 =(),;*+#/]{0,24}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: if cfg!(miri) { 3 } else { 300 }, ..ProptestConfig::default() })]

        /// Whatever is typed, the console answers and the heap stays consistent.
        #[test]
        fn any_statements_keep_the_heap_consistent(
            stmts in proptest::collection::vec(statement(), 1..60),
            policy in 0usize..7,
            small in any::<bool>(),
        ) {
            let policy = PolicyKind::ALL[policy];
            let cfg = Config { policy, heap_size: small.then_some(16 << 10), ..Config::default() };
            let mut h = Heap::new(Arena::new(1 << 20).unwrap(), &cfg).unwrap();
            let mut s = Session::new();
            for st in &stmts {
                match s.run(&mut h, st) {
                    Ok(step) => prop_assert!(!step.text.is_empty()),
                    // Integrity failures would name what changed; engine refusals are fine.
                    Err(e) => prop_assert!(!e.contains("changed") && !e.contains("overlaps") && !e.contains("not aligned")
                        && !e.contains("outside the heap") && !e.contains("does not know") && !e.contains("accepted"), "{policy}: {st}: {e}"),
                }
                h.check().map_err(|e| TestCaseError::fail(format!("{policy}: after {st}: {e}")))?;
            }
        }
    }
}
