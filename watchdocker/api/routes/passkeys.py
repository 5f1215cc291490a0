"""The WebAuthn routes of `/api/v1/2fa/` (seed §5.1): make a passkey (`setup/webauthn/...`), pass
the second factor with one (`verify/webauthn/...`), remove one. Options go out as the WebAuthn
Level 3 JSON forms, answers come in as `PublicKeyCredential.toJSON()` gives them, so any WebAuthn
client library works. A temp token is accepted (but not for removing); the relying party is the
host the request was sent to (`watchdocker.auth.relying_party`)."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from watchdocker.api.authn import Auth, client_address
from watchdocker.api.codes import Code
from watchdocker.api.deps import Context, FullUser
from watchdocker.api.responses import ApiError, BaseRes, ok
from watchdocker.api.routes.twofa import Party, Person, allowed_host, person
from watchdocker.api.second_factor import (
    check_passkey,
    enrolment,
    failed_attempt,
    refuse_if_limited,
    refuse_second_enrolment,
)
from watchdocker.auth.attempt_limits import limit_keys
from watchdocker.auth.passkey_store import PasskeyExists
from watchdocker.auth.passkeys import (
    Ceremony,
    NoCeremony,
    PasskeyRejected,
    authentication_options,
    registration_options,
    verify_registration,
)

router = APIRouter(prefix="/api/v1/2fa", tags=["2fa"], dependencies=[Depends(allowed_host)])


class CredentialBody(BaseModel):
    model_config = ConfigDict(hide_input_in_errors=True)

    credential: dict[str, Any] = Field(
        description="the browser's PublicKeyCredential.toJSON() (base64url fields)"
    )


class NewPasskeyBody(CredentialBody):
    name: str | None = Field(
        None, min_length=1, max_length=64, description="a label to tell the passkey by"
    )


@router.post("/setup/webauthn/begin")
def setup_webauthn_begin(user: Person, rp: Party, context: Context, auth: Auth) -> BaseRes:
    refuse_second_enrolment(auth, context.settings, user)
    challenge = auth.challenges.issue(user.name, rp.rp_id, Ceremony.REGISTRATION, time.time())
    options = registration_options(
        rp,
        user.name,
        auth.passkeys.user_handle(user.name),
        auth.passkeys.passkeys(user.name, rp.rp_id),
        challenge,
    )
    return ok({"options": options})


@router.post("/setup/webauthn/finish")
def setup_webauthn_finish(
    body: NewPasskeyBody, user: Person, rp: Party, request: Request, context: Context, auth: Auth
) -> BaseRes:
    now = time.time()
    client = client_address(request)
    keys = limit_keys(user.name, client)
    refuse_if_limited(auth, user, keys, now)
    # Again: another enrolment may have ended since this one began.
    refuse_second_enrolment(auth, context.settings, user)
    try:
        challenge = auth.challenges.take(user.name, rp.rp_id, Ceremony.REGISTRATION, now)
    except NoCeremony as exc:
        raise ApiError(Code.NO_CEREMONY, f"{exc}: POST /api/v1/2fa/setup/webauthn/begin") from None
    count = len(auth.passkeys.passkeys(user.name))
    name = body.name or f"passkey {count + 1}"
    try:
        passkey = verify_registration(rp, challenge, body.credential, name, now)
    except PasskeyRejected as exc:
        auth.count_failure("passkey refused", keys, user.name, client, now)
        raise failed_attempt(auth, user, Code.WRONG_PASSKEY, f"{exc}", now) from None
    try:
        auth.passkeys.add(user.name, passkey)
    except PasskeyExists as exc:
        raise ApiError(Code.TWOFA_STATE, f"{exc}") from None
    auth.limiter.succeed(keys)
    token = auth.signer.full(user.name, two_fa_verified=True)
    return ok({"token": token, "passkey": passkey.info()})


@router.post("/verify/webauthn/begin")
def verify_webauthn_begin(user: Person, rp: Party, auth: Auth) -> BaseRes:
    passkeys = auth.passkeys.passkeys(user.name)
    if not passkeys:
        raise ApiError(
            Code.TWOFA_STATE, "no passkey is set up: POST /api/v1/2fa/setup/webauthn/begin first"
        )
    here = [p for p in passkeys if p.rp_id == rp.rp_id]
    if not here:
        raise ApiError(
            Code.PASSKEY_NOT_HERE,
            f"none of your passkeys is for {rp.rp_id}: a passkey works only on the host it was "
            "made on; use that host, or another method",
        )
    challenge = auth.challenges.issue(user.name, rp.rp_id, Ceremony.AUTHENTICATION, time.time())
    return ok({"options": authentication_options(rp, here, challenge)})


@router.post("/verify/webauthn/finish")
def verify_webauthn_finish(
    body: CredentialBody, user: Person, rp: Party, request: Request, auth: Auth
) -> BaseRes:
    check_passkey(auth, user, rp, body.credential, client_address(request))
    return ok({"token": auth.signer.full(user.name, two_fa_verified=True)})


@router.delete("/webauthn/{passkey_id}")
def remove_passkey(
    user: FullUser,
    context: Context,
    auth: Auth,
    passkey_id: Annotated[str, Path(min_length=1, max_length=1024)],
) -> BaseRes:
    person(user)
    held = enrolment(auth, context.settings, user.name)
    if not any(p.id == passkey_id for p in held.passkeys):
        raise ApiError(Code.PASSKEY_NOT_FOUND, "you have no passkey of that id")
    if not held.otp and len(held.passkeys) == 1:
        # Removing it would turn 2FA off without the proof `disable` asks for.
        raise ApiError(
            Code.TWOFA_STATE,
            "this is your only second factor: POST /api/v1/2fa/disable with a passkey "
            "assertion to turn 2FA off",
        )
    auth.passkeys.remove(user.name, passkey_id)
    return ok(enrolment(auth, context.settings, user.name).summary())
