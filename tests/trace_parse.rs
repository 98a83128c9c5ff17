//! The trace parsers: both `.rep` headers, scripts, every error path with its exact message,
//! and (property tests) no panic on any input.
#![cfg(feature = "alloc")]

use heaptale::trace::{parse, parse_rep, parse_script, Format, Op, OpKind, Trace, NULL_ID};
use proptest::prelude::*;

const CLASSIC: &str =
    "20000\n3\n8\n1\na 0 512\na 1 128\nr 0 640\na 2 128\nf 1\nr 0 768\nf 0\nf 2\n";

fn op(line: u32, kind: OpKind, id: u32) -> Op {
    Op {
        line,
        kind,
        id,
        to: id,
    }
}

fn rep_err(text: &str) -> String {
    parse_rep(text)
        .expect_err("expected a parse error")
        .to_string()
}

fn script_err(text: &str) -> String {
    parse_script(text)
        .expect_err("expected a parse error")
        .to_string()
}

// ---------------------------------------------------------------- .rep

#[test]
fn rep_classic_header() {
    let t = parse_rep(CLASSIC).unwrap();
    assert_eq!(t.format, Format::Rep);
    assert_eq!(t.heap_hint, Some(20000));
    assert_eq!(t.weight, Some(1));
    assert!(t.names.is_empty(), ".rep ids are named on demand");
    assert_eq!((t.ids, t.name(2)), (3, "#2".to_string()));
    assert_eq!(
        t.ops,
        [
            op(5, OpKind::Malloc { size: 512 }, 0),
            op(6, OpKind::Malloc { size: 128 }, 1),
            op(7, OpKind::Realloc { size: 640 }, 0),
            op(8, OpKind::Malloc { size: 128 }, 2),
            op(9, OpKind::Free, 1),
            op(10, OpKind::Realloc { size: 768 }, 0),
            op(11, OpKind::Free, 0),
            op(12, OpKind::Free, 2),
        ]
    );
    assert_eq!(t.op_text(&t.ops[2]), "#0 = realloc(#0, 640)");
}

#[test]
fn rep_classic_header_with_zero_heap_size_has_no_hint() {
    // The real traces shipped with heaptale start like this.
    let t = parse_rep("0\n1\n2\n1\na 0 5\nf 0\n").unwrap();
    assert_eq!(t.format, Format::Rep);
    assert_eq!(t.heap_hint, None);
    assert_eq!(t.weight, Some(1));
}

#[test]
fn rep_2016_header() {
    // weight, ids, ops, peak payload bytes
    let text = "1\n3\n8\n896\na 0 512\na 1 128\nr 0 640\na 2 128\nf 1\nr 0 768\nf 0\nf 2\n";
    let t = parse_rep(text).unwrap();
    assert_eq!(t.format, Format::Rep2016);
    assert_eq!(t.heap_hint, Some(896));
    assert_eq!(t.weight, Some(1));
    assert_eq!(t.ops, parse_rep(CLASSIC).unwrap().ops);
}

#[test]
fn rep_2016_free_null() {
    let t = parse_rep("0\n1\n3\n16\na 0 16\nf -1\nf 0\n").unwrap();
    assert_eq!(t.format, Format::Rep2016);
    assert_eq!(
        t.ops[1],
        Op {
            line: 6,
            kind: OpKind::Free,
            id: NULL_ID,
            to: NULL_ID
        }
    );
    assert_eq!(t.op_text(&t.ops[1]), "free(NULL)");
}

#[test]
fn rep_crlf_blank_lines_tabs_bom() {
    let text = "\u{feff}20000\r\n\r\n3\r\n8\r\n1\r\n\r\na\t0  512\r\na 1 128\r\n   \r\nr 0 640\r\na 2 128\r\nf 1\r\nr 0 768 \r\nf 0\r\nf 2\r\n\r\n";
    let t = parse_rep(text).unwrap();
    let c = parse_rep(CLASSIC).unwrap();
    let kinds = |t: &Trace| t.ops.iter().map(|o| (o.kind, o.id)).collect::<Vec<_>>();
    assert_eq!(kinds(&t), kinds(&c));
    assert_eq!(t.ops[0].line, 7);
    assert_eq!(t.ops[2].line, 10);
}

#[test]
fn rep_ids_may_be_reused_after_free() {
    let t = parse_rep("0\n1\n4\n1\na 0 8\nf 0\na 0 16\nf 0\n").unwrap();
    assert_eq!(t.ops[2].kind, OpKind::Malloc { size: 16 });
}

#[test]
fn rep_empty_body() {
    let t = parse_rep("0\n0\n0\n0\n").unwrap();
    assert!(t.ops.is_empty());
    assert!(t.names.is_empty());
}

#[test]
fn rep_header_errors() {
    assert_eq!(
        rep_err(""),
        "line 1: empty trace: expected a 4-line header (suggested heap size, number of ids, number of ops, weight)"
    );
    assert_eq!(rep_err("\n  \n"), rep_err(""));
    assert_eq!(
        rep_err("20000\n3\n"),
        "line 2: the file ends inside the header: expected 4 header lines, found 2"
    );
    assert_eq!(
        rep_err("x\n3\n8\n1\n"),
        "line 1: header line 1: expected the suggested heap size (or weight, in the 2016 format) as a number, found \"x\""
    );
    assert_eq!(
        rep_err("20000\nthree\n8\n1\n"),
        "line 2: header line 2: expected the number of ids as a number, found \"three\""
    );
    assert_eq!(
        rep_err("20000\n3\n-8\n1\n"),
        "line 3: header line 3: expected the number of ops as a number, found \"-8\""
    );
    assert_eq!(
        rep_err("20000\n3\n8\n1 2\n"),
        "line 4: header line 4: expected the weight (or peak payload bytes, in the 2016 format) as a number, found \"1 2\""
    );
    assert_eq!(
        rep_err("0\n2000000\n8\n1\n"),
        "line 2: 2000000 ids is more than heaptale accepts (1000000)"
    );
    assert_eq!(
        rep_err("0\n3\n99999999999\n1\n"),
        "line 3: 99999999999 ops is more than heaptale accepts (10000000)"
    );
}

#[test]
fn rep_count_errors() {
    assert_eq!(
        rep_err("20000\n3\n7\n1\na 0 512\na 1 128\nr 0 640\na 2 128\nf 1\nr 0 768\nf 0\nf 2\n"),
        "line 3: the header says 7 ops but the file has 8"
    );
    assert_eq!(
        rep_err("20000\n3\n9\n1\na 0 512\na 1 128\nr 0 640\na 2 128\nf 1\nr 0 768\nf 0\nf 2\n"),
        "line 3: the header says 9 ops but the file has 8"
    );
    assert_eq!(
        rep_err("20000\n4\n8\n1\na 0 512\na 1 128\nr 0 640\na 2 128\nf 1\nr 0 768\nf 0\nf 2\n"),
        "line 2: the header says 4 ids but the ops use 3 (ids 0 to 2)"
    );
    assert_eq!(
        rep_err("0\n2\n2\n1\na 0 5\nf 0\n"),
        "line 2: the header says 2 ids but the ops use 1 (id 0)"
    );
    assert_eq!(
        rep_err("0\n1\n0\n1\n"),
        "line 2: the header says 1 ids but the ops use none"
    );
    // As in malloc-lab's driver, the header counts up to the largest id: unused ids below it are fine.
    assert!(parse_rep("0\n2\n2\n1\na 1 5\nf 1\n").is_ok());
}

#[test]
fn rep_line_errors() {
    let h = "0\n2\n2\n1\n";
    assert_eq!(
        rep_err(&format!("{h}x 1 2\n")),
        "line 5: unknown op \"x\": expected a ID SIZE, r ID SIZE or f ID"
    );
    assert_eq!(
        rep_err(&format!("{h}alloc 1 2\n")),
        "line 5: unknown op \"alloc\": expected a ID SIZE, r ID SIZE or f ID"
    );
    assert_eq!(
        rep_err(&format!("{h}a 1\n")),
        "line 5: a 1: expected a ID SIZE"
    );
    assert_eq!(rep_err(&format!("{h}a\n")), "line 5: a: expected a ID SIZE");
    assert_eq!(
        rep_err(&format!("{h}r 0\n")),
        "line 5: r 0: expected r ID SIZE"
    );
    assert_eq!(rep_err(&format!("{h}f\n")), "line 5: f: expected f ID");
    assert_eq!(
        rep_err(&format!("{h}a 0 8\nf 0 3\n")),
        "line 6: f 0 3: unexpected \"3\" after f ID"
    );
    assert_eq!(
        rep_err(&format!("{h}a 0 8 9\n")),
        "line 5: a 0 8 9: unexpected \"9\" after a ID SIZE"
    );
    assert_eq!(
        rep_err(&format!("{h}a 0 -5\n")),
        "line 5: a 0 -5: the size must be a number from 0 to 4294967295, found \"-5\""
    );
    assert_eq!(
        rep_err(&format!("{h}a 0 5000000000\n")),
        "line 5: a 0 5000000000: size 5000000000 is too large (sizes must be below 4 GiB)"
    );
    assert_eq!(
        rep_err(&format!("{h}a 0 99999999999999999999999\n")),
        "line 5: a 0 99999999999999999999999: size 99999999999999999999999 is too large (sizes must be below 4 GiB)"
    );
    assert_eq!(
        rep_err(&format!("{h}a x 5\n")),
        "line 5: a x 5: the id must be a number from 0 to 999999, found \"x\""
    );
    assert_eq!(
        rep_err(&format!("{h}a -1 5\n")),
        "line 5: a -1 5: the id must be a number from 0 to 999999, found \"-1\""
    );
    assert_eq!(
        rep_err(&format!("{h}a 1000000 5\n")),
        "line 5: a 1000000 5: id 1000000 is beyond the limit of 1000000 ids"
    );
}

#[test]
fn rep_id_state_errors() {
    let h = "0\n2\n3\n1\n";
    assert_eq!(
        rep_err(&format!("{h}f 1\n")),
        "line 5: f 1: id 1 was never allocated"
    );
    assert_eq!(
        rep_err(&format!("{h}a 0 8\nf 0\nf 0\n")),
        "line 7: f 0: id 0 was already freed (line 6)"
    );
    assert_eq!(
        rep_err(&format!("{h}a 0 8\na 0 8\n")),
        "line 6: a 0 8: id 0 is still allocated (since line 5)"
    );
    assert_eq!(
        rep_err(&format!("{h}a 0 8\nr 0 9\na 0 8\n")),
        "line 7: a 0 8: id 0 is still allocated (since line 6)"
    );
    assert_eq!(
        rep_err(&format!("{h}r 1 8\n")),
        "line 5: r 1 8: id 1 was never allocated"
    );
    assert_eq!(
        rep_err(&format!("{h}a 0 8\nf 0\nr 0 8\n")),
        "line 7: r 0 8: id 0 was already freed (line 6)"
    );
}

#[test]
fn rep_long_lines_are_clipped_in_messages() {
    let junk = "z".repeat(10_000);
    let e = rep_err(&format!("0\n1\n1\n1\n{junk}\n"));
    assert_eq!(
        e,
        format!(
            "line 5: unknown op \"{}...\": expected a ID SIZE, r ID SIZE or f ID",
            "z".repeat(40)
        )
    );
}

// ---------------------------------------------------------------- scripts

#[test]
fn script_statements() {
    let text = "# a comment\n\
                p = malloc(24)\n\
                q = realloc(p, 100);   // moves p into q\n\
                r = calloc(4, 8); free(r)\n\
                s = memalign(64, 100)\n\
                t = aligned_alloc(0x40, 128);\n\
                \x20 char *u=malloc( 16 * 4 + 0x10 ) ;\n\
                v = (void *) malloc(1)\n\
                free(q)\n\
                free(NULL); free(0)\n\
                w = realloc(NULL, 5)\n";
    let t = parse_script(text).unwrap();
    assert_eq!(t.format, Format::Script);
    assert_eq!(t.heap_hint, None);
    assert_eq!(t.names, ["p", "q", "r", "s", "t", "u", "v", "w"]);
    let o = |line, kind, id, to| Op { line, kind, id, to };
    assert_eq!(
        t.ops,
        [
            o(2, OpKind::Malloc { size: 24 }, 0, 0),
            o(3, OpKind::Realloc { size: 100 }, 0, 1),
            o(4, OpKind::Calloc { n: 4, size: 8 }, 2, 2),
            o(4, OpKind::Free, 2, 2),
            o(
                5,
                OpKind::Memalign {
                    align: 64,
                    size: 100
                },
                3,
                3
            ),
            o(
                6,
                OpKind::Memalign {
                    align: 64,
                    size: 128
                },
                4,
                4
            ),
            o(7, OpKind::Malloc { size: 80 }, 5, 5),
            o(8, OpKind::Malloc { size: 1 }, 6, 6),
            o(9, OpKind::Free, 1, 1),
            o(10, OpKind::Free, NULL_ID, NULL_ID),
            o(10, OpKind::Free, NULL_ID, NULL_ID),
            o(11, OpKind::Realloc { size: 5 }, NULL_ID, 7),
        ]
    );
    let texts: Vec<String> = t.ops.iter().map(|o| t.op_text(o)).collect();
    assert_eq!(texts[1], "q = realloc(p, 100)");
    assert_eq!(texts[2], "r = calloc(4, 8)");
    assert_eq!(texts[4], "s = memalign(64, 100)");
    assert_eq!(texts[9], "free(NULL)");
    assert_eq!(texts[11], "w = realloc(NULL, 5)");
}

#[test]
fn script_crlf_and_reuse_of_a_freed_name() {
    let t = parse_script("p = malloc(1)\r\nfree(p)\r\np = malloc(2)\r\nfree(p)\r\n").unwrap();
    assert_eq!(t.names, ["p"]);
    assert_eq!(t.ops.len(), 4);
    assert_eq!(
        t.ops[2],
        Op {
            line: 3,
            kind: OpKind::Malloc { size: 2 },
            id: 0,
            to: 0
        }
    );
}

#[test]
fn script_realloc_in_place_name_and_leak() {
    // p = realloc(p, n) keeps p; storing into a live variable leaks its block (allowed, as in C).
    let t = parse_script("p = malloc(1)\np = realloc(p, 8)\np = malloc(3)\nfree(p)").unwrap();
    assert_eq!(
        t.ops[1],
        Op {
            line: 2,
            kind: OpKind::Realloc { size: 8 },
            id: 0,
            to: 0
        }
    );
    assert_eq!(t.ops.len(), 4);
}

#[test]
fn script_empty_and_comments_only() {
    assert!(parse_script("").unwrap().ops.is_empty());
    assert!(parse_script("# nothing\n// at all\n;;\n")
        .unwrap()
        .ops
        .is_empty());
}

#[test]
fn script_variable_errors() {
    assert_eq!(
        script_err("free(q)"),
        "line 1: free(q): q was never allocated"
    );
    assert_eq!(
        script_err("p = malloc(1)\nq = realloc(r, 4)"),
        "line 2: realloc(r, 4): r was never allocated"
    );
    assert_eq!(
        script_err("p = malloc(1)\nfree(p)\nfree(p)"),
        "line 3: free(p): p was already freed (line 2)"
    );
    assert_eq!(
        script_err("p = malloc(1)\nfree(p)\nq = realloc(p, 2)"),
        "line 3: realloc(p, 2): p was already freed (line 2)"
    );
    assert_eq!(
        script_err("p = malloc(1)\nq = realloc(p, 9)\nfree(p)"),
        "line 3: free(p): p was passed to realloc at line 2; use the pointer realloc returned"
    );
    assert_eq!(
        script_err("p = malloc(1); free(p); free(p)"),
        "line 1: free(p): p was already freed (line 1)"
    );
}

#[test]
fn script_syntax_errors() {
    let cases = [
        ("p = mallok(3)", "line 1: unknown function \"mallok\": expected malloc, calloc, realloc, free, memalign, aligned_alloc, write or memset"),
        ("p = malloc(1, 2)", "line 1: malloc takes 1 argument (a size), found 2"),
        ("p = malloc()", "line 1: malloc takes 1 argument (a size), found 0"),
        ("p = calloc(3)", "line 1: calloc takes 2 arguments (a count and a size), found 1"),
        ("p = memalign(8)", "line 1: memalign takes 2 arguments (an alignment and a size), found 1"),
        ("p = malloc(1)\nq = realloc(p)", "line 2: realloc takes 2 arguments (a pointer and a size), found 1"),
        ("free()", "line 1: free takes 1 argument (a pointer), found 0"),
        ("malloc(4)", "line 1: the result of malloc(4) must be stored in a variable, e.g. p = malloc(4)"),
        ("p = free(q)", "line 1: free returns nothing: write free(q) instead of p = free(q)"),
        ("p = malloc(q)", "line 1: malloc: the size must be a number, found q"),
        ("p = calloc(NULL, 3)", "line 1: calloc: the count must be a number, found NULL"),
        ("free(12)", "line 1: free: the pointer must be a variable or NULL, found 12"),
        ("p = malloc(0x100000000)", "line 1: malloc: size 4294967296 is too large (it must be below 4 GiB)"),
        ("p = malloc(65536 * 65536)", "line 1: malloc: size 4294967296 is too large (it must be below 4 GiB)"),
        ("p = malloc(99999999999999999999999)", "line 1: the number 99999999999999999999999 is too large"),
        ("p = memalign(48, 10)", "line 1: memalign: the alignment must be a power of two, found 48"),
        ("p = aligned_alloc(0, 10)", "line 1: aligned_alloc: the alignment must be a power of two, found 0"),
        ("p = malloc(24", "line 1: malloc: expected ',' or ')', found the end of the statement"),
        ("p = malloc(", "line 1: malloc: expected an argument and ')'"),
        ("p = malloc 24", "line 1: expected '(' after malloc, found 24"),
        ("p = malloc(24) x", "line 1: unexpected \"x\" after malloc(...)"),
        ("p = malloc(12ab)", "line 1: bad number \"12ab\": expected a decimal or 0x hex number"),
        ("p = malloc(0xZZ)", "line 1: bad number \"0xZZ\": expected a decimal or 0x hex number"),
        ("p = malloc(24) @", "line 1: unexpected character '@'"),
        ("p = malloc(\"24\")", "line 1: malloc: the size must be a number, found \"24\""),
        ("p = malloc(24) é", "line 1: unexpected character 'é'"),
        ("= malloc(3)", "line 1: expected a variable name before '='"),
        ("3 = malloc(3)", "line 1: expected a variable name before '='"),
        ("int (p) = malloc(3)", "line 1: expected a variable name before '='"),
        ("a + p = malloc(3)", "line 1: unexpected '+' before the variable name"),
        ("p = ", "line 1: expected a call after 'p =', such as malloc(24)"),
        ("p = 42", "line 1: expected a call such as malloc(24), found 42"),
        ("p = q", "line 1: expected a call such as malloc(24), found \"q\""),
        ("hello", "line 1: expected a call such as malloc(24), found \"hello\""),
        ("malloc = malloc(3)", "line 1: malloc is not a variable name"),
        ("NULL = malloc(3)", "line 1: NULL is not a variable name"),
        ("p = malloc(malloc(3))", "line 1: malloc: malloc cannot be an argument (nested calls are not supported)"),
        ("p = malloc(1,,2)", "line 1: malloc: expected an argument, found ','"),
        ("p = malloc((1)", "line 1: malloc: expected ',' or ')', found the end of the statement"),
        ("p = malloc((1 2)", "line 1: expected ')', found 2"),
        ("p = malloc(1,2,3,4,5,6,7,8,9)", "line 1: too many arguments to malloc"),
        ("p = malloc(((((((((((((((((((1)))))))))))))))))))", "line 1: parentheses nested more than 16 deep"),
    ];
    for (text, want) in cases {
        assert_eq!(script_err(text), want, "for {text:?}");
    }
}

#[test]
fn script_hostile_nesting_is_refused_not_a_stack_overflow() {
    let text = format!(
        "p = malloc({}1{})",
        "(".repeat(1_000_000),
        ")".repeat(1_000_000)
    );
    assert_eq!(
        script_err(&text),
        "line 1: parentheses nested more than 16 deep"
    );
    assert_eq!(
        parse_script("p = malloc((((2 * (3 + 1)))))\nfree(p)")
            .unwrap()
            .ops[0]
            .kind,
        OpKind::Malloc { size: 8 }
    );
}

#[test]
fn script_error_line_numbers_count_every_line() {
    assert_eq!(
        script_err("\n\n# c\np = malloc(1)\r\n\r\nfree(q)"),
        "line 6: free(q): q was never allocated"
    );
}

// ---------------------------------------------------------------- detection

#[test]
fn parse_tells_formats_apart() {
    assert_eq!(parse(CLASSIC).unwrap().format, Format::Rep);
    assert_eq!(
        parse(&CLASSIC.replace('\n', "\r\n")).unwrap().format,
        Format::Rep
    );
    assert_eq!(
        parse("\n\n  1\n1\n2\n100\na 0 100\nf 0\n").unwrap().format,
        Format::Rep2016
    );
    assert_eq!(
        parse("p = malloc(1)\nfree(p)").unwrap().format,
        Format::Script
    );
    assert_eq!(
        parse("# 20000\np = malloc(1)").unwrap().format,
        Format::Script
    );
    assert_eq!(parse("").unwrap().format, Format::Script);
    assert_eq!(parse("20000\n3\n").unwrap_err().line, 2);
    assert_eq!(
        parse("a 0 5").unwrap_err().to_string(),
        "line 1: expected a call such as malloc(24), found \"a\""
    );
}

#[test]
fn real_traces_parse() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/traces");
    for (name, ops, ids) in [
        ("awk-wordcount.rep", 1_880, 936),
        ("node-json.rep", 316_251, 157_417),
        ("python-regex-counter.rep", 394_903, 196_113),
    ] {
        let text = std::fs::read_to_string(format!("{dir}/{name}")).unwrap();
        let t = parse(&text).unwrap();
        assert_eq!(t.format, Format::Rep, "{name}");
        assert_eq!(t.ops.len(), ops, "{name}");
        assert_eq!(t.ids as usize, ids, "{name}");
    }
}

// ---------------------------------------------------------------- no panics

fn mutate(text: &str, edits: &[(usize, u8, u8)]) -> String {
    let mut b = text.as_bytes().to_vec();
    for &(pos, what, byte) in edits {
        if b.is_empty() {
            b.push(byte);
            continue;
        }
        let i = pos % b.len();
        match what % 5 {
            0 => b[i] = byte,
            1 => b.insert(i, byte),
            2 => {
                b.remove(i);
            }
            3 => {
                // duplicate a slice
                let end = (i + (byte as usize % 16)).min(b.len());
                let s = b[i..end].to_vec();
                b.splice(i..i, s);
            }
            _ => b.insert(i, b"\n\r ;#/()=,*+-0123456789afrx"[byte as usize % 27]),
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

const SCRIPT: &str = "p = malloc(24)\nq = realloc(p, 100);\nr = calloc(4, 8); free(r)\ns = memalign(64, 100) // c\nfree(q)\nfree(s)\n";

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse(&text);
        let _ = parse_rep(&text);
        let _ = parse_script(&text);
    }

    #[test]
    fn random_text_never_panics(text in "[ar f0-9\\-\\n\\r\\t;#/()=,*+xpqNUL_]{0,200}") {
        let _ = parse(&text);
        let _ = parse_rep(&text);
        let _ = parse_script(&text);
    }

    #[test]
    fn mutated_rep_never_panics(edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..8)) {
        let text = mutate(CLASSIC, &edits);
        if let Err(e) = parse(&text) {
            prop_assert!(e.line >= 1 && e.line <= text.split('\n').count(), "{e} for {text:?}");
        }
        let _ = parse_script(&text);
    }

    #[test]
    fn mutated_script_never_panics(edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..8)) {
        let text = mutate(SCRIPT, &edits);
        if let Err(e) = parse(&text) {
            prop_assert!(e.line >= 1 && e.line <= text.split('\n').count(), "{e} for {text:?}");
        }
        let _ = parse_rep(&text);
    }
}

/// Headers that claim huge counts reserve nothing before the body proves them, and a
/// million ids cost no million strings.
#[test]
fn lying_headers_cost_nothing() {
    let e = heaptale::trace::parse_rep("0\n1\n10000000\n1\na 0 8\n").unwrap_err();
    assert_eq!(e.line, 3);
    let t = heaptale::trace::parse_rep("0\n1000000\n2\n1\na 999999 8\nf 999999\n").unwrap();
    assert!(t.names.is_empty());
    assert_eq!(t.ids, 1_000_000);
    assert_eq!(t.name(999_999), "#999999");
}
