#!/usr/bin/env bash
# kro's own controller (github.com/kubernetes-sigs/kro/cmd/controller), built from the Go module
# pinned in bench/kro-go/go.mod and cached per version, like the control plane's binaries, for
# the side-by-side benchmark (bench/compare.sh). kro's two CRDs come from the same module.
#
#   kro-go.sh build      build kro (first time only) into $KRO_CACHE_DIR/kro-<version>/
#                        (the binary `controller` and `crds/` with kro's two CRDs)
#   kro-go.sh bin-dir    print where they live
#
# Environment: KRO_CACHE_DIR (default ~/.cache/kro-rs).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mod_dir=$here/kro-go
# shellcheck source-path=SCRIPTDIR source=../e2e/scripts/lib.sh
. "$here/../e2e/scripts/lib.sh"

kro_module=github.com/kubernetes-sigs/kro
kro_version=$(sed -n "s|^require $kro_module \(v[0-9.]*\)$|\1|p" "$mod_dir/go.mod")
[ -n "$kro_version" ] || die "cannot read the pinned kro version from $mod_dir/go.mod"
bin_dir=${KRO_CACHE_DIR:-$HOME/.cache/kro-rs}/kro-$kro_version

build() {
  with_lock "$bin_dir.lock" kro build_locked
}

build_locked() {
  if [ -x "$bin_dir/controller" ] && [ -f "$bin_dir/crds/kro.run_resourcegraphdefinitions.yaml" ]; then
    log "kro $kro_version cached in $bin_dir"
    return 0
  fi
  command -v go >/dev/null || die "Go is not installed: kro is built from its Go module (install Go ≥ $(sed -n 's/^go //p' "$mod_dir/go.mod"))"
  rm -rf "$bin_dir.tmp" && mkdir -p "$bin_dir.tmp/crds"
  local start=$SECONDS
  log "building kro $kro_version (first time only; a few minutes on 2 cores)"
  (cd "$mod_dir" && go build -trimpath -o "$bin_dir.tmp/controller" "$kro_module/cmd/controller") \
    || die "go build of kro $kro_version failed (see the errors above)"
  local src
  src=$(cd "$mod_dir" && go list -m -f '{{.Dir}}' "$kro_module") \
    || die "cannot find kro $kro_version in the Go module cache"
  cp "$src"/helm/crds/*.yaml "$bin_dir.tmp/crds/" \
    || die "kro $kro_version has no helm/crds/ in its module"
  chmod -R u+w "$bin_dir.tmp"
  rm -rf "$bin_dir" && mv "$bin_dir.tmp" "$bin_dir"
  log "kro built in $((SECONDS - start))s into $bin_dir"
}

case "${1:-}" in
  build) build ;;
  bin-dir) echo "$bin_dir" ;;
  *) die "usage: kro-go.sh build | bin-dir" ;;
esac
