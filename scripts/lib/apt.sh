# shellcheck shell=bash
# apt_install PKG...: install Debian packages non-interactively, without letting their postinst
# scripts start services on the host (policy-rc.d), refreshing the package lists once if needed.
apt_install() {
  (($# > 0)) || return 0
  local sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  local made_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${sudo[@]}" chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  local status=0
  if ! DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@" >&2; then
    "${sudo[@]}" apt-get update -qq >&2 || true
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@" >&2 || status=$?
  fi
  ((made_policy == 0)) || "${sudo[@]}" rm -f /usr/sbin/policy-rc.d
  return "$status"
}
