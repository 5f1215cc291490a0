"""Replacing one container by one on a new image: stop, rename aside, create, start, check
health, then remove the old one — or roll back. Every step is journalled first (journal.py)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Literal

import docker
from docker.errors import APIError, DockerException, NotFound
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

from watchdocker.config import PolicyConfig
from watchdocker.durations import parse_duration
from watchdocker.policy import evaluate_labels
from watchdocker.stacks.compose_cli import ComposeFailed
from watchdocker.update.compose_update import ComposeUpdater, compose_service
from watchdocker.update.journal import (
    ASIDE_NAME_FILTER,
    ComposeService,
    Journal,
    JournalEntry,
    Step,
    UpdateInProgress,
    aside_service,
    new_entry,
)
from watchdocker.update.recreate import build_recreate_spec, create_from_spec
from watchdocker.update.rollback import Action, Observed, orphan_entry, recovery_plan, rollback_plan

HEALTH_TIMEOUT_LABEL = "watchdocker.health-timeout"
STABLE_SECONDS_LABEL = "watchdocker.stable-seconds"
_POLL = 0.1  # the health wait returns at most this long after the engine says healthy
# Recovery, which runs before every flow, gives up on starting an old container sooner than a
# rollback (update.rollbackRestartWindow) and tries again at the next run.
RECOVERY_RESTART_WINDOW = 10.0

Result = Literal["updated", "rolled_back", "failed", "skipped"]
# Called with each step of a replacement right after it is journalled, before the next engine
# call: where the crash tests stop a process. Production passes none.
StepHook = Callable[[Step], None]


class UpdateFailed(Exception):
    pass


@dataclass(frozen=True)
class HealthPolicy:
    timeout: float
    stable_seconds: float

    def for_labels(self, labels: dict[str, str]) -> HealthPolicy:
        """Per-container overrides: `watchdocker.health-timeout`, `watchdocker.stable-seconds`."""
        timeout, stable = self.timeout, self.stable_seconds
        try:
            if labels.get(HEALTH_TIMEOUT_LABEL):
                timeout = parse_duration(labels[HEALTH_TIMEOUT_LABEL]).total_seconds()
            if labels.get(STABLE_SECONDS_LABEL):
                stable = parse_duration(labels[STABLE_SECONDS_LABEL]).total_seconds()
        except ValueError as exc:
            raise UpdateFailed(f"bad health label: {exc}") from None
        return HealthPolicy(timeout, stable)


@dataclass
class ReplaceResult:
    name: str
    result: Result
    image: str = ""
    reason: str = ""
    old_image_id: str = ""
    new_image_id: str = ""
    new_id: str | None = None
    new_logs: list[str] = field(default_factory=list)
    # Containers that shared this one's network stack (`--network container:<it>`), recreated
    # to join the new container, after it.
    dependents: list[ReplaceResult] = field(default_factory=list)


@dataclass
class RecoveryResult:
    name: str
    outcome: Literal["finished", "rolled_back", "failed"]
    actions: list[Action]
    reason: str = ""


def has_healthcheck(container: dict) -> bool:
    test = (container.get("Config") or {}).get("Healthcheck", {}) or {}
    return bool(test.get("Test")) and test["Test"][0] != "NONE"


def wait_healthy(api: docker.APIClient, container_id: str, policy: HealthPolicy) -> None:
    """With a HEALTHCHECK: `healthy` within the timeout. Without: running, not restarting and
    not restarted, for `stable_seconds`. Raises UpdateFailed saying what happened."""
    info = api.inspect_container(container_id)
    checked = has_healthcheck(info)
    restarts = info.get("RestartCount", 0)
    started = time.monotonic()
    wait = policy.timeout if checked else policy.stable_seconds
    while True:
        info = api.inspect_container(container_id)
        state = info["State"]
        if not state.get("Running") or state.get("Restarting"):
            raise UpdateFailed(f"the new container stopped (exit code {state.get('ExitCode')})")
        if info.get("RestartCount", 0) != restarts:
            raise UpdateFailed("the new container restarted")
        elapsed = time.monotonic() - started
        if checked:
            status = (state.get("Health") or {}).get("Status")
            if status == "healthy":
                return
            if status == "unhealthy":
                raise UpdateFailed("the new container is unhealthy")
            if elapsed >= wait:
                raise UpdateFailed(f"the new container was not healthy within {wait:g}s")
        elif elapsed >= wait:
            return
        time.sleep(_POLL)


class Updater:
    def __init__(
        self,
        api: docker.APIClient,
        journal: Journal,
        health: HealthPolicy,
        *,
        remove_old: bool = True,
        cleanup: bool = False,
        log_lines: int = 20,
        policy: PolicyConfig | None = None,
        on_step: StepHook | None = None,
        compose: ComposeUpdater | None = None,
        rollback_restart_window: float = 120.0,
    ) -> None:
        self.api = api
        self.journal = journal
        self.health = health
        self.remove_old = remove_old
        self.cleanup = cleanup
        self.log_lines = log_lines
        # Orphan aside containers are resolved only where the label policy lets this
        # configuration manage them: another configuration's update may be under way there.
        self.policy = policy or PolicyConfig()
        self.on_step = on_step
        # Containers of a compose project whose files are there are updated through compose
        # (update.allowComposeUpdate lets the plan include them); without, by the recreate.
        self.compose = compose
        # Giving the service back matters more than speed: starting the old container again
        # during a rollback is retried with backoff for this long (a port or device another
        # process holds may be free a while later).
        self.rollback_restart_window = rollback_restart_window

    def replace(
        self,
        name: str,
        container_id: str,
        new_image_id: str,
        image: str,
        *,
        network_container: str | None = None,
    ) -> ReplaceResult:
        """Replace the container `name`, planned as `container_id`, by one from `new_image_id`,
        created as `image` (the reference the user gave, now tagged to that image); then the
        containers joined to its network. Another run may have got there first: then nothing
        is done and the result says so (skipped)."""
        old = self._as_planned(name, container_id)
        if old is None:
            return self._changed_meanwhile(name, container_id, new_image_id, image)
        service = compose_service(old) if self.compose is not None else None
        if service is not None:
            [done] = self._replace_through_compose([(old, name, service, new_image_id, image)])
            return done
        dependents = self._dependents(old)
        result = self._replace(old, name, new_image_id, image, network_container)
        if result.result == "updated":
            for dependent in dependents:
                joined = self._replace(
                    dependent,
                    dependent["Name"].lstrip("/"),
                    dependent["Image"],
                    dependent["Config"]["Image"],
                    result.new_id,
                )
                result.dependents.append(joined)
        return result

    def _as_planned(self, name: str, container_id: str) -> dict | None:
        """The container if it still is the one planned: that id, under that name."""
        found = self._inspect(container_id)
        if found is None or found["Name"].lstrip("/") != name:
            return None
        return found

    def _changed_meanwhile(
        self, name: str, container_id: str, new_image_id: str, image: str
    ) -> ReplaceResult:
        if self.journal.read(name) is not None:
            reason = self.journal.holder_of(name)
        elif (holder := self._inspect(name)) is not None and holder["Image"] == new_image_id:
            reason = f"{name} was updated by another run meanwhile"
        else:
            reason = f"{name} is no longer container {container_id[:12]} (recreated or removed)"
        return ReplaceResult(
            name, "skipped", image, reason=f"{reason}: nothing done", new_image_id=new_image_id
        )

    def _dependents(self, container: dict) -> list[dict]:
        """Containers whose network mode is `container:<this>`, by id, short id or name
        (aside containers, which are no services, excepted)."""
        this = {container["Id"], container["Id"][:12], container["Name"].lstrip("/")}
        found = []
        for summary in self.api.containers(all=True):
            mode = (summary.get("HostConfig") or {}).get("NetworkMode", "")
            names = [n.lstrip("/") for n in summary.get("Names") or []]
            if any(aside_service(n) for n in names):
                continue
            if mode.startswith("container:") and mode.removeprefix("container:") in this:
                found.append(self.api.inspect_container(summary["Id"]))
        return found

    def _replace(
        self, old: dict, name: str, new_image_id: str, image: str, network_container: str | None
    ) -> ReplaceResult:
        result = ReplaceResult(
            name, "failed", image, old_image_id=old["Image"], new_image_id=new_image_id
        )
        try:
            spec = build_recreate_spec(
                old,
                self.api.inspect_image(old["Image"]),
                self.api.inspect_image(new_image_id),
                image=image,
                network_container=network_container,
            )
            policy = self.health.for_labels(old["Config"].get("Labels") or {})
        except (UpdateFailed, DockerException, ValueError) as exc:
            result.reason = f"nothing changed: {exc}"
            return result
        # The lock is keyed on the service's name, which every run sees the same; the
        # container's current name is not (the first run renames it aside).
        try:
            entry = self.journal.begin(
                new_entry(name, old["Id"], bool(old["State"].get("Running")), image, new_image_id)
            )
        except UpdateInProgress as exc:
            result.result, result.reason = "skipped", f"{exc}: nothing done"
            return result
        current = self._as_planned(name, old["Id"])
        if current is None:
            # Another run finished with it between our look and our lock.
            self.journal.finish(entry)
            return self._changed_meanwhile(name, old["Id"], new_image_id, image)
        if bool(current["State"].get("Running")) != entry.old_running:
            entry = self.journal.advance(
                entry, "begun", old_running=bool(current["State"].get("Running"))
            )
        self._reached("begun")
        try:
            entry = self._step(entry, "stopping")
            if entry.old_running:
                stop_timeout = old["Config"].get("StopTimeout")
                self.api.stop(old["Id"], timeout=10 if stop_timeout is None else stop_timeout)
            self.api.rename(old["Id"], entry.aside_name)
            entry = self._step(entry, "renamed")
            new_id = create_from_spec(self.api, spec)
            result.new_id = new_id
            entry = self._step(entry, "created", new_id=new_id)
            # A stopped container is replaced by a stopped one: no start, so no health to check.
            if entry.old_running:
                self.api.start(new_id)
                entry = self._step(entry, "starting")
                wait_healthy(self.api, new_id, policy)
        except (UpdateFailed, DockerException) as exc:
            result.new_logs = self._tail_logs(result.new_id)
            failed = entry

            def undo() -> None:
                plan = rollback_plan(failed, self._observe(failed))
                self._execute(plan, restart_window=self.rollback_restart_window)

            return self._rolled_back(result, failed, exc, undo)
        entry = self._step(entry, "healthy")
        result.result, result.reason = "updated", self._finish(entry, old["Image"])
        return result

    def replace_project(self, items: list[tuple[str, str, str, str]]) -> list[ReplaceResult]:
        """Containers of one compose project, each `(name, container_id, new_image_id,
        image)` as `replace` takes them, updated together through compose: one `up` for all,
        each health-checked, and all rolled back when one fails. Containers compose cannot
        act on are replaced one by one."""
        done: list[ReplaceResult] = []
        batch = []
        for name, container_id, new_image_id, image in items:
            old = self._as_planned(name, container_id)
            service = compose_service(old) if old is not None and self.compose else None
            if old is None or service is None:
                done.append(self.replace(name, container_id, new_image_id, image))
            else:
                batch.append((old, name, service, new_image_id, image))
        return done + self._replace_through_compose(batch)

    def _replace_through_compose(
        self, batch: list[tuple[dict, str, ComposeService, str, str]]
    ) -> list[ReplaceResult]:
        """As `_replace`, with compose recreating the containers (`compose_update`) of one
        project: `(old container, name, service, new image id, image)` each."""
        compose = self.compose
        assert compose is not None
        done: list[ReplaceResult] = []
        started: list[tuple[ReplaceResult, JournalEntry]] = []
        policies: dict[str, HealthPolicy] = {}
        for old, name, service, new_image_id, image in batch:
            result = ReplaceResult(
                name, "failed", image, old_image_id=old["Image"], new_image_id=new_image_id
            )
            try:
                policies[name] = self.health.for_labels(old["Config"].get("Labels") or {})
                entry = compose.begin(old, name, service, image, new_image_id)
            except UpdateFailed as exc:
                result.reason = f"nothing changed: {exc}"
                done.append(result)
                continue
            except UpdateInProgress as exc:
                result.result, result.reason = "skipped", f"{exc}: nothing done"
                done.append(result)
                continue
            if self._as_planned(name, old["Id"]) is None:
                self.journal.finish(entry)  # another run finished with it between look and lock
                done.append(self._changed_meanwhile(name, old["Id"], new_image_id, image))
                continue
            started.append((result, entry))
        if not started:
            return done
        self._reached("begun")
        together = len(started) > 1

        def healthy(name: str, new_id: str) -> None:
            try:
                wait_healthy(self.api, new_id, policies[name])
            except UpdateFailed as exc:
                raise UpdateFailed(f"{name}: {exc}" if together else str(exc)) from None

        try:
            new_ids = compose.roll_out([entry for _, entry in started], healthy, self._step)
        except (UpdateFailed, ComposeFailed, DockerException) as exc:
            for result, entry in started:
                # Compose gave the new container the service's name.
                result.new_logs = self._tail_logs(entry.name)
                done.append(
                    self._rolled_back(result, entry, exc, partial(compose.roll_back, entry))
                )
            return done
        for (result, entry), new_id in zip(started, new_ids, strict=True):
            if self.cleanup and entry.compose is not None:
                with contextlib.suppress(APIError):  # refused while another container uses it
                    self.api.remove_image(entry.compose.old_image_id)
            self.journal.finish(entry)
            result.result, result.new_id = "updated", new_id
            done.append(result)
        return done

    def _rolled_back(
        self, result: ReplaceResult, entry: JournalEntry, exc: Exception, undo: Callable[[], None]
    ) -> ReplaceResult:
        """`undo` a failed replacement: `rolled_back`, or `failed` when the undoing failed too."""
        try:
            undo()
        except (ComposeFailed, DockerException) as rollback_exc:
            # The journal entry stays, given up: the next run of any flow, or
            # `watch-docker recover`, finishes the undoing once it can.
            self.journal.advance(entry, entry.step, given_up=True)
            result.reason = (
                f"{_reason(exc)}; the rollback failed too: {_reason(rollback_exc)}. "
                f"{result.name} is down: run `watch-docker recover` once that is fixed "
                "(the next run of any flow also tries)"
            )
            return result
        self.journal.finish(entry)
        result.result, result.reason = "rolled_back", _reason(exc)
        return result

    def _step(self, entry: JournalEntry, step: Step, **changes: object) -> JournalEntry:
        entry = self.journal.advance(entry, step, **changes)
        self._reached(step)
        return entry

    def _reached(self, step: Step) -> None:
        if self.on_step is not None:
            self.on_step(step)

    def _finish(self, entry: JournalEntry, old_image_id: str) -> str:
        """Removes the old container (and image); returns what is left undone, if anything."""
        if self.remove_old:
            try:
                self.api.remove_container(entry.old_id, v=False, force=True)
            except DockerException as exc:
                # The update stands. Given up, the entry is finished by the next run's recovery
                # (whichever process), instead of locking the service while this one lives.
                self.journal.advance(entry, entry.step, given_up=True)
                return (
                    f"the old container is left as {entry.aside_name}: {_reason(exc)}; "
                    "the next run (or `watch-docker recover`) removes it"
                )
        if self.cleanup and self.remove_old:
            # Refused while another container uses it, or another name holds it: then it stays.
            with contextlib.suppress(APIError):
                self.api.remove_image(old_image_id)
        self.journal.finish(entry)
        return ""

    def _tail_logs(self, container_id: str | None) -> list[str]:
        if container_id is None:
            return []
        try:
            raw = self.api.logs(container_id, tail=self.log_lines, stdout=True, stderr=True)
        except DockerException:
            return []
        return raw.decode(errors="replace").splitlines()

    def _inspect(self, ref: str) -> dict | None:
        try:
            return self.api.inspect_container(ref)
        except NotFound:
            return None

    def _observe(self, entry: JournalEntry) -> Observed:
        old = self._inspect(entry.old_id)
        new = self._inspect(entry.new_id) if entry.new_id else None
        if new is None:
            holder = self._inspect(entry.name)
            if holder is not None and holder["Id"] != entry.old_id:
                new = holder  # created, but killed before its id was journalled
        return Observed(
            old_name=old["Name"].lstrip("/") if old else None,
            old_running=bool(old and old["State"].get("Running")),
            new_id=new["Id"] if new else None,
            new_running=bool(new and new["State"].get("Running")),
        )

    def _execute(self, actions: list[Action], *, restart_window: float) -> None:
        for action in actions:
            if action.kind == "remove":
                self.api.remove_container(action.container, v=False, force=True)
            elif action.kind == "rename":
                self.api.rename(action.container, action.name)
            elif action.kind == "start":
                self._start_with_retries(action.container, restart_window)
            elif action.kind == "stop":
                self.api.stop(action.container)

    def _start_with_retries(self, container_id: str, window: float) -> None:
        for attempt in Retrying(
            stop=stop_after_delay(window),
            wait=wait_exponential(multiplier=0.5, max=15),
            retry=retry_if_exception_type(APIError),
            reraise=True,
        ):
            with attempt:
                self.api.start(container_id)

    def recover(self) -> list[RecoveryResult]:
        """Finish or undo every update whose process died or gave up, then resolve aside
        containers no entry speaks of (run before any flow). What cannot be done yet stays
        journalled for the next run."""
        asides = self._aside_containers()  # listed before the journal is read: see _orphans
        done = [self._recover(entry) for entry in self.journal.abandoned()]
        for service, aside_id in self._orphans(asides):
            if resolved := self._resolve_orphan(service, aside_id):
                done.append(resolved)
        return done

    def _recover(self, entry: JournalEntry) -> RecoveryResult:
        if entry.compose is not None:
            return self._recover_through_compose(entry)
        outcome, actions = recovery_plan(entry, self._observe(entry))
        try:
            self._execute(actions, restart_window=RECOVERY_RESTART_WINDOW)
        except DockerException as exc:
            self.journal.advance(entry, entry.step, given_up=True)  # for the next run, any process
            return RecoveryResult(entry.name, "failed", actions, _reason(exc))
        self.journal.finish(entry)
        return RecoveryResult(entry.name, outcome, actions)

    def _recover_through_compose(self, entry: JournalEntry) -> RecoveryResult:
        """A compose update that had passed its health check stands; any other is undone:
        the old image tagged back and compose run again if the service is not on it."""
        if entry.step == "healthy":
            self.journal.finish(entry)
            return RecoveryResult(entry.name, "finished", [])
        try:
            if self.compose is None:
                raise ComposeFailed("this updater has no compose strategy")
            self.compose.roll_back(entry)
        except (ComposeFailed, DockerException) as exc:
            self.journal.advance(entry, entry.step, given_up=True)
            return RecoveryResult(entry.name, "failed", [], _reason(exc))
        self.journal.finish(entry)
        return RecoveryResult(entry.name, "rolled_back", [])

    def _aside_containers(self) -> list[dict]:
        found = self.api.containers(all=True, filters={"name": ASIDE_NAME_FILTER})
        return [
            c
            for c in found
            if aside_service((c.get("Names") or [""])[0].lstrip("/"))
            and not evaluate_labels(c.get("Labels") or {}, self.policy).skipped
        ]

    def _orphans(self, asides: list[dict]) -> list[tuple[str, str]]:
        """(service, id) of the aside containers no journal entry speaks of. An update journals
        before it renames and removes the aside before its entry, so an aside listed before
        the journal was read and missing from it is no update's in progress."""
        known = {e.old_id for e in self.journal.entries()}
        return [
            (aside_service(c["Names"][0].lstrip("/")) or "", c["Id"])
            for c in asides
            if c["Id"] not in known
        ]

    def _resolve_orphan(self, service: str, aside_id: str) -> RecoveryResult | None:
        holder = self._inspect(service)
        entry = orphan_entry(
            service, aside_id, holder["Id"] if holder else None, not self.remove_old
        )
        if entry is None:
            return None
        try:
            self.journal.begin(entry)  # the service's lock, and a record if we are killed
        except UpdateInProgress:
            return None
        aside = self._inspect(aside_id)
        if aside is None or aside["Name"].lstrip("/") != entry.aside_name:
            self.journal.finish(entry)  # resolved meanwhile by whoever held it
            return None
        return self._recover(entry)


def _reason(exc: Exception) -> str:
    if isinstance(exc, APIError):
        return f"the engine refused: {exc.explanation or exc}"
    return str(exc)
