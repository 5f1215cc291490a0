"""`watch-docker compose`: compose projects — list them, act on them (`up`, `start`, `stop`,
`restart`, `down`, `delete`: runs of the `compose` flow, through serve's API when serve runs,
else in this process against the Prefect API), create one from a file, follow its logs.

`watchdocker.cli.app` imports this module to register it (see `cli/totp.py`): nothing of
`app` is imported here."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from watchdocker.cli.options import ConfigOption, JsonOption
from watchdocker.cli.preconditions import fail, settings_or_exit, with_api
from watchdocker.config import Settings

if TYPE_CHECKING:
    import docker

    from watchdocker.stacks.operations import FlowAction

T = TypeVar("T")

compose_app = typer.Typer(
    name="compose",
    help="Compose projects: list, create, start, stop, restart, delete, follow their logs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

NameArgument = Annotated[str, typer.Argument(help="the compose project's name")]
VolumesOption = Annotated[
    bool, typer.Option("--volumes", help="remove the project's volumes too (kept by default)")
]


@compose_app.callback()
def _root() -> None:
    """Compose projects: list, create, start, stop, restart, delete, follow their logs."""


def _local(settings: Settings, call: Callable[[docker.DockerClient, Path], T]) -> T:
    """`call(engine, projects' folder)`, or exit with one line saying what was wrong (2 for a
    bad name, else 1)."""
    from watchdocker.engine.client import EngineUnavailable, connect
    from watchdocker.stacks.compose_cli import ComposeFailed
    from watchdocker.stacks.names import BadProjectName, OutsideRoot
    from watchdocker.stacks.operations import StackExists, StackNotFound

    try:
        engine = connect(settings.docker.host)
    except EngineUnavailable as exc:
        raise fail(str(exc)) from None
    try:
        return call(engine, settings.compose.project_root(settings.state_dir))
    except (BadProjectName, OutsideRoot) as exc:
        raise fail(str(exc), 2) from None
    except (StackNotFound, StackExists, ComposeFailed) as exc:
        raise fail(str(exc)) from None
    finally:
        engine.close()


def _checked(name: str) -> str:
    """The name, when compose accepts it; else exit 2 before anything runs."""
    from watchdocker.stacks.names import BadProjectName, check_name

    try:
        return check_name(name)
    except BadProjectName as exc:
        raise fail(str(exc), 2) from None


def _through_serve(settings: Settings, method: str, path: str, body: dict) -> Any | None:
    """The `data` of serve's answer when serve runs (exit 1 with its message on an error);
    None when no serve runs."""
    from watchdocker.cli.serve_client import ServeError, serve_of

    serve_api, other_settings = serve_of(settings)
    if other_settings:
        print(f"watch-docker: {other_settings}: running here", file=sys.stderr)
    if serve_api is None:
        return None
    try:
        return serve_api.call(method, path, body=body)
    except ServeError as exc:
        raise fail(str(exc)) from None


@compose_app.command("ls")
def list_projects(config: ConfigOption = None, json_output: JsonOption = False) -> None:
    """The projects of the engine's containers and of the projects' folder (compose.dir),
    with their services, containers and status."""
    from watchdocker.cli.tables import print_stacks
    from watchdocker.stacks.operations import list_stacks

    settings = settings_or_exit(config)
    stacks = _local(settings, lambda engine, root: list_stacks(engine, root))
    if json_output:
        print(json.dumps({"projects": [s.model_dump() for s in stacks]}, indent=2))
    else:
        print_stacks(stacks)


def _run(action: FlowAction, name: str, config: Path | None, volumes: bool = False) -> None:
    """A run of the `compose` flow: in serve when it runs, else here (the project checked
    first, so that a wrong name starts no Prefect server)."""
    from watchdocker.stacks.operations import find_stack

    settings = settings_or_exit(config)
    body = {"name": _checked(name), "removeVolumes": volumes}
    done = _through_serve(
        settings, "DELETE" if action == "delete" else "POST", f"/api/compose/{action}", body
    )
    if done is None:
        _local(settings, lambda engine, root: find_stack(engine, root, name))
        done = with_api(settings, lambda: _run_here(action, name, volumes, config))
    removed = " (its folder removed)" if done.get("folderRemoved") else ""
    print(f"compose {action} {name}: {done['status']}{removed}")


def _run_here(action: FlowAction, name: str, volumes: bool, config: Path | None) -> dict:
    from watchdocker.flows.compose import ComposeRunFailed, run_compose

    try:
        _, outcome = run_compose(action, name, volumes, str(config) if config else None)
    except ComposeRunFailed as exc:
        raise fail(str(exc)) from None
    return {"status": outcome.status, "folderRemoved": outcome.folder_removed}


@compose_app.command()
def up(name: NameArgument, config: ConfigOption = None) -> None:
    """Create and start the project's containers (`up -d`)."""
    _run("up", name, config)


@compose_app.command()
def start(name: NameArgument, config: ConfigOption = None) -> None:
    """Start the project's existing containers."""
    _run("start", name, config)


@compose_app.command()
def stop(name: NameArgument, config: ConfigOption = None) -> None:
    """Stop the project's containers."""
    _run("stop", name, config)


@compose_app.command()
def restart(name: NameArgument, config: ConfigOption = None) -> None:
    """Restart the project's containers."""
    _run("restart", name, config)


@compose_app.command()
def down(name: NameArgument, volumes: VolumesOption = False, config: ConfigOption = None) -> None:
    """Stop and remove the project's containers and networks (`down`); the folder stays."""
    _run("down", name, config, volumes)


@compose_app.command()
def delete(name: NameArgument, volumes: VolumesOption = False, config: ConfigOption = None) -> None:
    """`down`, then remove the project's folder when watch-docker created it (compose.dir)."""
    _run("delete", name, config, volumes)


@compose_app.command()
def create(
    name: NameArgument,
    file: Annotated[Path, typer.Option("--file", "-f", help="the compose file to use")],
    config: ConfigOption = None,
) -> None:
    """A new project folder under compose.dir holding FILE, once `compose config` accepts it
    (start it with `watch-docker compose up NAME`)."""
    from watchdocker.stacks.compose_cli import ComposeCli
    from watchdocker.stacks.operations import create as create_stack

    settings = settings_or_exit(config)
    _checked(name)
    try:
        content = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read {file}: {exc}", 2) from None
    done = _through_serve(
        settings, "POST", "/api/compose/create", {"name": name, "content": content}
    )
    if done is None:
        folder = _local(
            settings,
            lambda engine, root: create_stack(
                ComposeCli.from_settings(settings), engine, root, name, content
            ),
        )
        done = {"folder": str(folder)}
    print(f"compose create {name}: {done['folder']}")


@compose_app.command()
def logs(
    name: NameArgument,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="keep following")] = False,
    tail: Annotated[
        int | None, typer.Option("--tail", min=0, help="only the last N lines of each")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """The project's logs (`compose logs`), followed with -f until Ctrl-C."""
    from watchdocker.compose.logs import logs_argv
    from watchdocker.stacks.compose_cli import ComposeCli
    from watchdocker.stacks.operations import find_stack, target_of

    settings = settings_or_exit(config)

    def command(
        engine: docker.DockerClient, root: Path
    ) -> tuple[list[str], ComposeCli, str | None]:
        stack = find_stack(engine, root, name)
        cli = ComposeCli.from_settings(settings)
        return logs_argv(cli, stack, follow, tail), cli, target_of(stack).cwd

    argv, cli, cwd = _local(settings, command)
    try:
        done = subprocess.run(argv, env=cli.env, cwd=cwd, check=False)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    if done.returncode != 0:
        print(f"watch-docker: compose logs exited {done.returncode}", file=sys.stderr)
        raise typer.Exit(1)
