#!/usr/bin/env bash
# moto, the AWS emulator (S3, RDS, EC2 over real HTTP), pinned in e2e/moto/requirements.txt.
#
#   moto.sh install                      create the virtualenv (cached per requirements hash)
#   moto.sh start DIR [--owner-pid P]    start on a free loopback port; writes DIR/moto.env
#                                        (AWS_ENDPOINT_URL=...); with --owner-pid, stops by itself
#                                        once process P has exited
#   moto.sh stop DIR                     stop exactly the moto started in DIR
#   moto.sh python                       print the virtualenv's python (boto3 is there too)
#
# Environment: KRO_CACHE_DIR (default ~/.cache/kro-rs), KRO_MOTO_PORT to pin the port.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
moto_dir=$(cd "$here/../moto" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

req_hash=$(sha256sum "$moto_dir/requirements.txt" | cut -c1-12)
venv=${KRO_CACHE_DIR:-$HOME/.cache/kro-rs}/moto-venv-$req_hash

install() {
  if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import moto.server, boto3' 2>/dev/null; then
    log "moto cached in $venv"
    return 0
  fi
  command -v python3 >/dev/null || die "python3 is missing: moto runs in a Python virtualenv"
  rm -rf "$venv.tmp"
  python3 -m venv "$venv.tmp" || die "python3 -m venv failed (Debian: apt-get install -y python3-venv)"
  "$venv.tmp/bin/pip" install --quiet --disable-pip-version-check -r "$moto_dir/requirements.txt" \
    || die "pip install of $(grep -v '^#' "$moto_dir/requirements.txt") failed (see above)"
  rm -rf "$venv" && mv "$venv.tmp" "$venv"
  # A venv's scripts name their interpreter by absolute path: fix them after the move.
  grep -rl "$venv.tmp" "$venv/bin" | xargs -r sed -i "s#$venv.tmp#$venv#g"
  log "moto installed into $venv"
}

start() {
  local d=${1:?usage: moto.sh start DIR [--owner-pid PID]}
  shift
  local owner=""
  if [ "${1:-}" = "--owner-pid" ]; then owner=${2:?--owner-pid needs a PID}; fi
  [ -x "$venv/bin/python" ] || die "moto is not installed: run 'make moto' (or e2e/scripts/moto.sh install)"
  mkdir -p "$d"
  d=$(cd "$d" && pwd)
  [ ! -s "$d/moto.pids" ] || die "$d already holds a running moto: stop it first with '$0 stop $d'"
  local port
  port=$(pick_port "${KRO_MOTO_PORT:-}")
  "$venv/bin/python" "$moto_dir/server.py" "$port" < /dev/null > "$d/moto.log" 2>&1 &
  echo "$! server.py" > "$d/moto.pids"
  wait_http "moto" "http://127.0.0.1:$port/moto-api/" 60 "$d/moto.log" "" $! \
    || { stop_pids "$d/moto.pids"; exit 1; }
  echo "AWS_ENDPOINT_URL=http://127.0.0.1:$port" > "$d/moto.env"
  if [ -n "$owner" ]; then
    watch_owner "$owner" "$here/moto.sh" stop "$d"
  fi
  log "moto ready: export AWS_ENDPOINT_URL=http://127.0.0.1:$port"
}

case "${1:-}" in
  install) install ;;
  start) shift; start "$@" ;;
  stop) stop_pids "${2:?usage: moto.sh stop DIR}/moto.pids" ;;
  python) echo "$venv/bin/python" ;;
  *) die "usage: moto.sh install | start DIR [--owner-pid PID] | stop DIR | python" ;;
esac
