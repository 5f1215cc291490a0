"""Who is asking: FastAPI dependencies that read the bearer token of a request (a JWT of the
login, or the CLI's local credential). `full_user` guards every route but the 2FA group's,
which takes `any_user` (a temp token too)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from watchdocker.api.authn import Auth, Authenticator
from watchdocker.api.codes import Code
from watchdocker.api.context import ApiContext, api_context
from watchdocker.api.responses import ApiError
from watchdocker.auth.local_credential import LOCAL_USER
from watchdocker.auth.tokens import TokenError, TokenExpired


@dataclass(frozen=True)
class User:
    name: str
    full: bool  # False for a temp token: the second factor is still to come
    token_id: str | None = None  # the JWT's jti; None for the local credential
    expires_at: float | None = None


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def authenticate(token: str | None, context: ApiContext, auth: Authenticator) -> User:
    """Who `token` is (a login's JWT or the CLI's local credential), for a request and a
    WebSocket alike; ApiError when it is missing, wrong or expired."""
    if token is None:
        raise ApiError(Code.NOT_AUTHENTICATED, "log in first: no bearer token in Authorization")
    if hmac.compare_digest(token.encode(), context.local_credential.encode()):
        return User(LOCAL_USER, full=True)
    return _token_user(auth, token, context.settings.auth.secondary_verification)


def any_user(
    request: Request, context: Annotated[ApiContext, Depends(api_context)], auth: Auth
) -> User:
    user = authenticate(bearer_token(request), context, auth)
    request.state.user = user.name  # for the request log
    return user


def _token_user(auth: Authenticator, token: str, two_fa_required: bool) -> User:
    try:
        claims = auth.signer.parse(token)
    except TokenExpired:
        raise ApiError(Code.TOKEN_EXPIRED, "the token has expired; log in again") from None
    except TokenError:
        raise ApiError(Code.NOT_AUTHENTICATED, "the token is not valid; log in again") from None
    if auth.user is None or claims.username != auth.user.username:
        # Signed for a user the configuration no longer has.
        raise ApiError(Code.NOT_AUTHENTICATED, "the token's user is not configured; log in again")
    # A token from before IS_SECONDARY_VERIFICATION was turned on has not passed the second
    # factor: it reaches the 2FA routes only, like a temp token.
    full = not claims.is_temp and (claims.two_fa_verified or not two_fa_required)
    return User(claims.username, full, claims.token_id, claims.expires_at)


def require_full(user: User) -> User:
    if not user.full:
        raise ApiError(
            Code.FULL_TOKEN_REQUIRED, "finish the second factor first: this is a temp token"
        )
    return user


def full_user(user: Annotated[User, Depends(any_user)]) -> User:
    return require_full(user)


FullUser = Annotated[User, Depends(full_user)]
AnyUser = Annotated[User, Depends(any_user)]
Context = Annotated[ApiContext, Depends(api_context)]
