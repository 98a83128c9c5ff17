#!/usr/bin/env bash
# Build the playground's wasm module into pkg/ at the repository root
# (served at /pkg/heaptale.js next to /www/ by scripts/serve.mjs).
# The module is the workspace member wasm/ (package heaptale-wasm: the lean
# engine plus the wasm-bindgen layer); --out-name keeps the files named
# heaptale.js / heaptale_bg.wasm. wasm-opt is off in wasm/Cargo.toml
# (Debian's binaryen is broken).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"
command -v wasm-pack >/dev/null || { echo "build-wasm: wasm-pack missing: run scripts/bootstrap.sh" >&2; exit 1; }
echo "build-wasm: wasm-pack build wasm --target web --release --out-dir ../pkg --out-name heaptale"
wasm-pack --log-level warn build wasm --target web --release --out-dir ../pkg --out-name heaptale --no-pack
[[ -f pkg/heaptale.js && -f pkg/heaptale_bg.wasm ]] || { echo "build-wasm: pkg/heaptale.js or pkg/heaptale_bg.wasm missing after the build" >&2; exit 1; }
echo "build-wasm: pkg/heaptale_bg.wasm $(stat -c %s pkg/heaptale_bg.wasm) bytes"
