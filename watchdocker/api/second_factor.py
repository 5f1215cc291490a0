"""Checking a second factor for the API: a TOTP code or a passkey. The login user's TOTP secret is
the enrolment of the approver of the same name (`TotpSecret` block or `twofa.users`), with the
same replay guard (a code accepted at login is refused for an approval, and the reverse) and the
same ledger of wrong codes; passkeys are the API's own (`watchdocker.auth.passkey_store`). The
API's own limits and the temp token's few attempts apply to both."""

from __future__ import annotations

import time
from typing import Any

from pydantic import SecretStr

from watchdocker.api.authn import Authenticator, too_many
from watchdocker.api.codes import Code
from watchdocker.api.deps import User
from watchdocker.api.responses import ApiError
from watchdocker.auth.attempt_limits import Refusal, limit_keys
from watchdocker.auth.enrolment import Enrolment
from watchdocker.auth.lockout import clock_time
from watchdocker.auth.passkeys import Ceremony, NoCeremony, PasskeyRejected, verify_authentication
from watchdocker.auth.relying_party import RelyingParty
from watchdocker.auth.totp import WRONG_CODE, TotpError, verify_code
from watchdocker.blocks.totp import ReplayGuard, WrongCodeLedger, approver_secrets
from watchdocker.config import Settings


def enrolled_secret(settings: Settings, username: str) -> SecretStr | None:
    return approver_secrets(settings).get(username)


def enrolment(auth: Authenticator, settings: Settings, username: str) -> Enrolment:
    otp = enrolled_secret(settings, username) is not None
    return Enrolment(otp, tuple(auth.passkeys.passkeys(username)))


def refuse_second_enrolment(auth: Authenticator, settings: Settings, user: User) -> None:
    """With a temp token a user may enrol a first factor only: adding one beside a factor
    they have not passed would get round it."""
    if not user.full and enrolment(auth, settings, user.name).is_setup:
        raise ApiError(
            Code.TWOFA_STATE,
            "a second factor is set up already: pass it first (verify/otp or verify/webauthn), "
            "then add another with the full token",
        )


def refuse_if_limited(auth: Authenticator, user: User, keys: list[str], now: float) -> None:
    """Refuse a second-factor attempt (code or passkey) before it is checked: the temp token's
    attempts are used up, or the user or address is in a wait or lock."""
    if not user.full and user.token_id is not None and auth.token_codes.exhausted(user.token_id):
        raise ApiError(
            Code.TOO_MANY_ATTEMPTS,
            f"{auth.token_codes.allowed} failed attempts with this temp token: log in again",
        )
    auth.refuse_if_limited(keys, now)


def check_code(
    auth: Authenticator, settings: Settings, user: User, code: str, secret: str, client: str
) -> None:
    """Accept `code` for `user` against `secret` (used up from then on), or raise the
    ApiError that says why not: limits reached, locked as an approver, wrong or reused."""
    now = time.time()
    keys = limit_keys(user.name, client)
    refuse_if_limited(auth, user, keys, now)
    ledger = WrongCodeLedger.from_settings(settings)
    guard = ReplayGuard()
    try:
        if (until := ledger.locked_until(user.name, now)) is not None:
            raise too_many(Refusal(f"approver {user.name}", until, locked=True), now)
        step = verify_code(secret, code, guard.last_step(user.name), at=now)
        guard.record(user.name, step)
    except TotpError as exc:
        if str(exc) != WRONG_CODE:
            raise ApiError(Code.WRONG_CODE, f"{exc}") from None
        auth.count_failure("wrong code", keys, user.name, client, now)
        if (until := ledger.count(user.name, now)) is not None:
            auth.log_lock(
                f"approver {user.name} locked until {clock_time(until)}", user.name, client
            )
        raise failed_attempt(auth, user, Code.WRONG_CODE, f"{exc}", now) from None
    auth.limiter.succeed(keys)


def check_passkey(
    auth: Authenticator, user: User, rp: RelyingParty, credential: dict[str, Any], client: str
) -> None:
    """Accept a passkey assertion of `user` on `rp` for the challenge `verify/webauthn/begin`
    gave (used up whatever the outcome) and store its new sign counter, or raise the ApiError
    that says why not: limits reached, no ceremony under way, or a passkey refused."""
    now = time.time()
    keys = limit_keys(user.name, client)
    refuse_if_limited(auth, user, keys, now)
    try:
        challenge = auth.challenges.take(user.name, rp.rp_id, Ceremony.AUTHENTICATION, now)
    except NoCeremony as exc:
        raise ApiError(Code.NO_CEREMONY, f"{exc}: POST /api/v1/2fa/verify/webauthn/begin") from None
    try:
        assertion = verify_authentication(
            rp, challenge, credential, auth.passkeys.passkeys(user.name, rp.rp_id)
        )
    except PasskeyRejected as exc:
        auth.count_failure("passkey refused", keys, user.name, client, now)
        raise failed_attempt(auth, user, Code.WRONG_PASSKEY, f"{exc}", now) from None
    auth.passkeys.set_sign_count(user.name, assertion.passkey.id, assertion.sign_count)
    auth.limiter.succeed(keys)


def failed_attempt(auth: Authenticator, user: User, code: Code, msg: str, now: float) -> ApiError:
    """The error for a failed second factor (counted already against the user and address),
    after counting it against a temp token too: how many attempts that token has left."""
    if user.full or user.token_id is None or user.expires_at is None:
        return ApiError(code, msg)
    left = auth.token_codes.fail(user.token_id, user.expires_at, now)
    if left == 0:
        return ApiError(code, f"{msg}; that was this temp token's last attempt: log in again")
    return ApiError(code, f"{msg}; {left} left with this temp token")
