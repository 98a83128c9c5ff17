//! The user's own writes in scripts: `write(p, "text")` and `memset(p, byte, n)`. They are
//! parsed (good and bad forms, exact messages), replayed as real bytes in the real heap
//! (read back from the payload, kept across realloc, checked until free), bounds-checked
//! against the block's usable size, and fed to the simulated process as user writes that
//! touch pages (first touch: a minor fault; the page becomes dirty).
//!
//! Addresses are worked out from the engine's default layout (first fit, 8-byte headers,
//! 8-byte alignment, reports from 0x10000): `malloc(n)` takes a block of `n + 8` rounded up
//! to 8, at least 32 bytes; its payload is 8 bytes in and holds the rest.
#![cfg(feature = "alloc")]

use heaptale::event::Recorder;
use heaptale::source::Arena;
use heaptale::trace::{
    parse_script, replay_with, statements_of, Op, OpKind, Options, Session, StepErrorKind, Trace,
};
use heaptale::vm::process::{Fault, PageState, ProcessConfig};
use heaptale::vm::{BlockFormat, Cause, Driver, Note};
use heaptale::{Config, Heap};

fn script_err(text: &str) -> String {
    parse_script(text).expect_err(text).to_string()
}

fn heap() -> Heap<Arena> {
    Heap::new(Arena::new(1 << 20).unwrap(), &Config::default()).unwrap()
}

#[test]
fn writes_parse_into_ops_and_texts() {
    let t = parse_script(
        "p = malloc(24)\n\
         write(p, \"hello\")\n\
         write(p + 8, \"a;b # c // d\")   // a comment after\n\
         memset(p, 0, 24); memset(p + 0x10, 0xff, 2 * 4)\n\
         write(p, \"tab\\there\\n\\0\\\\\\\"\\x41\\x7e\")\n\
         write(p, \"\")\n",
    )
    .unwrap();
    let kinds: Vec<OpKind> = t.ops.iter().map(|o| o.kind).collect();
    assert_eq!(
        kinds,
        [
            OpKind::Malloc { size: 24 },
            OpKind::Write { off: 0, text: 0 },
            OpKind::Write { off: 8, text: 1 },
            OpKind::Memset {
                off: 0,
                byte: 0,
                n: 24
            },
            OpKind::Memset {
                off: 16,
                byte: 255,
                n: 8
            },
            OpKind::Write { off: 0, text: 2 },
            OpKind::Write { off: 0, text: 3 },
        ]
    );
    assert!(t.ops[1..].iter().all(|o| o.id == 0 && o.to == 0));
    assert_eq!(
        t.ops.iter().map(|o| o.line).collect::<Vec<_>>(),
        [1, 2, 3, 4, 4, 5, 6]
    );
    assert_eq!(
        t.texts,
        [
            b"hello".to_vec(),
            b"a;b # c // d".to_vec(),
            b"tab\there\n\0\\\"A~".to_vec(),
            Vec::new()
        ]
    );
    // Written back as C, every op reads the same.
    let back: Vec<String> = t.ops.iter().map(|o| t.op_text(o)).collect();
    assert_eq!(
        back,
        [
            "p = malloc(24)",
            "write(p, \"hello\")",
            "write(p + 8, \"a;b # c // d\")",
            "memset(p, 0, 24)",
            "memset(p + 16, 255, 8)",
            "write(p, \"tab\\there\\n\\0\\\\\\\"A~\")",
            "write(p, \"\")",
        ]
    );
    let again = parse_script(&back.join("\n")).unwrap();
    assert_eq!(again.ops.iter().map(|o| o.kind).collect::<Vec<_>>(), kinds);
    assert_eq!(again.texts, t.texts);
    // Bytes that are not printable ASCII come back as \xHH; UTF-8 text is its bytes.
    let u = parse_script("p = malloc(8)\nwrite(p, \"é\\x01\")").unwrap();
    assert_eq!(u.texts[0], [0xc3, 0xa9, 0x01]);
    assert_eq!(u.op_text(&u.ops[1]), "write(p, \"\\xc3\\xa9\\x01\")");
    // Without the texts, a write still reads as C.
    assert_eq!(
        heaptale::trace::op_text(&u.ops[1], |_| "p".into()),
        "write(p, <text 0>)"
    );
    // The kinds: writes allocate nothing.
    assert!(
        !OpKind::Write { off: 0, text: 0 }.allocates()
            && OpKind::Memset {
                off: 0,
                byte: 0,
                n: 1
            }
            .is_access()
    );
    assert_eq!(
        OpKind::Memset {
            off: 0,
            byte: 0,
            n: 9
        }
        .bytes(),
        0
    );
    assert_eq!(
        (
            OpKind::Write { off: 0, text: 0 }.name(),
            OpKind::Memset {
                off: 0,
                byte: 0,
                n: 1
            }
            .name()
        ),
        ("write", "memset")
    );
}

#[test]
fn statements_split_outside_strings_only() {
    let pieces: Vec<&str> = statements_of("write(p, \"x;y\"); free(p) # write(q, \";\")").collect();
    assert_eq!(pieces, ["write(p, \"x;y\")", " free(p) "]);
    let pieces: Vec<&str> =
        statements_of("write(p, \"say \\\"hi; there\\\"\");free(p)//x").collect();
    assert_eq!(pieces, ["write(p, \"say \\\"hi; there\\\"\")", "free(p)"]);
    assert_eq!(statements_of("").collect::<Vec<_>>(), [""]);
}

#[test]
fn bad_writes_are_refused_with_exact_messages() {
    let p = "p = malloc(24)\n";
    let cases = [
        ("write(p, \"hi\")", "line 1: write(p, \"hi\"): p was never allocated"),
        ("p = malloc(1)\nfree(p)\nwrite(p, \"x\")", "line 3: write(p, \"x\"): p was already freed (line 2)"),
        ("p = malloc(1)\nq = realloc(p, 8)\nmemset(p, 0, 1)", "line 3: memset(p, 0, 1): p was passed to realloc at line 2; use the pointer realloc returned"),
        ("write(NULL, \"x\")", "line 1: write: writing through NULL would crash the program (a segmentation fault): the pointer must be a variable"),
        ("memset(0, 0, 4)", "line 1: memset: writing through NULL would crash the program (a segmentation fault): the pointer must be a variable"),
        ("write(p)", "line 2: write takes 2 arguments (a pointer and a string in quotes), found 1"),
        ("memset(p, 0)", "line 2: memset takes 3 arguments (a pointer, a byte value and a count), found 2"),
        ("write(p, 42)", "line 2: write: the text must be a string in double quotes, such as \"hello\""),
        ("write(\"x\", p)", "line 2: write: the pointer must be a variable, found \"x\""),
        ("write(8, \"x\")", "line 2: write: the pointer must be a variable, found 8"),
        ("memset(p, 256, 4)", "line 2: memset: the byte value must be 0 to 255, found 256"),
        ("memset(p, \"a\", 4)", "line 2: memset: the byte value must be a number, found \"a\""),
        ("memset(p, 0, q)", "line 2: memset: the count must be a number, found q"),
        ("memset(p, 0, 0x100000000)", "line 2: memset: count 4294967296 is too large (it must be below 4 GiB)"),
        ("memset(p + 0x100000000, 0, 1)", "line 2: memset: the offset 4294967296 is too large (it must be below 4 GiB)"),
        ("write(p +, \"x\")", "line 2: write: expected a number after 'p +', found ','"),
        ("write(p, \"abc)", "line 2: unterminated string: the closing '\"' is missing"),
        ("write(p, \"a\\qb\")", "line 2: bad escape \"\\q\" in a string: use \\n, \\t, \\r, \\0, \\\\, \\\" or \\x and two hex digits"),
        ("write(p, \"\\x4g\")", "line 2: bad escape \"\\x4g\" in a string: use \\n, \\t, \\r, \\0, \\\\, \\\" or \\x and two hex digits"),
        ("write(p, \"\\x4\")", "line 2: bad escape \"\\x4\" in a string: use \\n, \\t, \\r, \\0, \\\\, \\\" or \\x and two hex digits"),
        ("q = write(p, \"x\")", "line 2: write returns nothing: write write(p, \"x\") instead of q = write(p, \"x\")"),
        ("free(p + 8)", "line 2: free: the pointer must be a variable or NULL, found p + 8 (a pointer into a block is not one the heap gave out)"),
        ("q = realloc(p + 1, 8)", "line 2: realloc: the pointer must be a variable or NULL, found p + 1 (a pointer into a block is not one the heap gave out)"),
        ("write = malloc(3)", "line 2: write is not a variable name"),
        ("q = malloc(\"8\")", "line 2: malloc: the size must be a number, found \"8\""),
    ];
    for (text, want) in cases {
        let full = if text.starts_with("p = malloc(1)")
            || text.starts_with("write(p, \"hi\")")
            || text.contains("NULL")
            || text.starts_with("memset(0")
        {
            text.to_string()
        } else {
            format!("{p}{text}")
        };
        assert_eq!(script_err(&full), want, "for {full:?}");
    }
}

/// The payload bytes `[from, to)` of the block at `addr`.
fn read(h: &Heap<Arena>, addr: usize, from: usize, to: usize) -> Vec<u8> {
    h.payload(addr).unwrap()[from..to].to_vec()
}

#[test]
fn replay_writes_real_bytes_and_keeps_them_checked() {
    let t = parse_script(
        "p = malloc(24)\n\
         write(p, \"hello\")\n\
         q = malloc(100)\n\
         memset(q, 0, 100)\n\
         memset(q + 90, 0xab, 10)\n\
         write(q + 4, \"heap\\0tale\")\n",
    )
    .unwrap();
    let mut h = heap();
    let mut s = Session::for_trace(&t);
    let mut wrote = Vec::new();
    for op in &t.ops {
        let step = s.step(&mut h, op).unwrap();
        wrote.push((step.text, step.addr, s.last_write()));
    }
    assert_eq!(
        wrote,
        [
            ("p = malloc(24) = 0x10008".to_string(), Some(0x1_0008), None),
            ("write(p, \"hello\")".to_string(), None, Some((0x1_0008, 5))),
            (
                "q = malloc(100) = 0x10028".to_string(),
                Some(0x1_0028),
                None
            ),
            ("memset(q, 0, 100)".to_string(), None, Some((0x1_0028, 100))),
            (
                "memset(q + 90, 171, 10)".to_string(),
                None,
                Some((0x1_0082, 10))
            ),
            (
                "write(q + 4, \"heap\\0tale\")".to_string(),
                None,
                Some((0x1_002c, 9))
            ),
        ]
    );
    // The bytes are in the real heap.
    assert_eq!(read(&h, 0x1_0008, 0, 5), b"hello");
    assert_eq!(h.bytes(0x1_0008, 5), b"hello");
    let q = read(&h, 0x1_0028, 0, 100);
    assert_eq!(&q[..4], [0; 4]);
    assert_eq!(&q[4..13], b"heap\0tale");
    assert!(q[13..90].iter().all(|&b| b == 0));
    assert!(q[90..].iter().all(|&b| b == 0xab));

    // The whole replay checks them: realloc keeps the first min(old, new) bytes, the rest
    // of a block still holds the replayer's pattern, and nothing else changed.
    let t2 = parse_script(
        "p = malloc(24)\nwrite(p, \"hello\")\nq = malloc(8)\nr = realloc(p, 4000)\nwrite(r + 3990, \"end\")\n\
         s = realloc(r, 3)\nmemset(q, 7, 8)\nfree(s)\nfree(q)\n",
    )
    .unwrap();
    for policy in heaptale::PolicyKind::ALL {
        let config = Config {
            policy,
            ..Config::default()
        };
        let mut h = Heap::new(Arena::new(1 << 20).unwrap(), &config).unwrap();
        let r = replay_with(
            &mut h,
            &t2,
            &Options {
                check_every: 1,
                ..Options::default()
            },
        );
        assert!(
            r.ok(),
            "{policy}: {:?} {:?}",
            r.integrity_errors,
            r.first_alloc_failure
        );
        assert_eq!(r.ops, 9);
    }
}

#[test]
fn a_write_the_heap_did_not_keep_is_an_integrity_error() {
    let t = parse_script("p = malloc(24)\nwrite(p, \"hello\")\nfree(p)").unwrap();
    let mut h = heap();
    let mut s = Session::for_trace(&t);
    s.step(&mut h, &t.ops[0]).unwrap();
    s.step(&mut h, &t.ops[1]).unwrap();
    // Behind the replayer's back, the 'h' becomes a 'j'.
    h.payload_mut(0x1_0008).unwrap()[0] = b'j';
    let e = s.step(&mut h, &t.ops[2]).unwrap_err();
    assert_eq!(e.kind, StepErrorKind::Integrity);
    assert_eq!(e.message, "free(p): the block of p at 0x10008 changed: 1 of its first 24 bytes differ, from byte 0 (0x6a, expected 0x68)");
}

#[test]
fn writes_stay_inside_the_usable_size() {
    let mut h = heap();
    let mut s = Session::new();
    s.run(&mut h, "p = malloc(20)").unwrap();
    // A 20-byte request gets a 32-byte block: 24 usable bytes.
    assert_eq!(h.usable_size(0x1_0008).unwrap(), 24);
    let before = read(&h, 0x1_0008, 0, 24);
    assert_eq!(
        s.run(&mut h, "write(p, \"0123456789abcdefghijklmno\")").unwrap_err(),
        "write(p, \"0123456789abcdefghijklmno\"): 25 bytes at offset 0 would overflow the block of p at 0x10008: it holds 24 usable bytes"
    );
    assert_eq!(s.last_write(), None);
    assert_eq!(
        s.run(&mut h, "memset(p + 20, 0, 5)").unwrap_err(),
        "memset(p + 20, 0, 5): 5 bytes at offset 20 would overflow the block of p at 0x10008: it holds 24 usable bytes"
    );
    assert_eq!(
        s.run(&mut h, "memset(p + 24, 1, 1)").unwrap_err(),
        "memset(p + 24, 1, 1): 1 byte at offset 24 would overflow the block of p at 0x10008: it holds 24 usable bytes"
    );
    assert_eq!(
        read(&h, 0x1_0008, 0, 24),
        before,
        "a refused write writes nothing"
    );
    // Up to the usable size is fine, past the size asked for included.
    assert_eq!(
        s.run(&mut h, "memset(p + 20, 0x5a, 4)").unwrap().text,
        "memset(p + 20, 90, 4)"
    );
    assert_eq!(read(&h, 0x1_0008, 20, 24), [0x5a; 4]);
    assert_eq!(s.last_write(), Some((0x1_001c, 4)));
    // Through a freed pointer, or one realloc moved, or NULL: refused, nothing written.
    s.run(&mut h, "q = malloc(8)").unwrap();
    s.run(&mut h, "free(q)").unwrap();
    assert_eq!(
        s.run(&mut h, "write(q, \"x\")").unwrap_err(),
        "write(q, \"x\"): q holds 0x10028, which is no longer its block (it was freed, or moved by realloc): writing there would corrupt the heap"
    );
    assert_eq!(
        s.run(&mut h, "write(nope, \"x\")").unwrap_err(),
        "write(nope, \"x\"): nope was never allocated"
    );
    assert_eq!(
        s.run(&mut h, "write(NULL, \"x\")").unwrap_err(),
        "write: writing through NULL would crash the program (a segmentation fault): the pointer must be a variable"
    );
    // A failed allocation leaves NULL behind in a replay: writing through it is refused.
    let t = parse_script("big = malloc(0xffffff00)\nwrite(big, \"x\")").unwrap();
    let mut h2 = heap();
    let mut s2 = Session::for_trace(&t);
    let e = s2.step(&mut h2, &t.ops[0]).unwrap_err();
    assert!(matches!(e.kind, StepErrorKind::Engine(_)), "{e:?}");
    let r = replay_with(&mut heap(), &t, &Options::default());
    assert_eq!(r.write_errors, ["op 1 (line 2): write(big, \"x\"): big is NULL: writing through it would crash the program (a segmentation fault)"]);
    assert!(r.integrity_errors.is_empty() && !r.ok());
    // A hand-made op naming a text the trace does not have.
    let bad = Trace {
        ops: vec![Op {
            line: 0,
            kind: OpKind::Write { off: 0, text: 7 },
            id: 0,
            to: 0,
        }],
        ids: 1,
        names: vec!["p".into()],
        ..Trace::default()
    };
    let mut s3 = Session::for_trace(&bad);
    assert_eq!(
        s3.step(&mut h, &bad.ops[0]).unwrap_err().message,
        "write(p, <text 7>): write: the trace has no text 7"
    );
}

/// A heap whose observer is the simulated process, and a script run on both: each step's
/// user write is handed to the process, as the playground does.
struct Sim {
    d: Driver<Recorder>,
}

impl Sim {
    fn new() -> Sim {
        let d = Driver::with_observer(
            &ProcessConfig::default(),
            0x1_0000,
            0x1_0000,
            BlockFormat::of(&Config::default()),
            Recorder::default(),
        )
        .unwrap();
        Sim { d }
    }
    /// Runs `script`, returning after each step (minor faults, RSS pages, the step's notes).
    fn run(
        &mut self,
        script: &str,
        mut each: impl FnMut(usize, &Heap<Arena, heaptale::policy::AnyPolicy, &mut Driver<Recorder>>),
    ) -> Vec<(u64, u64, Vec<String>)> {
        let t = parse_script(script).unwrap();
        let mut h = Heap::observed(
            Arena::new(1 << 20).unwrap(),
            &Config::default(),
            &mut self.d,
        )
        .unwrap();
        let mut s = Session::for_trace(&t);
        let mut out = Vec::new();
        for (i, op) in t.ops.iter().enumerate() {
            s.step(&mut h, op).unwrap();
            if let Some((a, n)) = s.last_write() {
                h.observer_mut().write(a as u64, n as u64).unwrap();
            }
            each(i, &h);
            let d = h.observer_mut();
            let notes = d.take_notes().iter().map(|n| n.to_string()).collect();
            let c = d.process().counters();
            out.push((c.minor_faults, d.process().rss(), notes));
        }
        out
    }
}

#[test]
fn user_writes_fault_on_first_touch_only_and_dirty_their_pages() {
    let mut sim = Sim::new();
    let mut states = Vec::new();
    let steps = sim.run(
        "p = malloc(24)\n\
         write(p, \"hello\")\n\
         q = malloc(5000)\n\
         memset(q, 0, 5000)\n\
         memset(q + 4000, 0xff, 1000)\n\
         free(q)\n\
         free(p)\n",
        |_, h| states.push(h.observer().process().page_state(0x1_1000)),
    );
    let counts: Vec<(u64, u64)> = steps.iter().map(|s| (s.0, s.1)).collect();
    // malloc(24): the header's page 0x10 faults in. write(p): the same page, no fault.
    // malloc(5000): its header is on page 0x10, its payload runs to 0x113af over page 0x11,
    // which nobody touched yet. memset(q, 0, 5000): page 0x11's first touch, a minor fault.
    // The second memset touches both again: no fault. Freeing unmaps nothing.
    assert_eq!(
        counts,
        [(1, 1), (1, 1), (1, 1), (2, 2), (2, 2), (2, 2), (2, 2)]
    );
    assert!(
        matches!(states[2], PageState::Mapped),
        "before the memset, page 0x11 has no frame: {:?}",
        states[2]
    );
    assert!(
        matches!(
            states[3],
            PageState::Resident {
                dirty: true,
                accessed: true,
                ..
            }
        ),
        "{:?}",
        states[3]
    );
    let frame10 = match sim.d.process().page_state(0x1_0000) {
        PageState::Resident {
            frame, dirty: true, ..
        } => frame,
        s => panic!("{s:?}"),
    };
    let frame11 = match states[3] {
        PageState::Resident { frame, .. } => frame,
        _ => unreachable!(),
    };
    // The narration of the user's writes.
    assert_eq!(
        steps[1].2,
        [format!(
            "writing 5 bytes at 0x10008 touched page 0x10: TLB hit, frame {frame10:#x}"
        )]
    );
    assert_eq!(
        steps[3].2,
        [
            format!("writing 5000 bytes at 0x10028 touched page 0x10: TLB hit, frame {frame10:#x}"),
            format!("writing 5000 bytes at 0x10028 touched page 0x11: page fault (minor: first touch), frame {frame11:#x}"),
        ]
    );
    assert_eq!(steps[4].2.len(), 2);
    assert!(
        steps[4].2[0].starts_with("writing 1000 bytes at 0x10fc8 touched page 0x10: TLB hit"),
        "{:?}",
        steps[4].2
    );
    assert!(
        steps[4].2[1].starts_with("writing 1000 bytes at 0x10fc8 touched page 0x11: TLB hit"),
        "{:?}",
        steps[4].2
    );
    // Trimming the heap (the break falls back to its start, as when it starts over) unmaps
    // the resident pages: RSS falls to 0 and the pages are unmapped.
    assert_eq!(sim.d.process().rss(), 2);
    sim.d.follow_brk(0x1_0000).unwrap();
    assert_eq!(sim.d.process().rss(), 0);
    assert!(matches!(
        sim.d.take_notes().last(),
        Some(Note::Break {
            old: 0x1_13b0,
            new: 0x1_0000,
            unmapped: 2
        })
    ));
    assert!(matches!(
        sim.d.process().page_state(0x1_1000),
        PageState::Unmapped
    ));
    assert_eq!(
        sim.d.process().counters().minor_faults,
        2,
        "trimming is not a fault"
    );
}

#[test]
fn a_write_alone_faults_a_page_the_allocator_never_touched() {
    // A 9000-byte block spans pages 0x10 to 0x12; the allocator writes only its header (page
    // 0x10). The user's one byte at the end is page 0x12's first touch, and page 0x11 stays
    // without a frame.
    let mut sim = Sim::new();
    let steps = sim.run("p = malloc(9000)\nwrite(p + 8999, \"!\")\n", |_, _| {});
    assert_eq!((steps[0].0, steps[0].1), (1, 1));
    assert_eq!((steps[1].0, steps[1].1), (2, 2));
    assert!(steps[1].2[0].starts_with("writing 1 byte at 0x1232f touched page 0x12: page fault (minor: first touch), frame 0x"), "{:?}", steps[1].2);
    assert!(matches!(
        sim.d.process().page_state(0x1_1000),
        PageState::Mapped
    ));
    assert!(matches!(
        sim.d.process().page_state(0x1_2000),
        PageState::Resident { dirty: true, .. }
    ));
    let n = sim.d.notes().len();
    assert_eq!(n, 0);
    // The cause carries the whole access.
    let mut sim = Sim::new();
    let mut h =
        Heap::observed(Arena::new(1 << 20).unwrap(), &Config::default(), &mut sim.d).unwrap();
    h.malloc(8).unwrap();
    h.observer_mut().take_notes();
    h.observer_mut().write(0x1_0008, 3).unwrap();
    let notes = h.observer_mut().take_notes();
    assert!(
        matches!(notes[0], Note::Access { cause: Cause::User { addr: 0x1_0008, len: 3 }, write: true, ref access } if access.fault == Fault::None)
    );
}

#[test]
fn every_policy_lets_the_user_fill_the_whole_usable_size() {
    // usable_size is a promise: the user may write every byte of it, and the heap's
    // bookkeeping must live elsewhere (the checker runs after every step, and the replayer
    // checks every block's bytes until it is freed).
    let mut script = String::new();
    for (i, n) in [1u32, 7, 8, 13, 24, 25, 100, 255, 1000, 4093, 5000]
        .iter()
        .enumerate()
    {
        script += &format!("p{i} = malloc({n})\n");
    }
    let t0 = parse_script(&script).unwrap();
    for policy in heaptale::PolicyKind::ALL {
        let config = Config {
            policy,
            ..Config::default()
        };
        // The usable sizes under this policy, found by running the mallocs once.
        let mut h = Heap::new(Arena::new(1 << 20).unwrap(), &config).unwrap();
        let mut s = Session::for_trace(&t0);
        let usable: Vec<usize> = t0
            .ops
            .iter()
            .map(|op| {
                let a = s.step(&mut h, op).unwrap().addr.unwrap();
                h.usable_size(a).unwrap()
            })
            .collect();
        let mut full = script.clone();
        for (i, u) in usable.iter().enumerate() {
            full += &format!("memset(p{i}, 0xff, {u})\n");
        }
        for i in (0..usable.len()).step_by(2) {
            full += &format!("free(p{i})\n");
        }
        for i in (0..usable.len()).step_by(2) {
            full += &format!("p{i} = malloc(40)\nmemset(p{i}, 0xee, 40)\n");
        }
        for i in 0..usable.len() {
            full += &format!("free(p{i})\n");
        }
        let t = parse_script(&full).unwrap();
        let mut h = Heap::new(Arena::new(1 << 20).unwrap(), &config).unwrap();
        let r = replay_with(
            &mut h,
            &t,
            &Options {
                check_every: 1,
                ..Options::default()
            },
        );
        assert!(
            r.ok(),
            "{policy}: {:?} {:?} {:?}",
            r.integrity_errors,
            r.write_errors,
            r.first_alloc_failure
        );
        // One byte more than usable is refused.
        let mut h = Heap::new(Arena::new(1 << 20).unwrap(), &config).unwrap();
        let mut s = Session::new();
        s.run(&mut h, "p = malloc(13)").unwrap();
        let u = h.usable_size(s.lookup("p").unwrap()).unwrap();
        assert!(
            s.run(&mut h, &format!("memset(p, 1, {})", u + 1))
                .unwrap_err()
                .ends_with(&format!("it holds {u} usable bytes")),
            "{policy}"
        );
        s.run(&mut h, &format!("memset(p, 1, {u})")).unwrap();
        h.check().unwrap();
    }
}

#[cfg(feature = "cli")]
#[test]
fn the_command_line_replays_writes_and_names_a_refused_one() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let run = |script: &str| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_heaptale"))
            .args(["replay", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        let o = c.wait_with_output().unwrap();
        (
            o.status.code(),
            String::from_utf8(o.stdout).unwrap(),
            String::from_utf8(o.stderr).unwrap(),
        )
    };
    let (code, out, err) =
        run("p = malloc(20)\nwrite(p, \"a;b\")  # text\nmemset(p + 4, 0, 20)\nfree(p)\n");
    assert_eq!((code, err.as_str()), (Some(0), ""), "{out}");
    assert!(
        out.contains("  ops               4\n") && !out.contains("refused writes"),
        "{out}"
    );
    let (code, out, err) = run("p = malloc(20)\nmemset(p + 20, 0, 8)\nfree(p)\n");
    assert_eq!(code, Some(1));
    assert!(
        out.contains("  integrity errors  0\n  alloc failures    0\n  refused writes    1\n"),
        "{out}"
    );
    assert_eq!(err, "heaptale: -: op 1 (line 2): memset(p + 20, 0, 8): 8 bytes at offset 20 would overflow the block of p at 0x10008: it holds 24 usable bytes\n");
}

#[test]
fn a_heap_that_cannot_grow_is_sbrk_failing_with_enomem() {
    // A fixed heap of 4 KiB (OSTEP's -S): malloc(5000) cannot be served; in the process that
    // is sbrk failing with ENOMEM and returning (void *) -1, the break unmoved.
    let mut d = Driver::with_observer(
        &ProcessConfig::default(),
        0x1_0000,
        0x1_0000,
        BlockFormat::of(&Config::default()),
        Recorder::default(),
    )
    .unwrap();
    let config = Config {
        heap_size: Some(4096),
        ..Config::default()
    };
    let mut h = Heap::observed(Arena::new(1 << 20).unwrap(), &config, &mut d).unwrap();
    let mut s = Session::new();
    s.run(&mut h, "p = malloc(24)").unwrap();
    let brk = h.observer().process().mm().brk();
    h.observer_mut().take_notes();
    assert!(s
        .run(&mut h, "q = malloc(5000)")
        .unwrap_err()
        .starts_with("q = malloc(5000): out of memory"));
    let notes = h.observer_mut().take_notes();
    assert_eq!(notes, [Note::SbrkFailed { request: 5000, brk }]);
    assert_eq!(
        notes[0].to_string(),
        format!("a request of 5000 bytes needed more heap and the heap could not grow: sbrk fails with ENOMEM and returns (void *) -1, the break stays at {brk:#x}, and malloc returns NULL")
    );
    assert_eq!(h.observer().process().mm().brk(), brk);
}

#[test]
fn changed_bytes_are_found_among_the_users_and_the_patterns() {
    // p's 100 bytes: [0, 10) memset to 7, [10, 50) the replayer's pattern, [50, 55) "hello",
    // the rest the pattern. Three bytes change behind the replayer's back: one in each kind.
    let t = parse_script("p = malloc(100)\nmemset(p, 7, 10)\nwrite(p + 50, \"hello\")\nfree(p)")
        .unwrap();
    let mut h = heap();
    let mut s = Session::for_trace(&t);
    for op in &t.ops[..3] {
        s.step(&mut h, op).unwrap();
    }
    let before = read(&h, 0x1_0008, 0, 100);
    let pl = h.payload_mut(0x1_0008).unwrap();
    pl[52] = b'L';
    pl[30] ^= 0xff;
    pl[3] = 8;
    let e = s.step(&mut h, &t.ops[3]).unwrap_err();
    assert_eq!(e.kind, StepErrorKind::Integrity);
    assert_eq!(e.message, "free(p): the block of p at 0x10008 changed: 3 of its first 100 bytes differ, from byte 3 (0x08, expected 0x07)");
    // Each alone is found, with what was expected there.
    for (i, v, want) in [
        (52usize, b'L', b'l'),
        (30, before[30] ^ 0xff, before[30]),
        (99, before[99] ^ 1, before[99]),
    ] {
        let mut h = heap();
        let mut s = Session::for_trace(&t);
        for op in &t.ops[..3] {
            s.step(&mut h, op).unwrap();
        }
        h.payload_mut(0x1_0008).unwrap()[i] = v;
        let e = s.step(&mut h, &t.ops[3]).unwrap_err();
        assert_eq!(e.message, format!("free(p): the block of p at 0x10008 changed: 1 of its first 100 bytes differ, from byte {i} ({v:#04x}, expected {want:#04x})"));
    }
}
