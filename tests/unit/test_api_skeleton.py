"""The API's frame without a network: where it listens, the shape of every error, the bearer
guard of the local credential."""

from __future__ import annotations

import stat
from pathlib import Path
from unittest.mock import MagicMock

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from pydantic import BaseModel

from watchdocker.api.app import create_app
from watchdocker.api.codes import HTTP_STATUS, Code
from watchdocker.api.context import ApiContext
from watchdocker.api.deps import FullUser
from watchdocker.api.listen import ListenRefused, listen_address
from watchdocker.api.responses import ok
from watchdocker.auth.local_credential import (
    PublishedApi,
    local_credential,
    publish_api_address,
    published_api_address,
    withdraw_api_address,
)
from watchdocker.auth.secret_file import secret_file
from watchdocker.config import Settings, run_settings_digest

CREDENTIAL = "local-credential-for-tests"


def settings(**sections: object) -> Settings:
    return Settings(**sections)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("addr", "user", "expected"),
    [
        (":8080", False, ("127.0.0.1", 8080)),
        (":8080", True, ("0.0.0.0", 8080)),
        ("127.0.0.1:9000", False, ("127.0.0.1", 9000)),
        ("localhost:9000", False, ("localhost", 9000)),
        ("[::1]:9000", False, ("::1", 9000)),
        ("0.0.0.0:9000", True, ("0.0.0.0", 9000)),
    ],
)
def test_where_the_api_listens(addr: str, user: bool, expected: tuple[str, int]) -> None:
    auth = {"username": "ann", "password": "pw"} if user else {}
    address = listen_address(settings(server={"addr": addr}, auth=auth))
    assert (address.host, address.port) == expected
    # Loopback by default is said in one line naming the variables that open it.
    assert (address.note is not None) == (addr == ":8080" and not user)
    if address.note:
        assert "USER_NAME" in address.note and "USER_PASSWORD" in address.note


@pytest.mark.parametrize("addr", ["0.0.0.0:8080", "192.168.1.5:8080", "[::]:8080"])
def test_beyond_loopback_without_a_user_is_refused(addr: str) -> None:
    with pytest.raises(ListenRefused, match="no user is configured"):
        listen_address(settings(server={"addr": addr}))


def test_every_code_has_an_http_status() -> None:
    assert set(HTTP_STATUS) == set(Code)


class Body(BaseModel):
    names: list[str]


@pytest.fixture
def client() -> TestClient:
    context = ApiContext(settings(), None, "http://127.0.0.1:1/api", MagicMock(), CREDENTIAL)
    app = create_app(context)
    router = APIRouter()

    @router.post("/t/body")
    def takes_a_body(body: Body, user: FullUser) -> object:
        return ok({"names": body.names, "user": user.name})

    @router.get("/t/boom")
    def boom(user: FullUser) -> object:
        raise RuntimeError("secret-value-never-shown")

    app.include_router(router)
    return TestClient(app, raise_server_exceptions=False)


AUTH = {"Authorization": f"Bearer {CREDENTIAL}"}


def test_the_local_credential_is_a_full_user(client: TestClient) -> None:
    answer = client.post("/t/body", json={"names": ["a"]}, headers=AUTH)
    assert answer.status_code == 200
    assert answer.json() == {"code": 0, "msg": "ok", "data": {"names": ["a"], "user": "local"}}


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {CREDENTIAL}"}],
)
def test_no_or_a_wrong_token_is_401(client: TestClient, headers: dict[str, str]) -> None:
    answer = client.post("/t/body", json={"names": ["a"]}, headers=headers)
    assert answer.status_code == 401
    assert answer.json()["code"] == Code.NOT_AUTHENTICATED
    assert answer.json()["data"] is None


def test_errors_are_base_res_a_person_reads(client: TestClient) -> None:
    json_type = {**AUTH, "Content-Type": "application/json"}
    bad = client.post("/t/body", content=b"{not json", headers=json_type)
    assert (bad.status_code, bad.json()["code"]) == (400, Code.BAD_REQUEST)
    assert "not valid JSON" in bad.json()["msg"]
    text = client.post("/t/body", content=b"names=a", headers=AUTH)
    assert (
        text.json()["msg"]
        == "bad request: body: must be a JSON object (Content-Type: application/json)"
    )
    wrong = client.post("/t/body", json={"names": "x"}, headers=AUTH)
    assert wrong.status_code == 400
    assert wrong.json()["msg"].startswith("bad request: body.names")
    missing = client.get("/nowhere")
    assert (missing.status_code, missing.json()["code"]) == (404, Code.NOT_FOUND)
    assert missing.json()["msg"] == "no such route: GET /nowhere"
    method = client.delete("/healthz")
    assert (method.status_code, method.json()["code"]) == (405, Code.NOT_FOUND)
    boom = client.get("/t/boom", headers=AUTH)
    assert (boom.status_code, boom.json()["code"]) == (500, Code.INTERNAL)
    assert "secret-value" not in boom.text and "Traceback" not in boom.text


def test_healthz_needs_no_token(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"code": 0, "msg": "ok", "data": {"status": "up"}}


def test_readyz_names_what_is_not_reachable(client: TestClient) -> None:
    answer = client.get("/readyz")
    assert (answer.status_code, answer.json()["code"]) == (503, Code.NOT_READY)
    assert "the Prefect API does not answer at http://127.0.0.1:1/api" in answer.json()["msg"]


def test_a_secret_file_is_made_once_private(tmp_path: Path) -> None:
    path = tmp_path / "state" / "api" / "key"
    first = secret_file(path, lambda: "one")
    assert secret_file(path, lambda: "two") == first == "one"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_the_published_address_comes_and_goes(tmp_path: Path) -> None:
    assert published_api_address(tmp_path) is None
    published = PublishedApi("http://127.0.0.1:8080", run_settings_digest(Settings()))
    publish_api_address(tmp_path, published)
    assert published_api_address(tmp_path) == published
    assert local_credential(tmp_path) == local_credential(tmp_path)
    withdraw_api_address(tmp_path)
    assert published_api_address(tmp_path) is None


def test_the_readme_lists_every_code_with_its_status() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    missing = [
        f"{code.value} ({status})"
        for code, status in HTTP_STATUS.items()
        if f"| `{code.value}` | {status} |" not in readme
    ]
    assert not missing, f"README.md's code table lacks {missing}"


def test_the_run_settings_digest_follows_what_runs_read_only() -> None:
    base = run_settings_digest(Settings())
    assert run_settings_digest(Settings()) == base
    # Where serve listens, who logs in, where its state is: not what a run does.
    assert run_settings_digest(Settings(server={"addr": "127.0.0.1:9999"})) == base
    assert run_settings_digest(Settings(auth={"username": "ops", "password": "pw"})) == base
    assert run_settings_digest(Settings(stateDir="/tmp/elsewhere")) == base
    assert run_settings_digest(Settings(registry={"retries": 0})) != base
    assert run_settings_digest(Settings(policy={"onlyLabels": ["team=a"]})) != base
