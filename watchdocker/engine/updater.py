"""Replacing one container by one on a new image: stop, rename aside, create, start, check
health, then remove the old one — or roll back. Every step is journalled first (journal.py)."""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from typing import Literal

import docker
from docker.errors import APIError, DockerException, NotFound
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from watchdocker.durations import parse_duration
from watchdocker.journal import Journal, JournalEntry, Step, new_entry
from watchdocker.recreate import build_recreate_spec, create_from_spec
from watchdocker.rollback import Action, Observed, recovery_plan, rollback_plan

HEALTH_TIMEOUT_LABEL = "watchdocker.health-timeout"
STABLE_SECONDS_LABEL = "watchdocker.stable-seconds"
# Fault injection for the crash tests: after journalling this step, pause (while the file named
# by WATCHDOCKER_PAUSE_FILE exists, or for an hour) so that the test can kill the process there.
PAUSE_AT_STEP_VAR = "WATCHDOCKER_PAUSE_AT_STEP"
PAUSE_FILE_VAR = "WATCHDOCKER_PAUSE_FILE"
_POLL = 0.1  # the health wait returns at most this long after the engine says healthy
# Giving the service back matters more than speed: starting the old container again is retried
# (a port or device another process held a moment may be free a moment later).
_RESTART_ATTEMPTS = 6

Result = Literal["updated", "rolled_back", "failed"]


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
    outcome: Literal["finished", "rolled_back"]
    actions: list[Action]


def _fault_point(step: Step) -> None:
    if os.environ.get(PAUSE_AT_STEP_VAR) != step:
        return
    pause_file = os.environ.get(PAUSE_FILE_VAR)
    deadline = time.monotonic() + 3600
    while time.monotonic() < deadline and (pause_file is None or os.path.exists(pause_file)):
        time.sleep(0.05)


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
    ) -> None:
        self.api = api
        self.journal = journal
        self.health = health
        self.remove_old = remove_old
        self.cleanup = cleanup
        self.log_lines = log_lines

    def replace(
        self,
        container_id: str,
        new_image_id: str,
        image: str,
        *,
        network_container: str | None = None,
    ) -> ReplaceResult:
        """Replace the container by one from `new_image_id`, created as `image` (the reference
        the user gave, now tagged to that image); then the containers joined to its network."""
        old = self.api.inspect_container(container_id)
        dependents = self._dependents(old)
        result = self._replace(old, new_image_id, image, network_container)
        if result.result == "updated":
            for dependent in dependents:
                joined = self._replace(
                    dependent, dependent["Image"], dependent["Config"]["Image"], result.new_id
                )
                result.dependents.append(joined)
        return result

    def _dependents(self, container: dict) -> list[dict]:
        """Containers whose network mode is `container:<this>`, by id, short id or name."""
        this = {container["Id"], container["Id"][:12], container["Name"].lstrip("/")}
        found = []
        for summary in self.api.containers(all=True):
            mode = (summary.get("HostConfig") or {}).get("NetworkMode", "")
            if mode.startswith("container:") and mode.removeprefix("container:") in this:
                found.append(self.api.inspect_container(summary["Id"]))
        return found

    def _replace(
        self, old: dict, new_image_id: str, image: str, network_container: str | None
    ) -> ReplaceResult:
        name = old["Name"].lstrip("/")
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
        entry = self.journal.begin(
            new_entry(name, old["Id"], bool(old["State"].get("Running")), image, new_image_id)
        )
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
            try:
                self._execute(rollback_plan(entry, self._observe(entry)))
            except DockerException as rollback_exc:
                # The journal entry stays: `recover` (or the next run) tries again.
                result.reason = (
                    f"{_reason(exc)}; the rollback failed too: {_reason(rollback_exc)} "
                    "(left for `watch-docker recover`)"
                )
                return result
            self.journal.finish(entry)
            result.result, result.reason = "rolled_back", _reason(exc)
            return result
        entry = self._step(entry, "healthy")
        self._finish(entry, old["Image"])
        result.result = "updated"
        return result

    def _step(self, entry: JournalEntry, step: Step, **changes: object) -> JournalEntry:
        entry = self.journal.advance(entry, step, **changes)
        _fault_point(step)
        return entry

    def _finish(self, entry: JournalEntry, old_image_id: str) -> None:
        if self.remove_old:
            self.api.remove_container(entry.old_id, v=False, force=True)
        if self.cleanup and self.remove_old:
            # Refused while another container uses it, or another name holds it: then it stays.
            with contextlib.suppress(APIError):
                self.api.remove_image(old_image_id)
        self.journal.finish(entry)

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

    def _execute(self, actions: list[Action]) -> None:
        for action in actions:
            if action.kind == "remove":
                self.api.remove_container(action.container, v=False, force=True)
            elif action.kind == "rename":
                self.api.rename(action.container, action.name)
            elif action.kind == "start":
                self._start_with_retries(action.container)
            elif action.kind == "stop":
                self.api.stop(action.container)

    def _start_with_retries(self, container_id: str) -> None:
        for attempt in Retrying(
            stop=stop_after_attempt(_RESTART_ATTEMPTS),
            wait=wait_exponential(multiplier=0.5, max=8),
            retry=retry_if_exception_type(APIError),
            reraise=True,
        ):
            with attempt:
                self.api.start(container_id)

    def recover(self) -> list[RecoveryResult]:
        """Finish or undo every update whose process died (run before any new update)."""
        done = []
        for entry in self.journal.abandoned():
            outcome, actions = recovery_plan(entry, self._observe(entry))
            self._execute(actions)
            self.journal.finish(entry)
            done.append(RecoveryResult(entry.name, outcome, actions))
        return done


def _reason(exc: Exception) -> str:
    if isinstance(exc, APIError):
        return f"the engine refused: {exc.explanation or exc}"
    return str(exc)
