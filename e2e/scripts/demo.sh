#!/usr/bin/env bash
# The demo: a local control plane (etcd + kube-apiserver) and moto (S3, RDS) on loopback, left
# running for you to explore. `e2e/scripts/demo.sh stop` (or `make demo-stop`) stops them.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
state=$root/.e2e/demo

if [ "${1:-}" = "stop" ]; then
  "$here/controlplane.sh" stop "$state"
  "$here/moto.sh" stop "$state"
  log "demo stopped"
  exit 0
fi

if [ -s "$state/pids" ]; then
  log "a demo is already running in $state: stopping it first"
  "$here/controlplane.sh" stop "$state"
  "$here/moto.sh" stop "$state"
fi
"$here/controlplane.sh" start "$state"
"$here/moto.sh" start "$state" || { "$here/controlplane.sh" stop "$state"; exit 1; }
kubectl=$("$here/controlplane.sh" bin-dir)/kubectl
endpoint=$(cut -d= -f2 "$state/moto.env")

echo
echo "The API server answers:"
"$kubectl" --kubeconfig "$state/kubeconfig" get namespaces
echo
cat <<EOF2
Local control plane and AWS emulator are running.

  export KUBECONFIG=$state/kubeconfig
  alias kubectl=$kubectl
  kubectl get --raw /version
  kubectl api-resources | head

  export AWS_ENDPOINT_URL=$endpoint    # moto: S3, RDS, EC2 (any credentials, region us-west-2)

There is no kubelet, scheduler or controller-manager: Pods never run, as in envtest.
Stop everything with: make demo-stop
EOF2
