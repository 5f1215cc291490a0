"""The lock tests/exclusive.py takes around each test under pytest-xdist, one RunLock per
simulated worker (flock: two open files conflict even within one process): who runs beside
whom, who waits, and a killed worker's lock let go of."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from exclusive import Kind, RunLock

TESTS = Path(__file__).resolve().parents[1]
WAITS = 0.5  # seconds: five tries of a waiting test (polled every 0.1 s)
RUNS = 10.0  # seconds: at most, for a free lock on a loaded machine


class Worker:
    """A RunLock acquired in a thread of its own: `entered` is set once it holds it."""

    def __init__(self, folder: Path, kind: Kind) -> None:
        self.lock = RunLock(folder)
        self.entered = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(kind,), daemon=True)
        self._thread.start()

    def _run(self, kind: Kind) -> None:
        self.lock.acquire(kind)
        self.entered.set()

    def runs(self) -> bool:
        return self.entered.wait(RUNS)

    def waits(self) -> bool:
        return not self.entered.wait(WAITS)

    def leave(self) -> None:
        self._thread.join()
        self.lock.release()


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[[Kind], Worker]]:
    started: list[Worker] = []

    def worker(kind: Kind) -> Worker:
        started.append(Worker(tmp_path, kind))
        return started[-1]

    yield worker
    deadline = time.monotonic() + RUNS
    # Let go until each waiting one has had its turn (and let go of it too).
    while not all(each.entered.is_set() for each in started) and time.monotonic() < deadline:
        for each in started:
            each.lock.release()
        time.sleep(0.05)
    for each in started:
        each.lock.release()


def test_shared_tests_run_side_by_side_and_keep_quiet_and_exclusive_ones_waiting(
    start: Callable[[Kind], Worker],
):
    first, second = start("shared"), start("shared")
    assert first.runs() and second.runs()
    quiet = start("quiet")
    assert quiet.waits()
    first.leave()
    assert quiet.waits()
    second.leave()
    assert quiet.runs()


def test_quiet_tests_run_together_and_keep_the_others_waiting(start: Callable[[Kind], Worker]):
    first = start("quiet")
    assert first.runs()
    shared, exclusive = start("shared"), start("exclusive")
    assert shared.waits() and exclusive.waits()
    second = start("quiet")  # joins the running one although others wait
    assert second.runs()
    first.leave()
    assert shared.waits() and exclusive.waits()
    second.leave()
    # The exclusive test waited, so the shared one (not waiting by its kind) comes after it.
    assert exclusive.runs()
    assert shared.waits()
    exclusive.leave()
    assert shared.runs()


def test_a_waiting_quiet_test_keeps_more_shared_ones_from_starting(start: Callable[[Kind], Worker]):
    running = start("shared")
    assert running.runs()
    quiet = start("quiet")
    assert quiet.waits()
    later = start("shared")
    assert later.waits()
    running.leave()
    assert quiet.runs()
    assert later.waits()
    quiet.leave()
    assert later.runs()


def test_an_exclusive_test_runs_alone(start: Callable[[Kind], Worker]):
    exclusive = start("exclusive")
    assert exclusive.runs()
    others = [start("shared"), start("quiet"), start("exclusive")]
    assert all(other.waits() for other in others)


def test_a_killed_workers_lock_is_let_go_of(tmp_path: Path, start: Callable[[Kind], Worker]):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; from pathlib import Path; from exclusive import RunLock;"
            f"lock = RunLock(Path({str(tmp_path)!r})); lock.acquire('exclusive');"
            "print('held', flush=True); time.sleep(600)",
        ],
        cwd=TESTS,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        shared = start("shared")
        assert shared.waits()
        holder.kill()
        assert shared.runs()
    finally:
        holder.kill()
        holder.wait()
