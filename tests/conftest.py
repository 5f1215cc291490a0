"""Prefect reads its settings on import: point it at this session's own home and server
before anything imports it. Unit tests never reach the server; integration tests start it."""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

from watchdocker.deployments.prefect_env import api_credential


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_HOME = tempfile.mkdtemp(prefix="watchdocker-tests-prefect-")
_PORT = _free_port()
os.environ["PREFECT_HOME"] = _HOME
os.environ["PREFECT_API_URL"] = f"http://127.0.0.1:{_PORT}/api"
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
# The session's server (tests/integration/conftest.py) requires its home's credential, as
# `serve` does; the tests and the commands they start use it.
os.environ["PREFECT_API_AUTH_STRING"] = api_credential(Path(_HOME))
os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"] = "WARNING"
os.environ.setdefault("WATCH_STATE_DIR", tempfile.mkdtemp(prefix="watchdocker-tests-state-"))
if not (_WORKER := os.environ.get("PYTEST_XDIST_WORKER", "")):
    # The cache of migrated databases (embedded_server) is this session's, not the user's;
    # its workers inherit it and share the template of the first server started, or the one
    # the test command made (testbed/run-tests.sh).
    os.environ["XDG_CACHE_HOME"] = os.environ.get("WATCH_TESTBED_CACHE") or tempfile.mkdtemp(
        prefix="watchdocker-tests-cache-"
    )
else:
    # Each pytest-xdist worker its own state (journal, cache, locks), not the one the
    # controller's import of this file chose and the workers inherit; and its own run id
    # (tests/integration/testbed.py), or one worker's cleanup would remove another's containers.
    os.environ["WATCH_STATE_DIR"] = tempfile.mkdtemp(prefix="watchdocker-tests-state-")
    if os.environ.get("WATCH_TEST_RUN_ID"):
        os.environ["WATCH_TEST_RUN_ID"] += _WORKER
# A developer's own settings must not leak into the tests.
_KEEP = ("WATCH_STATE_DIR", "WATCH_TEST_RUN_ID", "WATCH_TESTBED_", "WATCH_LOCK")
for name in list(os.environ):
    if name.startswith("WATCH_") and not name.startswith(_KEEP):
        del os.environ[name]

from receiver import receiver  # noqa: E402, F401  (a fixture shared by unit and integration tests)

# The suite's plugins: exclusive tests run alone under pytest-xdist (tests/exclusive.py), a
# test that takes long is named while it runs (tests/still_running.py).
pytest_plugins = ["exclusive", "still_running"]
