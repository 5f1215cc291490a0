"""Tests marked `exclusive` run alone in their pytest session under pytest-xdist: they bound how
long something takes. Tests marked `quiet` run beside other `quiet` tests only: they bound when
served schedules and watches fire, which a loaded machine delays, but they mostly wait, so a few
of them side by side leave the machine idle enough. The other tests run side by side.

A lock across the workers (flock on files of this run, which a killed worker lets go of): each
test holds `tests` shared, an exclusive test holds it alone, a quiet test holds `quiet` shared.
A module's exclusive or quiet tests hold it from their first to their last, since its fixtures
(a served schedule) live that long. A waiting exclusive or quiet test holds `waiting`, which
keeps more shared tests from starting; a quiet test joins running quiet ones even then, so that
they run together. Quiet tests are collected first, then exclusive ones, so that the workers
run them while there is no long shared test to wait for; then the modules marked `long`, so
that none of them is handed out last and ends the run alone.

`--kinds` selects tests by kind: testbed/run-tests.sh runs the quiet and exclusive tests in one
session and the shared ones in a second session at the same time, under `nice`. The quiet and
exclusive tests mostly wait, and left the CPU two-thirds idle while they ran alone; the shared
ones take what they leave, and yield the CPU to them when both want it. Since tests of the
other session run meanwhile, a test reads the registries' shared logs for its own repositories
only (`repos=` of testbed.registry_requests and token_requests)."""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Literal

import pytest

LOCK_DIR_VARIABLE = "WATCHDOCKER_TESTS_LOCK_DIR"  # made by the controller, read by the workers
POLL = 0.1  # seconds between two tries of a waiting test

Kind = Literal["quiet", "exclusive", "shared"]
KINDS: tuple[Kind, ...] = ("quiet", "exclusive", "shared")


def kind_of(item: pytest.Item) -> Kind:
    if item.get_closest_marker("exclusive") is not None:
        return "exclusive"
    if item.get_closest_marker("quiet") is not None:
        return "quiet"
    return "shared"


class RunLock:
    """What a worker holds while a test of one kind runs."""

    def __init__(self, folder: Path) -> None:
        self._mutex = (folder / "mutex").open("a")  # one worker's try at a time
        self._tests = (folder / "tests").open("a")
        self._quiet = (folder / "quiet").open("a")
        self._waiting = (folder / "waiting").open("a")

    def acquire(self, kind: Kind) -> None:
        waiting = False
        try:
            while not self._try(kind):
                if kind != "shared" and not waiting:
                    _flock(self._waiting, fcntl.LOCK_SH)
                    waiting = True
                time.sleep(POLL)
        finally:
            if waiting:
                _flock(self._waiting, fcntl.LOCK_UN)

    def release(self) -> None:
        for file in (self._tests, self._quiet):
            _flock(file, fcntl.LOCK_UN)

    def _try(self, kind: Kind) -> bool:
        """Takes what `kind` holds if nothing it may not run beside holds a lock."""
        with _locked(self._mutex):
            if kind == "shared":
                return (
                    _unheld(self._waiting)
                    and _unheld(self._quiet)
                    and _take(self._tests, fcntl.LOCK_SH)
                )
            if kind == "quiet":
                return _unheld(self._tests) and _take(self._quiet, fcntl.LOCK_SH)
            return _unheld(self._quiet) and _take(self._tests, fcntl.LOCK_EX)


class LockEachTest:
    """Registered in each xdist worker."""

    def __init__(self, lock: RunLock) -> None:
        self._lock = lock
        self._held = False

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Iterator[None]:
        kind = kind_of(item)
        if not self._held:
            self._lock.acquire(kind)
            self._held = True
        try:
            return (yield)
        finally:
            keep = (
                kind != "shared"
                and nextitem is not None
                and kind_of(nextitem) == kind
                and nextitem.path == item.path
            )
            if not keep:
                self._lock.release()
                self._held = False


@contextmanager
def _locked(file: IO[str]) -> Iterator[None]:
    _flock(file, fcntl.LOCK_EX)
    try:
        yield
    finally:
        _flock(file, fcntl.LOCK_UN)


def _unheld(file: IO[str]) -> bool:
    """No other worker holds a lock on `file` (this one holds none when it asks)."""
    if not _take(file, fcntl.LOCK_EX):
        return False
    _flock(file, fcntl.LOCK_UN)
    return True


def _take(file: IO[str], operation: int) -> bool:
    try:
        _flock(file, operation | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _flock(file: IO[str], operation: int) -> None:
    fcntl.flock(file.fileno(), operation)


RUN_ORDER: dict[Kind, int] = {"quiet": 0, "exclusive": 1, "shared": 2}


def run_order(items: list[pytest.Item]) -> None:
    """Quiet tests, exclusive tests, then long modules, then the rest. Stable: modules stay
    whole and in order within each kind."""
    items.sort(key=lambda item: (RUN_ORDER[kind_of(item)], item.get_closest_marker("long") is None))


def kinds_option(value: str) -> set[Kind]:
    kinds = {kind.strip() for kind in value.split(",") if kind.strip()}
    if unknown := sorted(kinds - set(KINDS)):
        raise pytest.UsageError(
            f"--kinds: unknown {', '.join(unknown)} (known: {', '.join(KINDS)})"
        )
    return kinds  # type: ignore[return-value]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--kinds",
        default=",".join(KINDS),
        help="run only the tests of these kinds, comma-separated: quiet, exclusive, shared "
        "(default: all)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "exclusive: runs while no other test of its session runs (pytest-xdist): it bounds how "
        "long something takes",
    )
    config.addinivalue_line(
        "markers",
        "quiet: runs beside other quiet tests only (pytest-xdist): it bounds when served "
        "schedules fire but mostly waits",
    )
    config.addinivalue_line(
        "markers",
        "long: a module that takes over a minute: handed out before the others (pytest-xdist), so "
        "that it does not end the run alone",
    )
    kinds_option(config.getoption("kinds"))  # a wrong kind stops the run before it starts
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
        LockEachTest(RunLock(Path(os.environ[LOCK_DIR_VARIABLE]))), "watchdocker-exclusive"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kinds = kinds_option(config.getoption("kinds"))
    if deselected := [item for item in items if kind_of(item) not in kinds]:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if kind_of(item) in kinds]
    if hasattr(config, "workerinput"):
        run_order(items)
