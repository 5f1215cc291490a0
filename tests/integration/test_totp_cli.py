"""`watch-docker totp enroll|verify` as a user runs them (subprocesses against this session's
Prefect server), `TotpSecret` blocks next to the configuration, and the replay guard kept in a
Prefect Variable."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pyotp
import pytest
import yaml
from conftest import one_line, watch_docker, wrong_code
from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound
from pydantic import SecretStr

import testbed as tb
from watchdocker.auth.totp import TotpError, generate_secret, verify_code
from watchdocker.blocks.totp import (
    ReplayGuard,
    TotpSecret,
    approver_secrets,
    replay_variable_name,
)
from watchdocker.config import Settings

pytestmark = pytest.mark.integration

SLUG = TotpSecret.get_block_type_slug()
URI = re.compile(r"otpauth://totp/\S+")


def approver(role: str) -> str:
    return f"wdt-{tb.RUN_ID}-{role}".lower()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    # An explicit file, so that no config.yaml of the working directory or the user counts.
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"stateDir": str(tmp_path / "state")}))
    return path


def delete_block(name: str) -> None:
    with get_client(sync_client=True) as client:
        try:
            document = client.read_block_document_by_name(name, block_type_slug=SLUG)
        except ObjectNotFound:
            return
        client.delete_block_document(document.id)


def stored_block(name: str, include_secrets: bool = True) -> dict[str, object]:
    with get_client(sync_client=True) as client:
        document = client.read_block_document_by_name(
            name, block_type_slug=SLUG, include_secrets=include_secrets
        )
    return dict(document.data)


@pytest.fixture
def enrolled_name() -> Iterator[str]:
    name = approver("alice")
    yield name
    delete_block(f"totp-{name}")


def secret_of(stdout: str, name: str) -> str:
    uris = URI.findall(stdout)
    assert len(uris) == 1, stdout
    parts = urlsplit(uris[0])
    assert unquote(parts.path) == f"/watch-docker:{name}"
    query = parse_qs(parts.query)
    assert query["issuer"] == ["watch-docker"]
    return query["secret"][0]


def test_enroll_then_verify(prefect_server: str, config: Path, enrolled_name: str) -> None:
    name = enrolled_name
    done = watch_docker("totp", "enroll", name, "--config", str(config))
    assert done.returncode == 0, done.stderr
    secret = secret_of(done.stdout, name)
    assert len(secret) == 32
    # The QR code: rows of half blocks, before the URI.
    qr_rows = [line for line in done.stdout.splitlines() if "\u2588" in line]
    assert len(qr_rows) > 10
    assert done.stdout.index("\u2588") < done.stdout.index("otpauth://")

    saved = stored_block(f"totp-{name}")
    assert saved["approver"] == name
    assert saved["secret"] == secret
    # What the UI and the API show without include_secrets.
    shown = stored_block(f"totp-{name}", include_secrets=False)
    assert secret not in json.dumps(shown, default=str)

    code = pyotp.TOTP(secret).now()
    done = watch_docker("totp", "verify", code, "--approver", name, "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"code valid for {name}"
    # verify does not use the code up: checking it again (or approving with it) still works.
    done = watch_docker("totp", "verify", code, "-a", name, "--config", str(config))
    assert done.returncode == 0, done.stderr

    bad = wrong_code(secret)
    done = watch_docker("totp", "verify", bad, "--approver", name, "--config", str(config))
    assert done.returncode == 1
    assert one_line(done.stderr) == "watch-docker: wrong code"
    assert done.stdout == ""


def test_enroll_again_needs_force(prefect_server: str, config: Path, enrolled_name: str) -> None:
    name = enrolled_name
    first = watch_docker("totp", "enroll", name, "--config", str(config))
    assert first.returncode == 0, first.stderr
    secret = secret_of(first.stdout, name)

    again = watch_docker("totp", "enroll", name, "--config", str(config))
    assert again.returncode == 1
    assert "enrolled already" in one_line(again.stderr)
    assert "otpauth://" not in again.stdout
    assert stored_block(f"totp-{name}")["secret"] == secret

    forced = watch_docker("totp", "enroll", name, "--force", "--config", str(config))
    assert forced.returncode == 0, forced.stderr
    replaced = secret_of(forced.stdout, name)
    assert replaced != secret
    assert stored_block(f"totp-{name}")["secret"] == replaced


def test_enroll_refuses_an_approver_of_the_configuration(config: Path) -> None:
    # The configuration would win over the block: the new secret would never be asked for.
    done = watch_docker(
        "totp", "enroll", "--config", str(config), env={"WATCH_TOTP_SECRET": generate_secret()}
    )
    assert done.returncode == 2
    assert "WATCH_TOTP_SECRET" in one_line(done.stderr)


def test_verify_unknown_approver(prefect_server: str, config: Path) -> None:
    name = approver("nobody")
    done = watch_docker("totp", "verify", "123456", "--approver", name, "--config", str(config))
    assert done.returncode == 2
    assert f"no TOTP secret for approver {name!r}" in one_line(done.stderr)


def test_verify_with_a_configured_secret(prefect_server: str, config: Path) -> None:
    secret = generate_secret()
    env = {"WATCH_TOTP_SECRET": secret}
    code = pyotp.TOTP(secret).now()
    done = watch_docker("totp", "verify", code, "--config", str(config), env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "code valid for default"
    done = watch_docker("totp", "verify", wrong_code(secret), "--config", str(config), env=env)
    assert done.returncode == 1
    assert secret not in done.stderr + done.stdout


def test_approver_secrets_from_config_and_blocks(prefect_server: str) -> None:
    in_both, block_only = approver("both"), approver("block-only")
    config_secret, block_secret, other_secret = (generate_secret() for _ in range(3))
    names = [f"totp-{in_both}", f"totp-{block_only}"]
    TotpSecret(approver=in_both, secret=SecretStr(block_secret)).save(names[0], overwrite=True)
    TotpSecret(approver=block_only, secret=SecretStr(other_secret)).save(names[1], overwrite=True)
    try:
        settings = Settings(twofa={"users": {in_both: {"otpSecret": config_secret}}})
        secrets = approver_secrets(settings)
        assert secrets[in_both].get_secret_value() == config_secret  # the configuration wins
        assert secrets[block_only].get_secret_value() == other_secret
        assert block_only not in approver_secrets(settings, include_blocks=False)
    finally:
        for name in names:
            delete_block(name)
    assert block_only not in approver_secrets(Settings())


@pytest.fixture
def guarded() -> Iterator[str]:
    # Not a valid variable name as it is: the guard has to sanitise it.
    name = f"WDT {tb.RUN_ID} Guard.Bob"
    yield name
    with get_client(sync_client=True) as client, contextlib.suppress(ObjectNotFound):
        client.delete_variable_by_name(replay_variable_name(name))


def test_replay_guard_round_trip(prefect_server: str, guarded: str) -> None:
    guard, other_process = ReplayGuard(), ReplayGuard()
    assert guard.last_step(guarded) is None
    guard.record(guarded, 100)
    assert other_process.last_step(guarded) == 100
    with pytest.raises(TotpError, match=r"^code already used$"):
        other_process.record(guarded, 100)
    with pytest.raises(TotpError, match=r"^code already used$"):
        other_process.record(guarded, 99)
    other_process.record(guarded, 101)
    assert guard.last_step(guarded) == 101
    with get_client(sync_client=True) as client:
        variable = client.read_variable_by_name(replay_variable_name(guarded))
    assert variable is not None and variable.value == 101


def test_a_code_is_accepted_once_across_processes(prefect_server: str, guarded: str) -> None:
    secret = generate_secret()
    code = pyotp.TOTP(secret).now()
    step = verify_code(secret, code, ReplayGuard().last_step(guarded))
    ReplayGuard().record(guarded, step)
    with pytest.raises(TotpError, match=r"^code already used$"):
        verify_code(secret, code, ReplayGuard().last_step(guarded))
