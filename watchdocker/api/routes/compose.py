"""`/api/compose`: compose projects (seed §3.8, §5.1) — the list, `create` (a new folder
under compose.dir, checked by `compose config`), `up`/`start`/`stop`/`restart`/`down` and
`delete` (runs of the `compose` flow in serve's process, in the Prefect UI), and the logs of
a project over a WebSocket (`compose logs -f`, ended when the client goes)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from starlette.websockets import WebSocketState

from watchdocker.api.authn import Authenticator
from watchdocker.api.codes import HTTP_STATUS, Code
from watchdocker.api.context import ApiContext
from watchdocker.api.deps import Context, FullUser, bearer_token, require_full, user_of_token
from watchdocker.api.engine_errors import docker_errors
from watchdocker.api.responses import ApiError, BaseRes, ok
from watchdocker.compose.logs import followed_logs
from watchdocker.flows.compose import ComposeRunFailed, run_compose
from watchdocker.stacks.compose_cli import ComposeCli, ComposeFailed
from watchdocker.stacks.names import BadProjectName, OutsideRoot
from watchdocker.stacks.operations import (
    FlowAction,
    StackExists,
    StackNotFound,
    create,
    find_stack,
    list_stacks,
)
from watchdocker.stacks.projects import Stack

router = APIRouter(prefix="/api/compose", tags=["compose"])
DEFAULT_TAIL, MAX_TAIL = 200, 100_000
MAX_FILE_CHARS = 1_000_000  # a compose file is kilobytes; a larger body is no compose file
log = logging.getLogger(__name__)


class ProjectName(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    name: str = Field(description="the compose project's name")
    remove_volumes: bool = Field(
        False, alias="removeVolumes", description="down and delete: remove its volumes too"
    )


class NewProject(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="the new project's name, and its folder's under compose.dir")
    content: str = Field(max_length=MAX_FILE_CHARS, description="the compose file (YAML)")


def _root(context: ApiContext) -> Path:
    settings = context.settings
    return settings.compose.project_root(settings.state_dir)


@contextmanager
def _stack_errors() -> Iterator[None]:
    """The core's refusals as their codes; the engine's as docker_errors maps them."""
    try:
        with docker_errors(Code.PROJECT_NOT_FOUND):
            yield
    except (BadProjectName, OutsideRoot) as exc:
        raise ApiError(Code.BAD_PROJECT_NAME, str(exc)) from None
    except StackNotFound as exc:
        raise ApiError(Code.PROJECT_NOT_FOUND, str(exc)) from None
    except StackExists as exc:
        raise ApiError(Code.PROJECT_EXISTS, str(exc)) from None
    except ComposeFailed as exc:
        raise ApiError(Code.COMPOSE_FAILED, str(exc)) from None


def _found(context: ApiContext, name: str) -> Stack:
    with _stack_errors():
        return find_stack(context.engine, _root(context), name)


@router.get("")
def projects(_: FullUser, context: Context) -> BaseRes:
    """Every project: from the labels of the engine's containers and the folders of
    compose.dir; each with its folder, files, services (their containers and states) and
    status (`running`, `partial`, `stopped`, `not created`)."""
    with _stack_errors():
        stacks = list_stacks(context.engine, _root(context))
    return ok([s.model_dump() for s in stacks])


@router.post("/create")
def create_project(body: NewProject, user: FullUser, context: Context) -> BaseRes:
    """A new folder `compose.dir/<name>` holding the file, once `compose config` accepts it
    (50030 with compose's message otherwise: nothing is written). Start it with `/up`."""
    with _stack_errors():
        cli = ComposeCli.from_settings(context.settings)
        folder = create(cli, context.engine, _root(context), body.name, body.content)
    log.info("compose project %s created by %s", body.name, user.name)
    return ok({"name": body.name, "folder": str(folder)}, f"created {body.name}")


def _run(context: ApiContext, user: str, action: FlowAction, body: ProjectName) -> BaseRes:
    _found(context, body.name)  # a bad or unknown name starts no run
    log.info("compose %s %s asked by %s", action, body.name, user)
    try:
        run_id, outcome = run_compose(action, body.name, body.remove_volumes, context.config_file)
    except ComposeRunFailed as exc:
        data = _links(context, exc.flow_run_id)
        raise ApiError(Code.COMPOSE_FAILED, f"compose {action}: {exc}", data) from None
    data = {**(_links(context, run_id) or {}), **outcome.model_dump()}
    data["folderRemoved"] = data.pop("folder_removed")
    return ok(data, f"compose {action} {body.name}: {outcome.status}")


def _links(context: ApiContext, run_id: Any) -> dict[str, str] | None:
    return {"flowRunId": str(run_id), "url": context.flow_run_url(str(run_id))} if run_id else None


def _action_route(action: FlowAction) -> Callable[[ProjectName, FullUser, Context], BaseRes]:
    def route(body: ProjectName, user: FullUser, context: Context) -> BaseRes:
        return _run(context, user.name, action, body)

    route.__name__ = f"compose_{action}"
    route.__doc__ = ACTION_DOCS[action]
    return route


ACTION_DOCS: dict[FlowAction, str] = {
    "up": "Create and start the project's containers (`up -d`).",
    "start": "Start the project's existing containers.",
    "stop": "Stop the project's containers.",
    "restart": "Restart the project's containers.",
    "down": "Stop and remove its containers and networks (volumes with removeVolumes).",
    "delete": "`down`, then its folder when watch-docker created it under compose.dir.",
}
for _action in ("up", "start", "stop", "restart", "down"):
    router.add_api_route(f"/{_action}", _action_route(_action), methods=["POST"])
router.add_api_route("/delete", _action_route("delete"), methods=["DELETE"])


@router.websocket("/logs/ws")
async def project_logs(
    websocket: WebSocket,
    project: str,
    tail: Annotated[int, Query(ge=0, le=MAX_TAIL)] = DEFAULT_TAIL,
    token: str | None = None,
) -> None:
    """The project's `compose logs -f`, a text message per line as they come, from the last
    `tail` lines of each container (default 200: a project's whole history can be large, and
    a console wants the latest). The token is
    `?token=` (browsers cannot set headers on a WebSocket) or the Authorization header.
    Refusals close the socket with 4000 + the HTTP status and the message as reason."""
    context: ApiContext = websocket.app.state.context
    auth: Authenticator = websocket.app.state.authenticator
    await websocket.accept()
    try:
        require_full(user_of_token(token or bearer_token(websocket), context, auth))
        stack = await run_in_threadpool(_found, context, project)
        cli = ComposeCli.from_settings(context.settings)
    except ApiError as exc:
        await _refuse(websocket, exc.code, exc.msg)
        return
    except ComposeFailed as exc:
        await _refuse(websocket, Code.COMPOSE_FAILED, str(exc))
        return
    try:
        async with followed_logs(cli, stack, tail) as process:
            assert process.stdout is not None
            sending = asyncio.create_task(_send_lines(websocket, process.stdout))
            listening = asyncio.create_task(_until_gone(websocket))
            await asyncio.wait({sending, listening}, return_when=asyncio.FIRST_COMPLETED)
            for task in (sending, listening):
                task.cancel()
    except OSError as exc:  # the Compose CLI could not be started
        await _refuse(websocket, Code.COMPOSE_FAILED, f"compose logs could not run: {exc}")
        return
    # The process has ended (the block above ends it): say so when the client is still there.
    if websocket.client_state == WebSocketState.CONNECTED:
        await websocket.close()


async def _refuse(websocket: WebSocket, code: Code, message: str) -> None:
    # A close frame's reason holds at most 123 bytes.
    reason = message.encode()[:120].decode(errors="ignore")
    await websocket.close(4000 + HTTP_STATUS[code], reason)


async def _send_lines(websocket: WebSocket, lines: asyncio.StreamReader) -> None:
    try:
        while line := await lines.readline():
            await websocket.send_text(line.decode("utf-8", "replace").rstrip("\n"))
    except (WebSocketDisconnect, RuntimeError, OSError):
        return  # the client went while a line was sent: the caller ends the process


async def _until_gone(websocket: WebSocket) -> None:
    try:
        while True:
            await websocket.receive_text()
    except WebSocketDisconnect:
        return
