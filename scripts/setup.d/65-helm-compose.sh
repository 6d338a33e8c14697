#!/usr/bin/env bash
# Deployment server test tools: the helm CLI (Go module helm.sh/helm/v4) and Docker Compose
# (Go module github.com/docker/compose/v5), built once per machine from the Go module proxy into
#   "$CODE_MCP_CACHE/helm/<version>/bin/helm"
#   "$CODE_MCP_CACHE/compose/<version>/bin/docker-compose"
# and the compose binary linked as a docker CLI plugin at ~/.docker/cli-plugins/docker-compose
# (Debian's docker-compose is the obsolete Python 1.29). Idempotent: skips each build when its binary
# is already there. Never writes into the repository. helm builds with a plain
# `go install helm.sh/helm/v4/cmd/helm@version`; compose's go.mod carries exclude directives, which
# `go install pkg@version` refuses, so it builds in a wrapper module (scripts/lib/go.sh).
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
# shellcheck source=scripts/lib/go.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/go.sh"

if [[ ! -x $HELM_BIN || ! -x $COMPOSE_BIN ]]; then
  # helm v4.3.2 needs go >= 1.26.0 and compose v5.6.0 go >= 1.26.8 (GOTOOLCHAIN=auto fetches it).
  go_setup
  mkdir -p "$(dirname "$HELM_BIN")" "$(dirname "$COMPOSE_BIN")"
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
  # The Makefile's GO_LDFLAGS (its default build tag, e2e, changes nothing outside tests).
  mod="github.com/docker/compose/v5"
  go_wrapper_build "$mod" "$COMPOSE_VERSION" "$mod/cmd" "-s -w -X $mod/internal.Version=$COMPOSE_VERSION" \
    "$COMPOSE_BIN"
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
