"""A scan tells, through apprise, once per container and new image that an update is available:
the real engine, the test bed's registry, a real HTTP receiver for apprise's json:// URL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from receiver import Receiver

import testbed as tb
from watchdocker.container_status import ScanReport
from watchdocker.digests import short_digest

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("remove_containers")]


@pytest.fixture
def scan(prefect_server: str) -> Callable[[Path], ScanReport]:
    from watchdocker.flows.scan import scan as scan_flow

    return lambda config: scan_flow(config_file=str(config))


def told_of(receiver: Receiver, container: str) -> list[dict[str, str]]:
    """The update-available messages that name `container`."""
    messages = [r.fields() for r in receiver.received]
    return [m for m in messages if "available" in m["title"] and container in m["message"]]


def test_a_new_image_is_told_once_and_a_newer_one_again(scan, write_config, receiver):
    container, _, _ = tb.outdated_container("told")
    url = f"json://127.0.0.1:{receiver.port}/hook"
    config = write_config(scan={"cacheTTL": "0s"}, notify={"urls": [url]})

    first = {c.name: c for c in scan(config).containers}[container]
    assert first.status == "update_available", first.reason
    scan(config)
    [message] = told_of(receiver, container)
    line = f"- {container} ({first.image}): {short_digest(first.local_digest)} → "
    assert line + short_digest(first.remote_digest) in message["message"]

    ref = first.image
    newer = tb.build_image(ref, marker="told-3")
    assert newer
    newer_digest = tb.push(ref)
    second = {c.name: c for c in scan(config).containers}[container]
    assert second.remote_digest == newer_digest != first.remote_digest
    scan(config)
    told = told_of(receiver, container)
    assert len(told) == 2, told
    assert short_digest(newer_digest) in told[1]["message"]
    assert short_digest(first.remote_digest) not in told[1]["message"]


def test_switched_off_nothing_is_told(scan, write_config, receiver):
    container, _, _ = tb.outdated_container("untold")
    url = f"json://127.0.0.1:{receiver.port}/hook"
    config = write_config(
        scan={"cacheTTL": "0s"}, notify={"urls": [url], "onUpdateAvailable": False}
    )
    report = {c.name: c for c in scan(config).containers}
    assert report[container].status == "update_available"
    assert receiver.received == []
    # Switched on again, the pending update is told: nothing was recorded while it was off.
    config = write_config(scan={"cacheTTL": "0s"}, notify={"urls": [url]})
    scan(config)
    assert len(told_of(receiver, container)) == 1


def test_the_record_claims_a_digest_once_across_clients(prefect_server: str):
    """What makes two scans at once tell a new image only once: the first claim creates the
    entry, a second one for the same digest is refused; a newer digest is claimed again."""
    from prefect.client.orchestration import get_client

    from watchdocker.tasks.availability import ToldRecord

    engine, container = f"engine-{tb.RUN_ID}", f"wdt-{tb.RUN_ID}-claimed"
    old, new = "sha256:" + "1" * 64, "sha256:" + "2" * 64
    with get_client(sync_client=True) as one, get_client(sync_client=True) as other:
        first, second = ToldRecord(one, engine), ToldRecord(other, engine)
        assert first.claim(container, old)
        assert not second.claim(container, old)
        assert second.read() == {container: old}
        assert second.claim(container, new)
        assert first.read() == {container: new}
        first.forget(container)
        second.forget(container)  # forgotten already: no error
        assert first.read() == {}
