"""What every command needs before it runs, its settings and the Prefect API, or one line on
stderr and an exit code saying why it cannot run (kept apart so that the sub-apps import it,
not the app)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import typer

from watchdocker.config import ConfigError, Settings, load_settings

T = TypeVar("T")


def fail(message: str, code: int = 1) -> typer.Exit:
    """One line on stderr and a non-zero exit: what could not run, and why."""
    print(f"watch-docker: {message}", file=sys.stderr)
    return typer.Exit(code)


def settings_or_exit(config: Path | None) -> Settings:
    """The settings, or exit 2 naming what is wrong with the configuration."""
    try:
        return load_settings(config)
    except ConfigError as exc:
        raise fail(str(exc), 2) from None


def with_api(settings: Settings, call: Callable[[], T]) -> T:
    """`call` with the Prefect API of the settings (the local server when no URL is set), or
    exit 1 saying why there is none."""
    from watchdocker.deployments.prefect_env import (
        ServerUnavailable,
        prefect_api,
        prepare_environment,
    )

    prepare_environment(settings)
    try:
        with prefect_api(settings):
            return call()
    except ServerUnavailable as exc:
        raise fail(str(exc)) from None
