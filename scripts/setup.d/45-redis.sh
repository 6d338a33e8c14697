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
export DEBIAN_FRONTEND=noninteractive
SUDO=()
[[ $(id -u) -eq 0 ]] || SUDO=(sudo)
# policy-rc.d keeps the package's postinst from starting a Redis on the host.
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
  "${SUDO[@]}" chmod +x /usr/sbin/policy-rc.d
  trap '"${SUDO[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
fi
if ! "${SUDO[@]}" apt-get install -y -qq --no-install-recommends redis-server >&2; then
  "${SUDO[@]}" apt-get update -qq >&2
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends redis-server >&2
fi
command -v redis-server >/dev/null
