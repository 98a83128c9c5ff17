#!/usr/bin/env bash
# Bootstrap, build the wasm module, and serve the playground on
# http://127.0.0.1:${PORT:-8080}/www/  (make serve PORT=9000).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PORT=${PORT:-8080}
HOST=${HOST:-127.0.0.1}
bash scripts/bootstrap.sh
bash scripts/build-wasm.sh
exec node scripts/serve.mjs --port "$PORT" --host "$HOST"
