//! `heaptale record`: real programs (CPython, a threaded and forking C program) run under the
//! interposer `record/` and come out as `.rep` traces that parse and replay cleanly.
//!
//! The interposer is built here, once, with `cargo build -p heaptale-record` into this
//! build's target directory (so it sits next to the `heaptale` under test, where `heaptale
//! record` looks first). Needs `python3` and a C compiler (`cc`), as the machines have.
#![cfg(all(feature = "cli", target_os = "linux"))]

use heaptale::trace::{parse_rep, Trace};
use heaptale::PolicyKind;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_heaptale");
const LIB: &str = "libheaptale_record.so";

/// Builds the interposer (once) and returns its path.
fn library() -> &'static Path {
    static LIB_PATH: OnceLock<PathBuf> = OnceLock::new();
    LIB_PATH.get_or_init(|| {
        // BIN is TARGET/PROFILE/heaptale.
        let target = Path::new(BIN).parent().unwrap().parent().unwrap();
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
        let out = Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "-p",
                "heaptale-record",
                "--manifest-path",
            ])
            .arg(&manifest)
            .arg("--target-dir")
            .arg(target)
            .output()
            .expect("cannot run cargo");
        assert!(
            out.status.success(),
            "cargo build -p heaptale-record failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lib = target.join("debug").join(LIB);
        assert!(lib.is_file(), "{} was not built", lib.display());
        lib
    })
}

/// The real python3 (not a shim script that would be recorded too).
fn python() -> &'static str {
    static PY: OnceLock<String> = OnceLock::new();
    PY.get_or_init(|| {
        let out = Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .expect("python3 is needed");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    })
}

/// A fresh scratch directory.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "heaptale-record-test-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `heaptale record --out OUT -- ARGS`, failing the test past `limit` (a deadlock).
fn record(out: &Path, args: &[&str], env: &[(&str, &str)], limit: Duration) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("record").arg("--out").arg(out).arg("--").args(args);
    // Next to the binary is where `heaptale record` looks first; elsewhere, say where.
    if Path::new(BIN).parent().unwrap().join(LIB) != library() {
        cmd.env("HEAPTALE_RECORD_LIB", library());
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t0.elapsed() > limit {
            let _ = child.kill();
            let o = child.wait_with_output().unwrap();
            panic!(
                "`heaptale record {args:?}` still running after {limit:?} (a deadlock?); stderr:\n{}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked"), "a panic: {err}");
    o
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The traces in `dir`, by file name.
fn traces(dir: &Path) -> Vec<(String, Trace)> {
    let mut v: Vec<(String, Trace)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rep"))
        .map(|p| {
            let t = std::fs::read_to_string(&p).unwrap();
            let trace = parse_rep(&t).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p.file_name().unwrap().to_string_lossy().into_owned(), trace)
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Counts of a, r and f ops.
fn counts(t: &Trace) -> (usize, usize, usize) {
    use heaptale::trace::OpKind;
    let mut c = (0, 0, 0);
    for op in &t.ops {
        match op.kind {
            OpKind::Free => c.2 += 1,
            OpKind::Realloc { .. } => c.1 += 1,
            _ => c.0 += 1,
        }
    }
    c
}

/// Replays `file` with the CLI under `policy`: exit 0 and no integrity error.
fn replays_clean(file: &Path, policy: PolicyKind) {
    let o = Command::new(BIN)
        .args(["replay", "--json", "--policy", policy.name()])
        .arg(file)
        .output()
        .unwrap();
    let out = text(&o.stdout);
    assert!(
        o.status.success(),
        "{} under {policy}: {out}{}",
        file.display(),
        text(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        v["integrity_errors"],
        0,
        "{} under {policy}: {out}",
        file.display()
    );
}

const PY_WORK: &str = r#"
words = [str(i) * (i % 7 + 1) for i in range(3000)]
table = {w: len(w) for w in words}
groups = {}
for w in words:
    groups.setdefault(len(w), []).append(w)
text = "-".join(words)
parts = text.split("-")
nested = [[j for j in range(i % 50)] for i in range(500)]
b = bytearray()
for i in range(2000):
    b += b"x" * (i % 13)
del words, parts
print(len(table), len(groups), len(text), len(nested), len(b))
"#;

#[test]
fn python_trace_parses_and_replays_under_every_policy() {
    let out = scratch("python");
    let o = record(
        &out,
        &[python(), "-S", "-c", PY_WORK],
        &[("PYTHONMALLOC", "malloc")],
        Duration::from_secs(120),
    );
    let stdout = text(&o.stdout);
    assert!(o.status.success(), "{stdout}{}", text(&o.stderr));
    // The program's own output passes through.
    assert!(stdout.contains("3000 19 46549 500 11989\n"), "{stdout}");
    assert!(stdout.contains("1 process\n"), "{stdout}");
    let all = traces(&out);
    assert_eq!(all.len(), 1, "{stdout}");
    let (name, trace) = &all[0];
    assert!(name.starts_with("python3"), "{name}");
    let (a, r, f) = counts(trace);
    assert!(a > 10_000 && r > 100, "a {a}, r {r}, f {f}: {stdout}");
    // The heap ends empty: every block is freed.
    assert_eq!(a, f);
    // The summary gives the trace's op counts, with thousands separators.
    let sep = |n: usize| {
        let s = n.to_string();
        let mut o = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                o.push(',');
            }
            o.push(c);
        }
        o
    };
    let summary = format!(
        "{} ops (a {}, r {}, f {})",
        sep(a + r + f),
        sep(a),
        sep(r),
        sep(f)
    );
    assert!(stdout.contains(&summary), "{summary}: {stdout}");
    assert!(stdout.contains("free(NULL) dropped"), "{stdout}");
    // No raw log is left behind.
    assert!(!std::fs::read_dir(&out)
        .unwrap()
        .any(|e| e.unwrap().path().is_dir()));
    let file = out.join(name);
    for policy in PolicyKind::ALL {
        replays_clean(&file, policy);
    }
    let _ = std::fs::remove_dir_all(&out);
}

const C_THREADS: &str = r#"
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/wait.h>

#define THREADS 8
#define ITERS 4000
#define SHARED 64
static void *shared[SHARED];
static void *volatile sink;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void *work(void *arg) {
    unsigned seed = (unsigned)(size_t)arg;
    void *mine[16] = {0};
    for (int i = 0; i < ITERS; i++) {
        int k = rand_r(&seed) % 16;
        size_t n = 1 + rand_r(&seed) % 300;
        void *p = NULL;
        switch (i % 8) {
        case 0: p = malloc(n); break;
        case 1: p = calloc(n, 3); break;
        case 2: p = realloc(mine[k], n * 2); mine[k] = NULL; break;
        case 3: if (posix_memalign(&p, 64, n) != 0) p = NULL; break;
        case 4: p = aligned_alloc(32, 32 * (1 + n % 8)); break;
        case 5: p = memalign(128, n); break;
        case 6: p = (i % 64 == 6) ? valloc(n) : malloc(n); break;
        default: p = malloc(n); break;
        }
        if (p) memset(p, 0xAB, 1);
        /* Hand some blocks to other threads: frees on a thread that did not allocate. */
        if (i % 5 == 0) {
            pthread_mutex_lock(&lock);
            int s = rand_r(&seed) % SHARED;
            void *q = shared[s];
            shared[s] = p;
            pthread_mutex_unlock(&lock);
            free(q);
        } else {
            free(mine[k]);
            mine[k] = p;
        }
    }
    for (int k = 0; k < 16; k++) free(mine[k]);
    return NULL;
}

int main(void) {
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, work, (void *)(i + 1));
    /* A fork while the threads allocate: the child's log is its own. */
    pid_t child = fork();
    if (child == 0) {
        void *p = malloc(1000);
        p = realloc(p, 5000);
        free(p);
        sink = malloc(77);
        free(sink);
        _exit(0);
    }
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    int status = 0;
    waitpid(child, &status, 0);
    for (int s = 0; s < SHARED; s++) free(shared[s]);
    printf("child %d parent %d\n", (int)child, (int)getpid());
    return status;
}
"#;

/// Compiles a C program with `cc` into `dir`.
fn compile_c(dir: &Path, name: &str, source: &str) -> PathBuf {
    let src = dir.join(format!("{name}.c"));
    std::fs::write(&src, source).unwrap();
    let exe = dir.join(name);
    let o = Command::new("cc")
        .args(["-O1", "-pthread", "-o"])
        .arg(&exe)
        .arg(&src)
        .output()
        .expect("a C compiler (cc) is needed");
    assert!(o.status.success(), "cc failed: {}", text(&o.stderr));
    exe
}

#[test]
fn threads_and_a_fork_record_without_deadlock() {
    let dir = scratch("threads");
    let exe = compile_c(&dir, "threads", C_THREADS);
    let out = dir.join("traces");
    let o = record(
        &out,
        &[exe.to_str().unwrap()],
        &[],
        Duration::from_secs(120),
    );
    let stdout = text(&o.stdout);
    assert!(o.status.success(), "{stdout}{}", text(&o.stderr));
    let line = stdout
        .lines()
        .find(|l| l.starts_with("child "))
        .expect("the program's output");
    let pids: Vec<&str> = line.split_whitespace().collect();
    let (child, parent) = (pids[1], pids[3]);
    let all = traces(&out);
    let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.len(), 2, "{names:?}\n{stdout}");
    let of = |pid: &str| {
        &all.iter()
            .find(|(n, _)| n == &format!("threads-{pid}.rep"))
            .unwrap_or_else(|| panic!("no trace of {pid}: {names:?}"))
            .1
    };
    // The parent: every one of the threads' allocations (and glibc's own, a few more).
    let (a, r, f) = counts(of(parent));
    let calls = 8 * 4000;
    assert!(
        a + r >= calls && a + r < calls + 2000,
        "a {a}, r {r}, f {f}"
    );
    assert_eq!(a, f);
    // Across threads the log keeps frees before the reuse of their addresses: no block is
    // handed out while the log holds it live, none freed that the log never saw.
    let parent_line = stdout
        .lines()
        .find(|l| l.contains(&format!("threads-{parent}.rep")))
        .unwrap();
    let notes = stdout
        .lines()
        .skip_while(|l| *l != parent_line)
        .nth(1)
        .unwrap_or("");
    assert!(
        !notes.contains("reused while live") && !notes.contains("allocated before the log"),
        "{stdout}"
    );
    // The child: exactly its own calls (it left by _exit, without destructors).
    let (a, r, f) = counts(of(child));
    assert_eq!((a, r, f), (2, 1, 2), "{stdout}");
    assert!(stdout.contains("ended without exit"), "{stdout}");
    for (name, _) in &all {
        replays_clean(&out.join(name), PolicyKind::First);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

const PY_FORKS: &str = r#"
import os, subprocess, sys
out = sys.argv[1]
def note(what):
    with open(os.path.join(out, "pid-%d" % os.getpid()), "w") as f:
        f.write(what)
note("parent")
kids = []
for n in range(2):
    pid = os.fork()
    if pid == 0:
        junk = [str(i) * 5 for i in range(2000 + n)]
        note("fork")
        os._exit(0)
    kids.append(pid)
for pid in kids:
    os.waitpid(pid, 0)
subprocess.run([sys.executable, "-S", "-c",
    "import os, sys; x = {i: str(i) for i in range(1000)}; open(os.path.join(sys.argv[1], 'pid-%d' % os.getpid()), 'w').write('exec')", out],
    check=True)
"#;

#[test]
fn forks_and_execs_give_one_trace_per_process() {
    let dir = scratch("forks");
    let notes = dir.join("notes");
    std::fs::create_dir_all(&notes).unwrap();
    let out = dir.join("traces");
    let o = record(
        &out,
        &[python(), "-S", "-c", PY_FORKS, notes.to_str().unwrap()],
        &[("PYTHONMALLOC", "malloc")],
        Duration::from_secs(120),
    );
    let stdout = text(&o.stdout);
    assert!(o.status.success(), "{stdout}{}", text(&o.stderr));
    let pids: BTreeSet<String> = std::fs::read_dir(&notes)
        .unwrap()
        .map(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .trim_start_matches("pid-")
                .to_string()
        })
        .collect();
    assert_eq!(pids.len(), 4, "parent, two forks, one exec: {pids:?}");
    let all = traces(&out);
    let traced: BTreeSet<String> = all
        .iter()
        .map(|(n, _)| {
            n.trim_end_matches(".rep")
                .rsplit('-')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    // One trace per process; the exec'd child's is its python's (pid-SEQ names would show
    // a second program under one pid).
    assert_eq!(traced, pids, "{stdout}");
    assert_eq!(all.len(), 4, "{stdout}");
    assert!(stdout.contains("4 processes"), "{stdout}");
    for (name, trace) in &all {
        let (a, _, f) = counts(trace);
        assert!(a > 1000 && a == f, "{name}: a {a}, f {f}");
        replays_clean(&out.join(name), PolicyKind::Best);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_programs_failure_is_reported_and_its_trace_kept() {
    let out = scratch("status");
    let o = record(
        &out,
        &[
            python(),
            "-S",
            "-c",
            "import sys; x = [str(i) for i in range(100)]; sys.exit(3)",
        ],
        &[("PYTHONMALLOC", "malloc")],
        Duration::from_secs(60),
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("exit status: 3"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(traces(&out).len(), 1);
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_missing_command_fails_clearly() {
    let out = scratch("missing");
    let o = record(
        &out,
        &["heaptale-no-such-command", "--flag"],
        &[],
        Duration::from_secs(30),
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        text(&o.stderr).trim(),
        "heaptale: cannot run heaptale-no-such-command: no such command"
    );
    assert!(o.stdout.is_empty());
    // Nothing left behind but the (empty) output directory.
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);
    // No command at all: a usage error.
    let o = Command::new(BIN).arg("record").output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("<COMMAND>"), "{}", text(&o.stderr));
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_missing_library_fails_clearly() {
    let out = scratch("nolib");
    let o = Command::new(BIN)
        .args(["record", "--out"])
        .arg(&out)
        .args(["--", "true"])
        .env("HEAPTALE_RECORD_LIB", "/nonexistent/libheaptale_record.so")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(
        err.contains(
            "HEAPTALE_RECORD_LIB names /nonexistent/libheaptale_record.so, which is not a file"
        ),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&out);
}
