"""Approvers' TOTP secrets kept in Prefect as `TotpSecret` blocks (what `watch-docker totp
enroll` saves), next to `twofa.users` of the configuration; and the replay guard, a Prefect
Variable per approver holding the last time step a code of theirs was accepted for."""

from __future__ import annotations

import hashlib
import logging
import re
import time
from typing import Any

from prefect.blocks.core import Block
from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectAlreadyExists
from pydantic import ConfigDict, Field, SecretStr

from watchdocker.auth.lockout import LockoutRecordError, WrongCodes, count_wrong_code
from watchdocker.auth.totp import TotpError
from watchdocker.blocks import saved_blocks
from watchdocker.config import Settings

log = logging.getLogger(__name__)


class TotpSecret(Block):
    """The TOTP secret of one approver of gated updates. Every block of this type is used;
    an approver of the same name in the configuration wins over a block."""

    _block_type_name = "TotpSecret"
    _block_type_slug = "totp-secret"
    _description = (
        "The TOTP secret (base32, 160 bits or more) of one approver of watch-docker updates, "
        "as `watch-docker totp enroll` saves it. Every block of this type is used; an approver "
        "of the same name in the configuration (twofa.users, WATCH_TOTP_SECRET) wins over it."
    )
    # A validation error would otherwise quote its input, which may be the secret.
    model_config = ConfigDict(hide_input_in_errors=True)

    approver: str = Field(min_length=1, description="who answers with codes from this secret")
    secret: SecretStr = Field(description="base32 TOTP secret, shown once at enrollment")


def approver_secrets(settings: Settings, include_blocks: bool = True) -> dict[str, SecretStr]:
    """Approver name -> TOTP secret: `twofa.users` (where WATCH_TOTP_SECRET is approver
    `default` already), then every `TotpSecret` block. The configuration wins on a name clash;
    between blocks, the first the server lists (by document name) does. Secrets are returned
    as they are stored: `watchdocker.auth.totp` validates them where they are used."""
    secrets = {name: user.otp_secret for name, user in settings.twofa.users.items()}
    if not include_blocks:
        return secrets
    from_block: dict[str, str] = {}
    for document, block in saved_blocks(TotpSecret):
        if block.approver in from_block:
            log.warning(
                "ignoring TotpSecret block %r: block %r already holds approver %r",
                document,
                from_block[block.approver],
                block.approver,
            )
        elif block.approver in secrets:
            log.warning(
                "ignoring TotpSecret block %r: approver %r is set in the configuration",
                document,
                block.approver,
            )
        else:
            secrets[block.approver] = block.secret
            from_block[block.approver] = document
    return secrets


class EnrolmentError(Exception):
    """Why an approver cannot be enrolled or removed. Never holds the secret."""


class NotEnrollable(EnrolmentError):
    """The name cannot be enrolled at all: not a block name, or the configuration holds it."""


# The block is saved as `totp-<name>`, and block document names allow only these.
_BLOCK_NAME_PART = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")


def block_name(approver: str) -> str:
    return f"totp-{approver}"


def check_enrollable(approver: str, settings: Settings) -> None:
    """Raises NotEnrollable when `approver` cannot be enrolled in a block."""
    if not _BLOCK_NAME_PART.fullmatch(approver):
        raise NotEnrollable(
            f"approver name {approver!r} must be lowercase letters, digits and inner dashes "
            "(it names the Prefect block totp-<name>)"
        )
    if approver in settings.twofa.users:
        # The configuration wins over a block: this enrollment would never be used.
        raise NotEnrollable(
            f"approver {approver!r} has a secret in the configuration (twofa.users or "
            "WATCH_TOTP_SECRET), which wins over a block; remove it there to enroll"
        )


def save_secret(approver: str, secret: str, force: bool) -> None:
    """Save `secret` as block `totp-<approver>` (what `watch-docker totp enroll` and the API's
    enrolment do). Raises EnrolmentError when the block exists (without `force`) or another
    block holds the approver."""
    document = block_name(approver)
    for other, existing in saved_blocks(TotpSecret):
        if other == document and not force:
            raise EnrolmentError(
                f"approver {approver!r} is enrolled already (block {other}); --force replaces"
            )
        if other != document and existing.approver == approver:
            raise EnrolmentError(
                f"block {other} holds approver {approver!r} already; delete it to enroll"
            )
    block = TotpSecret(approver=approver, secret=SecretStr(secret))
    try:
        block.save(document, overwrite=force)
    except ValueError:
        # Prefect refuses an existing name without overwrite: a block created since the check
        # above, or one too broken for saved_blocks to load.
        raise EnrolmentError(
            f"approver {approver!r} is enrolled already (block {document}); --force replaces"
        ) from None


def remove_enrolment(approver: str) -> list[str]:
    """Delete every TotpSecret block of `approver`; the names of those deleted."""
    removed = [
        document for document, block in saved_blocks(TotpSecret) if block.approver == approver
    ]
    for document in removed:
        TotpSecret.delete(document)
    return removed


VARIABLE_PREFIX = "watchdocker-totp-last-step-"
LOCKOUT_VARIABLE_PREFIX = "watchdocker-totp-wrong-codes-"
_NOT_IN_VARIABLE_NAMES = re.compile(r"[^a-z0-9_-]")
_MAX_VARIABLE_NAME = 255  # prefect.types.names.MAX_VARIABLE_NAME_LENGTH


def _variable_name(prefix: str, approver: str) -> str:
    # Variable names allow only `[a-z0-9_-]`: other names are lowered and their other
    # characters replaced, plus a hash of the name as given, so that `Bob` and `bob` (or `a.b`
    # and `a_b`) never share a variable.
    safe = _NOT_IN_VARIABLE_NAMES.sub("_", approver.lower())
    if safe == approver and len(prefix) + len(safe) <= _MAX_VARIABLE_NAME:
        return prefix + safe
    digest = hashlib.sha256(approver.encode()).hexdigest()[:12]
    room = _MAX_VARIABLE_NAME - len(prefix) - len(digest) - 1
    return f"{prefix}{safe[:room]}-{digest}"


def replay_variable_name(approver: str) -> str:
    """The Prefect Variable of `approver`'s last accepted step."""
    return _variable_name(VARIABLE_PREFIX, approver)


def lockout_variable_name(approver: str) -> str:
    """The Prefect Variable of `approver`'s recent wrong codes and lock."""
    return _variable_name(LOCKOUT_VARIABLE_PREFIX, approver)


class ReplayGuard:
    """The last accepted time step per approver, kept where every process talking to the same
    Prefect server sees it (a Prefect Variable), so a code accepted by one worker or the CLI is
    refused by all others. Pair with `watchdocker.auth.totp.verify_code`:

        step = verify_code(secret, code, guard.last_step(approver))
        guard.record(approver, step)   # raises TotpError if another process took it first

    Prefect Variables have no compare-and-set, so two processes checking the same code in the
    same few milliseconds could both pass; `record` re-reads right before writing to keep that
    window as small as a read and a write.
    """

    def last_step(self, approver: str) -> int | None:
        """The step last recorded for `approver`, None before their first accepted code."""
        name = replay_variable_name(approver)
        with get_client(sync_client=True) as client:
            variable = client.read_variable_by_name(name)
        return None if variable is None else _as_step(name, variable.value)

    def record(self, approver: str, step: int) -> None:
        """Remember `step` as `approver`'s last accepted one. Raises TotpError "code already
        used" when a step as new or newer is recorded already: the guard never moves back, and
        a caller that lost a race with another process must refuse the code."""
        from prefect.client.schemas.actions import VariableCreate, VariableUpdate

        name = replay_variable_name(approver)
        with get_client(sync_client=True) as client:
            variable = client.read_variable_by_name(name)
            if variable is None:
                try:
                    client.create_variable(VariableCreate(name=name, value=step))
                    return
                except ObjectAlreadyExists:
                    # Another process recorded this approver's first code meanwhile.
                    variable = client.read_variable_by_name(name)
            if variable is not None:
                recorded = _as_step(name, variable.value)
                if recorded is not None and step <= recorded:
                    raise TotpError("code already used")
            client.update_variable(VariableUpdate(name=name, value=step))


class WrongCodeLedger:
    """Each approver's recent wrong codes and lock (`watchdocker.auth.lockout`), kept in a Prefect
    Variable so that every run, worker and CLI on the server counts against the same limit.
    Like the replay guard it has no compare-and-set: two wrong codes in the same few
    milliseconds may count as one."""

    def __init__(self, attempts: int, period_seconds: float) -> None:
        self.attempts = attempts
        self.period = period_seconds

    @classmethod
    def from_settings(cls, settings: Settings) -> WrongCodeLedger:
        """The limits of `approval.lockoutAttempts` and `approval.lockoutPeriod`, which the
        approval gate and the API's login codes share."""
        approval = settings.approval
        return cls(approval.lockout_attempts, approval.lockout_period.total_seconds())

    def _read(self, client: Any, approver: str) -> tuple[WrongCodes, bool]:
        name = lockout_variable_name(approver)
        variable = client.read_variable_by_name(name)
        try:
            return WrongCodes.from_json(variable.value if variable else None), variable is not None
        except LockoutRecordError as exc:
            # Fail closed, as the replay guard does: no code is accepted until it is fixed.
            raise TotpError(f"Prefect variable {name} {exc}; fix or delete it") from None

    def locked_until(self, approver: str, now: float | None = None) -> float | None:
        """When `approver`'s lock ends, None when they are not locked."""
        with get_client(sync_client=True) as client:
            record, _ = self._read(client, approver)
        return record.lock_end(time.time() if now is None else now)

    def count(self, approver: str, now: float | None = None) -> float | None:
        """Count a wrong code of `approver`; the end of the lock when this one locked them."""
        from prefect.client.schemas.actions import VariableCreate, VariableUpdate

        now = time.time() if now is None else now
        name = lockout_variable_name(approver)
        with get_client(sync_client=True) as client:
            record, exists = self._read(client, approver)
            after = count_wrong_code(record, now, self.attempts, self.period)
            if after == record:
                return None  # counted already (a suspended run judging its answers again)
            try:
                if not exists:
                    client.create_variable(VariableCreate(name=name, value=after.to_json()))
            except ObjectAlreadyExists:
                exists = True  # another process counted one meanwhile: this one overwrites
            if exists:
                client.update_variable(VariableUpdate(name=name, value=after.to_json()))
        return after.locked_until if after.locked_since == now != record.locked_since else None


def _as_step(name: str, value: object) -> int | None:
    # Someone may edit the variable in the UI, which stores JSON: a number or digit string is
    # taken; anything else refuses every code (fail closed) until it is fixed or deleted.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    if value is None:
        return None
    raise TotpError(f"Prefect variable {name} does not hold a time step; fix or delete it")
