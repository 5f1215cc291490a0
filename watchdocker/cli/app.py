"""`watch-docker`: the command line. Prefect is imported only inside commands, after
`prepare_environment` has given it the embedded defaults."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from watchdocker.config import ConfigError, Settings, load_settings

app = typer.Typer(
    name="watch-docker",
    help="Keep Docker containers on their newest images, safely, as Prefect flows.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="config.yaml to read (default: WATCH_CONFIG, the usual places)"
    ),
]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="show Prefect's logs")]


@app.callback()
def _root() -> None:
    """Keep Docker containers on their newest images, safely, as Prefect flows."""


def fail(message: str, code: int = 1) -> typer.Exit:
    """One line on stderr and a non-zero exit: what could not run, and why."""
    print(f"watch-docker: {message}", file=sys.stderr)
    return typer.Exit(code)


def _settings(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as exc:
        raise fail(str(exc), 2) from None


_STATUS_STYLE = {
    "update_available": "bold yellow",
    "up_to_date": "green",
    "skipped": "dim",
    "error": "bold red",
}


def _print_scan_table(report: object) -> None:
    table = Table(title="watch-docker scan")
    for column in ("NAME", "IMAGE", "STATUS", "REASON", "LOCAL", "REMOTE"):
        table.add_column(column, overflow="fold")
    for c in report.containers:  # type: ignore[attr-defined]
        table.add_row(
            c.name,
            c.image,
            f"[{_STATUS_STYLE[c.status]}]{c.status}[/]",
            c.reason,
            (c.local_digest or "").removeprefix("sha256:")[:12],
            (c.remote_digest or "").removeprefix("sha256:")[:12],
        )
    console = Console()
    console.print(table)
    console.print(report.summary)  # type: ignore[attr-defined]


@app.command()
def scan(
    config: ConfigOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    include_stopped: Annotated[
        bool | None,
        typer.Option("--include-stopped/--running-only", help="check stopped containers too"),
    ] = None,
    verbose: VerboseOption = False,
) -> None:
    """Tell, for every container, whether its registry has a newer image."""
    settings = _settings(config)
    from watchdocker.prefect_env import ServerUnavailable, prefect_api, prepare_environment

    prepare_environment(settings, console_level="INFO" if verbose else "CRITICAL")
    from watchdocker.engine.client import EngineUnavailable, connect

    try:
        connect(settings.docker.host).close()
    except EngineUnavailable as exc:
        raise fail(str(exc)) from None
    try:
        with prefect_api(settings):
            from watchdocker.flows.scan import scan as scan_flow

            state = scan_flow(
                include_stopped=include_stopped,
                config_file=str(config) if config else None,
                return_state=True,
            )
            result = state.result(raise_on_failure=False)
    except ServerUnavailable as exc:
        raise fail(str(exc)) from None
    if isinstance(result, BaseException) or not state.is_completed():
        raise fail(f"the scan failed: {result}")
    if json_output:
        print(json.dumps({"containers": [c.model_dump() for c in result.containers]}, indent=2))
    else:
        _print_scan_table(result)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
