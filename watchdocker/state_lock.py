"""An exclusive lock on a file under the state directory, held for a read-modify-write that
processes share (the flows of the Runner's subprocesses, serve's API, the CLI)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from watchdocker.auth.secret_file import private_folder


@contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Blocks until the lock on `path` is ours; a killed holder's lock goes with it."""
    private_folder(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock
