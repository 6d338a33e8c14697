#!/usr/bin/env bash
# The tracing tests' OTLP receiver: Jaeger (Go module github.com/jaegertracing/jaeger, its v2
# binary cmd/jaeger, an OpenTelemetry Collector distribution with in-memory trace storage and a query
# API), built once per machine from the Go module proxy into
#   "$CODE_MCP_CACHE/jaeger/<version>/bin/jaeger"
# Its go.mod carries a replace directive, so it builds in a wrapper module (scripts/lib/go.sh).
# Idempotent; never writes into the repository.
#
#   JAEGER_VERSION=v1.75.0 scripts/setup.d/67-jaeger.sh
set -euo pipefail
CACHE="${CODE_MCP_CACHE:-$HOME/.cache/code-mcp}"
JAEGER_VERSION="${JAEGER_VERSION:-v1.75.0}"
JAEGER_BIN="$CACHE/jaeger/$JAEGER_VERSION/bin/jaeger"
# shellcheck source=scripts/lib/go.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/go.sh"

if [[ -x $JAEGER_BIN ]]; then
  echo "[setup 67-jaeger] jaeger $JAEGER_VERSION already built: $JAEGER_BIN" >&2
  exit 0
fi
go_setup
mod="github.com/jaegertracing/jaeger"
go_wrapper_build "$mod" "$JAEGER_VERSION" "$mod/cmd/jaeger" "-s -w" "$JAEGER_BIN"
