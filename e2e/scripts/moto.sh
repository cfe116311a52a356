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
# Environment: KRO_CACHE_DIR (default ~/.cache/kro-rs), KRO_MOTO_PORT to pin the port,
# KRO_READY_TIMEOUT seconds moto may take to answer (default 180).
#
# start never leaves moto behind when it fails or is interrupted, and a port that another process
# takes before moto binds it is replaced by a fresh one (unless pinned).
set -Eeuo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
moto_dir=$(cd "$here/../moto" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

req_hash=$(sha256sum "$moto_dir/requirements.txt" | cut -c1-12)
venv=${KRO_CACHE_DIR:-$HOME/.cache/kro-rs}/moto-venv-$req_hash

install() {
  with_lock "$venv.lock" moto install_locked
}

install_locked() {
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

# launch DIR: moto on a fresh port (KRO_MOTO_PORT pins it); status 2 when another process took
# the port before moto bound it (see wait_http). Called where errexit does not apply
# (start's retry loop): each step fails explicitly.
launch() {
  local d=$1 port
  port=$(pick_port "${KRO_MOTO_PORT:-}") || return 1
  "$venv/bin/python" "$moto_dir/server.py" "$port" < /dev/null > "$d/moto.log" 2>&1 &
  record_pid "$d/moto.pids" $! server.py || return 1
  wait_http "moto" "http://127.0.0.1:$port/moto-api/" "${KRO_READY_TIMEOUT:-180}" "$d/moto.log" "" $! || return $?
  echo "AWS_ENDPOINT_URL=http://127.0.0.1:$port" > "$d/moto.env"
}

# What start stops if it ends before moto is ready.
starting_dir="" owner_watch=""
abort_start() {
  [ -n "$starting_dir" ] || return 0
  stop_pids "$starting_dir/moto.pids" || true
  if [ -n "$owner_watch" ]; then kill "$owner_watch" 2>/dev/null || true; fi
}

start() {
  local d=${1:?usage: moto.sh start DIR [--owner-pid PID]}
  shift
  local owner="" attempt rc
  if [ "${1:-}" = "--owner-pid" ]; then owner=${2:?--owner-pid needs a PID}; fi
  [ -x "$venv/bin/python" ] || die "moto is not installed: run 'make moto' (or e2e/scripts/moto.sh install)"
  mkdir -p "$d"
  d=$(cd "$d" && pwd)
  [ ! -s "$d/moto.pids" ] || die "$d already holds a running moto: stop it first with '$0 stop $d'"
  : > "$d/moto.pids"
  rm -f "$d/moto.env"
  # However this script ends before moto is ready (error, die, Ctrl-C, TERM), stop it.
  starting_dir=$d
  trap abort_start EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  # The owner's watch starts first, so that it also covers this script being killed mid-start.
  if [ -n "$owner" ]; then owner_watch=$(watch_owner "$owner" "$here/moto.sh" stop "$d"); fi
  for attempt in 1 2 3; do
    rc=0
    launch "$d" || rc=$?
    [ "$rc" = 0 ] && break
    stop_pids "$d/moto.pids" || true
    # pick_port can only say a port is free now: another process may take it before moto binds it.
    if [ "$rc" != 2 ] || [ -n "${KRO_MOTO_PORT:-}" ] || [ "$attempt" = 3 ]; then exit 1; fi
    log "starting moto again on a fresh port (attempt $((attempt + 1)) of 3)"
  done
  starting_dir=""
  trap - EXIT INT TERM
  log "moto ready: export $(cat "$d/moto.env")"
}

case "${1:-}" in
  install) install ;;
  start) shift; start "$@" ;;
  stop) stop_pids "${2:?usage: moto.sh stop DIR}/moto.pids" ;;
  python) echo "$venv/bin/python" ;;
  *) die "usage: moto.sh install | start DIR [--owner-pid PID] | stop DIR | python" ;;
esac
