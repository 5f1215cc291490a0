"""The embedded server's lighter settings: Prefect reads each as meant (a misspelt name would
be ignored without a word), and the services watch-docker relies on stay on."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest
from prefect.settings.models.server.root import ServerSettings
from prefect.settings.models.server.services import ServerServicesSettings

from watchdocker.deployments import embedded_server
from watchdocker.deployments.server_services import (
    PREFECT_DEFAULTS_SWITCH,
    as_prefect_ships,
    lean_environment,
)


@pytest.fixture
def services_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in lean_environment().items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def services(services_env: None) -> ServerServicesSettings:
    return ServerServicesSettings()


def test_each_prefect_setting_changes_what_prefect_reads(monkeypatch):
    default = ServerSettings().model_dump()
    for name, value in lean_environment().items():
        if name.startswith("PREFECT_"):
            with monkeypatch.context() as one:
                one.setenv(name, value)
                assert ServerSettings().model_dump() != default, name


def test_the_server_imports_no_collection_to_register_their_blocks(services_env):
    settings = ServerSettings()
    assert not settings.register_blocks_on_start
    assert not settings.memoize_block_auto_registration


def test_unused_services_are_off_and_the_rest_look_less_often(services):
    assert not services.triggers.enabled
    assert not services.cleanup_reconciler.enabled
    assert services.foreman.loop_seconds == 60
    assert services.late_runs.loop_seconds == 15
    assert services.scheduler.recent_deployments_loop_seconds == 10


def test_what_watch_docker_relies_on_stays_on(services):
    for service in (
        services.scheduler,  # schedules fire
        services.late_runs,
        services.pause_expirations,  # approvals time out
        services.cancellation_cleanup,
        services.repossessor,  # a killed update's slot frees itself
        services.event_persister,  # the UI's events; their vacuum needs it
        services.task_run_recorder,  # the UI's task runs
        services.foreman,
    ):
        assert service.enabled, type(service).__name__
    assert services.pause_expirations.loop_seconds == 5


@pytest.mark.parametrize(
    ("value", "shipped"),
    [("true", True), ("1", True), (" YES ", True), ("false", False), ("", False)],
)
def test_the_switch_back_to_prefect_defaults(monkeypatch, value, shipped):
    monkeypatch.setenv(PREFECT_DEFAULTS_SWITCH, value)
    assert as_prefect_ships() is shipped


def _no_upgrade(*args: object, **kwargs: object) -> None:
    raise AssertionError("the migrations ran again")


def test_migrations_are_skipped_when_this_version_ran_them(monkeypatch, home: Path):
    (home / "prefect.db").write_bytes(b"")
    (home / embedded_server.MIGRATED_FILE).write_text(embedded_server.version("prefect"))
    monkeypatch.setattr(embedded_server.subprocess, "run", _no_upgrade)
    embedded_server.migrate_once(home)
    assert os.environ["PREFECT_SERVER_DATABASE_MIGRATE_ON_START"] == "false"


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A Prefect home, with a cache of templates of its own (empty)."""
    monkeypatch.delenv("PREFECT_SERVER_DATABASE_MIGRATE_ON_START", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "home").mkdir()
    return tmp_path / "home"


def _template() -> Path:
    return embedded_server.template_folder() / f"prefect-{embedded_server.version('prefect')}.db"


def _upgrades(monkeypatch: pytest.MonkeyPatch, home: Path) -> list[list[str]]:
    """The upgrade commands run, each writing the database as Prefect's would."""
    commands: list[list[str]] = []

    def upgrade(command: list[str], **kwargs: object) -> None:
        commands.append(command)
        (home / "prefect.db").write_bytes(b"migrated")

    monkeypatch.setattr(embedded_server.subprocess, "run", upgrade)
    return commands


@pytest.mark.parametrize("state", ["no database", "no marker", "older version"])
def test_migrations_run_first_for_a_new_database_or_version(monkeypatch, home: Path, state):
    if state != "no database":
        (home / "prefect.db").write_bytes(b"")
    if state == "older version":
        (home / embedded_server.MIGRATED_FILE).write_text("3.0.0\n")
    commands = _upgrades(monkeypatch, home)
    embedded_server.migrate_once(home)
    assert commands and commands[0][-4:] == ["server", "database", "upgrade", "-y"]
    marker = (home / embedded_server.MIGRATED_FILE).read_text().strip()
    assert marker == embedded_server.version("prefect")
    assert os.environ["PREFECT_SERVER_DATABASE_MIGRATE_ON_START"] == "false"
    # Only a database that was new is kept as the template: never one holding someone's runs.
    assert _template().exists() is (state == "no database")


def test_the_first_new_database_becomes_the_template_of_the_next(monkeypatch, home: Path):
    _upgrades(monkeypatch, home)
    embedded_server.migrate_once(home)
    template = _template()
    assert template.read_bytes() == b"migrated"
    assert stat.S_IMODE(template.stat().st_mode) == 0o600
    assert stat.S_IMODE(template.parent.stat().st_mode) == 0o700

    other = home.parent / "other"
    other.mkdir()
    monkeypatch.setattr(embedded_server.subprocess, "run", _no_upgrade)
    embedded_server.migrate_once(other)
    assert (other / "prefect.db").read_bytes() == b"migrated"
    assert stat.S_IMODE((other / "prefect.db").stat().st_mode) == 0o600
    marker = (other / embedded_server.MIGRATED_FILE).read_text().strip()
    assert marker == embedded_server.version("prefect")
    assert os.environ["PREFECT_SERVER_DATABASE_MIGRATE_ON_START"] == "false"


@pytest.mark.parametrize("template", ["a link", "of another version", "a folder"])
def test_a_template_that_is_not_this_version_s_file_is_not_used(monkeypatch, home, template):
    folder = embedded_server.template_folder()
    folder.mkdir(parents=True)
    elsewhere = home.parent / "elsewhere.db"
    elsewhere.write_bytes(b"someone's")
    if template == "a link":
        _template().symlink_to(elsewhere)
    elif template == "a folder":
        _template().mkdir()
    else:
        (folder / "prefect-3.0.0.db").write_bytes(b"old")
    commands = _upgrades(monkeypatch, home)
    embedded_server.migrate_once(home)
    assert commands
    assert (home / "prefect.db").read_bytes() == b"migrated"


def test_a_database_the_user_named_is_migrated_by_prefect_on_start(monkeypatch, tmp_path: Path):
    monkeypatch.delenv("PREFECT_SERVER_DATABASE_MIGRATE_ON_START", raising=False)
    monkeypatch.setenv("PREFECT_SERVER_DATABASE_CONNECTION_URL", "postgresql+asyncpg://x/y")
    monkeypatch.setattr(embedded_server.subprocess, "run", _no_upgrade)
    embedded_server.migrate_once(tmp_path)
    assert "PREFECT_SERVER_DATABASE_MIGRATE_ON_START" not in os.environ


def test_the_server_polls_its_task_queue_every_5_seconds(monkeypatch):
    import docket.worker
    from docket import Docket

    # Restored after the test: the change is meant for the server's process only.
    monkeypatch.setattr(docket.worker.Worker, "__init__", docket.worker.Worker.__init__)
    embedded_server.slow_docket_polling()
    worker = docket.worker.Worker(Docket(name="idle-test", url="memory://"))
    assert worker.minimum_check_interval == embedded_server.DOCKET_POLL
    assert worker.scheduling_resolution == embedded_server.DOCKET_POLL
    assert embedded_server.DOCKET_POLL.total_seconds() <= 5  # services loop every 5 s or more


def test_a_pubsub_wait_is_one_thread_hop_a_second_and_a_message_ends_it(monkeypatch):
    """docket's cancellation listener asks every 0.1 s: each ask was a hop to a worker thread."""
    from burner_redis import BurnerRedis
    from burner_redis.pubsub import PubSub

    monkeypatch.setattr(PubSub, "_queue_get", PubSub._queue_get)  # restored after the test
    embedded_server.slow_pubsub_waits()
    hops: list[object] = []
    to_thread = asyncio.to_thread

    async def counted(function, *args):
        hops.append(function)
        return await to_thread(function, *args)

    monkeypatch.setattr(asyncio, "to_thread", counted)

    async def listen() -> tuple[int, dict | None, float]:
        client = BurnerRedis()
        pubsub = client.pubsub()
        await pubsub.psubscribe("cancel:*")
        assert (await pubsub.get_message(timeout=0.1))["type"] == "psubscribe"
        loop = asyncio.get_running_loop()
        hops.clear()
        started = loop.time()
        while loop.time() - started < 2.5:  # the listener's loop, with nothing to hear
            assert await pubsub.get_message(timeout=0.1) is None
        idle_hops = len(hops)
        loop.call_later(0.1, lambda: asyncio.ensure_future(client.publish("cancel:run", "1")))
        asked = loop.time()
        message = await pubsub.get_message(timeout=0.1)
        return idle_hops, message, loop.time() - asked

    idle_hops, message, waited = asyncio.run(listen())
    assert idle_hops <= 3, idle_hops  # once a second, where it was 25 times
    assert message is not None and message["type"] == "pmessage" and message["data"] == b"1"
    assert waited < embedded_server.PUBSUB_WAIT  # the message ended the wait
