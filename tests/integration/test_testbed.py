"""Proves the test bed (testbed/up.sh) works: registries, token server, helpers."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

import testbed as tb

# Exclusive for its one bound of time (up.sh's); the tests of the other session run meanwhile,
# so the logs are read for this module's repositories only.
pytestmark = [pytest.mark.integration, pytest.mark.exclusive]

REPO_ROOT = Path(__file__).resolve().parents[2]


def _token_cert_key():
    cert = x509.load_pem_x509_certificate((tb.STATE_DIR / "auth" / "token.crt").read_bytes())
    return cert, cert.public_key()


def _registry_get(
    registry: str,
    path: str,
    *,
    accept: str = tb.INDEX_ACCEPT,
    token: str | None = None,
    auth: tuple[str, str] | None = None,
    method: str = "GET",
) -> httpx.Response:
    headers = {"Accept": accept}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.request(
        method,
        f"http://{tb.REGISTRIES.get(registry, registry)}{path}",
        headers=headers,
        auth=auth,
        timeout=10,
    )


# --- registries --------------------------------------------------------------------------------


@pytest.mark.parametrize("registry", ["open", "basic", "bearer"])
def test_push_and_pull(registry: str) -> None:
    ref = f"{tb.repo(registry, 'pushpull')}:1"
    image_id = tb.build_image(ref, marker=f"pushpull-{registry}-{uuid.uuid4()}")
    mark = tb.registry_log_mark(registry)
    tmark = tb.token_log_mark()

    digest = tb.push(ref)
    assert digest.startswith("sha256:") and len(digest) == 71

    tb.docker_cli("rmi", ref)
    assert tb.pull(ref) == image_id
    host, name, _ = tb.split_ref(ref)
    assert f"{host}/{name}@{digest}" in tb.repo_digests(ref)

    reqs = tb.registry_requests(registry, mark, repos=[ref])
    puts = [r for r in reqs if r["method"] == "PUT" and r["uri"] == f"/v2/{name}/manifests/1"]
    assert len(puts) == 1 and puts[0]["status"] == 201
    assert any(r["method"] in ("GET", "HEAD") and "/manifests/1" in r["uri"] for r in reqs)
    if registry == "bearer":
        toks = tb.token_requests(tmark, repos=[ref])
        assert toks and all(t["account"] == tb.TOKEN_USER and t["status"] == 200 for t in toks)
        assert any(g["name"] == name and "push" in g["actions"] for t in toks for g in t["granted"])
    else:
        assert tb.token_requests(tmark, repos=[ref]) == []


def test_open_registry_is_anonymous() -> None:
    assert _registry_get("open", "/v2/").status_code == 200


def test_basic_registry_needs_credentials() -> None:
    resp = _registry_get("basic", "/v2/")
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"].startswith("Basic ")
    assert _registry_get("basic", "/v2/", auth=("basicuser", "wrong")).status_code == 401
    assert (
        _registry_get("basic", "/v2/", auth=(tb.BASIC_USER, tb.BASIC_PASSWORD)).status_code == 200
    )


def test_bearer_registry_challenge_and_token() -> None:
    resp = _registry_get("bearer", "/v2/")
    assert resp.status_code == 401
    challenge = resp.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert f'realm="{tb.TOKEN_REALM}"' in challenge
    assert f'service="{tb.TOKEN_SERVICE}"' in challenge
    token = tb.bearer_token([])
    assert _registry_get("bearer", "/v2/", token=token).status_code == 200
    assert _registry_get("bearer", "/v2/", token=token + "x").status_code == 401


# --- token server ------------------------------------------------------------------------------


def test_token_server_answer_and_jwt() -> None:
    scope = f"repository:wdt-{tb.RUN_ID}/jwt:pull,push"
    other = f"other/wdt-{tb.RUN_ID}/x"
    mark = tb.token_log_mark()
    resp = httpx.get(
        tb.TOKEN_REALM,
        params=[
            ("service", tb.TOKEN_SERVICE),
            ("scope", scope),
            ("scope", f"repository:{other}:pull"),
        ],
        auth=(tb.TOKEN_USER, tb.TOKEN_PASSWORD),
        timeout=10,
    )
    assert resp.status_code == 200
    body = resp.json()
    assert body["token"] == body["access_token"]
    assert body["expires_in"] == 300
    assert body["issued_at"].endswith("Z")

    cert, public_key = _token_cert_key()
    header = jwt.get_unverified_header(body["token"])
    assert header["alg"] == "RS256"
    assert base64.b64decode(header["x5c"][0]) == cert.public_bytes(serialization.Encoding.DER)
    claims = jwt.decode(
        body["token"],
        public_key,
        algorithms=["RS256"],
        audience=tb.TOKEN_SERVICE,
        issuer=tb.TOKEN_ISSUER,
    )
    assert claims["sub"] == tb.TOKEN_USER
    assert {"exp", "nbf", "iat", "jti"} <= claims.keys()
    assert claims["access"] == [
        {"type": "repository", "name": f"wdt-{tb.RUN_ID}/jwt", "actions": ["pull", "push"]},
        {"type": "repository", "name": other, "actions": ["pull"]},
    ]
    logged = tb.token_requests(mark, repos=[other])
    assert len(logged) == 1
    assert logged[0]["account"] == tb.TOKEN_USER and logged[0]["status"] == 200
    assert logged[0]["scope"] == [scope, f"repository:{other}:pull"]


@pytest.mark.parametrize(
    "auth",
    [("tokenuser", "wrong"), ("nobody", "tokenpass"), ("", "")],
    ids=["password", "user", "empty"],
)
def test_token_server_rejects_wrong_credentials(auth: tuple[str, str]) -> None:
    public = tb.repository_name(tb.public_repo("x"))
    mark = tb.token_log_mark()
    resp = httpx.get(
        tb.TOKEN_REALM,
        params={"service": tb.TOKEN_SERVICE, "scope": f"repository:{public}:pull"},
        auth=auth,
        timeout=10,
    )
    assert resp.status_code == 401
    assert "token" not in resp.text
    logged = tb.token_requests(mark, repos=[public])
    assert [(t["status"], t["granted"]) for t in logged] == [(401, [])]


def test_token_server_anonymous_pull_on_public_only() -> None:
    public = tb.repository_name(tb.public_repo("thing"))
    private, publicity = f"private/wdt-{tb.RUN_ID}/thing", f"publicity/wdt-{tb.RUN_ID}/x"
    mark = tb.token_log_mark()
    ok = httpx.get(
        tb.TOKEN_REALM,
        params={"service": tb.TOKEN_SERVICE, "scope": f"repository:{public}:pull,push"},
        timeout=10,
    )
    assert ok.status_code == 200
    _, public_key = _token_cert_key()
    claims = jwt.decode(
        ok.json()["token"], public_key, algorithms=["RS256"], audience=tb.TOKEN_SERVICE
    )
    assert claims["sub"] == ""
    assert claims["access"] == [{"type": "repository", "name": public, "actions": ["pull"]}]

    for scope in (f"repository:{private}:pull", f"repository:{publicity}:pull", None):
        params = {"service": tb.TOKEN_SERVICE, **({"scope": scope} if scope else {})}
        assert httpx.get(tb.TOKEN_REALM, params=params, timeout=10).status_code == 401, scope

    # The request without a scope names no repository to tell it from other tests' requests.
    logged = tb.token_requests(mark, repos=[public, private, publicity])
    assert [t["status"] for t in logged] == [200, 401, 401]
    assert all(t["anonymous"] and t["account"] is None for t in logged)


def test_anonymous_docker_pull_of_public_repo_only(tmp_path: Path) -> None:
    public = f"{tb.public_repo('anon')}:1"
    private = f"{tb.repo('bearer', 'anon')}:1"
    tb.build_image(public, marker=f"anon-{uuid.uuid4()}")
    tb.docker_cli("tag", public, private)
    public_digest = tb.push(public)
    tb.push(private)
    tb.docker_cli("rmi", public, private)

    # a docker CLI config without any login: anonymous like a fresh Docker Hub client
    env = {**tb.docker_env(), "DOCKER_CONFIG": str(tmp_path)}
    mark = tb.token_log_mark()
    pulled = subprocess.run(["docker", "pull", public], env=env, capture_output=True, text=True)
    assert pulled.returncode == 0, pulled.stderr
    host, name, _ = tb.split_ref(public)
    assert f"{host}/{name}@{public_digest}" in tb.repo_digests(public)
    refused = subprocess.run(["docker", "pull", private], env=env, capture_output=True, text=True)
    assert refused.returncode != 0
    logged = tb.token_requests(mark, repos=[public, private])
    assert any(t["anonymous"] and t["status"] == 200 and t["granted"] for t in logged)
    assert any(t["anonymous"] and t["status"] == 401 for t in logged)

    # and an anonymous push to public/ is refused (pull only)
    tb.docker_cli("tag", public, f"{tb.public_repo('anon')}:2")
    pushed = subprocess.run(
        ["docker", "push", f"{tb.public_repo('anon')}:2"], env=env, capture_output=True, text=True
    )
    assert pushed.returncode != 0


# --- multi-platform index ----------------------------------------------------------------------


@pytest.mark.parametrize("registry", ["open", "bearer"])
def test_make_index_lists_both_platforms(registry: str) -> None:
    base = tb.repo(registry, "multi")
    amd = f"{base}:src-amd64"
    arm = f"{base}:src-arm64"
    tb.build_image(amd, marker=f"amd64-{uuid.uuid4()}")
    tb.build_image(arm, marker=f"arm64-{uuid.uuid4()}")
    amd_digest = tb.push(amd)
    arm_digest = tb.push(arm)

    target = f"{base}:multi"
    index_digest = tb.make_index(target, [(amd, "linux/amd64", None), (arm, "linux/arm64", "v8")])
    assert index_digest.startswith("sha256:")

    host, name, _ = tb.split_ref(target)
    token = tb.bearer_token([f"repository:{name}:pull"]) if registry == "bearer" else None
    resp = _registry_get(registry, f"/v2/{name}/manifests/multi", token=token)
    assert resp.status_code == 200
    assert resp.headers["docker-content-digest"] == index_digest
    body = resp.json()
    assert body["mediaType"] in (
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.index.v1+json",
    )
    platforms = {}
    for m in body["manifests"]:
        plat = m["platform"]
        platforms[(plat["os"], plat["architecture"], plat.get("variant"))] = m["digest"]
    assert platforms == {("linux", "amd64", None): amd_digest, ("linux", "arm64", "v8"): arm_digest}

    # pulling the index on this amd64 host gives the amd64 image, known by the index digest
    tb.docker_cli("rmi", amd, arm)
    tb.pull(target)
    assert f"{host}/{name}@{index_digest}" in tb.repo_digests(target)
    arch = tb.docker_cli("image", "inspect", "--format", "{{.Architecture}}", target).strip()
    assert arch == "amd64"
    marker = tb.docker_cli("run", "--rm", "--label", tb.label_filter(), target, "cat", "/marker")
    assert marker.startswith("amd64-")


# --- helpers -----------------------------------------------------------------------------------


def test_build_image_options() -> None:
    ref = f"{tb.repo('open', 'options')}:1"
    tb.build_image(
        ref,
        marker="options",
        cmd=["/bin/sh", "-c", "sleep 3600"],
        env={"GREETING": 'hello "$USER" \\o/'},
        labels={"org.example.role": "web"},
        healthcheck=["/bin/true"],
        expose=["8080/tcp"],
        workdir="/srv",
        user="65534",
        volumes=["/data"],
        stopsignal="SIGINT",
    )
    cfg = json.loads(tb.docker_cli("image", "inspect", "--format", "{{json .Config}}", ref))
    assert cfg["Cmd"] == ["/bin/sh", "-c", "sleep 3600"]
    assert 'GREETING=hello "$USER" \\o/' in cfg["Env"]
    assert cfg["Labels"][tb.LABEL] == tb.RUN_ID
    assert cfg["Labels"]["org.example.role"] == "web"
    assert cfg["Healthcheck"]["Test"] == ["CMD", "/bin/true"]
    assert "8080/tcp" in cfg["ExposedPorts"]
    assert cfg["WorkingDir"] == "/srv"
    assert cfg["User"] == "65534"
    assert "/data" in cfg["Volumes"]
    assert cfg["StopSignal"] == "SIGINT"
    # different markers give different images
    other = tb.build_image(f"{tb.repo('open', 'options')}:2", marker="options-2")
    assert other != tb.docker_cli("image", "inspect", "--format", "{{.Id}}", ref).strip()


def test_registry_requests_counts_each_request_once() -> None:
    ref = f"{tb.repo('basic', 'count')}:1"
    tb.build_image(ref, marker=f"count-{uuid.uuid4()}")
    tb.push(ref)
    _, name, _ = tb.split_ref(ref)
    mark = tb.registry_log_mark("basic")
    auth = (tb.BASIC_USER, tb.BASIC_PASSWORD)
    for _ in range(3):
        assert (
            _registry_get("basic", f"/v2/{name}/manifests/1", auth=auth, method="HEAD").status_code
            == 200
        )
    assert _registry_get("basic", f"/v2/{name}/manifests/nope", auth=auth).status_code == 404
    assert _registry_get(tb.BASIC, f"/v2/{name}/tags/list").status_code == 401
    reqs = tb.registry_requests(tb.BASIC, mark, repos=[ref])
    assert [(r["method"], r["uri"], r["status"]) for r in reqs] == [
        ("HEAD", f"/v2/{name}/manifests/1", 200),
        ("HEAD", f"/v2/{name}/manifests/1", 200),
        ("HEAD", f"/v2/{name}/manifests/1", 200),
        ("GET", f"/v2/{name}/manifests/nope", 404),
        ("GET", f"/v2/{name}/tags/list", 401),
    ]


def test_cleanup_removes_only_its_own_label() -> None:
    other_run = f"{tb.RUN_ID}x{uuid.uuid4().hex[:4]}"
    tag = f"wdt-{other_run}/cleanup:1"
    with tempfile.TemporaryDirectory() as ctx:
        Path(ctx, "Dockerfile").write_text(
            f"FROM {tb.BASE_IMAGE}\nRUN echo {other_run} > /marker\n"
        )
        tb.docker_cli("build", "-q", "-t", tag, "--label", f"{tb.LABEL}={other_run}", ctx)
    tb.docker_cli("create", "--label", f"{tb.LABEL}={other_run}", "--name", f"wdt-{other_run}", tag)
    mine = tb.build_image(f"{tb.repo('open', 'cleanup')}:1", marker="mine")

    tb.cleanup(other_run)

    assert tb.docker_cli("ps", "-aq", "--filter", f"label={tb.LABEL}={other_run}").strip() == ""
    assert tb.docker_cli("images", "-q", "--filter", f"label={tb.LABEL}={other_run}").strip() == ""
    assert tb.docker_cli("image", "inspect", "--format", "{{.Id}}", mine).strip() == mine
    tb.docker_cli("image", "inspect", tb.BASE_IMAGE)


def test_up_sh_is_idempotent_and_quick() -> None:
    pidfiles = sorted((tb.STATE_DIR / "run").glob("*.pid"))
    before = {p.name: p.read_text() for p in pidfiles}
    started = time.monotonic()
    proc = subprocess.run(
        ["bash", str(REPO_ROOT / "testbed" / "up.sh")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "WATCH_TESTBED_DIR": str(tb.STATE_DIR)},
    )
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    assert "starting" not in proc.stderr
    assert elapsed < 10
    assert {p.name: p.read_text() for p in sorted((tb.STATE_DIR / "run").glob("*.pid"))} == before
    assert f"export WATCH_TESTBED_OPEN={tb.OPEN}" in proc.stdout
    assert (tb.STATE_DIR / "env.sh").read_text() == proc.stdout
