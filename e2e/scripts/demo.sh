#!/usr/bin/env bash
# The demo, end to end on this machine: a local control plane (etcd + kube-apiserver) and moto,
# the kro-rs operator, the examples/webapp RGD and an instance of it going Ready. Everything is
# left running for you to explore; `e2e/scripts/demo.sh stop` (or `make demo-stop`) stops it.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
state=$root/.e2e/demo

stop_all() {
  "$here/controlplane.sh" stop "$state"
  "$here/moto.sh" stop "$state"
  stop_pids "$state/kro.pids"
}
if [ "${1:-}" = "stop" ]; then
  stop_all
  log "demo stopped"
  exit 0
fi
if [ -s "$state/pids" ]; then
  log "a demo is already running in $state: stopping it first"
  stop_all
fi

log "building the kro binary"
(cd "$root" && cargo build --quiet -p kro-rs) || die "cargo build -p kro-rs failed"
kro=${CARGO_TARGET_DIR:-$root/target}/debug/kro

"$here/controlplane.sh" start "$state"
"$here/moto.sh" start "$state" || { stop_all; exit 1; }
trap 'log "the demo failed: stopping what it started (operator log: $state/kro.log)"; stop_all' ERR
kubectl="$("$here/controlplane.sh" bin-dir)/kubectl --kubeconfig $state/kubeconfig"
export KUBECONFIG=$state/kubeconfig
export "$(cat "$state/moto.env")"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

step "Starting the operator: kro run (log in $state/kro.log)"
AWS_REGION=us-west-2 AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo \
  "$kro" run --metrics-bind-address 127.0.0.1:0 --health-probe-bind-address 127.0.0.1:0 \
  --aws-endpoint-use-path-style \
  < /dev/null > "$state/kro.log" 2>&1 &
echo "$! kro" > "$state/kro.pids"
for _ in $(seq 1 120); do
  $kubectl get crd resourcegraphdefinitions.kro.run >/dev/null 2>&1 && break
  running "$(cut -d' ' -f1 "$state/kro.pids")" || { tail -20 "$state/kro.log" >&2; die "kro run exited"; }
  sleep 0.5
done

step "Applying the WebApp ResourceGraphDefinition (examples/webapp/rgd.yaml)"
show $kubectl apply -f "$root/examples/webapp/rgd.yaml"
show $kubectl wait rgd/webapp --for=jsonpath='{.status.state}'=Active --timeout=60s
show $kubectl get rgd webapp
step "kro-rs generated a CRD for the new kind"
show $kubectl get crd webapps.kro.run
show $kubectl explain webapp.spec

step "Applying an instance (examples/webapp/instance.yaml)"
# The example carries a uid and generation for offline `kro render`; the apiserver sets its own.
grep -vE '^\s+(uid|generation):' "$root/examples/webapp/instance.yaml" | show $kubectl apply -f -
show $kubectl wait deployment/shop --for=create --timeout=60s
show $kubectl get webapp shop

step "No kubelet runs here, so the demo reports the Deployment's pods available itself"
show $kubectl patch deployment shop --subresource=status --type=merge \
  -p '{"status":{"observedGeneration":1,"replicas":2,"readyReplicas":2,"availableReplicas":2,"updatedReplicas":2}}'
show $kubectl wait webapp/shop --for=condition=Ready --timeout=60s
show $kubectl get webapp shop
show $kubectl get configmaps,deployments,services,ingresses -l kro.run/instance-name=shop
show $kubectl get webapp shop -o jsonpath='{.status}'
echo
trap - ERR

cat <<EOF

The control plane, moto and the operator are still running. To look further:

  export KUBECONFIG=$state/kubeconfig
  alias kubectl='$("$here/controlplane.sh" bin-dir)/kubectl'
  kubectl get rgd,webapps -A
  kubectl describe webapp shop
  kubectl patch webapp shop --type=merge -p '{"spec":{"ingress":{"enabled":false}}}'   # the Ingress is pruned
  kubectl delete configmap shop-config                                                  # and recreated
  tail -f $state/kro.log

  export AWS_ENDPOINT_URL=$(cut -d= -f2 "$state/moto.env")   # moto: S3, RDS, EC2

Stop everything with: make demo-stop
EOF
