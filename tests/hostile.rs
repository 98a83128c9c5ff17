//! Hostile input at the library and the command line: huge sizes and ids, millions of
//! lines, binary garbage, CRLF / UTF-16 / byte order marks, thousands of variables, names
//! with markup. Every one is either accepted and replayed with a sound heap, or refused
//! with a message naming the line and the limit; nothing panics, nothing hangs, nothing
//! allocates more than the input justifies. The limits are in RELIABILITY.md.
#![cfg(feature = "cli")]

use heaptale::source::Arena;
use heaptale::trace::{self, parse, parse_rep, parse_script, Session, MAX_IDS, MAX_OPS};
use heaptale::{Config, Heap};
use std::fmt::Write as _;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_heaptale");

fn scratch(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("heaptale-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name).display().to_string()
}

fn cli(args: &[&str], file: Option<(&str, &[u8])>) -> (i32, String, String) {
    let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    if let Some((name, bytes)) = file {
        let p = scratch(name);
        std::fs::write(&p, bytes).unwrap();
        all.push(p);
    }
    let out: Output = Command::new(BIN)
        .args(&all)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (o, e) = (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    );
    assert!(!e.contains("panicked"), "a panic for {args:?}: {e}");
    (out.status.code().unwrap_or(-1), o, e)
}

fn replay_clean(t: &trace::Trace) -> trace::Report {
    let mut h = Heap::new(Arena::new(64 << 20).unwrap(), &Config::default()).unwrap();
    let r = trace::replay(&mut h, t);
    assert!(
        r.integrity_errors.is_empty(),
        "{:?}",
        &r.integrity_errors[..r.integrity_errors.len().min(3)]
    );
    h.check().unwrap();
    r
}

// ---- sizes and ids ---------------------------------------------------------------------

#[test]
fn huge_sizes_parse_then_fail_to_allocate_or_are_refused() {
    // Below 4 GiB: a valid request the heap refuses (out of memory or too large).
    let t = parse_script("p = malloc(4294967295)\nq = calloc(65536, 65536)\nr = memalign(65536, 4000000000)\ns = malloc(1073741824)").unwrap();
    let r = replay_clean(&t);
    assert_eq!(r.alloc_failures, 4);
    // 4 GiB and up, sums and products included: refused at parse time, naming the line.
    for (text, want) in [
        (
            "p = malloc(4294967296)",
            "malloc: size 4294967296 is too large (it must be below 4 GiB)",
        ),
        (
            "p = malloc(99999999999 * 99999999999)",
            "malloc: size 18446744073709551615 is too large (it must be below 4 GiB)",
        ),
        (
            "p = malloc(0xFFFFFFFF + 1)",
            "malloc: size 4294967296 is too large (it must be below 4 GiB)",
        ),
        (
            "p = malloc(123456789012345678901234567890)",
            "the number 123456789012345678901234567890 is too large",
        ),
        (
            "p = calloc(4294967296, 1)",
            "calloc: count 4294967296 is too large (it must be below 4 GiB)",
        ),
        (
            "p = memalign(3, 8)",
            "memalign: the alignment must be a power of two, found 3",
        ),
    ] {
        let e = parse_script(text).unwrap_err();
        assert_eq!((e.line, e.message.as_str()), (1, want), "{text}");
    }
    let e = parse_rep("0\n1\n1\n1\na 0 99999999999999999999999\n").unwrap_err();
    assert_eq!(e.message, "a 0 99999999999999999999999: size 99999999999999999999999 is too large (sizes must be below 4 GiB)");
}

#[test]
fn huge_ids_are_refused_without_allocating_for_them() {
    let e = parse_rep(&format!("0\n1\n1\n1\na {} 8\n", MAX_IDS)).unwrap_err();
    assert_eq!(
        e.message,
        format!("a {MAX_IDS} 8: id {MAX_IDS} is beyond the limit of {MAX_IDS} ids")
    );
    let e = parse_rep("0\n1\n1\n1\na 18446744073709551616 8\n").unwrap_err();
    assert!(
        e.message
            .contains("the id must be a number from 0 to 999999"),
        "{}",
        e.message
    );
    // The largest id is fine, and costs a table of ids, not of names.
    let t = parse_rep(&format!(
        "0\n{MAX_IDS}\n2\n1\na {} 8\nf {}\n",
        MAX_IDS - 1,
        MAX_IDS - 1
    ))
    .unwrap();
    assert!(t.names.is_empty());
    replay_clean(&t);
    // A header that claims the most ops reserves nothing it has not seen.
    let e = parse_rep(&format!("0\n1\n{MAX_OPS}\n1\na 0 8\n")).unwrap_err();
    assert_eq!(
        e.message,
        format!("the header says {MAX_OPS} ops but the file has 1")
    );
    let e = parse_rep(&format!("0\n1\n{}\n1\n", MAX_OPS + 1)).unwrap_err();
    assert_eq!(
        e.message,
        format!(
            "{} ops is more than heaptale accepts ({MAX_OPS})",
            MAX_OPS + 1
        )
    );
}

// ---- many lines, many variables --------------------------------------------------------

#[test]
fn a_million_lines_of_script_replay() {
    let mut s = String::with_capacity(24 << 20);
    for i in 0..500_000u32 {
        let _ = writeln!(s, "p{} = malloc({})", i % 1000, i % 300);
        let _ = writeln!(s, "free(p{})", i % 1000);
    }
    let t = parse_script(&s).unwrap();
    assert_eq!(t.ops.len(), 1_000_000);
    assert_eq!(t.ids, 1000);
    let r = replay_clean(&t);
    assert_eq!(r.ops, 1_000_000);
    assert!(r.ok());
}

#[test]
fn blank_and_comment_lines_are_cheap_and_counted() {
    // Two million lines that hold nothing, then an error: the line number is still right.
    let mut s = "\n# nothing\r\n".repeat(1_000_000);
    s.push_str("p = malloc(");
    let e = parse(&s).unwrap_err();
    assert_eq!(e.line, 2_000_001);
}

#[test]
fn thousands_of_variables() {
    let n = 20_000;
    let mut s = String::new();
    for i in 0..n {
        let _ = writeln!(s, "variable_with_a_long_name_{i} = malloc({})", i % 100);
    }
    for i in (0..n).rev() {
        let _ = writeln!(s, "free(variable_with_a_long_name_{i})");
    }
    let t = parse_script(&s).unwrap();
    assert_eq!(t.ids as usize, n);
    replay_clean(&t);
    // The console: the same names typed one by one, on one heap.
    let mut h = Heap::new(Arena::new(16 << 20).unwrap(), &Config::default()).unwrap();
    let mut session = Session::new();
    for line in s.lines() {
        session.run(&mut h, line).unwrap();
    }
    assert_eq!(session.vars().count(), n);
    assert_eq!(h.stats().used_blocks, 0);
    h.check().unwrap();
}

#[test]
fn the_variable_limit_is_enforced() {
    // MAX_IDS variables parse; one more is refused on the line that names it.
    let mut s = String::with_capacity(20 << 20);
    for i in 0..=MAX_IDS {
        let _ = writeln!(s, "v{i} = malloc(1)");
    }
    let e = parse_script(&s).unwrap_err();
    assert_eq!(e.line, MAX_IDS as usize + 1);
    assert_eq!(
        e.message,
        format!("more than {MAX_IDS} variables: heaptale accepts no more")
    );
}

// ---- encodings and garbage -------------------------------------------------------------

#[test]
fn crlf_bom_and_tabs_are_text_like_any_other() {
    let t = parse("\u{feff}p = malloc(24)\r\n\tq = realloc(p,\t100)\r\nfree(q)\r\n").unwrap();
    assert_eq!(t.ops.len(), 3);
    let t = parse("\u{feff}0\r\n1\r\n2\r\n1\r\na\t0\t8\r\nf 0\r\n").unwrap();
    assert_eq!(t.ops.len(), 2);
    // A byte order mark anywhere but the start is a character the lexer refuses.
    let e = parse_script("p = malloc(24)\n\u{feff}free(p)").unwrap_err();
    assert_eq!(
        (e.line, e.message.as_str()),
        (2, "unexpected character '\\u{feff}'")
    );
}

#[test]
fn utf16_and_binary_are_refused_at_the_command_line() {
    let utf16: Vec<u8> = "\u{feff}p = malloc(24)\nfree(p)\n"
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect();
    let (code, out, err) = cli(&["replay"], Some(("utf16.txt", &utf16)));
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(err.contains("UTF-16"), "{err}");
    let utf16be: Vec<u8> = "\u{feff}0\n"
        .encode_utf16()
        .flat_map(|u| u.to_be_bytes())
        .collect();
    let (code, _, err) = cli(&["replay"], Some(("utf16be.rep", &utf16be)));
    assert_eq!(code, 2);
    assert!(err.contains("UTF-16"), "{err}");
    // UTF-16 without a byte order mark shows as NUL bytes.
    let bare: Vec<u8> = "p = malloc(24)\n"
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect();
    let (code, _, err) = cli(&["replay"], Some(("utf16-bare.txt", &bare)));
    assert_eq!(code, 2);
    assert!(
        err.contains("not a text file (a NUL byte at byte 1)"),
        "{err}"
    );
    // Latin-1 and random bytes.
    let (code, _, err) = cli(
        &["replay"],
        Some(("latin1.txt", b"p = malloc(24) # caf\xe9\n")),
    );
    assert_eq!(code, 2);
    assert!(err.contains("invalid UTF-8 at byte 20"), "{err}");
    let mut x = 0x2545_F491u32;
    let junk: Vec<u8> = (0..100_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    let (code, out, _) = cli(&["replay", "--json"], Some(("junk.bin", &junk)));
    assert_eq!((code, out.as_str()), (2, ""));
}

#[test]
fn garbage_text_gets_a_line_and_a_reason() {
    let mut x = 7u32;
    for k in 0..300 {
        let s: String = (0..200)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                b"ar f0123456789-\n\r\t;#/()=,*+xpqNUL_<>&\"'"[(x >> 16) as usize % 39] as char
            })
            .collect();
        match parse(&s) {
            Ok(t) => {
                replay_clean(&t);
            }
            Err(e) => {
                assert!(
                    e.line >= 1 && e.line <= s.split('\n').count(),
                    "{k}: line {} of {s:?}",
                    e.line
                );
                assert!(
                    !e.message.is_empty() && e.message.len() < 300,
                    "{k}: {}",
                    e.message
                );
            }
        }
    }
}

// ---- markup in names and messages ------------------------------------------------------

/// Names are identifiers (letters, digits, `_`): markup cannot be a name. Messages quote
/// the offending text clipped to 40 characters; they are plain text, which the page must
/// render as text (it does: textContent, and the Playwright tests feed it such names).
#[test]
fn markup_is_never_a_name_and_messages_quote_it_as_text() {
    for (text, want) in [
        (
            "<img src=x onerror=alert(1)> = malloc(8)",
            "line 1: unexpected character '<'",
        ),
        (
            "p = malloc(8) <script>alert(1)</script>",
            "line 1: unexpected character '<'",
        ),
        ("free(&quot;p&quot;)", "line 1: unexpected character '&'"),
        (
            "javascript:alert(1) = malloc(1)",
            "line 1: unexpected character ':'",
        ),
    ] {
        assert_eq!(parse_script(text).unwrap_err().to_string(), want, "{text}");
    }
    let e = parse_rep("0\n1\n1\n1\n<b>a</b> 0 8\n").unwrap_err();
    assert_eq!(
        e.message,
        "unknown op \"<b>a</b>\": expected a ID SIZE, r ID SIZE or f ID"
    );
    // The console refuses the same and keeps working.
    let mut h = Heap::new(Arena::new(1 << 20).unwrap(), &Config::default()).unwrap();
    let mut s = Session::new();
    assert_eq!(
        s.run(&mut h, "<img src=x onerror=alert(1)> = malloc(8)")
            .unwrap_err(),
        "unexpected character '<'"
    );
    assert!(s.run(&mut h, "ok = malloc(8)").is_ok());
    assert_eq!(s.vars().map(|v| v.0).collect::<Vec<_>>(), ["ok"]);
    // Very long names are fine as names, and clipped when quoted.
    let long = "x".repeat(100_000);
    let t = parse_script(&format!("{long} = malloc(1)\nfree({long})")).unwrap();
    assert_eq!(t.names[0].len(), 100_000);
    let e = parse_script(&format!("{long}(1)")).unwrap_err();
    assert_eq!(e.message, format!("unknown function \"{}...\": expected malloc, calloc, realloc, free, memalign, aligned_alloc, write or memset", "x".repeat(40)));
}

// ---- the command line's knobs --------------------------------------------------------

#[test]
fn heap_size_and_base_limits_at_the_command_line() {
    let script: &[u8] = b"p = malloc(100)\nq = malloc(100000)\nfree(p)\n";
    // A tiny fixed heap: the calls fail as out of memory, reported, exit 1.
    let (code, _, err) = cli(&["replay", "--heap-size", "64"], Some(("tiny.txt", script)));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("allocation failure"), "{err}");
    // One byte is a heap too (too small for any block).
    let (code, _, err) = cli(&["replay", "--heap-size", "1"], Some(("one.txt", script)));
    assert_eq!(code, 1, "{err}");
    // The largest fixed heap, and one byte more.
    let (code, _, err) = cli(
        &["replay", "--heap-size", "1073741824"],
        Some(("max.txt", script)),
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = cli(
        &["replay", "--heap-size", "1073741825"],
        Some(("over.txt", script)),
    );
    assert_eq!(
        (code, err.as_str()),
        (
            2,
            "heaptale: bad configuration: the heap size must be between 1 byte and 1 GiB\n"
        )
    );
    let (code, _, err) = cli(
        &["replay", "--heap-size", "99999999999999999999"],
        Some(("huge.txt", script)),
    );
    assert_eq!(code, 2);
    assert!(err.contains("expected a number"), "{err}");
    let (code, _, err) = cli(
        &["replay", "--base", "0xFFFFFFFFFFFFFFF0"],
        Some(("base.txt", script)),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no room for the heap"), "{err}");
}

#[test]
fn a_million_op_trace_at_the_command_line() {
    let mut s = String::with_capacity(16 << 20);
    let _ = write!(s, "0\n1000\n1000000\n1\n");
    for i in 0..500_000u32 {
        let _ = writeln!(s, "a {} {}", i % 1000, 1 + i % 500);
        let _ = writeln!(s, "f {}", i % 1000);
    }
    let (code, out, err) = cli(&["replay", "--json"], Some(("million.rep", s.as_bytes())));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"ops\":1000000"), "{out}");
}
