"""`watch-docker serve` notices outages and says so once, on its console and through apprise:
a scheduler that keeps failing (the real server's, made to fail as it does with SQLAlchemy 2.1:
tests/integration/scheduler_fault), and a Docker engine out of reach that comes back."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import _free_port, start_serve, stop_serve, wait_for

import testbed as tb

# Beside the other quiet modules only, and the shared tests under nice (testbed/run-tests.sh):
# beside the other tests as their equal, on a machine they load, runs and notifications came
# later than the schedule's bounds (suite runs).
pytestmark = [pytest.mark.integration, pytest.mark.quiet]

SCHEDULER_FAULT = Path(__file__).parent / "scheduler_fault"
ENGINE_SOCKET = "/var/run/docker.sock"


def write_config(folder: Path, notify_port: int) -> Path:
    config = folder / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "scan": {"interval": "15s"},  # the scheduler has runs to insert
                "notify": {"urls": [f"json://127.0.0.1:{notify_port}/hook"]},
                # No container: an outdated one that another test left would be notified too.
                "policy": {"onlyLabels": [f"watchdocker.test.outages={tb.RUN_ID}"]},
            }
        )
    )
    return config


def console_lines(folder: Path, kind: str) -> list[str]:
    """serve's stderr lines of one kind: `outage` or `recovered`."""
    text = (folder / "err.log").read_text(errors="replace")
    return [line for line in text.splitlines() if line.startswith(f"watch-docker: {kind}: ")]


def test_a_scheduler_that_keeps_failing_is_announced_once(tmp_path: Path, receiver):
    env = {
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(SCHEDULER_FAULT), os.environ.get("PYTHONPATH")])
        ),
        # Prefect's scheduler loops every 60 s; every 5 s here, so it fails often and soon.
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "5",
    }
    _, process = start_serve(tmp_path, write_config(tmp_path, receiver.port), _free_port(), env)
    try:
        [line] = wait_for(lambda: console_lines(tmp_path, "outage"), timeout=90)
        # Both scheduler services fail (recent and all deployments), in either order.
        assert line.startswith("watch-docker: outage: Prefect server services: "), line
        assert "schedule_deployments failed" in line, line
        assert "InvalidRequestError: Can't evaluate bulk DML statement" in line, line
        assert "server.log" in line
        time.sleep(25)  # five more failed loops and two more watches: nothing more is said
        assert console_lines(tmp_path, "outage") == [line]
        [note] = [r.fields() for r in receiver.received]
        assert note["title"] == "watch-docker: Prefect server services outage", note
        assert "schedule_deployments failed" in note["message"] and note["type"] == "failure"
        assert process.poll() is None  # serve keeps serving
    finally:
        stop_serve(process)


@contextlib.contextmanager
def engine_behind(port: int) -> Iterator[None]:
    """The test bed's engine on a TCP port of loopback: the engine `DOCKER_HOST` names becomes
    reachable. Each connection is copied both ways to the engine's socket."""
    listener = socket.create_server(("127.0.0.1", port))
    listener.settimeout(0.2)
    stopping = threading.Event()

    def copy(source: socket.socket, target: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                target.sendall(data)
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)

    def accept() -> None:
        while not stopping.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            engine = socket.socket(socket.AF_UNIX)
            engine.connect(ENGINE_SOCKET)
            for source, target in ((client, engine), (engine, client)):
                threading.Thread(target=copy, args=(source, target), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stopping.set()
        thread.join()
        listener.close()


def test_an_unreachable_engine_is_said_at_start_and_its_return_too(tmp_path: Path, receiver):
    engine_port = _free_port()  # nothing listens there yet
    env = {"DOCKER_HOST": f"tcp://127.0.0.1:{engine_port}"}
    _, process = start_serve(tmp_path, write_config(tmp_path, receiver.port), _free_port(), env)
    try:
        # start_serve returned once the deployments were served: serve did not stop for it.
        [line] = wait_for(lambda: console_lines(tmp_path, "outage"), timeout=30)
        assert line.startswith(
            f"watch-docker: outage: Docker engine: cannot reach the Docker engine at "
            f"tcp://127.0.0.1:{engine_port}"
        ), line
        assert "serve keeps trying" in line
        with engine_behind(engine_port):
            [back] = wait_for(lambda: console_lines(tmp_path, "recovered"), timeout=30)
        assert back == "watch-docker: recovered: Docker engine is back"
        # The console's line comes first, then the notification is sent.
        wait_for(lambda: len(receiver.received) >= 2, timeout=30)
        titles = [r.fields()["title"] for r in receiver.received]
        assert titles == [
            "watch-docker: Docker engine outage",
            "watch-docker: Docker engine is back",
        ]
        assert process.poll() is None
    finally:
        stop_serve(process)
