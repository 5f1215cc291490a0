"""Scale out as the README's "Scale out" section says: a Prefect server on PostgreSQL (the test
bed's, testbed/postgres.sh), a process work pool, the deployments of prefect.yaml deployed with
`prefect deploy --all`, and a worker per Docker host that runs the flows against its own engine,
the digest cache shared through the result storage (PREFECT_LOCAL_STORAGE_PATH)."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

import testbed as tb
from watchdocker.deployments.prefect_env import auth_headers, stop_process

pytestmark = [pytest.mark.integration, pytest.mark.long]  # over a minute: handed out first

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DSN = "postgresql://prefect:prefect@127.0.0.1:5110/prefect"  # testbed/postgres.sh
POOL = "watchdocker"
# The server's auth string (PREFECT_SERVER_API_AUTH_STRING); workers and the CLI give it as
# PREFECT_API_AUTH_STRING, and these tests' REST calls as the header it makes.
AUTH_STRING = f"fleet:{secrets.token_urlsafe(24)}"
AUTH = auth_headers(AUTH_STRING)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bed_dsn() -> str:
    """WATCH_TESTBED_POSTGRES, else the line up.sh wrote to env.sh, else the bed's default."""
    if os.environ.get("WATCH_TESTBED_POSTGRES"):
        return os.environ["WATCH_TESTBED_POSTGRES"]
    try:
        for line in (tb.STATE_DIR / "env.sh").read_text().splitlines():
            if line.startswith("export WATCH_TESTBED_POSTGRES="):
                return line.split("=", 1)[1].strip()
    except OSError:
        pass
    return DEFAULT_DSN


def _sql(dsn: str, statement: str) -> None:
    import asyncpg

    async def run() -> None:
        connection = await asyncpg.connect(dsn, timeout=10)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run())


def _clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without its Prefect settings (tests/conftest.py sets them)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_SERVER_ANALYTICS_ENABLED="false", **extra)
    return env


def _prefect(*args: str, env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "prefect", *args],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, f"prefect {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    """A database of this run's own on the bed's PostgreSQL; dropped at the end."""
    dsn = _bed_dsn()
    try:
        _sql(dsn, "SELECT 1")
    except Exception:  # not up yet: bring it up
        subprocess.run(
            ["bash", str(REPO_ROOT / "testbed" / "postgres.sh")],
            check=True, stdout=subprocess.DEVNULL, timeout=600,
        )  # fmt: skip
    name = f"wdt_{tb.RUN_ID}_{uuid.uuid4().hex[:6]}"
    _sql(dsn, f'CREATE DATABASE "{name}"')
    base, _, _ = dsn.rpartition("/")
    yield f"{base}/{name}".replace("postgresql://", "postgresql+asyncpg://", 1)
    _sql(dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def server(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`prefect server start` on that database, as the README runs it."""
    tmp = tmp_path_factory.mktemp("pg-server")
    port = _free_port()
    log = tmp / "server.log"
    env = _clean_env(
        PREFECT_HOME=str(tmp / "home"),
        PREFECT_SERVER_DATABASE_CONNECTION_URL=database,
        PREFECT_SERVER_API_AUTH_STRING=AUTH_STRING,
    )
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start",
             "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    api = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 180
    while not _healthy(api):
        assert process.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, f"no server at {api}:\n{log.read_text()[-3000:]}"
        time.sleep(0.5)
    yield api
    stop_process(process, timeout=30)


def _healthy(api: str) -> bool:
    try:
        return httpx.get(f"{api}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def deployed(server: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """`prefect work-pool create` and `prefect deploy --all` (the repo's prefect.yaml)."""
    env = _clean_env(
        PREFECT_HOME=str(tmp_path_factory.mktemp("pg-cli")),
        PREFECT_API_URL=server,
        PREFECT_API_AUTH_STRING=AUTH_STRING,
    )
    _prefect("work-pool", "create", POOL, "--type", "process", env=env, cwd=REPO_ROOT)
    _prefect("--no-prompt", "deploy", "--all", env=env, cwd=REPO_ROOT)
    found = httpx.post(f"{server}/deployments/filter", json={}, headers=AUTH, timeout=10).json()
    return {d["name"]: d for d in found}


class Worker:
    """`prefect worker start --pool watchdocker` as on a Docker host: its own Prefect home,
    its engine (DOCKER_HOST), the WATCH_* settings, the shared result storage."""

    def __init__(self, api: str, name: str, docker_host: str, storage: Path, tmp: Path) -> None:
        self.log = tmp / f"worker-{name}.log"
        env = _clean_env(
            PREFECT_API_URL=api,
            PREFECT_API_AUTH_STRING=AUTH_STRING,
            PREFECT_HOME=str(tmp / f"home-{name}"),
            PREFECT_LOCAL_STORAGE_PATH=str(storage),
            PREFECT_WORKER_QUERY_SECONDS="1",
            PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL="INFO",
            DOCKER_HOST=docker_host,
            WATCH_POLICY_ONLY_LABELS=tb.label_filter(),
            WATCH_STATE_DIR=str(tmp / f"state-{name}"),
        )
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL,
                 "--name", name],
                env=env, cwd=tmp, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        stop_process(self.process, timeout=30)


def _run_scan(
    api: str, deployment_id: str, worker: Worker, parameters: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Triggers scan/scan through the REST API; the worker's run, when it has finished."""
    answer = httpx.post(
        f"{api}/deployments/{deployment_id}/create_flow_run",
        json={"parameters": parameters or {}},
        headers=AUTH,
        timeout=10,
    )
    run_id = answer.json()["id"]
    deadline = time.monotonic() + 180
    while True:
        run = httpx.get(f"{api}/flow_runs/{run_id}", headers=AUTH, timeout=10).json()
        if run["state_type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            break
        assert worker.process.poll() is None, f"the worker exited:\n{worker.tail()}"
        assert time.monotonic() < deadline, f"run {run['state_type']}:\n{worker.tail()}"
        time.sleep(0.5)
    assert run["state_type"] == "COMPLETED", f"{run['state']}\n{worker.tail()}"
    return run


def _scan_table(api: str, run_id: str) -> str:
    artifacts = httpx.post(
        f"{api}/artifacts/filter",
        json={"artifacts": {"flow_run_id": {"any_": [run_id]}}},
        headers=AUTH,
        timeout=10,
    ).json()
    [table] = [a for a in artifacts if a["key"] == "watchdocker-scan"]
    return str(table["data"])


def test_deploy_all_registers_the_deployments_of_prefect_yaml(deployed):
    declared = yaml.safe_load((REPO_ROOT / "prefect.yaml").read_text())["deployments"]
    assert set(deployed) == {d["name"] for d in declared}
    for spec in declared:
        found = deployed[spec["name"]]
        assert found["entrypoint"] == spec["entrypoint"]  # a module path: nothing to copy
        assert found["work_pool_name"] == POOL


def test_the_server_refuses_calls_without_its_auth_string(server: str):
    body = {"include_secrets": True}
    assert httpx.post(f"{server}/block_documents/filter", json=body, timeout=10).status_code == 401
    allowed = httpx.post(f"{server}/block_documents/filter", json=body, headers=AUTH, timeout=10)
    assert allowed.status_code == 200


def test_workers_need_no_copy_of_the_deploying_directory(deployed):
    pull_steps = {name: d["pull_steps"] for name, d in deployed.items()}
    assert all(steps == [] for steps in pull_steps.values()), pull_steps


def test_a_worker_per_docker_host_scans_its_own_engine_with_a_shared_digest_cache(
    server: str, deployed: dict[str, dict], tmp_path: Path
):
    api, scan_id = server, deployed["scan"]["id"]
    storage = tmp_path / "shared-results"  # a shared path (NFS...) on real hosts
    engine2 = subprocess.run(
        ["bash", str(REPO_ROOT / "testbed" / "second-engine.sh")],
        check=True, capture_output=True, text=True, timeout=300,
    ).stdout.strip().rsplit("=", 1)[1]  # fmt: skip
    ref = tb.repo("open", "scaleout") + ":latest"
    tb.build_image(ref, marker="scaleout-1")
    tb.push(ref)
    on_first, on_second = f"wdt-{tb.RUN_ID}-scaleout-a", f"wdt-{tb.RUN_ID}-scaleout-b"
    tb.run_container(ref, "sleep", "600", name=on_first)
    tb.docker_cli("-H", engine2, "pull", ref)
    tb.docker_cli(
        "-H", engine2, "run", "-d", "--label", tb.label_filter(), "--name", on_second,
        ref, "sleep", "600",
    )  # fmt: skip
    try:
        # Host A: the local engine.
        worker = Worker(api, "host-a", "unix:///var/run/docker.sock", storage, tmp_path)
        try:
            run = _run_scan(api, scan_id, worker)
        finally:
            worker.stop()
        table = _scan_table(api, run["id"])
        assert on_first in table and "up_to_date" in table and on_second not in table, table
        assert list(storage.glob("watchdocker-digest-*")), "no digest in the shared storage"

        # Host B: another engine, its scan as its schedule runs it (a run made by hand asks
        # afresh); the digest comes from the shared cache, not the registry.
        mark = tb.registry_log_mark("open")
        worker = Worker(api, "host-b", engine2, storage, tmp_path)
        try:
            run = _run_scan(api, scan_id, worker, {"fresh": False})
        finally:
            worker.stop()
        table = _scan_table(api, run["id"])
        assert on_second in table and "up_to_date" in table and on_first not in table, table
        asked = [
            r for r in tb.registry_requests("open", mark) if f"wdt-{tb.RUN_ID}/scaleout" in r["uri"]
        ]
        assert asked == [], asked
    finally:
        tb.docker_cli("rm", "-f", on_first, check=False)
        tb.docker_cli("-H", engine2, "rm", "-f", on_second, check=False)
        tb.docker_cli("-H", engine2, "rmi", ref, check=False)
