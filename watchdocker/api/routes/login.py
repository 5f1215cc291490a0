"""`POST /api/v1/auth/login` (seed §5.2): the user's name and password give a full token, or,
with IS_SECONDARY_VERIFICATION, a temp token for the second factor (`routes/twofa.py`)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from watchdocker.api.authn import Auth, client_address
from watchdocker.api.codes import Code
from watchdocker.api.deps import Context
from watchdocker.api.responses import ApiError, BaseRes, ok
from watchdocker.api.second_factor import enrolment
from watchdocker.auth.attempt_limits import limit_keys

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class Login(BaseModel):
    # Validation messages never quote the input, which may be the password.
    model_config = ConfigDict(hide_input_in_errors=True)

    username: str = Field(min_length=1, max_length=256)
    password: str = Field(min_length=1, max_length=1024)


@router.post("/login")
def login(body: Login, request: Request, context: Context, auth: Auth) -> BaseRes:
    client = client_address(request)
    keys = limit_keys(body.username, client)
    now = time.time()
    auth.refuse_if_limited(keys, now)
    if auth.user is None:
        raise ApiError(
            Code.WRONG_CREDENTIALS, "no user is configured: set USER_NAME and USER_PASSWORD"
        )
    if not auth.user.check(body.username, body.password):
        auth.count_failure("login failed", keys, body.username, client, now)
        raise ApiError(Code.WRONG_CREDENTIALS, "wrong user name or password")
    auth.limiter.succeed(keys)
    request.state.user = auth.user.username
    username = auth.user.username
    if not context.settings.auth.secondary_verification:
        return ok({"token": auth.signer.full(username, two_fa_verified=False)})
    held = enrolment(auth, context.settings, username)
    return ok(
        {
            "needTwoFA": True,
            "isSetup": held.is_setup,
            "method": held.method,
            "methods": held.methods,
            "tempToken": auth.signer.temp(username),
        }
    )
