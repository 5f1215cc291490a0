"""The embedded server's retention: Prefect's settings from server.eventRetention/runRetention."""

from __future__ import annotations

from datetime import timedelta

from prefect.settings.models.server.events import ServerEventsSettings
from prefect.settings.models.server.services import ServerServicesDBVacuumSettings

from watchdocker.config import PrefectConfig, Settings
from watchdocker.deployments.server_retention import retention_environment


def test_defaults_keep_events_a_day_and_runs_a_week():
    env = retention_environment(Settings())
    assert env["PREFECT_SERVER_EVENTS_RETENTION_PERIOD"] == "PT86400S"
    assert env["PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD"] == str(7 * 86400)


def test_prefect_reads_them_as_meant(monkeypatch):
    server = PrefectConfig(eventRetention=timedelta(hours=6), runRetention=timedelta(days=7))
    for name, value in retention_environment(Settings(prefect=server)).items():
        monkeypatch.setenv(name, value)
    assert ServerEventsSettings().retention_period == timedelta(hours=6)
    vacuum = ServerServicesDBVacuumSettings()
    assert vacuum.enabled == {"events", "flow_runs"}
    assert vacuum.retention_period == timedelta(days=7)
