#!/usr/bin/env bash
# make fuzz: every cargo-fuzz target in fuzz/ for a set time each, one after the other.
#
#   bash scripts/fuzz.sh                 every target, FUZZ_SECONDS (default 60) each
#   bash scripts/fuzz.sh heap_ops rep    only those targets
#   bash scripts/fuzz.sh url             only the playground's URL state decoder (www/js/url.js):
#                                        its fast-check properties (www/tests/url.test.mjs) for
#                                        FUZZ_SECONDS in all; needs node and www/node_modules, not
#                                        nightly (make test runs the same properties, 300 runs each)
#   FUZZ_SECONDS=600 make fuzz           longer runs
#   bash scripts/fuzz.sh --install       only install what fuzzing needs
#   FUZZ_SANITIZER=address make fuzz     with AddressSanitizer (about 4 x slower; the default
#                                        is none: the engine's memory is one arena that ASan
#                                        cannot see inside, and debug assertions bound every
#                                        read and write of it to the break)
#
# Needs: a nightly Rust toolchain (`rustup toolchain install nightly`; libFuzzer's
# sanitizer coverage flags are nightly-only) and cargo-fuzz, which this script installs
# from crates.io (`cargo install cargo-fuzz`) when it is missing. A fresh CI machine has
# only stable: fuzzing is never part of `make test`, which instead replays the corpora in
# fuzz/corpus/ on stable (tests/fuzz_corpus.rs).
#
# New inputs that libFuzzer finds go to fuzz/corpus/TARGET/ (kept in the repository; run
# `bash scripts/fuzz.sh --minimize` to shrink the corpora with `cargo fuzz cmin` to a set
# that covers every edge, before committing them). A crash leaves its input in
# fuzz/artifacts/TARGET/ and the script exits non-zero; reproduce it with
# `cargo +nightly fuzz run TARGET fuzz/artifacts/TARGET/crash-...` or, on stable, with
# `FUZZ_INPUT=FILE FUZZ_CORPUS_TARGET=TARGET cargo test --test fuzz_corpus one_input`; once
# fixed, keep it in fuzz/regressions/TARGET/ (replayed by `make test`, never minimised away).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"
SECONDS_EACH=${FUZZ_SECONDS:-60}
SANITIZER=${FUZZ_SANITIZER:-none}
ALL_TARGETS=(heap_ops quick_ops global_alloc rep script ostep_ops url)

die() { printf 'fuzz: ERROR: %s\n' "$*" >&2; exit 1; }

mode=run
targets=()
install_only=0
for a in "$@"; do
  case $a in
    --install) install_only=1 ;;
    --minimize) mode=cmin ;;
    *) targets+=("$a") ;;
  esac
done
[[ ${#targets[@]} -gt 0 ]] || targets=("${ALL_TARGETS[@]}")

if [[ $install_only == 1 || " ${targets[*]} " != " url " ]]; then
  if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    die "fuzzing needs a nightly toolchain (libFuzzer's instrumentation is nightly-only): rustup toolchain install nightly"
  fi
  if cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: cargo-fuzz present ($(cargo fuzz --version))"
  else
    echo "fuzz: installing cargo-fuzz from crates.io (a few minutes, once)"
    cargo install cargo-fuzz || die "cargo install cargo-fuzz failed"
  fi
fi
[[ $install_only == 0 ]] || exit 0

summary=()
status=0
for t in "${targets[@]}"; do
  if [[ $t == url ]]; then
    # JavaScript: fast-check properties instead of libFuzzer (nothing to minimise; the inputs
    # worth keeping are the fixed regression cases in the test file)
    [[ $mode == cmin ]] && continue
    [[ -d www/node_modules/fast-check ]] || (cd www && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || die "npm ci in www/ failed"
    echo "==== fuzz url for ${SECONDS_EACH}s (www/tests/url.test.mjs)"
    log=$(mktemp)
    if URL_FUZZ_SECONDS=$SECONDS_EACH node --test www/tests/url.test.mjs >"$log" 2>&1; then
      summary+=("url: ok, $(grep -oE 'url: [0-9,]+ fragments decoded, [0-9,]+ script values unpacked' "$log" | sed 's/^url: //') in ${SECONDS_EACH}s")
    else
      grep -E '^not ok|Counterexample|seed:' "$log" || tail -40 "$log"
      status=1
      summary+=("url: FAILED (replay with URL_FUZZ_SEED=N node --test www/tests/url.test.mjs, N the seed above)")
    fi
    rm -f "$log"
    continue
  fi
  mkdir -p "fuzz/corpus/$t"
  if [[ $mode == cmin ]]; then
    cargo +nightly fuzz cmin -s "$SANITIZER" "$t" "fuzz/corpus/$t" -- -rss_limit_mb=2048 -set_cover_merge=1 -use_counters=0
    continue
  fi
  log=$(mktemp)
  echo "==== fuzz $t for ${SECONDS_EACH}s"
  # -max_len keeps inputs (and so the corpus) small; -rss_limit_mb leaves the other
  # engineers on this machine room.
  seeds=()
  [[ -d fuzz/regressions/$t ]] && seeds=("fuzz/regressions/$t")
  if cargo +nightly fuzz run -s "$SANITIZER" "$t" "fuzz/corpus/$t" "${seeds[@]}" -- \
      -max_total_time="$SECONDS_EACH" -max_len=4096 -rss_limit_mb=2048 -print_final_stats=1 2>&1 | tee "$log" | grep -E '^(#[0-9]+.*(DONE|pulse)|==|stat::number_of_executed_units|stat::average_exec_per_sec|SUMMARY|Test unit written)'; then
    :
  fi
  if grep -qE 'SUMMARY|Test unit written|panicked' "$log"; then
    status=1
    summary+=("$t: FAILED (see fuzz/artifacts/$t/)")
  else
    execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo '?')
    rate=$(grep -oE 'stat::average_exec_per_sec: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo '?')
    files=$(find "fuzz/corpus/$t" -type f | wc -l)
    summary+=("$t: ok, $execs executions in ${SECONDS_EACH}s ($rate/s), corpus $files files")
  fi
  rm -f "$log"
done

echo
echo "==== fuzz summary"
for s in "${summary[@]}"; do echo "  $s"; done
exit $status
