#!/usr/bin/env bash
# The helm CLI for the chart tests (e2e/tests/e2e/chart.rs), built from its Go module
# (e2e/helm/go.mod) and cached per version, like the control plane's binaries.
#
#   helm.sh build     build helm (first time only), into $KRO_CACHE_DIR/helm-<version>/helm
#   helm.sh bin-dir   print where the cached binary lives
#
# Environment: KRO_CACHE_DIR (default ~/.cache/kro-rs).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mod_dir=$(cd "$here/../helm" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

helm_version=$(sed -n 's/^require helm.sh\/helm\/v[0-9]* \(v[0-9.]*\)$/\1/p' "$mod_dir/go.mod")
helm_module=$(sed -n 's/^require \(helm.sh\/helm\/v[0-9]*\) v[0-9.]*$/\1/p' "$mod_dir/go.mod")
{ [ -n "$helm_version" ] && [ -n "$helm_module" ]; } || die "cannot read the pinned helm version from $mod_dir/go.mod"
bin_dir=${KRO_CACHE_DIR:-$HOME/.cache/kro-rs}/helm-$helm_version

build() {
  with_lock "$bin_dir.lock" helm build_locked
}

build_locked() {
  if [ -x "$bin_dir/helm" ]; then
    log "helm cached in $bin_dir"
    return 0
  fi
  command -v go >/dev/null || die "Go is not installed: helm is built from its Go module (install Go ≥ $(sed -n 's/^go //p' "$mod_dir/go.mod"))"
  mkdir -p "$bin_dir.tmp"
  local start=$SECONDS
  log "building helm $helm_version (first time only; a few minutes on 2 cores)"
  (cd "$mod_dir" && go build -trimpath -ldflags "-X $helm_module/internal/version.version=$helm_version" -o "$bin_dir.tmp/helm" "$helm_module/cmd/helm") \
    || die "go build of helm $helm_version failed (see the errors above)"
  rm -rf "$bin_dir" && mv "$bin_dir.tmp" "$bin_dir"
  log "helm built in $((SECONDS - start))s into $bin_dir"
}

case "${1:-}" in
  build) build ;;
  bin-dir) echo "$bin_dir" ;;
  *) die "usage: helm.sh build | bin-dir" ;;
esac
