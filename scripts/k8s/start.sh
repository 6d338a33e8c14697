#!/usr/bin/env bash
# Start a real Kubernetes control plane on loopback, in DIR, from the binaries scripts/k8s/build.sh made:
# etcd, kube-apiserver (generated CA, serving cert, service-account key, static admin token),
# kube-controller-manager, kube-scheduler, and kwok managing one fake node so pods become Running.
#
#   scripts/k8s/start.sh DIR     start; writes DIR/kubeconfig, DIR/admin.token, DIR/pids, DIR/*.log
#   scripts/k8s/stop.sh DIR      stop everything started, by PID
#
# Every port is a free loopback port chosen by the OS. Prints the kubeconfig path on stdout when ready.
# The apiserver runs with --allow-privileged=true, the common production setting, so that a
# privileged pod is refused by the suite's own admission policy, never by the apiserver.
set -euo pipefail
DIR="$(mkdir -p "${1:?usage: start.sh DIR}" && cd "$1" && pwd)"
K8S_VERSION="${K8S_VERSION:-v1.34.4}"
CACHE="${CODE_MCP_CACHE:-$HOME/.cache/code-mcp}"
BIN="${K8S_BIN:-$CACHE/k8s/$K8S_VERSION/bin}"
READY_TIMEOUT="${K8S_READY_TIMEOUT:-90}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

log() { echo "[k8s-start] $*" >&2; }
for b in etcd kube-apiserver kube-controller-manager kube-scheduler kwok; do
  [[ -x "$BIN/$b" ]] || { log "missing $BIN/$b: run scripts/k8s/build.sh"; exit 3; }
done

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

: >"$DIR/pids"
started() { echo "$1 $2" >>"$DIR/pids"; }
on_error() {
  log "start failed; stopping what was started (logs in $DIR)"
  "$HERE/stop.sh" "$DIR" || true
}
trap on_error ERR

wait_for() {  # wait_for WHAT COMMAND...
  local what="$1" deadline=$((SECONDS + READY_TIMEOUT))
  shift
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS > deadline)); then
      log "$what not ready after ${READY_TIMEOUT}s"
      return 1
    fi
    sleep 0.2
  done
}

# ---------------------------------------------------------------- keys, certificates, token
pki="$DIR/pki"
mkdir -p "$pki"
umask 077
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$pki/ca.key" -out "$pki/ca.crt" -days 7 \
  -subj "/CN=code-mcp-test-ca" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout "$pki/apiserver.key" -out "$pki/apiserver.csr" \
  -subj "/CN=kube-apiserver" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.0.0.1,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n' \
  >"$pki/apiserver.ext"
openssl x509 -req -in "$pki/apiserver.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
  -out "$pki/apiserver.crt" -days 7 -extfile "$pki/apiserver.ext" 2>/dev/null
# kwok serves the kubelet API (pod logs) over TLS; the API server verifies it with the same CA.
openssl req -newkey rsa:2048 -nodes -keyout "$pki/kubelet.key" -out "$pki/kubelet.csr" \
  -subj "/CN=kwok-kubelet" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$pki/kubelet.ext"
openssl x509 -req -in "$pki/kubelet.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
  -out "$pki/kubelet.crt" -days 7 -extfile "$pki/kubelet.ext" 2>/dev/null
openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
token="$(openssl rand -hex 24)"
printf '%s' "$token" >"$DIR/admin.token"
printf '%s,admin,admin-uid,"system:masters"\n' "$token" >"$pki/tokens.csv"

etcd_port="$(free_port)"
peer_port="$(free_port)"
api_port="$(free_port)"
kwok_port="$(free_port)"

cat >"$DIR/kubeconfig" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: code-test
  cluster:
    server: https://127.0.0.1:$api_port
    certificate-authority: $pki/ca.crt
users:
- name: admin
  user:
    token: $token
contexts:
- name: code-test
  context:
    cluster: code-test
    user: admin
    namespace: default
current-context: code-test
KUBECONFIG
umask 022

# ---------------------------------------------------------------- etcd
"$BIN/etcd" --name default --data-dir "$DIR/etcd" \
  --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
  --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
  --initial-cluster "default=http://127.0.0.1:$peer_port" --unsafe-no-fsync --log-level warn \
  >"$DIR/etcd.log" 2>&1 &
started etcd $!
wait_for etcd curl -fsS "http://127.0.0.1:$etcd_port/health"

# ---------------------------------------------------------------- kube-apiserver
"$BIN/kube-apiserver" \
  --etcd-servers "http://127.0.0.1:$etcd_port" \
  --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
  --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
  --client-ca-file "$pki/ca.crt" \
  --token-auth-file "$pki/tokens.csv" \
  --authorization-mode Node,RBAC \
  --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-cluster-ip-range 10.0.0.0/24 \
  --kubelet-preferred-address-types InternalIP --kubelet-certificate-authority "$pki/ca.crt" \
  --allow-privileged=true --profiling=false --enable-priority-and-fairness=false \
  --endpoint-reconciler-type none --event-ttl 1h --v 0 \
  >"$DIR/kube-apiserver.log" 2>&1 &
started kube-apiserver $!
api="https://127.0.0.1:$api_port"
wait_for kube-apiserver curl -fsS --cacert "$pki/ca.crt" -H "Authorization: Bearer $token" "$api/readyz"

# ---------------------------------------------------------------- controllers, scheduler, kwok
"$BIN/kube-controller-manager" --kubeconfig "$DIR/kubeconfig" \
  --authentication-kubeconfig "$DIR/kubeconfig" --authorization-kubeconfig "$DIR/kubeconfig" \
  --bind-address 127.0.0.1 --secure-port 0 --leader-elect=false \
  --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
  --controllers '*,-node-ipam-controller,-node-lifecycle-controller,-persistentvolume-binder-controller,-persistentvolume-attach-detach-controller' \
  --concurrent-deployment-syncs 2 --concurrent-replicaset-syncs 2 --profiling=false --v 0 \
  >"$DIR/kube-controller-manager.log" 2>&1 &
started kube-controller-manager $!
"$BIN/kube-scheduler" --kubeconfig "$DIR/kubeconfig" \
  --authentication-kubeconfig "$DIR/kubeconfig" --authorization-kubeconfig "$DIR/kubeconfig" \
  --bind-address 127.0.0.1 --secure-port 0 --leader-elect=false --profiling=false --v 0 \
  >"$DIR/kube-scheduler.log" 2>&1 &
started kube-scheduler $!
# Every simulated container "logs" the lines of DIR/pod.log (kwok's ClusterLogs; CRI log format).
for line in 'container started' 'listening on :8080' 'ready'; do
  printf '2026-01-01T00:00:00.000000000Z stdout F %s\n' "$line"
done >"$DIR/pod.log"
cat >"$DIR/kwok.yaml" <<KWOK
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterLogs
metadata:
  name: all-pods
spec:
  logs:
  - logsFile: $DIR/pod.log
    follow: false
---
# Exec into a simulated container runs the program on this machine as nobody (kwok's local exec);
# the tests only ever run what the exec allowlist admits.
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterExec
metadata:
  name: all-pods
spec:
  execs:
  - local:
      workDir: /tmp
      securityContext:
        runAsUser: 65534
        runAsGroup: 65534
KWOK
"$BIN/kwok" --config "$DIR/kwok.yaml" --kubeconfig "$DIR/kubeconfig" \
  --tls-cert-file "$pki/kubelet.crt" --tls-private-key-file "$pki/kubelet.key" \
  --manage-all-nodes=false --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
  --node-ip 127.0.0.1 --node-port "$kwok_port" --server-address "127.0.0.1:$kwok_port" \
  --cidr 10.244.0.0/16 \
  >"$DIR/kwok.log" 2>&1 &
started kwok $!

# ---------------------------------------------------------------- the fake node
node='{"apiVersion":"v1","kind":"Node","metadata":{"name":"kwok-node-0",
 "annotations":{"kwok.x-k8s.io/node":"fake","node.alpha.kubernetes.io/ttl":"0"},
 "labels":{"kubernetes.io/hostname":"kwok-node-0","kubernetes.io/os":"linux","kubernetes.io/arch":"amd64","type":"kwok"}},
 "status":{"allocatable":{"cpu":"32","memory":"256Gi","pods":"110"},"capacity":{"cpu":"32","memory":"256Gi","pods":"110"}}}'
curl -fsS --cacert "$pki/ca.crt" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -X POST "$api/api/v1/nodes" -d "$node" >/dev/null
node_ready() {
  curl -fsS --cacert "$pki/ca.crt" -H "Authorization: Bearer $token" "$api/api/v1/nodes/kwok-node-0" |
    python3 -c 'import json,sys; c=[x for x in json.load(sys.stdin)["status"].get("conditions",[]) if x["type"]=="Ready"]; sys.exit(0 if c and c[0]["status"]=="True" else 1)'
}
wait_for "kwok node" node_ready
# The API server taints a new node not-ready; the node lifecycle controller (disabled here: it would
# evict pods whenever kwok's heartbeats lag on a busy machine) is what removes it. Remove it now.
curl -fsS --cacert "$pki/ca.crt" -H "Authorization: Bearer $token" -H 'Content-Type: application/merge-patch+json' \
  -X PATCH "$api/api/v1/nodes/kwok-node-0" -d '{"spec":{"taints":null}}' >/dev/null
default_sa() {
  curl -fsS --cacert "$pki/ca.crt" -H "Authorization: Bearer $token" "$api/api/v1/namespaces/default/serviceaccounts/default"
}
wait_for "default service account" default_sa
trap - ERR
log "control plane ready at $api (pids in $DIR/pids)"
echo "$DIR/kubeconfig"
