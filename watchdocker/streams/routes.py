"""The API's WebSocket routes: container status and stats, a container's logs, and the shells
(in a container, and where watch-docker runs). Each admits a full token before the upgrade
(`streams/session.py`) and shares its source through the app's StreamManager."""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Callable

from fastapi import APIRouter, FastAPI, Request, WebSocket
from starlette.requests import HTTPConnection

from watchdocker.api.codes import Code
from watchdocker.api.deps import FullUser, User
from watchdocker.api.engine_errors import docker_errors
from watchdocker.api.responses import ApiError, BaseRes, ok
from watchdocker.engine.inventory import LiveContainer, find_container, list_live_containers
from watchdocker.streams.logs import logs_source
from watchdocker.streams.manager import Ended, StreamManager
from watchdocker.streams.session import (
    INTERNAL_ERROR,
    admit,
    close,
    context_of,
    query_tail,
    relay,
)
from watchdocker.streams.stats import stats_source
from watchdocker.streams.status import StatusSource, snapshot
from watchdocker.streams.terminal_bridge import run_terminal
from watchdocker.streams.terminals import SHELL_NAME, ExecTerminal, HostTerminal, Terminal
from watchdocker.streams.threads import in_thread

router = APIRouter(tags=["streams"])
DEFAULT_TAIL = 100
MAX_TAIL = 10000


def manager(websocket: WebSocket) -> StreamManager:
    streams: StreamManager = websocket.app.state.streams
    return streams


@router.websocket("/api/containers/ws")
async def status_stream(websocket: WebSocket) -> None:
    """`containers` (the list of GET /api/containers) first, then one message per change."""
    if (user := await admit(websocket)) is None:
        return
    context = context_of(websocket)
    # Joined before the list is taken, so that no change between the two is missed.
    subscription = manager(websocket).subscribe("status", lambda: StatusSource(context))
    try:
        first = await in_thread(lambda: snapshot(context), "watchdocker-snapshot")
    except Exception as exc:
        subscription.leave()
        await close(websocket, Ended(f"cannot list the containers: {exc}", INTERNAL_ERROR))
        return
    await relay(websocket, user, subscription, first)


@router.websocket("/api/containers/stats/ws")
async def stats_stream(websocket: WebSocket) -> None:
    if (user := await admit(websocket)) is None:
        return
    context = context_of(websocket)
    await relay(
        websocket, user, manager(websocket).subscribe("stats", lambda: stats_source(context))
    )


async def _container(connection: HTTPConnection, given: str) -> LiveContainer:
    engine = context_of(connection).engine

    def find() -> LiveContainer:
        with docker_errors(Code.CONTAINER_NOT_FOUND):
            return find_container(list_live_containers(engine), given)

    return await in_thread(find, "watchdocker-find")


@router.websocket("/api/containers/{id}/logs/ws")
async def logs_stream(websocket: WebSocket, id: str) -> None:
    """`log` messages `{stream, line}`: the last `tail` lines, then as they come."""
    found: list[LiveContainer] = []

    async def check(_: User) -> None:
        query_tail(websocket, DEFAULT_TAIL, MAX_TAIL)
        found.append(await _container(websocket, id))

    if (user := await admit(websocket, check)) is None:
        return
    container, tail, context = (
        found[0],
        query_tail(websocket, DEFAULT_TAIL, MAX_TAIL),
        context_of(websocket),
    )
    subscription = manager(websocket).subscribe(
        f"logs:{container.id}:{tail}", lambda: logs_source(context, container.id, tail)
    )
    await relay(websocket, user, subscription)


def _shell(connection: HTTPConnection) -> str:
    shell = connection.query_params.get("shell", "sh")
    if not SHELL_NAME.fullmatch(shell):
        raise ApiError(Code.BAD_REQUEST, "shell: a command name or path, such as sh or /bin/bash")
    return shell


async def _terminal_session(
    websocket: WebSocket, user: User, open_terminal: Callable[[], Terminal], where: str
) -> None:
    try:
        terminal = await in_thread(open_terminal, "watchdocker-shell-open")
    except Exception as exc:
        await close(websocket, Ended(f"cannot open the shell: {exc}"[:120], INTERNAL_ERROR))
        return
    await run_terminal(websocket, user, terminal, where)


async def _shell_target(connection: HTTPConnection, id: str) -> LiveContainer:
    """The container a shell may be opened in, or the ApiError that refuses it."""
    if not context_of(connection).settings.shell.containers:
        raise ApiError(
            Code.SHELL_DISABLED,
            "shells in containers are off: shell.containers (WATCH_SHELL_CONTAINERS) is false",
        )
    _shell(connection)
    container = await _container(connection, id)
    if not container.running:
        raise ApiError(Code.BAD_REQUEST, f"{container.name} is not running: start it first")
    return container


@router.get("/api/containers/{id}/shell", response_model=BaseRes)
async def container_shell_check(_: FullUser, request: Request, id: str) -> BaseRes:
    """Whether the shell stream would be admitted, as an answer a page can read (a browser
    cannot read the answer of a refused WebSocket handshake)."""
    container = await _shell_target(request, id)
    return ok({"id": container.id, "name": container.name, "shell": _shell(request)})


@router.websocket("/api/containers/{id}/shell/ws")
async def container_shell(websocket: WebSocket, id: str) -> None:
    """docker exec of `?shell=` (default sh) with a TTY."""
    context = context_of(websocket)
    found: list[LiveContainer] = []

    async def check(_: User) -> None:
        found.append(await _shell_target(websocket, id))

    if (user := await admit(websocket, check)) is None:
        return
    container, shell = found[0], _shell(websocket)
    await _terminal_session(
        websocket,
        user,
        lambda: ExecTerminal(context.engine, container.id, shell),
        f"container {container.name}",
    )


@router.websocket("/api/shell/ws")
async def host_shell(websocket: WebSocket) -> None:
    """A shell on a PTY where watch-docker runs: only with IS_OPEN_DOCKER_SHELL=true."""
    context = context_of(websocket)

    async def check(_: User) -> None:
        if not context.settings.shell.host:
            raise ApiError(
                Code.SHELL_DISABLED,
                "the shell on watch-docker's host is off: set IS_OPEN_DOCKER_SHELL=true "
                "(shell.host) to turn it on",
            )
        if shutil.which(_shell(websocket)) is None:
            raise ApiError(Code.BAD_REQUEST, f"shell: no {_shell(websocket)} on this host")

    if (user := await admit(websocket, check)) is None:
        return
    shell = _shell(websocket)
    await _terminal_session(websocket, user, lambda: HostTerminal(shell), "host")


_TOKEN_IN_QUERY = re.compile(r"([?&]token=)[^&\s\"]*")


# uvicorn 0.54's WebSocket protocol sends a refusal's HTTP answer (send_denial_response),
# then logs this as an error all the same: every refused stream would log a false alarm.
_FALSE_ALARM = "ASGI callable returned without completing handshake."


class _StreamLogs(logging.Filter):
    """uvicorn logs a WebSocket's path with its query string: never the `?token=`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == _FALSE_ALARM:
            return False
        if record.args:
            record.args = tuple(
                _TOKEN_IN_QUERY.sub(r"\1…", a) if isinstance(a, str) else a
                for a in (record.args if isinstance(record.args, tuple) else (record.args,))
            )
        return True


def install_streams(app: FastAPI) -> None:
    app.state.streams = StreamManager()
    app.include_router(router)
    for name in ("uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).addFilter(_StreamLogs())
