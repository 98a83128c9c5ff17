#!/usr/bin/env bash
# Idempotent installer for everything heaptale's build and tests need.
# Each step checks first and skips when the tool is already there, so a second
# run takes a few seconds. The two slow cargo installs (wasm-bindgen-cli, then
# wasm-pack, one after the other: 2 cores) start first in the background while
# the apt and npm steps run in the foreground.
#
# Facts behind each step: ../shared/TOOLCHAIN.md. Never installs Debian's
# binaryen (it emits broken modules); wasm-opt is disabled in Cargo.toml.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"
WASM_PACK_VERSION=0.15.1
TARGET=wasm32-unknown-unknown

log() { printf 'bootstrap: %s\n' "$*"; }
die() { printf 'bootstrap: ERROR: %s\n' "$*" >&2; exit 1; }

# One bootstrap at a time on this machine (make serve and make test may overlap).
LOCK=${TMPDIR:-/tmp}/heaptale-bootstrap.lock
exec 9>"$LOCK"
if ! flock -n 9; then
  log "another bootstrap is running; waiting for it"
  flock 9
fi

start=$(date +%s)

# --- 1. rust wasm target -------------------------------------------------------
if rustup target list --installed | grep -qx "$TARGET"; then
  log "rust target $TARGET: present"
else
  log "rust target $TARGET: installing"
  rustup target add "$TARGET"
fi

# --- 2. the wasm-bindgen version this crate links --------------------------------
lock_version() {
  # version of package "wasm-bindgen" in Cargo.lock (empty if not found)
  awk '/^\[\[package\]\]/{n=""} /^name = "wasm-bindgen"$/{n=1; next} n && /^version = /{gsub(/"/,"",$3); print $3; exit}' Cargo.lock 2>/dev/null || true
}
if [[ ! -f Cargo.lock ]]; then
  if cargo generate-lockfile >/dev/null 2>&1; then
    log "Cargo.lock: generated"
  fi
fi
BINDGEN_VERSION=$(lock_version)
if [[ -n "$BINDGEN_VERSION" ]]; then
  log "wasm-bindgen version from Cargo.lock: $BINDGEN_VERSION"
else
  # No lock file could be made (e.g. no crate sources yet): use the exact '=' pin
  # in any manifest (`wasm-bindgen = "=X"` or `wasm-bindgen = { version = "=X", ... }`).
  BINDGEN_VERSION=$(cat Cargo.toml */Cargo.toml 2>/dev/null \
    | sed -n 's/^wasm-bindgen *= *\({[^}]*version *= *\)\{0,1\}"=\([0-9][0-9.]*\)".*/\2/p' | head -n1)
  [[ -n "$BINDGEN_VERSION" ]] || die "cannot tell the wasm-bindgen version (no Cargo.lock, no '=' pin in a Cargo.toml)"
  log "wasm-bindgen version from the '=' pin in Cargo.toml: $BINDGEN_VERSION"
fi

have_version() { # have_version CMD EXPECTED  -> CMD --version prints "<name> EXPECTED"
  command -v "$1" >/dev/null 2>&1 && [[ "$("$1" --version 2>/dev/null | awk '{print $2; exit}')" == "$2" ]]
}

# --- 3+4. slow cargo installs, in the background, one after the other ------------
CARGO_LOG=$(mktemp "${TMPDIR:-/tmp}/heaptale-bootstrap-cargo.XXXXXX")
cargo_installs() {
  if have_version wasm-bindgen "$BINDGEN_VERSION" && command -v wasm-bindgen-test-runner >/dev/null; then
    echo "wasm-bindgen-cli $BINDGEN_VERSION: present"
  else
    echo "wasm-bindgen-cli $BINDGEN_VERSION: installing (cargo install, 5-8 min)"
    if ! cargo install wasm-bindgen-cli --version "$BINDGEN_VERSION" --locked >>"$CARGO_LOG.out" 2>&1; then
      echo "wasm-bindgen-cli: --locked failed, retrying unlocked"
      cargo install wasm-bindgen-cli --version "$BINDGEN_VERSION" >>"$CARGO_LOG.out" 2>&1 || return 1
    fi
    have_version wasm-bindgen "$BINDGEN_VERSION" || { echo "wasm-bindgen --version does not report $BINDGEN_VERSION"; return 1; }
    echo "wasm-bindgen-cli $BINDGEN_VERSION: installed"
  fi
  if have_version wasm-pack "$WASM_PACK_VERSION"; then
    echo "wasm-pack $WASM_PACK_VERSION: present"
  else
    echo "wasm-pack $WASM_PACK_VERSION: installing (cargo install --locked, 4-5 min)"
    cargo install wasm-pack --version "$WASM_PACK_VERSION" --locked >>"$CARGO_LOG.out" 2>&1 || return 1
    echo "wasm-pack $WASM_PACK_VERSION: installed"
  fi
}
if have_version wasm-bindgen "$BINDGEN_VERSION" && command -v wasm-bindgen-test-runner >/dev/null \
   && have_version wasm-pack "$WASM_PACK_VERSION"; then
  log "wasm-bindgen-cli $BINDGEN_VERSION: present"
  log "wasm-pack $WASM_PACK_VERSION: present"
  cargo_pid=""
else
  log "cargo installs (wasm-bindgen-cli, then wasm-pack): started in the background, log $CARGO_LOG.out"
  cargo_installs >"$CARGO_LOG" 2>&1 &
  cargo_pid=$!
fi

# --- 5. chromium + chromedriver from Debian ---------------------------------------
if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
  log "chromium + chromium-driver: present"
else
  log "chromium + chromium-driver: apt-get update + install"
  export DEBIAN_FRONTEND=noninteractive
  APT_LOG=$(mktemp "${TMPDIR:-/tmp}/heaptale-bootstrap-apt.XXXXXX")
  if ! { apt-get update -q && apt-get install -y -q --no-install-recommends chromium chromium-driver; } >"$APT_LOG" 2>&1; then
    tail -n 30 "$APT_LOG" >&2
    die "apt-get install chromium chromium-driver failed (log: $APT_LOG)"
  fi
  rm -f "$APT_LOG"
  [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]] || die "chromium install did not produce /usr/bin/chromium and /usr/bin/chromedriver"
  log "chromium + chromium-driver: installed"
fi

# --- 6. npm packages for www/ (playwright-core only; never downloads browsers) ------
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
if [[ -f www/package.json ]]; then
  stamp=www/node_modules/.package-lock.json   # npm's hidden lock, rewritten by each install
  if [[ -f "$stamp" && "$stamp" -nt www/package.json && ( ! -f www/package-lock.json || "$stamp" -nt www/package-lock.json ) ]]; then
    log "npm packages in www/: up to date"
  elif [[ -f www/package-lock.json ]]; then
    log "npm packages in www/: npm ci"
    (cd www && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  else
    log "npm packages in www/: npm install"
    (cd www && npm install --no-audit --no-fund --loglevel=error >/dev/null)
  fi
else
  log "npm packages: no www/package.json, skipped"
fi

# --- wait for the background installs --------------------------------------------
if [[ -n "$cargo_pid" ]]; then
  log "waiting for the cargo installs to finish"
  if wait "$cargo_pid"; then
    sed 's/^/bootstrap: /' "$CARGO_LOG"
  else
    sed 's/^/bootstrap: /' "$CARGO_LOG"
    tail -n 40 "$CARGO_LOG.out" >&2 || true
    die "cargo install failed (full log: $CARGO_LOG.out)"
  fi
  rm -f "$CARGO_LOG" "$CARGO_LOG.out"
else
  rm -f "$CARGO_LOG"
fi

log "done in $(( $(date +%s) - start )) s"
