"""Benchmark of `watch-docker scan --json` as a person runs it, against a floor in the same run.

    .venv/bin/python bench/cli.py [--containers 30] [--images 10] [--rounds 3]

It brings the bed up (testbed/up.sh), pushes `--images` distinct images to the open registry
under `bench-<runid>/`, starts `--containers` containers spread over them, and times, each
`--rounds` times (median; the digest cache is off, `scan.cacheTTL: 0s`, so every scan asks the
registry: a cold cache):

- floor: a new Python process that lists the containers with the docker SDK (one call),
  inspects each distinct image and sends one manifest HEAD per distinct image with httpx
  (3 at once, as `scan.concurrency`);
- `watch-docker scan --json` with no serve running (in-process, no Prefect);
- `watch-docker scan --json` with `watch-docker serve` running (through its API: a run of the
  `scan` deployment), and `GET /api/containers?refresh=true` from a warm client; with the task
  runs each scan run made (Prefect API writes grow with them).

Each scan's output is checked: every container, up to date. Everything it created is removed
on exit, Ctrl-C or error.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from harness import Harness, add_pause_option, at_least, free_port, ratio

TARGET = 3.0  # the issue's: each CLI figure at most this many times the floor

FLOOR = r"""
import sys
from concurrent.futures import ThreadPoolExecutor

import docker
import httpx

label, accept, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
engine = docker.from_env()
containers = engine.api.containers(filters={"label": label})  # one call, no inspect each
for image_id in {c["ImageID"] for c in containers}:
    engine.api.inspect_image(image_id)  # its RepoDigests, as a scan reads them
references = {c["Image"] for c in containers}
with httpx.Client() as client:
    def head(reference):
        host, _, rest = reference.partition("/")
        name, _, tag = rest.rpartition(":")
        url = f"http://{host}/v2/{name}/manifests/{tag}"
        return client.head(url, headers={"Accept": accept}).headers["Docker-Content-Digest"]
    with ThreadPoolExecutor(workers) as pool:
        digests = list(pool.map(head, sorted(references)))
print(len(digests))
"""


class CliBench(Harness):
    def whole_run(self) -> int:
        self.bed_up()
        self.stage("push images, start containers", self._containers)
        self.config = self.write_config("bench", scan={"cacheTTL": "0s"})
        self.print_heading("watch-docker scan --json (bench/cli.py)")
        print(f"  {self.args.containers} containers over {self.args.images} images")
        floor = self._median("floor", self._floor)
        alone = self._median("scan, no serve", lambda: self._cli(self.tmp / "alone-state"))
        served = self._with_serve()
        print()
        print(f"{'':<40} {'median s':>9} {'x floor':>8}")
        print(f"{'floor (docker SDK + httpx HEADs)':<40} {floor:9.2f} {'1.00':>8}")
        rows = [("watch-docker scan --json, no serve", alone), *served]
        for label, seconds in rows:
            print(f"{label:<40} {seconds:9.2f} {ratio(seconds, floor):>8}")
        over = [label for label, seconds in rows[:2] if seconds > TARGET * floor]
        print()
        print(f"target: each `scan --json` at most {TARGET:g}x the floor: ", end="")
        print("met" if not over else "not met by " + ", ".join(over))
        return 0

    # -- setup ------------------------------------------------------------------------------

    def _containers(self) -> None:
        refs = []
        for i in range(self.args.images):
            ref = f"{self.tb.OPEN}/{self.prefix}/img{i}:latest"
            self.tb.build_image(ref, marker=f"{self.prefix}-{i}")
            self.push(ref)
            refs.append(ref)
        for i in range(self.args.containers):
            name = f"{self.prefix}-c{i}"
            self.tb.run_container(refs[i % len(refs)], "sleep", "3600", name=name)

    # -- measurements -----------------------------------------------------------------------

    def _median(self, what: str, once: Callable[[], float]) -> float:
        times = []
        for _ in range(self.args.rounds):
            times.append(once())
            time.sleep(self.args.pause)
        print(f"... {what}: " + ", ".join(f"{t:.2f}" for t in times) + " s", file=sys.stderr)
        return statistics.median(times)

    def _floor(self) -> float:
        from watchdocker.registry.manifests import ACCEPT

        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", FLOOR, self.label, ACCEPT, "3"],
            capture_output=True,
            text=True,
            check=True,
        )
        elapsed = time.perf_counter() - started
        assert done.stdout.strip() == str(self.args.images), done.stdout
        return elapsed

    def _env(self, state: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        return {**env, "WATCH_STATE_DIR": str(state)}

    def _cli(self, state: Path) -> float:
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "watchdocker.cli.app", "scan", "--json", "-c", self.config],
            capture_output=True,
            text=True,
            env=self._env(state),
            check=False,
        )
        elapsed = time.perf_counter() - started
        assert done.returncode == 0, done.stderr
        self._check(json.loads(done.stdout)["containers"])
        return elapsed

    def _check(self, containers: list[dict]) -> None:
        ours = [c for c in containers if c["name"].startswith(self.prefix)]
        assert len(ours) == self.args.containers, len(ours)
        assert all(c["status"] == "up_to_date" for c in ours), ours

    def _with_serve(self) -> list[tuple[str, float]]:
        state = self.tmp / "serve-state"
        env = {
            **self._env(state),
            "WATCH_PREFECT_ADDR": f"127.0.0.1:{free_port()}",
            "WATCH_SERVER_ADDR": f"127.0.0.1:{free_port()}",
        }
        log = (self.tmp / "serve.log").open("wb")
        serve = subprocess.Popen(
            [sys.executable, "-m", "watchdocker.cli.app", "serve", "--config", self.config],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            started = time.perf_counter()
            url = self._wait_for_api(state, serve)
            ready = time.perf_counter() - started
            cli = self._median("scan through serve", lambda: self._cli(state))
            credential = (state / "api" / "local-credential").read_text().strip()
            with httpx.Client(
                base_url=url, headers={"Authorization": f"Bearer {credential}"}, timeout=300
            ) as client:
                api = self._median("GET /api/containers", lambda: self._get(client))
            tasks = self._task_runs(state, env["WATCH_PREFECT_ADDR"])
        finally:
            serve.send_signal(signal.SIGTERM)
            serve.wait(60)
        print(f"  serve start, until its API is ready: {ready:.1f} s")
        print(f"  task runs per scan run (serve): {tasks}")
        return [
            ("watch-docker scan --json, serve running", cli),
            ("GET /api/containers?refresh=true", api),
        ]

    def _wait_for_api(self, state: Path, serve: subprocess.Popen[bytes]) -> str:
        address = state / "api" / "address"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if serve.poll() is not None:
                raise SystemExit(f"serve exited; see {self.tmp / 'serve.log'}")
            if address.exists():
                url = address.read_text().splitlines()[0]
                try:
                    if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                        return url
                except httpx.HTTPError:
                    pass
            time.sleep(0.5)
        raise SystemExit(f"serve's API did not answer; see {self.tmp / 'serve.log'}")

    def _get(self, client: httpx.Client) -> float:
        started = time.perf_counter()
        answer = client.get("/api/containers", params={"refresh": "true"})
        elapsed = time.perf_counter() - started
        assert answer.status_code == 200, answer.text
        self._check(answer.json()["data"]["containers"])
        return elapsed

    def _task_runs(self, state: Path, prefect_addr: str) -> str:
        """The task runs of each `scan` flow run serve ran, as `min-max`."""
        from watchdocker.deployments.prefect_env import auth_headers

        auth = (state / "prefect" / "api-auth-string").read_text().strip()
        api = f"http://{prefect_addr}/api"
        with httpx.Client(base_url=api, headers=auth_headers(auth), timeout=30) as client:
            runs = client.post(
                "/flow_runs/filter",
                json={"flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}},
            ).json()
            counts = [
                client.post(
                    "/task_runs/count", json={"flow_runs": {"id": {"any_": [run["id"]]}}}
                ).json()
                for run in runs
                if run["name"].startswith("scan")
            ]
        return f"{min(counts)}-{max(counts)} over {len(counts)} runs" if counts else "none"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--containers", type=at_least(1), default=30)
    parser.add_argument("--images", type=at_least(1), default=10)
    parser.add_argument("--rounds", type=at_least(1), default=3)
    add_pause_option(parser)
    return CliBench.main(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
