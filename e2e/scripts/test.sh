#!/usr/bin/env bash
# Runs every check and every test: formatting, lints, unit tests and e2e tests against one shared
# real control plane and one moto, which this script starts and always stops. Prints how long
# each stage took. This is what `make test` and CI run.
set -Eeuo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

# A fresh clone gains nothing from incremental compilation; it only costs disk and time.
if [ "${CI:-}" = true ]; then export CARGO_INCREMENTAL=0; fi

timings=()
stage() {
  local name=$1 start=$SECONDS
  shift
  log "== $name"
  "$@"
  timings+=("$(printf '%-28s %5ds' "$name" $((SECONDS - start)))")
}
report() {
  log "== stage timings"
  for t in "${timings[@]}"; do log "   $t"; done
}

state=$(mktemp -d "${TMPDIR:-/tmp}/kro-test.XXXXXX")
cleanup() {
  "$here/controlplane.sh" stop "$state" || true
  "$here/moto.sh" stop "$state" || true
  rm -rf "$state"
}
trap 'cleanup; report' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# bounded SECONDS CMD...: CMD, stopped after SECONDS. timeout(1) runs it in a process group of
# its own and, at the deadline, signals that whole group (KILL 30 s after TERM), so cargo's test
# binaries and what they run stop with it; `timeout --foreground` would signal cargo alone and
# leave a hung test binary running. Ctrl-C reaches this script's group, not CMD's: the traps
# pass INT and TERM on to timeout, which passes them to the group, and wait for it to end.
bounded() {
  local secs=$1 pid rc=0
  shift
  timeout --kill-after=30 "$secs" "$@" &
  pid=$!
  trap 'kill -TERM "$pid" 2>/dev/null; wait "$pid" || true; exit 130' INT
  trap 'kill -TERM "$pid" 2>/dev/null; wait "$pid" || true; exit 143' TERM
  wait "$pid" || rc=$?
  trap 'exit 130' INT
  trap 'exit 143' TERM
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then log "$* did not finish within ${secs}s: stopped"; fi
  return "$rc"
}

start_services() {
  "$here/controlplane.sh" start "$state" --owner-pid $$
  "$here/moto.sh" start "$state" --owner-pid $$
}

stage "tools (Debian, rustup)" "$here/deps.sh"
stage "control plane build" "$here/controlplane.sh" build
stage "moto install" "$here/moto.sh" install
stage "helm build" "$here/helm.sh" build
stage "cargo fmt --check" cargo fmt --all --check
stage "cargo clippy" cargo clippy --workspace --all-targets --locked -- -D warnings
stage "cargo build (tests)" cargo test --workspace --locked --no-run
stage "start control plane + moto" start_services
export KUBECONFIG=$state/kubeconfig
export "$(cat "$state/moto.env")"
# A hung test must fail the run long before CI's 90 minutes are up.
stage "cargo test (unit + e2e)" bounded "${KRO_TEST_TIMEOUT:-2400}" cargo test --workspace --locked
# Coverage-guided fuzzing, CI-sized: every target for KRO_TEST_FUZZ_SECONDS (fuzz.sh; `make fuzz`
# runs longer).
stage "fuzz (CI-sized)" bounded 2400 "$here/fuzz.sh" "${KRO_TEST_FUZZ_SECONDS:-20}"
