"""Benchmark of the embedded Prefect server's database growth, scan after scan, with Prefect's
own retention (the baseline, measured in the same run) and with watch-docker's.

    .venv/bin/python bench/db_growth.py [--scans 100] [--containers 10] [--pause 1]

It brings the bed up, pushes one image, starts `--containers` containers on it, then runs two
phases, each in a process of its own with its own Prefect server (SQLite, fresh PREFECT_HOME)
started by `start_local_server`, as `watch-docker serve` starts it:

- baseline: Prefect's defaults (events kept 7 days, flow runs for ever);
- retention: watch-docker's settings (`server.eventRetention`, `server.runRetention`,
  watchdocker.deployments.server_retention) on a compressed clock: events kept `--event-retention`
  seconds and the vacuum every `--vacuum-every` seconds instead of a day and an hour, so that
  it can be seen within the run. (Prefect keeps a flow run at least an hour: run retention
  does not act within a bench.)

Each phase runs `--scans` scan flows and prints the database file's size (prefect.db with its
WAL) before and after, the growth of what its rows take and of what events take (SQLite's
dbstat), and the rows of the largest tables. From the baseline it projects the size
a 5-minute interval reaches with watch-docker's default retention. Everything it created is
removed on exit.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from types import ModuleType

from harness import REPO_ROOT, Harness, ratio, start_prefect

from watchdocker.config import Settings
from watchdocker.deployments.prefect_env import drain_prefect_workers, stop_process

SCANS_PER_DAY_AT_5_MINUTES = 24 * 12
EVENTS_FLUSH = 7  # seconds: the server's event persister writes every 5 s
TABLES = ("events", "event_resources", "flow_run", "task_run", "log", "artifact")
PREFECT_DEFAULTS = {  # what Prefect 3.8.8 does unless told otherwise
    "PREFECT_SERVER_EVENTS_RETENTION_PERIOD": "P7D",
    "PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED": "events",
    "PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD": str(90 * 86400),
}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scans", type=int, default=100)
    parser.add_argument("--containers", type=int, default=10)
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between scans")
    parser.add_argument("--event-retention", type=int, default=60, help="seconds (compressed)")
    parser.add_argument("--vacuum-every", type=int, default=20, help="seconds (compressed)")
    parser.add_argument("--phase", choices=("baseline", "retention"), help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--tmp", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def db_bytes(home: Path) -> int:
    return sum(p.stat().st_size for p in home.glob("prefect.db*") if p.is_file())


def rows(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as connection:
        return {t: connection.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


def bytes_by_table(db: Path, work: Path) -> dict[str, int]:
    """The bytes of the pages each table takes with its indexes (SQLite's dbstat), in a snapshot:
    what rows take, without the free pages and the WAL of the live file."""
    copy = work / "snapshot.db"
    sizes: dict[str, int] = {}
    with closing(sqlite3.connect(db)) as source, closing(sqlite3.connect(copy)) as target:
        source.backup(target)
        owner = dict(target.execute("SELECT name, tbl_name FROM sqlite_master"))
        for name, size in target.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
            table = owner.get(name, name)
            sizes[table] = sizes.get(table, 0) + size
    copy.unlink()
    return sizes


def events_share(sizes: dict[str, int]) -> int:
    return sizes.get("events", 0) + sizes.get("event_resources", 0)


class Phase:
    """One phase, in a process of its own: Prefect reads its settings once, on import."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = Path(args.tmp) / args.phase
        self.tmp.mkdir()

    def run(self) -> dict[str, object]:
        environment = dict(PREFECT_DEFAULTS)
        if self.args.phase == "retention":
            from watchdocker.deployments.server_retention import retention_environment

            environment = retention_environment(Settings())
            environment["PREFECT_SERVER_EVENTS_RETENTION_PERIOD"] = (
                f"PT{self.args.event_retention}S"
            )
            environment["PREFECT_SERVER_SERVICES_DB_VACUUM_LOOP_SECONDS"] = str(
                self.args.vacuum_every
            )
        os.environ.update(environment)
        server = start_prefect(self.tmp)
        home = self.tmp / "prefect"
        from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

        from watchdocker.flows.scan import scan

        try:
            with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
                report = scan(config_file=self.args.config)  # tables exist, imports done
                checked = sum(c.status != "skipped" for c in report.containers)
                if checked != self.args.containers:
                    raise SystemExit(f"the scan checked {checked} containers, not ours alone")
                drain_prefect_workers()
                time.sleep(EVENTS_FLUSH)
                db = home / "prefect.db"
                before = db_bytes(home), bytes_by_table(db, self.tmp)
                started = time.perf_counter()
                for number in range(1, self.args.scans + 1):
                    scan(config_file=self.args.config)
                    time.sleep(self.args.pause)
                    if number % 10 == 0:
                        print(f"... {self.args.phase}: {number} scans", file=sys.stderr)
                drain_prefect_workers()
                elapsed = time.perf_counter() - started
            time.sleep(self.args.vacuum_every + EVENTS_FLUSH)  # the last events are written
            after = db_bytes(home), bytes_by_table(db, self.tmp)
            return {"before": before, "after": after, "seconds": elapsed, "rows": rows(db)}
        finally:
            stop_process(server)


class Bench(Harness):
    def __init__(self, args: argparse.Namespace, run_id: str, tb: ModuleType) -> None:
        super().__init__(args, run_id, tb)
        self.ref = f"{self.tb.OPEN}/{self.prefix}/growth:latest"

    def containers(self) -> None:
        self.tb.build_image(self.ref, marker=self.prefix)
        self.push(self.ref)
        for index in range(self.args.containers):
            self.tb.run_container(self.ref, "sleep", "3600", name=f"{self.prefix}-g{index:03d}")

    def whole_run(self) -> int:
        self.bed_up()
        self.stage(f"build, push, start {self.args.containers} containers", self.containers)
        report(self.args, {name: self.phase(name) for name in ("baseline", "retention")})
        return 0

    def phase(self, name: str) -> dict[str, object]:
        # cacheTTL 0s: each scan asks the registry, as with the default 5m between scans.
        config = self.write_config("config", scan={"cacheTTL": "0s"})
        out = subprocess.run(
            [sys.executable, __file__, *self.passed_on(), "--phase", name,
             "--config", config, "--tmp", str(self.tmp)],
            check=True, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        return json.loads(out.stdout)

    def passed_on(self) -> list[str]:
        a = self.args
        return [
            f"--scans={a.scans}", f"--containers={a.containers}", f"--pause={a.pause}",
            f"--event-retention={a.event_retention}", f"--vacuum-every={a.vacuum_every}",
        ]  # fmt: skip


def report(args: argparse.Namespace, results: dict[str, dict]) -> None:
    """Sizes are (file, bytes by table): the live file with its free pages and WAL, and what
    its rows take."""
    print(f"\nDatabase over {args.scans} scans of {args.containers} containers (MB)")
    print(f"{'phase':<10} {'file before':>11} {'file after':>10} {'rows':>6} {'events':>7}  rows")
    growth: dict[str, tuple[float, float]] = {}  # per scan: events, the rest
    for name, r in results.items():
        (file0, tables0), (file1, tables1) = r["before"], r["after"]
        rows_growth = sum(tables1.values()) - sum(tables0.values())
        events = events_share(tables1) - events_share(tables0)
        growth[name] = (events / args.scans, (rows_growth - events) / args.scans)
        print(
            f"{name:<10} {file0 / 1e6:>11.1f} {file1 / 1e6:>10.1f} {rows_growth / 1e6:>+6.1f} "
            f"{events / 1e6:>+7.1f}  " + " ".join(f"{t}={n}" for t, n in r["rows"].items())
        )
    events_per_scan, rest_per_scan = growth["baseline"]
    kept_events, kept_rest = growth["retention"]
    rows_ratio = ratio(kept_events + kept_rest, events_per_scan + rest_per_scan)
    print(
        f"retention / baseline: rows growth {rows_ratio}, "
        f"events growth {ratio(kept_events, events_per_scan)}"
    )
    defaults = Settings().server
    event_days = defaults.event_retention / timedelta(days=1)
    run_days = defaults.run_retention / timedelta(days=1)
    per_day = SCANS_PER_DAY_AT_5_MINUTES
    steady = per_day * (events_per_scan * event_days + rest_per_scan * run_days)
    prefect_year = per_day * (events_per_scan * 7 + rest_per_scan * 365)
    print(
        f"\nper scan (baseline): events {events_per_scan / 1e6:.3f} MB, the rest "
        f"{rest_per_scan / 1e6:.3f} MB. A scan every 5 minutes with watch-docker's retention "
        f"(events {event_days:g} d, runs {run_days:g} d) levels off near {steady / 1e6:.0f} MB; "
        f"with Prefect's (events 7 d, runs for ever) it is {prefect_year / 1e6:.0f} MB after a "
        "year, and growing."
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.phase:
        sys.path.insert(0, str(REPO_ROOT / "bench"))
        print(json.dumps(Phase(args).run()))
        return 0
    return Bench.main(args)


if __name__ == "__main__":
    sys.exit(main())
