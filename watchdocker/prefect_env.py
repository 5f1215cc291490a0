"""The embedded default: Prefect's home, database and result storage under the state directory,
and a local Prefect server (SQLite) when no PREFECT_API_URL is given.

Prefect reads its settings when it is imported, so `prepare_environment` runs before any
Prefect import in the command line."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from watchdocker.config import Settings
from watchdocker.server_retention import retention_environment

SERVER_START_TIMEOUT = 90.0


class ServerUnavailable(Exception):
    """The local Prefect server could not be started or reached."""


def prefect_home(settings: Settings) -> Path:
    return Path(os.environ.get("PREFECT_HOME") or settings.state_dir / "prefect")


def prepare_environment(settings: Settings, *, console_level: str = "CRITICAL") -> None:
    """Defaults for Prefect in this process and its children; what the user set wins."""
    home = prefect_home(settings)
    home.mkdir(parents=True, exist_ok=True)
    defaults = {
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": settings.logging.level.upper(),
        # The CLI prints its own results and one-line errors; logs still reach the UI.
        "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": console_level,
        "PREFECT_CLI_PROMPT": "false",
    }
    for name, value in defaults.items():
        os.environ.setdefault(name, value)


def local_api_url(settings: Settings) -> str:
    return f"http://{settings.server.host}:{settings.server.port}/api"


def api_is_healthy(api_url: str, timeout: float = 2.0) -> bool:
    try:
        return httpx.get(f"{api_url.rstrip('/')}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def start_local_server(settings: Settings, log_file: Path | None = None) -> subprocess.Popen:
    """`prefect server start` on server.addr with SQLite under the state directory."""
    home = prefect_home(settings)
    home.mkdir(parents=True, exist_ok=True)
    log_path = log_file or home / "server.log"
    env = {
        **retention_environment(settings),
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        # The UI finds its API from these, not from --host/--port (else it asks port 4200).
        "PREFECT_SERVER_API_HOST": settings.server.host,
        "PREFECT_SERVER_API_PORT": str(settings.server.port),
    }
    env.pop("PREFECT_API_URL", None)
    command = [
        sys.executable, "-m", "prefect", "server", "start",
        "--host", settings.server.host, "--port", str(settings.server.port),
    ]  # fmt: skip
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = local_api_url(settings)
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if api_is_healthy(url, timeout=1.0):
            return process
        if process.poll() is not None:
            raise ServerUnavailable(
                f"the local Prefect server exited with code {process.returncode}; see {log_path}"
            )
        time.sleep(0.25)
    stop_process(process)
    raise ServerUnavailable(f"the local Prefect server did not answer at {url}; see {log_path}")


def stop_process(process: subprocess.Popen, timeout: float = 20.0) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def prefect_api(settings: Settings, *, notice: bool = True) -> Iterator[str]:
    """The API to run flows against: PREFECT_API_URL, else the local server when it runs
    (`watch-docker serve`), else a local server started for the duration of the block."""
    configured = os.environ.get("PREFECT_API_URL")
    if configured:
        yield configured
        return
    url = local_api_url(settings)
    if api_is_healthy(url):
        os.environ["PREFECT_API_URL"] = url
        yield url
        return
    if notice:
        print(
            f"starting a local Prefect server at {url} for this command "
            "(`watch-docker serve` keeps one running)",
            file=sys.stderr,
        )
    process = start_local_server(settings)
    os.environ["PREFECT_API_URL"] = url
    try:
        yield url
    finally:
        drain_prefect_workers()
        os.environ.pop("PREFECT_API_URL", None)
        stop_process(process)


def drain_prefect_workers(timeout: float = 10.0) -> None:
    """Send the logs and events still queued before the server they go to stops."""
    if "prefect" not in sys.modules:
        return
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=timeout)
    EventsWorker.drain_all(timeout=timeout)
