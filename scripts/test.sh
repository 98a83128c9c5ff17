#!/usr/bin/env bash
# Every test of the project, in order; exits non-zero if any step fails.
#  1. cargo test --workspace            native, default features (unit + integration;
#                                       also wasm/'s native layout test)
#  2. cargo test --no-default-features  the lean no_std engine
#  3. cargo test --features small       the allocator's size-minded build (its tests)
#  4. wasm-pack test --node wasm        wasm/tests/ under node
#  5. wasm-pack test --headless --chrome wasm  wasm/tests/ in headless Chromium
#  (4 and 5 also run wasm/global/: heaptale::Allocator as a module's #[global_allocator])
#  6. scripts/build-wasm.sh             pkg/ for the page
#  7. node --test www/tests/            the page end to end (Playwright + Chromium: the
#                                       playground, <heap-tale>, the iframe page, the tour,
#                                       hostile input, the URL decoder, the npm package and
#                                       the tutorial example installed from it)
# Every step runs even when an earlier one failed (except bootstrap), and a
# summary closes the output.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"

bash scripts/bootstrap.sh || { echo "test: bootstrap failed" >&2; exit 1; }

passed=(); failed=()
step() { # step NAME CMD...
  local name=$1; shift
  printf '\n==== %s: %s\n' "$name" "$*"
  local t0=$SECONDS
  if "$@"; then
    passed+=("$name"); printf '==== %s: ok (%d s)\n' "$name" $((SECONDS - t0))
  else
    failed+=("$name"); printf '==== %s: FAILED (%d s)\n' "$name" $((SECONDS - t0))
  fi
}

wasm_tests() { # wasm_tests RUNNER-FLAGS...
  # The wasm tests are those of the workspace member wasm/ (the wasm-bindgen layer):
  # wasm/tests/node.rs runs under --node, wasm/tests/browser.rs under --chrome
  # (each runner skips the other file); both run the same suite.
  if ! compgen -G 'wasm/tests/*.rs' >/dev/null; then
    echo "test: wasm/tests/ holds no tests: there are no wasm tests to run" >&2
    return 1
  fi
  wasm-pack --log-level warn test "$@" wasm && wasm-pack --log-level warn test "$@" wasm/global
}

step "cargo test"                   cargo test --workspace --no-fail-fast
step "cargo test no_std"            cargo test --no-default-features --no-fail-fast
step "cargo test small"             cargo test --features small --no-fail-fast --test global --test quick --test foreign --test model --test fuzz_corpus
step "wasm test node"               wasm_tests --node
step "wasm test chrome"             wasm_tests --headless --chrome --chromedriver /usr/bin/chromedriver
step "wasm build"                   bash scripts/build-wasm.sh
step "page test"                    node --test www/tests/

echo
echo "==== summary"
for s in "${passed[@]}"; do echo "  ok      $s"; done
for s in "${failed[@]}"; do echo "  FAILED  $s"; done
echo "steps: ${#passed[@]} passed, ${#failed[@]} failed"
[[ ${#failed[@]} -eq 0 ]]
