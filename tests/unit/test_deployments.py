"""Deployments come from the settings; prefect.yaml is generated from the same specs."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import yaml

from watchdocker.config import Settings
from watchdocker.deployments.specs import deployment_specs, render_prefect_yaml

ROOT = Path(__file__).resolve().parents[2]


def by_name(settings: Settings) -> dict:
    return {spec.name: spec for spec in deployment_specs(settings)}


def test_defaults_scan_hourly_and_update_manually_with_no_automatic_updates():
    specs = by_name(Settings())
    assert set(specs) == {"scan", "update"}
    assert (specs["scan"].interval, specs["scan"].cron) == (3600.0, None)
    assert (specs["update"].interval, specs["update"].cron) == (None, None)


def test_schedules_follow_the_settings():
    settings = Settings(
        scan={"cron": "*/15 * * * *"},
        update={"enabled": True, "autoUpdateCron": "0 4 * * *"},
    )
    specs = by_name(settings)
    assert (specs["scan"].interval, specs["scan"].cron) == (None, "*/15 * * * *")
    assert specs["auto-update"].cron == "0 4 * * *"
    assert by_name(Settings(scan={"interval": timedelta(minutes=30)}))["scan"].interval == 1800


def test_committed_prefect_yaml_is_what_the_default_settings_generate():
    committed = (ROOT / "prefect.yaml").read_text()
    assert committed == render_prefect_yaml(deployment_specs(Settings())), (
        "prefect.yaml disagrees with the settings: run `watch-docker deployments`"
    )
    document = yaml.safe_load(committed)
    entrypoints = {d["name"]: d["entrypoint"] for d in document["deployments"]}
    assert entrypoints == {
        "scan": "watchdocker.flows.scan.scan",
        "update": "watchdocker.flows.update.update",
    }


def test_one_copy_per_host_on_its_own_work_queue():
    from watchdocker.deployments.specs import for_hosts

    specs = for_hosts(deployment_specs(Settings()), ["alpha", "beta"])
    assert sorted((s.name, s.work_queue) for s in specs) == [
        ("scan-alpha", "alpha"), ("scan-beta", "beta"),
        ("update-alpha", "alpha"), ("update-beta", "beta"),
    ]  # fmt: skip
    document = yaml.safe_load(render_prefect_yaml(specs))
    assert {d["work_pool"]["work_queue_name"] for d in document["deployments"]} == {"alpha", "beta"}
    assert document["pull"] == []
