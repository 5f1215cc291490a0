"""The API's bearer tokens (seed §4.2): JWTs signed with HS256 carrying `username`,
`twoFAVerified`, `isTempToken`, `exp`, `iat` and a `jti`. A full token lasts 24 h; a temp
token, given at login while the second factor is still to come, 15 min. No message of this
module holds a token or the key."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

import jwt

ALGORITHM = "HS256"
FULL_LIFETIME = timedelta(hours=24)
TEMP_LIFETIME = timedelta(minutes=15)
_REQUIRED = ["exp", "iat", "jti", "username", "twoFAVerified", "isTempToken"]


class TokenError(Exception):
    """A token that cannot be used; the message says why without quoting it."""


class TokenExpired(TokenError):
    pass


class TokenInvalid(TokenError):
    """Malformed, tampered with, or signed with another key."""


@dataclass(frozen=True)
class Claims:
    username: str
    two_fa_verified: bool
    is_temp: bool
    expires_at: float
    token_id: str  # the `jti`: a temp token's wrong codes are counted by it


class TokenSigner:
    """Issues and parses tokens with one key."""

    def __init__(self, key: str) -> None:
        self._key = key

    def _issue(self, username: str, verified: bool, temp: bool, life: timedelta, now: float) -> str:
        claims = {
            "username": username,
            "twoFAVerified": verified,
            "isTempToken": temp,
            "iat": int(now),
            "exp": int(now + life.total_seconds()),
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def full(self, username: str, two_fa_verified: bool, now: float | None = None) -> str:
        return self._issue(username, two_fa_verified, False, FULL_LIFETIME, _now(now))

    def temp(self, username: str, now: float | None = None) -> str:
        return self._issue(username, False, True, TEMP_LIFETIME, _now(now))

    def parse(self, token: str, now: float | None = None) -> Claims:
        """The claims of `token`; TokenExpired or TokenInvalid when it cannot be used."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],  # never the token's own choice ("none", RS256...)
                options={"require": _REQUIRED, "verify_exp": False, "verify_iat": False},
            )
        except jwt.InvalidTokenError:
            raise TokenInvalid("the token is not valid") from None
        username, verified, temp = (
            claims["username"],
            claims["twoFAVerified"],
            claims["isTempToken"],
        )
        if not (isinstance(username, str) and username):
            raise TokenInvalid("the token names no user")
        if not (isinstance(verified, bool) and isinstance(temp, bool)):
            raise TokenInvalid("the token's flags are not booleans")
        expires = claims["exp"]
        if not isinstance(expires, int | float) or isinstance(expires, bool):
            raise TokenInvalid("the token's exp is not a time")
        # Checked here rather than by PyJWT (exp and iat) so that callers can give the time.
        if _now(now) >= expires:
            raise TokenExpired("the token has expired")
        return Claims(username, verified, temp, float(expires), str(claims["jti"]))


def _now(now: float | None) -> float:
    return time.time() if now is None else now
