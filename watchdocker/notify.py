"""Notifications through apprise: what to say (`run_summary`, `problem_alert`,
`updates_available`, `approval_verdict`) and how to send it (`Notifier`), without Prefect.

Apprise URLs carry their tokens inline (`discord://id/token`, `json://user:pass@host/path`), so
they are handled as SecretStr and never logged. Apprise itself logs them: at DEBUG the webhook
URL with its token ("Discord POST URL: https://discord.com/api/webhooks/<id>/<token>", "Socket
Exception: ... url: /services/<token>"), urllib3 logs the request path at DEBUG, and a URL apprise
cannot parse is logged at ERROR as written ("Unparseable JSON URL json://user:pass@"). Its
WARNINGs ("Failed to send JSON POST notification: ..., error=500.") name no URL in the plugins
checked, but there are 150 of them; so while a Notifier talks to apprise, nothing apprise or
urllib3 logs reaches a handler, and the Notifier logs its own line naming only the URL's scheme.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import apprise
from pydantic import SecretStr

from watchdocker.availability import NewImage
from watchdocker.digests import short_digest
from watchdocker.logs import log_event
from watchdocker.update.plan import PlannedUpdate, UpdateReport, UpdateResult, UpdateResultKind

log = logging.getLogger(__name__)

Level = Literal["info", "warning", "failure"]


class UpdateOutcome(UpdateResult):
    """What an update run did to one container, with the digests a person recognises."""

    old_digest: str | None = None
    new_digest: str | None = None


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    level: Level


# --- what to say ---------------------------------------------------------------------------

_HEADINGS: dict[UpdateResultKind, str] = {
    "updated": "Updated",
    "rolled_back": "Rolled back",
    "failed": "Failed",
}
_UNCHANGED: dict[UpdateResultKind, str] = {"up_to_date": "up to date", "skipped": "skipped"}


def _digests(outcome: UpdateOutcome) -> str:
    if not (outcome.old_digest or outcome.new_digest):
        return ""
    old, new = short_digest(outcome.old_digest) or "?", short_digest(outcome.new_digest) or "?"
    return f"{old} → {new}"


def _line(outcome: UpdateOutcome) -> str:
    line = f"- {outcome.name} ({outcome.image})"
    if digests := _digests(outcome):
        line += f": {digests}"
    if outcome.reason:
        line += f" — {outcome.reason}"
    return line


def run_summary(outcomes: list[UpdateOutcome], run_url: str | None = None) -> Message | None:
    """One message for a run: updated, rolled back and failed containers with old → new digest.
    None when the run changed nothing and nothing went wrong (only skipped / up to date)."""
    groups = {result: [o for o in outcomes if o.result == result] for result in _HEADINGS}
    if not any(groups.values()):
        return None
    counts = [f"{len(group)} {_HEADINGS[r].lower()}" for r, group in groups.items() if group]
    lines: list[str] = []
    for result, group in groups.items():
        if group:
            lines += [f"{_HEADINGS[result]} ({len(group)}):", *map(_line, group)]
    unchanged = [
        f"{count} {label}"
        for result, label in _UNCHANGED.items()
        if (count := sum(o.result == result for o in outcomes))
    ]
    if unchanged:
        lines.append(f"Unchanged: {', '.join(unchanged)}.")
    if run_url:
        lines.append(f"Run: {run_url}")
    level: Level = "failure" if groups["failed"] else "warning" if groups["rolled_back"] else "info"
    return Message(f"watch-docker: {', '.join(counts)}", "\n".join(lines), level)


def problem_alert(outcome: UpdateOutcome, run_url: str | None = None) -> Message:
    """The alert sent as soon as an update is rolled back or fails, with its reason."""
    level: Level
    if outcome.result == "rolled_back":
        title, level = f"watch-docker: {outcome.name} rolled back", "warning"
    elif outcome.result == "failed":
        title, level = f"watch-docker: updating {outcome.name} failed", "failure"
    else:
        raise ValueError(f"no alert for a container that was {outcome.result}")
    lines = [f"Container: {outcome.name}", f"Image: {outcome.image}"]
    if digests := _digests(outcome):
        lines.append(f"Digest: {digests}")
    lines.append(f"Reason: {outcome.reason or 'not given'}")
    if run_url:
        lines.append(f"Run: {run_url}")
    return Message(title, "\n".join(lines), level)


def update_outcomes(report: UpdateReport, planned: Iterable[PlannedUpdate]) -> list[UpdateOutcome]:
    """The run's results with the digests each planned container went from and to."""
    digests = {p.name: (p.local_digest, p.remote_digest) for p in planned}
    return [
        UpdateOutcome(
            **r.model_dump(),
            old_digest=digests.get(r.name, (None, None))[0],
            new_digest=digests.get(r.name, (None, None))[1],
        )
        for r in report.results
    ]


def update_run_messages(outcomes: list[UpdateOutcome], run_url: str | None) -> list[Message]:
    """What an update run sends: its summary, then one alert per rollback or failure."""
    messages = [m for m in [run_summary(outcomes, run_url)] if m is not None]
    return messages + [
        problem_alert(o, run_url) for o in outcomes if o.result in ("rolled_back", "failed")
    ]


# A scan of a large fleet after a registry-wide push: the message stays readable.
MAX_LISTED = 50


def updates_available(new_images: list[NewImage], run_url: str | None = None) -> Message:
    """One message for a scan: the containers whose new image nobody was told of yet."""
    count = len(new_images)
    lines = [
        f"- {n.container} ({n.image}): {short_digest(n.current) or '?'} → {short_digest(n.new)}"
        for n in new_images[:MAX_LISTED]
    ]
    if count > MAX_LISTED:
        lines.append(f"… and {count - MAX_LISTED} more")
    if run_url:
        lines.append(f"Scan: {run_url}")
    title = f"watch-docker: {count} update{'s' if count != 1 else ''} available"
    return Message(title, "\n".join(lines), "info")


def approval_verdict(approved: bool, reason: str, names: str, run_url: str) -> Message:
    """How an update run's wait for approval ended (approved, rejected, timed out)."""
    verdict = "approved" if approved else "rejected"
    level: Level = "info" if approved else "warning"
    return Message(f"watch-docker: update {verdict}", f"{reason}: {names}. {run_url}", level)


# --- how to send it ------------------------------------------------------------------------


class _Withhold(logging.Filter):
    """On apprise's logger (and urllib3's, which logs request paths): while any Notifier is in
    apprise, no record passes; the sending thread's are kept so it can tell why a send failed.
    All of them, not only the sending thread's, because apprise may notify from worker threads;
    other urllib3 users lose only their DEBUG lines of those moments."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._active = 0
        self._local = threading.local()

    @contextmanager
    def capture(self) -> Iterator[list[logging.LogRecord]]:
        records: list[logging.LogRecord] = []
        with self._lock:
            self._active += 1
        self._local.records = records
        try:
            yield records
        finally:
            self._local.records = None
            with self._lock:
                self._active -= 1

    def filter(self, record: logging.LogRecord) -> bool:
        records = getattr(self._local, "records", None)
        if records is not None:
            records.append(record)
        return self._active == 0


_WITHHOLD = _Withhold()
# A filter on a logger sees only records made on that very logger: apprise logs everything on
# "apprise", urllib3 its request lines on "urllib3.connectionpool".
for _name in ("apprise", "urllib3.connectionpool"):
    logging.getLogger(_name).addFilter(_WITHHOLD)

_NOTIFY_TYPES = {
    "info": apprise.NotifyType.INFO,
    "warning": apprise.NotifyType.WARNING,
    "failure": apprise.NotifyType.FAILURE,
}
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]{0,31})://")
_HTTP_STATUS = re.compile(r"error=(\d{3})\b")


def _scheme(url: str) -> str:
    """`json://` for a json URL: all of a URL that may be shown. Text without a well-formed
    scheme may be the token itself, so none of it is."""
    match = _SCHEME.match(url.strip())
    return f"{match[1].lower()}://" if match else "(no scheme)"


def _reason(records: list[logging.LogRecord]) -> str:
    """Why apprise gave up, in words that cannot hold the URL: its warnings are matched, not
    quoted."""
    for record in records:
        if record.levelno < logging.WARNING:
            continue
        text = record.getMessage()
        if status := _HTTP_STATUS.search(text):
            return f"HTTP {status[1]}"
        if "connection error" in text.lower():
            return "connection error"
    return "rejected by apprise (its own messages are withheld: they can hold the URL)"


class Notifier:
    """Sends a Message to every URL, each through its own apprise.Apprise so a failure can be
    told apart per URL. Logs failures with the URL's scheme only; `send` never raises."""

    def __init__(
        self,
        urls: Iterable[SecretStr | str],
        logger: logging.Logger | logging.LoggerAdapter | None = None,
    ) -> None:
        self._log = logger or log
        # (scheme, Apprise); None where apprise cannot parse the URL.
        self._targets: list[tuple[str, apprise.Apprise | None]] = []
        # The same URL from the config and a block is one destination: told once.
        raws = (url.get_secret_value() if isinstance(url, SecretStr) else url for url in urls)
        for raw in dict.fromkeys(filter(None, (raw.strip() for raw in raws))):
            target = apprise.Apprise()
            with _WITHHOLD.capture():
                added = target.add(raw)
            self._targets.append((_scheme(raw), target if added else None))

    def __len__(self) -> int:
        return len(self._targets)

    def __repr__(self) -> str:
        return f"Notifier(schemes={[scheme for scheme, _ in self._targets]})"

    def send(self, message: Message) -> bool:
        """True when every URL took the message (and when there is none)."""
        delivered = True
        for index, (scheme, target) in enumerate(self._targets, start=1):
            reason = self._send_one(target, message)
            if reason is None:
                continue
            delivered = False
            log_event(
                self._log,
                logging.WARNING,
                "notification not sent",
                component="notify",
                action="send",
                url=f"{scheme} ({index} of {len(self._targets)})",
                err=reason,
            )
        return delivered

    @staticmethod
    def _send_one(target: apprise.Apprise | None, message: Message) -> str | None:
        """None when sent, else why not."""
        if target is None:
            return "apprise cannot parse this URL"
        with _WITHHOLD.capture() as records:
            try:
                sent = target.notify(
                    body=message.body,
                    title=message.title,
                    notify_type=_NOTIFY_TYPES[message.level],
                )
            except Exception as exc:  # a plugin bug must not fail the update run
                # Only the type: the exception's text may quote the URL.
                return f"apprise raised {type(exc).__name__}"
        return None if sent else _reason(records)
