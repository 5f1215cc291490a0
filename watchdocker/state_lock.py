"""A JSON file under the state directory that processes share (the flows of the Runner's
subprocesses, serve's API, the CLI): read without a lock (it is replaced atomically), changed
under an exclusive lock held for the read-modify-write."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from watchdocker.auth.secret_file import private_folder, write_private

Model = TypeVar("Model", bound=BaseModel)


@contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """Blocks until the lock on `path` is ours; a killed holder's lock goes with it."""
    private_folder(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def read_model(path: Path, model: type[Model]) -> Model | None:
    """The file's content, None when it is missing or cannot be read (the next change
    rewrites it)."""
    try:
        return model.model_validate_json(path.read_bytes())
    except (OSError, ValidationError):
        return None


def change_model(path: Path, model: type[Model], change: Callable[[Model | None], Model]) -> None:
    """Replaces the file with `change` of what it holds, under the lock of its folder: a
    writer in another process waits, a reader sees the old content or the new, whole."""
    with _exclusive(path.parent / ".lock"):
        write_private(path, change(read_model(path, model)).model_dump_json())
