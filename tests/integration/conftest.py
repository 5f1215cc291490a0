"""The real engine and registries (testbed/up.sh) and a real Prefect server for this session."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import testbed as tb
from watchdocker.config import ServerConfig, Settings

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session", autouse=True)
def bed() -> Iterator[None]:
    """Brings the bed up when it is not (idempotent), and removes what this run labelled."""
    if tb.bed_problem():
        subprocess.run(
            ["bash", str(REPO_ROOT / "testbed" / "up.sh")], check=True, stdout=subprocess.DEVNULL
        )
    problem = tb.bed_problem()
    if problem:
        pytest.fail(f"test bed not up: {problem}")
    yield
    tb.cleanup(tb.RUN_ID)


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[str]:
    """A Prefect server (SQLite) on the port tests/conftest.py chose, as `serve` would run it."""
    from watchdocker.prefect_env import drain_prefect_workers, start_local_server, stop_process

    api = os.environ["PREFECT_API_URL"]
    port = int(api.rsplit(":", 1)[1].split("/")[0])
    settings = Settings(server=ServerConfig(addr=f"127.0.0.1:{port}"))
    process = start_local_server(settings)
    yield api
    drain_prefect_workers()
    stop_process(process)


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """A config.yaml limited to this run's containers (policy.onlyLabels), plus `extra`."""

    def write(extra: dict[str, Any] | None = None, **sections: Any) -> Path:
        data: dict[str, Any] = {
            "policy": {"onlyLabels": [tb.label_filter()]},
            "stateDir": str(tmp_path / "state"),
        }
        for key, value in {**(extra or {}), **sections}.items():
            if isinstance(value, dict) and isinstance(data.get(key), dict):
                data[key] = {**data[key], **value}
            else:
                data[key] = value
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(data))
        return path

    return write
