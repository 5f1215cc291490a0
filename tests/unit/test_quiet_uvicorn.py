"""QuietServer: uvicorn's server looking for a stop once a second (not ten times), which still
stops when asked and keeps its Date header fresh."""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn

from watchdocker.deployments.quiet_uvicorn import TICK_SECONDS, QuietServer


async def nothing(scope: Any, receive: Any, send: Any) -> None:
    return None


def test_it_ticks_once_a_second_refreshing_the_date_and_stops_when_asked():
    config = uvicorn.Config(nothing, host="127.0.0.1", port=0, log_config=None, lifespan="off")
    server = QuietServer(config)
    ticks: list[int] = []
    tick = server.on_tick

    async def counted(counter: int) -> bool:
        ticks.append(counter)
        return await tick(counter)

    server.on_tick = counted  # type: ignore[method-assign]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    time.sleep(2.5 * TICK_SECONDS)
    server.should_exit = True
    thread.join(timeout=3 * TICK_SECONDS)
    assert not thread.is_alive()
    assert 2 <= len(ticks) <= 5, ticks  # uvicorn's own loop would have ticked ~25 times
    assert set(ticks) == {0}  # every tick refreshes the Date header
    assert any(name == b"date" for name, _ in server.server_state.default_headers)


def test_the_embedded_server_process_builds_a_quiet_server_through_uvicorn_run(monkeypatch):
    import importlib

    from watchdocker.deployments.embedded_server import quiet_uvicorn

    module = importlib.import_module("uvicorn.main")
    monkeypatch.setattr(module, "Server", module.Server)  # restored after the test
    built: list[type] = []

    def run(self: uvicorn.Server, sockets: Any = None) -> None:
        built.append(type(self))
        self.started = True  # else uvicorn.run exits with its start-up failure code

    monkeypatch.setattr(uvicorn.Server, "run", run)  # for QuietServer too: it inherits run
    quiet_uvicorn()
    uvicorn.run(nothing, host="127.0.0.1", port=0, log_config=None, lifespan="off")
    assert built == [QuietServer]
