"""The WebAuthn routes of /api/v1/2fa on a test app, with a software authenticator
(tests/soft_authenticator.py): what a temp token may enrol, failures counted like wrong codes,
removing a passkey, disabling 2FA with one, and the host rules. TOTP enrolments live in Prefect,
which unit tests never reach: the seam `approver_secrets` answers "no TOTP secret" here (the
integration tests run the real one)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from soft_authenticator import InvalidStateError, SoftAuthenticator

from watchdocker.api import second_factor
from watchdocker.api.authn import Authenticator
from watchdocker.api.codes import Code
from watchdocker.api.context import ApiContext
from watchdocker.api.errors import install_error_handlers
from watchdocker.api.routes import login, passkeys, twofa
from watchdocker.config import Settings

LOCAL = "local-credential-" + "x" * 20
ORIGIN = "http://localhost:8080"
PROXY = {"X-Forwarded-Host": "watch.example", "X-Forwarded-Proto": "https"}


class Api:
    def __init__(self, tmp_path: Path) -> None:
        auth = {
            "username": "admin",
            "password": "pw",
            "jwtSecret": "k" * 40,
            "secondaryVerification": True,
            "allowedDomains": ["localhost", "watch.example", "127.0.0.1"],
        }
        settings = Settings(auth=auth, stateDir=tmp_path)
        app = FastAPI()
        app.state.context = ApiContext(settings, None, "http://127.0.0.1:1/api", None, LOCAL)  # type: ignore[arg-type]
        app.state.authenticator = Authenticator.from_settings(settings)
        install_error_handlers(app)
        for module in (login, twofa, passkeys):
            app.include_router(module.router)
        self.client = TestClient(app, base_url=ORIGIN)
        self.authenticator = SoftAuthenticator()

    def call(
        self, method: str, path: str, token: str, headers: dict[str, str] | None = None, **kw: Any
    ) -> tuple[int, dict[str, Any]]:
        sent = {"Authorization": f"Bearer {token}", **(headers or {})}
        answer = self.client.request(method, "/api/v1/2fa" + path, headers=sent, **kw)
        return answer.status_code, answer.json()

    def temp_token(self) -> str:
        return str(self.login()["tempToken"])

    def login(self) -> dict[str, Any]:
        body = {"username": "admin", "password": "pw"}
        data: dict[str, Any] = self.client.post("/api/v1/auth/login", json=body).json()["data"]
        return data

    def finish(
        self, token: str, credential: dict, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        body = {"credential": credential}
        return self.call("POST", "/verify/webauthn/finish", token, headers, json=body)

    def enrol(self, token: str, headers: dict[str, str] | None = None, origin: str = ORIGIN) -> str:
        status, body = self.call("POST", "/setup/webauthn/begin", token, headers)
        assert status == 200, body
        credential = self.authenticator.create(body["data"]["options"], origin)
        status, body = self.call(
            "POST", "/setup/webauthn/finish", token, headers, json={"credential": credential}
        )
        assert status == 200, body
        return str(body["data"]["token"])

    def assertion(self, token: str, headers: dict[str, str] | None = None, **kw: Any) -> dict:
        status, body = self.call("POST", "/verify/webauthn/begin", token, headers)
        assert status == 200, body
        origin = "https://watch.example" if headers == PROXY else ORIGIN
        return self.authenticator.get(body["data"]["options"], origin, **kw)


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Api:
    monkeypatch.setattr(second_factor, "approver_secrets", lambda settings: {})
    monkeypatch.setenv("WATCH_STATE_DIR", str(tmp_path))  # the environment wins over stateDir
    return Api(tmp_path)


def test_a_temp_token_enrols_a_first_passkey_only(api: Api):
    temp = api.temp_token()
    full = api.enrol(temp)
    # That temp token, or a new one, cannot add a factor beside the one not passed.
    for token in (temp, api.temp_token()):
        for path in ("/setup/webauthn/begin", "/setup/otp/init"):
            status, body = api.call("POST", path, token)
            assert (status, body["code"]) == (409, Code.TWOFA_STATE), path
            assert "pass it first" in body["msg"]
    # The full token may: a second passkey, on another host behind a proxy.
    api.enrol(full, PROXY, origin="https://watch.example")
    status, body = api.call("GET", "/status", full)
    assert body["data"]["method"] == "webauthn" and body["data"]["methods"] == ["webauthn"]
    assert [(p["rpId"], p["name"]) for p in body["data"]["passkeys"]] == [
        ("localhost", "passkey 1"),
        ("watch.example", "passkey 2"),
    ]
    assert not any("publicKey" in p or "public_key" in p for p in body["data"]["passkeys"])
    # The same authenticator on the same host: excluded by the options.
    status, body = api.call("POST", "/setup/webauthn/begin", full)
    excluded = [c["id"] for c in body["data"]["options"]["excludeCredentials"]]
    assert excluded == [api_passkey_id(api, full, "localhost")]
    with pytest.raises(InvalidStateError):
        api.authenticator.create(body["data"]["options"], ORIGIN)


def api_passkey_id(api: Api, token: str, rp_id: str) -> str:
    _, body = api.call("GET", "/status", token)
    return next(p["id"] for p in body["data"]["passkeys"] if p["rpId"] == rp_id)


def test_login_answers_the_passkey_method_and_verify_gives_a_full_token(api: Api):
    api.enrol(api.temp_token(), headers={"X-Forwarded-Host": "localhost:8080"})
    data = api.login()
    assert (data["isSetup"], data["method"], data["methods"]) == (True, "webauthn", ["webauthn"])
    temp = data["tempToken"]
    credential = api.assertion(temp)
    status, body = api.call(
        "POST", "/verify/webauthn/finish", temp, json={"credential": credential}
    )
    assert status == 200, body
    full = body["data"]["token"]
    status, body = api.call("GET", "/status", full)
    assert body["data"]["twoFAVerified"] is True
    # The challenge was used: the same answer again is refused.
    status, body = api.call(
        "POST", "/verify/webauthn/finish", temp, json={"credential": credential}
    )
    assert (status, body["code"]) == (409, Code.NO_CEREMONY)
    assert "verify/webauthn/begin" in body["msg"]


def test_a_passkey_is_not_offered_or_accepted_on_another_host(api: Api):
    api.enrol(api.temp_token())
    temp = api.temp_token()
    status, body = api.call("POST", "/verify/webauthn/begin", temp, PROXY)
    assert (status, body["code"]) == (409, Code.PASSKEY_NOT_HERE)
    assert "watch.example" in body["msg"]
    status, body = api.call("POST", "/verify/webauthn/begin", temp, {"Host": "127.0.0.1:8080"})
    assert (status, body["code"]) == (400, Code.PASSKEY_HOST)
    status, body = api.call("POST", "/verify/webauthn/begin", temp, {"Host": "evil.example"})
    assert (status, body["code"]) == (403, Code.HOST_NOT_ALLOWED)
    # A ceremony begun on localhost, answered through the proxy's host: no ceremony there.
    credential = api.assertion(temp)
    status, body = api.finish(temp, credential, PROXY)
    assert (status, body["code"]) == (409, Code.NO_CEREMONY)


def test_refused_passkeys_count_like_wrong_codes(api: Api):
    api.enrol(api.temp_token())
    temp = api.temp_token()
    said = []
    while len(said) < 3:
        credential = api.assertion(temp, rp_id="evil.example")  # a phishing site's answer
        status, body = api.finish(temp, credential)
        if status == 429 and "try again" in body["msg"]:
            time.sleep(body["data"]["retryAfterSeconds"])  # the backoff between failures
            continue
        assert (status, body["code"]) == (401, Code.WRONG_PASSKEY)
        said.append(body["msg"].rsplit("; ", 1)[-1])
    assert said == [
        "2 left with this temp token",
        "1 left with this temp token",
        "that was this temp token's last attempt: log in again",
    ]
    status, body = api.call("POST", "/verify/webauthn/begin", temp)
    credential = api.authenticator.get(body["data"]["options"], ORIGIN)
    status, body = api.call(
        "POST", "/verify/webauthn/finish", temp, json={"credential": credential}
    )
    assert (status, body["code"]) == (429, Code.TOO_MANY_ATTEMPTS)
    assert "failed attempts with this temp token" in body["msg"]


def test_removing_a_passkey_but_never_the_last_factor(api: Api):
    full = api.enrol(api.temp_token())
    local_id = api_passkey_id(api, full, "localhost")
    status, body = api.call("DELETE", f"/webauthn/{local_id}", full)
    assert (status, body["code"]) == (409, Code.TWOFA_STATE) and "/disable" in body["msg"]
    api.enrol(full, PROXY, origin="https://watch.example")
    status, body = api.call("DELETE", f"/webauthn/{local_id}", api.temp_token())
    assert (status, body["code"]) == (403, Code.FULL_TOKEN_REQUIRED)
    status, body = api.call("DELETE", "/webauthn/unknown", full)
    assert (status, body["code"]) == (404, Code.PASSKEY_NOT_FOUND)
    status, body = api.call("DELETE", f"/webauthn/{local_id}", full)
    assert status == 200, body
    assert [p["rpId"] for p in body["data"]["passkeys"]] == ["watch.example"]
    status, body = api.call("DELETE", f"/webauthn/{local_id}", LOCAL)
    assert (status, body["code"]) == (409, Code.TWOFA_STATE)  # the CLI has no second factor


def test_disable_with_a_fresh_passkey_assertion_removes_every_passkey(api: Api):
    full = api.enrol(api.temp_token())
    api.enrol(full, PROXY, origin="https://watch.example")
    status, body = api.call("POST", "/disable", full, json={})
    assert (status, body["code"]) == (400, Code.BAD_REQUEST)
    assert "either code (TOTP) or credential (passkey)" in body["msg"]
    # Without a ceremony begun (an old assertion cannot be replayed): refused.
    stale = api.authenticator.get(
        {"rpId": "localhost", "challenge": "AAAA"}, ORIGIN, passkey=api.authenticator.passkeys[0]
    )
    status, body = api.call("POST", "/disable", full, json={"credential": stale})
    assert (status, body["code"]) == (409, Code.NO_CEREMONY)
    credential = api.assertion(full)
    status, body = api.call("POST", "/disable", api.temp_token(), json={"credential": credential})
    assert (status, body["code"]) == (403, Code.FULL_TOKEN_REQUIRED)
    status, body = api.call("POST", "/disable", full, json={"credential": credential})
    assert status == 200, body
    assert body["data"] == {
        "isSetup": False,
        "method": None,
        "methods": [],
        "otp": False,
        "passkeys": [],
    }
    status, body = api.call("POST", "/verify/webauthn/begin", api.temp_token())
    assert (status, body["code"]) == (409, Code.TWOFA_STATE)
