# kro-rs: the two commands that matter are `make demo` and `make test` (see README.md).
SCRIPTS := e2e/scripts

.PHONY: demo demo-stop test controlplane moto helm tools deps fmt lint bench bench-load bench-compare fuzz

## Bring up the local control plane + moto and show how to use them. Builds only what the demo
## runs (helm is for the chart tests: `make test` builds it).
demo: tools controlplane moto
	$(SCRIPTS)/demo.sh

demo-stop:
	$(SCRIPTS)/demo.sh stop

## Every check and every test: fmt, clippy, unit tests, e2e tests on a real apiserver and moto.
test:
	$(SCRIPTS)/test.sh

## Debian packages and rustup components the build and the scripts need.
tools:
	$(SCRIPTS)/deps.sh

## Everything `make test` needs, built ahead of time: tools, control plane, moto and helm.
deps: tools controlplane moto helm

## Build the helm CLI for the chart tests from its Go module (cached per version).
helm:
	$(SCRIPTS)/helm.sh build

## Build etcd, kube-apiserver and kubectl from their Go modules (cached per version).
controlplane:
	$(SCRIPTS)/controlplane.sh build

## Install moto into a cached virtualenv.
moto:
	$(SCRIPTS)/moto.sh install

fmt:
	cargo fmt --all

lint:
	cargo clippy --workspace --all-targets -- -D warnings

## Coverage-guided fuzzing (fuzz/, cargo fuzz + libFuzzer on stable): FUZZ_SECONDS per target,
## every target or FUZZ_TARGETS="cel scan". `make test` runs the same, 20 s per target.
FUZZ_SECONDS ?= 180
fuzz:
	$(SCRIPTS)/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

## Criterion benchmarks of the hot paths: CEL evaluation, graph compile, instance evaluate, object
## diff. BENCH_FLAGS="--warm-up-time 1 --measurement-time 3" for a quicker run.
bench:
	cargo bench -p kro-cel --bench eval -- $(BENCH_FLAGS)
	cargo bench -p kro-graph --bench compile -- $(BENCH_FLAGS)
	cargo bench -p kro-runtime --bench evaluate -- $(BENCH_FLAGS)
	cargo bench -p kro-controller --bench diff -- $(BENCH_FLAGS)

## Load benchmark (bench/RESULTS.md): BENCH_ARGS="--rgds 20 --instances 100 --idle-seconds 10" for a quick run.
bench-load:
	bench/load/run.sh $(BENCH_ARGS)

## kro-rs and kro v0.9.4 (built from its Go module) under the same load, side by side: one table
## and one picture in bench/out/compare/. BENCH_ARGS as for bench-load.
bench-compare:
	bench/compare.sh $(BENCH_ARGS)
