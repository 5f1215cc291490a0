"""The local server's credential and the modes of the state directory (no server needed)."""

from __future__ import annotations

import base64
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from watchdocker.config import Settings
from watchdocker.deployments.prefect_env import (
    CREDENTIAL_FILE,
    ServerUnavailable,
    api_credential,
    auth_headers,
    check_api,
    secure_state,
)


def test_the_credential_is_made_once_private_and_random(tmp_path: Path) -> None:
    first = api_credential(tmp_path)
    assert api_credential(tmp_path) == first
    user, _, password = first.partition(":")
    assert user == "watchdocker" and len(password) >= 40
    assert (tmp_path / CREDENTIAL_FILE).stat().st_mode & 0o777 == 0o600
    other = tmp_path / "other"
    other.mkdir()
    assert api_credential(other) != first
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_commands_that_make_it_at_once_agree(tmp_path: Path) -> None:
    with ThreadPoolExecutor(8) as pool:
        made = set(pool.map(lambda _: api_credential(tmp_path), range(32)))
    assert len(made) == 1


def test_the_header_is_basic_of_the_whole_string() -> None:
    [(name, value)] = auth_headers("watchdocker:s3cret").items()
    assert name == "Authorization"
    assert base64.b64decode(value.removeprefix("Basic ")) == b"watchdocker:s3cret"
    assert auth_headers(None) == {} and auth_headers("") == {}


def test_state_is_made_private_also_when_an_older_version_left_it_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    monkeypatch.delenv("PREFECT_HOME", raising=False)
    monkeypatch.setenv("WATCH_STATE_DIR", str(state))
    (state / "prefect").mkdir(parents=True)
    database = state / "prefect" / "prefect.db"
    database.write_bytes(b"")
    for path in (state, state / "prefect"):
        path.chmod(0o755)
    database.chmod(0o644)
    home = secure_state(Settings())
    assert home == state / "prefect"
    assert state.stat().st_mode & 0o777 == 0o700
    assert home.stat().st_mode & 0o777 == 0o700
    assert database.stat().st_mode & 0o777 == 0o600


def test_an_api_that_does_not_answer_is_one_line() -> None:
    with pytest.raises(ServerUnavailable) as raised:
        check_api("http://127.0.0.1:1/api", "watchdocker:s3cret")
    message = str(raised.value)
    assert "\n" not in message and "http://127.0.0.1:1/api" in message
    assert "s3cret" not in message
    assert os.environ.get("PREFECT_API_AUTH_STRING") != "watchdocker:s3cret"
