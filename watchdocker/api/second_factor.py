"""Checking a TOTP code for the API. The login user's second factor is the enrolment of the
approver of the same name (`TotpSecret` block or `twofa.users`), with the same replay guard (a
code accepted at login is refused for an approval, and the reverse) and the same ledger of
wrong codes; the API's own limits and the temp token's few attempts come on top."""

from __future__ import annotations

import time

from pydantic import SecretStr

from watchdocker.api.authn import Authenticator, too_many
from watchdocker.api.codes import Code
from watchdocker.api.deps import User
from watchdocker.api.responses import ApiError
from watchdocker.auth.attempt_limits import Refusal, limit_keys
from watchdocker.auth.lockout import clock_time
from watchdocker.auth.totp import WRONG_CODE, TotpError, verify_code
from watchdocker.blocks.totp import ReplayGuard, WrongCodeLedger, approver_secrets
from watchdocker.config import Settings


def enrolled_secret(settings: Settings, username: str) -> SecretStr | None:
    return approver_secrets(settings).get(username)


def check_code(
    auth: Authenticator, settings: Settings, user: User, code: str, secret: str, client: str
) -> None:
    """Accept `code` for `user` against `secret` (used up from then on), or raise the
    ApiError that says why not: limits reached, locked as an approver, wrong or reused."""
    now = time.time()
    keys = limit_keys(user.name, client)
    if not user.full and user.token_id is not None and auth.token_codes.exhausted(user.token_id):
        raise ApiError(
            Code.TOO_MANY_ATTEMPTS,
            f"{auth.token_codes.allowed} wrong codes with this temp token: log in again",
        )
    auth.refuse_if_limited(keys, now)
    ledger = WrongCodeLedger.from_settings(settings)
    guard = ReplayGuard()
    try:
        if (until := ledger.locked_until(user.name, now)) is not None:
            raise too_many(Refusal(f"approver {user.name}", until, locked=True), now)
        step = verify_code(secret, code, guard.last_step(user.name), at=now)
        guard.record(user.name, step)
    except TotpError as exc:
        if str(exc) == WRONG_CODE:
            _count_wrong_code(auth, ledger, user, keys, client, now)
        raise ApiError(Code.WRONG_CODE, f"{exc}") from None
    auth.limiter.succeed(keys)


def _count_wrong_code(
    auth: Authenticator,
    ledger: WrongCodeLedger,
    user: User,
    keys: list[str],
    client: str,
    now: float,
) -> None:
    auth.count_failure("wrong code", keys, user.name, client, now)
    if (until := ledger.count(user.name, now)) is not None:
        auth.log_lock(f"approver {user.name} locked until {clock_time(until)}", user.name, client)
    if not user.full and user.token_id is not None and user.expires_at is not None:
        left = auth.token_codes.fail(user.token_id, user.expires_at, now)
        if left == 0:
            raise ApiError(
                Code.WRONG_CODE, "wrong code; that was this temp token's last attempt: log in again"
            )
        raise ApiError(Code.WRONG_CODE, f"wrong code; {left} left with this temp token")
