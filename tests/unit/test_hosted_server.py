"""serve's in-process Prefect server: its records reach server.log in the format the outage
watch reads, and not serve's console; a stop waits for the commands that use the server."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from watchdocker.deployments.hosted_server import (
    SERVER_LOGGERS,
    route_server_logs,
    wait_for_users,
)
from watchdocker.deployments.server_guard import USERS_FILE, hold_shared
from watchdocker.server_health import ServiceError, service_errors


@pytest.fixture
def restored_loggers() -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in SERVER_LOGGERS]
    saved = [(logger, logger.handlers[:], logger.propagate) for logger in loggers]
    yield
    routed = {handler for logger in loggers for handler in logger.handlers}
    for logger, handlers, propagate in saved:
        logger.handlers, logger.propagate = handlers, propagate
    for handler in routed - {h for _, handlers, _ in saved for h in handlers}:
        handler.close()


def test_server_records_reach_server_log_as_the_outage_watch_reads_them(
    tmp_path: Path, restored_loggers, capsys
):
    log = tmp_path / "server.log"
    route_server_logs(log)
    try:
        raise ValueError("Can't evaluate bulk DML statement")
    except ValueError:
        logging.getLogger("docket.dependencies").exception(
            "↩ [00:00:00.02] schedule_deployments(...)"
        )
    logging.getLogger("prefect.server.api").warning("slow request")
    logging.getLogger("uvicorn.error").error("Exception in ASGI application")
    lines = log.read_text().splitlines()
    assert service_errors(lines) == [
        ServiceError("schedule_deployments", "ValueError: Can't evaluate bulk DML statement"),
        ServiceError("uvicorn.error", "Exception in ASGI application"),
    ]
    assert "WARNING | prefect.server.api - slow request" in log.read_text()
    assert (log.stat().st_mode & 0o777) == 0o600
    captured = capsys.readouterr()
    assert "schedule_deployments" not in captured.out + captured.err


def test_a_stop_waits_for_the_commands_that_use_the_server(tmp_path: Path):
    user = hold_shared(tmp_path / USERS_FILE)  # a one-off command that adopted the server
    threading.Timer(1.0, os.close, [user]).start()
    started = time.monotonic()
    assert wait_for_users(tmp_path, grace=10) is True
    assert 0.9 <= time.monotonic() - started < 5


def test_a_stop_waits_no_longer_than_its_grace(tmp_path: Path):
    user = hold_shared(tmp_path / USERS_FILE)
    try:
        started = time.monotonic()
        assert wait_for_users(tmp_path, grace=1) is False
        assert time.monotonic() - started >= 1
    finally:
        os.close(user)
