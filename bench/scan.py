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
import importlib
import resource
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, TypeVar

import httpx

# Nothing here imports Prefect: it reads its settings on import, and they are set in main().
from harness import Harness, PrefectWaits, Span, Timeline, add_pause_option, at_least

from watchdocker.config import load_settings
from watchdocker.container_status import (
    ContainerStatus,
    DigestResolution,
    judge,
    needs_platform_check,
    plan_check,
    tag_reference,
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

R = TypeVar("R")


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
    """Length of the union of the spans: the time when at least one piece of own work ran."""
    total, end = 0.0, float("-inf")
    for start, stop in sorted((s.start, s.end) for s in spans):
        if start >= end:
            total += stop - start
            end = stop
        elif stop > end:
            total += stop - end
            end = stop
    return total


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
        super().__init__(args, run_id, tb)
        self.images = [f"{tb.OPEN}/{self.prefix}/img{i}:latest" for i in range(args.images)]
        # With fewer containers than images, only the first images are in use.
        self.distinct = min(args.images, args.containers)
        self.figures: dict[str, Figure] = {}
        self.checks: list[Check] = []
        self.clock = Timeline()  # when the package's own work runs: discovery, lookups
        self.waits = PrefectWaits()
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
        """Imports the flow (so Prefect), clocks the work its tasks wrap, counts API retries.

        The same wrapped functions serve the plain pipeline and the flow, so one flow run
        splits into that work and the orchestration around it without changing the package."""
        # import_module, not `import a.b as m`: a package may rebind a submodule's name.
        scan_tasks = importlib.import_module("watchdocker.tasks.scan")
        importlib.import_module("watchdocker.flows.scan")
        self.discover = self.clock.wrap("discovery", scan_tasks.discover_containers)
        # setattr: type checkers refuse these assignments, rightly so outside a bench.
        setattr(scan_tasks, "discover_containers", self.discover)  # noqa: B010
        # The reference looked up is the call's last positional argument.
        lookup = self.clock.wrap(
            "lookup", RegistryClient.resolve_digest, detail=lambda args: str(args[-1])
        )
        setattr(RegistryClient, "resolve_digest", lookup)  # noqa: B010
        self.waits.listen()

    def take_clocks(self) -> tuple[float, list[str], int, float]:
        """Since the last take: the own work's covered time, the references looked up, and
        the Prefect API retries with the time slept before them."""
        spans = self.clock.take()
        retries = [w for w in self.waits.take() if w.kind == "API retry"]
        lookups = [s.detail for s in spans if s.label == "lookup"]
        return covered(spans), lookups, len(retries), sum(w.seconds for w in retries)

    def publish_images(self) -> None:
        def publish(ref: str) -> None:
            self.tb.build_image(ref, marker=f"{self.prefix} {ref}")
            self.push(ref)

        parallel(publish, self.images, SETUP_WORKERS)

    def start_containers(self) -> None:
        def start(index: int) -> str:
            return str(
                self.tb.run_container(
                    self.images[index % len(self.images)],
                    "sleep",
                    "3600",
                    name=f"{self.prefix}-c{index:04d}",
                )
            )

        parallel(start, list(range(self.args.containers)), SETUP_WORKERS)

    def scan_config(self, name: str, concurrency: int, cache_ttl: str) -> str:
        return self.write_config(name, scan={"concurrency": concurrency, "cacheTTL": cache_ttl})

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
        self.take_clocks()
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
        own_work, lookups, _, _ = self.take_clocks()
        return RunFacts(wall, own_work, discovery, statuses, lookups)

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
        self.take_clocks()
        with settings:
            started = time.perf_counter()
            # As the schedule runs it: within cacheTTL the warm scans read the cache.
            report = scan(config_file=config_file, fresh=False)
            wall = time.perf_counter() - started
        own_work, lookups, retries, slept = self.take_clocks()
        if pause:
            time.sleep(self.args.pause)
        return RunFacts(
            wall, own_work, None, report.containers, lookups, retries=retries, slept=slept
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

    def whole_run(self) -> int:
        """Set-up, measurements and report; the exit code is 1 when a check failed."""
        self.prefect_up(self.instrument)
        self.stage(f"build + push {self.args.images} images", self.publish_images)
        self.stage(f"start {self.args.containers} containers", self.start_containers)
        self.measure()
        return 0 if self.report() else 1

    def measure(self) -> None:
        concurrencies: list[int] = self.args.concurrency
        cold = {c: self.scan_config(f"cold-c{c}", c, COLD_TTL) for c in concurrencies}
        first = concurrencies[0]
        warm = self.scan_config(f"warm-c{first}", first, WARM_TTL)
        heads = f"floor: {self.distinct} HEADs"

        digests = dict(self.pushed)
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
                    digests[image],
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
        self.print_heading(
            f"watchdocker scan bench: {args.containers} containers, {self.distinct} distinct "
            f"images, {args.rounds} round(s), {args.pause:g} s between flow runs"
        )
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
    parser.add_argument("--containers", type=at_least(1), default=200)
    parser.add_argument("--images", type=at_least(1), default=40)
    parser.add_argument("--rounds", type=at_least(1), default=3)
    parser.add_argument(
        "--concurrency",
        type=_concurrencies,
        default=[3, 8, 16],
        help="scan.concurrency values to measure, the first is the default one (3,8,16)",
    )
    add_pause_option(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    return Bench.main(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
