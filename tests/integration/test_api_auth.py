"""Login, tokens and the TOTP second factor over real HTTP against `watch-docker serve`: a user
from USER_NAME/USER_PASSWORD, with IS_SECONDARY_VERIFICATION (enrolment, codes, temp tokens,
replays shared with approvals, the allow-list, lockout) and without it (a full token at once,
CORS); and no password, secret or token in serve's logs."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from conftest import SERVE_HTTP, _free_port, api_request, start_serve, stop_serve

import testbed as tb
from watchdocker.api.codes import Code
from watchdocker.auth.tokens import TokenSigner

pytestmark = [pytest.mark.integration, pytest.mark.long]  # over a minute: handed out first

USER = "admin"
PASSWORD = f"pw-{tb.RUN_ID}-Correct-Horse"
ATTEMPTS = 4  # WATCH_LOGIN_ATTEMPTS
LOCKOUT = 8.0  # WATCH_LOGIN_LOCKOUT, seconds: the failures and their backoff fit, under load
ALLOWED = "watch.example"
CONSOLE = "https://console.example"
SEEN: list[str] = []  # every secret and token the API gave: none may reach serve's logs


class Serve:
    def __init__(self, folder: Path, api: str) -> None:
        self.folder = folder
        self.api = api  # its Prefect API
        self.url = SERVE_HTTP[api]

    def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        source: str = "127.0.0.1",
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> tuple[int, dict[str, Any]]:
        """One request from the loopback address `source` (each address is counted apart)."""
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        transport = httpx.HTTPTransport(local_address=source)
        with httpx.Client(transport=transport, timeout=30) as client:
            answer = client.request(method, self.url + path, headers=sent, **kwargs)
        body = answer.json()
        for key in ("token", "tempToken", "secret", "otpauthUrl"):
            if isinstance(body.get("data"), dict) and body["data"].get(key):
                SEEN.append(body["data"][key])
        return answer.status_code, body

    def login(self, password: str = PASSWORD, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        body = {"username": kwargs.pop("username", USER), "password": password}
        return self.call("POST", "/api/v1/auth/login", json=body, **kwargs)

    def key(self) -> str:
        return (self.folder / "state" / "api" / "jwt.key").read_text().strip()

    def logs(self) -> str:
        return (self.folder / "out.log").read_text() + (self.folder / "err.log").read_text()


def _serve(tmp: Path, env: dict[str, str]) -> Iterator[Serve]:
    config = tmp / "config.yaml"
    config.write_text(
        f"policy:\n  onlyLabels: ['{tb.label_filter()}']\n"
        # Wrong codes in this module must not lock the approver the login user is.
        "approval:\n  lockoutAttempts: 50\n"
    )
    base = {
        "USER_NAME": USER,
        "USER_PASSWORD": PASSWORD,
        "WATCH_LOGIN_ATTEMPTS": str(ATTEMPTS),
        "WATCH_LOGIN_LOCKOUT": f"{LOCKOUT:g}s",
        # As serve logs outside tests (tests/conftest.py quiets the console to WARNING).
        "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "INFO",
    }
    api, process = start_serve(tmp, config, _free_port(), {**base, **env})
    yield Serve(tmp, api)
    stop_serve(process)


@pytest.fixture(scope="module")
def twofa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    env = {"IS_SECONDARY_VERIFICATION": "true", "TWOFA_ALLOWED_DOMAINS": f"127.0.0.1,{ALLOWED}"}
    yield from _serve(tmp_path_factory.mktemp("twofa"), env)


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    yield from _serve(tmp_path_factory.mktemp("plain"), {"WATCH_SERVER_CORS_ORIGINS": CONSOLE})


def temp_token(serve: Serve, **kwargs: Any) -> str:
    status, body = serve.login(**kwargs)
    assert status == 200, body
    return body["data"]["tempToken"]


STATE: dict[str, Any] = {}  # the enrolment, from the test that makes it to those that use it


def fresh_code(secret: str) -> tuple[str, int]:
    """A code newer than the last one used (the replay guard refuses older ones), waiting (at
    most one 30 s step) until the server accepts it; with its step."""
    last = STATE.get("last_step", -1)
    while int(time.time() // 30) < last:  # step last+1 is within the server's ±1 window
        time.sleep(0.5)
    step = max(last + 1, int(time.time() // 30))
    STATE["last_step"] = step
    return pyotp.TOTP(secret).at(step * 30), step


def code_body(code: str) -> dict[str, Any]:
    return {"json": {"code": code}}


def test_a_wrong_password_is_refused(twofa: Serve):
    status, body = twofa.login("not-" + PASSWORD, source="127.0.0.5")
    assert (status, body["code"]) == (401, Code.WRONG_CREDENTIALS)
    status, body = twofa.login(username="root", source="127.0.0.5")
    assert (status, body["code"]) == (401, Code.WRONG_CREDENTIALS)
    status, body = twofa.call("POST", "/api/v1/auth/login", json={"username": USER})
    assert (status, body["code"]) == (400, Code.BAD_REQUEST)
    assert "password" in body["msg"]


def test_before_enrolment_a_temp_token_reaches_only_the_2fa_routes(twofa: Serve):
    status, body = twofa.login()
    assert status == 200
    assert body["data"] | {"tempToken": None} == {
        "needTwoFA": True,
        "isSetup": False,
        "method": None,
        "methods": [],
        "tempToken": None,
    }
    token = body["data"]["tempToken"]
    status, body = twofa.call("GET", "/api/v1/2fa/status", token)
    assert status == 200 and body["data"]["isSetup"] is False and body["data"]["required"]
    status, body = twofa.call("POST", "/api/v1/2fa/disable", token, **code_body("123456"))
    assert (status, body["code"]) == (403, Code.FULL_TOKEN_REQUIRED)
    status, body = twofa.call("POST", "/api/v1/2fa/verify/otp", token, **code_body("123456"))
    assert (status, body["code"]) == (409, Code.TWOFA_STATE)


def test_enrolment_saves_the_approver_block_and_gives_a_full_token(twofa: Serve):
    token = temp_token(twofa)
    status, body = twofa.call("POST", "/api/v1/2fa/setup/otp/init", token)
    assert status == 200, body
    secret = body["data"]["secret"]
    assert body["data"]["otpauthUrl"].startswith("otpauth://totp/watch-docker:admin?")
    assert f"secret={secret}" in body["data"]["otpauthUrl"]
    png = body["data"]["qrCode"].removeprefix("data:image/png;base64,")
    assert base64.b64decode(png).startswith(b"\x89PNG")
    code, _ = fresh_code(secret)
    status, body = twofa.call("POST", "/api/v1/2fa/setup/otp/verify", token, **code_body(code))
    assert status == 200, body
    full = body["data"]["token"]
    STATE.update(secret=secret, full=full)
    # The same block `watch-docker totp enroll admin` saves: the approver `admin`.
    block = api_request(
        twofa.api, "GET", "/block_types/slug/totp-secret/block_documents/name/totp-admin"
    )
    assert block.status_code == 200 and block.json()["data"]["approver"] == USER
    status, body = twofa.call("GET", "/api/v1/2fa/status", full)
    assert body["data"] == {
        "required": True,
        "isSetup": True,
        "method": "otp",
        "methods": ["otp"],
        "otp": True,
        "passkeys": [],
        "twoFAVerified": True,
    }
    # Enrolled once: a second enrolment is refused.
    status, body = twofa.call("POST", "/api/v1/2fa/setup/otp/init", full)
    assert (status, body["code"]) == (409, Code.TWOFA_STATE)


def test_login_with_the_code_and_a_code_is_used_once_by_logins_and_approvals(twofa: Serve):
    secret = STATE["secret"]
    status, body = twofa.login()
    assert body["data"]["isSetup"] is True and body["data"]["method"] == "otp"
    token = body["data"]["tempToken"]
    code, step = fresh_code(secret)
    status, body = twofa.call("POST", "/api/v1/2fa/verify/otp", token, **code_body(code))
    assert status == 200, body
    assert json.loads(_payload(body["data"]["token"]))["twoFAVerified"] is True
    status, body = twofa.call("POST", "/api/v1/2fa/verify/otp", token, **code_body(code))
    assert (status, body["code"], body["msg"]) == (401, Code.WRONG_CODE, "code already used")
    # The approvals' replay guard holds that step...
    variable = api_request(twofa.api, "GET", "/variables/name/watchdocker-totp-last-step-admin")
    assert variable.json()["value"] == step
    # ...and a step an approval took (the guard moved on) is refused at login.
    next_code, next_step = fresh_code(secret)
    moved = api_request(
        twofa.api,
        "PATCH",
        "/variables/name/watchdocker-totp-last-step-admin",
        json={"value": next_step},
    )
    assert moved.status_code == 204
    status, body = twofa.call("POST", "/api/v1/2fa/verify/otp", token, **code_body(next_code))
    assert (status, body["msg"]) == (401, "code already used")


def _payload(token: str) -> str:
    part = token.split(".")[1]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode()


def test_a_temp_token_allows_three_wrong_codes(twofa: Serve):
    source = "127.0.0.6"
    token = temp_token(twofa, source=source)
    messages = []
    for _ in range(3):
        status, body = twofa.call(
            "POST", "/api/v1/2fa/verify/otp", token, source=source, **code_body("000000")
        )
        if status == 429:  # the growing wait between failures: wait it out, as a client would
            time.sleep(body["data"]["retryAfterSeconds"])
            status, body = twofa.call(
                "POST", "/api/v1/2fa/verify/otp", token, source=source, **code_body("000000")
            )
        assert (status, body["code"]) == (401, Code.WRONG_CODE)
        messages.append(body["msg"])
    assert messages == [
        "wrong code; 2 left with this temp token",
        "wrong code; 1 left with this temp token",
        "wrong code; that was this temp token's last attempt: log in again",
    ]
    # Refused before any code is checked: the right one would be too.
    status, body = twofa.call(
        "POST", "/api/v1/2fa/verify/otp", token, source=source, **code_body("123456")
    )
    assert (status, body["code"]) == (429, Code.TOO_MANY_ATTEMPTS)
    assert "log in again" in body["msg"]
    # Counted against the approver too: one person, one ledger of wrong codes.
    ledger = api_request(twofa.api, "GET", "/variables/name/watchdocker-totp-wrong-codes-admin")
    assert len(ledger.json()["value"]["wrong_codes_at"]) == 3
    time.sleep(LOCKOUT)  # the failures age out of the window before the next test


def test_2fa_requests_to_a_host_not_allowed_are_refused(twofa: Serve):
    full = STATE["full"]
    for host in ("evil.example", "evil.example:443"):
        status, body = twofa.call(
            "GET", "/api/v1/2fa/status", full, headers={"X-Forwarded-Host": host}
        )
        assert (status, body["code"]) == (403, Code.HOST_NOT_ALLOWED)
        assert "evil.example" in body["msg"]
    status, _ = twofa.call(
        "GET", "/api/v1/2fa/status", full, headers={"X-Forwarded-Host": f"{ALLOWED}:443"}
    )
    assert status == 200
    status, _ = twofa.call(
        "GET", "/api/v1/2fa/status", full, headers={"X-Original-Host": ALLOWED.upper()}
    )
    assert status == 200
    # The host rule is the second factor's: login is not behind it.
    status, _ = twofa.login(headers={"X-Forwarded-Host": "evil.example"})
    assert status == 200


def test_tampered_foreign_and_expired_tokens_are_refused(twofa: Serve):
    key = twofa.key()
    expired = TokenSigner(key).full(USER, two_fa_verified=True, now=time.time() - 86401)
    status, body = twofa.call("GET", "/api/v1/2fa/status", expired)
    assert (status, body["code"]) == (401, Code.TOKEN_EXPIRED)
    foreign = TokenSigner("f" * 48).full(USER, two_fa_verified=True)
    header, _, signature = STATE["full"].split(".")
    claims = json.loads(_payload(STATE["full"])) | {"username": "root"}
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    for token in (foreign, f"{header}.{forged}.{signature}", "not-a-token"):
        status, body = twofa.call("GET", "/api/v1/2fa/status", token)
        assert (status, body["code"]) == (401, Code.NOT_AUTHENTICATED)
    status, body = twofa.call("GET", "/api/v1/2fa/status")
    assert (status, body["code"]) == (401, Code.NOT_AUTHENTICATED)


def test_disable_takes_a_full_token_and_a_current_code(twofa: Serve):
    full = STATE["full"]
    status, body = twofa.call("POST", "/api/v1/2fa/disable", full, **code_body("000000"))
    assert (status, body["code"]) == (401, Code.WRONG_CODE)
    code, _ = fresh_code(STATE["secret"])
    status, body = twofa.call("POST", "/api/v1/2fa/disable", full, **code_body(code))
    assert status == 200, body
    block = api_request(
        twofa.api, "GET", "/block_types/slug/totp-secret/block_documents/name/totp-admin"
    )
    assert block.status_code == 404
    status, body = twofa.login()
    assert body["data"]["isSetup"] is False and body["data"]["method"] is None


def test_failed_logins_lock_the_user_and_the_address(twofa: Serve):
    attacker, other = "127.0.0.2", "127.0.0.3"
    started = time.time()
    outcomes = []
    while len(outcomes) < ATTEMPTS:
        status, body = twofa.login("guess", source=attacker)
        if status == 429 and "try again" in body["msg"]:
            time.sleep(body["data"]["retryAfterSeconds"])  # the backoff between failures
            continue
        outcomes.append(status)
    assert outcomes == [401] * ATTEMPTS
    assert time.time() - started < LOCKOUT  # all within the window: the last one locked
    # Locked: even the right password is refused, from the attacker's address and another.
    for source in (attacker, other):
        status, body = twofa.login(source=source)
        assert (status, body["code"]) == (429, Code.TOO_MANY_ATTEMPTS)
        assert "locked until" in body["msg"] and 1 <= body["data"]["retryAfterSeconds"] <= LOCKOUT
    status, body = twofa.login(username="someone", source=attacker)
    assert status == 429 and "address 127.0.0.2" in body["msg"]
    status, body = twofa.login(username="someone", password="x", source=other)
    assert (status, body["code"]) == (401, Code.WRONG_CREDENTIALS)
    time.sleep(LOCKOUT + 0.5)
    status, body = twofa.login(source=attacker)
    assert status == 200, body


def test_serve_logs_requests_but_no_password_secret_or_token(twofa: Serve):
    logs = twofa.logs()
    assert 'component=api action="POST /api/v1/auth/login" status=401' in logs
    assert "login failed component=api action=auth user=admin client=127.0.0.5" in logs
    assert "address 127.0.0.2 locked until" in logs
    assert SEEN, "the tests saw no secret or token"
    for secret in [PASSWORD, "guess", *SEEN]:
        assert secret not in logs
    for token in SEEN:  # not even a token's signature
        assert token.split(".")[-1][:20] not in logs


def test_without_2fa_login_gives_a_full_token(plain: Serve):
    status, body = plain.login()
    assert status == 200 and list(body["data"]) == ["token"]
    token = body["data"]["token"]
    claims = json.loads(_payload(token))
    assert claims["isTempToken"] is False and claims["twoFAVerified"] is False
    assert claims["exp"] - claims["iat"] == 86400
    # A full token passes the full-token guard (disable then says there is nothing to disable).
    status, body = plain.call("POST", "/api/v1/2fa/disable", token, **code_body("123456"))
    assert (status, body["code"]) == (409, Code.TWOFA_STATE)
    status, body = plain.call("GET", "/api/v1/2fa/status", token)
    assert body["data"]["required"] is False and body["data"]["twoFAVerified"] is False
    # Another serve's key does not sign for this one.
    status, body = plain.call("GET", "/api/v1/2fa/status", STATE["full"])
    assert (status, body["code"]) == (401, Code.NOT_AUTHENTICATED)


def test_cors_answers_the_configured_origin_only(plain: Serve, twofa: Serve):
    preflight = {"Access-Control-Request-Method": "POST"}
    with httpx.Client(timeout=10) as client:
        allowed = client.options(
            plain.url + "/api/v1/auth/login", headers={"Origin": CONSOLE, **preflight}
        )
        other = client.options(
            plain.url + "/api/v1/auth/login",
            headers={"Origin": "https://evil.example", **preflight},
        )
        off = client.get(twofa.url + "/healthz", headers={"Origin": CONSOLE})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == CONSOLE
    assert "access-control-allow-origin" not in other.headers
    assert "access-control-allow-origin" not in off.headers
