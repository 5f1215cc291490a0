"""`/api/v1/2fa/` (seed §4.3, §5.1): the second factor's status, TOTP enrolment, the code that
turns a temp token into a full one, and disabling it. A temp token is accepted here (except by
`disable`); TWOFA_ALLOWED_DOMAINS limits the hosts these requests may be sent to. The WebAuthn
routes of the same group (`setup/webauthn/...`, `verify/webauthn/...`) are in `passkeys.py`;
`status` and `disable` cover both methods."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from watchdocker.api.authn import Auth, client_address
from watchdocker.api.codes import Code
from watchdocker.api.deps import AnyUser, Context, FullUser, User
from watchdocker.api.responses import ApiError, BaseRes, ok
from watchdocker.api.second_factor import (
    check_code,
    check_passkey,
    enrolled_secret,
    enrolment,
    refuse_second_enrolment,
)
from watchdocker.auth.allowed_hosts import host_allowed, request_host
from watchdocker.auth.local_credential import LOCAL_USER
from watchdocker.auth.relying_party import (
    HostNotAllowed,
    RelyingParty,
    RelyingPartyError,
    relying_party,
)
from watchdocker.auth.totp import generate_secret, provisioning_uri, qr_png_data_uri
from watchdocker.blocks.totp import EnrolmentError, check_enrollable, remove_enrolment, save_secret


def allowed_host(request: Request, context: Context) -> None:
    host = request_host(request.headers.get)
    if not host_allowed(host, context.settings.auth.allowed_domains):
        raise ApiError(Code.HOST_NOT_ALLOWED, f"2FA requests to host {host!r} are not allowed here")


def party(request: Request, context: Context) -> RelyingParty:
    """The WebAuthn relying party of the request: its RP ID and origin."""
    try:
        return relying_party(
            request.headers.get, request.url.scheme, context.settings.auth.allowed_domains
        )
    except HostNotAllowed as exc:
        raise ApiError(Code.HOST_NOT_ALLOWED, str(exc)) from None
    except RelyingPartyError as exc:
        raise ApiError(Code.PASSKEY_HOST, str(exc)) from None


Party = Annotated[RelyingParty, Depends(party)]


router = APIRouter(prefix="/api/v1/2fa", tags=["2fa"], dependencies=[Depends(allowed_host)])


def person(user: AnyUser) -> User:
    """A user who logged in: the CLI's local credential has no second factor."""
    if user.name == LOCAL_USER and user.token_id is None:
        raise ApiError(Code.TWOFA_STATE, "the local credential has no second factor; log in")
    return user


Person = Annotated[User, Depends(person)]


class CodeBody(BaseModel):
    model_config = ConfigDict(hide_input_in_errors=True)

    code: str = Field(min_length=1, max_length=32, description="the 6-digit TOTP code")


def _enrolled(context: Context, user: User) -> str:
    secret = enrolled_secret(context.settings, user.name)
    if secret is None:
        raise ApiError(
            Code.TWOFA_STATE,
            "no TOTP secret is set up: POST /api/v1/2fa/setup/otp/init first (or use a passkey)",
        )
    return secret.get_secret_value()


@router.get("/status")
def status(user: Person, context: Context, auth: Auth) -> BaseRes:
    return ok(
        {
            "required": context.settings.auth.secondary_verification,
            "twoFAVerified": user.full and context.settings.auth.secondary_verification,
            **enrolment(auth, context.settings, user.name).summary(),
        }
    )


@router.post("/setup/otp/init")
def setup_otp_init(user: Person, context: Context, auth: Auth) -> BaseRes:
    if enrolled_secret(context.settings, user.name) is not None:
        raise ApiError(Code.TWOFA_STATE, "a TOTP secret is set up already; disable 2FA first")
    refuse_second_enrolment(auth, context.settings, user)
    try:
        check_enrollable(user.name, context.settings)
    except EnrolmentError as exc:
        raise ApiError(Code.TWOFA_STATE, str(exc)) from None
    secret = generate_secret()
    auth.pending.put(user.name, secret, time.time())
    uri = provisioning_uri(secret, user.name)
    # Shown this once to the user who logged in, to scan; never logged.
    return ok({"secret": secret, "otpauthUrl": uri, "qrCode": qr_png_data_uri(uri)})


@router.post("/setup/otp/verify")
def setup_otp_verify(
    body: CodeBody, user: Person, request: Request, context: Context, auth: Auth
) -> BaseRes:
    secret = auth.pending.get(user.name, time.time())
    if secret is None:
        raise ApiError(Code.TWOFA_STATE, "no enrolment begun: POST /api/v1/2fa/setup/otp/init")
    refuse_second_enrolment(auth, context.settings, user)
    check_code(auth, context.settings, user, body.code, secret, client_address(request))
    try:
        save_secret(user.name, secret, force=False)
    except EnrolmentError as exc:
        raise ApiError(Code.TWOFA_STATE, str(exc)) from None
    auth.pending.drop(user.name)
    return ok({"token": auth.signer.full(user.name, two_fa_verified=True)})


@router.post("/verify/otp")
def verify_otp(
    body: CodeBody, user: Person, request: Request, context: Context, auth: Auth
) -> BaseRes:
    secret = _enrolled(context, user)
    check_code(auth, context.settings, user, body.code, secret, client_address(request))
    return ok({"token": auth.signer.full(user.name, two_fa_verified=True)})


class DisableBody(BaseModel):
    """A current proof of a factor the user holds: a TOTP code, or a passkey's answer to the
    challenge of `verify/webauthn/begin` (single use, 60 s)."""

    model_config = ConfigDict(hide_input_in_errors=True)

    code: str | None = Field(None, min_length=1, max_length=32, description="a TOTP code")
    credential: dict[str, Any] | None = Field(
        None, description="a passkey's PublicKeyCredential.toJSON() (verify/webauthn/begin)"
    )

    @model_validator(mode="after")
    def one_proof(self) -> DisableBody:
        if (self.code is None) == (self.credential is None):
            raise ValueError("give either code (TOTP) or credential (passkey), not both")
        return self


@router.post("/disable")
def disable(
    body: DisableBody, user: FullUser, request: Request, context: Context, auth: Auth
) -> BaseRes:
    """Turn 2FA off: the TOTP secret and every passkey (of every host) go."""
    person(user)
    held = enrolment(auth, context.settings, user.name)
    if not held.is_setup:
        raise ApiError(Code.TWOFA_STATE, "no second factor is set up")
    if user.name in context.settings.twofa.users:
        raise ApiError(
            Code.TWOFA_STATE,
            f"the secret of {user.name!r} is in the configuration (twofa.users or "
            "WATCH_TOTP_SECRET); remove it there",
        )
    client = client_address(request)
    if body.credential is not None:
        check_passkey(auth, user, party(request, context), body.credential, client)
    else:
        assert body.code is not None
        check_code(auth, context.settings, user, body.code, _enrolled(context, user), client)
    if held.otp:
        remove_enrolment(user.name)
    auth.passkeys.remove(user.name)
    return ok(enrolment(auth, context.settings, user.name).summary())
