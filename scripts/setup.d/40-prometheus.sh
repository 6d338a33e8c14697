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
# shellcheck source=scripts/lib/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/apt.sh"
apt_install "${need[@]}"
