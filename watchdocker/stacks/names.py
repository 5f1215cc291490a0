"""Project names and the folders they may have: a name compose accepts and that cannot lead
out of the projects' folder, whatever the links under it."""

from __future__ import annotations

import re
from pathlib import Path

# Compose's own rule for project names (v2 refuses others; v1 would mangle them).
PROJECT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")
MAX_NAME_LENGTH = 63  # a folder and container-name prefix, not a path
# The compose files a folder may hold, in the order compose itself looks for them.
COMPOSE_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
# What `create` writes: the name both compose v1 and v2 find.
CREATED_FILE = "docker-compose.yml"
# Marks a folder watch-docker created, the only kind `delete` removes.
MARKER = ".watch-docker-created"


class BadProjectName(ValueError):
    """A project name that compose would refuse, or that names a path."""


class OutsideRoot(ValueError):
    """A path that resolves outside the projects' folder."""


def check_name(name: str) -> str:
    """`name` when compose accepts it as a project name; else BadProjectName saying why."""
    if not name:
        raise BadProjectName("a project name is required")
    if "/" in name or "\\" in name or name in {".", ".."}:
        raise BadProjectName(f"project name {name!r} is a path: give a plain name")
    if len(name) > MAX_NAME_LENGTH:
        raise BadProjectName(f"project name {name!r} is longer than {MAX_NAME_LENGTH} characters")
    if not PROJECT_NAME.fullmatch(name):
        raise BadProjectName(
            f"project name {name!r} is not one compose accepts: lowercase letters, digits, "
            "'-' and '_', starting with a letter or digit"
        )
    return name


def contained(root: Path, path: Path) -> Path:
    """`path` resolved (links followed), when it lies strictly inside `root` resolved; else
    OutsideRoot. Checked before anything is written or removed."""
    base = root.resolve()
    resolved = path.resolve()
    if resolved == base or not resolved.is_relative_to(base):
        raise OutsideRoot(f"{path} is outside the projects' folder {base}")
    return resolved


def project_folder(root: Path, name: str) -> Path:
    """The folder of project `name` directly under `root`, checked: a valid name, and no link
    leading elsewhere (even to another folder of `root`)."""
    folder = contained(root, root / check_name(name))
    if folder != root.resolve() / name:
        raise OutsideRoot(f"{root / name} leads to {folder}, not a folder of {root.resolve()}")
    return folder


def compose_files_in(folder: Path) -> list[Path]:
    """The compose file compose would use in `folder` (the first of COMPOSE_FILES), if any."""
    for name in COMPOSE_FILES:
        candidate = folder / name
        if candidate.is_file():
            return [candidate]
    return []
