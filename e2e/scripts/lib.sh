# shellcheck shell=bash
# Shared helpers for the e2e scripts: messages, free ports, readiness waits, process cleanup.
# Sourced, not run.
#
# Every wait here has a deadline measured on the clock ($SECONDS), not a count of tries (a try can
# take seconds on a loaded machine), and fails with a message naming what did not happen. Every
# process a script starts is recorded as "PID NAME START" (START: its start time in clock ticks
# since boot, from /proc), so that stopping it later can never signal an unrelated process that
# reuses the PID.

lib_sh=${BASH_SOURCE[0]}

log() { printf '[kro-e2e] %s\n' "$*" >&2; }
die() { printf '[kro-e2e] error: %s\n' "$*" >&2; exit 1; }

# pick_port [FIXED]: print FIXED if it is free (fail clearly if it is in use), else a free port.
# The port is only known to be free now: a service given it may still find it taken (see
# port_lost) and should then be started again on a fresh one.
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

# port_lost LOG: true when LOG says its service could not bind a port (another process took the
# port between pick_port and the service's bind). etcd, kube-apiserver (Go) and moto (Python) all
# say "address already in use".
port_lost() { grep -qi 'address already in use' "$1" 2>/dev/null; }

# proc_start PID: print the start time of PID (field 22 of /proc/PID/stat); fails once it is gone.
proc_start() {
  local stat fields
  { read -r stat < "/proc/$1/stat"; } 2>/dev/null || return 1
  read -ra fields <<< "${stat##*) }"
  printf '%s\n' "${fields[19]}"
}

# running PID: true while PID runs (a zombie waiting to be reaped has already stopped).
running() {
  local stat
  { read -r stat < "/proc/$1/stat"; } 2>/dev/null || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != [ZX] ]]
}

# ours PID NAME [START]: true while PID runs and is the process that was recorded: same start
# time (or, for a record without one, NAME in its command line).
ours() {
  running "$1" || return 1
  if [ -n "${3:-}" ]; then
    [ "$(proc_start "$1" 2>/dev/null)" = "$3" ]
  else
    tr '\0' ' ' < "/proc/$1/cmdline" 2>/dev/null | grep -q -- "$2"
  fi
}

# record_pid FILE PID NAME: append PID (just started, as NAME) to FILE.
record_pid() {
  printf '%s %s %s\n' "$2" "$3" "$(proc_start "$2" || echo 0)" >> "$1"
}

# wait_http NAME URL TIMEOUT LOG CURL_ARGS [PID]: wait until URL answers 200. Fails (with LOG's
# tail) after TIMEOUT seconds, as soon as PID has exited, or with status 2 as soon as LOG says
# the service lost its port (port_lost), so that the caller can start it again elsewhere.
wait_http() {
  local name=$1 url=$2 timeout=$3 logf=$4 args=$5 pid=${6:-} deadline
  deadline=$((SECONDS + timeout))
  while :; do
    if port_lost "$logf"; then
      log "$name could not bind its port, another process took it; last lines of $logf:"
      tail -n 5 "$logf" >&2 || true
      return 2
    fi
    if [ -n "$pid" ] && ! running "$pid"; then
      log "$name exited before it became ready; last lines of $logf:"
      tail -n 20 "$logf" >&2 || true
      return 1
    fi
    # shellcheck disable=SC2086
    if curl -fsS -o /dev/null --max-time 5 $args "$url" 2>/dev/null; then return 0; fi
    if ((SECONDS >= deadline)); then
      log "$name did not become ready at $url within ${timeout}s; last lines of $logf:"
      tail -n 20 "$logf" >&2 || true
      return 1
    fi
    sleep 0.25
  done
}

# wait_until WHAT TIMEOUT CMD...: run CMD every half second until it succeeds; after TIMEOUT
# seconds, fail with a message naming WHAT and CMD's last output. When the variable wait_guard
# names a function, it is called (in this shell, so it can die) before each try, to give up at
# once on what will never come (a process that has exited).
wait_until() {
  local what=$1 timeout=$2 deadline out
  shift 2
  deadline=$((SECONDS + timeout))
  while :; do
    if [ -n "${wait_guard:-}" ]; then "$wait_guard"; fi
    if out=$("$@" 2>&1); then return 0; fi
    if ((SECONDS >= deadline)); then
      log "timed out after ${timeout}s waiting for $what; the last try ($*) said:"
      printf '%s\n' "$out" | tail -n 10 >&2
      return 1
    fi
    sleep 0.5
  done
}

# wait_stopped FILE SECONDS: wait until no process recorded in FILE runs; false on time-out.
wait_stopped() {
  local f=$1 deadline pid name start left
  deadline=$((SECONDS + $2))
  while :; do
    left=0
    while read -r pid name start; do
      [ -n "$pid" ] && ours "$pid" "$name" "$start" && left=1
    done < "$f"
    [ $left = 0 ] && return 0
    ((SECONDS < deadline)) || return 1
    sleep 0.25
  done
}

# signal_pids FILE SIGNAL: send SIGNAL to each process recorded in FILE that still runs.
signal_pids() {
  local pid name start
  while read -r pid name start; do
    if [ -n "$pid" ] && ours "$pid" "$name" "$start"; then
      kill "-$2" "$pid" 2>/dev/null || true
    fi
  done < "$1"
}

# stop_pids FILE: stop exactly the processes recorded in FILE: TERM, then KILL after 10 s, and
# return once they are gone (then FILE is emptied); false, with FILE kept, if one survives.
stop_pids() {
  local f=$1
  [ -f "$f" ] || return 0
  signal_pids "$f" TERM
  if ! wait_stopped "$f" 10; then
    log "processes of $f still run 10 s after SIGTERM: sending SIGKILL"
    signal_pids "$f" KILL
    # SIGKILL is delivered asynchronously.
    if ! wait_stopped "$f" 10; then
      log "some processes of $f did not stop: $(tr '\n' ' ' < "$f")"
      return 1
    fi
  fi
  : > "$f"
}

# watch_owner PID COMMAND...: in the background, in a session of its own, run COMMAND once
# process PID has exited (even by SIGKILL), so that a test process that dies leaves nothing
# running behind it. The owner is known by its start time, so a reused PID does not keep the
# watch waiting. Prints the watcher's PID.
watch_owner() {
  local owner=$1 start
  shift
  start=$(proc_start "$owner") || start=gone
  # shellcheck disable=SC2016 # expanded by the watcher's shell
  setsid bash -c '. "$1"; o=$2 s=$3; shift 3
    while [ "$(proc_start "$o" 2>/dev/null)" = "$s" ] && running "$o"; do sleep 1; done
    "$@"' _ "$lib_sh" "$owner" "$start" "$@" < /dev/null > /dev/null 2>&1 &
  echo $!
}

# with_lock FILE WHAT CMD...: run CMD holding an exclusive lock on FILE, so that two builds of
# the same cache entry (two checkouts, or `make demo` beside `make test`) do not write the same
# files; the second one waits, then finds the cache filled.
with_lock() {
  local f=$1 what=$2
  shift 2
  mkdir -p "$(dirname "$f")"
  (
    exec 9> "$f"
    if ! flock -n 9; then
      log "another process is building $what (lock $f): waiting for it"
      flock 9
    fi
    "$@"
  )
}
