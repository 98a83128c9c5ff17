#!/usr/bin/env bash
# make miri: the engine's unsafe code under Miri (an interpreter that checks every memory
# access for undefined behaviour: out-of-bounds, use-after-free, uninitialised reads,
# aliasing (Stacked Borrows), and, with -Zmiri-strict-provenance, pointers made from
# integers).
#
# Needs a nightly toolchain with the miri and rust-src components:
#   rustup toolchain install nightly && rustup component add --toolchain nightly miri rust-src
# (this script adds the components when they are missing; that needs the Rust
# distribution server). Never part of `make test`: a fresh CI machine has only stable.
#
# What runs: the library's unit tests and the integration tests that drive the engine
# over real memory (Arena, FixedRegion, heaptale::Allocator): block layouts, corruption
# detection, foreign memory, out of memory, quick lists, the model and buddy property
# tests, the console, and two inputs of each fuzz corpus. Property tests run a handful of
# cases under Miri (`cfg!(miri)` in each file); the rest of the suite (CLI, traces, the
# simulated process) has no unsafe code of its own and is left to `make test`.
# MIRI_TESTS="layout oom" bash scripts/miri.sh runs a subset.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"

die() { printf 'miri: ERROR: %s\n' "$*" >&2; exit 1; }
rustup run nightly rustc --version >/dev/null 2>&1 \
  || die "Miri needs a nightly toolchain: rustup toolchain install nightly"
installed=$(rustup +nightly component list --installed 2>/dev/null)
for c in miri rust-src; do
  if ! grep -q "^$c" <<<"$installed"; then
    echo "miri: adding the nightly component $c"
    rustup component add --toolchain nightly "$c" || die "cannot add the $c component: rustup component add --toolchain nightly miri rust-src"
  fi
done
cargo +nightly miri setup >/dev/null

TESTS=${MIRI_TESTS:-"layout corruption foreign oom quick model buddy trace_session fuzz_corpus"}
args=(--lib)
for t in $TESTS; do args+=(--test "$t"); done
# Isolation off: proptest and the corpus replay read files.
export MIRIFLAGS="${MIRIFLAGS:--Zmiri-strict-provenance -Zmiri-disable-isolation}"
echo "miri: MIRIFLAGS=$MIRIFLAGS cargo +nightly miri test --no-default-features --features std ${args[*]}"
t0=$SECONDS
cargo +nightly miri test --no-default-features --features std "${args[@]}"
echo "miri: ok ($((SECONDS - t0)) s)"
