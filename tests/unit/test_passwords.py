"""The API user's password: clear, argon2 or bcrypt; the name and the password compared in full
whatever is wrong; a hash of another format refused at load without being quoted."""

from __future__ import annotations

import argon2
import bcrypt
import pytest

from watchdocker.auth.passwords import PasswordHashError, UserCredentials, hash_kind
from watchdocker.config import ConfigError, load_settings


def test_a_clear_password():
    user = UserCredentials("admin", password="s3cret")
    assert user.check("admin", "s3cret")
    assert not user.check("admin", "s3cret ")
    assert not user.check("Admin", "s3cret")
    assert not user.check("root", "s3cret")
    assert not user.check("", "")


@pytest.mark.parametrize(
    "password_hash",
    [
        argon2.PasswordHasher(time_cost=1, memory_cost=1024).hash("s3cret"),
        bcrypt.hashpw(b"s3cret", bcrypt.gensalt(4)).decode(),
        bcrypt.hashpw(b"s3cret", bcrypt.gensalt(4, prefix=b"2a")).decode(),
    ],
    # Each worker of a parallel run makes its own salts: the ids must not show them.
    ids=["argon2id", "bcrypt-2b", "bcrypt-2a"],
)
def test_a_hashed_password(password_hash: str):
    user = UserCredentials("admin", password_hash=password_hash)
    assert user.check("admin", "s3cret")
    assert not user.check("admin", "s3cret!")
    assert not user.check("nobody", "s3cret")


def test_the_password_is_checked_even_when_the_name_is_wrong(monkeypatch):
    # No early exit on the name: a wrong name costs the same hash check as a wrong password.
    checked = []
    monkeypatch.setattr(
        "watchdocker.auth.passwords._matches_hash", lambda h, p: checked.append(p) or True
    )
    user = UserCredentials("admin", password_hash=bcrypt.hashpw(b"x", bcrypt.gensalt(4)).decode())
    assert not user.check("nobody", "x")
    assert checked == ["x"]


def test_a_bcrypt_password_longer_than_72_bytes_is_checked_as_bcrypt_reads_it():
    long = "p" * 100
    stored = bcrypt.hashpw(long.encode()[:72], bcrypt.gensalt(4)).decode()
    assert UserCredentials("admin", password_hash=stored).check("admin", long)


@pytest.mark.parametrize(
    "bad",
    [
        "plaintext",
        "$1$md5$xyz",
        "$argon2id$x",
        "$2b$12$short",
        "$argon2id$v=19$m=1,t=1,p=1$c2FsdA$",
    ],
)
def test_an_unknown_hash_format_is_refused(bad: str):
    with pytest.raises(PasswordHashError):
        hash_kind(bad)


def test_an_unknown_hash_is_a_config_error_that_does_not_quote_it(monkeypatch):
    monkeypatch.setenv("USER_NAME", "admin")
    monkeypatch.setenv("USER_PASSWORD_HASH", "$6$saltsalt$notsupportedcrypt")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert "USER_PASSWORD_HASH" in message and "argon2" in message
    assert "notsupportedcrypt" not in message and "saltsalt" not in message
