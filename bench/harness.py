"""What every benchmark shares: the test bed and what a run creates on it (labelled, pushed,
removed again), a Prefect server of its own with Prefect's settings pointed at it before
Prefect is imported, clocks for the package's steps, Prefect's own waits, /proc readings, and
the printing of setup times and ratios."""

from __future__ import annotations

import abc
import argparse
import contextlib
import functools
import logging
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any, Literal, ParamSpec, TypeVar

import httpx
import yaml

# Nothing here imports Prefect: it reads its settings on import.
from watchdocker.config import PrefectConfig, Settings
from watchdocker.deployments.prefect_env import (
    drain_prefect_workers,
    prepare_environment,
    start_local_server,
    stop_process,
)

REPO_ROOT = Path(__file__).resolve().parents[1]

P = ParamSpec("P")
R = TypeVar("R")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def start_run() -> tuple[str, ModuleType]:
    """A run id of our own, and the tests' helpers for the bed (tests/integration/testbed.py)
    labelling everything with it; SIGTERM leaves like Ctrl-C, through the caller's cleanup."""
    run_id = uuid.uuid4().hex[:8]
    # A developer's own WATCH_* settings must not change what is measured; the testbed
    # helpers label everything with WATCH_TEST_RUN_ID, which must be ours alone.
    for name in list(os.environ):
        if name.startswith("WATCH_") and not name.startswith("WATCH_TESTBED_"):
            del os.environ[name]
    os.environ["WATCH_TEST_RUN_ID"] = run_id
    sys.path.insert(0, str(REPO_ROOT / "tests" / "integration"))
    import testbed  # after WATCH_TEST_RUN_ID: it reads the run id on import

    # SIGINT is set again because a shell starting us in the background hands it over ignored.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    return run_id, testbed


def start_prefect(tmp: Path) -> subprocess.Popen[bytes]:
    """A Prefect server of our own (SQLite under `tmp`), with Prefect's settings pointed at it
    before Prefect loads."""
    os.environ["PREFECT_HOME"] = str(tmp / "prefect")
    # WARNING rather than the CLI's CRITICAL: a failing task still shows on the console.
    prepare_environment(Settings(), console_level="WARNING")
    port = free_port()
    settings = Settings(prefect=PrefectConfig(addr=f"127.0.0.1:{port}"))
    server = start_local_server(settings, log_file=tmp / "prefect-server.log")
    os.environ["PREFECT_API_URL"] = f"http://127.0.0.1:{port}/api"
    return server


def at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number >= `minimum`."""

    def whole(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= {minimum}")
        return value

    return whole


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds >= 0")
    return value


def add_pause_option(parser: argparse.ArgumentParser) -> None:
    # Right after a flow run the local server's SQLite is still writing that run's events: a
    # new run meets 503s and retries.
    parser.add_argument(
        "--pause",
        type=_seconds,
        default=3.0,
        help="seconds between flow runs, for the server to finish writing the last one (3)",
    )


class Harness(abc.ABC):
    """One benchmark run on the bed: its temp dir, its label (the testbed's, with our run id),
    its images pushed to the open registry, its Prefect server; set-up steps timed into
    `setup`; everything removed again by `main`, on exit, Ctrl-C or error."""

    def __init__(self, args: argparse.Namespace, run_id: str, tb: ModuleType) -> None:
        self.args = args  # the benchmark's options
        self.run_id = run_id
        self.tb = tb
        self.tmp = Path(tempfile.mkdtemp(prefix=f"watchdocker-bench-{run_id}-"))
        self.prefix = f"bench-{run_id}"  # repositories and container names
        self.label = str(tb.label_filter())  # every container and image tb creates has it
        self.setup: dict[str, float] = {}
        self.server: subprocess.Popen[bytes] | None = None
        self.pushed: list[tuple[str, str]] = []  # (reference, digest), deleted at the end

    @classmethod
    def main(cls, args: argparse.Namespace) -> int:
        """A run of the benchmark with these options: its exit code."""
        bench = cls(args, *start_run())
        try:
            return bench.whole_run()
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM (see start_run)
            print("interrupted: cleaning up", file=sys.stderr)
            return 130
        finally:
            bench.cleanup()

    @abc.abstractmethod
    def whole_run(self) -> int:
        """Set-up, measurements, report: the exit code. Each benchmark says what."""

    # -- setup ------------------------------------------------------------------------------

    def stage(self, name: str, fn: Callable[[], object]) -> None:
        print(f"... {name}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        fn()
        self.setup[name] = time.perf_counter() - started

    def bed_up(self) -> None:
        self.stage("bed up (testbed/up.sh when needed)", self._bring_up_bed)

    def _bring_up_bed(self) -> None:
        if self.tb.bed_problem():
            subprocess.run(
                ["bash", str(REPO_ROOT / "testbed" / "up.sh")],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        problem = self.tb.bed_problem()
        if problem:
            raise SystemExit(f"test bed not up: {problem}")

    def prefect_up(self, instrument: Callable[[], object]) -> None:
        """The bed, our Prefect server, then `instrument`, which imports the flow (so Prefect)."""
        self.bed_up()
        self.stage("Prefect server start", self._start_prefect)
        self.stage("import the flow (Prefect)", instrument)

    def _start_prefect(self) -> None:
        self.server = start_prefect(self.tmp)

    def push(self, ref: str) -> str:
        """`ref` pushed; kept as the push ends, so that an interrupted setup still deletes it."""
        digest = str(self.tb.push(ref))
        self.pushed.append((ref, digest))
        return digest

    def write_config(self, name: str, **sections: object) -> str:
        """A config file selecting this run's containers only, with `sections` on top."""
        data: dict[str, object] = {
            "policy": {"onlyLabels": [self.label]},
            "stateDir": str(self.tmp / "state"),
            **sections,
        }
        path = self.tmp / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data))
        return str(path)

    # -- report -----------------------------------------------------------------------------

    def print_heading(self, title: str) -> None:
        print()
        print(f"{title}, run {self.run_id}, {os.cpu_count()} CPUs")
        print()
        print("setup")
        for name, seconds in self.setup.items():
            print(f"  {name:<44} {seconds:8.2f} s")

    # -- cleanup ----------------------------------------------------------------------------

    def cleanup(self) -> None:
        """Each step on its own: one failing must not leave the others' leftovers behind."""
        steps: list[tuple[str, Callable[[], object]]] = [
            ("Prefect server", self._stop_prefect),
            ("containers and images", lambda: self.tb.cleanup(self.run_id)),
            ("registry manifests", self._delete_manifests),
            ("temp dir", lambda: shutil.rmtree(self.tmp, ignore_errors=True)),
        ]
        for name, step in steps:
            started = time.perf_counter()
            try:
                step()
            except Exception as exc:
                print(f"cleanup of {name} failed: {exc}", file=sys.stderr)
            else:
                elapsed = time.perf_counter() - started
                print(f"cleaned up {name} in {elapsed:.1f} s", file=sys.stderr)

    def _stop_prefect(self) -> None:
        # Logs and events still queued would otherwise go to a server that is gone.
        drain_prefect_workers()
        if self.server is not None:
            stop_process(self.server)

    def _delete_manifests(self) -> None:
        # The bed's registries allow deletes; blobs stay until a garbage collection.
        with httpx.Client(timeout=10) as client:
            for ref, digest in self.pushed:
                name = ref.removeprefix(f"{self.tb.OPEN}/").rsplit(":", 1)[0]
                client.delete(f"http://{self.tb.OPEN}/v2/{name}/manifests/{digest}")


# --- figures ---------------------------------------------------------------------------------


def ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f}"


def ratio(value: float | None, base: float | None) -> str:
    """`value / base` for a report, `-` where either is missing or the base is zero."""
    return f"{value / base:.2f}" if value is not None and base else "-"


def median_or_none(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


# --- clocks ----------------------------------------------------------------------------------


@dataclass
class Span:
    label: str
    start: float  # wall clock (time.time()), to line up with the engine's event times
    end: float
    detail: str = ""  # what the call was about, where the wrapper was told to note it

    @property
    def duration(self) -> float:
        return self.end - self.start


class Timeline:
    """Timestamped spans of wrapped calls, from any thread (flows run tasks on a pool). The
    package is not changed: the bench wraps the names it calls."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spans: list[Span] = []

    def add(self, label: str, start: float, end: float, detail: str = "") -> None:
        with self._lock:
            self._spans.append(Span(label, start, end, detail))

    def wrap(
        self, label: str, fn: Callable[P, R], detail: Callable[[tuple[Any, ...]], str] | None = None
    ) -> Callable[P, R]:
        """`detail`: what to note of the call's positional arguments."""

        @functools.wraps(fn)
        def timed(*args: P.args, **kwargs: P.kwargs) -> R:
            start = time.time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.add(label, start, time.time(), detail(args) if detail else "")

        return timed

    @contextlib.contextmanager
    def span(self, label: str) -> Iterator[None]:
        start = time.time()
        try:
            yield
        finally:
            self.add(label, start, time.time())

    def take(self) -> list[Span]:
        with self._lock:
            spans, self._spans = self._spans, []
        return sorted(spans, key=lambda s: s.start)


# --- Prefect's own waits ---------------------------------------------------------------------


@dataclass(frozen=True)
class PrefectWait:
    time: float
    kind: Literal["API retry", "slot busy"]
    seconds: float


class PrefectWaits(logging.Handler):
    """Where Prefect itself slept, from its DEBUG messages (the console handler, at WARNING,
    shows none): the client's retried API calls (a 503 from the local server's busy SQLite)
    and the concurrency service's waits for a free slot (423 from the server)."""

    _PATTERNS: tuple[tuple[re.Pattern[str], Literal["API retry", "slot busy"]], ...] = (
        (re.compile(r"Another attempt will be made in ([0-9.]+)s"), "API retry"),
        (
            re.compile(r"Unable to acquire concurrency slot.* Retrying in ([0-9.]+) second"),
            "slot busy",
        ),
    )

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self._lock = threading.Lock()
        self._waits: list[PrefectWait] = []

    def listen(self) -> None:
        """To the Prefect client's retries."""
        client_log = logging.getLogger("prefect.client")
        client_log.setLevel(logging.DEBUG)
        client_log.addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        for pattern, kind in self._PATTERNS:
            found = pattern.search(message)
            if found:
                with self._lock:
                    self._waits.append(PrefectWait(record.created, kind, float(found[1])))

    def take(self) -> list[PrefectWait]:
        with self._lock:
            waits, self._waits = self._waits, []
        return waits


# --- /proc -----------------------------------------------------------------------------------

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (which may hold spaces)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None  # gone meanwhile
    return text[text.rfind(")") + 2 :].split()


def descendants(root: int) -> list[int]:
    """`root` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and (fields := _stat(int(entry.name))):
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def cpu_seconds(pid: int) -> float | None:
    fields = _stat(pid)
    return None if fields is None else (int(fields[11]) + int(fields[12])) / TICKS  # utime+stime


def tree_cpu_seconds(root: int) -> float:
    """The CPU time of `root` and its descendants (uvicorn may be a child of the server)."""
    return sum(cpu_seconds(pid) or 0.0 for pid in descendants(root))


def rss_bytes(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0
