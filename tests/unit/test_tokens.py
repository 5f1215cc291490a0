"""The API's JWTs: the claims of full and temp tokens, their lifetimes, and every way a token
is refused (expired, tampered, another key, another algorithm, missing claims)."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import jwt
import pytest

from watchdocker.auth.signing_key import check_signing_key, signing_key
from watchdocker.auth.tokens import (
    FULL_LIFETIME,
    TEMP_LIFETIME,
    TokenExpired,
    TokenInvalid,
    TokenSigner,
)

KEY = "k" * 40
NOW = 1_800_000_000.0


def payload(token: str) -> dict:
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_a_full_token_carries_the_seed_claims_for_24_hours():
    token = TokenSigner(KEY).full("alice", two_fa_verified=True, now=NOW)
    claims = payload(token)
    assert claims["username"] == "alice"
    assert claims["twoFAVerified"] is True and claims["isTempToken"] is False
    assert claims["exp"] - claims["iat"] == FULL_LIFETIME.total_seconds() == 86400
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    parsed = TokenSigner(KEY).parse(token, now=NOW + 86399)
    assert (parsed.username, parsed.two_fa_verified, parsed.is_temp) == ("alice", True, False)
    assert parsed.token_id == claims["jti"]


def test_a_temp_token_lasts_15_minutes_then_is_expired():
    signer = TokenSigner(KEY)
    token = signer.temp("alice", now=NOW)
    assert payload(token)["exp"] - NOW == TEMP_LIFETIME.total_seconds() == 900
    assert signer.parse(token, now=NOW + 899).is_temp
    with pytest.raises(TokenExpired):
        signer.parse(token, now=NOW + 900)


def test_each_token_has_its_own_id():
    signer = TokenSigner(KEY)
    ids = {signer.parse(signer.temp("a", now=NOW), now=NOW).token_id for _ in range(20)}
    assert len(ids) == 20


def test_another_key_or_a_tampered_payload_is_invalid():
    token = TokenSigner(KEY).full("alice", two_fa_verified=False, now=NOW)
    with pytest.raises(TokenInvalid):
        TokenSigner("x" * 40).parse(token, now=NOW)
    header, _, signature = token.split(".")
    claims = payload(token) | {"username": "mallory"}
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    with pytest.raises(TokenInvalid):
        TokenSigner(KEY).parse(f"{header}.{forged}.{signature}", now=NOW)
    for junk in ("", "abc", "a.b.c", token + "x"):
        with pytest.raises(TokenInvalid):
            TokenSigner(KEY).parse(junk, now=NOW)


def test_an_unsigned_token_or_missing_claims_are_invalid():
    claims = payload(TokenSigner(KEY).full("alice", two_fa_verified=False, now=NOW))
    unsigned = jwt.encode(claims, None, algorithm="none")
    with pytest.raises(TokenInvalid):
        TokenSigner(KEY).parse(unsigned, now=NOW)
    for missing in ("username", "isTempToken", "twoFAVerified", "exp", "jti"):
        partial = {k: v for k, v in claims.items() if k != missing}
        with pytest.raises(TokenInvalid):
            TokenSigner(KEY).parse(jwt.encode(partial, KEY, algorithm="HS256"), now=NOW)
    wrong_type = jwt.encode(claims | {"isTempToken": "no"}, KEY, algorithm="HS256")
    with pytest.raises(TokenInvalid):
        TokenSigner(KEY).parse(wrong_type, now=NOW)


def test_no_message_quotes_the_token():
    token = TokenSigner(KEY).temp("alice", now=NOW)
    for signer, at in ((TokenSigner(KEY), NOW + 10_000), (TokenSigner("y" * 40), NOW)):
        with pytest.raises((TokenExpired, TokenInvalid)) as caught:
            signer.parse(token, now=at)
        assert token not in str(caught.value) and token.split(".")[2] not in str(caught.value)


def test_the_key_is_made_once_under_the_state_directory_unless_configured(tmp_path: Path):
    made = signing_key(None, tmp_path)
    path = tmp_path / "api" / "jwt.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(made) >= 32
    assert signing_key(None, tmp_path) == made
    assert signing_key("c" * 32, tmp_path) == "c" * 32
    with pytest.raises(ValueError, match="too short: at least 32"):
        check_signing_key("short")
