"""The API's routes with a Docker engine that does not answer (in process, on an address
nobody listens at): /metrics still gives the runs' counts, to anyone while no user is
configured (the API is then on loopback only), to a full token once one is; the container and
image routes answer DOCKER_ERROR with the reason, and /readyz 503, never an internal error."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest
from fastapi.testclient import TestClient

from watchdocker.api.app import create_app
from watchdocker.api.context import ApiContext
from watchdocker.config import AuthConfig, Settings
from watchdocker.run_metrics import record_scan

CREDENTIAL = "local-credential-for-the-test"


def client(auth: AuthConfig) -> TestClient:
    settings = Settings(auth=auth)
    # An engine nobody answers at (a fixed API version: no connection when made).
    engine = docker.DockerClient(base_url="tcp://127.0.0.1:9", version="1.41", timeout=2)
    context = ApiContext(settings, None, "http://127.0.0.1:9/api", engine, CREDENTIAL)
    return TestClient(create_app(context))


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WATCH_STATE_DIR", str(tmp_path))
    record_scan(tmp_path, "ok", 1.5, {"r.example": 4}, {})
    return tmp_path


def test_open_without_a_user_and_readable_with_the_engine_down():
    answer = client(AuthConfig()).get("/metrics")
    assert answer.status_code == 200
    assert 'watchdocker_scans_total{result="ok"} 1.0' in answer.text
    assert 'watchdocker_registry_requests_total{registry="r.example"} 4.0' in answer.text
    assert "watchdocker_last_scan_timestamp_seconds 0.0" in answer.text


def test_a_full_token_once_a_user_is_configured():
    api = client(AuthConfig(username="alice", password="secret-pass"))
    refused = api.get("/metrics")
    assert refused.status_code == 401 and refused.json()["code"] == 40101
    assert api.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    allowed = api.get("/metrics", headers={"Authorization": f"Bearer {CREDENTIAL}"})
    assert allowed.status_code == 200 and "watchdocker_scans_total" in allowed.text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/containers"),
        ("POST", "/api/containers/web/stop"),
        ("DELETE", "/api/containers/web"),
        ("GET", "/api/images"),
    ],
)
def test_container_and_image_routes_say_the_engine_is_down(method: str, path: str):
    answer = client(AuthConfig()).request(
        method, path, headers={"Authorization": f"Bearer {CREDENTIAL}"}
    )
    assert answer.status_code == 500
    assert answer.json() == {"code": 50003, "msg": "Docker: connection refused", "data": None}


def test_readyz_says_the_engine_does_not_answer():
    answer = client(AuthConfig()).get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["msg"].startswith(
        "not ready: the Docker engine does not answer: connection refused; "
    )
