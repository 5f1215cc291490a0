# shellcheck shell=bash
# Sourced by the test bed's scripts: timed progress on stderr, and Debian packages installed
# only when missing. Set TB_NAME before sourcing to name the script in its messages.
T0=${EPOCHREALTIME/[.,]/}
log() {
    local ms=$(((${EPOCHREALTIME/[.,]/} - T0) / 1000))
    printf '[%s %d.%03ds] %s\n' "${TB_NAME:-testbed}" $((ms / 1000)) $((ms % 1000)) "$*" >&2
}
die() { printf '[%s] ERROR: %s\n' "${TB_NAME:-testbed}" "$*" >&2; exit 1; }

pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

# install_missing [apt-get install options --] PACKAGE... : apt-get update and install, only for
# the packages not installed yet. One apt at a time: scripts may run side by side.
install_missing() {
    local options=() missing=() p
    if [[ " $* " == *" -- "* ]]; then
        while [[ $1 != -- ]]; do options+=("$1"); shift; done
        shift
    fi
    for p in "$@"; do pkg_installed "$p" || missing+=("$p"); done
    ((${#missing[@]})) || return 0
    ((EUID == 0)) || die "not root, and these Debian packages are missing: ${missing[*]}"
    log "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
    apt-get -o DPkg::Lock::Timeout=300 update -qq >&2
    apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${options[@]}" "${missing[@]}" >&2 </dev/null
}
