"""What `watch-docker serve` counts as an outage, and when it says so: the Prefect server not
answering, its services (the scheduler above all) logging errors again and again, the Docker
engine out of reach. Plain Python, no Prefect, no I/O: `serving` feeds it what it observed.

Each condition is announced once when it begins and once when it ends, never once a minute."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

# A record of Prefect's console format, as `prefect server start` writes it to server.log:
# `00:21:07.153 | ERROR   | docket.dependencies - ↩ [00:00:00.02] schedule_deployments(...)`.
_RECORD = re.compile(
    r"^\d\d:\d\d:\d\d\.\d{3} \| (?P<level>[A-Z]+) *\| (?P<logger>\S+) - (?P<msg>.*)"
)
# Failures of the server itself, not of a client that sent it a bad request.
_SERVER_LOGGERS = ("prefect.server", "docket", "uvicorn.error")
# docket names the failed perpetual service by its function: `schedule_deployments(...)`.
_SERVICE_CALL = re.compile(r"(?P<service>[a-z_][a-z0-9_]*)\(")
# The last line of a traceback: `sqlalchemy.exc.InvalidRequestError: Can't evaluate ...`.
_EXCEPTION_LINE = re.compile(r"^(?:[\w.]+\.)?(?P<type>[A-Z]\w*(?:Error|Exception)): (?P<text>.*)")
_DETAIL_LENGTH = 160


@dataclass(frozen=True)
class ServiceError:
    service: str  # the perpetual service's function, else the logger's name
    detail: str  # the exception (type: text), else the log message; shortened


def service_errors(lines: Iterable[str]) -> list[ServiceError]:
    """The ERROR and CRITICAL records of server loggers among `lines` of server.log, each with
    the exception its traceback ends with when the traceback is among the lines."""
    found: list[ServiceError] = []
    current: ServiceError | None = None
    for line in lines:
        record = _RECORD.match(line)
        if record:
            if current:
                found.append(current)
            current = _error_of(record)
            continue
        exception = _EXCEPTION_LINE.match(line.strip())
        if current and exception:
            detail = f"{exception['type']}: {exception['text']}"
            current = ServiceError(current.service, _shorten(detail))
    if current:
        found.append(current)
    return found


def _error_of(record: re.Match[str]) -> ServiceError | None:
    if record["level"] not in ("ERROR", "CRITICAL"):
        return None
    if not record["logger"].startswith(_SERVER_LOGGERS):
        return None
    call = _SERVICE_CALL.search(record["msg"]) if record["logger"].startswith("docket") else None
    return ServiceError(call["service"] if call else record["logger"], _shorten(record["msg"]))


def _shorten(text: str) -> str:
    text = text.strip()
    return text if len(text) <= _DETAIL_LENGTH else text[: _DETAIL_LENGTH - 1] + "…"


class RepeatedErrors:
    """Errors of the server's services over a sliding window: one error may be a blip; a
    service that fails `threshold` times within `window` seconds keeps failing (the scheduler
    loops every 60 s, so the default window holds three of its loops)."""

    def __init__(self, window: float = 180.0, threshold: int = 2) -> None:
        self.window = window
        self.threshold = threshold
        self._seen: deque[tuple[float, ServiceError]] = deque()

    def add(self, errors: Iterable[ServiceError], now: float) -> None:
        self._seen.extend((now, error) for error in errors)

    def problem(self, now: float) -> str | None:
        """What keeps failing, in words, or None when nothing does."""
        while self._seen and self._seen[0][0] < now - self.window:
            self._seen.popleft()
        counts: dict[str, int] = {}
        last: dict[str, str] = {}
        for _, error in self._seen:
            counts[error.service] = counts.get(error.service, 0) + 1
            last[error.service] = error.detail
        failing = [service for service, count in counts.items() if count >= self.threshold]
        if not failing:
            return None
        return "; ".join(
            f"{service} failed {counts[service]} times in {self.window:.0f}s "
            f"(last: {last[service]})"
            for service in failing
        )


@dataclass(frozen=True)
class Announcement:
    condition: str
    text: str
    recovered: bool  # False: the outage begins; True: it ended


class Outages:
    """Which conditions are down. `observe` returns an Announcement only when one changes:
    after `confirm` problem observations in a row (a single failed probe is not an outage),
    and at the first good observation after that."""

    def __init__(self) -> None:
        self._down: set[str] = set()
        self._streak: dict[str, int] = {}

    def observe(self, condition: str, problem: str | None, confirm: int = 1) -> Announcement | None:
        if problem is None:
            self._streak.pop(condition, None)
            if condition not in self._down:
                return None
            self._down.discard(condition)
            return Announcement(condition, f"{condition} is back", recovered=True)
        self._streak[condition] = self._streak.get(condition, 0) + 1
        if condition in self._down or self._streak[condition] < confirm:
            return None
        self._down.add(condition)
        return Announcement(condition, f"{condition}: {problem}", recovered=False)

    @property
    def down(self) -> frozenset[str]:
        return frozenset(self._down)
