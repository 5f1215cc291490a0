"""Benchmark of `GET /api/containers` of `watch-docker serve` against a bare FastAPI route
answering the same JSON under the same uvicorn, measured in the same run.

    .venv/bin/python bench/api.py [--containers 200] [--clients 20] [--requests 2000]
                                  [--rounds 3]

It brings the bed up, pushes one tiny image to the open registry, starts `--containers`
containers of it (labelled, removed on exit), starts `watch-docker serve` (its own local
Prefect server, fresh state directory, the default schedules) and waits for its /readyz,
runs one `GET /api/containers?refresh=true` (a scan flow run inside serve: every container
gets its status), then keeps that answer's JSON for the baseline: bench/bare_api.py, a bare
route returning it, served by the same ApiServer (uvicorn in a thread, same options) in a
process of its own.

Each round sends `--requests` requests to each target in turn (baseline first), from
`--clients` concurrent clients on keep-alive connections (asyncio + httpx in this process),
after a warm-up, then a tenth as many from one client. Figures over all rounds: p50 and p99
latency, requests/s (the median of the rounds'), and the ratio API / baseline; and the p50 of
the engine's own list call, the floor of any live list. Every answer is checked: HTTP 200,
code 0, the containers all there. Everything it created is removed on exit, Ctrl-C or error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import ModuleType

import httpx
from harness import REPO_ROOT, Harness, at_least, free_port, ratio
from scan import parallel

from watchdocker.deployments.prefect_env import stop_process
from watchdocker.engine.client import connect

SETUP_WORKERS = 8
READY_TIMEOUT = 180.0


@dataclass
class Load:
    """The latencies (seconds) and rounds' throughputs (requests/s) of one target."""

    label: str
    latencies: list[float] = field(default_factory=list)
    throughputs: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    @property
    def rate(self) -> float:
        return statistics.median(self.throughputs)


async def _load(
    url: str, headers: dict[str, str], clients: int, requests: int, prefix: str, expect: int
) -> tuple[list[float], float, list[str]]:
    """`requests` GETs of `url` from `clients` concurrent workers: latencies, requests/s and
    what was wrong with the answers that were not a list of the `expect` containers named
    `prefix`* (other sessions' containers come and go meanwhile)."""
    latencies: list[float] = []
    failures: list[str] = []
    left = iter(range(requests))
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=60) as client:

        async def worker() -> None:
            for _ in left:
                started = time.perf_counter()
                answer = await client.get(url)
                latencies.append(time.perf_counter() - started)
                body = answer.json()
                if body.get("code") != 0:
                    failures.append(f"HTTP {answer.status_code}: {body.get('msg')}")
                    continue
                ours = [c for c in body["data"]["containers"] if c["name"].startswith(prefix)]
                if len(ours) != expect:
                    failures.append(f"{len(ours)} of the {expect} containers listed")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return latencies, requests / elapsed, failures


class Bench(Harness):
    def __init__(self, args: argparse.Namespace, run_id: str, tb: ModuleType) -> None:
        super().__init__(args, run_id, tb)
        self.image = f"{self.tb.OPEN}/{self.prefix}/tiny:latest"
        self.serve: subprocess.Popen[bytes] | None = None
        self.bare: subprocess.Popen[bytes] | None = None
        self.api = ""  # serve's API base URL
        self.headers: dict[str, str] = {}
        self.refresh_seconds = 0.0
        self.listed = 0  # containers in the list (the engine's, ours included)
        self.bare_url = ""
        self.engine_list: list[float] = []  # seconds per `containers(all=True)` call

    # -- setup ------------------------------------------------------------------------------

    def publish_image(self) -> None:
        self.tb.build_image(self.image, marker=self.prefix)
        self.push(self.image)

    def start_containers(self) -> None:
        def start(index: int) -> None:
            name = f"{self.prefix}-c{index:04d}"
            self.tb.run_container(self.image, "sleep", "3600", name=name)

        parallel(start, list(range(self.args.containers)), SETUP_WORKERS)

    def start_serve(self) -> None:
        folder = self.tmp / "serve"
        state = folder / "state"
        config = self.write_config("serve", stateDir=str(state))
        port, api_port = free_port(), free_port()
        env = {
            **{k: v for k, v in os.environ.items() if k not in {"PREFECT_API_URL", "PREFECT_HOME"}},
            "WATCH_PREFECT_ADDR": f"127.0.0.1:{port}",
            "WATCH_SERVER_ADDR": f"127.0.0.1:{api_port}",
            "WATCH_STATE_DIR": str(state),
        }
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / "serve.log").open("ab") as log:
            self.serve = subprocess.Popen(
                [sys.executable, "-m", "watchdocker.cli.app", "serve", "--config", config],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
            )
        self.api = f"http://127.0.0.1:{api_port}"
        deadline = time.monotonic() + READY_TIMEOUT
        credential = state / "api" / "local-credential"
        # Ready: the API answers, and the Prefect server is up for the refresh's flow run.
        while not (credential.exists() and self._ready()):
            if self.serve.poll() is not None:
                raise SystemExit(f"serve exited with {self.serve.returncode}: see {log.name}")
            if time.monotonic() > deadline:
                raise SystemExit(f"serve was not ready within {READY_TIMEOUT:g}s")
            time.sleep(0.5)
        self.headers = {"Authorization": f"Bearer {credential.read_text().strip()}"}

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.api}/readyz", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def refresh(self) -> None:
        started = time.perf_counter()
        answer = httpx.get(
            f"{self.api}/api/containers",
            params={"refresh": "true"},
            headers=self.headers,
            timeout=300,
        )
        self.refresh_seconds = time.perf_counter() - started
        body = answer.json()
        if body.get("code") != 0:
            raise SystemExit(f"the refresh failed: {body.get('msg')}")
        ours = [c for c in body["data"]["containers"] if c["name"].startswith(self.prefix)]
        statuses = {c["status"] for c in ours}
        if len(ours) != self.args.containers or statuses != {"up_to_date"}:
            raise SystemExit(f"after the refresh: {len(ours)} containers, statuses {statuses}")
        (self.tmp / "body.json").write_text(json.dumps(body))
        self.listed = len(body["data"]["containers"])

    def time_engine_list(self) -> None:
        """The floor of a live list: the engine's own list call, one after another, from a
        docker SDK client in this process (as serve's API makes it)."""
        engine = connect()
        try:
            for _ in range(self.args.requests // 10):
                started = time.perf_counter()
                engine.api.containers(all=True)
                self.engine_list.append(time.perf_counter() - started)
        finally:
            engine.close()

    def start_bare(self) -> None:
        port = free_port()
        self.bare = subprocess.Popen(
            [
                sys.executable,
                str(REPO_ROOT / "bench" / "bare_api.py"),
                str(self.tmp / "body.json"),
                str(port),
                str(self.tmp / "bare-state"),
            ],
            stdout=subprocess.PIPE,
            cwd=REPO_ROOT,
        )
        assert self.bare.stdout is not None
        if self.bare.stdout.readline().strip() != b"ready":
            raise SystemExit("the baseline server did not start")
        self.bare_url = f"http://127.0.0.1:{port}"

    # -- measure ----------------------------------------------------------------------------

    def measure(self, load: Load, url: str, clients: int, requests: int) -> None:
        ours = self.args.containers
        asyncio.run(_load(url, self.headers, clients, 2 * clients, self.prefix, ours))  # warm-up
        latencies, rate, failures = asyncio.run(
            _load(url, self.headers, clients, requests, self.prefix, ours)
        )
        load.latencies += latencies
        load.throughputs.append(rate)
        load.failures += failures

    def whole_run(self) -> int:
        self.bed_up()
        self.stage("push one tiny image", self.publish_image)
        self.stage(f"start {self.args.containers} containers", self.start_containers)
        self.stage("start watch-docker serve (until /readyz)", self.start_serve)
        self.stage("first GET /api/containers?refresh=true", self.refresh)
        self.stage("start the baseline server", self.start_bare)
        self.stage("time the engine's list call", self.time_engine_list)
        args = self.args
        bare, api = Load("bare FastAPI route"), Load("GET /api/containers")
        # One client asking after another: what one person waits.
        bare_alone, api_alone = Load("bare, 1 client"), Load("API, 1 client")
        targets = [(self.bare_url, bare, bare_alone), (self.api, api, api_alone)]
        for round_no in range(1, args.rounds + 1):
            print(f"... round {round_no}/{args.rounds}", file=sys.stderr, flush=True)
            for base, many, one in targets:
                self.measure(many, f"{base}/api/containers", args.clients, args.requests)
                self.measure(one, f"{base}/api/containers", 1, args.requests // 10)
        self.report(bare, api, bare_alone, api_alone)
        return 1 if any(load.failures for load in (bare, api, bare_alone, api_alone)) else 0

    def report(self, bare: Load, api: Load, bare_alone: Load, api_alone: Load) -> None:
        args = self.args
        self.print_heading("GET /api/containers")
        print()
        print(
            f"{args.containers} containers of the run ({self.listed} listed), {args.clients} "
            f"concurrent clients, {args.requests} requests per round (1 client: a tenth of "
            f"them), {args.rounds} rounds; "
            f"the answer is {len((self.tmp / 'body.json').read_bytes()) / 1024:.0f} KiB"
        )
        print(f"the refresh (a scan flow run inside serve) took {self.refresh_seconds:.2f} s")
        print()
        print(f"{'':<22} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} {'failed':>7}")
        for pair in ((bare, api), (bare_alone, api_alone)):
            print()
            for load in pair:
                print(
                    f"{load.label:<22} {load.percentile(50) * 1000:8.1f} "
                    f"{load.percentile(99) * 1000:8.1f} {load.rate:8.0f} "
                    f"{len(load.failures):7d}"
                )
            base, ours = pair
            print(
                f"{'API / baseline':<22} {ratio(ours.percentile(50), base.percentile(50)):>8} "
                f"{ratio(ours.percentile(99), base.percentile(99)):>8} "
                f"{ratio(ours.rate, base.rate):>8}"
            )
        listing = statistics.median(self.engine_list) * 1000
        print(f"\nthe engine's list call alone (all containers, 1 client): p50 {listing:.1f} ms")
        for load in (bare, api, bare_alone, api_alone):
            for what, count in Counter(load.failures).most_common(3):
                print(f"  {load.label} failed {count}x: {what}")

    def cleanup(self) -> None:
        for process in (self.bare, self.serve):
            if process is not None:
                stop_process(process, timeout=60)
        super().cleanup()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--containers", type=at_least(1), default=200)
    parser.add_argument("--clients", type=at_least(1), default=20)
    parser.add_argument("--requests", type=at_least(1), default=2000, help="per round")
    parser.add_argument("--rounds", type=at_least(1), default=3)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    return Bench.main(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
