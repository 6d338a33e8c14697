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
