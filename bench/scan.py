"""Benchmark of the `scan` flow against the test bed: what Prefect adds to the plain work.

    .venv/bin/python bench/scan.py [--containers 200] [--images 40] [--rounds 3]
                                   [--concurrency 3,8,16]

It brings the bed up (testbed/up.sh), starts its own Prefect server (SQLite, fresh
PREFECT_HOME), pushes `--images` distinct images to the open registry under `bench-<runid>/`,
starts `--containers` containers spread over them, and measures each figure `--rounds` times
(median and min):

- floor: one manifest HEAD per image on a warm keep-alive httpx client, sequential and with
  `scan.concurrency` threads; the better of the two is the floor for that concurrency;
- plain: discovery + policy + `RegistryClient.resolve_digest` per distinct reference with the
  same concurrency, no Prefect: the functional work of a scan;
- flow cold (`scan.cacheTTL: 0s`): `scan(config_file=...)`; Prefect's share = flow - plain;
- flow warm (`scan.cacheTTL: 10m`, within the TTL): asks the registry nothing.

The open registry's request log checks the counts: one manifest request per distinct image
per cold scan, none when warm. Everything it created is removed on exit, Ctrl-C or error.
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any, ParamSpec, TypeVar

import httpx
import yaml

# Nothing here imports Prefect: it reads its settings on import, and they are set in main().
from watchdocker.config import ServerConfig, Settings, load_settings
from watchdocker.container_status import (
    ContainerStatus,
    DigestResolution,
    judge,
    needs_platform_check,
    plan_check,
    tag_reference,
)
from watchdocker.engine.client import connect
from watchdocker.prefect_env import (
    drain_prefect_workers,
    prepare_environment,
    start_local_server,
    stop_process,
)
from watchdocker.reference import ImageReference
from watchdocker.registry.client import RegistryClient
from watchdocker.registry.credentials import (
    CredentialStore,
    DockerConfigCredentials,
    configured_credentials,
)
from watchdocker.registry.errors import RegistryError
from watchdocker.registry.manifests import ACCEPT

REPO_ROOT = Path(__file__).resolve().parents[1]
SETUP_WORKERS = 8  # docker builds/pushes/runs at once: each CLI call mostly waits on the engine
WARM_TTL = "10m"
COLD_TTL = "0s"

P = ParamSpec("P")
R = TypeVar("R")
Span = tuple[float, float]


# --- small helpers ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
    """When the package's own work (discovery, digest lookups) runs, from any thread.

    The same wrapped functions serve the plain pipeline and the flow, so one flow run splits
    into that work and the orchestration around it without changing the package."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spans: list[Span] = []

    def wrap(self, fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def clocked(*args: P.args, **kwargs: P.kwargs) -> R:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                stopped = time.perf_counter()
                with self._lock:
                    self._spans.append((started, stopped))

        return clocked

    def take(self) -> list[Span]:
        with self._lock:
            spans, self._spans = self._spans, []
        return spans


@dataclass
class Figure:
    """One quantity over the rounds, in seconds."""

    label: str
    samples: list[float] = field(default_factory=list)

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
    discovery: float
    statuses: list[ContainerStatus]


# --- the bench -------------------------------------------------------------------------------


class Bench:
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
        self.server: subprocess.Popen | None = None
        self.discover: Callable[..., Any] | None = None

    def record(self, key: str, label: str, seconds: float) -> None:
        self.figures.setdefault(key, Figure(label)).samples.append(seconds)

    def check(self, what: str, got: object, expected: object) -> None:
        self.checks.append(Check(what, got, expected))

    def stage(self, name: str, fn: Callable[[], object]) -> None:
        print(f"... {name}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        fn()
        self.setup[name] = time.perf_counter() - started

    # -- setup ------------------------------------------------------------------------------

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

    def instrument(self) -> None:
        """Imports the flow (so Prefect) and clocks the work its tasks wrap."""
        import watchdocker.tasks.scan as scan_tasks

        self.discover = self.clock.wrap(scan_tasks.discover_containers)
        scan_tasks.discover_containers = self.discover  # type: ignore[assignment]
        # setattr: a plain assignment to a method is what type checkers refuse, rightly so
        # outside a bench.
        setattr(  # noqa: B010
            RegistryClient, "resolve_digest", self.clock.wrap(RegistryClient.resolve_digest)
        )

    def publish_images(self) -> None:
        def publish(ref: str) -> tuple[str, str]:
            self.tb.build_image(ref, marker=f"{self.prefix} {ref}")
            return ref, str(self.tb.push(ref))

        self.digests = dict(parallel(publish, self.images, SETUP_WORKERS))

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
                # The bench's images are single-platform and pushed: this never happens.
                raise RuntimeError(f"{plan.container.name}: unexpected platform check")
            statuses.append(judge(plan, answer, None, None))
        wall = time.perf_counter() - started
        return RunFacts(wall, covered(self.clock.take()), discovery, statuses)

    def flow(self, config_file: str) -> RunFacts:
        from watchdocker.flows.scan import scan

        self.clock.take()
        started = time.perf_counter()
        report = scan(config_file=config_file)
        wall = time.perf_counter() - started
        return RunFacts(wall, covered(self.clock.take()), float("nan"), report.containers)

    def check_statuses(self, what: str, facts: RunFacts) -> None:
        ours = [s for s in facts.statuses if s.name.startswith(f"{self.prefix}-")]
        counts = Counter(s.status for s in ours)
        self.check(f"{what}: bench containers up to date", counts, {"up_to_date": len(ours)})
        self.check(f"{what}: bench containers seen", len(ours), self.args.containers)

    # -- the run ----------------------------------------------------------------------------

    def measure(self) -> None:
        concurrencies: list[int] = self.args.concurrency
        cold = {c: self.write_config(f"cold-c{c}", c, COLD_TTL) for c in concurrencies}
        first = concurrencies[0]
        warm = self.write_config(f"warm-c{first}", first, WARM_TTL)

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
            self.check_statuses("plain warm-up", self.plain(cold[first]))
            first_flow = self.flow(cold[first])
            self.check_statuses("flow warm-up", first_flow)
            self.record("first", f"flow cold c={first}, first run in the process", first_flow.wall)

            for round_no in range(1, self.args.rounds + 1):
                print(f"... round {round_no}/{self.args.rounds}", file=sys.stderr, flush=True)
                heads = f"floor: {self.distinct} HEADs"
                self.record("floor-seq", f"{heads}, sequential", self.floor(client, 1))
                for c in concurrencies:
                    self.record(f"floor-{c}", f"{heads}, {c} threads", self.floor(client, c))
                    self.cold_round(c, cold[c])

        # Warm: one scan fills the cache (it asks the registry), the next ones within the TTL
        # must ask nothing.
        print("... warm scans", file=sys.stderr, flush=True)
        facts = self.counted("flow warm, filling the cache", self.flow, warm, self.distinct)
        self.record("fill", f"flow c={first} filling the cache ({WARM_TTL})", facts.wall)
        for _ in range(self.args.rounds):
            facts = self.counted("flow warm", self.flow, warm, 0)
            self.record("warm", f"flow warm c={first} (cacheTTL {WARM_TTL})", facts.wall)
            self.record("warm-own", "  own work inside it (discovery)", facts.own_work)
        # cacheTTL 0s must bypass what the warm scans left in the cache, not read it.
        facts = self.counted("flow cold after the warm ones", self.flow, cold[first], self.distinct)
        self.record("cold-after", f"flow cold c={first} after the warm ones", facts.wall)

    def cold_round(self, c: int, config_file: str) -> None:
        facts = self.counted(f"plain c={c}", self.plain, config_file, self.distinct)
        self.record(f"plain-{c}", f"plain c={c}", facts.wall)
        self.record(f"plain-disc-{c}", "  of which discovery", facts.discovery)
        facts = self.counted(f"flow cold c={c}", self.flow, config_file, self.distinct)
        self.record(f"flow-{c}", f"flow cold c={c}", facts.wall)
        self.record(f"flow-own-{c}", "  own work inside it", facts.own_work)
        self.record(f"flow-rest-{c}", "  the rest (orchestration)", facts.wall - facts.own_work)

    def counted(
        self, what: str, scan: Callable[[str], RunFacts], config_file: str, heads: int
    ) -> RunFacts:
        """One scan, checked: its statuses, and its manifest requests at the registry (one
        HEAD per distinct image, or none when `heads` is 0)."""
        mark = self.registry_mark()
        facts = scan(config_file)
        got = self.manifest_requests(mark)
        expected = Counter({"HEAD": heads}) if heads else Counter()
        self.check(f"{what}: manifest requests", got, expected)
        self.check_statuses(what, facts)
        return facts

    # -- report -----------------------------------------------------------------------------

    def report(self) -> bool:
        args = self.args
        print()
        print(
            f"watchdocker scan bench: {args.containers} containers, {self.distinct} distinct "
            f"images, {args.rounds} round(s), run {self.run_id}, {os.cpu_count()} CPUs"
        )
        print()
        print("setup")
        for name, seconds in self.setup.items():
            print(f"  {name:<44} {seconds:8.2f} s")
        print()

        floors = {"seq": self.figures["floor-seq"].median}
        floors.update({c: self.figures[f"floor-{c}"].median for c in args.concurrency})
        overall = min(floors.values())

        def floor_of(c: int) -> float:
            return min(floors["seq"], floors[c])

        header = f"{'figure':<46} {'median s':>9} {'min s':>8} {'x floor':>8}"
        print(header)
        print("-" * len(header))

        def row(key: str, base: float | None, note: str = "") -> None:
            fig = self.figures.get(key)
            if fig is None:
                return
            ratio = f"{fig.median / base:8.1f}" if base else f"{'':>8}"
            print(f"{fig.label:<46} {fig.median:9.3f} {fig.best:8.3f} {ratio}{note}")

        row("floor-seq", overall)
        for c in args.concurrency:
            row(f"floor-{c}", overall)
        print(f"{'floor (best of the above)':<46} {overall:9.3f}")
        print()
        for c in args.concurrency:
            base = floor_of(c)
            row(f"plain-{c}", base)
            row(f"plain-disc-{c}", base)
            row(f"flow-{c}", base)
            row(f"flow-own-{c}", base)
            row(f"flow-rest-{c}", base)
            flow, plain = self.figures[f"flow-{c}"], self.figures[f"plain-{c}"]
            share = flow.median - plain.median
            tasks = 1 + self.distinct  # discovery + one lookup per distinct reference
            print(
                f"{'  Prefect share: flow - plain':<46} {share:9.3f} "
                f"{flow.best - plain.best:8.3f} {share / base:8.1f}"
                f"  = {100 * share / flow.median:.0f}% of the flow, "
                f"{1000 * share / tasks:.1f} ms per task run ({tasks})"
            )
            print()
        base = floor_of(args.concurrency[0])
        row("first", base)
        row("fill", base)
        row("warm", base)
        row("warm-own", base)
        warm = self.figures["warm"]
        own = self.figures["warm-own"]
        print(
            f"{'  Prefect share: warm - own work':<46} {warm.median - own.median:9.3f}"
            f"{'':>9}{'':>9}  = {100 * (warm.median - own.median) / warm.median:.0f}% of it"
        )
        row("cold-after", base)
        print()

        print(f"manifest requests per scan at the open registry (under /v2/{self.prefix}/)")
        by_what: dict[str, list[Check]] = {}
        for chk in self.checks:
            if chk.what.endswith(": manifest requests"):
                by_what.setdefault(chk.what.removesuffix(": manifest requests"), []).append(chk)
        for what, checks in by_what.items():
            got = ", ".join(_counts(chk.got) for chk in checks)
            verdict = "ok" if all(chk.ok for chk in checks) else "WRONG"
            print(f"  {what:<30} {got:<34} expected {_counts(checks[0].expected)}: {verdict}")
        print()
        failed = [chk for chk in self.checks if not chk.ok]
        print(f"checks: {len(self.checks) - len(failed)}/{len(self.checks)} passed")
        for chk in failed:
            print(f"  FAILED {chk.what}: got {chk.got}, expected {chk.expected}")
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
    values = [int(part) for part in text.split(",") if part.strip()]
    if not values or any(not 1 <= v <= 64 for v in values):
        raise argparse.ArgumentTypeError("a comma-separated list of 1..64, e.g. 3,8,16")
    return values


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--containers", type=int, default=200)
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--concurrency",
        type=_concurrencies,
        default=[3, 8, 16],
        help="scan.concurrency values to measure, the first is the default one (3,8,16)",
    )
    args = parser.parse_args(argv)
    if min(args.containers, args.images, args.rounds) < 1:
        parser.error("--containers, --images and --rounds must be at least 1")
    return args


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    run_id = uuid.uuid4().hex[:8]
    # A developer's own WATCH_* settings must not change what is measured; the testbed
    # helpers label everything with WATCH_TEST_RUN_ID, which must be ours alone.
    for name in list(os.environ):
        if name.startswith("WATCH_") and not name.startswith("WATCH_TESTBED_"):
            del os.environ[name]
    os.environ["WATCH_TEST_RUN_ID"] = run_id
    sys.path.insert(0, str(REPO_ROOT / "tests" / "integration"))
    import testbed  # after WATCH_TEST_RUN_ID: it reads the run id on import

    # SIGTERM takes the same way out as Ctrl-C, through the cleanup.
    signal.signal(signal.SIGTERM, _interrupt)
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
