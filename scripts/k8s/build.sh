#!/usr/bin/env bash
# Build a real Kubernetes control plane (kube-apiserver, kube-controller-manager, kube-scheduler),
# etcd and kwok from the Go modules, once per machine, into "$CODE_MCP_CACHE/k8s/<version>/bin".
# Idempotent: exits at once when the binaries are already there. Never writes into the repository.
#
#   scripts/k8s/build.sh            build (or reuse) the default version
#   K8S_VERSION=v1.34.4 scripts/k8s/build.sh
#
# The published k8s.io/kubernetes go.mod lists its staging modules at v0.0.0, so `go install` fails;
# the pattern projects importing Kubernetes use: a tiny wrapper module that requires k8s.io/kubernetes
# and replaces every staging module with its published v0.Y.Z release.
set -euo pipefail
K8S_VERSION="${K8S_VERSION:-v1.34.4}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.4}"
KWOK_VERSION="${KWOK_VERSION:-v0.7.0}"
CACHE="${CODE_MCP_CACHE:-$HOME/.cache/code-mcp}"
OUT="$CACHE/k8s/$K8S_VERSION"
BIN="$OUT/bin"
BINARIES=(kube-apiserver kube-controller-manager kube-scheduler etcd kwok)

log() { echo "[k8s-build] $*" >&2; }

have_all() {
  local b
  for b in "${BINARIES[@]}"; do [[ -x "$BIN/$b" ]] || return 1; done
}

if have_all; then
  log "already built in $BIN"
  exit 0
fi
command -v go >/dev/null || { log "go is required (https://go.dev/dl or Debian golang)"; exit 1; }

export GOMODCACHE="$CACHE/go/mod"
export GOCACHE="$CACHE/go/build"
export GOFLAGS="-buildvcs=false -mod=mod"
export CGO_ENABLED=0
mkdir -p "$BIN" "$GOMODCACHE" "$GOCACHE"
start=$(date +%s)

minor="${K8S_VERSION#v1.}"
staging_version="v0.${minor}"
work="$OUT/src"
mkdir -p "$work/etcd"

# The list of staging modules comes from the kubernetes go.mod itself (its `=> ./staging/...` lines).
go mod download -json "k8s.io/kubernetes@$K8S_VERSION" >"$work/download.json"
gomod="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["GoMod"])' "$work/download.json")"
mapfile -t staging < <(sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$gomod")
[[ ${#staging[@]} -gt 10 ]] || { log "could not read the staging modules from $gomod"; exit 1; }

{
  echo "module code-mcp/k8s-control-plane"
  echo
  echo "go 1.24.0"
  echo
  echo "require ("
  echo "	k8s.io/kubernetes $K8S_VERSION"
  echo "	go.etcd.io/etcd/server/v3 $ETCD_VERSION"
  echo ")"
  echo
  echo "replace ("
  for m in "${staging[@]}"; do echo "	$m => $m $staging_version"; done
  echo ")"
} >"$work/go.mod"

# etcd: a two-line main on the etcd server module (its own go.mod carries replace lines, so
# `go install` refuses it).
cat >"$work/etcd/main.go" <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
# Keep the wrapper's imports visible to `go mod tidy`.
cat >"$work/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
GO

cd "$work"
log "resolving modules for kubernetes $K8S_VERSION (staging $staging_version), etcd $ETCD_VERSION"
go mod tidy >&2
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor%%.*}"
for cmd in kube-apiserver kube-controller-manager kube-scheduler; do
  if [[ ! -x "$BIN/$cmd" ]]; then
    log "building $cmd"
    go build -trimpath -ldflags "$ldflags" -o "$BIN/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd"
    mv "$BIN/$cmd.tmp" "$BIN/$cmd"
  fi
done
if [[ ! -x "$BIN/etcd" ]]; then
  log "building etcd $ETCD_VERSION"
  go build -trimpath -ldflags "-s -w" -o "$BIN/etcd.tmp" ./etcd
  mv "$BIN/etcd.tmp" "$BIN/etcd"
fi
if [[ ! -x "$BIN/kwok" ]]; then
  log "building kwok $KWOK_VERSION"
  GOBIN="$OUT/kwok-bin" GOFLAGS="-buildvcs=false" go install -trimpath -ldflags "-s -w" \
    "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  mv "$OUT/kwok-bin/kwok" "$BIN/kwok"
fi
log "built ${BINARIES[*]} in $(( $(date +%s) - start ))s into $BIN"
