#!/usr/bin/env bash
# Assembles the npm package `heaptale` into OUT (default dist/npm), ready for
# `npm pack` / `npm publish` from there:
#   pkg/        wasm-pack's output (the engine: heaptale.js + heaptale_bg.wasm)
#   types/      typed declarations of the wasm API (the "." export's types)
#   node/       the headless node API ("./node")
#   www/        the <heap-tale> element ("./element"), the iframe page
#               (www/embed.html) and the playground it links to, with one small
#               built-in trace (the big ones stay in the repository)
#   README.md   docs/EMBEDDING.md
#   LICENSE-MIT, LICENSE-APACHE
# The layout keeps the repository's relative paths (www/element/ finds the
# engine at ../../pkg/, node/ at ../pkg/), so the files are the ones the tests
# run. Needs pkg/ (make build). The package has no runtime dependencies.
#
#   bash scripts/package.sh [OUT]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
OUT=${1:-dist/npm}
case "$OUT" in /*) ;; *) OUT="$ROOT/$OUT" ;; esac

die() { printf 'package: %s\n' "$*" >&2; exit 1; }
[[ -f pkg/heaptale.js && -f pkg/heaptale_bg.wasm ]] || die "pkg/heaptale.js or pkg/heaptale_bg.wasm is missing: build the wasm first (make build)"

VERSION=$(awk -F'"' '/^version = /{print $2; exit}' Cargo.toml)
[[ -n "$VERSION" ]] || die "cannot read the version from Cargo.toml"

rm -rf "$OUT"
mkdir -p "$OUT/pkg" "$OUT/types" "$OUT/node" "$OUT/www/element" "$OUT/www/js" "$OUT/www/traces"

cp pkg/heaptale.js pkg/heaptale_bg.wasm pkg/heaptale.d.ts pkg/heaptale_bg.wasm.d.ts "$OUT/pkg/"
[[ -d pkg/snippets ]] && cp -R pkg/snippets "$OUT/pkg/"
cp types/heaptale.d.ts "$OUT/types/"
cp node/index.js node/index.d.ts "$OUT/node/"
cp www/element/*.js www/element/*.d.ts "$OUT/www/element/"
cp www/js/*.js "$OUT/www/js/"
cp www/index.html www/main.js www/*.css www/embed.html www/embed.js "$OUT/www/"
cp -L www/traces/awk-wordcount.rep www/traces/README.md "$OUT/www/traces/"
cp docs/EMBEDDING.md "$OUT/README.md"
cp LICENSE-MIT LICENSE-APACHE "$OUT/"

VERSION="$VERSION" OUT="$OUT" node --input-type=module <<'EOF'
import fs from 'node:fs';
const pkg = {
  name: 'heaptale',
  version: process.env.VERSION,
  description: 'A memory allocator in Rust compiled to WebAssembly, whose heap grows with memory.grow: a <heap-tale> element and an iframe page that draw it at work, and a headless node API to replay scripts and malloc-lab traces',
  keywords: ['malloc', 'allocator', 'heap', 'wasm', 'webassembly', 'memory', 'education', 'custom-element', 'visualization'],
  license: 'MIT OR Apache-2.0',
  repository: { type: 'git', url: 'https://example.invalid/heaptale' },
  type: 'module',
  main: './pkg/heaptale.js',
  module: './pkg/heaptale.js',
  types: './types/heaptale.d.ts',
  exports: {
    '.': { types: './types/heaptale.d.ts', default: './pkg/heaptale.js' },
    './node': { types: './node/index.d.ts', default: './node/index.js' },
    './element': { types: './www/element/heap-tale.d.ts', default: './www/element/heap-tale.js' },
    './embed.html': './www/embed.html',
    './heaptale_bg.wasm': './pkg/heaptale_bg.wasm',
    './package.json': './package.json',
  },
  files: ['pkg/', 'types/', 'node/', 'www/', 'README.md', 'LICENSE-MIT', 'LICENSE-APACHE'],
  sideEffects: ['./www/element/heap-tale.js', './www/embed.js', './www/main.js', './www/js/boot.js'],
  engines: { node: '>=18' },
};
fs.writeFileSync(`${process.env.OUT}/package.json`, JSON.stringify(pkg, null, 2) + '\n');
EOF
echo "package: heaptale $VERSION assembled in $OUT ($(du -sk "$OUT" | cut -f1) KiB); npm pack there makes the tarball"
