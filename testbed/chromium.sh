#!/usr/bin/env bash
# Installs Debian's `chromium` (/usr/bin/chromium) for the headless UI test
# (tests/integration/test_ui.py), when it is missing. Idempotent; a second run does nothing.
# Progress goes to stderr: stdout stays clean (testbed/up.sh's stdout carries only exports).
set -euo pipefail

# shellcheck source=testbed/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

install_missing --no-install-recommends -- chromium
[[ -x /usr/bin/chromium ]] || die "chromium is installed but /usr/bin/chromium is missing"
