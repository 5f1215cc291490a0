#!/usr/bin/env bash
# A second Docker engine beside the first, for the fleet tests: its own socket, data root,
# exec root (and so its own managed containerd), pidfile, and its own pre-created bridge.
# `--bridge none` would delete the first engine's docker0, hence the bridge of its own.
# Idempotent; prints `export WATCH_TESTBED_ENGINE2=unix://...` on stdout, progress on stderr.
set -euo pipefail
STATE="${WATCH_TESTBED_DIR:-/tmp/watchdocker-testbed}/engine2"
SOCK="$STATE/docker.sock"
BRIDGE=wdt-br2
mkdir -p "$STATE"

if ! DOCKER_HOST="unix://$SOCK" docker info >/dev/null 2>&1; then
    if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
        ip link add "$BRIDGE" type bridge
        ip addr add 172.31.254.1/24 dev "$BRIDGE"
        ip link set "$BRIDGE" up
    fi
    echo "[testbed] starting the second engine on $SOCK" >&2
    setsid nohup dockerd \
        --host "unix://$SOCK" \
        --data-root "$STATE/data" \
        --exec-root "$STATE/exec" \
        --pidfile "$STATE/docker.pid" \
        --bridge "$BRIDGE" \
        --iptables=false \
        >>"$STATE/dockerd.log" 2>&1 </dev/null &
    for _ in $(seq 1 300); do
        DOCKER_HOST="unix://$SOCK" docker info >/dev/null 2>&1 && break
        sleep 0.2
    done
    DOCKER_HOST="unix://$SOCK" docker info >/dev/null 2>&1 || {
        tail -n 30 "$STATE/dockerd.log" >&2
        echo "[testbed] the second engine did not start" >&2
        exit 1
    }
fi
# The base image, for containers on this engine too (no registry needed to build it).
if ! DOCKER_HOST="unix://$SOCK" docker image inspect watchdocker-testbed/busybox:base >/dev/null 2>&1; then
    docker save watchdocker-testbed/busybox:base | DOCKER_HOST="unix://$SOCK" docker load >&2
fi
echo "export WATCH_TESTBED_ENGINE2=unix://$SOCK"
