#!/usr/bin/env bash
# The project's one test command: installs what the tests need at the versions of
# requirements.lock, brings the test bed up (Docker engine, registries, token server:
# testbed/up.sh), then lint, the type check and the whole suite.
#   bash testbed/run-tests.sh [pytest args]      e.g. -m "not integration" for unit tests only
# pytest runs in 3 workers (pytest-xdist), a test file per worker at a time, the tests marked
# `exclusive` first and each alone (tests/exclusive.py); `-n 0` runs it in one process.
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
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -c "$LOCK" -e ".[test]" 2>&1 \
    | grep -v "^WARNING: Location" || true

# watch-docker's own modules compiled once: the suite starts many Python processes
# (CLI commands, serves, flow runs), and where PYTHONDONTWRITEBYTECODE is set each of them
# compiled every module it imports (~0.25 s of CPU each).
"$VENV/bin/python" -m compileall -q watchdocker

export WATCH_TESTBED_PYTHON="$VENV/bin/python"
eval "$(bash testbed/up.sh)"

"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
"$VENV/bin/mypy"  # watchdocker/, as [tool.mypy] in pyproject.toml says
exec "$VENV/bin/python" -m pytest -n 3 --dist loadfile --no-loadscope-reorder "$@"
