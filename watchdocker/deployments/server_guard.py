"""The parent of a local Prefect server: it ends the server's whole process group on SIGTERM,
or once the command that started it is gone (even SIGKILLed) and no other command uses it.

Commands share one local server per Prefect home through two lock files there: `server.lock`
serialises starting, adopting and stopping; every command that adopts a server it did not start
holds `server.users` shared while it runs. Run as
`python -m watchdocker.deployments.server_guard HOME -- COMMAND...`; standard library only, so it
starts fast."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

SERVER_FILE = "server.json"  # the URL and guard pid of the running server of this home
MUTEX_FILE = "server.lock"
USERS_FILE = "server.users"
POLL_SECONDS = 0.25
STOP_GRACE_SECONDS = 15.0


def _open_lock(path: Path) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)


@contextlib.contextmanager
def locked(path: Path, timeout: float) -> Iterator[bool]:
    """An exclusive lock on `path`, waited for up to `timeout` seconds; yields whether it was
    taken (0: one try). A killed holder's lock goes with it."""
    fd = _open_lock(path)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(POLL_SECONDS)
        yield True
    finally:
        os.close(fd)


def hold_shared(path: Path) -> int:
    """A shared lock on `path` for as long as the returned descriptor is open."""
    fd = _open_lock(path)
    fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


def nobody_uses(home: Path) -> bool:
    with locked(home / USERS_FILE, timeout=0) as free:
        return free


def end_group(process: subprocess.Popen) -> None:
    """SIGTERM to the process group led by `process`, SIGKILL to what is left after the grace."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(STOP_GRACE_SECONDS)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def guard(home: Path, command: list[str]) -> int:
    starter = os.getppid()
    stop_requested = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGTERM, request_stop)
    # Its own group, so that the whole of it (uvicorn, services) can be ended at once.
    server = subprocess.Popen(command, start_new_session=True, umask=0o077)
    while server.poll() is None and not stop_requested:
        if os.getppid() != starter:  # reparented: the starter is gone
            with locked(home / MUTEX_FILE, timeout=0) as mine:
                if mine and nobody_uses(home):
                    end_group(server)
                    (home / SERVER_FILE).unlink(missing_ok=True)
                    return 0
        time.sleep(POLL_SECONDS)
    end_group(server)
    return 0 if stop_requested else server.returncode


def main() -> None:
    home, separator, *command = sys.argv[1:]
    if separator != "--" or not command:
        sys.exit("usage: python -m watchdocker.deployments.server_guard HOME -- COMMAND...")
    sys.exit(guard(Path(home), command))


if __name__ == "__main__":
    main()
