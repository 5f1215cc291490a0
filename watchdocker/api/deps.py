"""Who is asking: FastAPI dependencies that read the bearer token of a request. `full_user`
guards every route but the 2FA group's, which takes `any_user` (a temp token too)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from watchdocker.api.codes import Code
from watchdocker.api.context import ApiContext, api_context
from watchdocker.api.responses import ApiError
from watchdocker.auth.local_credential import LOCAL_USER


@dataclass(frozen=True)
class User:
    name: str
    full: bool  # False for a temp token: the second factor is still to come


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def any_user(request: Request, context: Annotated[ApiContext, Depends(api_context)]) -> User:
    token = bearer_token(request)
    if token is None:
        raise ApiError(Code.NOT_AUTHENTICATED, "log in first: no bearer token in Authorization")
    if hmac.compare_digest(token.encode(), context.local_credential.encode()):
        return User(LOCAL_USER, full=True)
    raise ApiError(Code.NOT_AUTHENTICATED, "the token is not valid; log in again")


def full_user(user: Annotated[User, Depends(any_user)]) -> User:
    if not user.full:
        raise ApiError(
            Code.FULL_TOKEN_REQUIRED, "finish the second factor first: this is a temp token"
        )
    return user


FullUser = Annotated[User, Depends(full_user)]
AnyUser = Annotated[User, Depends(any_user)]
Context = Annotated[ApiContext, Depends(api_context)]
