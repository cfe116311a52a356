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
#   controlplane.sh bin-dir                    print where the cached binaries live
#
# Environment: KRO_CACHE_DIR (default ~/.cache/kro-rs), KRO_APISERVER_PORT / KRO_ETCD_PORT to pin
# ports (default: free ones), KRO_READY_TIMEOUT seconds (default 90).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cp_dir=$(cd "$here/../controlplane" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

kube_version=$(sed -n 's/^require k8s.io\/kubernetes \(v[0-9.]*\)$/\1/p' "$cp_dir/kube/go.mod")
etcd_version=$(sed -n 's/^require go.etcd.io\/etcd\/server\/v3 \(v[0-9.]*\)$/\1/p' "$cp_dir/etcd/go.mod")
[ -n "$kube_version" ] && [ -n "$etcd_version" ] || die "cannot read the pinned versions from $cp_dir/{kube,etcd}/go.mod"
bin_dir=${KRO_CACHE_DIR:-$HOME/.cache/kro-rs}/controlplane/kube-$kube_version-etcd-$etcd_version

build() {
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
  echo "$! kube-apiserver" >> "$d/pids"
}

# wait_apiserver DIR: wait until the apiserver of DIR is ready and kubectl reaches it.
wait_apiserver() {
  local d=$1 ETCD_PORT API_PORT pid
  # shellcheck disable=SC1091
  . "$d/ports"
  pid=$(sed -n 's/^\([0-9]*\) kube-apiserver$/\1/p' "$d/pids")
  wait_http "kube-apiserver" "https://127.0.0.1:$API_PORT/readyz" "${KRO_READY_TIMEOUT:-90}" "$d/apiserver.log" \
    "--cacert $d/apiserver-certs/apiserver.crt --cert $d/admin.crt --key $d/admin.key" "$pid" || return 1
  "$bin_dir/kubectl" --kubeconfig "$d/kubeconfig" get ns default >/dev/null \
    || { log "kubectl cannot reach the apiserver (see $d/apiserver.log)"; return 1; }
}

# restart_apiserver DIR: stop only kube-apiserver and start it again on the same port, as an
# apiserver upgrade or crash does; etcd and its data stay.
restart_apiserver() {
  local d=${1:?usage: controlplane.sh restart-apiserver DIR}
  grep ' kube-apiserver$' "$d/pids" > "$d/apiserver.pids" || die "no kube-apiserver recorded in $d/pids"
  stop_pids "$d/apiserver.pids"
  sed -i '/ kube-apiserver$/d' "$d/pids"
  launch_apiserver "$d"
  wait_apiserver "$d" || die "kube-apiserver did not come back"
  log "kube-apiserver restarted"
}

start() {
  local d=${1:?usage: controlplane.sh start DIR [--owner-pid PID]}
  shift
  local owner=""
  if [ "${1:-}" = "--owner-pid" ]; then owner=${2:?--owner-pid needs a PID}; fi
  for b in etcd kube-apiserver kubectl; do
    [ -x "$bin_dir/$b" ] || die "$b is not built for $kube_version/$etcd_version: run 'make controlplane' (or e2e/scripts/controlplane.sh build)"
  done
  mkdir -p "$d"
  d=$(cd "$d" && pwd)
  [ ! -s "$d/pids" ] || die "$d already holds a running control plane (pids in $d/pids): stop it first with '$0 stop $d'"
  : > "$d/pids"
  # From here on, anything that fails stops what was started.
  trap 'stop_pids "$d/pids"' ERR
  trap 'stop_pids "$d/pids"; exit 130' INT TERM

  local etcd_port etcd_peer api_port
  etcd_port=$(pick_port "${KRO_ETCD_PORT:-}")
  etcd_peer=$(pick_port "")
  api_port=$(pick_port "${KRO_APISERVER_PORT:-}")
  gen_certs "$d"

  "$bin_dir/etcd" --name e2e --data-dir "$d/etcd-data" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$etcd_peer" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" \
    --initial-cluster "e2e=http://127.0.0.1:$etcd_peer" --unsafe-no-fsync --log-level warn \
    < /dev/null > "$d/etcd.log" 2>&1 &
  echo "$! etcd" >> "$d/pids"
  wait_http "etcd" "http://127.0.0.1:$etcd_port/health" 30 "$d/etcd.log" "" $! || { stop_pids "$d/pids"; exit 1; }

  printf 'ETCD_PORT=%s\nAPI_PORT=%s\n' "$etcd_port" "$api_port" > "$d/ports"
  launch_apiserver "$d"

  cat > "$d/kubeconfig" <<EOF
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
  wait_apiserver "$d" || { stop_pids "$d/pids"; exit 1; }
  trap - ERR INT TERM
  if [ -n "$owner" ]; then watch_owner "$owner" "$here/controlplane.sh" stop "$d"; fi
  log "control plane ready: export KUBECONFIG=$d/kubeconfig (kubectl: $bin_dir/kubectl)"
}

case "${1:-}" in
  build) build ;;
  start) shift; start "$@" ;;
  stop)
    # etcd's data is of no use once stopped (start always begins afresh) and is the bulk of DIR;
    # the logs, certificates and kubeconfig stay for a post-mortem.
    stop_pids "${2:?usage: controlplane.sh stop DIR}/pids"
    rm -rf "$2/etcd-data"
    ;;
  restart-apiserver) restart_apiserver "${2:-}" ;;
  bin-dir) echo "$bin_dir" ;;
  *) die "usage: controlplane.sh build | start DIR [--owner-pid PID] | stop DIR | restart-apiserver DIR | bin-dir" ;;
esac
