#!/usr/bin/env bash
# Stops what the test bed started: the three registries and the token server (by pid file),
# PostgreSQL (testbed/postgres.sh) and the second engine (testbed/second-engine.sh) with its
# bridge. Leaves the main dockerd, every container and image on it, and the state dir
# (storage, logs, keys) alone.
# Wipe the state with `rm -rf "${WATCH_TESTBED_DIR:-/tmp/watchdocker-testbed}"` after this
# if a fresh bed is wanted.
set -euo pipefail

STATE="${WATCH_TESTBED_DIR:-/tmp/watchdocker-testbed}"
RUN="$STATE/run"

stop() { # NAME PIDFILE EXPECTED-CMDLINE-PART [SECONDS-BEFORE-SIGKILL]
    local name=$1 pidfile=$2 expect=$3 wait=${4:-5} pid i
    [[ -f $pidfile ]] || return 0
    pid="$(cat "$pidfile")"
    if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
        tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$expect"; then
        echo "[testbed] stopping $name (pid $pid)" >&2
        kill "$pid" 2>/dev/null || true
        for ((i = 0; i < wait * 10; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "[testbed] $name did not stop on SIGTERM, sending SIGKILL" >&2
            kill -9 "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$pidfile"
}

for name in open basic bearer; do
    stop "registry $name" "$RUN/registry-$name.pid" "docker-registry"
done
stop "token server" "$RUN/token-server.pid" "token_server.py"

# PostgreSQL, through its own pg_ctl (as the user that owns the cluster).
DATA="$STATE/postgres/data"
if [[ -f $DATA/postmaster.pid ]]; then
    BIN="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)"
    owner="$(stat -c %U "$DATA")"
    as_owner=()
    [[ $owner != "$(id -un)" ]] && as_owner=(runuser -u "$owner" --)
    if "${as_owner[@]}" "$BIN/pg_ctl" status -D "$DATA" >/dev/null 2>&1; then
        echo "[testbed] stopping PostgreSQL" >&2
        "${as_owner[@]}" "$BIN/pg_ctl" stop -D "$DATA" -m fast -w -t 60 >/dev/null
    fi
fi

# The second engine, then its bridge.
ENGINE2="$STATE/engine2"
stop "second engine" "$ENGINE2/docker.pid" "$ENGINE2" 60  # it stops its containers first
if ip link show wdt-br2 >/dev/null 2>&1; then
    ip link del wdt-br2 2>/dev/null || true
fi
