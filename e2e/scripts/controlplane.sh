#!/usr/bin/env bash
# A real Kubernetes control plane (etcd + kube-apiserver, envtest-style: no kubelet, no scheduler,
# no controller-manager) built from its Go modules and started on free loopback ports.
#
#   controlplane.sh build                      build etcd, kube-apiserver, kubectl (cached per version)
#   controlplane.sh start DIR [--owner-pid P]  start in DIR, write DIR/kubeconfig; with --owner-pid,
#                                              stop by itself once process P has exited
#   controlplane.sh stop DIR                   stop exactly the processes started in DIR (and drop
#                                              etcd's data; logs and certificates stay)
#   controlplane.sh restart-apiserver DIR      stop kube-apiserver alone and start it again
#   controlplane.sh kill-apiserver DIR         SIGKILL kube-apiserver (no graceful shutdown, as a
#                                              crash or OOM kill) and start it again
#   controlplane.sh restart-etcd DIR           SIGKILL etcd and start it again on the same data
#                                              dir and ports; waits until kube-apiserver is ready
#   controlplane.sh bin-dir                    print where the cached binaries live
#
# Environment: KRO_CACHE_DIR (default ~/.cache/kro-rs), KRO_APISERVER_PORT / KRO_ETCD_PORT to pin
# ports (default: free ones), KRO_READY_TIMEOUT seconds each of etcd and kube-apiserver may take
# to become ready (default 180: a loaded 2-core machine can take minutes).
#
# start never leaves a process behind when it fails or is interrupted, and a port that another
# process takes before etcd or kube-apiserver binds it is replaced by a fresh one (unless pinned).
set -Eeuo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cp_dir=$(cd "$here/../controlplane" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

kube_version=$(sed -n 's/^require k8s.io\/kubernetes \(v[0-9.]*\)$/\1/p' "$cp_dir/kube/go.mod")
etcd_version=$(sed -n 's/^require go.etcd.io\/etcd\/server\/v3 \(v[0-9.]*\)$/\1/p' "$cp_dir/etcd/go.mod")
{ [ -n "$kube_version" ] && [ -n "$etcd_version" ]; } || die "cannot read the pinned versions from $cp_dir/{kube,etcd}/go.mod"
bin_dir=${KRO_CACHE_DIR:-$HOME/.cache/kro-rs}/controlplane/kube-$kube_version-etcd-$etcd_version

build() {
  with_lock "$bin_dir.lock" "the control plane" build_locked
}

build_locked() {
  if [ -x "$bin_dir/kube-apiserver" ] && [ -x "$bin_dir/kubectl" ] && [ -x "$bin_dir/etcd" ]; then
    log "control plane binaries cached in $bin_dir"
    return 0
  fi
  command -v go >/dev/null || die "Go is not installed: the control plane is built from its Go modules (install Go ≥ $(sed -n 's/^go //p' "$cp_dir/kube/go.mod"))"
  mkdir -p "$bin_dir.tmp"
  local start=$SECONDS
  log "building kube-apiserver and kubectl $kube_version (first time only; ~15-25 min on 2 cores)"
  (cd "$cp_dir/kube" && go build -trimpath -o "$bin_dir.tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver) \
    || die "go build of kube-apiserver $kube_version failed (see the errors above)"
  (cd "$cp_dir/kube" && go build -trimpath -o "$bin_dir.tmp/kubectl" k8s.io/kubernetes/cmd/kubectl) \
    || die "go build of kubectl $kube_version failed (see the errors above)"
  log "building etcd $etcd_version"
  (cd "$cp_dir/etcd" && go build -trimpath -o "$bin_dir.tmp/etcd" go.etcd.io/etcd/server/v3) \
    || die "go build of etcd $etcd_version failed (see the errors above)"
  rm -rf "$bin_dir" && mv "$bin_dir.tmp" "$bin_dir"
  log "control plane built in $((SECONDS - start))s into $bin_dir"
}

gen_certs() {
  local d=$1
  command -v openssl >/dev/null || die "openssl is missing: apt-get install -y openssl"
  (
    cd "$d"
    # X.509 v3 with explicit usages: rustls refuses v1 certificates.
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=kro-e2e-ca" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout ca.key -out ca.crt 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/O=system:masters/CN=admin" \
      -keyout admin.key -out admin.csr 2>/dev/null
    printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
      "extendedKeyUsage=clientAuth" > admin.ext
    openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
      -extfile admin.ext -out admin.crt 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  ) || die "generating certificates with openssl failed"
}

# launch_apiserver DIR: start kube-apiserver on the ports in DIR/ports and record its PID.
launch_apiserver() {
  local d=$1 ETCD_PORT API_PORT
  # shellcheck disable=SC1091
  . "$d/ports"
  "$bin_dir/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$API_PORT" \
    --cert-dir "$d/apiserver-certs" --client-ca-file "$d/ca.crt" \
    --service-account-issuer "https://kubernetes.default.svc" \
    --service-account-key-file "$d/sa.pub" --service-account-signing-key-file "$d/sa.key" \
    --service-cluster-ip-range 10.0.0.0/24 --authorization-mode RBAC \
    --disable-admission-plugins ServiceAccount --allow-privileged=true \
    --endpoint-reconciler-type none \
    < /dev/null >> "$d/apiserver.log" 2>&1 &
  record_pid "$d/pids" $! kube-apiserver
}

# wait_apiserver DIR: wait until the apiserver of DIR is ready and kubectl can read the default
# namespace through the kubeconfig (a controller creates it, possibly after /readyz first
# answers). Status 2: it lost its port (see wait_http).
wait_apiserver() {
  local d=$1 ETCD_PORT API_PORT pid start left timeout=${KRO_READY_TIMEOUT:-180}
  # shellcheck disable=SC1091
  . "$d/ports"
  pid=$(awk '$2 == "kube-apiserver" { print $1 }' "$d/pids")
  start=$SECONDS
  wait_http "kube-apiserver" "https://127.0.0.1:$API_PORT/readyz" "$timeout" "$d/apiserver.log" \
    "--cacert $d/apiserver-certs/apiserver.crt --cert $d/admin.crt --key $d/admin.key" "$pid" || return $?
  left=$((timeout - (SECONDS - start)))
  wait_until "kubectl to read namespace default (apiserver log: $d/apiserver.log)" "$((left > 10 ? left : 10))" \
    "$bin_dir/kubectl" --kubeconfig "$d/kubeconfig" get ns default
}

# relaunch_apiserver DIR WHAT: start kube-apiserver again on its recorded port and wait for it.
# The port is in the ephemeral range, so an outgoing connection of another process may hold it
# for a moment after the old apiserver is gone: then it is tried again, up to 10 times, a second
# apart (each failed attempt's log is kept beside apiserver.log).
relaunch_apiserver() {
  local d=$1 what=$2 attempt rc
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    launch_apiserver "$d"
    rc=0
    wait_apiserver "$d" || rc=$?
    [ "$rc" = 2 ] || return "$rc"
    log "kube-apiserver's port is held by another process (attempt $attempt of 10); trying again in 1 s"
    awk '$2 != "kube-apiserver"' "$d/pids" > "$d/pids.new" && mv "$d/pids.new" "$d/pids"
    mv "$d/apiserver.log" "$d/apiserver.log.port-taken-$attempt"
    sleep 1
  done
  die "kube-apiserver $what: its port stayed taken"
}

# restart_apiserver DIR: stop only kube-apiserver and start it again on the same port, as an
# apiserver upgrade or crash does; etcd and its data stay.
restart_apiserver() {
  local d=${1:?usage: controlplane.sh restart-apiserver DIR}
  awk '$2 == "kube-apiserver"' "$d/pids" > "$d/apiserver.pids"
  [ -s "$d/apiserver.pids" ] || die "no kube-apiserver recorded in $d/pids"
  stop_pids "$d/apiserver.pids" || die "the old kube-apiserver did not stop"
  awk '$2 != "kube-apiserver"' "$d/pids" > "$d/pids.new" && mv "$d/pids.new" "$d/pids"
  relaunch_apiserver "$d" "after a restart" || die "kube-apiserver did not come back"
  log "kube-apiserver restarted"
}

# kill_apiserver DIR: SIGKILL kube-apiserver (it gets no chance to close its watches or finish
# requests, as in a crash) and start it again on the same port; etcd and its data stay.
kill_apiserver() {
  local d=${1:?usage: controlplane.sh kill-apiserver DIR}
  awk '$2 == "kube-apiserver"' "$d/pids" > "$d/apiserver.pids"
  [ -s "$d/apiserver.pids" ] || die "no kube-apiserver recorded in $d/pids"
  signal_pids "$d/apiserver.pids" KILL
  wait_stopped "$d/apiserver.pids" 10 || die "kube-apiserver still runs 10 s after SIGKILL"
  : > "$d/apiserver.pids"
  awk '$2 != "kube-apiserver"' "$d/pids" > "$d/pids.new" && mv "$d/pids.new" "$d/pids"
  relaunch_apiserver "$d" "after SIGKILL" || die "kube-apiserver did not come back after SIGKILL"
  log "kube-apiserver killed and started again"
}

# restart_etcd DIR: SIGKILL etcd and start it again with the very command line it ran with (same
# data dir, client and peer ports), as a crashed etcd member restarting; then wait until etcd is
# healthy and kube-apiserver, which stayed up, is ready again.
restart_etcd() {
  local d=${1:?usage: controlplane.sh restart-etcd DIR} pid ETCD_PORT API_PORT
  local -a cmd
  awk '$2 == "etcd"' "$d/pids" > "$d/etcd.pids"
  pid=$(awk '{ print $1; exit }' "$d/etcd.pids")
  [ -n "$pid" ] || die "no etcd recorded in $d/pids"
  mapfile -d '' cmd < "/proc/$pid/cmdline" || die "cannot read etcd's command line (pid $pid)"
  [ "${#cmd[@]}" -gt 1 ] || die "etcd (pid $pid) is not running"
  signal_pids "$d/etcd.pids" KILL
  wait_stopped "$d/etcd.pids" 10 || die "etcd still runs 10 s after SIGKILL"
  rm -f "$d/etcd.pids"
  awk '$2 != "etcd"' "$d/pids" > "$d/pids.new" && mv "$d/pids.new" "$d/pids"
  # shellcheck disable=SC1091
  . "$d/ports"
  # As for kube-apiserver (relaunch_apiserver): a port held for a moment by another process's
  # outgoing connection is tried again, up to 10 times.
  local attempt rc
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    "${cmd[@]}" < /dev/null >> "$d/etcd.log" 2>&1 &
    record_pid "$d/pids" $! etcd
    rc=0
    wait_http "etcd" "http://127.0.0.1:$ETCD_PORT/health" "${KRO_READY_TIMEOUT:-180}" "$d/etcd.log" "" $! \
      || rc=$?
    [ "$rc" = 2 ] || break
    log "etcd's port is held by another process (attempt $attempt of 10); trying again in 1 s"
    awk '$2 != "etcd"' "$d/pids" > "$d/pids.new" && mv "$d/pids.new" "$d/pids"
    mv "$d/etcd.log" "$d/etcd.log.port-taken-$attempt"
    sleep 1
  done
  [ "$rc" = 0 ] || die "etcd did not come back on port $ETCD_PORT"
  wait_apiserver "$d" || die "kube-apiserver did not become ready again after etcd's restart"
  log "etcd killed and started again"
}

# start_etcd DIR: etcd on fresh ports (KRO_ETCD_PORT pins the client one), written to
# DIR/ports. Status 2: it lost a port (see wait_http).
start_etcd() {
  local d=$1 etcd_port etcd_peer
  # Called where errexit does not apply (retry_on_lost_port): each step fails explicitly.
  etcd_port=$(pick_port "${KRO_ETCD_PORT:-}") || return 1
  etcd_peer=$(pick_port "") || return 1
  printf 'ETCD_PORT=%s\n' "$etcd_port" > "$d/ports"
  rm -rf "$d/etcd-data"
  "$bin_dir/etcd" --name e2e --data-dir "$d/etcd-data" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$etcd_peer" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" \
    --initial-cluster "e2e=http://127.0.0.1:$etcd_peer" --unsafe-no-fsync --log-level warn \
    < /dev/null > "$d/etcd.log" 2>&1 &
  record_pid "$d/pids" $! etcd || return 1
  wait_http "etcd" "http://127.0.0.1:$etcd_port/health" "${KRO_READY_TIMEOUT:-180}" "$d/etcd.log" "" $!
}

# start_apiserver DIR: kube-apiserver on a fresh port (KRO_APISERVER_PORT pins it) against the
# etcd in DIR/ports; writes DIR/kubeconfig. Status 2: it lost its port (see wait_http).
start_apiserver() {
  local d=$1 api_port
  # Called where errexit does not apply (retry_on_lost_port): each step fails explicitly.
  api_port=$(pick_port "${KRO_APISERVER_PORT:-}") || return 1
  { sed -i '/^API_PORT=/d' "$d/ports" && echo "API_PORT=$api_port" >> "$d/ports" && : > "$d/apiserver.log"; } || return 1
  cat > "$d/kubeconfig" <<EOF || return 1
apiVersion: v1
kind: Config
clusters:
- name: kro-e2e
  cluster:
    server: https://127.0.0.1:$api_port
    certificate-authority: $d/apiserver-certs/apiserver.crt
users:
- name: admin
  user:
    client-certificate: $d/admin.crt
    client-key: $d/admin.key
contexts:
- name: kro-e2e
  context: {cluster: kro-e2e, user: admin}
current-context: kro-e2e
EOF
  launch_apiserver "$d" || return 1
  wait_apiserver "$d"
}

# retry_on_lost_port WHAT PINNED FILE CMD...: run CMD, which starts WHAT and records it in FILE.
# pick_port can only say a port is free now: when CMD fails with status 2 (another process took
# the port before WHAT bound it) and the port is not PINNED, stop what CMD recorded and run it
# again on fresh ports, 3 times at most. Any other failure stops what CMD recorded and fails.
retry_on_lost_port() {
  local what=$1 pinned=$2 f=$3 attempt rc keep
  shift 3
  for attempt in 1 2 3; do
    keep=$(wc -l < "$f")
    rc=0
    "$@" || rc=$?
    [ "$rc" = 0 ] && return 0
    tail -n +"$((keep + 1))" "$f" > "$f.failed"
    stop_pids "$f.failed" || true
    head -n "$keep" "$f" > "$f.new" && mv "$f.new" "$f"
    rm -f "$f.failed"
    if [ "$rc" != 2 ] || [ -n "$pinned" ] || [ "$attempt" = 3 ]; then return 1; fi
    log "starting $what again on fresh ports (attempt $((attempt + 1)) of 3)"
  done
}

# What start stops if it ends before the control plane is ready.
starting_dir="" owner_watch=""
abort_start() {
  [ -n "$starting_dir" ] || return 0
  stop_pids "$starting_dir/pids" || true
  if [ -n "$owner_watch" ]; then kill "$owner_watch" 2>/dev/null || true; fi
}

start() {
  local d=${1:?usage: controlplane.sh start DIR [--owner-pid PID]}
  shift
  local owner="" port
  if [ "${1:-}" = "--owner-pid" ]; then owner=${2:?--owner-pid needs a PID}; fi
  for b in etcd kube-apiserver kubectl; do
    [ -x "$bin_dir/$b" ] || die "$b is not built for $kube_version/$etcd_version: run 'make controlplane' (or e2e/scripts/controlplane.sh build)"
  done
  mkdir -p "$d"
  d=$(cd "$d" && pwd)
  [ ! -s "$d/pids" ] || die "$d already holds a running control plane (pids in $d/pids): stop it first with '$0 stop $d'"
  # A pinned port that is taken is an error to report before anything starts.
  for port in "${KRO_ETCD_PORT:-}" "${KRO_APISERVER_PORT:-}"; do
    [ -z "$port" ] || pick_port "$port" > /dev/null
  done
  : > "$d/pids"
  # From here on, however this script ends before the control plane is ready (a failing command
  # in any function, die, Ctrl-C, TERM), the EXIT trap stops what it started.
  starting_dir=$d
  trap abort_start EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  # The owner's watch starts first, so that it also covers this script being killed mid-start.
  if [ -n "$owner" ]; then owner_watch=$(watch_owner "$owner" "$here/controlplane.sh" stop "$d"); fi

  gen_certs "$d"
  retry_on_lost_port etcd "${KRO_ETCD_PORT:-}" "$d/pids" start_etcd "$d" || exit 1
  retry_on_lost_port kube-apiserver "${KRO_APISERVER_PORT:-}" "$d/pids" start_apiserver "$d" || exit 1

  starting_dir=""
  trap - EXIT INT TERM
  log "control plane ready: export KUBECONFIG=$d/kubeconfig (kubectl: $bin_dir/kubectl)"
}

case "${1:-}" in
  build) build ;;
  start) shift; start "$@" ;;
  stop)
    d=${2:?usage: controlplane.sh stop DIR}
    if [ -f "$d/pids" ]; then
      # kube-apiserver first: its graceful shutdown still talks to etcd (with etcd gone first it
      # hangs until SIGKILL).
      awk '$2 == "kube-apiserver"' "$d/pids" > "$d/apiserver.pids"
      stop_pids "$d/apiserver.pids"
      stop_pids "$d/pids"
    fi
    # etcd's data is of no use once stopped (start always begins afresh) and is the bulk of DIR;
    # the logs, certificates and kubeconfig stay for a post-mortem.
    rm -rf "$d/etcd-data"
    ;;
  restart-apiserver) restart_apiserver "${2:-}" ;;
  kill-apiserver) kill_apiserver "${2:-}" ;;
  restart-etcd) restart_etcd "${2:-}" ;;
  bin-dir) echo "$bin_dir" ;;
  *) die "usage: controlplane.sh build | start DIR [--owner-pid PID] | stop DIR | restart-apiserver DIR | kill-apiserver DIR | restart-etcd DIR | bin-dir" ;;
esac
