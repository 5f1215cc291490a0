"""Tests marked `exclusive` run alone under pytest-xdist: those that bound how long something
takes (a loaded machine would fail them) or count requests in the test bed's shared registry
logs (another worker's requests would be counted). The other tests run side by side.

A readers-writer lock across the workers (flock on files of this run): each test holds it
shared, an exclusive test holds it alone; a module's exclusive tests hold it from their first
to their last, since its fixtures (a served schedule) live that long. A turnstile lets a
waiting exclusive test in before more shared ones start. Exclusive tests are collected first,
so that the workers run them while there is no long shared test to wait for; then the modules
marked `long`, so that none of them is handed out last and ends the run alone."""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

LOCK_DIR_VARIABLE = "WATCHDOCKER_TESTS_LOCK_DIR"  # made by the controller, read by the workers


def is_exclusive(item: pytest.Item) -> bool:
    return item.get_closest_marker("exclusive") is not None


class ExclusiveLock:
    """Registered in each xdist worker."""

    def __init__(self, folder: Path) -> None:
        self._turnstile = (folder / "turnstile").open("a")
        self._tests = (folder / "tests").open("a")
        self._held = False

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Iterator[None]:
        if not self._held:
            self._acquire(exclusive=is_exclusive(item))
        try:
            return (yield)
        finally:
            keep = (
                is_exclusive(item)
                and nextitem is not None
                and is_exclusive(nextitem)
                and nextitem.path == item.path
            )
            if not keep:
                _flock(self._tests, fcntl.LOCK_UN)
                self._held = False

    def _acquire(self, exclusive: bool) -> None:
        _flock(self._turnstile, fcntl.LOCK_EX)
        try:
            _flock(self._tests, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        finally:
            _flock(self._turnstile, fcntl.LOCK_UN)
        self._held = True


def _flock(file: IO[str], operation: int) -> None:
    fcntl.flock(file.fileno(), operation)


def run_order(items: list[pytest.Item]) -> None:
    """Exclusive tests, then long modules, then the rest. Stable: modules stay whole and in
    order within each kind."""
    items.sort(key=lambda item: (not is_exclusive(item), item.get_closest_marker("long") is None))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "exclusive: runs while no other test runs (pytest-xdist): it bounds how long something "
        "takes or counts requests in the test bed's shared logs",
    )
    config.addinivalue_line(
        "markers",
        "long: a module that takes minutes: handed out before the others (pytest-xdist), so "
        "that it does not end the run alone",
    )
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None:
        if not getattr(config.option, "numprocesses", None):
            return  # no workers: one test at a time anyway
        # The controller: the workers it starts inherit the folder.
        folder = tempfile.mkdtemp(prefix="watchdocker-tests-lock-")
        os.environ[LOCK_DIR_VARIABLE] = folder
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
        return
    config.pluginmanager.register(
        ExclusiveLock(Path(os.environ[LOCK_DIR_VARIABLE])), "watchdocker-exclusive"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if hasattr(config, "workerinput"):
        run_order(items)
