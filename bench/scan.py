"""Benchmark of the `scan` flow against the test bed: what Prefect adds to the plain work.

    .venv/bin/python bench/scan.py [--containers 200] [--images 40] [--rounds 3]
                                   [--concurrency 3,8,16] [--pause 3]

It brings the bed up (testbed/up.sh), starts its own Prefect server (SQLite, fresh
PREFECT_HOME), pushes `--images` distinct images to the open registry under `bench-<runid>/`,
starts `--containers` containers spread over them, and measures each figure `--rounds` times
(median and min):

- floor: one manifest HEAD per image on a warm keep-alive httpx client, sequential and with
  `scan.concurrency` threads; the better of the two is the floor for that concurrency;
- plain: discovery + policy + `RegistryClient.resolve_digest` per distinct reference with the
  same concurrency, no Prefect: the functional work of a scan;
- flow cold (`scan.cacheTTL: 0s`): `scan(config_file=...)`; Prefect's share = flow - plain;
  also with Prefect's flow-run heartbeat thread off, and back to back (no pause);
- flow warm (`scan.cacheTTL: 10m`, within the TTL, as scheduled runs): asks the registry nothing.

Flow runs are `--pause` seconds apart unless said otherwise: right after a run the local
server's SQLite is still busy writing that run's events, and a new run meets a 503.

The open registry's request log checks the counts: one manifest request per distinct image
per cold scan, none when warm. Everything it created is removed on exit, Ctrl-C or error.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import logging
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, ParamSpec, TypeVar

import httpx
import yaml

# Nothing here imports Prefect: it reads its settings on import, and they are set in main().
from harness import Harness, start_run

from watchdocker.config import load_settings
from watchdocker.container_status import (
    ContainerStatus,
    DigestResolution,
    judge,
    needs_platform_check,
    plan_check,
    tag_reference,
)
from watchdocker.deployments.prefect_env import (
    drain_prefect_workers,
    stop_process,
)
from watchdocker.engine.client import connect
from watchdocker.reference import ImageReference
from watchdocker.registry.client import RegistryClient
from watchdocker.registry.credentials import (
    CredentialStore,
    DockerConfigCredentials,
    configured_credentials,
)
from watchdocker.registry.errors import RegistryError
from watchdocker.registry.manifests import ACCEPT

SETUP_WORKERS = 8  # docker builds/pushes/runs at once: each CLI call mostly waits on the engine
WARM_TTL = "10m"
COLD_TTL = "0s"

P = ParamSpec("P")
R = TypeVar("R")
Span = tuple[float, float]


# --- small helpers ---------------------------------------------------------------------------


def parallel(fn: Callable[[Any], R], items: Sequence[Any], workers: int) -> list[R]:
    """`fn` over `items` on `workers` threads, results in order. On Ctrl-C or an error the
    jobs not started yet are dropped, so the cleanup does not first wait for 200 docker runs."""
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        futures = [pool.submit(fn, item) for item in items]
        return [f.result() for f in futures]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def covered(spans: Iterable[Span]) -> float:
    """Length of the union of intervals: the time when at least one piece of own work ran."""
    total, end = 0.0, float("-inf")
    for start, stop in sorted(spans):
        if start >= end:
            total += stop - start
            end = stop
        elif stop > end:
            total += stop - end
            end = stop
    return total


class WorkClock:
    """When the package's own work (discovery, digest lookups) runs, from any thread, and
    which references were looked up.

    The same wrapped functions serve the plain pipeline and the flow, so one flow run splits
    into that work and the orchestration around it without changing the package."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spans: list[Span] = []
        self._lookups: list[str] = []

    def wrap(self, fn: Callable[P, R], *, lookup: bool = False) -> Callable[P, R]:
        """`lookup`: the call's last positional argument is the reference looked up."""

        @functools.wraps(fn)
        def clocked(*args: P.args, **kwargs: P.kwargs) -> R:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                stopped = time.perf_counter()
                with self._lock:
                    self._spans.append((started, stopped))
                    if lookup:
                        self._lookups.append(str(args[-1]))

        return clocked

    def take(self) -> tuple[list[Span], list[str]]:
        with self._lock:
            spans, self._spans = self._spans, []
            lookups, self._lookups = self._lookups, []
        return spans, lookups


class PrefectRetries(logging.Handler):
    """The Prefect client's retried API calls and the time it slept before them.

    The client logs each retry at DEBUG; the console handler (WARNING) still shows none."""

    _RETRY = re.compile(r"Another attempt will be made in ([0-9.]+)s")

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self._counts = threading.Lock()
        self.retries = 0
        self.slept = 0.0

    def emit(self, record: logging.LogRecord) -> None:
        found = self._RETRY.search(record.getMessage())
        if found:
            with self._counts:
                self.retries += 1
                self.slept += float(found[1])

    def take(self) -> tuple[int, float]:
        with self._counts:
            taken = self.retries, self.slept
            self.retries, self.slept = 0, 0.0
        return taken


@dataclass
class Figure:
    """One quantity over the rounds, in seconds, with the Prefect API retries it included."""

    label: str
    samples: list[float] = field(default_factory=list)
    retries: int = 0
    slept: float = 0.0

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def best(self) -> float:
        return min(self.samples)


@dataclass
class Check:
    what: str
    got: object
    expected: object

    @property
    def ok(self) -> bool:
        return self.got == self.expected


@dataclass
class RunFacts:
    """What one plain or flow scan did, for its figures and checks."""

    wall: float
    own_work: float
    discovery: float | None
    statuses: list[ContainerStatus]
    lookups: list[str]
    retries: int = 0
    slept: float = 0.0


# --- the bench -------------------------------------------------------------------------------


class Bench(Harness):
    def __init__(self, args: argparse.Namespace, run_id: str, tb: ModuleType) -> None:
        self.args = args
        self.run_id = run_id
        self.tb = tb
        self.tmp = Path(tempfile.mkdtemp(prefix=f"watchdocker-bench-{run_id}-"))
        self.prefix = f"bench-{run_id}"
        self.images = [f"{tb.OPEN}/{self.prefix}/img{i}:latest" for i in range(args.images)]
        # With fewer containers than images, only the first images are in use.
        self.distinct = min(args.images, args.containers)
        self.digests: dict[str, str] = {}
        self.figures: dict[str, Figure] = {}
        self.setup: dict[str, float] = {}
        self.checks: list[Check] = []
        self.clock = WorkClock()
        self.retries = PrefectRetries()
        self.server: subprocess.Popen[bytes] | None = None
        self.discover: Callable[..., Any] | None = None

    def record(self, key: str, label: str, seconds: float, facts: RunFacts | None = None) -> None:
        figure = self.figures.setdefault(key, Figure(label))
        figure.samples.append(seconds)
        if facts is not None:
            figure.retries += facts.retries
            figure.slept += facts.slept

    def check(self, what: str, got: object, expected: object) -> None:
        self.checks.append(Check(what, got, expected))

    # -- setup ------------------------------------------------------------------------------

    def instrument(self) -> None:
        """Imports the flow (so Prefect), clocks the work its tasks wrap, counts API retries."""
        # import_module, not `import a.b as m`: a package may rebind a submodule's name.
        scan_tasks = importlib.import_module("watchdocker.tasks.scan")
        importlib.import_module("watchdocker.flows.scan")
        self.discover = self.clock.wrap(scan_tasks.discover_containers)
        # setattr: type checkers refuse these assignments, rightly so outside a bench.
        setattr(scan_tasks, "discover_containers", self.discover)  # noqa: B010
        lookup = self.clock.wrap(RegistryClient.resolve_digest, lookup=True)
        setattr(RegistryClient, "resolve_digest", lookup)  # noqa: B010
        client_log = logging.getLogger("prefect.client")
        client_log.setLevel(logging.DEBUG)
        client_log.addHandler(self.retries)

    def publish_images(self) -> None:
        def publish(ref: str) -> None:
            self.tb.build_image(ref, marker=f"{self.prefix} {ref}")
            # Kept as each push ends, so that an interrupted setup still deletes its manifests.
            self.digests[ref] = str(self.tb.push(ref))

        parallel(publish, self.images, SETUP_WORKERS)

    def start_containers(self) -> None:
        def start(index: int) -> str:
            return str(
                self.tb.run_container(
                    self.images[index % len(self.images)],
                    "sleep",
                    "3600",
                    name=f"{self.prefix}-c{index:04d}",
                    labels={"watchdocker.bench": self.run_id},
                )
            )

        parallel(start, list(range(self.args.containers)), SETUP_WORKERS)

    def write_config(self, name: str, concurrency: int, cache_ttl: str) -> str:
        path = self.tmp / f"{name}.yaml"
        data = {
            "policy": {"onlyLabels": [f"watchdocker.bench={self.run_id}"]},
            "scan": {"concurrency": concurrency, "cacheTTL": cache_ttl},
            "stateDir": str(self.tmp / "state"),
        }
        path.write_text(yaml.safe_dump(data))
        return str(path)

    # -- registry log -----------------------------------------------------------------------

    def registry_mark(self) -> int:
        return int(self.tb.registry_log_mark("open"))

    def manifest_requests(self, mark: int) -> Counter[str]:
        """Manifest requests for this run's repositories since `mark`, by method. Other
        sessions share the registry, so only paths under our prefix count."""
        ours = f"/v2/{self.prefix}/"
        return Counter(
            str(r["method"])
            for r in self.tb.registry_requests("open", mark)
            if str(r["uri"]).startswith(ours) and "/manifests/" in str(r["uri"])
        )

    # -- what is measured -------------------------------------------------------------------

    def manifest_urls(self) -> list[str]:
        return [
            f"http://{self.tb.OPEN}/v2/{self.prefix}/img{i}/manifests/latest"
            for i in range(self.distinct)
        ]

    def floor(self, client: httpx.Client, workers: int) -> float:
        """The bare HEADs: the least any scan of these images can cost over HTTP."""
        urls = self.manifest_urls()
        headers = {"Accept": ACCEPT}

        def head(url: str) -> httpx.Response:
            return client.head(url, headers=headers)

        started = time.perf_counter()
        if workers <= 1:
            answers = [head(url) for url in urls]
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                answers = list(pool.map(head, urls))
        elapsed = time.perf_counter() - started
        bad = [a for a in answers if a.status_code != 200]
        if bad:
            raise RuntimeError(f"floor HEAD answered {bad[0].status_code} for {bad[0].url}")
        return elapsed

    def plain(self, config_file: str) -> RunFacts:
        """The flow's functional work without Prefect: same settings, same client, same
        judgement, lookups on a pool of `scan.concurrency` threads."""
        assert self.discover is not None
        self.clock.take()
        started = time.perf_counter()
        settings = load_settings(config_file)
        engine = connect(settings.docker.host)
        try:
            containers = self.discover(engine, settings.docker.include_stopped)
        finally:
            engine.close()
        discovery = time.perf_counter() - started
        plans = [plan_check(c, settings.policy) for c in containers]
        refs = sorted(
            {tag_reference(p.reference) for p in plans if p.needs_registry and p.reference}
        )
        # The flow adds the Prefect credential blocks; reading them is Prefect's share.
        store = CredentialStore(
            configured_credentials(settings.registry.auth), DockerConfigCredentials()
        )
        with RegistryClient(
            store,
            insecure=settings.registry.insecure,
            timeout=settings.registry.timeout.total_seconds(),
            retries=settings.registry.retries,
            concurrency=settings.scan.concurrency,
        ) as registry:

            def resolve(ref: str) -> DigestResolution:
                try:
                    remote = registry.resolve_digest(ImageReference.parse(ref))
                except RegistryError as exc:
                    return DigestResolution(reference=ref, error=str(exc), resolved_at=time.time())
                return DigestResolution(
                    reference=ref,
                    digest=remote.digest,
                    media_type=remote.media_type,
                    is_index=remote.is_index,
                    resolved_at=time.time(),
                )

            with ThreadPoolExecutor(max_workers=settings.scan.concurrency) as pool:
                answers = dict(zip(refs, pool.map(resolve, refs), strict=True))
        statuses = []
        for plan in plans:
            if plan.final is not None or plan.reference is None:
                assert plan.final is not None
                statuses.append(plan.final)
                continue
            answer = answers[tag_reference(plan.reference)]
            if needs_platform_check(plan, answer):
                # Only another session's forced container could get here; the bench's images
                # are single-platform and pushed. Judged without it, as errors.
                statuses.append(judge(plan, answer, None, "not checked by the bench"))
                continue
            statuses.append(judge(plan, answer, None, None))
        wall = time.perf_counter() - started
        spans, lookups = self.clock.take()
        return RunFacts(wall, covered(spans), discovery, statuses, lookups)

    def flow(self, config_file: str, *, heartbeat: bool = True, pause: bool = True) -> RunFacts:
        """One `scan` flow run; then, with `pause`, a rest for the server (see the module)."""
        from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

        from watchdocker.flows.scan import scan

        # Prefect's heartbeat thread sleeps in 1 s steps and the run waits for it to stop.
        settings: AbstractContextManager[object] = (
            nullcontext()
            if heartbeat
            else temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None})
        )
        self.clock.take()
        self.retries.take()
        with settings:
            started = time.perf_counter()
            # As the schedule runs it: within cacheTTL the warm scans read the cache.
            report = scan(config_file=config_file, fresh=False)
            wall = time.perf_counter() - started
        spans, lookups = self.clock.take()
        retries, slept = self.retries.take()
        if pause:
            time.sleep(self.args.pause)
        return RunFacts(
            wall, covered(spans), None, report.containers, lookups, retries=retries, slept=slept
        )

    def counted(self, what: str, scan: Callable[[], RunFacts], heads: int) -> RunFacts:
        """One scan, checked: see `verify`, and its manifest requests at the registry (one
        HEAD per distinct image, or none when `heads` is 0)."""
        mark = self.registry_mark()
        facts = scan()
        got = self.manifest_requests(mark)
        # Unary plus drops a zero count: no request at all is an empty Counter.
        self.check(f"{what}: manifest requests", got, +Counter({"HEAD": heads}))
        self.verify(what, facts)
        return facts

    def verify(self, what: str, facts: RunFacts) -> None:
        """The scan's statuses of the bench's containers, and what it looked up."""
        ours = [s for s in facts.statuses if s.name.startswith(f"{self.prefix}-")]
        counts = Counter(s.status for s in ours)
        self.check(f"{what}: bench containers up to date", counts, {"up_to_date": len(ours)})
        self.check(f"{what}: bench containers seen", len(ours), self.args.containers)
        # `watchdocker.force=true` beats policy.onlyLabels: another session's forced
        # containers on this engine get looked up too, and their registries timed with ours.
        foreign = sorted({ref for ref in facts.lookups if f"/{self.prefix}/" not in ref})
        self.check(f"{what}: lookups outside the bench", foreign, [])

    # -- the run ----------------------------------------------------------------------------

    def measure(self) -> None:
        concurrencies: list[int] = self.args.concurrency
        cold = {c: self.write_config(f"cold-c{c}", c, COLD_TTL) for c in concurrencies}
        first = concurrencies[0]
        warm = self.write_config(f"warm-c{first}", first, WARM_TTL)
        heads = f"floor: {self.distinct} HEADs"

        with httpx.Client() as client:
            # Warm-ups, untimed: connections, imports, the flow's first registration.
            print("... warm-up", file=sys.stderr, flush=True)
            for url in self.manifest_urls():
                answer = client.head(url, headers={"Accept": ACCEPT})
                image = url.replace(f"http://{self.tb.OPEN}/v2/", f"{self.tb.OPEN}/")
                image = image.replace("/manifests/latest", ":latest")
                self.check(
                    f"floor HEAD digest of {image}",
                    answer.headers.get("Docker-Content-Digest"),
                    self.digests[image],
                )
            self.floor(client, max(concurrencies))
            self.counted("plain warm-up", lambda: self.plain(cold[first]), self.distinct)
            facts = self.counted("flow warm-up", lambda: self.flow(cold[first]), self.distinct)
            self.record("first", f"flow cold c={first}, first in the process", facts.wall, facts)

            for round_no in range(1, self.args.rounds + 1):
                print(f"... round {round_no}/{self.args.rounds}", file=sys.stderr, flush=True)
                self.record("floor-seq", f"{heads}, sequential", self.floor(client, 1))
                for c in concurrencies:
                    self.record(f"floor-{c}", f"{heads}, {c} threads", self.floor(client, c))
                    self.cold_round(c, cold[c])
                facts = self.counted(
                    f"flow cold c={first}, heartbeat off",
                    lambda: self.flow(cold[first], heartbeat=False),
                    self.distinct,
                )
                self.record(
                    "no-heartbeat", f"flow cold c={first}, heartbeat off", facts.wall, facts
                )

        # Back to back: no pause and no registry log read between the runs, as a loop of
        # scans would run them; the first follows a pause, so it does not count.
        print("... back-to-back scans", file=sys.stderr, flush=True)
        what = f"flow cold c={first}, back to back"
        mark = self.registry_mark()
        runs = [self.flow(cold[first], pause=False) for _ in range(self.args.rounds + 1)]
        all_heads = Counter({"HEAD": self.distinct * len(runs)})
        got = self.manifest_requests(mark)
        self.check(f"{what} ({len(runs)} scans): manifest requests", got, all_heads)
        for facts in runs:
            self.verify(what, facts)
        for facts in runs[1:]:
            self.record("back-to-back", what, facts.wall, facts)
        time.sleep(self.args.pause)

        # Warm: one scan fills the cache (it asks the registry), the next ones within the TTL
        # must ask nothing.
        print("... warm scans", file=sys.stderr, flush=True)
        facts = self.counted("flow warm, filling the cache", lambda: self.flow(warm), self.distinct)
        self.record("fill", f"flow c={first} filling the cache ({WARM_TTL})", facts.wall, facts)
        for _ in range(self.args.rounds):
            facts = self.counted("flow warm", lambda: self.flow(warm), 0)
            self.record("warm", f"flow warm c={first} (cacheTTL {WARM_TTL})", facts.wall, facts)
            self.record("warm-own", "  own work inside it (discovery)", facts.own_work)
        # cacheTTL 0s must bypass what the warm scans left in the cache, not read it.
        facts = self.counted(
            "flow cold after the warm ones", lambda: self.flow(cold[first]), self.distinct
        )
        self.record("cold-after", f"flow cold c={first} after the warm ones", facts.wall, facts)

    def cold_round(self, c: int, config_file: str) -> None:
        facts = self.counted(f"plain c={c}", lambda: self.plain(config_file), self.distinct)
        self.record(f"plain-{c}", f"plain c={c}", facts.wall)
        self.record(f"plain-disc-{c}", "  of which discovery", facts.discovery or 0.0)
        facts = self.counted(f"flow cold c={c}", lambda: self.flow(config_file), self.distinct)
        self.record(f"flow-{c}", f"flow cold c={c}", facts.wall, facts)
        self.record(f"flow-own-{c}", "  own work inside it", facts.own_work)
        self.record(f"flow-rest-{c}", "  the rest (orchestration)", facts.wall - facts.own_work)

    # -- report -----------------------------------------------------------------------------

    def report(self) -> bool:
        args = self.args
        print()
        print(
            f"watchdocker scan bench: {args.containers} containers, {self.distinct} distinct "
            f"images, {args.rounds} round(s), {args.pause:g} s between flow runs, "
            f"run {self.run_id}, {os.cpu_count()} CPUs"
        )
        print()
        print("setup")
        for name, seconds in self.setup.items():
            print(f"  {name:<44} {seconds:8.2f} s")
        print()

        floors = {"seq": self.figures["floor-seq"].median}
        floors.update({str(c): self.figures[f"floor-{c}"].median for c in args.concurrency})
        overall = min(floors.values())

        def floor_of(c: int) -> float:
            return min(floors["seq"], floors[str(c)])

        header = f"{'figure':<46} {'median s':>9} {'min s':>8} {'x floor':>8}"
        print(header)
        print("-" * len(header))

        def row(key: str, base: float) -> None:
            fig = self.figures[key]
            note = ""
            if fig.retries:
                note = (
                    f"  incl. {fig.retries} Prefect API retr{'y' if fig.retries == 1 else 'ies'}"
                    f" (503) in {len(fig.samples)} run(s), {fig.slept:.1f} s asleep"
                )
            ratio = fig.median / base
            print(f"{fig.label:<46} {fig.median:9.3f} {fig.best:8.3f} {ratio:8.1f}{note}")

        def share(label: str, total: Figure, part: Figure, base: float, best: bool) -> None:
            value = total.median - part.median
            low = f"{total.best - part.best:8.3f}" if best else f"{'':>8}"
            print(
                f"{label:<46} {value:9.3f} {low} {value / base:8.1f}"
                f"  = {100 * value / total.median:.0f}% of the flow"
            )

        row("floor-seq", overall)
        for c in args.concurrency:
            row(f"floor-{c}", overall)
        print(f"{'floor (best of the above)':<46} {overall:9.3f}")
        print()
        for c in args.concurrency:
            base = floor_of(c)
            for key in (f"plain-{c}", f"plain-disc-{c}", f"flow-{c}"):
                row(key, base)
            row(f"flow-own-{c}", base)
            row(f"flow-rest-{c}", base)
            flow, plain = self.figures[f"flow-{c}"], self.figures[f"plain-{c}"]
            share("  Prefect share: flow - plain", flow, plain, base, best=True)
            print()
        first = args.concurrency[0]
        base = floor_of(first)
        for key in ("no-heartbeat", "back-to-back", "first", "fill", "warm", "warm-own"):
            row(key, base)
        warm, own = self.figures["warm"], self.figures["warm-own"]
        share("  Prefect share: warm - own work", warm, own, base, best=False)
        row("cold-after", base)
        print(f"({1 + self.distinct} task runs per cold scan: discovery + one lookup per image)")
        print()

        print(f"manifest requests per scan at the open registry (under /v2/{self.prefix}/)")
        by_what: dict[str, list[Check]] = {}
        for chk in self.checks:
            if chk.what.endswith(": manifest requests"):
                by_what.setdefault(chk.what.removesuffix(": manifest requests"), []).append(chk)
        for what, checks in by_what.items():
            got = ", ".join(_counts(chk.got) for chk in checks)
            verdict = "ok" if all(chk.ok for chk in checks) else "WRONG"
            print(f"  {what:<40} {got:<30} expected {_counts(checks[0].expected)}: {verdict}")
        print()
        failed = [chk for chk in self.checks if not chk.ok]
        print(f"checks: {len(self.checks) - len(failed)}/{len(self.checks)} passed")
        for chk in failed:
            print(f"  FAILED {chk.what}: got {chk.got}, expected {chk.expected}")
        if any(chk.what.endswith("lookups outside the bench") for chk in failed):
            print(
                "  (containers of another session, forced with watchdocker.force=true, were"
                " scanned too: their lookups are in the flow and plain figures)"
            )
        # ru_maxrss is in KiB on Linux.
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of this process: {peak:.0f} MiB")
        return not failed

    # -- cleanup ----------------------------------------------------------------------------

    def cleanup(self) -> None:
        """Each step on its own: one failing must not leave the others' leftovers behind."""
        steps: list[tuple[str, Callable[[], object]]] = [
            ("Prefect server", self._stop_prefect),
            ("containers and images", lambda: self.tb.cleanup(self.run_id)),
            ("registry manifests", self._delete_manifests),
            ("temp dir", lambda: shutil.rmtree(self.tmp, ignore_errors=True)),
        ]
        for name, step in steps:
            started = time.perf_counter()
            try:
                step()
            except Exception as exc:
                print(f"cleanup of {name} failed: {exc}", file=sys.stderr)
            else:
                elapsed = time.perf_counter() - started
                print(f"cleaned up {name} in {elapsed:.1f} s", file=sys.stderr)

    def _stop_prefect(self) -> None:
        # Logs and events still queued would otherwise go to a server that is gone.
        drain_prefect_workers()
        if self.server is not None:
            stop_process(self.server)

    def _delete_manifests(self) -> None:
        # The bed's registries allow deletes; blobs stay until a garbage collection.
        with httpx.Client(timeout=10) as client:
            for ref, digest in self.digests.items():
                name = ref.removeprefix(f"{self.tb.OPEN}/").rsplit(":", 1)[0]
                client.delete(f"http://{self.tb.OPEN}/v2/{name}/manifests/{digest}")


def _counts(value: object) -> str:
    if isinstance(value, Counter):
        return " ".join(f"{k}x{v}" for k, v in sorted(value.items())) or "0"
    return str(value)


def _concurrencies(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        values = []
    if not values or any(not 1 <= v <= 64 for v in values):
        raise argparse.ArgumentTypeError("a comma-separated list of 1..64, e.g. 3,8,16")
    return values


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--containers", type=int, default=200)
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--concurrency",
        type=_concurrencies,
        default=[3, 8, 16],
        help="scan.concurrency values to measure, the first is the default one (3,8,16)",
    )
    parser.add_argument(
        "--pause",
        type=float,
        default=3.0,
        help="seconds between flow runs, for the server to finish writing the last one (3)",
    )
    args = parser.parse_args(argv)
    if min(args.containers, args.images, args.rounds) < 1 or args.pause < 0:
        parser.error("--containers, --images and --rounds must be >= 1, --pause >= 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    run_id, testbed = start_run()
    bench = Bench(args, run_id, testbed)
    try:
        bench.stage("bed up (testbed/up.sh when needed)", bench.bring_up_bed)
        bench.stage("Prefect server start", bench.start_prefect)
        bench.stage("import the flow (Prefect)", bench.instrument)
        bench.stage(f"build + push {args.images} images", bench.publish_images)
        bench.stage(f"start {args.containers} containers", bench.start_containers)
        bench.measure()
        return 0 if bench.report() else 1
    except KeyboardInterrupt:
        print("interrupted: cleaning up", file=sys.stderr)
        return 130
    finally:
        bench.cleanup()


if __name__ == "__main__":
    sys.exit(main())
