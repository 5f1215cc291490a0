"""watch-docker's own lines where Prefect's serve banner was."""

from __future__ import annotations

from watchdocker.deployments.serving import serve_hint
from watchdocker.deployments.specs import DeploymentSpec

SPECS = [
    DeploymentSpec("scan", "watchdocker.flows.scan.scan", "", interval=3600.0),
    DeploymentSpec("update", "watchdocker.flows.update.update", ""),
    DeploymentSpec("auto-update", "watchdocker.flows.update.auto_update", "", cron="0 4 * * *"),
    DeploymentSpec("quick", "watchdocker.flows.scan.scan", "", interval=90.0),
    DeploymentSpec("odd", "watchdocker.flows.scan.scan", "", interval=45.0),
]


def test_the_hint_names_each_schedule_and_watch_dockers_commands() -> None:
    lines = serve_hint(SPECS, None)
    assert lines[0] == (
        "watch-docker: serving scan (every 1h), update (on demand), "
        "auto-update (cron 0 4 * * *), quick (every 90s), odd (every 45s)"
    )
    commands = [line.strip() for line in lines[2:]]
    assert commands[0] == "watch-docker scan"
    assert commands[1].startswith("watch-docker update NAME")
    assert not any("prefect deployment run" in line for line in lines)


def test_the_commands_carry_serves_config_file_quoted() -> None:
    lines = serve_hint(SPECS[:1], "/etc/my watch/config.yaml")
    assert "    watch-docker scan --config '/etc/my watch/config.yaml'" in lines
