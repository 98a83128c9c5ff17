# heaptale — common entry points (the scripts in scripts/ do the work).
#   make bootstrap   install the toolchain (idempotent, seconds when present)
#   make build       wasm-pack build into pkg/
#   make serve       bootstrap, build, serve http://127.0.0.1:$(PORT)/www/
#   make test        every test: native, no_std, wasm (node + headless Chrome), page
#   make package     the npm package heaptale in dist/npm (scripts/package.sh; npm pack there)
#   make bench       allocator benchmarks (bench/run.mjs): BENCHMARKS.md; never part of test
#   make fuzz        every cargo-fuzz target for FUZZ_SECONDS (60) each: nightly + cargo-fuzz
#                    (installed if missing); the corpora in fuzz/corpus/ are replayed on
#                    stable by `make test` (tests/fuzz_corpus.rs)
#   make miri        the engine's tests under Miri: nightly + the miri and rust-src components
#   make soak        10 million random calls per policy, checked (release build, stable)
#   RELIABILITY.md says what each of these covers, with the figures.
PORT ?= 8080
HOST ?= 127.0.0.1

.PHONY: all bootstrap build serve test package bench fuzz miri soak clean
all: build

bootstrap:
	bash scripts/bootstrap.sh

build: bootstrap
	bash scripts/build-wasm.sh

serve:
	PORT=$(PORT) HOST=$(HOST) bash scripts/serve.sh

test:
	bash scripts/test.sh

package: build
	bash scripts/package.sh

bench:
	node bench/run.mjs

fuzz:
	bash scripts/fuzz.sh

miri:
	bash scripts/miri.sh

soak:
	cargo run --release --example soak

clean:
	rm -rf pkg test-results dist
