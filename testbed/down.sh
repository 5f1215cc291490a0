#!/usr/bin/env bash
# Stops what testbed/up.sh started: the three registries and the token server, by pid file.
# Leaves dockerd, every container and image, and the state dir (storage, logs, keys) alone.
# Wipe the state with `rm -rf "${WATCH_TESTBED_DIR:-/tmp/watchdocker-testbed}"` after this
# if a fresh bed is wanted.
set -euo pipefail

STATE="${WATCH_TESTBED_DIR:-/tmp/watchdocker-testbed}"
RUN="$STATE/run"

stop() { # NAME PIDFILE EXPECTED-CMDLINE-PART
    local name=$1 pidfile=$2 expect=$3 pid i
    [[ -f $pidfile ]] || return 0
    pid="$(cat "$pidfile")"
    if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
        tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$expect"; then
        echo "[testbed] stopping $name (pid $pid)" >&2
        kill "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
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
