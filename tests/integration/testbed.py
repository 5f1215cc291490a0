"""Helpers for the integration tests: the test bed brought up by ``testbed/up.sh``.

Plain functions, no pytest import. The bed's addresses come from the environment
(``WATCH_TESTBED_*``, printed by ``up.sh``), else from ``$WATCH_TESTBED_DIR/env.sh``
(default dir ``/tmp/watchdocker-testbed``), else from the fixed defaults below.

Everything a test creates must carry the label ``watchdocker.test=<RUN_ID>`` so that
``cleanup(RUN_ID)`` removes it, and nothing else.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

# --- configuration ---------------------------------------------------------------------------

_DEFAULT_DIR = "/tmp/watchdocker-testbed"
_DEFAULTS = {
    "WATCH_TESTBED_OPEN": "127.0.0.1:5100",
    "WATCH_TESTBED_BASIC": "127.0.0.1:5101",
    "WATCH_TESTBED_BEARER": "127.0.0.1:5102",
    "WATCH_TESTBED_TOKEN": "127.0.0.1:5103",
}


def _read_env_sh(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        text = path.read_text()
    except OSError:
        return out
    for line in text.splitlines():
        m = re.match(r"\s*(?:export\s+)?(WATCH_TESTBED_\w+)=(.*)$", line)
        if m:
            value = shlex.split(m.group(2))
            out[m.group(1)] = value[0] if value else ""
    return out


STATE_DIR = Path(os.environ.get("WATCH_TESTBED_DIR") or _DEFAULT_DIR)
_FILE_ENV = _read_env_sh(STATE_DIR / "env.sh")


def _setting(name: str) -> str:
    return os.environ.get(name) or _FILE_ENV.get(name) or _DEFAULTS[name]


OPEN: str = _setting("WATCH_TESTBED_OPEN")  # anonymous registry, host:port
BASIC: str = _setting("WATCH_TESTBED_BASIC")  # htpasswd registry
BEARER: str = _setting("WATCH_TESTBED_BEARER")  # token-auth registry
TOKEN: str = _setting("WATCH_TESTBED_TOKEN")  # token server, host:port
REGISTRIES: dict[str, str] = {"open": OPEN, "basic": BASIC, "bearer": BEARER}

BASIC_USER, BASIC_PASSWORD = "basicuser", "basicpass"
TOKEN_USER, TOKEN_PASSWORD = "tokenuser", "tokenpass"
TOKEN_REALM = f"http://{TOKEN}/token"
TOKEN_SERVICE = "watchdocker-testbed"
TOKEN_ISSUER = "watchdocker-testbed-issuer"
PUBLIC_PREFIX = "public/"  # anonymous pull is granted on bearer repos under this prefix

DOCKER_CONFIG_DIR = STATE_DIR / "docker-config"
LOG_DIR = STATE_DIR / "logs"
TOKEN_REQUEST_LOG = STATE_DIR / "token-requests.log"
BASE_IMAGE = "watchdocker-testbed/busybox:base"

LABEL = "watchdocker.test"
RUN_ID: str = os.environ.get("WATCH_TEST_RUN_ID") or uuid.uuid4().hex[:8]
"""Short id of this test session (override with WATCH_TEST_RUN_ID to share it across processes)."""

_DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}")


def label_filter(run_id: str | None = None) -> str:
    """``watchdocker.test=<run_id>``, for ``--label`` and ``--filter label=``."""
    return f"{LABEL}={run_id or RUN_ID}"


def repo(registry: str, name: str) -> str:
    """A repository unique to this run: ``<registry addr>/wdt-<RUN_ID>/<name>``.

    ``registry`` is ``open``/``basic``/``bearer`` or a host:port. For anonymous pulls on
    the bearer registry, pass a name starting with ``public/`` and use :func:`public_repo`.
    """
    return f"{_registry_addr(registry)}/wdt-{RUN_ID}/{name}"


def public_repo(name: str) -> str:
    """A repository on the bearer registry that anonymous clients may pull."""
    return f"{BEARER}/{PUBLIC_PREFIX}wdt-{RUN_ID}/{name}"


# --- docker CLI ------------------------------------------------------------------------------


class DockerError(RuntimeError):
    def __init__(self, args: Sequence[str], returncode: int, stdout: str, stderr: str) -> None:
        super().__init__(
            f"docker {' '.join(args)} exited {returncode}\nstdout: {stdout.strip()}\n"
            f"stderr: {stderr.strip()}"
        )
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


def docker_env() -> dict[str, str]:
    """The environment for the docker CLI: the bed's DOCKER_CONFIG, the legacy builder."""
    env = dict(os.environ)
    env["DOCKER_CONFIG"] = str(DOCKER_CONFIG_DIR)
    env["DOCKER_BUILDKIT"] = "0"
    env["DOCKER_CLI_HINTS"] = "false"
    return env


def docker_cli(
    *args: str,
    check: bool = True,
    input: str | None = None,
    timeout: float = 300,
    cwd: str | os.PathLike[str] | None = None,
) -> str:
    """Runs ``docker ARGS`` with the bed's DOCKER_CONFIG (logged in to basic and bearer).

    Returns stdout. Raises :class:`DockerError` on a non-zero exit when ``check``.
    """
    proc = subprocess.run(
        ["docker", *args],
        input=input,
        capture_output=True,
        text=True,
        env=docker_env(),
        timeout=timeout,
        cwd=cwd,
        check=False,
    )
    if check and proc.returncode != 0:
        raise DockerError(args, proc.returncode, proc.stdout, proc.stderr)
    return proc.stdout


def bed_problem() -> str | None:
    """None when the bed answers (engine, registries, token server, base image), else why not."""
    import socket

    for name, addr in [*REGISTRIES.items(), ("token", TOKEN)]:
        host, _, port = addr.rpartition(":")
        try:
            socket.create_connection((host, int(port)), timeout=2).close()
        except OSError as exc:
            return f"{name} ({addr}) does not answer: {exc}; run testbed/up.sh"
    try:
        docker_cli("image", "inspect", "--format", "{{.Id}}", BASE_IMAGE, timeout=30)
    except (DockerError, OSError, subprocess.TimeoutExpired) as exc:
        return f"docker engine or base image not ready: {exc}; run testbed/up.sh"
    return None


# --- images ----------------------------------------------------------------------------------


def _env_value(value: str) -> str:
    if "\n" in value or "\r" in value:
        raise ValueError("ENV values with newlines are not supported")
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'


def build_image(
    tag: str,
    *,
    marker: str,
    cmd: list[str] | None = None,
    env: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    healthcheck: list[str] | None = None,
    expose: list[str] | None = None,
    workdir: str | None = None,
    user: str | None = None,
    volumes: list[str] | None = None,
    stopsignal: str | None = None,
    healthcheck_interval: str = "1s",
    base: str = BASE_IMAGE,
) -> str:
    """Builds ``tag`` FROM the busybox base with ``/marker`` holding ``marker``; returns the id.

    A different ``marker`` gives a different image (and so a different pushed digest).
    ``healthcheck`` is the exec form (``["/bin/sh", "-c", "true"]``), or ``["NONE"]``; it runs
    every ``healthcheck_interval``. The label ``watchdocker.test=<RUN_ID>`` is always added.
    """
    lines = [f"FROM {base}", "COPY marker /marker"]
    for key, value in (env or {}).items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise ValueError(f"bad ENV name {key!r}")
        lines.append(f"ENV {key}={_env_value(value)}")
    if workdir:
        lines.append(f"WORKDIR {workdir}")
    if user:
        lines.append(f"USER {user}")
    if expose:
        lines.append("EXPOSE " + " ".join(expose))
    if volumes:
        lines.append("VOLUME " + json.dumps(list(volumes)))
    if stopsignal:
        lines.append(f"STOPSIGNAL {stopsignal}")
    if healthcheck:
        if healthcheck == ["NONE"]:
            lines.append("HEALTHCHECK NONE")
        else:
            lines.append(
                f"HEALTHCHECK --interval={healthcheck_interval} --timeout=5s --retries=3 "
                f"CMD {json.dumps(list(healthcheck))}"
            )
    if cmd is not None:
        lines.append("CMD " + json.dumps(list(cmd)))
    all_labels = {**(labels or {}), LABEL: RUN_ID}
    label_args: list[str] = []
    for key, value in all_labels.items():
        label_args += ["--label", f"{key}={value}"]
    with tempfile.TemporaryDirectory(prefix="wdt-build-") as ctx:
        Path(ctx, "Dockerfile").write_text("\n".join(lines) + "\n")
        Path(ctx, "marker").write_text(marker)
        # No build cache: a cached layer may be another run's (another worker's, another
        # session's), which its cleanup removes while this build uses it ("unable to find image").
        docker_cli("build", "-q", "--force-rm", "--no-cache", "-t", tag, *label_args, ctx)
    return docker_cli("image", "inspect", "--format", "{{.Id}}", tag).strip()


def push(ref: str) -> str:
    """``docker push ref``; returns the pushed manifest digest (``sha256:...``)."""
    out = docker_cli("push", ref)
    found = re.findall(r"digest: (sha256:[0-9a-f]{64})", out)
    if not found:
        raise RuntimeError(f"no digest in the output of docker push {ref}:\n{out}")
    return found[-1]


def pull(ref: str) -> str:
    """``docker pull ref``; returns the local image id."""
    docker_cli("pull", ref)
    return docker_cli("image", "inspect", "--format", "{{.Id}}", ref).strip()


def repo_digests(ref: str) -> list[str]:
    """RepoDigests (``repo@sha256:...``) of a local image."""
    out = docker_cli("image", "inspect", "--format", "{{json .RepoDigests}}", ref)
    return list(json.loads(out) or [])


def make_index(target_ref: str, entries: Sequence[tuple[str, str, str | None]]) -> str:
    """Pushes a multi-platform index (Docker manifest list) ``target_ref``; returns its digest.

    ``entries``: ``(source_ref, "os/arch", variant or None)``; each source must already be
    pushed to the same registry. All sources are really amd64 busybox: annotating one as
    ``linux/arm64`` is how another platform is faked.
    """
    docker_cli("manifest", "rm", target_ref, check=False)
    sources = [src for src, _, _ in entries]
    docker_cli("manifest", "create", "--insecure", target_ref, *sources)
    for src, platform, variant in entries:
        parts = platform.split("/")
        if len(parts) == 3 and variant is None:
            variant = parts[2]
        args = ["manifest", "annotate", "--os", parts[0], "--arch", parts[1]]
        if variant:
            args += ["--variant", variant]
        docker_cli(*args, target_ref, src)
    out = docker_cli("manifest", "push", "--insecure", "--purge", target_ref)
    found = _DIGEST_RE.findall(out)
    if not found:
        raise RuntimeError(f"no digest in the output of docker manifest push:\n{out}")
    return found[-1]


def run_container(
    image: str,
    *command: str,
    name: str | None = None,
    labels: Mapping[str, str] | None = None,
    extra: Sequence[str] = (),
) -> str:
    """``docker run -d`` with the test label; returns the container id."""
    args = ["run", "-d", "--label", label_filter()]
    for key, value in (labels or {}).items():
        args += ["--label", f"{key}={value}"]
    if name:
        args += ["--name", name]
    return docker_cli(*args, *extra, image, *command).strip()


# --- request logs ----------------------------------------------------------------------------


def _registry_name(registry: str) -> str:
    if registry in REGISTRIES:
        return registry
    for name, addr in REGISTRIES.items():
        if registry == addr or registry.startswith(addr + "/"):
            return name
    raise ValueError(f"unknown test bed registry {registry!r} (open, basic, bearer or host:port)")


def _registry_addr(registry: str) -> str:
    return REGISTRIES[_registry_name(registry)]


def registry_log_path(registry: str) -> Path:
    """The JSON log of a registry (``open``/``basic``/``bearer`` or its host:port)."""
    return LOG_DIR / f"registry-{_registry_name(registry)}.log"


def _complete_lines(path: Path) -> list[str]:
    try:
        data = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    lines = data.split("\n")
    return lines[:-1]  # the last piece is "" or an incomplete line


def _settle(path: Path, quiet: float) -> None:
    """Waits until ``path`` stops growing for ``quiet`` s (max 5 s): a registry logs a
    request's last line just after the client got the response."""
    if quiet <= 0:
        return
    deadline = time.monotonic() + 5
    last = -1
    while time.monotonic() < deadline:
        size = path.stat().st_size if path.exists() else 0
        if size == last:
            return
        last = size
        time.sleep(quiet)


def registry_log_mark(registry: str) -> int:
    """The number of complete lines in the registry's log now; pass it as ``since_line``."""
    path = registry_log_path(registry)
    _settle(path, 0.05)
    return len(_complete_lines(path))


def registry_requests(
    registry: str, since_line: int = 0, *, settle: float = 0.1, repos: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """The HTTP requests a registry logged (after line ``since_line``), in order; with
    ``repos`` (references or repository names), only those to these repositories: other tests
    run meanwhile.

    Each: ``{"id", "method", "uri", "status", "useragent", "time"}``. A request logs several
    JSON lines with the same ``http.request.id``; they are merged into one. ``status`` is
    the response status when the registry logged one (2xx/3xx and handler errors), 401 for
    refused authorization, else None. Requests to paths outside ``/v2/`` are not logged.
    """
    path = registry_log_path(registry)
    _settle(path, settle)
    by_id: dict[str, dict[str, Any]] = {}
    for line in _complete_lines(path)[since_line:]:
        if not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        rid = entry.get("http.request.id")
        if not rid or "http.request.method" not in entry:
            continue
        req = by_id.setdefault(
            rid,
            {
                "id": rid,
                "method": entry["http.request.method"],
                "uri": entry.get("http.request.uri", ""),
                "status": None,
                "useragent": entry.get("http.request.useragent", ""),
                "time": entry.get("time", ""),
            },
        )
        if "http.response.status" in entry:
            req["status"] = int(entry["http.response.status"])
        elif req["status"] is None and str(entry.get("msg", "")).startswith(
            "error authorizing context"
        ):
            req["status"] = 401
    prefixes = tuple(f"/v2/{repository_name(repo)}/" for repo in repos)
    return [r for r in by_id.values() if not prefixes or r["uri"].startswith(prefixes)]


def repository_name(repo: str) -> str:
    """``name`` of ``host:port/name[:tag|@digest]``, or of ``name`` itself: a first part with a
    dot or a colon is a registry's address, as Docker reads references."""
    first, _, rest = repo.partition("/")
    name = rest if rest and ("." in first or ":" in first) else repo
    name = name.partition("@")[0]
    head, _, last = name.rpartition("/")
    return f"{head}/{last.partition(':')[0]}" if head else last.partition(":")[0]


def token_log_mark() -> int:
    """The number of token requests logged so far; pass it as ``since_line``."""
    return len(_complete_lines(TOKEN_REQUEST_LOG))


def token_requests(since_line: int = 0, *, repos: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Token requests the token server logged (after line ``since_line``); with ``repos``,
    only those that ask for one of these repositories.

    Each: ``{"time", "method", "path", "service", "scope": [...], "account", "anonymous",
    "status", "granted": [{"type", "name", "actions"}]}``.
    """
    names = {repository_name(repo) for repo in repos}
    out: list[dict[str, Any]] = []
    for line in _complete_lines(TOKEN_REQUEST_LOG)[since_line:]:
        try:
            request = json.loads(line)
        except json.JSONDecodeError:
            continue
        scoped = {scope.split(":")[1] for scope in request["scope"] if scope.count(":") >= 2}
        if not names or scoped & names:
            out.append(request)
    return out


# --- cleanup ---------------------------------------------------------------------------------


def cleanup(run_id: str | None = None) -> None:
    """Removes containers, images, volumes and networks labelled ``watchdocker.test=<run_id>``.

    Never touches anything without that exact label (the base image has none).
    """
    flt = f"label={label_filter(run_id or RUN_ID)}"
    containers = docker_cli("ps", "-aq", "--filter", flt, check=False).split()
    if containers:
        docker_cli("rm", "-f", "-v", *containers, check=False)
    # Untag by reference first (an image may be the parent of another labelled one), then
    # remove what is left by id, a few passes to get children before parents.
    refs = docker_cli(
        "images", "--filter", flt, "--format", "{{.Repository}}:{{.Tag}}", check=False
    ).split()
    refs = [r for r in refs if "<none>" not in r]
    if refs:
        docker_cli("rmi", *refs, check=False)
    for _ in range(3):
        ids = sorted(set(docker_cli("images", "-aq", "--filter", flt, check=False).split()))
        if not ids:
            break
        docker_cli("rmi", "-f", *ids, check=False)
    volumes = docker_cli("volume", "ls", "-q", "--filter", flt, check=False).split()
    if volumes:
        docker_cli("volume", "rm", "-f", *volumes, check=False)
    networks = docker_cli("network", "ls", "-q", "--filter", flt, check=False).split()
    if networks:
        docker_cli("network", "rm", *networks, check=False)


# --- registry HTTP helpers (for tests that talk to the registries directly) --------------------

INDEX_ACCEPT = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)


def bearer_token(
    scopes: Sequence[str], *, auth: tuple[str, str] | None = (TOKEN_USER, TOKEN_PASSWORD)
) -> str:
    """A token from the bed's token server for ``scopes`` (``repository:NAME:pull``...)."""
    import httpx

    params = [("service", TOKEN_SERVICE), *(("scope", s) for s in scopes)]
    resp = httpx.get(TOKEN_REALM, params=params, auth=auth, timeout=10)
    resp.raise_for_status()
    return str(resp.json()["token"])


def split_ref(ref: str) -> tuple[str, str, str]:
    """``host:port/name:tag`` or ``host:port/name@digest`` -> (host:port, name, reference)."""
    host, _, rest = ref.partition("/")
    if "@" in rest:
        name, _, reference = rest.partition("@")
    else:
        name, _, reference = rest.rpartition(":")
        if not name:
            name, reference = rest, "latest"
    return host, name, reference


# --- an outdated container ---------------------------------------------------------------------

# PID 1 gets no default SIGTERM handler: trap it, or every stop waits its full timeout.
STOPPABLE_SLEEP = ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]


def two_versions(
    repo_name: str, *, v2_healthcheck: list[str] | None = None, **v1: Any
) -> tuple[str, str, str]:
    """Pushes v1 of ``<open registry>/…/<repo_name>:latest``, then v2 (the registry moves on),
    and leaves the engine's tag on v1, as before the push. Returns (reference, v1 id, v2 id)."""
    ref = repo("open", repo_name) + ":latest"
    v1_id = build_image(ref, marker=f"{repo_name}-1", **v1)
    push(ref)
    v2_id = build_image(ref, marker=f"{repo_name}-2", healthcheck=v2_healthcheck)
    push(ref)
    docker_cli("tag", v1_id, ref)
    return ref, v1_id, v2_id


def outdated_container(suffix: str, *extra: str) -> tuple[str, str, str]:
    """A running container ``wdt-<RUN_ID>-<suffix>`` on v1 of an image whose tag has moved to
    v2. Returns (container name, v1 id, v2 id)."""
    ref, v1_id, v2_id = two_versions(suffix)
    name = f"wdt-{RUN_ID}-{suffix}"
    run_container(ref, *STOPPABLE_SLEEP, name=name, extra=extra)
    return name, v1_id, v2_id


def current_container(suffix: str) -> str:
    """A running container ``wdt-<RUN_ID>-<suffix>`` on the image its tag names in the open
    registry: a scan finds it up to date. Returns its name."""
    ref = repo("open", suffix) + ":latest"
    build_image(ref, marker=f"{suffix}-1")
    push(ref)
    name = f"wdt-{RUN_ID}-{suffix}"
    run_container(ref, "sleep", "600", name=name)
    return name
