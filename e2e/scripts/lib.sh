# Shared helpers for the e2e scripts: messages, free ports, readiness waits, process cleanup.
# Sourced, not run.

log() { printf '[kro-e2e] %s\n' "$*" >&2; }
die() { printf '[kro-e2e] error: %s\n' "$*" >&2; exit 1; }

# pick_port [FIXED]: print FIXED if it is free (fail clearly if it is in use), else a free port.
pick_port() {
  python3 - "${1:-}" <<'PY' || exit 1
import socket, sys
want = int(sys.argv[1]) if sys.argv[1] else 0
s = socket.socket()
try:
    s.bind(("127.0.0.1", want))
except OSError as e:
    sys.stderr.write(f"[kro-e2e] error: port {want} on 127.0.0.1 is in use ({e.strerror}): free it or choose another\n")
    sys.exit(1)
print(s.getsockname()[1])
PY
}

# wait_http NAME URL TIMEOUT LOG CURL_ARGS [PID]: wait until URL answers 200, else print LOG's
# tail. With PID, give up as soon as that process has exited.
wait_http() {
  local name=$1 url=$2 timeout=$3 logf=$4 args=$5 pid=${6:-} i
  for ((i = 0; i < timeout * 4; i++)); do
    if [ -n "$pid" ] && ! running "$pid"; then
      log "$name exited before it became ready; last lines of $logf:"
      tail -n 20 "$logf" >&2 || true
      return 1
    fi
    # shellcheck disable=SC2086
    if curl -fsS -o /dev/null --max-time 2 $args "$url" 2>/dev/null; then return 0; fi
    sleep 0.25
  done
  log "$name did not become ready at $url within ${timeout}s; last lines of $logf:"
  tail -n 20 "$logf" >&2 || true
  return 1
}

# running PID: true while PID runs (a zombie waiting to be reaped has already stopped).
running() {
  local st
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# wait_stopped FILE SECONDS: wait until no process recorded in FILE runs; false on time-out.
wait_stopped() {
  local f=$1 i pid name left
  for ((i = 0; i < $2 * 4; i++)); do
    left=0
    while read -r pid name; do
      [ -n "$pid" ] && running "$pid" && left=1
    done < "$f"
    [ $left = 0 ] && return 0
    sleep 0.25
  done
  return 1
}

# stop_pids FILE: stop exactly the processes recorded in FILE ("PID NAME" lines): TERM, then KILL
# after 10 s, and return once they are gone.
stop_pids() {
  local f=$1 pid name
  [ -f "$f" ] || return 0
  while read -r pid name; do
    [ -n "$pid" ] || continue
    # Only signal a PID that still runs the program we started (PIDs get reused).
    if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- "$name"; then
      kill -TERM "$pid" 2>/dev/null || true
    fi
  done < "$f"
  if ! wait_stopped "$f" 10; then
    while read -r pid name; do
      [ -n "$pid" ] && running "$pid" && kill -KILL "$pid" 2>/dev/null || true
    done < "$f"
    # SIGKILL is delivered asynchronously.
    wait_stopped "$f" 10 || log "some processes of $f did not stop"
  fi
  : > "$f"
}

# watch_owner PID COMMAND...: in the background, run COMMAND once process PID has exited, so
# that a test process that dies (even by SIGKILL) leaves nothing running behind it.
watch_owner() {
  local owner=$1
  shift
  setsid bash -c 'o=$1; shift; while kill -0 "$o" 2>/dev/null; do sleep 1; done; "$@"' _ "$owner" "$@" \
    < /dev/null > /dev/null 2>&1 &
}
