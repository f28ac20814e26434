# Shared helpers for the setup and test scripts. Source it; do not run it.
# shellcheck shell=bash

TESSERA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export TESSERA_ROOT

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# as_root CMD...: run CMD as root (directly when we are root, else through sudo).
as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

_apt_updated=""
# need_debs PKG...: install the Debian packages that are not installed yet.
need_debs() {
    local missing=()
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ -z "$_apt_updated" ]; then
        log "apt-get update"
        as_root apt-get update -q >/dev/null
        _apt_updated=1
    fi
    log "installing Debian packages: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}
