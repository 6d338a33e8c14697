#!/usr/bin/env bash
# The MCP Apps view tests' browser: Debian's Chromium, run headless by tests/support/browser.py to
# render each ui:// view with a real tool result. Idempotent: nothing to do once it is installed.
set -euo pipefail
command -v chromium >/dev/null && exit 0
echo "[setup 85-browser] installing chromium" >&2
# shellcheck source=scripts/lib/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/apt.sh"
apt_install chromium
