"""The environment the tests run in is the one requirements.lock describes: every package that
watch-docker and its test extra need, transitively, is pinned there at the version installed.
(A package pip took unpinned would make installs differ from what the suite passed with.)"""

from __future__ import annotations

import os
import re
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
LOCK = Path(os.environ.get("WATCH_LOCK") or REPO / "requirements.lock")


def _pins() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9._-]+)==([^\s;]+)", line)
        assert match, f"{LOCK.name}: {line!r} is not name==version"
        pins[canonicalize_name(match[1])] = match[2]
    return pins


def _closure(root: str, extras: set[str]) -> dict[str, str]:
    """Every distribution `root[extras]` needs, with its installed version."""
    found: dict[str, str] = {}
    todo = [(root, extras)]
    while todo:
        name, wanted = todo.pop()
        dist = metadata.distribution(name)
        key = canonicalize_name(dist.metadata["Name"])
        if key in found and not wanted:
            continue
        found[key] = dist.version
        for text in dist.requires or []:
            req = Requirement(text)
            environments = [{"extra": e} for e in wanted] or [{"extra": ""}]
            if req.marker and not any(req.marker.evaluate(env) for env in environments):
                continue
            if canonicalize_name(req.name) not in found or req.extras:
                todo.append((req.name, set(req.extras)))
    return found


def test_every_installed_dependency_is_pinned_at_its_installed_version() -> None:
    pins = _pins()
    needed = _closure("watch-docker", {"test"})
    needed.pop(canonicalize_name("watch-docker"))
    unpinned = sorted(name for name in needed if name not in pins)
    assert not unpinned, f"not in {LOCK.name}: {unpinned} (bash testbed/refresh-lock.sh)"
    drifted = {n: (v, pins[n]) for n, v in needed.items() if pins[n] != v}
    assert not drifted, f"installed (left) differs from {LOCK.name} (right): {drifted}"


def test_the_lock_keeps_the_scheduler_working() -> None:
    # Prefect 3.8.8's scheduler fails on every loop with SQLAlchemy 2.1: schedules never fire.
    major, minor = (int(p) for p in _pins()["sqlalchemy"].split(".")[:2])
    assert (major, minor) == (2, 0)
