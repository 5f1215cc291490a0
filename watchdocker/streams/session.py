"""What every WebSocket of the API goes through: admission before the upgrade completes (the
page's `Origin`, a full token as `?token=` or in `Sec-WebSocket-Protocol: bearer, <token>`;
a refusal is the handshake's HTTP answer, a `BaseRes` with the code's status), then a session
that ends when the client leaves, falls silent (uvicorn's ping/pong), is dropped for reading
too slowly, or when its token expires."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from fastapi import WebSocket
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocketDisconnect, WebSocketState

from watchdocker.api.authn import Authenticator
from watchdocker.api.codes import Code
from watchdocker.api.context import ApiContext
from watchdocker.api.deps import User, authenticate, require_full
from watchdocker.api.responses import ApiError, answer
from watchdocker.auth.origins import origin_allowed
from watchdocker.streams.manager import DROPPED, Ended, Subscription

log = logging.getLogger("watchdocker.api.streams")

PROTOCOL = "bearer"  # Sec-WebSocket-Protocol: bearer, <token>
POLICY_VIOLATION = 1008
INTERNAL_ERROR = 1011
EXPIRED = Ended("the token has expired; log in again", POLICY_VIOLATION)


def context_of(connection: HTTPConnection) -> ApiContext:
    context: ApiContext = connection.app.state.context
    return context


def offered_token(websocket: WebSocket) -> tuple[str | None, bool]:
    """The token, and whether it came as a subprotocol (which the answer must then name)."""
    offered = [p.strip() for p in websocket.headers.get("sec-websocket-protocol", "").split(",")]
    if PROTOCOL in offered and offered.index(PROTOCOL) + 1 < len(offered):
        return offered[offered.index(PROTOCOL) + 1] or None, True
    return websocket.query_params.get("token") or None, False


async def refuse(websocket: WebSocket, error: ApiError) -> None:
    """The handshake's answer: the error's HTTP status and BaseRes, where the server can send
    one (uvicorn can); otherwise a close with 1008 and the message as its reason."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(answer(error.code, error.msg, error.data))
    else:
        await websocket.close(POLICY_VIOLATION, error.msg[:120])


def _check(websocket: WebSocket) -> User:
    context = context_of(websocket)
    settings = context.settings
    origin = websocket.headers.get("origin")
    if not origin_allowed(origin, websocket.headers.get("host"), settings.server.cors_origins):
        raise ApiError(
            Code.ORIGIN_NOT_ALLOWED,
            f"a page of {origin} may not open the API's streams: add it to server.corsOrigins "
            "(WATCH_SERVER_CORS_ORIGINS)",
        )
    token, _ = offered_token(websocket)
    if token is None:
        raise ApiError(
            Code.NOT_AUTHENTICATED,
            "log in first: give the token as ?token= or Sec-WebSocket-Protocol: bearer, <token>",
        )
    auth: Authenticator = websocket.app.state.authenticator
    return require_full(authenticate(token, context, auth))


async def admit(
    websocket: WebSocket, more: Callable[[User], Awaitable[None]] | None = None
) -> User | None:
    """The user, once the socket is accepted; None after a refusal. `more` checks what the
    route needs besides (raising ApiError), still before the upgrade."""
    try:
        user = _check(websocket)
        if more is not None:
            await more(user)
    except ApiError as error:
        await refuse(websocket, error)
        return None
    _, as_protocol = offered_token(websocket)
    await websocket.accept(subprotocol=PROTOCOL if as_protocol else None)
    return user


def query_tail(websocket: WebSocket, default: int, most: int) -> int:
    """The `?tail=` of a logs stream, checked before the upgrade."""
    given = websocket.query_params.get("tail", str(default))
    if not given.isdigit() or int(given) > most:
        raise ApiError(
            Code.BAD_REQUEST, f"tail: a whole number from 0 to {most}, not {given!r:.20}"
        )
    return int(given)


def client_of(websocket: WebSocket) -> str:
    return websocket.client.host if websocket.client else "unknown"


async def until_expired(user: User) -> Ended:
    if user.expires_at is None:  # the local credential does not expire
        await asyncio.Event().wait()
    else:
        await asyncio.sleep(max(user.expires_at - time.time(), 0))
    return EXPIRED


async def until_gone(websocket: WebSocket) -> Ended:
    """Reads (and ignores) what the client sends, until it leaves."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
    return Ended("the client left")


async def _send_all(websocket: WebSocket, subscription: Subscription, first: str | None) -> Ended:
    if first is not None:
        await websocket.send_text(first)
    while True:
        item = await subscription.next()
        if isinstance(item, Ended):
            return item
        await websocket.send_text(item)


async def first_of(*work: Coroutine[Any, Any, Ended]) -> Ended:
    """The first to end; the others are cancelled and awaited."""
    tasks = [asyncio.ensure_future(w) for w in work]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finished = next(iter(done))
        if (error := finished.exception()) is not None:
            log.debug("stream session: %r", error)  # mostly a client gone mid-send
            return Ended("internal error", INTERNAL_ERROR)
        return finished.result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def close(websocket: WebSocket, ended: Ended) -> None:
    if websocket.client_state == WebSocketState.CONNECTED:
        with contextlib.suppress(Exception):
            # A stalled client's buffers are full: do not wait on it for long.
            await asyncio.wait_for(websocket.close(ended.code, ended.reason[:120]), 2)


async def relay(
    websocket: WebSocket, user: User, subscription: Subscription, first: str | None = None
) -> None:
    """Sends the subscription's messages (after `first`) until one side ends, then leaves."""
    try:
        ended = await first_of(
            _send_all(websocket, subscription, first),
            until_gone(websocket),
            until_expired(user),
            _until_dropped(subscription),
        )
    finally:
        subscription.leave()
    await close(websocket, ended)


async def _until_dropped(subscription: Subscription) -> Ended:
    """A subscriber the manager dropped, at once: its send may be stuck on a stalled client."""
    await subscription.dropped.wait()
    return DROPPED


def parse_resize(text: str) -> tuple[int, int] | None:
    """(cols, rows) of a `{"type": "resize", "cols": N, "rows": M}` text frame, else None."""
    try:
        frame = json.loads(text)
    except ValueError:
        return None
    if not isinstance(frame, dict) or frame.get("type") != "resize":
        return None
    cols, rows = frame.get("cols"), frame.get("rows")
    if isinstance(cols, int) and isinstance(rows, int) and 0 < cols < 1000 and 0 < rows < 1000:
        return cols, rows
    return None
