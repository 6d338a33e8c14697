#!/usr/bin/env bash
# What rust_core's gates need beyond `pip install -e .` (idempotent, fast when done):
# the clippy and rustfmt components, and the crate's locked dependencies fetched from crates.io
# (so `cargo clippy` / `cargo test` never resolve anew and fail late).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
for tool in clippy fmt; do
  if ! cargo "$tool" --version >/dev/null 2>&1; then
    if command -v rustup >/dev/null; then
      echo "[setup] adding the rust $tool component" >&2
      rustup component add "$([[ $tool == fmt ]] && echo rustfmt || echo clippy)" >&2
    else
      echo "[setup] cargo $tool is missing and rustup is not installed: install the Rust toolchain with rustup" >&2
      exit 1
    fi
  fi
done
(cd "$ROOT/rust_core" && cargo fetch --locked -q)
