#!/usr/bin/env bash
# `make bench-compare`: the load benchmark against kro-rs and against kro's own controller, on
# the same machine in one invocation, each run on a fresh local control plane:
#   kro-rs        kro-rs (release build), its defaults
#   kro-defaults  kro v0.9.4 (built from its Go module, bench/kro-go.sh), with what kro's chart
#                 passes by default: what a kro user gets
#   kro-equal     kro v0.9.4 with kro-rs's concurrency and client limits
# then one table with the ratios (compare.md) and one picture (compare.svg) in $BENCH_COMPARE_OUT
# (default bench/out/compare). Every argument goes to each bench run (see
# `target/debug/kro-bench-load --help`), e.g. bench/compare.sh --rgds 20 --instances 100.
# BENCH_KRO=path skips the release build of kro-rs and uses that binary.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
scripts=$root/e2e/scripts
# shellcheck source-path=SCRIPTDIR source=../e2e/scripts/lib.sh
. "$scripts/lib.sh"
out=${BENCH_COMPARE_OUT:-$root/bench/out/compare}
state=$root/.e2e/bench-compare
cd "$root"

"$scripts/controlplane.sh" build
"$here/kro-go.sh" build
kro_dir=$("$here/kro-go.sh" bin-dir)
kubectl=$("$scripts/controlplane.sh" bin-dir)/kubectl
if [ -z "${BENCH_KRO:-}" ]; then
  log "building kro-rs (release)"
  cargo build --release --quiet -p kro-rs
fi
kro_rs=${BENCH_KRO:-$root/target/release/kro}
cargo build --quiet -p kro-bench-load
bench=$root/target/debug/kro-bench-load

stop_cp() { "$scripts/controlplane.sh" stop "$state" >/dev/null 2>&1 || true; }
trap stop_cp EXIT

# What kro's chart (v0.9.4 values.yaml) passes for logging: info, console, not development
# mode. The binary's own default is development mode (debug level), which no chart user runs.
# The chart's leader election is left out for both operators: out of a cluster it needs a
# namespace, and kro-rs runs without it here too.
chart=(
  --operator-arg=--zap-log-level=info
  --operator-arg=--zap-encoder=console
  --operator-arg=--zap-devel=false
)
# kro-rs's defaults that differ from kro's: 4 RGD and 16 instance workers (kro: 1 and 1). The
# client limits are kro's defaults (100 requests/s, burst 150), which kro v0.9.4 never applies
# (docs/compatibility.md) and kro-rs applies only with --client-side-throttle; given anyway, so
# the run says what it compares.
equal=(
  "${chart[@]}"
  --operator-arg=--resource-graph-definition-concurrent-reconciles=4
  --operator-arg=--dynamic-controller-concurrent-reconciles=16
  --operator-arg=--client-qps=100
  --operator-arg=--client-burst=150
)

# run_one LABEL FLAVOR BINARY [BENCH ARGS...]
run_one() {
  local label=$1 flavor=$2 binary=$3
  shift 3
  stop_cp
  rm -rf "$state" "${out:?}/$label"
  mkdir -p "$state" "$out/$label"
  "$scripts/controlplane.sh" start "$state" --owner-pid $$
  if [ "$flavor" = kro ]; then
    # kro's controller does not install its CRDs (its chart does).
    KUBECONFIG=$state/kubeconfig "$kubectl" apply --server-side -f "$kro_dir/crds/" >/dev/null
    KUBECONFIG=$state/kubeconfig "$kubectl" wait --for condition=established --timeout=120s \
      -f "$kro_dir/crds/" >/dev/null
  fi
  log "bench run $label ($binary)"
  KUBECONFIG=$state/kubeconfig "$bench" --operator "$flavor" --kro "$binary" --label "$label" \
    --out "$out/$label" "$@"
  stop_cp
}

# BENCH_COMPARE_ONLY="kro-defaults kro-equal" runs only those; the table is made of every
# run whose result.json is in $out.
only=" ${BENCH_COMPARE_ONLY:-kro-rs kro-defaults kro-equal} "
wanted() { [[ $only == *" $1 "* ]]; }
if wanted kro-rs; then run_one kro-rs kro-rs "$kro_rs" "$@"; fi
if wanted kro-defaults; then run_one kro-defaults kro "$kro_dir/controller" "${chart[@]}" "$@"; fi
if wanted kro-equal; then run_one kro-equal kro "$kro_dir/controller" "${equal[@]}" "$@"; fi

runs=()
for label in kro-rs kro-defaults kro-equal; do
  if [ -f "$out/$label/result.json" ]; then runs+=("$label=$out/$label/result.json"); fi
done
if [ "${#runs[@]}" -ge 2 ]; then
  "$bench" compare --out "$out" "${runs[@]}"
else
  log "one run in $out: no table to make"
fi
