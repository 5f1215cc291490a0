#!/usr/bin/env bash
# Brings up the watchdocker test bed, idempotently (a second run starts nothing and is quick).
#
#   eval "$(bash testbed/up.sh)"      # or: bash testbed/up.sh && . "$WATCH_TESTBED_DIR/env.sh"
#
# What it provides (all on loopback, nothing talks to the internet):
#   - a Docker engine (dockerd started in the background if `docker info` does not answer);
#   - three Docker Distribution 2.8 registries (Debian's `docker-registry`), JSON request logs:
#       open   127.0.0.1:5100  anonymous
#       basic  127.0.0.1:5101  htpasswd, basicuser / basicpass
#       bearer 127.0.0.1:5102  token auth, realm http://127.0.0.1:5103/token,
#                              service watchdocker-testbed, issuer watchdocker-testbed-issuer
#   - the token server testbed/token_server.py on 127.0.0.1:5103 (tokenuser / tokenpass;
#     anonymous pull on public/* only);
#   - a docker CLI config dir ($STATE/docker-config) logged in to the basic and bearer registries;
#   - the base image watchdocker-testbed/busybox:base (FROM scratch + static busybox).
#
# Environment:
#   WATCH_TESTBED_DIR     state dir (default /tmp/watchdocker-testbed); everything lives there.
#   WATCH_TESTBED_PYTHON  python for the token server; it needs PyJWT + cryptography, i.e. the
#                         project venv's python is expected. Default: python3, except that the
#                         repo's .venv/bin/python is used when it exists and the variable is unset.
#
# stdout carries only the `export` lines (also written to $STATE/env.sh); progress goes to stderr.
# Stop the registries and the token server with testbed/down.sh (dockerd is left alone).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
STATE="${WATCH_TESTBED_DIR:-/tmp/watchdocker-testbed}"
mkdir -p "$STATE"
STATE="$(cd "$STATE" && pwd)"
if [[ -z "${WATCH_TESTBED_PYTHON:-}" && -x "$REPO/.venv/bin/python" ]]; then
    PY="$REPO/.venv/bin/python"
else
    PY="${WATCH_TESTBED_PYTHON:-python3}"
fi

OPEN_ADDR=127.0.0.1:5100
BASIC_ADDR=127.0.0.1:5101
BEARER_ADDR=127.0.0.1:5102
TOKEN_ADDR=127.0.0.1:5103
BASIC_USER=basicuser
BASIC_PASS=basicpass
TOKEN_USER=tokenuser
TOKEN_PASS=tokenpass
SERVICE=watchdocker-testbed
ISSUER=watchdocker-testbed-issuer
BASE_IMAGE=watchdocker-testbed/busybox:base

RUN="$STATE/run"
LOGS="$STATE/logs"
AUTH="$STATE/auth"
export DOCKER_CONFIG="$STATE/docker-config"
mkdir -p "$RUN" "$LOGS" "$AUTH" "$DOCKER_CONFIG" "$STATE/registry"
# one up.sh at a time per state dir (parallel CI steps, test fixtures)
exec 9>"$STATE/.up.lock"
flock 9

# shellcheck source=testbed/lib.sh
. "$HERE/lib.sh"

# --- 1. Debian packages ------------------------------------------------------------------------
# With recommends, like the hand-made setup this was tested on (apparmor, cgroupfs-mount...).
install_missing docker.io docker-registry busybox-static apache2-utils docker-compose
command -v openssl >/dev/null 2>&1 || install_missing openssl

# --- helpers -----------------------------------------------------------------------------------
# http_up HOST:PORT -> 0 if something answers HTTP on GET /v2/ (any status counts).
http_up() {
    local host=${1%:*} port=${1##*:}
    # shellcheck disable=SC2016 # expanded by the inner bash
    timeout 3 bash -c '
        exec 3<>"/dev/tcp/$0/$1" || exit 1
        printf "GET /v2/ HTTP/1.0\r\nHost: %s:%s\r\nConnection: close\r\n\r\n" "$0" "$1" >&3
        IFS= read -r line <&3 && [[ $line == HTTP/* ]]' "$host" "$port" 2>/dev/null
}

pid_alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# start_bg NAME PIDFILE LOGFILE STDOUTFILE CMD... : detached (own session, survives this script).
start_bg() {
    local name=$1 pidfile=$2 logfile=$3 outfile=$4
    shift 4
    log "starting $name"
    setsid nohup "$@" >>"$outfile" 2>>"$logfile" </dev/null 9>&- &
    echo $! >"$pidfile"
}

# wait_http NAME ADDR PIDFILE LOGFILE [TIMEOUT]
wait_http() {
    local name=$1 addr=$2 pidfile=$3 logfile=$4 timeout=${5:-30} i
    for ((i = 0; i < timeout * 10; i++)); do
        http_up "$addr" && { log "$name is up on $addr"; return 0; }
        if ! pid_alive "$pidfile"; then
            tail -n 30 "$logfile" >&2 || true
            die "$name exited during start-up (log: $logfile)"
        fi
        sleep 0.1
    done
    tail -n 30 "$logfile" >&2 || true
    die "$name did not answer on $addr within ${timeout}s (log: $logfile)"
}

# write_if_changed FILE < content : returns 0 when the file was (re)written.
write_if_changed() {
    local tmp
    tmp="$(mktemp "$1.XXXXXX")"
    cat >"$tmp"
    if [[ -f $1 ]] && cmp -s "$tmp" "$1"; then
        rm -f "$tmp"
        return 1
    fi
    mv -f "$tmp" "$1"
    return 0
}

stop_pid() { # PIDFILE
    local pid i
    pid_alive "$1" || return 0
    pid="$(cat "$1")"
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$1"
}

# --- 2. Docker engine --------------------------------------------------------------------------
docker_up() { timeout 20 docker info >/dev/null 2>&1; }
dockerd_started=0
if ! docker_up; then
    start_bg dockerd "$RUN/dockerd.pid" "$LOGS/dockerd.log" "$LOGS/dockerd.log" dockerd
    dockerd_started=1
fi

# --- 3. keys, htpasswd -------------------------------------------------------------------------
if [[ ! -s $AUTH/token.key || ! -s $AUTH/token.crt ]]; then
    log "generating the token signing key and self-signed certificate"
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
        -subj "/CN=watchdocker-testbed-token" \
        -keyout "$AUTH/token.key.tmp" -out "$AUTH/token.crt.tmp" >/dev/null 2>&1
    mv -f "$AUTH/token.key.tmp" "$AUTH/token.key"
    mv -f "$AUTH/token.crt.tmp" "$AUTH/token.crt"
    chmod 600 "$AUTH/token.key"
fi
if ! htpasswd -vb "$AUTH/htpasswd" "$BASIC_USER" "$BASIC_PASS" >/dev/null 2>&1; then
    log "writing htpasswd"
    htpasswd -Bbn "$BASIC_USER" "$BASIC_PASS" >"$AUTH/htpasswd.tmp"
    mv -f "$AUTH/htpasswd.tmp" "$AUTH/htpasswd"
fi

# --- 4. registries -----------------------------------------------------------------------------
registry_config() { # NAME ADDR AUTHBLOCK
    cat <<EOF
# generated by testbed/up.sh: the $1 registry of the watchdocker test bed
version: 0.1
log:
  level: info
  formatter: json
  accesslog:
    disabled: false
  fields:
    service: registry
    testbed: $1
storage:
  filesystem:
    rootdirectory: $STATE/registry/$1/storage
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: $2
  secret: watchdocker-testbed-$1-secret
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: false
$3
EOF
}

declare -A REG_ADDR=([open]=$OPEN_ADDR [basic]=$BASIC_ADDR [bearer]=$BEARER_ADDR)
declare -A REG_AUTH=(
    [open]=""
    [basic]="auth:
  htpasswd:
    realm: watchdocker-testbed-basic
    path: $AUTH/htpasswd"
    [bearer]="auth:
  token:
    realm: http://$TOKEN_ADDR/token
    service: $SERVICE
    issuer: $ISSUER
    rootcertbundle: $AUTH/token.crt"
)

waits=()
for name in open basic bearer; do
    dir="$STATE/registry/$name"
    mkdir -p "$dir/storage"
    pidfile="$RUN/registry-$name.pid"
    changed=0
    registry_config "$name" "${REG_ADDR[$name]}" "${REG_AUTH[$name]}" |
        write_if_changed "$dir/config.yml" && changed=1
    if ((changed)) && pid_alive "$pidfile"; then
        log "registry $name: config changed, restarting it"
        stop_pid "$pidfile"
        for ((i = 0; i < 50; i++)); do http_up "${REG_ADDR[$name]}" || break; sleep 0.1; done
    fi
    if ! http_up "${REG_ADDR[$name]}"; then
        # JSON log (stderr) -> registry-NAME.log; Apache-style access log (stdout) -> .access.log
        start_bg "registry $name" "$pidfile" "$LOGS/registry-$name.log" \
            "$LOGS/registry-$name.access.log" docker-registry serve "$dir/config.yml"
        waits+=("$name")
    fi
done

# --- 5. token server ---------------------------------------------------------------------------
token_started=0
if ! http_up "$TOKEN_ADDR"; then
    "$PY" -c 'import jwt, cryptography' 2>/dev/null ||
        die "$PY cannot import jwt+cryptography; set WATCH_TESTBED_PYTHON to the project venv's python"
    touch "$STATE/token-requests.log"
    start_bg "token server" "$RUN/token-server.pid" "$LOGS/token-server.log" "$LOGS/token-server.log" \
        "$PY" "$HERE/token_server.py" --host "${TOKEN_ADDR%:*}" --port "${TOKEN_ADDR##*:}" \
        --key "$AUTH/token.key" --cert "$AUTH/token.crt" --issuer "$ISSUER" --service "$SERVICE" \
        --user "$TOKEN_USER" --password "$TOKEN_PASS" --request-log "$STATE/token-requests.log"
    token_started=1
fi

for name in "${waits[@]}"; do
    wait_http "registry $name" "${REG_ADDR[$name]}" "$RUN/registry-$name.pid" "$LOGS/registry-$name.log"
done
((token_started)) && wait_http "token server" "$TOKEN_ADDR" "$RUN/token-server.pid" "$LOGS/token-server.log"

if ((dockerd_started)); then
    for ((i = 0; i < 600; i++)); do
        docker_up && break
        pid_alive "$RUN/dockerd.pid" || { tail -n 30 "$LOGS/dockerd.log" >&2; die "dockerd exited"; }
        sleep 0.1
    done
    docker_up || { tail -n 30 "$LOGS/dockerd.log" >&2; die "dockerd did not answer within 60s"; }
    log "dockerd is up"
fi

# --- 6. docker CLI logins (in the bed's own DOCKER_CONFIG, never ~/.docker) --------------------
logged_in() { [[ -f $DOCKER_CONFIG/config.json ]] && grep -q "\"$1\"" "$DOCKER_CONFIG/config.json"; }
login() { # ADDR USER PASSWORD
    local out
    logged_in "$1" && return 0
    log "docker login $1 (DOCKER_CONFIG=$DOCKER_CONFIG)"
    out="$(printf '%s' "$3" | docker login -u "$2" --password-stdin "$1" 2>&1)" ||
        { printf '%s\n' "$out" >&2; die "docker login $1 failed"; }
}
login "$BASIC_ADDR" "$BASIC_USER" "$BASIC_PASS"
login "$BEARER_ADDR" "$TOKEN_USER" "$TOKEN_PASS"

# --- 7. base image -----------------------------------------------------------------------------
if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    log "building $BASE_IMAGE"
    ctx="$STATE/build/base"
    mkdir -p "$ctx"
    cp -f /bin/busybox "$ctx/busybox"
    cat >"$ctx/Dockerfile" <<'EOF'
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
LABEL watchdocker.testbed=base
CMD ["/bin/sh"]
EOF
    DOCKER_BUILDKIT=0 docker build -q -t "$BASE_IMAGE" "$ctx" >/dev/null 2>"$LOGS/build-base.log" ||
        { cat "$LOGS/build-base.log" >&2; die "building $BASE_IMAGE failed"; }
fi

WATCH_TESTBED_DIR=$STATE bash "$HERE/postgres.sh" >&2 9>&- # for tests/integration/test_postgres.py

# --- 8. environment ----------------------------------------------------------------------------
env_lines="export WATCH_TESTBED_DIR=$STATE
export WATCH_TESTBED_OPEN=$OPEN_ADDR
export WATCH_TESTBED_BASIC=$BASIC_ADDR
export WATCH_TESTBED_BEARER=$BEARER_ADDR
export WATCH_TESTBED_TOKEN=$TOKEN_ADDR
export WATCH_TESTBED_POSTGRES=postgresql://prefect:prefect@127.0.0.1:5110/prefect"
printf '%s\n' "$env_lines" | write_if_changed "$STATE/env.sh" || true
printf '%s\n' "$env_lines"
log "test bed ready (state: $STATE)"
