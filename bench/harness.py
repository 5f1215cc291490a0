"""What both benchmarks need before they measure: the test bed, and a Prefect server of their
own with Prefect's settings pointed at it before Prefect is imported."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import FrameType, ModuleType

# Nothing here imports Prefect: it reads its settings on import.
from watchdocker.config import ServerConfig, Settings
from watchdocker.deployments.prefect_env import prepare_environment, start_local_server

REPO_ROOT = Path(__file__).resolve().parents[1]


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


class Harness:
    """Set-up steps timed into `setup`; subclasses set `tb` and `tmp` before using them."""

    tb: ModuleType
    tmp: Path
    setup: dict[str, float]
    server: subprocess.Popen[bytes] | None

    def stage(self, name: str, fn: Callable[[], object]) -> None:
        print(f"... {name}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        fn()
        self.setup[name] = time.perf_counter() - started

    def bring_up_bed(self) -> None:
        if self.tb.bed_problem():
            subprocess.run(
                ["bash", str(REPO_ROOT / "testbed" / "up.sh")],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        problem = self.tb.bed_problem()
        if problem:
            raise SystemExit(f"test bed not up: {problem}")

    def start_prefect(self) -> None:
        """A server of our own, with Prefect's settings pointed at it before Prefect loads."""
        os.environ["PREFECT_HOME"] = str(self.tmp / "prefect")
        # WARNING rather than the CLI's CRITICAL: a failing task still shows on the console.
        prepare_environment(Settings(), console_level="WARNING")
        port = free_port()
        settings = Settings(server=ServerConfig(addr=f"127.0.0.1:{port}"))
        self.server = start_local_server(settings, log_file=self.tmp / "prefect-server.log")
        os.environ["PREFECT_API_URL"] = f"http://127.0.0.1:{port}/api"


def run_cleaning_up(body: Callable[[], int], cleanup: Callable[[], object]) -> int:
    """`body`'s exit code; 130 on Ctrl-C or SIGTERM; `cleanup` in every case."""
    try:
        return body()
    except KeyboardInterrupt:
        print("interrupted: cleaning up", file=sys.stderr)
        return 130
    finally:
        cleanup()
