"""What both benchmarks need before they measure: the test bed, and a Prefect server of their
own with Prefect's settings pointed at it before Prefect is imported."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

# Nothing here imports Prefect: it reads its settings on import.
from watchdocker.config import ServerConfig, Settings
from watchdocker.prefect_env import prepare_environment, start_local_server

REPO_ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def load_testbed() -> ModuleType:
    """The tests' helpers for the bed (tests/integration/testbed.py)."""
    sys.path.insert(0, str(REPO_ROOT / "tests" / "integration"))
    import testbed

    return testbed


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
