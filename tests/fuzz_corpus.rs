//! Replays every input kept in `fuzz/corpus/TARGET/` and `fuzz/regressions/TARGET/`
//! through the same checks the fuzz targets run (`tests/fuzzing/mod.rs`), on stable, as
//! part of `make test`. Fuzzing itself (`make fuzz`) needs nightly; what it found stays
//! tested here.
//!
//! `FUZZ_CORPUS_TARGET=rep cargo test --test fuzz_corpus` replays one target only; a failing
//! input is named in the panic message. `FUZZ_INPUT=FILE FUZZ_CORPUS_TARGET=rep cargo test
//! --test fuzz_corpus one_input` runs one file (a crash libFuzzer left in fuzz/artifacts/).
#![cfg(feature = "std")]

#[path = "fuzzing/mod.rs"]
mod fuzzing;

use std::path::{Path, PathBuf};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join("corpus")
}

/// The corpus of a target and its regressions (`fuzz/regressions/TARGET/`: inputs that once
/// failed, kept apart so that minimising the corpus never drops them).
fn inputs(target: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in [
        corpus_dir().join(target),
        corpus_dir().with_file_name("regressions").join(target),
    ] {
        if let Ok(rd) = std::fs::read_dir(&dir) {
            files.extend(
                rd.filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| p.is_file()),
            );
        }
    }
    files.sort();
    files
}

fn replay(target: &str, f: fn(&[u8])) -> usize {
    let mut files = inputs(target);
    if cfg!(miri) {
        // Miri interprets every instruction: the two smallest inputs of each target.
        files.sort_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0));
        files.truncate(2);
    }
    for path in &files {
        let data = std::fs::read(path).unwrap();
        let r = std::panic::catch_unwind(|| f(&data));
        if r.is_err() {
            panic!("fuzz corpus {target}: {} fails (the message is above); reproduce with `cargo test --test fuzz_corpus` or `cargo +nightly fuzz run {target} {}`", path.display(), path.display());
        }
    }
    files.len()
}

macro_rules! corpus_test {
    ($name:ident) => {
        #[test]
        fn $name() {
            if std::env::var("FUZZ_CORPUS_TARGET").is_ok_and(|t| t != stringify!($name)) {
                return;
            }
            let n = replay(stringify!($name), fuzzing::$name);
            assert!(n > 0, "fuzz/corpus/{} holds no inputs", stringify!($name));
        }
    };
}

corpus_test!(heap_ops);
corpus_test!(quick_ops);
corpus_test!(global_alloc);
corpus_test!(rep);
corpus_test!(script);
corpus_test!(ostep_ops);

/// `FUZZ_INPUT=FILE FUZZ_CORPUS_TARGET=NAME`: one input, for reproducing a crash on stable.
#[test]
fn one_input() {
    let (Ok(file), Ok(target)) = (
        std::env::var("FUZZ_INPUT"),
        std::env::var("FUZZ_CORPUS_TARGET"),
    ) else {
        return;
    };
    let f = fuzzing::TARGETS
        .iter()
        .find(|t| t.0 == target)
        .unwrap_or_else(|| panic!("no fuzz target {target}"))
        .1;
    f(&std::fs::read(&file).unwrap());
}

/// Every corpus folder belongs to a target (a renamed target would silently stop replaying
/// its corpus otherwise).
#[test]
fn every_corpus_has_a_target() {
    let names: Vec<&str> = fuzzing::TARGETS.iter().map(|t| t.0).collect();
    for e in std::fs::read_dir(corpus_dir()).expect("fuzz/corpus exists") {
        let name = e.unwrap().file_name().into_string().unwrap();
        assert!(
            names.contains(&name.as_str()),
            "fuzz/corpus/{name} has no target in tests/fuzzing/mod.rs"
        );
    }
}
