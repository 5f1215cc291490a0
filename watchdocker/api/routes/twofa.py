"""`/api/v1/2fa/` (seed §4.3, §5.1): the second factor's status, TOTP enrolment, the code that
turns a temp token into a full one, and disabling it. A temp token is accepted here (except by
`disable`); TWOFA_ALLOWED_DOMAINS limits the hosts these requests may be sent to. The WebAuthn
routes of the same group (`setup/webauthn/...`, `verify/webauthn/...`) join this router."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from watchdocker.api.authn import Auth, client_address
from watchdocker.api.codes import Code
from watchdocker.api.deps import AnyUser, Context, FullUser, User
from watchdocker.api.responses import ApiError, BaseRes, ok
from watchdocker.api.second_factor import check_code, enrolled_secret
from watchdocker.auth.allowed_hosts import host_allowed, request_host
from watchdocker.auth.local_credential import LOCAL_USER
from watchdocker.auth.totp import generate_secret, provisioning_uri, qr_png_data_uri
from watchdocker.blocks.totp import EnrolmentError, check_enrollable, remove_enrolment, save_secret


def allowed_host(request: Request, context: Context) -> None:
    host = request_host(request.headers.get)
    if not host_allowed(host, context.settings.auth.allowed_domains):
        raise ApiError(Code.HOST_NOT_ALLOWED, f"2FA requests to host {host!r} are not allowed here")


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
            Code.TWOFA_STATE, "no second factor is set up: POST /api/v1/2fa/setup/otp/init first"
        )
    return secret.get_secret_value()


@router.get("/status")
def status(user: Person, context: Context) -> BaseRes:
    is_setup = enrolled_secret(context.settings, user.name) is not None
    return ok(
        {
            "required": context.settings.auth.secondary_verification,
            "isSetup": is_setup,
            "method": "otp" if is_setup else None,
            "twoFAVerified": user.full and context.settings.auth.secondary_verification,
        }
    )


@router.post("/setup/otp/init")
def setup_otp_init(user: Person, context: Context, auth: Auth) -> BaseRes:
    if enrolled_secret(context.settings, user.name) is not None:
        raise ApiError(Code.TWOFA_STATE, "a second factor is set up already; disable it first")
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


@router.post("/disable")
def disable(
    body: CodeBody, user: FullUser, request: Request, context: Context, auth: Auth
) -> BaseRes:
    person(user)
    secret = _enrolled(context, user)
    if user.name in context.settings.twofa.users:
        raise ApiError(
            Code.TWOFA_STATE,
            f"the secret of {user.name!r} is in the configuration (twofa.users or "
            "WATCH_TOTP_SECRET); remove it there",
        )
    check_code(auth, context.settings, user, body.code, secret, client_address(request))
    remove_enrolment(user.name)
    return ok({"isSetup": False})
