#!/usr/bin/env bash
# The container-image test's base image. No registry is reachable, so `python:3.11-slim-bookworm`
# is stood in for by a Debian bookworm root filesystem made here with debootstrap (minbase + python3,
# python3-venv, ca-certificates, passwd), saved as a tarball in "$CODE_MCP_CACHE/images" that the
# test imports into its dockerd. Its apt sources cover bookworm, bookworm-updates and
# bookworm-security, and it trusts this machine's extra CA certificates (those under
# /usr/local/share/ca-certificates, e.g. an egress proxy's), so apt, pip and cargo inside a build
# reach the same registries as the host. The Rust stand-in is built from it by the test
# (tests/integration/scale/rust-base.Dockerfile). Once per machine (~1-2 min); needs root.
set -euo pipefail
# shellcheck source=scripts/lib/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/apt.sh"
CACHE="${CODE_MCP_CACHE:-$HOME/.cache/code-mcp}"
OUT="$CACHE/images/bookworm-python3.tar"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PACKAGES="python3,python3-venv,ca-certificates,passwd"
RECIPE="bookworm minbase $PACKAGES $MIRROR $(cat /usr/local/share/ca-certificates/*.crt 2>/dev/null | sha256sum | cut -c1-16)"
log() { echo "[setup 55-base-image] $*" >&2; }

if [[ -f $OUT && -f $OUT.recipe && "$(cat "$OUT.recipe")" == "$RECIPE" ]]; then
  log "base image rootfs up to date: $OUT"
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  log "debootstrap needs root: not building $OUT (the container-image test will say so)"
  exit 0
fi
command -v debootstrap >/dev/null || apt_install debootstrap
mkdir -p "$CACHE/images"
work="$(mktemp -d "$CACHE/images/rootfs.XXXXXX")"
trap 'rm -rf "$work"' EXIT
log "debootstrap bookworm into $work (once per machine)"
nice -n 10 debootstrap --variant=minbase --include="$PACKAGES" bookworm "$work/rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
  || { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
rootfs="$work/rootfs"
cat >"$rootfs/etc/apt/sources.list" <<SOURCES
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb ${MIRROR%/debian}/debian-security bookworm-security main
SOURCES
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
  chroot "$rootfs" update-ca-certificates >/dev/null
fi
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/log/*.log
tar -C "$rootfs" --numeric-owner -cf "$OUT.tmp" .
mv "$OUT.tmp" "$OUT"
printf '%s' "$RECIPE" >"$OUT.recipe"
log "wrote $OUT ($(du -h "$OUT" | cut -f1))"
