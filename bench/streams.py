"""Benchmark of the status stream of `watch-docker serve` (`/api/containers/ws`): many
subscribers sharing one Docker events subscription, against a bare reader of Docker's events
(docker-py's `events()` in a thread of this process), measured in the same run.

    .venv/bin/python bench/streams.py [--subscribers 100] [--cycles 20] [--rounds 2]

It brings the bed up, starts `watch-docker serve` (its own local Prefect server, fresh state
directory, the default schedules) and waits for its /readyz, starts one container of the
bed's base image (labelled, removed on exit), reads serve's RSS, connects `--subscribers`
WebSocket clients (asyncio + websockets in this process, the CLI's local credential as
`?token=`) and the bare reader, then stops and starts the container `--cycles` times. For each
`stop` and `start` event the latency runs from the engine's own timestamp of the event
(`timeNano`) to its arrival: at the bare reader, and at the last of the subscribers
(`stopped` / `started` messages, matched by order), and at the first of them (what one
client waits, before the fan-out). Figures: p50 and p99 of each, the ratio last / bare,
and serve's RSS before the subscribers, with them connected, and after they left; all of
it `--rounds` times over (a second round shows whether what the first left grows).
Every subscriber must get every event. Everything it created is removed on exit, Ctrl-C or
error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

import docker
import websockets
from api import Bench as ApiBench
from harness import at_least, ratio, rss_bytes

from watchdocker.engine.client import connect

BASE_IMAGE = "watchdocker-testbed/busybox:base"
KINDS = {"stop": "stopped", "start": "started"}  # Docker's action -> the stream's type


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


class BareReader:
    """docker-py's events() in a thread: when each of the container's stop/start arrived."""

    def __init__(self, container: str) -> None:
        self.client = connect()
        self.container = container
        self.arrivals: list[tuple[str, float, float]] = []  # (action, timeNano s, arrival s)
        self.events = self.client.api.events(
            decode=True, filters={"type": "container", "event": list(KINDS)}
        )
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for event in self.events:
            arrived = time.time()
            actor = event.get("Actor") or {}
            if (actor.get("Attributes") or {}).get("name") == self.container:
                self.arrivals.append((event["Action"], event["timeNano"] / 1e9, arrived))

    def close(self) -> None:
        self.events.close()
        self.thread.join(5)
        self.client.close()


class Bench(ApiBench):
    def __init__(self, args: argparse.Namespace, run_id: str, tb: Any) -> None:
        super().__init__(args, run_id, tb)
        self.container = f"{self.prefix}-status"
        self.rss: dict[str, int] = {}
        self.bare: Any = None  # ApiBench's cleanup stops a process named so: none here
        self.subscriber_latency: list[float] = []
        self.first_latency: list[float] = []  # the first subscriber to get it
        self.bare_latency: list[float] = []
        self.missing = 0

    def start_container(self) -> None:
        self.tb.run_container(BASE_IMAGE, *self.tb.STOPPABLE_SLEEP, name=self.container)

    def serve_rss(self) -> int:
        assert self.serve is not None
        return rss_bytes(self.serve.pid)

    async def subscribe(self, url: str, arrivals: list[tuple[str, float]]) -> Any:
        ws = await websockets.connect(url, max_size=None)
        first = json.loads(await ws.recv())
        assert first["type"] == "containers", first

        async def read() -> None:
            async for raw in ws:
                arrived = time.time()
                message = json.loads(raw)
                ours = message["data"].get("name") == self.container
                if ours and message["type"] in KINDS.values():
                    arrivals.append((message["type"], arrived))

        return ws, asyncio.ensure_future(read())

    async def measure(self, round_no: int) -> None:
        token = self.headers["Authorization"].removeprefix("Bearer ")
        url = self.api.replace("http://", "ws://") + f"/api/containers/ws?token={token}"
        per_subscriber: list[list[tuple[str, float]]] = [[] for _ in range(self.args.subscribers)]
        opened = await asyncio.gather(*(self.subscribe(url, a) for a in per_subscriber))
        bare = BareReader(self.container)
        engine = docker.from_env()
        try:
            for _ in range(self.args.cycles):
                for action in ("stop", "start"):
                    await asyncio.to_thread(
                        engine.api.stop if action == "stop" else engine.api.start, self.container
                    )
                    await asyncio.sleep(0.3)
            expected = 2 * self.args.cycles
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and (
                len(bare.arrivals) < expected or min(len(a) for a in per_subscriber) < expected
            ):
                await asyncio.sleep(0.2)
            self.rss[f"with subscribers, round {round_no}"] = self.serve_rss()
        finally:
            engine.close()
            bare.close()
            for ws, reader in opened:
                await ws.close()
                reader.cancel()
        for index, (action, at, arrived) in enumerate(bare.arrivals[:expected]):
            self.bare_latency.append(arrived - at)
            got = []
            for arrivals in per_subscriber:
                if index >= len(arrivals) or arrivals[index][0] != KINDS[action]:
                    self.missing += 1
                    continue
                got.append(arrivals[index][1])
            if got:
                self.first_latency.append(min(got) - at)
                self.subscriber_latency.append(max(got) - at)

    def whole_run(self) -> int:
        self.bed_up()
        self.stage("start watch-docker serve (until /readyz)", self.start_serve)
        self.stage("start the container", self.start_container)
        time.sleep(5)  # serve settles (its first requests, Prefect's start)
        self.rss["before"] = self.serve_rss()
        for round_no in range(1, self.args.rounds + 1):
            self.stage(
                f"round {round_no}: {self.args.subscribers} subscribers, events",
                lambda round_no=round_no: asyncio.run(self.measure(round_no)),
            )
            time.sleep(12)  # idle pooled threads of the handshakes end after 10 s
            self.rss[f"after round {round_no}"] = self.serve_rss()
        self.report()
        return 1 if self.missing else 0

    def report(self) -> None:
        self.print_heading("GET /api/containers/ws (status stream)")
        events = len(self.bare_latency)
        print()
        print(
            f"{self.args.subscribers} subscribers, {events} events (stop/start of a container,"
            f" {self.args.rounds} rounds)"
        )
        print(f"{'':<34} {'p50 ms':>8} {'p99 ms':>8}")
        rows = [
            ("bare docker events reader", self.bare_latency),
            ("first of the subscribers", self.first_latency),
            ("last of the subscribers", self.subscriber_latency),
        ]
        for label, values in rows:
            if values:
                p50, p99 = percentile(values, 50) * 1000, percentile(values, 99) * 1000
                print(f"{label:<34} {p50:8.1f} {p99:8.1f}")
        if self.bare_latency and self.subscriber_latency:
            ratios = [
                ratio(percentile(self.subscriber_latency, p), percentile(self.bare_latency, p))
                for p in (50, 99)
            ]
            print(f"{'ratio subscribers / bare':<34} {ratios[0]:>8} {ratios[1]:>8}")
        print()
        for label, value in self.rss.items():
            print(f"serve RSS {label:<30} {value / 2**20:8.1f} MB")
        if self.missing:
            print(f"\n{self.missing} events missing at some subscriber")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--subscribers", type=at_least(1), default=100)
    parser.add_argument("--cycles", type=at_least(1), default=20, help="stop/start cycles")
    parser.add_argument(
        "--rounds", type=at_least(1), default=2, help="subscribers come and go this many times"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    return Bench.main(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
