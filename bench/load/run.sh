#!/usr/bin/env bash
# `make bench-load`: builds the release operator and the bench, starts a fresh local control plane
# (stopped again when this script exits), and runs the load benchmark against it. Every argument
# goes to the bench (see `cargo run -p kro-bench-load -- --help`), e.g.
#   bench/load/run.sh --rgds 20 --instances 100 --idle-seconds 10
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
scripts=$root/e2e/scripts
state=$root/.e2e/bench-load
cd "$root"

if [ -z "${BENCH_KRO:-}" ]; then
  cargo build --release --quiet -p kro-rs
fi
cargo build --quiet -p kro-bench-load
"$scripts/controlplane.sh" stop "$state" >/dev/null 2>&1 || true
rm -rf "$state"
mkdir -p "$state"
"$scripts/controlplane.sh" start "$state" --owner-pid $$
trap '"$scripts/controlplane.sh" stop "$state"' EXIT
KUBECONFIG=$state/kubeconfig "$root/target/debug/kro-bench-load" "$@"
