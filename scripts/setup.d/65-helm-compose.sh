#!/usr/bin/env bash
# Deployment server test tools: the helm CLI (Go module helm.sh/helm/v4) and Docker Compose
# (Go module github.com/docker/compose/v5), built once per machine from the Go module proxy into
#   "$CODE_MCP_CACHE/helm/<version>/bin/helm"
#   "$CODE_MCP_CACHE/compose/<version>/bin/docker-compose"
# and the compose binary linked as a docker CLI plugin at ~/.docker/cli-plugins/docker-compose
# (Debian's docker-compose is the obsolete Python 1.29). Idempotent: skips each build when its binary
# is already there. Never writes into the repository. helm builds with a plain
# `go install helm.sh/helm/v4/cmd/helm@version`; compose's go.mod carries exclude directives, which
# `go install pkg@version` refuses, so it builds in a tiny wrapper module (as scripts/k8s/build.sh
# does for Kubernetes) that requires compose, copies its excludes and starts from its go.sum, so the
# selected dependency versions are exactly compose's own.
#
#   HELM_VERSION=v4.3.2 COMPOSE_VERSION=v5.6.0 scripts/setup.d/65-helm-compose.sh
set -euo pipefail
CACHE="${CODE_MCP_CACHE:-$HOME/.cache/code-mcp}"
HELM_VERSION="${HELM_VERSION:-v4.3.2}"
COMPOSE_VERSION="${COMPOSE_VERSION:-v5.6.0}"
HELM_BIN="$CACHE/helm/$HELM_VERSION/bin/helm"
COMPOSE_BIN="$CACHE/compose/$COMPOSE_VERSION/bin/docker-compose"
PLUGIN_DIR="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
log() { echo "[setup 65-helm-compose] $*" >&2; }

# go_install PKG@VERSION LDFLAGS DEST: build one command with the machine's Go into DEST (atomically).
go_install() {
  local pkg="$1" ldflags="$2" dest="$3" tmp start
  tmp="$(dirname "$dest")/.gobin.tmp"
  rm -rf "$tmp" && mkdir -p "$tmp"
  start=$(date +%s)
  log "building ${dest##*/} from $pkg ($(go env GOVERSION))"
  GOBIN="$tmp" nice -n 10 go install -trimpath -ldflags "$ldflags" "$pkg"
  local built=("$tmp"/*)
  [[ ${#built[@]} -eq 1 && -x ${built[0]} ]] || { log "go install left no single binary in $tmp"; exit 1; }
  mv "${built[0]}" "$dest"
  rm -rf "$tmp"
  log "built $dest in $(($(date +%s) - start))s"
}

if [[ ! -x $HELM_BIN || ! -x $COMPOSE_BIN ]]; then
  if [[ -x /usr/local/go/bin/go ]]; then
    export PATH="/usr/local/go/bin:$PATH"
  elif ! command -v go >/dev/null; then
    # The toolchain 60-k8s.sh fetches when the machine has no Go.
    for g in "$CACHE"/go-toolchain/go*/bin/go; do [[ -x $g ]] && export PATH="${g%/go}:$PATH"; done
  fi
  command -v go >/dev/null || { log "go is required (https://go.dev/dl, or run 60-k8s.sh first)"; exit 1; }
  export GOMODCACHE="$CACHE/go/mod"
  export GOCACHE="$CACHE/go/build"
  # `go install pkg@version` refuses -mod (the compose wrapper build adds -mod=mod).
  export GOFLAGS="-buildvcs=false"
  export CGO_ENABLED=0
  # helm v4.3.2 needs go >= 1.26.0 and compose v5.6.0 go >= 1.26.8: with "auto" an older Go fetches
  # the required toolchain from the Go module proxy (into GOMODCACHE) instead of failing.
  export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
  mkdir -p "$GOMODCACHE" "$GOCACHE" "$(dirname "$HELM_BIN")" "$(dirname "$COMPOSE_BIN")"
fi

if [[ -x $HELM_BIN ]]; then
  log "helm $HELM_VERSION already built: $HELM_BIN"
else
  # The Makefile's ldflags for a tag build: version set, metadata empty (so no "+unreleased").
  go_install "helm.sh/helm/v4/cmd/helm@$HELM_VERSION" \
    "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION -X helm.sh/helm/v4/internal/version.metadata= -X helm.sh/helm/v4/internal/version.gitTreeState=clean" \
    "$HELM_BIN"
fi

if [[ -x $COMPOSE_BIN ]]; then
  log "docker compose $COMPOSE_VERSION already built: $COMPOSE_BIN"
else
  start=$(date +%s)
  mod="github.com/docker/compose/v5"
  work="$CACHE/compose/$COMPOSE_VERSION/src"
  rm -rf "$work" && mkdir -p "$work"
  log "fetching $mod@$COMPOSE_VERSION"
  dir="$(go mod download -json "$mod@$COMPOSE_VERSION" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
  [[ -f $dir/go.mod && -f $dir/go.sum ]] || { log "no go.mod/go.sum in $dir"; exit 1; }
  # Its go version, then its exclude directives as path@version.
  mapfile -t meta < <(go mod edit -json "$dir/go.mod" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d["Go"])
for e in d.get("Exclude") or []:
    print(e["Path"] + "@" + e["Version"])')
  [[ ${#meta[@]} -ge 1 && -n ${meta[0]} ]] || { log "could not read $dir/go.mod"; exit 1; }
  printf 'module code-mcp/docker-compose\n\ngo %s\n\nrequire %s %s\n' \
    "${meta[0]}" "$mod" "$COMPOSE_VERSION" >"$work/go.mod"
  for e in "${meta[@]:1}"; do go mod edit -exclude="$e" "$work/go.mod"; done
  cp "$dir/go.sum" "$work/go.sum"
  # Keep the command's import visible to `go mod tidy`.
  printf '//go:build tools\n\npackage tools\n\nimport _ "%s/cmd"\n' "$mod" >"$work/tools.go"
  (
    cd "$work"
    export GOFLAGS="-buildvcs=false -mod=mod"
    log "resolving modules for compose $COMPOSE_VERSION"
    go mod tidy >&2
    log "building docker-compose ($(go env GOVERSION))"
    # The Makefile's GO_LDFLAGS (its default build tag, e2e, changes nothing outside tests).
    nice -n 10 go build -trimpath -ldflags "-s -w -X $mod/internal.Version=$COMPOSE_VERSION" \
      -o "$COMPOSE_BIN.tmp" "$mod/cmd"
  )
  mv "$COMPOSE_BIN.tmp" "$COMPOSE_BIN"
  log "built $COMPOSE_BIN in $(($(date +%s) - start))s"
fi

# The docker CLI finds plugins in $DOCKER_CONFIG/cli-plugins (default ~/.docker/cli-plugins).
plugin="$PLUGIN_DIR/docker-compose"
if [[ -e $plugin && ! -L $plugin ]]; then
  log "$plugin is a file, not our link: left alone (call $COMPOSE_BIN directly)"
elif [[ "$(readlink "$plugin" 2>/dev/null || true)" != "$COMPOSE_BIN" ]]; then
  mkdir -p "$PLUGIN_DIR"
  ln -sfn "$COMPOSE_BIN" "$plugin"
  log "linked $plugin -> $COMPOSE_BIN"
fi
