"""Benchmark of what an idle `watch-docker serve` costs: CPU and memory of its process tree.

    .venv/bin/python bench/idle.py [--minutes 3] [--every 5]

Two phases, one after the other, each a `watch-docker serve` of its own (fresh state
directory, free port, the default schedules, containers filtered to none of the host's so a
scheduled scan has nothing to do):

- before: the embedded Prefect server as Prefect ships it (`WATCH_SERVER_PREFECT_DEFAULTS=true`:
  `prefect server start` in a process of its own under the guard, all its services, its
  polling, the migrations run by the server), i.e. before watch-docker made it lighter;
- after: as `watch-docker serve` starts it: the server in a thread of serve's process
  (watchdocker.deployments: server_thread, server_services, embedded_server).

Each phase times the first answer of the API and the registration of the deployments, waits
`--settle` seconds, then samples serve (in the after phase, its server with it), the server
guard and the Prefect server when they are processes of their own, and anything else in the
tree (flow runs), from /proc every `--every` seconds for `--minutes`: CPU % of one core over
the window and the mean RSS of each, and the mean PSS of them all (shared pages counted once).
Everything it created is removed on exit.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from harness import (
    REPO_ROOT,
    Harness,
    cpu_seconds,
    descendants,
    free_port,
    ratio,
    rss_bytes,
)

from watchdocker.deployments.prefect_env import (
    CREDENTIAL_FILE,
    api_is_healthy,
    auth_headers,
    stop_process,
)
from watchdocker.deployments.server_services import PREFECT_DEFAULTS_SWITCH

READY_TIMEOUT = 180.0
ROLES = ("serve", "guard", "prefect server", "flow runs")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="sampling window per phase")
    parser.add_argument("--every", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--settle", type=float, default=20.0, help="seconds after ready")
    return parser.parse_args(argv)


# --- /proc ---------------------------------------------------------------------------------


def role(pid: int, serve: int) -> str:
    if pid == serve:
        return "serve"
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "flow runs"
    if "watchdocker.deployments.server_guard" in command:
        return "guard"
    if "prefect server" in command or "watchdocker.deployments.embedded_server" in command:
        return "prefect server"
    return "flow runs"


# --- one phase -----------------------------------------------------------------------------


@dataclass
class Figures:
    first_answer: float = 0.0  # seconds from start to the API's first answer
    deployments: float = 0.0  # ... to the deployments registered
    seconds: float = 0.0  # sampling window
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds per role in the window
    rss: dict[str, list[int]] = field(default_factory=dict)  # samples per role
    pss: dict[str, list[int]] = field(default_factory=dict)  # samples per role

    def percent(self, name: str) -> float:
        return 100 * self.cpu.get(name, 0.0) / self.seconds if self.seconds else 0.0

    def mean_rss(self, name: str) -> float:
        return _mean(self.rss.get(name, []))

    def mean_pss(self, name: str) -> float:
        return _mean(self.pss.get(name, []))


def _mean(samples: list[int]) -> float:
    return sum(samples) / len(samples) if samples else 0.0


def pss_bytes(pid: int) -> int:
    """The process's proportional set size: its pages, each shared one divided among the
    processes that map it (the Python binary and libraries of serve and its server count once
    between them, where RSS counts them in each)."""
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    for line in rollup.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


def _deployments(api: str, credential: str) -> int:
    try:
        answer = httpx.post(
            f"{api}/deployments/filter", json={}, headers=auth_headers(credential), timeout=5
        )
    except httpx.HTTPError:
        return 0
    return len(answer.json()) if answer.status_code == 200 else 0


def _wait_ready(process: subprocess.Popen, api: str, home: Path, figures: Figures) -> None:
    started = time.monotonic()
    deadline = started + READY_TIMEOUT
    while not figures.deployments:
        if process.poll() is not None:
            raise SystemExit(f"serve exited with code {process.returncode} before it was ready")
        if time.monotonic() > deadline:
            raise SystemExit(f"serve was not ready within {READY_TIMEOUT:g}s")
        if not figures.first_answer and api_is_healthy(api, timeout=1):
            figures.first_answer = time.monotonic() - started
        credential = home / CREDENTIAL_FILE
        answering = figures.first_answer and credential.exists()
        if answering and _deployments(api, credential.read_text().strip()) >= 2:
            figures.deployments = time.monotonic() - started
        time.sleep(0.2)


def _sample(serve: int, figures: Figures, cpu: dict[int, tuple[str, float]]) -> None:
    """RSS per role now; the latest CPU time of every process of the tree into `cpu`."""
    rss: dict[str, int] = {}
    pss: dict[str, int] = {}
    for pid in descendants(serve):
        name = role(pid, serve)
        rss[name] = rss.get(name, 0) + rss_bytes(pid)
        pss[name] = pss.get(name, 0) + pss_bytes(pid)
        if (seconds := cpu_seconds(pid)) is not None:
            cpu[pid] = (name, seconds)
    for samples, now in ((figures.rss, rss), (figures.pss, pss)):
        for name, value in now.items():
            samples.setdefault(name, []).append(value)


def measure_phase(bench: Harness, label: str, environment: dict[str, str]) -> Figures:
    args = bench.args
    folder = bench.tmp / label
    folder.mkdir()
    # The default schedules; a scan that the schedule starts finds none of the host's containers
    # (the bench starts none with its label).
    config = bench.write_config(label, stateDir=str(folder / "state"))
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"PREFECT_API_URL", "PREFECT_HOME"}},
        **environment,
        "WATCH_PREFECT_ADDR": f"127.0.0.1:{port}",
        "WATCH_SERVER_ADDR": f"127.0.0.1:{free_port()}",
        "WATCH_STATE_DIR": str(folder / "state"),
    }
    print(f"... {label}: starting serve on port {port}", file=sys.stderr, flush=True)
    figures = Figures()
    with (folder / "serve.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "watchdocker.cli.app", "serve", "--config", config],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
        )
    try:
        _wait_ready(process, api, folder / "state" / "prefect", figures)
        time.sleep(args.settle)
        print(f"... {label}: sampling {args.minutes:g} min", file=sys.stderr, flush=True)
        first: dict[int, tuple[str, float]] = {}
        _sample(process.pid, figures, first)
        latest = dict(first)
        started = time.monotonic()
        end = started + args.minutes * 60
        while (now := time.monotonic()) < end:
            time.sleep(min(args.every, end - now))
            _sample(process.pid, figures, latest)
        figures.seconds = time.monotonic() - started
        for pid, (name, seconds) in latest.items():
            # A process that began in the window (a flow run) counts from zero.
            spent = seconds - (first[pid][1] if pid in first else 0.0)
            figures.cpu[name] = figures.cpu.get(name, 0.0) + spent
        return figures
    finally:
        stop_process(process, timeout=60)


class Bench(Harness):
    def whole_run(self) -> int:
        phases = {"before": {PREFECT_DEFAULTS_SWITCH: "true"}, "after": {}}
        report({label: measure_phase(self, label, env) for label, env in phases.items()})
        return 0


# --- report --------------------------------------------------------------------------------


def report(results: dict[str, Figures]) -> None:
    before, after = results["before"], results["after"]
    print(f"\nIdle serve over {after.seconds / 60:.1f} min (default schedules, nothing running)")
    print(f"{'':<28} {'before':>10} {'after':>10} {'after/before':>13}")
    rows: list[tuple[str, float, float, str]] = [
        ("API first answer (s)", before.first_answer, after.first_answer, "{:.1f}"),
        ("deployments served (s)", before.deployments, after.deployments, "{:.1f}"),
    ]
    for name in ROLES:
        rows.append(
            (f"CPU % of a core: {name}", before.percent(name), after.percent(name), "{:.2f}")
        )
    cpu_before, cpu_after = (sum(f.percent(n) for n in ROLES) for f in (before, after))
    rows.append(("CPU % of a core: all", cpu_before, cpu_after, "{:.2f}"))
    for name in ROLES:
        rows.append(
            (f"RSS MB: {name}", before.mean_rss(name) / 1e6, after.mean_rss(name) / 1e6, "{:.0f}")
        )
    rss_before, rss_after = (sum(f.mean_rss(n) for n in ROLES) / 1e6 for f in (before, after))
    rows.append(("RSS MB: all", rss_before, rss_after, "{:.0f}"))
    pss_before, pss_after = (sum(f.mean_pss(n) for n in ROLES) / 1e6 for f in (before, after))
    rows.append(("PSS MB: all", pss_before, pss_after, "{:.0f}"))
    for label, b, a, form in rows:
        print(f"{label:<28} {form.format(b):>10} {form.format(a):>10} {ratio(a, b):>13}")


def main(argv: Sequence[str] | None = None) -> int:
    return Bench.main(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
