#!/usr/bin/env bash
# Independent MCP clients for tests/conformance, idempotently:
#   - npm: @modelcontextprotocol/conformance (needs Node 22: npm's `node` package ships the binary),
#     @modelcontextprotocol/inspector-cli and @modelcontextprotocol/sdk, pinned by
#     tests/conformance/ts_client/package-lock.json, installed with `npm ci` into
#     $CODE_MCP_CACHE/conformance/<lock hash>/node_modules and linked as the (git-ignored)
#     tests/conformance/ts_client/node_modules;
#   - PyPI: the agent frameworks (pydantic-ai, openai-agents; langchain-mcp-adapters) in their own
#     virtualenvs under $CODE_MCP_CACHE (agents, agents-langchain), never in the project's .venv.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${CODE_MCP_CACHE:-$HOME/.cache/code-mcp}"
CLIENT="$ROOT/tests/conformance/ts_client"
log() { echo "[setup:conformance] $*" >&2; }

command -v npm >/dev/null || {
  log "installing Node.js and npm (Debian)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >&2
}

lock_hash="$(cat "$CLIENT/package.json" "$CLIENT/package-lock.json" | sha256sum | cut -c1-16)"
target="$CACHE/conformance/$lock_hash"
if [[ ! -f $target/.installed ]]; then
  log "npm ci into $target"
  rm -rf "$target" && mkdir -p "$target"
  cp "$CLIENT/package.json" "$CLIENT/package-lock.json" "$target/"
  # --foreground-scripts: the `node` package's install script fetches the Node 22 binary.
  (cd "$target" && nice -n 10 npm ci --no-audit --no-fund --foreground-scripts --loglevel=error >&2)
  "$target/node_modules/.bin/node" --version | grep -q '^v22\.' || { log "Node 22 did not install"; exit 1; }
  touch "$target/.installed"
fi
if [[ "$(readlink "$CLIENT/node_modules" 2>/dev/null)" != "$target/node_modules" ]]; then
  rm -rf "$CLIENT/node_modules"
  ln -s "$target/node_modules" "$CLIENT/node_modules"
fi
log "npm clients ready ($("$CLIENT/node_modules/.bin/node" --version))"

# Agent frameworks, each set pinned in its own virtualenv: pydantic-ai (on FastMCP) and the OpenAI
# Agents SDK run on mcp 2.x; langchain-mcp-adapters 0.3 imports mcp 1.x names, so it gets mcp 1.30.
# None of them goes into the project's virtualenv (langsmith would also add a pytest plugin there).
agent_venv() {
  local venv="$CACHE/$1"; shift
  local want; want="$(printf '%s\n' "$@")"
  if [[ -f $venv/.code-mcp-pins && "$(cat "$venv/.code-mcp-pins")" == "$want" ]]; then
    log "$venv up to date"; return
  fi
  log "installing $* into $venv"
  [[ -x $venv/bin/python ]] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip >&2
  nice -n 10 "$venv/bin/python" -m pip install -q "$@" >&2
  printf '%s\n' "$want" >"$venv/.code-mcp-pins"
}
agent_venv agents "pydantic-ai-slim[mcp]==2.68.0" "openai-agents==0.24.0" "mcp==2.3.0"
agent_venv agents-langchain "langchain-mcp-adapters==0.3.1" "mcp==1.30.0"
