#!/usr/bin/env bash
# Coverage-guided fuzzing of kro-rs's parsers and evaluators (fuzz/, cargo fuzz + libFuzzer) on
# the stable toolchain: `make fuzz` runs it long, `make test` runs it CI-sized.
#
#   fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   (default: $FUZZ_SECONDS or 180; every target)
#
# Installs cargo-fuzz (cached in ~/.cargo/bin), builds every target once without a sanitizer
# (`-s none`: the sanitizers need nightly; coverage comes from rustc's stable sancov options),
# then runs each target for SECONDS with the committed seeds (fuzz/seeds/TARGET) plus the corpus
# it grew before (fuzz/corpus/TARGET, not committed). Each input is bounded to 100 ms and
# 64 MiB (fuzz/src/lib.rs says how). A crash fails the run and names the input to reproduce it
# with: cd fuzz && cargo fuzz run -s none --dev --target-dir ~/.cache/kro-rs/fuzz-target TARGET
# artifacts/TARGET/crash-...
set -Eeuo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

cargo_fuzz_version=0.13.2
seconds=${1:-${FUZZ_SECONDS:-180}}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(schema markers scan cel compile evaluate)
[[ $seconds =~ ^[0-9]+$ ]] && [ "$seconds" -gt 0 ] || die "seconds per target must be a whole number > 0, not '$seconds'"

if ! cargo fuzz --version 2>/dev/null | grep -q " $cargo_fuzz_version\$"; then
  log "installing cargo-fuzz $cargo_fuzz_version"
  cargo install --locked --quiet cargo-fuzz --version "$cargo_fuzz_version" || die "cargo install cargo-fuzz failed"
fi

# The instrumented build lives outside the clone, like the other cached tools: a fresh clone (CI)
# then rebuilds only kro's own crates, not the registry crates (cel's parser, k8s-openapi), which
# take most of the ~10-20 minutes a cold build needs on two cores.
target_dir=${KRO_FUZZ_TARGET_DIR:-$HOME/.cache/kro-rs/fuzz-target}
mkdir -p "$target_dir"
cd "$root/fuzz"
start=$SECONDS
log "building the fuzz targets (coverage-instrumented, dev profile at opt-level 1)"
# cargo fuzz has no --locked: check that fuzz/Cargo.lock is up to date first.
cargo metadata --locked --format-version 1 >/dev/null || die "fuzz/Cargo.lock is out of date: run cargo update -w in fuzz/ and commit it"
cargo fuzz build -s none --dev --target-dir "$target_dir"
log "fuzz build: $((SECONDS - start))s"

summary=()
failed=()
for t in "${targets[@]}"; do
  [ -d "seeds/$t" ] || die "no fuzz target '$t' (fuzz/seeds/$t is missing)"
  mkdir -p "corpus/$t"
  out="corpus/$t.log"
  log "fuzzing $t for ${seconds}s"
  rc=0
  # -timeout: libFuzzer counts whole seconds; the 100 ms bound is the targets' own deadline.
  # -rss_limit_mb: the whole process, a backstop to the 64 MiB per-input allocator cap.
  cargo fuzz run -s none --dev --target-dir "$target_dir" "$t" "corpus/$t" "seeds/$t" -- \
    -max_total_time="$seconds" -timeout=1 -rss_limit_mb=512 -print_final_stats=1 \
    -close_fd_mask=1 >"$out" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$out" | tail -1 || true)
  corpus=$(find "corpus/$t" -type f | wc -l)
  summary+=("$(printf '%-9s %10s execs  %-10s corpus %5s  rc %s' "$t" "${execs:-?}" "${cov:-cov: ?}" "$corpus" "$rc")")
  if [ "$rc" != 0 ]; then
    failed+=("$t")
    tail -n 60 "$out" >&2
    log "$t failed (rc $rc): artifacts in fuzz/artifacts/$t/, log in fuzz/$out"
  fi
done
log "== fuzz results (${seconds}s per target)"
for s in "${summary[@]}"; do log "   $s"; done
[ ${#failed[@]} -eq 0 ] || die "fuzz targets failed: ${failed[*]}"
