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
from typing import Any

from fastapi import APIRouter, WebSocket
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from watchdocker.api.codes import Code
from watchdocker.api.context import ApiContext
from watchdocker.api.deps import Context, FullUser, User
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
from watchdocker.streams.manager import Ended
from watchdocker.streams.session import (
    INTERNAL_ERROR,
    admit,
    close,
    context_of,
    first_of,
    query_tail,
    until_expired,
    until_gone,
)

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
async def project_logs(websocket: WebSocket) -> None:
    """`?project=NAME[&tail=N]`: the project's `compose logs -f`, a text message per line as
    they come, from the last `tail` lines of each container (default 200: a project's whole
    history can be large, and a console wants the latest). Admitted as the API's streams are
    (`streams/session.py`); one `compose logs` process per client, ended when it goes."""
    context = context_of(websocket)
    found: list[tuple[Stack, ComposeCli]] = []

    async def check(_: User) -> None:
        query_tail(websocket, DEFAULT_TAIL, MAX_TAIL)
        project = websocket.query_params.get("project", "")
        try:
            stack = await run_in_threadpool(_found, context, project)
            found.append((stack, ComposeCli.from_settings(context.settings)))
        except ComposeFailed as exc:
            raise ApiError(Code.COMPOSE_FAILED, str(exc)) from None

    if (user := await admit(websocket, check)) is None:
        return
    (stack, cli), tail = found[0], query_tail(websocket, DEFAULT_TAIL, MAX_TAIL)
    try:
        async with followed_logs(cli, stack, tail) as process:
            assert process.stdout is not None
            ended = await first_of(
                _send_lines(websocket, process.stdout), until_gone(websocket), until_expired(user)
            )
    except OSError as exc:  # the Compose CLI could not be started
        ended = Ended(f"compose logs could not run: {exc}", INTERNAL_ERROR)
    await close(websocket, ended)


async def _send_lines(websocket: WebSocket, lines: asyncio.StreamReader) -> Ended:
    while line := await lines.readline():
        await websocket.send_text(line.decode("utf-8", "replace").rstrip("\n"))
    return Ended("compose logs ended")
