#!/usr/bin/env bash
# The project's one test command: installs what the tests need at the versions of
# requirements.lock, brings the test bed up (Docker engine, registries, token server:
# testbed/up.sh), then lint and the whole suite, with the type check beside it.
#   bash testbed/run-tests.sh [pytest args]      e.g. -m "not integration" for unit tests only
# pytest runs in 3 workers (pytest-xdist), a test file per worker at a time: the tests marked
# `quiet` first, beside each other only, then those marked `exclusive`, each alone
# (tests/exclusive.py); `-n 0` runs it in one process.
# WATCH_VENV (default .venv) and WATCH_LOCK (default requirements.lock) are for
# testbed/refresh-lock.sh, which runs the suite in a new environment against a new lock.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV="${WATCH_VENV:-.venv}"
LOCK="${WATCH_LOCK:-requirements.lock}"
export WATCH_LOCK="$LOCK"

if [[ ! -x $VENV/bin/python ]]; then
    python3 -m venv "$VENV"
fi
# Compiled below, on every core: pip compiles one file at a time (15 s more on a new venv).
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-compile -c "$LOCK" \
    -e ".[test]" 2>&1 | grep -v "^WARNING: Location" || true
# Compiled once, watch-docker's own modules too: the suite starts many Python processes (CLI
# commands, serves, flow runs), and where PYTHONDONTWRITEBYTECODE is set each of them compiled
# every module it imported that had no .pyc (~0.5 s of CPU for serve's).
"$VENV/bin/python" -m compileall -q -j 0 watchdocker \
    "$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"

export WATCH_TESTBED_PYTHON="$VENV/bin/python"
eval "$(bash testbed/up.sh)"

"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
# The type check (watchdocker/, as [tool.mypy] in pyproject.toml says) runs beside the tests:
# half a minute of one core that the suite no longer waits for; its verdict comes at the end.
types_log=$(mktemp)
trap 'rm -f "$types_log"' EXIT
"$VENV/bin/mypy" > "$types_log" 2>&1 &
types=$!
status=0
"$VENV/bin/python" -m pytest -n 3 --dist loadfile --no-loadscope-reorder "$@" || status=$?
wait "$types" || status=$(( status ? status : 1 ))
cat "$types_log"
exit "$status"
