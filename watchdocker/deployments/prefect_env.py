"""The embedded default: Prefect's home, database and result storage under the state directory,
and a local Prefect server (SQLite) when no PREFECT_API_URL is given, protected by Prefect's
server auth with a credential kept in that home (mode 0600).

Prefect reads its settings when it is imported, so `prepare_environment` runs before any
Prefect import in the command line."""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from watchdocker.auth.secret_file import secret_file
from watchdocker.config import Settings
from watchdocker.deployments.server_guard import (
    MUTEX_FILE,
    SERVER_FILE,
    USERS_FILE,
    hold_shared,
    locked,
    nobody_uses,
)
from watchdocker.deployments.server_retention import retention_environment
from watchdocker.deployments.server_services import (
    SERVER_LOG,
    as_prefect_ships,
    lean_environment,
)

if TYPE_CHECKING:  # uvicorn, imported by serve alone
    from watchdocker.deployments.server_thread import ServerThread

SERVER_START_TIMEOUT = 90.0
USERS_GRACE = 60.0  # how long a stopping serve waits for the commands that use its server
CREDENTIAL_FILE = "api-auth-string"


class ServerUnavailable(Exception):
    """The Prefect API could not be started or reached."""


def prefect_home(settings: Settings) -> Path:
    return Path(os.environ.get("PREFECT_HOME") or settings.state_dir / "prefect")


def credential_path(settings: Settings) -> Path:
    return prefect_home(settings) / CREDENTIAL_FILE


def secure_state(settings: Settings) -> Path:
    """The state directory and Prefect's home made (0700), with the files directly in the home
    (database, credential, logs) 0600, also those an older version left wider; the home."""
    home = prefect_home(settings)
    for folder in (settings.state_dir, home):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(PermissionError):  # a folder someone else gave us: theirs
            folder.chmod(0o700)
    for item in home.iterdir():
        if item.is_file():
            with contextlib.suppress(PermissionError, FileNotFoundError):
                item.chmod(0o600)
    return home


def api_credential(home: Path) -> str:
    """The local server's auth string (`watchdocker:<random>`, the user:password form the UI's
    login asks for), made once and kept in `home` with mode 0600."""
    return secret_file(home / CREDENTIAL_FILE, lambda: f"watchdocker:{secrets.token_urlsafe(32)}")


def auth_headers(auth_string: str | None) -> dict[str, str]:
    """The header Prefect's server auth expects (HTTP Basic of the whole auth string)."""
    if not auth_string:
        return {}
    return {"Authorization": "Basic " + base64.b64encode(auth_string.encode()).decode()}


def prepare_environment(settings: Settings, *, console_level: str = "CRITICAL") -> None:
    """Defaults for Prefect in this process and its children; what the user set wins, except
    the credential of the local server, which is this state directory's own."""
    # What this process and its flow runs write (results, journal) is the user's alone.
    os.umask(0o077)
    home = secure_state(settings)
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
    if not os.environ.get("PREFECT_API_URL"):
        # Inherited by the flow-run subprocesses `serve` starts.
        os.environ["PREFECT_API_AUTH_STRING"] = api_credential(home)


def local_api_url(settings: Settings) -> str:
    return f"http://{settings.prefect.host}:{settings.prefect.port}/api"


def ui_login_hint(settings: Settings, api_url: str) -> str:
    """How to log in to the local server's UI: where the credential is, never its value."""
    if api_url != local_api_url(settings):
        return ""
    return f" (log in with the contents of {credential_path(settings)})"


def api_is_healthy(api_url: str, timeout: float = 2.0, client: httpx.Client | None = None) -> bool:
    """Whether the API answers its health check; with `client`, through its connections (a
    new client costs an SSL context: tens of milliseconds of CPU, for a watch that asks often)."""
    url = f"{api_url.rstrip('/')}/health"
    try:
        answer = client.get(url, timeout=timeout) if client else httpx.get(url, timeout=timeout)
    except httpx.HTTPError:
        return False
    return answer.status_code == 200


def _api_status(api_url: str, auth_string: str | None, timeout: float = 5.0) -> int:
    """The status of an authenticated request (health is open to anyone)."""
    url = f"{api_url.rstrip('/')}/admin/version"
    return httpx.get(url, headers=auth_headers(auth_string), timeout=timeout).status_code


def check_api(api_url: str, auth_string: str | None) -> None:
    """Raises ServerUnavailable, in one line, when the API cannot be reached or refuses us."""
    try:
        status = _api_status(api_url, auth_string)
    except httpx.HTTPError as exc:
        raise ServerUnavailable(
            f"cannot reach the Prefect API at {api_url} ({type(exc).__name__}: {exc}); "
            "check PREFECT_API_URL and that the server runs"
        ) from None
    if status in (401, 403):
        raise ServerUnavailable(
            f"the Prefect API at {api_url} refused the credential ({status}): set "
            "PREFECT_API_AUTH_STRING to the server's auth string"
        )


def server_settings(settings: Settings, home: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Prefect's settings for the local server of `home`: the defaults (retention, and the
    lighter idle of `server_services`), which a variable the user set wins over, and those
    this state directory fixes (its home, address and credential)."""
    credential = api_credential(home)
    defaults = {
        **retention_environment(settings),
        **({} if as_prefect_ships() else lean_environment()),
    }
    fixed = {
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        # The UI finds its API from these, not from --host/--port (else it asks port 4200).
        "PREFECT_SERVER_API_HOST": settings.prefect.host,
        "PREFECT_SERVER_API_PORT": str(settings.prefect.port),
        "PREFECT_SERVER_API_AUTH_STRING": credential,
        "PREFECT_API_AUTH_STRING": credential,
    }
    return defaults, fixed


def start_local_server(settings: Settings, log_file: Path | None = None) -> subprocess.Popen:
    """`prefect server start` (made lighter: `embedded_server`, `server_services`) on
    prefect.addr with SQLite under the state directory, requiring the state directory's
    credential, under a guard (watchdocker.deployments.server_guard) that ends it with the calling
    process. Returns the guard: stop_process ends both."""
    home = secure_state(settings)
    log_path = log_file or home / SERVER_LOG
    defaults, fixed = server_settings(settings, home)
    env = {**defaults, **os.environ, **fixed}
    env.pop("PREFECT_API_URL", None)
    lighter = ["watchdocker.deployments.embedded_server", str(home), "--"]
    if as_prefect_ships():
        lighter = []
    command = [
        sys.executable, "-m", "watchdocker.deployments.server_guard", str(home), "--",
        sys.executable, "-m", *(lighter or ["prefect"]), "server", "start",
        "--host", settings.prefect.host, "--port", str(settings.prefect.port),
    ]  # fmt: skip
    log_fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(log_fd, "ab") as log:
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = local_api_url(settings)
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if _api_status(url, fixed["PREFECT_SERVER_API_AUTH_STRING"], timeout=1.0) == 200:
                _record_server(home, url, process.pid)
                return process
        if process.poll() is not None:
            raise ServerUnavailable(
                f"the local Prefect server exited with code {process.returncode}; see {log_path}"
            )
        time.sleep(0.25)
    stop_process(process)
    raise ServerUnavailable(f"the local Prefect server did not answer at {url}; see {log_path}")


def start_server_thread(settings: Settings) -> ServerThread:
    """The local server in a thread of this process (`server_thread`), as `start_local_server`
    would start it otherwise; recorded for other commands with this process as its keeper."""
    home = secure_state(settings)
    defaults, fixed = server_settings(settings, home)
    url = local_api_url(settings)
    environment = {
        **{name: os.environ.get(name, value) for name, value in defaults.items()},
        **fixed,
        # Read with the rest when Prefect is imported, which the server's start does.
        "PREFECT_API_URL": url,
    }
    from watchdocker.deployments.server_thread import ServerThread, ServerThreadFailed

    server = ServerThread(home, settings.prefect.host, settings.prefect.port, environment)
    try:
        server.start(SERVER_START_TIMEOUT)
    except ServerThreadFailed as exc:
        raise ServerUnavailable(str(exc)) from None
    _record_server(home, url, os.getpid())
    return server


def _record_server(home: Path, url: str, keeper: int) -> None:
    """Where this home's server answers, and the process whose end ends it (`_runs_here`)."""
    (home / SERVER_FILE).write_text(json.dumps({"url": url, "pid": keeper}))


def stop_process(process: subprocess.Popen, timeout: float = 30.0) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    return True


def _runs_here(home: Path, url: str) -> bool:
    """Whether the server at `url` is this home's: recorded here by the command that started
    it, its guard alive, and it accepts this home's credential (a server whose home is gone
    has another)."""
    try:
        record = json.loads((home / SERVER_FILE).read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(record, dict) or record.get("url") != url or not _alive(record.get("pid")):
        return False
    try:
        return _api_status(url, api_credential(home)) == 200
    except httpx.HTTPError:
        return False


def _refuse_what_holds_the_port(settings: Settings, home: Path) -> None:
    url = local_api_url(settings)
    change = "stop it, or set prefect.addr (WATCH_PREFECT_ADDR) to a free port"
    if api_is_healthy(url):
        raise ServerUnavailable(
            f"a Prefect server that is not this state directory's ({home}) answers at {url}: "
            + change
        )
    with contextlib.suppress(OSError):
        socket.create_connection((settings.prefect.host, settings.prefect.port), timeout=1).close()
        raise ServerUnavailable(f"something else listens on {settings.prefect.addr}: {change}")


@contextlib.contextmanager
def prefect_api(
    settings: Settings, *, notice: bool = True, in_process: bool = False
) -> Iterator[str]:
    """The API to run flows against (after `prepare_environment`): PREFECT_API_URL, else the
    local server of this state directory when it runs (`watch-docker serve`'s, or another
    command's), else a local server started for the duration of the block: in this process
    with `in_process` (serve's, unless the server is to run as Prefect ships it), else in a
    process of its own under a guard."""
    configured = os.environ.get("PREFECT_API_URL")
    if configured:
        check_api(configured, os.environ.get("PREFECT_API_AUTH_STRING"))
        yield configured
        return
    home = secure_state(settings)
    url = local_api_url(settings)
    stop: Callable[[], None]  # what this command ends on its way out: its use or its server
    # Serialised with other commands of this home: one starts the server, the others adopt it.
    with locked(home / MUTEX_FILE, timeout=SERVER_START_TIMEOUT + 30) as mine:
        if not mine:
            raise ServerUnavailable(
                f"another watch-docker command has been starting the local Prefect server at "
                f"{url} for too long; see {home / SERVER_LOG}"
            )
        if _runs_here(home, url):
            users = hold_shared(home / USERS_FILE)
            stop = functools.partial(os.close, users)
        else:
            _refuse_what_holds_the_port(settings, home)
            if in_process and not as_prefect_ships():
                thread = start_server_thread(settings)
                stop = functools.partial(_stop_server_thread, home, thread)
            else:
                if notice:
                    print(
                        f"starting a local Prefect server at {url} for this command "
                        "(`watch-docker serve` keeps one running)",
                        file=sys.stderr,
                    )
                guard = start_local_server(settings)
                stop = functools.partial(_stop_unless_used, home, guard)
    os.environ["PREFECT_API_URL"] = url
    try:
        yield url
    finally:
        drain_prefect_workers()
        os.environ.pop("PREFECT_API_URL", None)
        stop()


def _stop_unless_used(home: Path, guard: subprocess.Popen) -> None:
    """Stops the server this command started, unless another command adopted it: then its
    guard stops it once this process is gone and the last user is done."""
    with locked(home / MUTEX_FILE, timeout=SERVER_START_TIMEOUT) as mine:
        if mine and nobody_uses(home):
            stop_process(guard)
            (home / SERVER_FILE).unlink(missing_ok=True)


def _stop_server_thread(home: Path, server: ServerThread) -> None:
    """Stops the server in this process once the commands that adopted it are done (up to
    USERS_GRACE seconds: a stop is not held up for ever), while no other command can adopt it."""
    with locked(home / MUTEX_FILE, timeout=SERVER_START_TIMEOUT):
        (home / SERVER_FILE).unlink(missing_ok=True)
        if not nobody_uses(home):
            print(
                f"watch-docker: waiting up to {USERS_GRACE:.0f} s for the commands that use the "
                "local Prefect server to end",
                file=sys.stderr,
                flush=True,
            )
            with locked(home / USERS_FILE, timeout=USERS_GRACE):
                pass
        server.stop()


def drain_prefect_workers(timeout: float = 10.0) -> None:
    """Send the logs and events still queued before the server they go to stops."""
    if "prefect" not in sys.modules:
        return
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=timeout)
    EventsWorker.drain_all(timeout=timeout)
