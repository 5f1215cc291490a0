"""The Compose CLI in a subprocess: `docker compose` (the v2 plugin) when the engine's CLI has
it, else `docker-compose` (v1), or the command of `compose.command`. Arguments go as a list,
never through a shell; every run has a timeout; a failure carries the CLI's own stderr."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from watchdocker.config import Settings

PROBE_SECONDS = 10.0
ACTION_SECONDS = 600.0  # `up` may pull images
CHECK_SECONDS = 60.0


class ComposeFailed(Exception):
    """The Compose CLI could not run, or failed: the message says which command and why."""


@dataclass(frozen=True)
class ComposeTarget:
    """How the CLI is pointed at one project: its name, folder and files."""

    name: str
    folder: str | None
    files: list[str] = field(default_factory=list)

    def arguments(self) -> list[str]:
        args = ["-p", self.name]
        for file in self.files:
            args += ["-f", file]
        if self.folder:
            args += ["--project-directory", self.folder]
        return args

    @property
    def cwd(self) -> str | None:
        """Where the CLI runs: the project's folder while it exists."""
        return self.folder if self.folder and Path(self.folder).is_dir() else None


@cache
def _plugin_present(docker: str) -> bool:
    try:
        probe = subprocess.run(
            [docker, "compose", "version"],
            capture_output=True,
            timeout=PROBE_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def compose_command(configured: str | None) -> list[str]:
    """The CLI to run: `configured` when set, else the v2 plugin when present, else v1."""
    if configured:
        return shlex.split(configured)
    docker = shutil.which("docker")
    if docker and _plugin_present(docker):
        return [docker, "compose"]
    v1 = shutil.which("docker-compose")
    if v1:
        return [v1]
    raise ComposeFailed(
        "no Compose CLI: install the docker compose plugin or docker-compose, "
        "or set compose.command (WATCH_COMPOSE_COMMAND)"
    )


@dataclass(frozen=True)
class ComposeCli:
    command: list[str]
    env: dict[str, str]

    @classmethod
    def from_settings(cls, settings: Settings) -> ComposeCli:
        env = dict(os.environ)
        if settings.docker.host:
            env["DOCKER_HOST"] = settings.docker.host  # the engine watch-docker watches
        return cls(compose_command(settings.compose.command), env)

    def argv(self, target: ComposeTarget, *args: str) -> list[str]:
        return [*self.command, *target.arguments(), *args]

    def run(self, target: ComposeTarget, *args: str, timeout: float = ACTION_SECONDS) -> str:
        """Runs the CLI for `target`; its stdout, or ComposeFailed with its stderr."""
        argv = self.argv(target, *args)
        what = " ".join([Path(self.command[0]).name, *self.command[1:], *args])
        try:
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                env=self.env,
                cwd=target.cwd,
                timeout=timeout,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise ComposeFailed(f"{what} for {target.name} took over {timeout:.0f} s") from None
        except OSError as exc:
            raise ComposeFailed(f"{what} could not run: {exc}") from None
        if done.returncode != 0:
            # One line, as every error of the CLI and the API is.
            said = "; ".join(
                line.strip() for line in (done.stderr or done.stdout).splitlines() if line.strip()
            )
            said = said or f"exit {done.returncode}"
            raise ComposeFailed(f"{what} for {target.name} failed: {said}")
        return done.stdout
