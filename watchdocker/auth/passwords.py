"""The API's one user (seed: USER_NAME and USER_PASSWORD, or USER_PASSWORD_HASH, an argon2 or
bcrypt hash): checking a login in constant time. No message here quotes a password or hash."""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass

import argon2
import bcrypt

# $argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>: salt of 8 bytes or more, hash of 16 or more.
_ARGON2_HASH = re.compile(
    r"\$argon2(?:id|i|d)\$v=\d+\$m=\d+,t=\d+,p=\d+\$([A-Za-z0-9+/]{11,})\$([A-Za-z0-9+/]{22,})"
)
_BCRYPT = re.compile(r"\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}")
BCRYPT_MAX_BYTES = 72  # bcrypt reads no further; bcrypt 5 refuses longer input instead
_ARGON2 = argon2.PasswordHasher()


class PasswordHashError(ValueError):
    """USER_PASSWORD_HASH is neither an argon2 nor a bcrypt hash."""


def hash_kind(password_hash: str) -> str:
    """`argon2` or `bcrypt`; PasswordHashError otherwise."""
    if password_hash.startswith("$argon2"):
        parts = _ARGON2_HASH.fullmatch(password_hash)
        # Unpadded base64 never leaves one character over a multiple of four.
        if parts is None or any(len(part) % 4 == 1 for part in parts.groups()):
            raise PasswordHashError("is not a valid argon2 hash")
        return "argon2"
    if _BCRYPT.fullmatch(password_hash):
        return "bcrypt"
    raise PasswordHashError("is neither an argon2 ($argon2...) nor a bcrypt ($2b$...) hash")


def _matches_hash(password_hash: str, password: str) -> bool:
    if hash_kind(password_hash) == "argon2":
        try:
            return _ARGON2.verify(password_hash, password)
        except argon2.exceptions.VerificationError:
            return False
    return bcrypt.checkpw(password.encode()[:BCRYPT_MAX_BYTES], password_hash.encode())


@dataclass(frozen=True)
class UserCredentials:
    """The configured user: a clear password or a hash of it, never both."""

    username: str
    password: str | None = None
    password_hash: str | None = None

    def __post_init__(self) -> None:
        if (self.password is None) == (self.password_hash is None):
            raise ValueError("give a password or a password hash")
        if self.password_hash is not None:
            hash_kind(self.password_hash)

    def check(self, username: str, password: str) -> bool:
        """Whether `username` and `password` are the user's. Both are always compared (no early
        exit on a wrong name), each in constant time for its length."""
        name_ok = hmac.compare_digest(username.encode(), self.username.encode())
        if self.password is not None:
            password_ok = hmac.compare_digest(password.encode(), self.password.encode())
        else:
            assert self.password_hash is not None
            password_ok = _matches_hash(self.password_hash, password)
        return name_ok & password_ok
