#!/usr/bin/env bash
# Refreshes requirements.lock: the newest versions pyproject.toml allows, installed in a new
# environment, kept only when the whole suite passes with them (the suite is the gate).
#   bash testbed/refresh-lock.sh [pytest args]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[test]" 2>&1 \
    | grep -v "^WARNING: Location" || true
{
    sed -n '1,/^#   bash testbed\/refresh-lock.sh/p' requirements.lock
    "$work/venv/bin/python" -m pip freeze --exclude-editable --disable-pip-version-check
} > "$work/requirements.lock"
echo "refresh-lock: testing with the new versions:" >&2
diff requirements.lock "$work/requirements.lock" >&2 || true
WATCH_VENV="$work/venv" WATCH_LOCK="$work/requirements.lock" bash testbed/run-tests.sh "$@"
cp "$work/requirements.lock" requirements.lock
echo "refresh-lock: the suite passed; requirements.lock updated" >&2
