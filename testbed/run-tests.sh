#!/usr/bin/env bash
# The project's one test command: installs what the tests need at the versions of
# requirements.lock, brings the test bed up (Docker engine, registries, token server:
# testbed/up.sh), then lint and the whole suite, with the type check beside it.
#   bash testbed/run-tests.sh [pytest args]      e.g. -m "not integration" for unit tests only
# pytest runs as two sessions at once, each in 3 workers (pytest-xdist), a test file per worker
# at a time: the tests marked `quiet` or `exclusive` (the quiet ones beside each other, then the
# exclusive ones each alone: tests/exclusive.py), which bound times but mostly wait; and the
# others under `nice`, which take the CPU the first leave. `-n 0` runs each in one process.
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
# pytest's assertion rewriting of the test modules, written once beside the test bed's start
# (which mostly waits): where PYTHONDONTWRITEBYTECODE is set pytest reads what it rewrote but
# writes nothing, and each of the six workers rewrote every module, ~8 s of CPU each.
env -u PYTHONDONTWRITEBYTECODE "$VENV/bin/python" -m pytest --collect-only -q > /dev/null 2>&1 &
rewritten=$!
# The cache of migrated Prefect databases (embedded_server) that both sessions start their
# servers from (tests/conftest.py), its template made here too: at a session's start, each of
# the first servers of its workers migrated a database of its own at once (~12 s of CPU each),
# and serves started then took over two minutes (a suite run).
cache=$(mktemp -d)
prefect_home=$(mktemp -d)
types_log=$(mktemp)
timed_log=$(mktemp)
trap 'rm -rf "$cache" "$prefect_home" "$types_log" "$timed_log"' EXIT
XDG_CACHE_HOME="$cache" PREFECT_HOME="$prefect_home" "$VENV/bin/python" -c \
    'import os, pathlib; from watchdocker.deployments.embedded_server import migrate_once
migrate_once(pathlib.Path(os.environ["PREFECT_HOME"]))' &
migrated=$!
eval "$(bash testbed/up.sh)"
wait "$rewritten" || true  # a module that does not import fails in the sessions below
wait "$migrated"
export WATCH_TESTBED_CACHE="$cache"

"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
# The type check (watchdocker/, as [tool.mypy] in pyproject.toml says) runs beside the tests:
# half a minute of one core that the suite no longer waits for; its verdict comes at the end.
"$VENV/bin/mypy" > "$types_log" 2>&1 &
types=$!
# Each session its own run id (they would share one the caller set).
run_id="${WATCH_TEST_RUN_ID:-}"
session() {  # kinds, then pytest's arguments
    local kinds=$1
    shift
    WATCH_TEST_RUN_ID="${run_id:+$run_id${kinds:0:1}}" "$VENV/bin/python" -m pytest -n 3 \
        --dist loadfile --no-loadscope-reorder --kinds "$kinds" "$@"
}
# Two exit statuses as one: 5 (no test selected, as when the arguments name only tests of the
# other session) counts only when both are 5.
either() {
    if (( $1 == 5 )); then echo "$2"; elif (( $2 == 5 || $1 != 0 )); then echo "$1"; else echo "$2"; fi
}
# The timed session's output comes as one block when it ends, and its last line again at the end.
(
    code=0
    session quiet,exclusive "$@" > "$timed_log" 2>&1 || code=$?
    printf '\n==== the quiet and exclusive tests (exit %s) ====\n' "$code"
    cat "$timed_log"
    printf '==== end of the quiet and exclusive tests ====\n'
    exit "$code"
) &
timed=$!
shared_status=0
(
    renice -n 10 -p "$BASHPID" > /dev/null
    session shared "$@"
) || shared_status=$?
timed_status=0
wait "$timed" || timed_status=$?
echo "the quiet and exclusive tests: $(tail -n 1 "$timed_log")"
status=$(either "$timed_status" "$shared_status")
wait "$types" || status=$(( status ? status : 1 ))
cat "$types_log"
exit "$status"
