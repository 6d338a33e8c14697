#!/usr/bin/env bash
# Scale-out tests: redis-server from Debian, and the Python Redis client in the venv.
# Idempotent: does nothing when both are present. The fixture in tests/integration/scale/ starts
# redis-server on a free loopback port and stops it by PID; the package's own service is never used.
set -euo pipefail

if ! python -c 'import redis' 2>/dev/null; then
  # Until the lead adds "redis>=5,<9" to the project dependencies (shared/redis_limiter.py imports it).
  echo "[setup 45-redis] installing the redis client" >&2
  python -m pip install -q "redis>=5,<9" >&2
fi

command -v redis-server >/dev/null && exit 0

echo "[setup 45-redis] installing redis-server" >&2
# shellcheck source=scripts/lib/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/apt.sh"
apt_install redis-server
command -v redis-server >/dev/null
