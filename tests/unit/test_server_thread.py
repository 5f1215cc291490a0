"""serve's Prefect server in a thread: what it writes to server.log is what the outage watch
reads, and serve's console does not get the server's records."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from watchdocker.deployments.server_thread import SERVER_LOGGERS, log_server_to
from watchdocker.server_health import ServiceError, service_errors


@pytest.fixture
def server_log(tmp_path: Path):
    path = tmp_path / "server.log"
    handler = log_server_to(path)
    yield path
    for name in SERVER_LOGGERS:
        logging.getLogger(name).removeHandler(handler)
        logging.getLogger(name).propagate = True
    handler.close()


def test_a_failing_service_in_server_log_is_what_the_outage_watch_finds(server_log: Path):
    try:
        raise ValueError("the database is locked")
    except ValueError:
        logging.getLogger("docket.dependencies").exception(
            "↩ [00:00:00.02] schedule_deployments(perpetual=True)"
        )
    logging.getLogger("prefect.server.services.foreman").error("foreman failed")
    lines = server_log.read_text().splitlines()
    assert service_errors(lines) == [
        ServiceError("schedule_deployments", "ValueError: the database is locked"),
        ServiceError("prefect.server.services.foreman", "foreman failed"),
    ]


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_the_servers_records_stay_off_serves_console(server_log: Path):
    console = Kept()  # where serve's console handler is: the root logger
    logging.getLogger().addHandler(console)
    try:
        logging.getLogger("prefect.server.api").warning("a server warning")
        logging.getLogger("watchdocker.api").warning("serve's own")
    finally:
        logging.getLogger().removeHandler(console)
    assert console.messages == ["serve's own"]
    assert "a server warning" in server_log.read_text()
