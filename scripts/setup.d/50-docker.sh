#!/usr/bin/env bash
# Deployment server test services, Docker half: a real dockerd (Debian docker.io + containerd + runc)
# and busybox-static, from which the fixtures build a tiny rootfs tarball and import it as an image
# (no registry is reachable). Idempotent: does nothing when every program is already installed.
# The fixtures in tests/integration/deployment/ start dockerd on a private socket and stop it by PID;
# the packages' own systemd units are never used.
set -euo pipefail

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v containerd >/dev/null || need+=(containerd)
command -v runc >/dev/null || need+=(runc)
[[ -x /bin/busybox || -x /usr/bin/busybox ]] || need+=(busybox-static)

if ((${#need[@]} == 0)); then
  exit 0
fi

echo "[setup 50-docker] installing ${need[*]}" >&2
# shellcheck source=scripts/lib/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/apt.sh"
apt_install "${need[@]}"
