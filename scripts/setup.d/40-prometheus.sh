#!/usr/bin/env bash
# Monitoring test services: Prometheus, node-exporter, pushgateway and Alertmanager from Debian.
# Idempotent: does nothing when every program is already installed. The fixtures in
# tests/integration/monitoring/ start them on free loopback ports and stop them by PID; the Debian
# packages' own systemd units are never used (and are not started here: no systemd in CI).
set -euo pipefail

need=()
command -v prometheus >/dev/null || need+=(prometheus)
command -v prometheus-node-exporter >/dev/null || need+=(prometheus-node-exporter)
command -v prometheus-pushgateway >/dev/null || need+=(prometheus-pushgateway)
command -v prometheus-alertmanager >/dev/null || need+=(prometheus-alertmanager)

if ((${#need[@]} == 0)); then
  exit 0
fi

echo "[setup 40-prometheus] installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
SUDO=()
[[ $(id -u) -eq 0 ]] || SUDO=(sudo)
# policy-rc.d keeps the packages' postinst scripts from starting services on the host.
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
  "${SUDO[@]}" chmod +x /usr/sbin/policy-rc.d
  trap '"${SUDO[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
fi
if ! "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >&2; then
  "${SUDO[@]}" apt-get update -qq >&2
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi
