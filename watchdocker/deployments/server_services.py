"""What keeps the embedded Prefect server light when idle (bench/idle.py measures it): Prefect's
server services that watch-docker does not use are off, the others look less often, and the
process keeps fewer malloc arenas. A variable the user set wins over these, as with the
retention settings; WATCH_SERVER_PREFECT_DEFAULTS=true starts the server as Prefect ships it
(all of this and `embedded_server`'s cuts left out), to compare or to rule them out."""

from __future__ import annotations

import os

PREFECT_DEFAULTS_SWITCH = "WATCH_SERVER_PREFECT_DEFAULTS"
SERVICES = "PREFECT_SERVER_SERVICES_"
SERVER_LOG = "server.log"  # in the Prefect home: the local server's records (the outage watch)
# glibc gives each thread that allocates an arena of its own: the server's dozen threads kept
# ~35 MB of freed memory that way.
MALLOC_ARENAS = 2


def as_prefect_ships() -> bool:
    return os.environ.get(PREFECT_DEFAULTS_SWITCH, "").strip().lower() in {"1", "true", "yes"}


def lean_environment() -> dict[str, str]:
    """The environment for the server `start_local_server` starts. Kept as Prefect has them:
    the scheduler, late runs, pause expirations (approvals time out through them), the
    cancellation cleanup, the repossessor (the update slots' leases), the event persister and
    task-run recorder (the UI's runs and events), and the vacuum of `server_retention`."""
    return {
        # Automations (reactive and proactive triggers, and their actions): watch-docker defines
        # none; the proactive evaluation alone queried the database every 5 s.
        f"{SERVICES}TRIGGERS_ENABLED": "false",
        # Redelivers cleanup messages that workers leased: `serve` runs flows with Prefect's
        # Runner, which cancels its own runs; workers (Scale out) use a server of their own.
        f"{SERVICES}CLEANUP_RECONCILER_ENABLED": "false",
        # Marks deployments not ready once no serve polls them (the UI's status): a minute
        # late is soon enough for that, instead of looking every 15 s.
        f"{SERVICES}FOREMAN_LOOP_SECONDS": "60",
        # Only labels runs Late (missed runs are found by state type, `missed_runs`).
        f"{SERVICES}LATE_RUNS_LOOP_SECONDS": "15",
        # Schedules new or changed deployments at once; the main loop (60 s) does the rest.
        f"{SERVICES}SCHEDULER_RECENT_DEPLOYMENTS_LOOP_SECONDS": "10",
        # Block types are registered by the code that uses them (serve registers watch-docker's,
        # `serving.register_blocks`). Registering on start made the server import every installed
        # collection to find theirs (prefect-docker's worker, docker, requests): 11 MB it kept.
        "PREFECT_SERVER_REGISTER_BLOCKS_ON_START": "false",
        # The memo of that registration imports the collections too, to hash them.
        "PREFECT_SERVER_MEMOIZE_BLOCK_AUTO_REGISTRATION": "false",
        "MALLOC_ARENA_MAX": str(MALLOC_ARENAS),
    }
