"""Compose projects for the integration tests: files whose containers and networks carry the
test bed's label (so `tb.cleanup` removes them), named `wdt-<RUN_ID>-<suffix>`."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

import yaml

import testbed as tb

# A loop that says something every 0.2 s and stops at once on SIGTERM.
TALKER = ["sh", "-c", "trap 'exit 0' TERM; while true; do echo tick; sleep 0.2; done"]


def project_name(suffix: str) -> str:
    return f"wdt-{tb.RUN_ID}-{suffix}"


def compose_text(services: Mapping[str, str], **extra: dict) -> str:
    """A compose file running `TALKER` in each service (name -> image), labelled."""
    labels = {tb.LABEL: tb.RUN_ID}
    document = {
        "version": "3.7",
        "services": {
            name: {"image": image, "command": TALKER, "labels": labels, **extra.get(name, {})}
            for name, image in services.items()
        },
        "networks": {"default": {"labels": labels}},
    }
    return yaml.safe_dump(document, sort_keys=False)


def write_project(root: Path, suffix: str, services: Mapping[str, str]) -> tuple[str, Path]:
    """A project folder `root/<name>` holding docker-compose.yml (not made by watch-docker)."""
    name = project_name(suffix)
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "docker-compose.yml").write_text(compose_text(services))
    return name, folder


def compose(folder: Path, name: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`docker-compose` as a user runs it in the project's folder."""
    return subprocess.run(
        ["docker-compose", "-p", name, *args],
        cwd=folder,
        capture_output=True,
        text=True,
        env=tb.docker_env(),
        timeout=300,
        check=False,
    )


def down(folder: Path, name: str) -> None:
    if folder.is_dir():
        compose(folder, name, "down", "--volumes")


def logs_processes(name: str) -> list[list[str]]:
    """The command lines of the processes running `compose ... -p <name> ... logs`."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue  # ended meanwhile
        if name in argv and "logs" in argv:
            found.append(argv)
    return found
