#!/usr/bin/env bash
# Deployment server test services, Kubernetes half: kube-apiserver, kube-controller-manager,
# kube-scheduler, etcd and kwok built from the Go modules into "$CODE_MCP_CACHE/k8s/<version>/bin"
# (scripts/k8s/build.sh; skipped when already built). Needs Go >= 1.24: when the machine has none,
# the Go toolchain is fetched once from the Go module proxy (it is published there as the module
# golang.org/toolchain) into "$CODE_MCP_CACHE/go-toolchain". Also needs openssl and curl, which
# scripts/k8s/start.sh uses.
set -euo pipefail
# shellcheck source=scripts/lib/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/apt.sh"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${CODE_MCP_CACHE:-$HOME/.cache/code-mcp}"
GO_TOOLCHAIN_VERSION="${GO_TOOLCHAIN_VERSION:-1.25.5}"
log() { echo "[setup 60-k8s] $*" >&2; }

need=()
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl)
command -v unzip >/dev/null || need+=(unzip)
if ((${#need[@]})); then
  apt_install "${need[@]}"
fi

go_ok() {
  command -v go >/dev/null || return 1
  local v
  v="$(go env GOVERSION 2>/dev/null | sed 's/^go//')"
  [[ "$(printf '%s\n' 1.24 "$v" | sort -V | head -1)" == 1.24 ]]
}
if ! go_ok; then
  [[ -x /usr/local/go/bin/go ]] && export PATH="/usr/local/go/bin:$PATH"
fi
if ! go_ok; then
  toolchain="$CACHE/go-toolchain/go$GO_TOOLCHAIN_VERSION"
  if [[ ! -x "$toolchain/bin/go" ]]; then
    log "fetching Go $GO_TOOLCHAIN_VERSION from the Go module proxy"
    mkdir -p "$CACHE/go-toolchain"
    zip="$CACHE/go-toolchain/go$GO_TOOLCHAIN_VERSION.zip"
    curl -fsSL -o "$zip" \
      "https://proxy.golang.org/golang.org/toolchain/@v/v0.0.1-go$GO_TOOLCHAIN_VERSION.linux-amd64.zip"
    rm -rf "$toolchain.tmp" && mkdir -p "$toolchain.tmp"
    unzip -q "$zip" -d "$toolchain.tmp"
    mv "$toolchain.tmp/golang.org/toolchain@v0.0.1-go$GO_TOOLCHAIN_VERSION.linux-amd64" "$toolchain"
    chmod +x "$toolchain"/bin/* "$toolchain"/pkg/tool/*/* 2>/dev/null || true
    rm -rf "$toolchain.tmp" "$zip"
  fi
  export PATH="$toolchain/bin:$PATH"
fi

nice -n 10 bash "$ROOT/scripts/k8s/build.sh"
