"""Says which test is running when one takes long: "still running: <nodeid> (120 s)" on the
terminal every `still_running_every` seconds of a test (ini option, default 60), with -q and
under pytest-xdist too (the controller hears each worker's test start and finish)."""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import IO

import pytest


class StillRunning:
    """Registered in the process that writes the terminal (the controller under xdist)."""

    def __init__(self, out: IO[str], every: float) -> None:
        self._out = out
        self._every = every
        self._started: dict[str, float] = {}  # nodeid -> monotonic start
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="still-running", daemon=True)
        self._thread.start()

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        with self._lock:
            self._started[nodeid] = time.monotonic()

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        with self._lock:
            self._started.pop(nodeid, None)

    def pytest_unconfigure(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._out.close()

    def _watch(self) -> None:
        said: dict[str, int] = {}  # nodeid -> how many times named
        while not self._stop.wait(1.0):
            now = time.monotonic()
            with self._lock:
                running = dict(self._started)
            for nodeid in list(said):
                if nodeid not in running:
                    del said[nodeid]
            for nodeid, started in running.items():
                due = int((now - started) // self._every)
                if due > said.get(nodeid, 0):
                    said[nodeid] = due
                    # A line of its own: the progress dots go on below it.
                    self._out.write(f"\nstill running: {nodeid} ({due * self._every:.0f} s)\n")
                    self._out.flush()


def terminal_copy() -> IO[str]:
    """The terminal as it is before a test captures it: pytest's capture redirects file
    descriptor 1 while a test runs, and the watcher writes during tests."""
    sys.stdout.flush()
    return os.fdopen(os.dup(1), "w", encoding="utf-8", errors="replace")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "still_running_every",
        "seconds: a test running longer is named on the terminal, and again each as many more",
        default="60",
    )


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):  # an xdist worker: the controller tells the terminal
        return
    every = float(config.getini("still_running_every"))
    config.pluginmanager.register(StillRunning(terminal_copy(), every), "watchdocker-still-running")
