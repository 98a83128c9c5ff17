# heaptale — common entry points (the scripts in scripts/ do the work).
#   make bootstrap   install the toolchain (idempotent, seconds when present)
#   make build       wasm-pack build into pkg/
#   make serve       bootstrap, build, serve http://127.0.0.1:$(PORT)/www/
#   make test        every test: native, no_std, wasm (node + headless Chrome), page
#   make bench       allocator benchmarks (bench/run.mjs): BENCHMARKS.md; never part of test
PORT ?= 8080
HOST ?= 127.0.0.1

.PHONY: all bootstrap build serve test bench clean
all: build

bootstrap:
	bash scripts/bootstrap.sh

build: bootstrap
	bash scripts/build-wasm.sh

serve:
	PORT=$(PORT) HOST=$(HOST) bash scripts/serve.sh

test:
	bash scripts/test.sh

bench:
	node bench/run.mjs

clean:
	rm -rf pkg test-results
