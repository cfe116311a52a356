#!/usr/bin/env bash
# Installs what the build and the tests need from Debian and rustup, and checks the toolchains
# that come with the machine (Go for the control plane, Python for moto, Rust).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

missing=()
for tool in openssl curl; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing Debian packages: ${missing[*]}"
    if ! { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; }; then
      die "apt-get install ${missing[*]} failed"
    fi
  else
    die "missing tools: ${missing[*]} (install them, e.g. sudo apt-get install -y ${missing[*]})"
  fi
fi
command -v go >/dev/null || die "Go is missing: the control plane is built from its Go modules (Go ≥ 1.26)"
command -v python3 >/dev/null || die "python3 is missing: moto runs in a Python virtualenv"
command -v cargo >/dev/null || die "cargo is missing: install Rust 1.95 with rustup"
if command -v rustup >/dev/null; then
  installed=$(rustup component list --installed 2>/dev/null || true)
  for c in rustfmt clippy; do
    grep -q "^$c" <<<"$installed" || rustup component add "$c" >/dev/null || die "rustup component add $c failed"
  done
fi
log "tools present: $(go version | cut -d' ' -f3), $(python3 --version), $(cargo --version | cut -d' ' -f1-2)"
