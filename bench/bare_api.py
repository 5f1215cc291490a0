"""The baseline of bench/api.py: a bare FastAPI route answering a fixed JSON body, served the
way `watch-docker serve` serves its API (watchdocker.api.server: uvicorn in a thread, the
same options), in a process of its own. Runs until SIGTERM.

    .venv/bin/python bench/bare_api.py BODY.json PORT STATE_DIR
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from watchdocker.api.listen import ListenAddress
from watchdocker.api.server import ApiServer, bind


def bare_app(body: dict[str, Any]) -> FastAPI:
    app = FastAPI()

    @app.get("/api/containers")
    def containers() -> dict[str, Any]:  # sync like the real route: run in the thread pool
        return body

    return app


def main(body_file: str, port: str, state_dir: str) -> int:
    body = json.loads(Path(body_file).read_text())
    address = ListenAddress("127.0.0.1", int(port), None)
    server = ApiServer(bare_app(body), address, bind(address), Path(state_dir))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server.start()
    print("ready", flush=True)
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
