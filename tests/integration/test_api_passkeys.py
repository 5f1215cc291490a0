"""Passkeys over real HTTP against `watch-docker serve` (a user, IS_SECONDARY_VERIFICATION): a
software authenticator (tests/soft_authenticator.py) enrols a passkey with the temp token, logs in
again with it to a full token that lists containers; the passkey is refused on another host; and
after serve restarts it still works, with its sign counter kept (an older one is refused). No
passkey data in serve's logs. The browser side (Chromium's virtual authenticator) is the web
console's test."""

from __future__ import annotations

import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from conftest import SERVE_HTTP, _free_port, start_serve, stop_serve
from soft_authenticator import SoftAuthenticator
from webauthn.helpers import bytes_to_base64url

import testbed as tb
from watchdocker.api.codes import Code

pytestmark = pytest.mark.integration

USER = "admin"
PASSWORD = f"pw-{tb.RUN_ID}-Passkey-Horse"
ALLOWED = "localhost,other.localhost,127.0.0.1"


class Serve:
    """One serve, restartable on the same state directory and Prefect server port."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.config = folder / "config.yaml"
        self.config.write_text(f"policy:\n  onlyLabels: ['{tb.label_filter()}']\n")
        self.prefect_port = _free_port()
        self.env = {
            "USER_NAME": USER,
            "USER_PASSWORD": PASSWORD,
            "IS_SECONDARY_VERIFICATION": "true",
            "TWOFA_ALLOWED_DOMAINS": ALLOWED,
            "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "INFO",  # as serve logs outside tests
        }
        self.start()

    def start(self) -> None:
        api, self.process = start_serve(self.folder, self.config, self.prefect_port, self.env)
        self.url = SERVE_HTTP[api]
        self.port = int(self.url.rsplit(":", 1)[1])

    def restart(self) -> None:
        assert stop_serve(self.process) == 0
        self.start()

    @property
    def origin(self) -> str:
        # Connected to 127.0.0.1, but asked for by name, as a browser on localhost does.
        return f"http://localhost:{self.port}"

    def call(
        self, method: str, path: str, token: str | None = None, host: str = "localhost", **kw: Any
    ) -> tuple[int, dict[str, Any]]:
        headers = {"Host": f"{host}:{self.port}"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        answer = httpx.request(method, self.url + path, headers=headers, timeout=30, **kw)
        return answer.status_code, answer.json()

    def login(self) -> dict[str, Any]:
        body = {"username": USER, "password": PASSWORD}
        status, answer = self.call("POST", "/api/v1/auth/login", json=body)
        assert status == 200, answer
        data: dict[str, Any] = answer["data"]
        return data

    def logs(self) -> str:
        return (self.folder / "out.log").read_text() + (self.folder / "err.log").read_text()


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    served = Serve(tmp_path_factory.mktemp("passkeys"))
    yield served
    stop_serve(served.process)


AUTHENTICATOR = SoftAuthenticator()  # the user's, across the tests of this module
SEEN: list[str] = []  # credential data the client sent: none may reach serve's logs


def sign_in(serve: Serve) -> str:
    """A login passed with the passkey: the full token."""
    login = serve.login()
    assert (login["isSetup"], login["method"]) == (True, "webauthn")
    temp = login["tempToken"]
    status, body = serve.call("POST", "/api/v1/2fa/verify/webauthn/begin", temp)
    assert status == 200, body
    credential = AUTHENTICATOR.get(body["data"]["options"], serve.origin)
    SEEN.append(credential["response"]["signature"])
    body = {"credential": credential}
    status, body = serve.call("POST", "/api/v1/2fa/verify/webauthn/finish", temp, json=body)
    assert status == 200, body
    return str(body["data"]["token"])


def test_enrol_a_passkey_with_the_temp_token(serve: Serve):
    login = serve.login()
    assert (login["isSetup"], login["method"], login["methods"]) == (False, None, [])
    temp = login["tempToken"]
    status, body = serve.call("GET", "/api/containers", temp)
    assert (status, body["code"]) == (403, Code.FULL_TOKEN_REQUIRED)
    status, body = serve.call("POST", "/api/v1/2fa/setup/webauthn/begin", temp)
    assert status == 200, body
    options = body["data"]["options"]
    assert options["rp"]["id"] == "localhost" and options["excludeCredentials"] == []
    credential = AUTHENTICATOR.create(options, serve.origin)
    SEEN.append(credential["response"]["attestationObject"])
    body = {"credential": credential, "name": "soft key"}
    status, body = serve.call("POST", "/api/v1/2fa/setup/webauthn/finish", temp, json=body)
    assert status == 200, body
    assert body["data"]["passkey"]["name"] == "soft key"
    full = body["data"]["token"]
    status, body = serve.call("GET", "/api/containers", full)
    assert status == 200, body
    status, body = serve.call("GET", "/api/v1/2fa/status", full)
    assert [(p["name"], p["rpId"]) for p in body["data"]["passkeys"]] == [("soft key", "localhost")]
    passkeys = serve.folder / "state" / "api" / "passkeys.json"
    assert stat.S_IMODE(passkeys.stat().st_mode) == 0o600
    assert bytes_to_base64url(AUTHENTICATOR.passkeys[0].cose_public_key()) in passkeys.read_text()


def test_log_in_again_with_the_passkey_to_a_full_token(serve: Serve):
    full = sign_in(serve)
    status, body = serve.call("GET", "/api/containers", full)
    assert status == 200 and "containers" in body["data"], body


def test_the_passkey_is_refused_on_another_host(serve: Serve):
    temp = serve.login()["tempToken"]
    begin = "/api/v1/2fa/verify/webauthn/begin"
    status, body = serve.call("POST", begin, temp, host="other.localhost")
    assert (status, body["code"]) == (409, Code.PASSKEY_NOT_HERE), body
    status, body = serve.call("POST", begin, temp, host="127.0.0.1")
    assert (status, body["code"]) == (400, Code.PASSKEY_HOST), body
    status, body = serve.call("POST", begin, temp, host="evil.example")
    assert (status, body["code"]) == (403, Code.HOST_NOT_ALLOWED), body
    # Begun on localhost, answered on other.localhost (as its origin says): refused.
    status, body = serve.call("POST", begin, temp)
    options = body["data"]["options"]
    elsewhere = f"http://other.localhost:{serve.port}"
    credential = AUTHENTICATOR.get(options, elsewhere, rp_id="other.localhost")
    finish = "/api/v1/2fa/verify/webauthn/finish"
    body = {"credential": credential}
    status, body = serve.call("POST", finish, temp, host="other.localhost", json=body)
    assert (status, body["code"]) == (409, Code.NO_CEREMONY), body
    # ...and on localhost too: that answer was made for another origin and RP ID.
    status, body = serve.call("POST", finish, temp, json={"credential": credential})
    assert (status, body["code"]) == (401, Code.WRONG_PASSKEY), body
    assert "2 left with this temp token" in body["msg"]


def test_the_passkey_still_works_after_serve_restarts(serve: Serve):
    serve.restart()  # a new HTTP port: the origin changes, the RP ID does not
    full = sign_in(serve)
    status, body = serve.call("GET", "/api/containers", full)
    assert status == 200, body
    # The sign counter was kept: an authenticator answering with an older one is a clone.
    AUTHENTICATOR.passkeys[0].counter = 1
    temp = serve.login()["tempToken"]
    status, body = serve.call("POST", "/api/v1/2fa/verify/webauthn/begin", temp)
    credential = AUTHENTICATOR.get(body["data"]["options"], serve.origin)
    body = {"credential": credential}
    status, body = serve.call("POST", "/api/v1/2fa/verify/webauthn/finish", temp, json=body)
    assert (status, body["code"]) == (401, Code.WRONG_PASSKEY), body
    assert "cloned authenticator" in body["msg"]


def test_totp_beside_passkeys_and_disable_with_a_code_removes_both(serve: Serve):
    AUTHENTICATOR.passkeys[0].counter = 100  # past the clone test's refusal
    full = sign_in(serve)
    status, body = serve.call("POST", "/api/v1/2fa/setup/otp/init", full)
    assert status == 200, body
    totp = pyotp.TOTP(body["data"]["secret"])
    SEEN.append(body["data"]["secret"])
    code = {"code": totp.now()}
    status, body = serve.call("POST", "/api/v1/2fa/setup/otp/verify", full, json=code)
    assert status == 200, body
    full = body["data"]["token"]
    login = serve.login()
    assert (login["method"], login["methods"]) == ("otp", ["otp", "webauthn"])
    status, body = serve.call("GET", "/api/v1/2fa/status", full)
    assert (body["data"]["otp"], len(body["data"]["passkeys"])) == (True, 1)
    # A passkey may go now: TOTP remains.
    passkey_id = body["data"]["passkeys"][0]["id"]
    status, body = serve.call("DELETE", f"/api/v1/2fa/webauthn/{passkey_id}", full)
    assert status == 200 and body["data"]["methods"] == ["otp"], body
    # Re-added with the full token, then disable with a code removes both.
    status, body = serve.call("POST", "/api/v1/2fa/setup/webauthn/begin", full)
    credential = AUTHENTICATOR.create(body["data"]["options"], serve.origin)
    body = {"credential": credential}
    status, body = serve.call("POST", "/api/v1/2fa/setup/webauthn/finish", full, json=body)
    assert status == 200, body
    # The next step's code (within the server's ±1 window): the replay guard holds this one's.
    code = totp.at(int(time.time()) + 30)
    status, body = serve.call("POST", "/api/v1/2fa/disable", full, json={"code": code})
    assert status == 200, body
    assert (body["data"]["isSetup"], body["data"]["passkeys"]) == (False, [])
    login = serve.login()
    assert (login["isSetup"], login["methods"]) == (False, [])


def test_serve_logs_no_passkey_data(serve: Serve):
    logs = serve.logs()
    assert 'action="POST /api/v1/2fa/verify/webauthn/finish" status=401' in logs
    assert "passkey refused component=api action=auth user=admin" in logs
    # The public keys as the store keeps them (base64url COSE), and as bytes.
    keys = [bytes_to_base64url(p.cose_public_key()) for p in AUTHENTICATOR.passkeys]
    keys += [p.cose_public_key().hex() for p in AUTHENTICATOR.passkeys]
    assert SEEN
    for secret in [*SEEN, *keys]:
        assert secret[:40] not in logs
