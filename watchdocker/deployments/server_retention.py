"""How long the embedded Prefect server keeps what each run leaves: events (most of the ~0.6 MB
a scan adds to its SQLite database) for `server.eventRetention`, finished flow runs with their
task runs, logs and artifacts for `server.runRetention`. Prefect's database vacuum service
deletes older ones hourly; SQLite reuses the freed pages, so the file stops growing instead of
shrinking. Prefect's own defaults keep events 7 days and flow runs for ever."""

from __future__ import annotations

from watchdocker.config import Settings


def retention_environment(settings: Settings) -> dict[str, str]:
    """Prefect's settings for the server `start_local_server` starts; a PREFECT_* variable the
    user set wins over them."""
    events = int(settings.prefect.event_retention.total_seconds())
    runs = int(settings.prefect.run_retention.total_seconds())
    return {
        # An ISO 8601 duration: this setting does not take plain seconds.
        "PREFECT_SERVER_EVENTS_RETENTION_PERIOD": f"PT{events}S",
        "PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED": "events,flow_runs",
        "PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD": str(runs),
    }
