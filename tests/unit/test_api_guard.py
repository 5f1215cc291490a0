"""The token guards of the API on a test-only app: `FullUser` refuses temp tokens, `AnyUser`
takes them; expired, tampered and foreign tokens get 401 with their own codes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from watchdocker.api.authn import Authenticator
from watchdocker.api.codes import Code
from watchdocker.api.context import ApiContext
from watchdocker.api.deps import AnyUser, FullUser
from watchdocker.api.errors import install_error_handlers
from watchdocker.api.responses import BaseRes, ok
from watchdocker.auth.tokens import TokenSigner
from watchdocker.config import Settings

KEY = "k" * 40
LOCAL = "local-credential-" + "x" * 20


def guarded_app(tmp_path: Path, two_fa: bool = False) -> TestClient:
    auth = {"username": "admin", "password": "pw", "jwtSecret": KEY}
    settings = Settings(auth=auth | {"secondaryVerification": two_fa}, stateDir=tmp_path)
    app = FastAPI()
    app.state.context = ApiContext(settings, None, "http://127.0.0.1:1/api", None, LOCAL)  # type: ignore[arg-type]
    app.state.authenticator = Authenticator.from_settings(settings)
    install_error_handlers(app)

    @app.get("/full")
    def full(user: FullUser) -> BaseRes:
        return ok({"user": user.name})

    @app.get("/any")
    def any_(user: AnyUser) -> BaseRes:
        return ok({"user": user.name, "full": user.full})

    return TestClient(app)


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    return guarded_app(tmp_path)


def get(client: TestClient, path: str, token: str | None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    answer = client.get(path, headers=headers)
    return answer.status_code, answer.json()


def test_a_full_token_and_the_local_credential_pass_both_guards(client: TestClient):
    token = TokenSigner(KEY).full("admin", two_fa_verified=True)
    assert get(client, "/full", token) == (200, {"code": 0, "msg": "ok", "data": {"user": "admin"}})
    assert get(client, "/any", token)[1]["data"] == {"user": "admin", "full": True}
    assert get(client, "/full", LOCAL)[1]["data"] == {"user": "local"}


def test_a_temp_token_passes_only_the_any_user_guard(client: TestClient):
    token = TokenSigner(KEY).temp("admin")
    status, body = get(client, "/full", token)
    assert (status, body["code"]) == (403, Code.FULL_TOKEN_REQUIRED)
    assert get(client, "/any", token)[1]["data"] == {"user": "admin", "full": False}


@pytest.mark.parametrize(
    ("token", "code"),
    [
        (None, Code.NOT_AUTHENTICATED),
        ("", Code.NOT_AUTHENTICATED),
        (TokenSigner("o" * 40).full("admin", two_fa_verified=True), Code.NOT_AUTHENTICATED),
        (TokenSigner(KEY).full("admin", True) + "x", Code.NOT_AUTHENTICATED),
        (TokenSigner(KEY).full("someone", two_fa_verified=True), Code.NOT_AUTHENTICATED),
        (TokenSigner(KEY).temp("admin", now=time.time() - 901), Code.TOKEN_EXPIRED),
        (TokenSigner(KEY).full("admin", True, now=time.time() - 86401), Code.TOKEN_EXPIRED),
    ],
)
def test_refused_tokens_get_401_with_their_code(client: TestClient, token: str | None, code: Code):
    for path in ("/full", "/any"):
        status, body = get(client, path, token)
        assert (status, body["code"]) == (401, code)
        assert token is None or not token or token not in body["msg"]


def test_once_2fa_is_required_a_full_token_that_did_not_pass_it_is_not_full(tmp_path: Path):
    client = guarded_app(tmp_path, two_fa=True)
    before = TokenSigner(KEY).full("admin", two_fa_verified=False)
    assert get(client, "/full", before)[0] == 403
    assert get(client, "/any", before)[1]["data"] == {"user": "admin", "full": False}
    after = TokenSigner(KEY).full("admin", two_fa_verified=True)
    assert get(client, "/full", after)[0] == 200
