//! The `heaptale` binary: exit codes, output, and messages on good and bad input.
#![cfg(feature = "cli")]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_heaptale");

fn traces() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/traces")
}

fn awk() -> String {
    traces().join("awk-wordcount.rep").display().to_string()
}

/// A scratch directory of this test binary's own.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("heaptale-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn write(name: &str, bytes: &[u8]) -> String {
    let p = scratch(name);
    std::fs::write(&p, bytes).unwrap();
    p.display().to_string()
}

fn run(args: &[&str]) -> Output {
    run_stdin(args, b"")
}

fn run_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "a panic for {args:?}: {err}"
    );
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}
fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}
fn code(o: &Output) -> i32 {
    o.status.code().expect("killed by a signal")
}

#[test]
fn policies_lists_every_policy() {
    let o = run(&["policies"]);
    assert_eq!(code(&o), 0);
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), heaptale::PolicyKind::ALL.len());
    for (line, p) in lines.iter().zip(heaptale::PolicyKind::ALL) {
        assert!(line.starts_with(p.name()), "{line}");
        assert!(line.ends_with(p.description()), "{line}");
    }
}

#[test]
fn replay_a_real_trace() {
    let o = run(&["replay", &awk()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
    let out = stdout(&o);
    assert!(
        out.starts_with(&format!(
            "{}\n  policy            first (order addr, coalesce on, header 8, align 8)\n",
            awk()
        )),
        "{out}"
    );
    assert!(out.contains("\n  ops               1880\n"), "{out}");
    assert!(out.contains("\n  peak live bytes   2050583\n"), "{out}");
    assert!(out.contains("\n  heap bytes        "), "{out}");
    assert!(out.contains("\n  utilization       "), "{out}");
    assert!(out.contains("\n  integrity errors  0\n"), "{out}");
    assert!(out.contains("\n  alloc failures    0\n"), "{out}");
    assert!(
        out.contains("\n  time              ") && out.ends_with(" ops/s, checks included)\n"),
        "{out}"
    );
}

#[test]
fn json_has_exactly_the_contract_keys() {
    let node = traces().join("node-json.rep").display().to_string();
    let o = run(&["replay", "--json", "--policy", "tlsf", &awk(), &node]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    for (line, (file, ops)) in lines.iter().zip([(awk(), 1880), (node, 316_251)]) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let obj = v.as_object().unwrap();
        let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "heap_bytes",
                "integrity_errors",
                "ops",
                "peak_live_bytes",
                "policy",
                "trace",
                "utilization"
            ]
        );
        assert_eq!(obj["trace"], file.as_str());
        assert_eq!(obj["policy"], "tlsf");
        assert_eq!(obj["ops"], ops);
        assert_eq!(obj["integrity_errors"], 0);
        let u = obj["utilization"].as_f64().unwrap();
        assert!(u > 0.5 && u <= 1.0, "{u}");
        let live = obj["peak_live_bytes"].as_u64().unwrap();
        let heap = obj["heap_bytes"].as_u64().unwrap();
        assert!((live as f64 / heap as f64 - u).abs() < 1e-12);
    }
}

#[test]
fn every_knob() {
    let base = run(&["replay", "--json", &awk()]);
    for args in [
        &[
            "--policy",
            "best",
            "--order",
            "size-asc",
            "--coalesce",
            "off",
        ][..],
        &["--policy", "next", "--order", "front"],
        &["--policy", "worst", "--order", "back"],
        &["--policy", "first", "--order", "size-desc"],
        &["--policy", "seglist", "--header", "16", "--align", "16"],
        &["--policy", "buddy"],
        &["--base", "0x40000000", "--check-every", "100"],
        &["--heap-size", "0x400000"],
        &["--heap-size", "4_194_304", "--align", "32", "--header", "4"],
    ] {
        let awk = awk();
        let mut all = vec!["replay", "--json"];
        all.extend_from_slice(args);
        all.push(&awk);
        let o = run(&all);
        assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
        let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
        assert_eq!(v["ops"], 1880, "{args:?}");
        assert_eq!(v["integrity_errors"], 0, "{args:?}");
    }
    // --base moves addresses, not results.
    let moved = run(&["replay", "--json", "--base", "0x40000000", &awk()]);
    assert_eq!(stdout(&moved), stdout(&base));
}

#[test]
fn fixed_heap_uses_its_size() {
    let o = run(&["replay", "--json", "--heap-size", "4194304", &awk()]);
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(v["heap_bytes"], 4_194_304);
}

#[test]
fn stdin_script() {
    let script =
        b"p = malloc(24)\nq = calloc(4, 8);\nfree(p)\nr = memalign(64, 100)\nfree(q); free(r)\n";
    let o = run_stdin(&["replay", "--json", "-"], script);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(v["trace"], "-");
    assert_eq!(v["ops"], 6);
    assert_eq!(v["peak_live_bytes"], 32 + 100); // p was freed before r
}

#[test]
fn stdin_rep_with_crlf() {
    let text = std::fs::read_to_string(awk())
        .unwrap()
        .replace('\n', "\r\n");
    let o = run_stdin(&["replay", "-"], text.as_bytes());
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("ops               1880"));
}

#[test]
fn stdin_twice_is_refused() {
    let o = run_stdin(&["replay", "-", "-"], b"p = malloc(1)\nfree(p)\n");
    assert_eq!(code(&o), 2);
    assert_eq!(
        stderr(&o),
        "heaptale: -: standard input can be read only once\n"
    );
}

#[test]
fn allocation_failures_exit_1() {
    let o = run(&["replay", "--heap-size", "65536", &awk()]);
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(
        err.starts_with(&format!("heaptale: {}: 875 allocation failures; the first: op 81 (line 86): #65 = malloc(2048): out of memory", awk())),
        "{err}"
    );
    assert!(stdout(&o).contains("alloc failures    875"));
}

fn bad_input(name: &str, bytes: &[u8], want: &str) {
    let path = write(name, bytes);
    for json in [false, true] {
        let mut args = vec!["replay"];
        if json {
            args.push("--json");
        }
        args.push(&path);
        let o = run(&args);
        assert_eq!(code(&o), 2, "{name}: {}", stderr(&o));
        assert_eq!(stderr(&o), format!("heaptale: {path}: {want}\n"), "{name}");
        assert_eq!(stdout(&o), "", "{name}");
    }
}

#[test]
fn garbage() {
    bad_input(
        "garbage.txt",
        b"hello world\nthis is not a trace\n",
        "line 1: expected a call such as malloc(24), found \"hello\"",
    );
    bad_input(
        "garbage.rep",
        b"20000\n3\n8\n1\nz 0 512\n",
        "line 5: unknown op \"z\": expected a ID SIZE, r ID SIZE or f ID",
    );
    bad_input(
        "double-free.rep",
        b"0\n1\n3\n1\na 0 8\nf 0\nf 0\n",
        "line 7: f 0: id 0 was already freed (line 6)",
    );
    bad_input(
        "script.txt",
        b"p = malloc(8)\nfree(p)\nfree(p)\n",
        "line 3: free(p): p was already freed (line 2)",
    );
}

#[test]
fn truncated() {
    let text = std::fs::read(awk()).unwrap();
    // Cut inside a line, then at a line end: the header counts catch what the line does not.
    let a = 1000 + text[1000..].windows(3).position(|w| w == b"\na ").unwrap();
    let mid = &text[..a + 4]; // "...\na 1" (an id cut short, no size)
    let last = std::str::from_utf8(mid.rsplit(|&b| b == b'\n').next().unwrap()).unwrap();
    let n = mid.split(|&b| b == b'\n').count();
    bad_input(
        "cut-mid.rep",
        mid,
        &format!("line {n}: {last}: expected a ID SIZE"),
    );
    let cut = text[..1000].iter().rposition(|&b| b == b'\n').unwrap() + 1;
    let ops = text[..cut].split(|&b| b == b'\n').count() - 1 - 4;
    bad_input(
        "cut-line.rep",
        &text[..cut],
        &format!("line 3: the header says 1880 ops but the file has {ops}"),
    );
    bad_input(
        "header-only.rep",
        b"0\n936\n",
        "line 2: the file ends inside the header: expected 4 header lines, found 2",
    );
    bad_input(
        "empty.rep",
        b"0\n",
        "line 1: the file ends inside the header: expected 4 header lines, found 1",
    );
}

#[test]
fn binary() {
    let mut bytes: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    bytes[0] = 0x7F;
    bad_input(
        "random.bin",
        &bytes,
        "not a text file (invalid UTF-8 at byte 1): expected a .rep trace or a script",
    );
    bad_input(
        "nul.bin",
        b"0\n1\n\0\n",
        "not a text file (a NUL byte at byte 4): expected a .rep trace or a script",
    );
    // A real xz file (a two-op trace compressed by `xz -9`).
    let xz =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny.rep.xz"))
            .expect("tests/fixtures/tiny.rep.xz");
    bad_input(
        "t.rep.xz",
        &xz,
        "xz-compressed: decompress it first (xz -dk FILE) and replay the result",
    );
    bad_input(
        "t.rep.gz",
        b"\x1F\x8B\x08\0\0\0",
        "gzip-compressed: decompress it first (gunzip -k FILE) and replay the result",
    );
}

#[test]
fn hostile() {
    bad_input(
        "many-ops.rep",
        b"0\n1\n18446744073709551615\n1\n",
        "line 3: 18446744073709551615 ops is more than heaptale accepts (10000000)",
    );
    bad_input("huge-number.rep", b"0\n1\n184467440737095516150\n1\n", "line 3: header line 3: expected the number of ops as a number, found \"184467440737095516150\"");
    bad_input(
        "many-ids.rep",
        b"0\n4000000000\n1\n1\n",
        "line 2: 4000000000 ids is more than heaptale accepts (1000000)",
    );
    bad_input(
        "big-id.rep",
        b"0\n1\n1\n1\na 4294967295 8\n",
        "line 5: a 4294967295 8: id 4294967295 is beyond the limit of 1000000 ids",
    );
    bad_input(
        "big-size.rep",
        b"0\n1\n1\n1\na 0 4294967296\n",
        "line 5: a 0 4294967296: size 4294967296 is too large (sizes must be below 4 GiB)",
    );
    let long = format!(
        "p = malloc({}1{})",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    bad_input(
        "nested.txt",
        long.as_bytes(),
        "line 1: parentheses nested more than 16 deep",
    );
    let wide = format!("p = {}", "x".repeat(1_000_000));
    bad_input(
        "wide.txt",
        wide.as_bytes(),
        &format!(
            "line 1: expected a call such as malloc(24), found \"{}...\"",
            "x".repeat(40)
        ),
    );
    bad_input(
        "escape.txt",
        b"\x1b[31mred = malloc(1)",
        "line 1: unexpected character '\\u{1b}'",
    );
    // Big but valid sizes just fail to allocate.
    let path = write("4g.rep", b"0\n1\n2\n1\na 0 4294967295\nf 0\n");
    let o = run(&["replay", &path]);
    assert_eq!(code(&o), 1);
    assert_eq!(
        stderr(&o),
        format!("heaptale: {path}: 1 allocation failure; the first: op 0 (line 5): #0 = malloc(4294967295): size overflow: the requested size is too large\n")
    );
}

#[test]
fn files_that_cannot_be_read() {
    let missing = scratch("does-not-exist.rep").display().to_string();
    let o = run(&["replay", &missing]);
    assert_eq!(code(&o), 2);
    assert_eq!(stderr(&o), format!("heaptale: {missing}: no such file\n"));
    let dir = std::env::temp_dir().display().to_string();
    let o = run(&["replay", &dir]);
    assert_eq!(code(&o), 2);
    assert_eq!(
        stderr(&o),
        format!("heaptale: {dir}: is a directory, not a trace\n")
    );
}

#[test]
fn one_bad_file_among_good_ones() {
    let bad = write("bad-among-good.rep", b"nonsense\n");
    let o = run(&["replay", "--json", &awk(), &bad, &awk()]);
    assert_eq!(code(&o), 2);
    assert_eq!(stdout(&o).lines().count(), 2);
    assert_eq!(
        stderr(&o),
        format!(
            "heaptale: {bad}: line 1: expected a call such as malloc(24), found \"nonsense\"\n"
        )
    );
}

#[test]
fn bad_knobs() {
    for (args, want) in [
        (&["--align", "3"][..], "heaptale: bad configuration: the alignment must be a power of two from 1 to 4096\n"),
        (&["--header", "2"], "heaptale: bad configuration: the header must be at least 4 bytes: it holds the block's size\n"),
        (&["--heap-size", "0"], "heaptale: bad configuration: the heap size must be between 1 byte and 1 GiB\n"),
        (&["--heap-size", "4000000000"], "heaptale: bad configuration: the heap size must be between 1 byte and 1 GiB\n"),
    ] {
        let awk = awk();
        let mut all = vec!["replay"];
        all.extend_from_slice(args);
        all.push(&awk);
        let o = run(&all);
        assert_eq!(code(&o), 2, "{args:?}");
        assert_eq!(stderr(&o), want, "{args:?}");
        assert_eq!(stdout(&o), "");
    }
    for args in [
        &["replay", "--policy", "nope", "x"][..],
        &["replay", "--order", "sideways", "x"],
        &["replay", "--coalesce", "maybe", "x"],
        &["replay", "--align", "-8", "x"],
        &["replay", "--heap-size", "99999999999", "x"],
        &["replay"],
        &["frobnicate"],
        &[],
    ] {
        let o = run(args);
        assert_eq!(code(&o), 2, "{args:?}");
        assert!(
            stderr(&o).contains("error:") || stderr(&o).contains("Usage"),
            "{args:?}: {}",
            stderr(&o)
        );
    }
    let o = run(&["replay", "--policy", "nope", "x"]);
    assert!(
        stderr(&o).contains(
            "unknown policy: expected first, next, best, worst, seglist, tlsf, heaptale or buddy"
        ),
        "{}",
        stderr(&o)
    );
}

#[test]
fn help_and_version() {
    let o = run(&["--help"]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains("replay"));
    let o = run(&["replay", "--help"]);
    assert_eq!(code(&o), 0);
    for flag in [
        "--policy",
        "--order",
        "--coalesce",
        "--header",
        "--align",
        "--heap-size",
        "--base",
        "--json",
    ] {
        assert!(stdout(&o).contains(flag), "{flag}");
    }
    assert_eq!(code(&run(&["--version"])), 0);
}

#[test]
fn closed_stdout_is_not_a_panic() {
    let script = write("tiny.txt", b"p = malloc(1)\nfree(p)\n");
    let mut args = vec!["replay".to_string(), "--json".to_string()];
    args.extend(std::iter::repeat_n(script, 3000));
    let mut child = Command::new(BIN)
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.status.code().is_some(), "killed by a signal");
}

#[test]
fn steps_log_one_json_object_per_op() {
    let script = write(
        "steps.txt",
        b"p = malloc(24)\nq = malloc(100)\nfree(p)\nbig = malloc(5000000)\nfree(q)\nfree(NULL)\n",
    );
    let log = scratch("steps.jsonl").display().to_string();
    let o = run(&["replay", "--heap-size", "65536", "--steps", &log, &script]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let text = std::fs::read_to_string(&log).unwrap();
    let steps: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(steps.len(), 6);
    for (i, s) in steps.iter().enumerate() {
        let mut keys: Vec<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["addr", "error", "free_list", "i", "id", "op", "size"]
        );
        assert_eq!(s["i"], i);
    }
    assert_eq!(
        steps[0],
        serde_json::json!({"i": 0, "op": "malloc", "id": 0, "size": 24, "addr": 0x10008, "error": null, "free_list": [[0x10020, 65504]]})
    );
    assert_eq!(steps[2]["op"], "free");
    assert_eq!(steps[2]["addr"], serde_json::Value::Null);
    assert_eq!(steps[2]["size"], serde_json::Value::Null);
    assert_eq!(steps[2]["free_list"][0], serde_json::json!([0x10000, 32]));
    assert_eq!(steps[3]["addr"], serde_json::Value::Null);
    assert!(
        steps[3]["error"]
            .as_str()
            .unwrap()
            .starts_with("out of memory"),
        "{}",
        steps[3]
    );
    assert_eq!(steps[5]["id"], serde_json::Value::Null);
    // Every free block is listed once at the end: the heap is one free block again.
    assert_eq!(steps[5]["free_list"], serde_json::json!([[0x10000, 65536]]));
}

#[test]
fn steps_take_one_trace() {
    let log = scratch("steps2.jsonl").display().to_string();
    let o = run(&["replay", "--steps", &log, &awk(), &awk()]);
    assert_eq!(code(&o), 2);
    assert_eq!(
        stderr(&o),
        "heaptale: --steps takes exactly one trace file\n"
    );
    let o = run(&["replay", "--steps", "/nonexistent-dir/x.jsonl", &awk()]);
    assert_eq!(code(&o), 2);
    assert_eq!(
        stderr(&o),
        "heaptale: --steps /nonexistent-dir/x.jsonl: no such file\n"
    );
}

#[test]
fn odd_and_high_bases() {
    let script = write(
        "bases.txt",
        b"p = malloc(24)\nq = malloc(100)\nfree(p)\nr = memalign(4096, 10)\nfree(q)\nfree(r)\n",
    );
    for base in ["1000", "1001", "0x10004"] {
        let o = run(&["replay", "--base", base, &script]);
        assert_eq!(code(&o), 0, "{base}: {}", stderr(&o));
    }
    // A base with no room above it for the largest heap is refused up front.
    let o = run(&["replay", "--base", "0xFFFFFFFFFFFFFF00", &script]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_eq!(
        stderr(&o),
        "heaptale: bad configuration: the base address leaves no room for the heap below the top of the address space\n"
    );
}
