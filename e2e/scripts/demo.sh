#!/usr/bin/env bash
# The demo, end to end on this machine: a local control plane (etcd + kube-apiserver) and moto,
# the kro-rs operator, the examples/webapp RGD and an instance of it going Ready. Everything is
# left running for you to explore; `e2e/scripts/demo.sh stop` (or `make demo-stop`) stops it.
#
# Each step waits for what it shows, with a deadline of KRO_DEMO_TIMEOUT seconds (default 300,
# for a loaded 2-core machine). If any step fails, or the demo is interrupted (Ctrl-C, TERM), it
# stops everything it started (operator, control plane, moto) and says where the logs are.
set -Eeuo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
state=$root/.e2e/demo
timeout=${KRO_DEMO_TIMEOUT:-300}

stop_all() {
  local rc=0
  stop_pids "$state/kro.pids" || rc=1
  "$here/moto.sh" stop "$state" || rc=1
  "$here/controlplane.sh" stop "$state" || rc=1
  return $rc
}
if [ "${1:-}" = "stop" ]; then
  stop_all || die "some processes of the demo did not stop (see the messages above)"
  log "demo stopped"
  exit 0
fi
[ -z "${1:-}" ] || die "usage: demo.sh [stop]"
if [ -s "$state/pids" ] || [ -s "$state/moto.pids" ] || [ -s "$state/kro.pids" ]; then
  log "a demo is already running in $state: stopping it first"
  stop_all || die "the running demo did not stop (see the messages above)"
fi

# From here on, however the demo ends before it is done (a failed step, a deadline, Ctrl-C,
# TERM), the EXIT trap stops the command in progress and everything the demo started.
done=0 current=""
on_err() { log "the demo failed at line $1: $2"; }
on_exit() {
  local rc=$?
  [ "$done" = 0 ] || return 0
  if [ -n "$current" ]; then kill "$current" 2>/dev/null || true; fi
  log "the demo did not finish (exit status $rc): stopping what it started"
  stop_all || true
  log "logs: $state/kro.log (operator), $state/apiserver.log, $state/etcd.log, $state/moto.log"
}
trap 'on_err "$LINENO" "$BASH_COMMAND"' ERR
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "building the kro binary (the first build takes several minutes)"
(cd "$root" && cargo build --quiet -p kro-rs) || die "cargo build -p kro-rs failed"
target_dir=$(cd "$root" && cargo metadata --format-version 1 --no-deps \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
kro=$target_dir/debug/kro
[ -x "$kro" ] || die "cargo build succeeded but there is no $kro"

"$here/controlplane.sh" start "$state"
"$here/moto.sh" start "$state"
bin_dir=$("$here/controlplane.sh" bin-dir)
export PATH="$bin_dir:$PATH" KUBECONFIG=$state/kubeconfig
export "$(cat "$state/moto.env")"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# check_alive: fail, naming it and its log, if a process the demo started has exited.
check_alive() {
  local f pid name start
  for f in "$state/pids" "$state/moto.pids" "$state/kro.pids"; do
    [ -f "$f" ] || continue
    while read -r pid name start; do
      if [ -z "$pid" ] || ours "$pid" "$name" "$start"; then continue; fi
      case $name in
        kro) tail -n 20 "$state/kro.log" >&2 || true; die "the operator (kro run) has exited: see $state/kro.log" ;;
        etcd) die "etcd has exited: see $state/etcd.log" ;;
        kube-apiserver) die "kube-apiserver has exited: see $state/apiserver.log" ;;
        *) die "moto has exited: see $state/moto.log" ;;
      esac
    done < "$f"
  done
}
# shellcheck disable=SC2034 # read by wait_until (lib.sh)
wait_guard=check_alive

# show CMD...: print CMD and run it; fails when CMD fails, and as soon as a process of the demo
# exits while CMD runs (a wait would otherwise sit out its whole deadline).
show() {
  printf '$ %s\n' "$*"
  "$@" &
  current=$!
  while running "$current"; do
    check_alive
    sleep 0.2
  done
  local rc=0
  wait "$current" || rc=$?
  current=""
  return $rc
}

step "Starting the operator: kro run (log in $state/kro.log)"
AWS_REGION=us-west-2 AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo \
  "$kro" run --metrics-bind-address 127.0.0.1:0 --health-probe-bind-address 127.0.0.1:0 \
  --aws-endpoint-use-path-style \
  < /dev/null > "$state/kro.log" 2>&1 &
record_pid "$state/kro.pids" $! kro
# kro installs its CRDs at start-up; `kubectl get rgd` works once the kind is served.
wait_until "the operator to install the ResourceGraphDefinition CRD (operator log: $state/kro.log)" "$timeout" \
  kubectl get rgd
echo "the operator is up: kubectl get rgd works"

step "Applying the WebApp ResourceGraphDefinition (examples/webapp/rgd.yaml)"
show kubectl apply -f "$root/examples/webapp/rgd.yaml"
show kubectl wait rgd/webapp --for=jsonpath='{.status.state}'=Active --timeout="${timeout}s"
show kubectl get rgd webapp

step "kro-rs generated a CRD for the new kind"
show kubectl wait crd/webapps.kro.run --for=condition=Established --timeout="${timeout}s"
# The apiserver publishes a new kind's OpenAPI schema a little after the CRD is Established
# (seconds, more on a loaded machine); kubectl explain reads it from there.
echo "(waiting until the apiserver publishes the OpenAPI schema of WebApp, which kubectl explain reads)"
wait_until "the apiserver's OpenAPI schema to include kind WebApp (kubectl explain webapp.spec; apiserver log: $state/apiserver.log)" \
  "$timeout" kubectl explain webapp.spec
show kubectl explain webapp.spec

step "Applying an instance (examples/webapp/instance.yaml)"
# The example carries a uid and generation for offline `kro render`; the apiserver sets its own.
grep -vE '^\s+(uid|generation):' "$root/examples/webapp/instance.yaml" > "$state/instance.yaml"
show kubectl apply -f "$state/instance.yaml"
show kubectl wait deployment/shop --for=create --timeout="${timeout}s"
show kubectl get webapp shop

step "No kubelet runs here, so the demo reports the Deployment's pods available itself"
generation=$(kubectl get deployment shop -o jsonpath='{.metadata.generation}')
show kubectl patch deployment shop --subresource=status --type=merge \
  -p '{"status":{"observedGeneration":'"$generation"',"replicas":2,"readyReplicas":2,"availableReplicas":2,"updatedReplicas":2}}'
show kubectl wait webapp/shop --for=condition=Ready --timeout="${timeout}s"
show kubectl get webapp shop
show kubectl get configmaps,deployments,services,ingresses -l kro.run/instance-name=shop
show kubectl get webapp shop -o jsonpath='{.status}'
echo
done=1
trap - ERR EXIT INT TERM

cat <<EOF

The control plane, moto and the operator are still running. To look further:

  export KUBECONFIG=$state/kubeconfig
  alias kubectl='$bin_dir/kubectl'
  kubectl get rgd,webapps -A
  kubectl describe webapp shop
  kubectl patch webapp shop --type=merge -p '{"spec":{"ingress":{"enabled":false}}}'   # the Ingress is pruned
  kubectl delete configmap shop-config                                                  # and recreated
  tail -f $state/kro.log

  export $(cat "$state/moto.env")   # moto: S3, RDS, EC2

Stop everything with: make demo-stop
EOF
