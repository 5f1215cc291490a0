"""How every command ends when it cannot run: one line on stderr and an exit code (kept apart
so that the sub-apps import it, not the app)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from watchdocker.config import ConfigError, Settings, load_settings


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
