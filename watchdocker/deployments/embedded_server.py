"""The embedded Prefect server's process: `prefect server start`, made lighter when idle.

Run as `python -m watchdocker.deployments.embedded_server HOME -- server start ARGS...`
(Prefect's command line after the `--`; the guard runs it for one-off commands, see
`start_local_server`); serve's server in a thread (`server_thread`) takes the same cuts:
- the database migrations run in a short process of their own, once per Prefect version:
  alembic and SQLite's ~110 migration modules would stay in the server's memory (~40 MB)
  and make every start slower; a new database starts as a copy of the first one this user
  migrated for this version (~12 s of CPU less for each new state directory);
- the server's task queue (docket, in memory) is polled every 5 s instead of every 250 ms:
  Prefect's services run every 5 s or more (a service's turn may come up to 5 s late), and
  the polling was a third of the idle server's CPU;
- its pub/sub waits for a message in one thread hop a second instead of ten;
- uvicorn looks for a stop once a second instead of ten times (`quiet_uvicorn`).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import queue
import shutil
import stat
import subprocess
import sys
from datetime import timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

MIGRATED_FILE = "migrated-for"  # the Prefect version whose migrations the database has
DOCKET_POLL = timedelta(seconds=5)
PUBSUB_WAIT = 1.0  # seconds
DATABASE_URL_SETTINGS = (
    "PREFECT_SERVER_DATABASE_CONNECTION_URL",
    "PREFECT_API_DATABASE_CONNECTION_URL",
)


def template_folder() -> Path:
    """The user's cache (XDG_CACHE_HOME, else ~/.cache) for watch-docker."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "watch-docker"


def migrate_once(home: Path) -> None:
    """The migrations of this Prefect version, unless this home's database has them; then the
    server does not run them on start. A new database is a copy of this version's template
    when there is one, and the first one migrated becomes it. A database the user named
    elsewhere is Prefect's to migrate, on start as usual."""
    if any(os.environ.get(name) for name in DATABASE_URL_SETTINGS):
        return
    marker = home / MIGRATED_FILE
    wanted = version("prefect")
    database = home / "prefect.db"
    if not (database.exists() and marker.exists() and marker.read_text().strip() == wanted):
        template = template_folder() / f"prefect-{wanted}.db"
        new = not database.exists()
        if not (new and _copied(template, database)):
            command = [sys.executable, "-m", "prefect", "server", "database", "upgrade", "-y"]
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            if new:
                _keep_as_template(database, template)
        marker.write_text(wanted + "\n")
    os.environ["PREFECT_SERVER_DATABASE_MIGRATE_ON_START"] = "false"


def _copied(source: Path, target: Path) -> bool:
    """`source` copied to `target` (0600) through a temporary file, when `source` is a regular
    file of this user's (not a link someone left); False when there is none to copy."""
    partial = target.with_name(f".{target.name}.{os.getpid()}")
    try:
        found = source.lstat()
        if not stat.S_ISREG(found.st_mode) or found.st_uid != os.getuid():
            return False
        shutil.copyfile(source, partial)
        partial.chmod(0o600)
        os.replace(partial, target)
    except OSError:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)  # a copy cut short is not left behind
        return False
    return True


def _keep_as_template(database: Path, template: Path) -> None:
    """The freshly migrated `database`, closed and empty, as the template of its version; a
    cache, so a folder that cannot be written only means the next new database migrates."""
    if database.with_name(database.name + "-wal").exists():
        return  # not all of it is in the file
    with contextlib.suppress(OSError):
        template.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _copied(database, template)


def slow_docket_polling() -> None:
    """Prefect builds its docket Worker with the default intervals: change the defaults."""
    import docket.worker

    original = docket.worker.Worker.__init__

    def init(self: docket.worker.Worker, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("minimum_check_interval", DOCKET_POLL)
        kwargs.setdefault("scheduling_resolution", DOCKET_POLL)
        original(self, *args, **kwargs)

    # A patch of docket's class, which mypy refuses for any method.
    docket.worker.Worker.__init__ = init  # type: ignore[method-assign]


def slow_pubsub_waits() -> None:
    """docket's in-process pub/sub (burner_redis, behind Prefect's default `memory://`) waits for
    a message in slices of 0.1 s, each a hop to a worker thread, and docket's cancellation
    listener waits in a loop: the idle server hopped ten times a second, a quarter of its CPU.
    Here a wait is at least PUBSUB_WAIT, in one hop: a message still ends it at once (the queue
    returns it when it comes); only a stop is noticed up to a second later."""
    from burner_redis.pubsub import PubSub  # type: ignore[import-untyped]

    async def queue_get(self: Any, timeout: float | None) -> Any:
        if timeout == 0.0:
            try:
                return self._queue.get_nowait()
            except queue.Empty:
                return None
        wait = PUBSUB_WAIT if timeout is None else max(timeout, PUBSUB_WAIT)
        while True:
            try:
                return await asyncio.to_thread(self._queue.get, True, wait)
            except queue.Empty:
                if timeout is not None:
                    return None

    PubSub._queue_get = queue_get


def lighter_idle() -> None:
    """The patches of Prefect's server's task queue that this module's docstring lists; for the
    server's process and for serve's server thread alike."""
    slow_docket_polling()
    slow_pubsub_waits()


def quiet_uvicorn() -> None:
    """Prefect's `server start` calls uvicorn.run, which builds uvicorn's Server: a QuietServer
    instead."""
    from watchdocker.deployments.quiet_uvicorn import QuietServer

    # The module, not the `uvicorn.main` command the package exports under that name.
    module = importlib.import_module("uvicorn.main")
    module.Server = QuietServer  # type: ignore[attr-defined]


def main() -> None:
    home, separator, *arguments = sys.argv[1:]
    if separator != "--":
        sys.exit(
            "usage: python -m watchdocker.deployments.embedded_server HOME -- server start ARGS..."
        )
    migrate_once(Path(home))
    lighter_idle()
    quiet_uvicorn()
    from prefect.cli import app

    sys.argv = ["prefect", *arguments]
    app()


if __name__ == "__main__":
    main()
