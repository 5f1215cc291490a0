#!/usr/bin/env bash
# Installs Debian's `chromium` (/usr/bin/chromium) for the headless UI test
# (tests/integration/test_ui.py), when it is missing. Idempotent; a second run does nothing.
# Progress goes to stderr: stdout stays clean (testbed/up.sh's stdout carries only exports).
set -euo pipefail

log() { printf '[testbed] %s\n' "$*" >&2; }

if dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q 'install ok installed' &&
    [[ -x /usr/bin/chromium ]]; then
    exit 0
fi

log "installing Debian package: chromium"
export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
# one apt at a time: up.sh may be installing its own packages from another process
apt_get() { apt-get -o DPkg::Lock::Timeout=300 "$@"; }
apt_get update -qq >&2
apt_get install -y -qq --no-install-recommends chromium >&2 </dev/null
/usr/bin/chromium --version >&2
