"""Benchmark of the `update` flow: the downtime of a container serving HTTP while it is replaced,
against doing the same by hand (`docker pull` + `docker stop` + `docker rm` + `docker run`).

    .venv/bin/python bench/update.py [--rounds 5] [--warmup 1] [--stable-seconds 2]
                                     [--health-timeout 30] [--pause 3]

It brings the bed up (testbed/up.sh), starts its own Prefect server (SQLite, fresh
PREFECT_HOME), and pushes two versions of two images to the open registry under
`bench-<runid>/`, both FROM the bed's busybox, serving `/www/index.html` (the version;
copied from the image's /marker at start, as the testbed's build_image has no RUN) with
busybox httpd on port 8080, behind a SIGTERM trap so that a stop takes milliseconds:

- variant A, `web:latest`: no HEALTHCHECK; the flow waits `update.stableSeconds`;
- variant B, `web-hc:latest`: HEALTHCHECK `wget -q -O- http://127.0.0.1:8080/` every 1 s; the
  flow waits for `healthy`.

Each round, per variant, a v1 container published on a free 127.0.0.1 port is updated to v2
(a) by the `update` flow, in this process, and (b) by hand with the docker CLI and the same
`docker run` options; the v1 container is recreated before each, and which method goes
first alternates. A prober thread GETs the port every 10 ms (each on a new connection, on a
pool thread, 250 ms timeout) and records what answered. Downtime = the span of failed probes
between the last v1 answer and the first v2 answer. The swap = last v1 answer -> the new
container's start event: what the method itself controls. After the start event the engine's
network sometimes drops the first connections for ~0.6 s (a "network stall", counted apart):
it hits both methods at random and makes the downtime medians of a few rounds noisy.

Where the time goes comes from two clocks: the flow's own steps (the package's engine calls,
journal writes and health wait, wrapped here with timestamps; the package is not changed)
and the engine's events for the containers (`docker events`: kill, die, stop, rename,
create, start, health_status, destroy), which both methods share.

Everything it created (containers, images, registry manifests, the Prefect server, temp
dirs) is removed on exit, Ctrl-C or error.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import itertools
import json
import logging
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Literal

import httpx

# Nothing here imports Prefect: it reads its settings on import, and they are set in main().
from harness import (
    TICKS,
    Harness,
    PrefectWait,
    PrefectWaits,
    Span,
    Timeline,
    add_pause_option,
    at_least,
    free_port,
    median_or_none,
    ms,
    ratio,
    tree_cpu_seconds,
)

HTTP_PORT = 8080
PROBE_PERIOD = 0.010
# Short, so that one hung connection cannot blind the prober for long; a refused or reset
# connection (nothing listening, or docker-proxy without a backend) fails in about 1 ms.
PROBE_TIMEOUT = 0.25
SERVE_TIMEOUT = 20.0  # how long a freshly started container may take to answer
# After `docker run`/the flow: keep probing a little, to see that v2 stays up.
TAIL = 0.3
BEFORE = 0.3  # probing before the update starts: v1 must be seen answering
# PID 1 gets no default SIGTERM handler and busybox httpd installs none: without the trap,
# every `docker stop` waits its full 10 s timeout (checked on this engine: 10.18 s vs 0.15 s).
# `& wait`: sh runs a trap only between commands, and `wait` is interrupted by it.
SERVE = (
    "mkdir -p /www; cp /marker /www/index.html; "
    "trap 'exit 0' TERM; httpd -f -p {port} -h /www & wait"
)
HEALTHCHECK = ["wget", "-q", "-O-", f"http://127.0.0.1:{HTTP_PORT}/"]

Method = Literal["watch-docker", "by hand"]
METHODS: tuple[Method, Method] = ("watch-docker", "by hand")


# --- the machine's CPU -----------------------------------------------------------------------


@dataclass(frozen=True)
class Cpu:
    """CPU counters at one moment: the machine's (all CPUs), and the Prefect server's."""

    busy: float  # seconds of CPU time not idle, summed over the CPUs
    total: float
    server: float  # the server process and its descendants (uvicorn may be a child)


def cpu_now(server_pid: int | None) -> Cpu:
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # guest time is already in user/nice
    server = tree_cpu_seconds(server_pid) if server_pid is not None else 0.0
    return Cpu((total - idle) / TICKS, total / TICKS, server)


# --- probing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    start: float
    end: float
    version: str | None  # None: failed
    error: str | None = None


class Prober:
    """GETs the URL every PROBE_PERIOD on a new connection (keep-alive off: a kept connection
    to docker-proxy would not show when the backend changes) and records every answer.

    Each probe runs on its own pool thread: a probe left hanging (docker-proxy accepts the
    connection of a container whose network is not up yet, and its SYN waits for a
    retransmit) must not delay the next ones, or the downtime would be seen in steps of
    PROBE_TIMEOUT instead of PROBE_PERIOD."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.probes: list[Probe] = []  # in the order they ended; sorted by start when read
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="prober", daemon=True)

    def __enter__(self) -> Prober:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        limits = httpx.Limits(max_keepalive_connections=0, max_connections=None)
        # Enough threads for every probe that can be in flight at once, and some more.
        workers = 2 * round(PROBE_TIMEOUT / PROBE_PERIOD) + 4
        with (
            httpx.Client(timeout=PROBE_TIMEOUT, limits=limits) as client,
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="probe") as pool,
        ):
            next_at = time.monotonic()
            while not self._stop.is_set():
                pool.submit(self._one, client)
                next_at += PROBE_PERIOD
                delay = next_at - time.monotonic()
                if delay > 0:
                    self._stop.wait(delay)
                else:
                    next_at = time.monotonic()  # late (starved of CPU): no burst to catch up

    def _one(self, client: httpx.Client) -> None:
        answer = probe(client, self.url)
        with self._lock:
            self.probes.append(answer)

    def seen(self, version: str) -> bool:
        with self._lock:
            return any(p.version == version for p in self.probes[-5:])

    def taken(self) -> list[Probe]:
        with self._lock:
            return sorted(self.probes, key=lambda p: p.start)


def probe(client: httpx.Client, url: str) -> Probe:
    start = time.time()
    try:
        answer = client.get(url, headers={"Connection": "close"})
    except httpx.HTTPError as exc:
        return Probe(start, time.time(), None, type(exc).__name__)
    words = answer.text.split()
    if answer.status_code != 200 or not words:
        return Probe(start, time.time(), None, f"HTTP {answer.status_code}")
    return Probe(start, time.time(), words[0])


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.01)


@dataclass
class Outage:
    downtime: float  # the failed span between the last old answer and the first new one
    failed_total: float  # every failed span in the probing window
    longest_failed: float
    failed_probes: int
    timeouts: int
    last_old: float  # end of the last old answer
    first_new: float  # start of the first new answer
    max_gap: float  # the largest spacing between probe starts around the swap
    flapped: bool  # an old answer after a new one, or a new one before the outage


def outage(probes: Sequence[Probe], old: str, new: str) -> Outage:
    """Failed spans are measured from the first failed probe's start to the next good probe's
    start: sampling every 10 ms, each is right to about one probe period."""
    last_old = max((i for i, p in enumerate(probes) if p.version == old), default=None)
    if last_old is None:
        raise RuntimeError(f"the prober never saw {old} answer")
    first_new = next(
        (i for i in range(last_old + 1, len(probes)) if probes[i].version == new), None
    )
    if first_new is None:
        raise RuntimeError(f"the prober never saw {new} answer after {old}")
    spans: list[float] = []
    run_start: float | None = None
    for p in probes:
        if p.version is None:
            if run_start is None:
                run_start = p.start
        elif run_start is not None:
            spans.append(p.start - run_start)
            run_start = None
    if run_start is not None:
        spans.append(probes[-1].end - run_start)
    downtime = probes[first_new].start - probes[last_old + 1].start
    # The resolution the swap was really seen with: the prober shares the GIL with the flow.
    starts = [p.start for p in probes[max(last_old - 1, 0) : first_new + 2]]
    first_new_any = next(i for i, p in enumerate(probes) if p.version == new)
    return Outage(
        downtime=max(downtime, 0.0),
        failed_total=sum(spans),
        longest_failed=max(spans, default=0.0),
        failed_probes=sum(p.version is None for p in probes),
        timeouts=sum(p.error == "ReadTimeout" or p.error == "ConnectTimeout" for p in probes),
        last_old=probes[last_old].end,
        first_new=probes[first_new].start,
        max_gap=max((b - a for a, b in itertools.pairwise(starts)), default=0.0),
        flapped=first_new_any < last_old,
    )


# --- engine events ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    time: float
    action: str
    container: str  # id
    attributes: dict[str, str]


def engine_events(tb: ModuleType, label: str, since: float, until: float) -> list[Event]:
    """Container events of the bench's containers (by label: a renamed container keeps it,
    not its name). Health-check execs are left out: one per second, and not steps."""
    out = tb.docker_cli(
        "events",
        "--since", f"{since:.6f}",
        "--until", f"{until:.6f}",
        "--filter", "type=container",
        "--filter", f"label={label}",
        "--format", "{{json .}}",
    )  # fmt: skip
    events = []
    for line in out.splitlines():
        raw = json.loads(line)
        action = str(raw.get("Action") or raw.get("status") or "")
        if action.startswith("exec_"):
            continue
        actor = raw.get("Actor") or {}
        events.append(
            Event(
                time=int(raw["timeNano"]) / 1e9,
                action=action,
                container=str(actor.get("ID") or raw.get("id") or ""),
                attributes={str(k): str(v) for k, v in (actor.get("Attributes") or {}).items()},
            )
        )
    return sorted(events, key=lambda e: e.time)


def first_event(events: Sequence[Event], action: str, container: str) -> Event | None:
    return next((e for e in events if e.container == container and e.action == action), None)


# --- what one update gave --------------------------------------------------------------------


# Phases between the engine's events, common to both methods: the outage is their sum, from
# "stop issued" (minus the moments the old container still answers) to the first v2 answer.
PHASES: list[tuple[str, str, str]] = [
    ("stop issued -> kill (SIGTERM sent)", "issued", "kill"),
    ("kill -> die (old process gone)", "kill", "die"),
    ("die -> stop event (engine done)", "die", "stop"),
    ("stop event -> create event", "stop", "create"),
    ("create -> start event", "create", "start"),
    ("start event -> first v2 answer", "start", "first_new"),
    ("last v1 answer -> start event (the swap itself)", "last_old", "start"),
    ("last v1 answer -> first v2 answer (downtime)", "last_old", "first_new"),
]
# A new container started, but its network does not pass packets yet: connections hang
# (SYN unanswered, not refused). Seen here about one swap in three whatever the method, also
# on the container's own IP without docker-proxy; more than this after the start event is
# counted as such a stall.
STALL = 0.2


@dataclass
class Measurement:
    variant: str
    method: Method
    round_no: int
    outage: Outage
    wall: float  # the flow run, or the four CLI commands
    stop_issued: float  # t = 0 of the breakdown: the stop call / `docker stop` starts
    steps: list[Span]
    events: list[Event]
    marks: dict[str, float]  # issued, kill, die, stop, create, start, healthy, first_new...
    health_wait: float | None = None  # the updater's wait_healthy, watch-docker only
    started_to_end: float | None = None  # new container's start event -> flow end
    waits: list[PrefectWait] = field(default_factory=list)
    # Over the swap (stop issued -> start returned): the share of all CPUs busy, and the
    # CPU seconds the Prefect server used. The engine competes for the same CPUs.
    cpu_busy: float | None = None
    server_cpu: float | None = None

    def phase(self, begin: str, end: str) -> float | None:
        if begin in self.marks and end in self.marks:
            return self.marks[end] - self.marks[begin]
        return None


@dataclass(frozen=True)
class Variant:
    key: str
    title: str
    repo: str
    healthcheck: list[str] | None


@dataclass
class Deployed:
    """One variant's images and the container that is updated."""

    variant: Variant
    ref: str
    v1_id: str
    v2_id: str
    port: int
    name: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


# --- the bench -------------------------------------------------------------------------------


class Bench(Harness):
    def __init__(self, args: argparse.Namespace, run_id: str, tb: ModuleType) -> None:
        super().__init__(args, run_id, tb)
        self.variants = [
            Variant("A", "no HEALTHCHECK", f"{tb.OPEN}/{self.prefix}/web", None),
            Variant(
                "B", "HEALTHCHECK wget every 1s", f"{tb.OPEN}/{self.prefix}/web-hc", HEALTHCHECK
            ),
        ]
        self.deployed: dict[str, Deployed] = {}
        self.results: list[Measurement] = []
        self.timeline = Timeline()
        self.waits = PrefectWaits()
        self.config_file = ""
        self.update_flow: Callable[..., Any] | None = None
        self.problems: list[str] = []
        # CPU counters when the swap begins (stop issued) and ends (start returned).
        self.cpu_marks: dict[str, Cpu] = {}

    def cpu_mark(self, name: str) -> None:
        pid = self.server.pid if self.server is not None else None
        self.cpu_marks.setdefault(name, cpu_now(pid))

    # -- setup ------------------------------------------------------------------------------

    def instrument(self) -> None:
        """Imports the flow (so Prefect) and timestamps the updater's steps from outside.

        Each wrapped name is the one the caller looks up at call time: the engine client's
        methods on its class, and module globals of the modules that call them."""
        # import_module, not `import a.b as m`: a package may rebind a submodule's name.
        flows = importlib.import_module("watchdocker.flows.update")
        tasks = importlib.import_module("watchdocker.tasks.update")
        updater = importlib.import_module("watchdocker.update.updater")
        journal = importlib.import_module("watchdocker.update.journal")
        import docker

        self.update_flow = flows.update
        tl = self.timeline
        # setattr: type checkers refuse these assignments, rightly so outside a bench.
        setattr(tasks, "pull_by_digest", tl.wrap("pull", tasks.pull_by_digest))  # noqa: B010
        for method, label in [
            ("rename", "rename"),
            ("create_container_from_config", "create"),
            ("remove_container", "remove old"),
        ]:
            setattr(docker.APIClient, method, tl.wrap(label, getattr(docker.APIClient, method)))
        # The counters are read outside the timed spans: the swap's own figures stay clean.
        stop, start = (
            tl.wrap("stop", docker.APIClient.stop),
            tl.wrap("start", docker.APIClient.start),
        )

        def marked_stop(*args: Any, **kwargs: Any) -> Any:
            self.cpu_mark("swap begins")
            return stop(*args, **kwargs)

        def marked_start(*args: Any, **kwargs: Any) -> Any:
            try:
                return start(*args, **kwargs)
            finally:
                self.cpu_mark("swap ends")

        setattr(docker.APIClient, "stop", marked_stop)  # noqa: B010
        setattr(docker.APIClient, "start", marked_start)  # noqa: B010
        setattr(updater, "wait_healthy", tl.wrap("health wait", updater.wait_healthy))  # noqa: B010
        replace = tl.wrap("replace (whole)", updater.Updater.replace)
        setattr(updater.Updater, "replace", replace)  # noqa: B010

        acquire = tasks.concurrency

        @contextlib.contextmanager
        def timed_slot(*args: Any, **kwargs: Any) -> Iterator[Any]:
            # Only the acquisition: the body is the replacement, timed step by step.
            start = time.time()
            with acquire(*args, **kwargs) as slot:
                tl.add("update slot acquired", start, time.time())
                yield slot

        setattr(tasks, "concurrency", timed_slot)  # noqa: B010

        begin, advance = journal.Journal.begin, journal.Journal.advance

        def timed_begin(this: Any, entry: Any) -> Any:
            with tl.span("journal begun"):
                return begin(this, entry)

        def timed_advance(this: Any, entry: Any, step: str, **changes: object) -> Any:
            with tl.span(f"journal {step}"):
                return advance(this, entry, step, **changes)

        setattr(journal.Journal, "begin", timed_begin)  # noqa: B010
        setattr(journal.Journal, "advance", timed_advance)  # noqa: B010

        self.waits.listen()
        # The slot service logs its waits on Prefect's internal concurrency logger, which
        # at DEBUG would log every call it runs: give the service a quiet logger of its own.
        services = importlib.import_module("prefect.concurrency.services")
        slot_log = logging.getLogger("watchdocker.bench.slots")
        slot_log.setLevel(logging.DEBUG)
        slot_log.propagate = False
        slot_log.addHandler(self.waits)
        setattr(services, "logger", slot_log)  # noqa: B010

    def update_config(self) -> None:
        self.config_file = self.write_config(
            "config",
            scan={"cacheTTL": "0s"},
            update={
                "stableSeconds": f"{self.args.stable_seconds:g}s",
                "healthTimeout": f"{self.args.health_timeout:g}s",
            },
        )

    def publish_images(self) -> None:
        """v1 then v2 pushed (the registry moves on to v2), v1 tagged back locally: the engine
        has v2 already, so both methods' pulls find it present."""
        tb = self.tb
        for variant in self.variants:
            ref = f"{variant.repo}:latest"
            deployed = Deployed(variant, ref, "", "", free_port(), f"{self.prefix}-{variant.key}")
            self.deployed[variant.key] = deployed
            ids = []
            for version in ("v1", "v2"):
                ids.append(
                    tb.build_image(
                        ref,
                        marker=f"{version} {self.prefix} {variant.key}",
                        cmd=["/bin/sh", "-c", SERVE.format(port=HTTP_PORT)],
                        healthcheck=variant.healthcheck,
                        expose=[f"{HTTP_PORT}/tcp"],
                    )
                )
                self.push(ref)
            deployed.v1_id, deployed.v2_id = ids

    # -- one update -------------------------------------------------------------------------

    def run_args(self, d: Deployed) -> dict[str, Any]:
        """The one `docker run` both the first v1 container and the by-hand v2 one get."""
        return {
            "name": d.name,
            "labels": {"watchdocker.bench.variant": d.variant.key},
            "extra": ["-p", f"127.0.0.1:{d.port}:{HTTP_PORT}"],
        }

    def reset(self, d: Deployed) -> str:
        """A fresh v1 container, answering: returns its id."""
        tb = self.tb
        # Also whatever an update left aside (renamed old one after a failed rollback).
        flt = f"label=watchdocker.bench.variant={d.variant.key}"
        leftovers = tb.docker_cli("ps", "-aq", "--filter", f"label={self.label}", "--filter", flt)
        if leftovers.split():
            tb.docker_cli("rm", "-f", *leftovers.split())
        tb.docker_cli("tag", d.v1_id, d.ref)
        container = str(tb.run_container(d.ref, **self.run_args(d))).strip()
        with httpx.Client(timeout=PROBE_TIMEOUT) as client:
            wait_until(
                lambda: probe(client, d.url).version == "v1", SERVE_TIMEOUT, f"{d.name} serving v1"
            )
        return container

    def inspect(self, ref: str) -> dict[str, Any]:
        return dict(json.loads(self.tb.docker_cli("inspect", ref))[0])

    def by_hand(self, d: Deployed) -> None:
        tb, tl = self.tb, self.timeline
        with tl.span("docker pull"):
            tb.docker_cli("pull", "-q", d.ref)
        self.cpu_mark("swap begins")
        with tl.span("docker stop"):
            tb.docker_cli("stop", d.name)
        with tl.span("docker rm"):
            tb.docker_cli("rm", d.name)
        with tl.span("docker run"):
            tb.run_container(d.ref, **self.run_args(d))
        self.cpu_mark("swap ends")

    def measure(self, d: Deployed, method: Method, round_no: int) -> Measurement:
        old_id = self.reset(d)
        if method == "watch-docker":
            # Right after a run the local server's SQLite is still writing its events; a new
            # run then meets 503s and retries (counted, see PrefectWaits).
            time.sleep(self.args.pause)
        self.timeline.take()
        self.waits.take()
        self.cpu_marks.clear()
        since = time.time()
        with Prober(d.url) as prober:
            wait_until(lambda: prober.seen("v1"), SERVE_TIMEOUT, "the prober to see v1")
            time.sleep(BEFORE)
            started = time.time()
            if method == "watch-docker":
                assert self.update_flow is not None
                report = self.update_flow(containers=[d.name], config_file=self.config_file)
                got = {r.name: r for r in report.results}.get(d.name)
                if got is None or got.result != "updated":
                    raise RuntimeError(f"the flow did not update {d.name}: {got}")
            else:
                self.by_hand(d)
            ended = time.time()
            wait_until(lambda: prober.seen("v2"), SERVE_TIMEOUT, "the prober to see v2")
            time.sleep(TAIL)
        waits = self.waits.take()
        steps = self.timeline.take()
        new = self.inspect(d.name)
        if new["Image"] != d.v2_id or not new["State"]["Running"]:
            raise RuntimeError(f"{d.name} is not running v2 after the update ({method})")
        if d.variant.healthcheck:
            # By hand nothing waits for it: wait here, so that both runs' events include it.
            wait_until(
                lambda: (
                    (self.inspect(d.name)["State"].get("Health") or {}).get("Status") == "healthy"
                ),
                self.args.health_timeout,
                f"{d.name} to be healthy",
            )
        # The engine may log an event a moment after the call that caused it returned.
        time.sleep(0.2)
        events = engine_events(self.tb, self.label, since, time.time())
        events = [
            e for e in events if e.attributes.get("watchdocker.bench.variant") == d.variant.key
        ]
        steps.insert(0, Span("flow run" if method == "watch-docker" else "by hand", started, ended))

        found = outage(prober.taken(), "v1", "v2")
        stop_label = "stop" if method == "watch-docker" else "docker stop"
        issued = next(s.start for s in steps if s.label == stop_label)
        marks = {"issued": issued, "last_old": found.last_old, "first_new": found.first_new}
        for name, action, container in [
            ("kill", "kill", old_id),
            ("die", "die", old_id),
            ("stop", "stop", old_id),
            ("create", "create", new["Id"]),
            ("start", "start", new["Id"]),
            ("healthy", "health_status: healthy", new["Id"]),
        ]:
            event = first_event(events, action, container)
            if event is not None:
                marks[name] = event.time
        health = [s.duration for s in steps if s.label == "health wait"]
        begins, ends = self.cpu_marks.get("swap begins"), self.cpu_marks.get("swap ends")
        busy = server = None
        if begins is not None and ends is not None and ends.total > begins.total:
            busy = (ends.busy - begins.busy) / (ends.total - begins.total)
            server = ends.server - begins.server
        result = Measurement(
            variant=d.variant.key,
            method=method,
            round_no=round_no,
            outage=found,
            wall=ended - started,
            stop_issued=issued,
            steps=steps,
            events=events,
            marks=marks,
            health_wait=health[0] if health else None,
            started_to_end=ended - marks["start"] if "start" in marks else None,
            waits=waits,
            cpu_busy=busy,
            server_cpu=server,
        )
        self.flag(result, old_id)
        return result

    def flag(self, m: Measurement, old_id: str) -> None:
        """What should not happen, with its evidence, for the report."""
        where = f"{m.method}, variant {m.variant}, round {m.round_no}"
        kills = [e for e in m.events if e.container == old_id and e.action == "kill"]
        if len(kills) > 1:
            signals = ", ".join(e.attributes.get("signal", "?") for e in kills)
            self.problems.append(f"{where}: old container killed {len(kills)} times ({signals})")
        stops = [s for s in m.steps if s.label in ("stop", "docker stop")]
        if stops and stops[0].duration > 5.0:
            self.problems.append(f"{where}: the stop took {stops[0].duration:.1f} s")
        kill_to_die = m.phase("kill", "die")
        if kill_to_die is not None and kill_to_die > 1.0:
            self.problems.append(f"{where}: kill -> die took {kill_to_die:.2f} s")
        if m.outage.flapped:
            self.problems.append(f"{where}: v1 and v2 answered alternately")
        if m.outage.max_gap > 0.1:
            self.problems.append(
                f"{where}: a {m.outage.max_gap * 1000:.0f} ms gap between probes "
                "(the downtime is only that precise)"
            )
        if m.outage.longest_failed > m.outage.downtime + 0.05:
            self.problems.append(
                f"{where}: a failed span of {ms(m.outage.longest_failed)} ms outside the swap"
            )

    def whole_run(self) -> int:
        """Set-up, the rounds and the report."""
        self.prefect_up(self.instrument)
        self.update_config()
        self.stage("build + push v1 and v2 of 2 images", self.publish_images)
        self.rounds()
        self.report()
        return 0

    def rounds(self) -> None:
        total = self.args.warmup + self.args.rounds
        for round_no in range(1 - self.args.warmup, self.args.rounds + 1):
            tag = "warm-up" if round_no < 1 else f"round {round_no}/{self.args.rounds}"
            print(f"... {tag} ({total} in all)", file=sys.stderr, flush=True)
            # Alternate which method goes first, so neither always follows the other.
            order = METHODS if round_no % 2 else METHODS[::-1]
            for variant in self.variants:
                for method in order:
                    m = self.measure(self.deployed[variant.key], method, round_no)
                    print(
                        f"    {variant.key} {method:<12} downtime {ms(m.outage.downtime):>5} ms"
                        f"  wall {m.wall:6.2f} s",
                        file=sys.stderr,
                        flush=True,
                    )
                    if round_no >= 1:
                        self.results.append(m)

    # -- report -----------------------------------------------------------------------------

    def report(self) -> None:
        args = self.args
        self.print_heading(
            f"watchdocker update bench: {args.rounds} round(s) (+{args.warmup} warm-up), "
            f"update.stableSeconds {args.stable_seconds:g}s, healthTimeout "
            f"{args.health_timeout:g}s, probe every {PROBE_PERIOD * 1000:.0f} ms "
            f"(timeout {PROBE_TIMEOUT * 1000:.0f} ms)"
        )
        for variant in self.variants:
            self.report_variant(variant)
        print()
        if self.problems:
            print("flagged")
            for problem in self.problems:
                print(f"  {problem}")
        else:
            print("flagged: nothing (no repeated kill, no flapping, probe gaps <= 100 ms)")

    def of(self, variant: str, method: Method) -> list[Measurement]:
        return [m for m in self.results if m.variant == variant and m.method == method]

    def report_variant(self, variant: Variant) -> None:
        wd, hand = self.of(variant.key, "watch-docker"), self.of(variant.key, "by hand")
        print()
        wait = (
            f"flow waits for healthy (healthTimeout {self.args.health_timeout:g}s)"
            if variant.healthcheck
            else f"flow waits update.stableSeconds {self.args.stable_seconds:g}s"
        )
        print(f"variant {variant.key}: {variant.title}; {wait}")
        header = f"  {'ms':<52} {'median':>7} {'min':>7} {'max':>7}"
        print(header)
        print("  " + "-" * (len(header) - 2))

        def row(label: str, values: Sequence[float | None]) -> None:
            got = [v for v in values if v is not None]
            if not got:
                print(f"  {label:<52} {'-':>7}")
                return
            med, low, high = statistics.median(got), min(got), max(got)
            print(f"  {label:<52} {ms(med):>7} {ms(low):>7} {ms(high):>7}")

        row("downtime, watch-docker", [m.outage.downtime for m in wd])
        row("downtime, by hand", [m.outage.downtime for m in hand])
        wd_med = statistics.median(m.outage.downtime for m in wd)
        hand_med = statistics.median(m.outage.downtime for m in hand)
        print(f"  {'ratio watch-docker / by hand (medians)':<52} {ratio(wd_med, hand_med):>7}")
        row("failed-probe time, whole window, watch-docker", [m.outage.failed_total for m in wd])
        row("failed-probe time, whole window, by hand", [m.outage.failed_total for m in hand])
        # What the method controls: from the old one's last answer to the new one started.
        swap_wd = [m.phase("last_old", "start") for m in wd]
        swap_hand = [m.phase("last_old", "start") for m in hand]
        row("swap (last v1 answer -> start event), watch-docker", swap_wd)
        row("swap (last v1 answer -> start event), by hand", swap_hand)
        swaps = ratio(median_or_none(swap_wd), median_or_none(swap_hand))
        print(f"  {'ratio of the swaps (medians)':<52} {swaps:>7}")
        # The engine's create/start need CPU: on a small or shared machine, what else runs
        # during the swap (the flow, its server, other sessions) stretches it.
        for method, runs in (("watch-docker", wd), ("by hand", hand)):
            busy = [100 * m.cpu_busy for m in runs if m.cpu_busy is not None]
            if busy:
                label = f"CPUs busy during the swap, %, {method}"
                low, high = min(busy), max(busy)
                print(f"  {label:<52} {statistics.median(busy):7.0f} {low:7.0f} {high:7.0f}")
        row("Prefect server CPU during the swap, watch-docker", [m.server_cpu for m in wd])
        row("Prefect server CPU during the swap, by hand", [m.server_cpu for m in hand])
        for method, runs in (("watch-docker", wd), ("by hand", hand)):
            stalls = [m for m in runs if (m.phase("start", "first_new") or 0.0) > STALL]
            label = f"network stalls after start (> {STALL * 1000:.0f} ms), {method}"
            # Timed-out probes, not refused ones: the connections hang (SYN unanswered).
            hung = " ".join(str(m.outage.timeouts) for m in runs)
            print(f"  {label:<52} {len(stalls):>3} of {len(runs)}   (timed-out probes: {hung})")
        for method, runs in (("watch-docker", wd), ("by hand", hand)):
            listed = " ".join(ms(m.outage.downtime) for m in runs)
            print(f"  {'downtime per round, ' + method:<52} {listed}")
        row("flow wall time", [m.wall for m in wd])
        row(
            "  before the stop call (scan, pull, slot, journal)",
            [m.stop_issued - _run_start(m) for m in wd],
        )
        row("  health wait (the updater's wait_healthy)", [m.health_wait for m in wd])
        row("  new container's start event -> flow end", [m.started_to_end for m in wd])
        row(
            "  flow wall minus health wait",
            [m.wall - m.health_wait if m.health_wait is not None else None for m in wd],
        )
        row("by hand wall time (pull + stop + rm + run)", [m.wall for m in hand])
        if variant.healthcheck:
            for method, ms_ in (("watch-docker", wd), ("by hand", hand)):
                row(
                    f"start event -> healthy event, {method}",
                    [m.phase("start", "healthy") for m in ms_],
                )
            # wait_healthy polls every 0.25 s: how long after the engine's healthy it returns.
            row(
                "  healthy event -> the flow's health wait returns",
                [
                    _span_end(m, "health wait") - m.marks["healthy"]
                    for m in wd
                    if "healthy" in m.marks
                ],
            )
        for kind in ("API retry", "slot busy"):
            waits = [(m, w) for m in wd for w in m.waits if w.kind == kind]
            if waits:
                in_slot = sum(_within(m, "update slot acquired", w.time) for m, w in waits)
                print(
                    f"  Prefect {kind} waits in the {len(wd)} flow runs: {len(waits)}, "
                    f"{sum(w.seconds for _, w in waits):.1f} s asleep, {in_slot} of them "
                    "while acquiring the update slot"
                )

        print()
        print(
            f"  {'phases, from the engine events (median ms)':<52} "
            f"{'w-d':>7} {'hand':>7} {'diff':>7}"
        )
        for label, begin, end in PHASES:
            a = median_or_none([m.phase(begin, end) for m in wd])
            b = median_or_none([m.phase(begin, end) for m in hand])
            apart = ms(a - b) if a is not None and b is not None else "-"
            print(f"  {label:<52} {ms(a):>7} {ms(b):>7} {apart:>7}")
        # The phase that differs most between the methods, among the steps (not the sums).
        diffs = []
        for label, begin, end in PHASES[:6]:
            a = median_or_none([m.phase(begin, end) for m in wd])
            b = median_or_none([m.phase(begin, end) for m in hand])
            if a is not None and b is not None:
                diffs.append((a - b, label))
        if diffs:
            diff, label = max(diffs, key=lambda d: abs(d[0]))
            print(f"  largest difference: {label.strip()}: {ms(diff)} ms (watch-docker - by hand)")

        for method, ms_ in (("watch-docker", wd), ("by hand", hand)):
            print()
            print(f"  {method} timeline, t=0 the stop call (median ms)      {'at':>7} {'took':>7}")
            for label, at, took in timeline_rows(ms_):
                took_text = ms(took) if took is not None else ""
                print(f"  {label:<52} {ms(at):>7} {took_text:>7}")


def _within(m: Measurement, label: str, when: float) -> bool:
    return any(s.label == label and s.start <= when <= s.end for s in m.steps)


def _span_end(m: Measurement, label: str) -> float:
    return next(s.end for s in m.steps if s.label == label)


def _run_start(m: Measurement) -> float:
    return m.steps[0].start  # the whole flow run / by-hand sequence is inserted first


def timeline_rows(runs: Sequence[Measurement]) -> list[tuple[str, float, float | None]]:
    """Each step, event and probe landmark of the runs, at its median offset from the stop
    call, with its median duration; ordered by that offset."""
    offsets: dict[str, list[float]] = {}
    durations: dict[str, list[float]] = {}
    for m in runs:
        seen: set[str] = set()
        for span in m.steps:
            if span.label in seen:  # only the first of a step repeated in one run
                continue
            seen.add(span.label)
            offsets.setdefault(span.label, []).append(span.start - m.stop_issued)
            durations.setdefault(span.label, []).append(span.duration)
        for name, when in m.marks.items():
            if name == "issued":
                continue
            label = {
                "last_old": "(probe) last v1 answer",
                "first_new": "(probe) first v2 answer",
            }.get(name, f"(event) {name}")
            offsets.setdefault(label, []).append(when - m.stop_issued)
        for label, end in (("flow end", m.steps[0].end),):
            offsets.setdefault(label if m.method == "watch-docker" else "sequence end", []).append(
                end - m.stop_issued
            )
    rows = []
    for label, values in offsets.items():
        took = durations.get(label)
        rows.append((label, statistics.median(values), statistics.median(took) if took else None))
    return sorted(rows, key=lambda r: r[1])


# --- main ------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=at_least(1), default=5)
    parser.add_argument(
        "--warmup",
        type=at_least(0),
        default=1,
        help="untimed rounds first (imports, first flow run)",
    )
    parser.add_argument("--stable-seconds", type=float, default=2.0, help="update.stableSeconds")
    parser.add_argument("--health-timeout", type=float, default=30.0, help="update.healthTimeout")
    add_pause_option(parser)
    args = parser.parse_args(argv)
    if args.stable_seconds <= 0:
        parser.error("--stable-seconds must be > 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return Bench.main(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
