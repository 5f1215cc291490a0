"""Notifications: the messages of a run, apprise really POSTing to a receiver on loopback, and
apprise URLs (which carry tokens) kept out of logs, reprs and configuration errors."""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path
from typing import Any

import apprise
import pytest
from pydantic import SecretStr
from receiver import Receiver

from watchdocker.config import ENV_VARS, ConfigError, load_settings
from watchdocker.notify import (
    Message,
    Notifier,
    UpdateOutcome,
    problem_alert,
    run_summary,
    update_outcomes,
    update_run_messages,
)
from watchdocker.update.plan import PlannedUpdate, UpdateReport, UpdateResult

SECRET = "topsecret"
PATH_SECRET = "pathsecret"
OLD = "sha256:" + "0123456789ab" + "c" * 52
NEW = "sha256:" + "fedcba987654" + "d" * 52


def outcome(name: str, result: Any, **fields: Any) -> UpdateOutcome:
    return UpdateOutcome(name=name, image=f"example/{name}:latest", result=result, **fields)


# --- messages ------------------------------------------------------------------------------


def test_summary_lists_updated_rolled_back_and_failed() -> None:
    message = run_summary(
        [
            outcome("web", "updated", old_digest=OLD, new_digest=NEW),
            outcome(
                "api", "rolled_back", reason="health check failed", old_digest=OLD, new_digest=NEW
            ),
            outcome("db", "failed", reason="pull denied", old_digest=OLD),
            outcome("cache", "up_to_date"),
            outcome("local", "skipped", reason="local build"),
        ],
        run_url="http://127.0.0.1:4200/runs/flow-run/1",
    )
    assert message is not None
    assert message.level == "failure"
    assert message.title == "watch-docker: 1 updated, 1 rolled back, 1 failed"
    assert message.body.splitlines() == [
        "Updated (1):",
        "- web (example/web:latest): 0123456789ab → fedcba987654",
        "Rolled back (1):",
        "- api (example/api:latest): 0123456789ab → fedcba987654 — health check failed",
        "Failed (1):",
        "- db (example/db:latest): 0123456789ab → ? — pull denied",
        "Unchanged: 1 up to date, 1 skipped.",
        "Run: http://127.0.0.1:4200/runs/flow-run/1",
    ]
    assert OLD not in message.body  # only the short form


@pytest.mark.parametrize(
    ("results", "level"),
    [(["updated"], "info"), (["updated", "rolled_back"], "warning"), (["failed"], "failure")],
)
def test_summary_level_is_the_worst_result(results: list[str], level: str) -> None:
    message = run_summary([outcome(f"c{i}", r) for i, r in enumerate(results)])
    assert message is not None
    assert message.level == level
    assert "Run:" not in message.body and "Unchanged" not in message.body


@pytest.mark.parametrize(
    "outcomes",
    [[], [outcome("a", "skipped")], [outcome("a", "up_to_date"), outcome("b", "skipped")]],
)
def test_no_summary_when_nothing_changed_or_went_wrong(outcomes: list[UpdateOutcome]) -> None:
    assert run_summary(outcomes) is None


def test_alert_on_rollback_and_failure_carries_the_reason() -> None:
    rolled = problem_alert(
        outcome("api", "rolled_back", reason="exited with 1", old_digest=OLD, new_digest=NEW),
        run_url="http://ui/run",
    )
    assert (rolled.title, rolled.level) == ("watch-docker: api rolled back", "warning")
    assert rolled.body.splitlines() == [
        "Container: api",
        "Image: example/api:latest",
        "Digest: 0123456789ab → fedcba987654",
        "Reason: exited with 1",
        "Run: http://ui/run",
    ]
    failed = problem_alert(outcome("db", "failed"))
    assert (failed.title, failed.level) == ("watch-docker: updating db failed", "failure")
    assert failed.body.splitlines() == [
        "Container: db",
        "Image: example/db:latest",
        "Reason: not given",
    ]


@pytest.mark.parametrize("result", ["updated", "skipped", "up_to_date"])
def test_no_alert_for_a_container_without_a_problem(result: str) -> None:
    with pytest.raises(ValueError):
        problem_alert(outcome("web", result))


# --- a real receiver -----------------------------------------------------------------------


def test_outcomes_carry_the_digests_of_what_was_planned() -> None:
    planned = [PlannedUpdate(container_id="1", name="web", image="i", remote_digest=NEW,
                             local_digest=OLD)]  # fmt: skip
    report = UpdateReport(
        results=[
            UpdateResult(name="web", image="i", result="updated"),
            UpdateResult(name="db", image="d", result="up_to_date"),  # never planned
        ]
    )
    outcomes = update_outcomes(report, planned)
    assert [(o.name, o.result, o.old_digest, o.new_digest) for o in outcomes] == [
        ("web", "updated", OLD, NEW),
        ("db", "up_to_date", None, None),
    ]


def test_an_update_run_sends_its_summary_then_one_alert_per_problem() -> None:
    outcomes = [
        outcome("web", "updated"),
        outcome("api", "rolled_back", reason="unhealthy"),
        outcome("db", "failed", reason="pull failed"),
    ]
    messages = update_run_messages(outcomes, "http://ui/run")
    assert [m.title for m in messages] == [
        "watch-docker: 1 updated, 1 rolled back, 1 failed",
        "watch-docker: api rolled back",
        "watch-docker: updating db failed",
    ]
    assert update_run_messages([outcome("web", "up_to_date")], None) == []


def dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


MESSAGE = Message(title="watch-docker: 1 updated", body="- web: a → b", level="info")


@pytest.mark.parametrize("level", ["info", "warning", "failure"])
@pytest.mark.parametrize("scheme", ["json", "form"])
def test_apprise_posts_title_body_and_type(receiver: Receiver, scheme: str, level: Any) -> None:
    notifier = Notifier([SecretStr(f"{scheme}://127.0.0.1:{receiver.port}/hook")])
    assert notifier.send(Message(title="the title", body="the body\nline 2", level=level))
    [got] = receiver.received
    assert got.path == "/hook"
    fields = got.fields()
    assert (fields["title"], fields["message"], fields["type"]) == (
        "the title",
        "the body\nline 2",
        level,
    )


def test_every_url_is_told_once(receiver: Receiver) -> None:
    url = f"json://127.0.0.1:{receiver.port}/a"
    notifier = Notifier([SecretStr(url), url, f"form://127.0.0.1:{receiver.port}/b"])
    assert len(notifier) == 2
    assert notifier.send(MESSAGE)
    assert sorted(r.path for r in receiver.received) == ["/a", "/b"]


def test_no_urls_is_nothing_to_fail() -> None:
    assert Notifier([]).send(MESSAGE)


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert SECRET not in text, text
        assert PATH_SECRET not in text, text


def test_apprise_logs_the_secret_on_its_own(caplog: pytest.LogCaptureFixture) -> None:
    """Why Notifier withholds apprise's records: apprise logs an unparseable URL whole (ERROR)
    and webhook URLs with their tokens (DEBUG). This control also shows the checks below would
    see a leak."""
    caplog.set_level(logging.DEBUG)
    target = apprise.Apprise()
    assert not target.add(f"json://user:{SECRET}@")
    target.add(f"json://127.0.0.1:{dead_port()}/hook/{PATH_SECRET}")
    assert not target.notify(body="b", title="t")
    assert SECRET in caplog.text and PATH_SECRET in caplog.text


def test_dead_port_fails_without_raising_or_logging_the_url(
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)  # apprise and urllib3 log URLs at DEBUG
    url = f"json://user:{SECRET}@127.0.0.1:{dead_port()}/hook/{PATH_SECRET}"
    notifier = Notifier([SecretStr(url)])
    assert notifier.send(MESSAGE) is False
    out, err = capfd.readouterr()
    assert_no_secret(caplog.text, out, err, repr(notifier))
    [record] = [r for r in caplog.records if r.name == "watchdocker.notify"]
    assert record.levelno == logging.WARNING
    assert 'url="json:// (1 of 1)"' in record.getMessage()
    assert 'err="connection error"' in record.getMessage()
    assert "127.0.0.1" not in record.getMessage()  # not even the host


def test_refused_notification_is_logged_with_the_status(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    receiver.status = 500
    good = f"form://127.0.0.1:{receiver.port}/ok"
    notifier = Notifier([f"json://user:{SECRET}@127.0.0.1:{receiver.port}/{PATH_SECRET}", good])
    assert notifier.send(MESSAGE) is False
    assert len(receiver.received) == 2  # the first failing does not stop the second
    assert_no_secret(caplog.text)
    assert 'url="json:// (1 of 2)" err="HTTP 500"' in caplog.text
    assert 'url="form:// (2 of 2)" err="HTTP 500"' in caplog.text


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"json://user:{SECRET}@", "json://"),  # apprise logs this one whole at ERROR
        (f"nosuchservice://user:{SECRET}@host/{PATH_SECRET}", "nosuchservice://"),
        (SECRET, "(no scheme)"),  # no scheme: could be the bare token
    ],
)
def test_url_apprise_cannot_parse(url: str, shown: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    notifier = Notifier([SecretStr(url)])
    assert notifier.send(MESSAGE) is False
    assert_no_secret(caplog.text, repr(notifier))
    assert f'url="{shown} (1 of 1)" err="apprise cannot parse this URL"' in caplog.text


def test_a_plugin_that_raises_is_a_failed_send(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(*_: object, **__: object) -> bool:
        raise RuntimeError(f"cannot reach json://user:{SECRET}@host/{PATH_SECRET}")

    notifier = Notifier([f"json://user:{SECRET}@127.0.0.1:1/{PATH_SECRET}"])
    monkeypatch.setattr(apprise.Apprise, "notify", explode)
    assert notifier.send(MESSAGE) is False
    assert_no_secret(caplog.text)
    assert 'err="apprise raised RuntimeError"' in caplog.text


def test_apprise_logs_pass_again_after_a_send(caplog: pytest.LogCaptureFixture) -> None:
    """Withholding lasts only while a Notifier is in apprise."""
    Notifier([f"json://127.0.0.1:{dead_port()}/x"]).send(MESSAGE)
    caplog.set_level(logging.WARNING)
    logging.getLogger("apprise").warning("after the send")
    assert "after the send" in caplog.text


def test_a_logger_can_be_given(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("watchdocker.test.flow")
    Notifier([f"json://127.0.0.1:{dead_port()}/x"], logger=logger).send(MESSAGE)
    assert [r.name for r in caplog.records] == ["watchdocker.test.flow"]


# --- configuration -------------------------------------------------------------------------


@pytest.fixture
def config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An explicit (so no default path is searched) config file, and no WATCH_* from outside."""
    for name in list(os.environ):
        if name.startswith("WATCH_"):
            monkeypatch.delenv(name)
    path = tmp_path / "config.yaml"
    path.write_text("")
    return path


def test_notify_urls_from_the_file(config: Path) -> None:
    config.write_text(f"notify:\n  urls:\n    - json://user:{SECRET}@host/hook\n    - ntfy://t\n")
    settings = load_settings(config)
    urls = [url.get_secret_value() for url in settings.notify.urls]
    assert urls == [f"json://user:{SECRET}@host/hook", "ntfy://t"]
    assert SECRET not in repr(settings) + str(settings) + settings.model_dump_json()


def test_notify_urls_from_the_environment_win(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert ENV_VARS["WATCH_NOTIFY_URLS"] == ("notify", "urls")
    config.write_text("notify:\n  urls: [json://file/hook]\n")
    monkeypatch.setenv("WATCH_NOTIFY_URLS", f" json://u:{SECRET}@h/p , form://h2/p,")
    urls = [url.get_secret_value() for url in load_settings(config).notify.urls]
    assert urls == [f"json://u:{SECRET}@h/p", "form://h2/p"]


def test_no_notify_urls_by_default(config: Path) -> None:
    assert load_settings(config).notify.urls == []


@pytest.mark.parametrize(
    ("text", "env", "where"),
    [
        (f"notify: json://user:{SECRET}@host\n", None, "notify:"),  # the section as a URL
        (f"notify:\n  urls: [{SECRET}]\n", None, "notify.urls.0: not an apprise URL"),
        (f"notify:\n  url: json://{SECRET}@host\n", None, "notify.url: unknown setting"),
        (f"notify:\n  urls: {{a: json://{SECRET}@h}}\n", None, "notify.urls (WATCH_NOTIFY_URLS)"),
        (f"notify:\n  urls: [[json://{SECRET}@h]]\n", None, "notify.urls.0"),
        ("notify:\n  urls: [8675309123]\n", None, "notify.urls.0"),  # a number, still not shown
        (None, f"json://h/p, {SECRET}", "notify.urls.1: not an apprise URL"),
        (f"notify:\n  urls: [json://u:{SECRET}@h]\nscan:\n  concurrency: many\n", None, "scan"),
    ],
)
def test_a_bad_notify_value_is_never_shown(
    config: Path, monkeypatch: pytest.MonkeyPatch, text: str | None, env: str | None, where: str
) -> None:
    if text is not None:
        config.write_text(text)
    if env is not None:
        monkeypatch.setenv("WATCH_NOTIFY_URLS", env)
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    message = str(caught.value)
    assert where in message
    for shown in (message, repr(caught.value)):
        assert SECRET not in shown and "8675309123" not in shown, shown
