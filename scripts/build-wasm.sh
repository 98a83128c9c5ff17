#!/usr/bin/env bash
# Build the playground's wasm module into pkg/ at the repository root
# (served at /pkg/heaptale.js next to /www/ by scripts/serve.mjs).
# Only the `js` feature: the lean engine plus the wasm-bindgen layer
# (no std-only CLI). wasm-opt is off in Cargo.toml (Debian's binaryen is broken).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"
command -v wasm-pack >/dev/null || { echo "build-wasm: wasm-pack missing: run scripts/bootstrap.sh" >&2; exit 1; }
echo "build-wasm: wasm-pack build --target web --release --out-dir pkg --no-default-features --features js"
wasm-pack --log-level warn build --target web --release --out-dir pkg --no-pack \
  --no-default-features --features js
[[ -f pkg/heaptale.js && -f pkg/heaptale_bg.wasm ]] || { echo "build-wasm: pkg/heaptale.js or pkg/heaptale_bg.wasm missing after the build" >&2; exit 1; }
echo "build-wasm: pkg/heaptale_bg.wasm $(stat -c %s pkg/heaptale_bg.wasm) bytes"
