#!/usr/bin/env bash
# The project's one test command: installs what the tests need, brings the test bed up
# (Docker engine, registries, token server: testbed/up.sh), then lint and the whole suite.
#   bash testbed/run-tests.sh [pytest args]      e.g. -m "not integration" for unit tests only
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ ! -x .venv/bin/python ]]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]" 2>&1 \
    | grep -v "^WARNING: Location" || true

eval "$(bash testbed/up.sh)"

.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/python -m pytest "$@"
