"""The task at the end of a scan that tells people of new images (`watchdocker.availability`
decides what), and the record of what they were told: Prefect Variables, one per engine and
container, so that it survives restarts and every process on the server shares it."""

from __future__ import annotations

import logging
from contextlib import suppress
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect.runtime import flow_run

from watchdocker.availability import (
    NewImage,
    engine_prefix,
    entry_name,
    entry_value,
    read_entry,
    what_to_tell,
)
from watchdocker.blocks.notifier import configured_notifier
from watchdocker.config import Settings
from watchdocker.container_status import ScanReport
from watchdocker.logs import log_event
from watchdocker.notify import updates_available

_PAGE = 200  # the most the API returns at once


class ToldRecord:
    """What people were told of one engine's containers. Variables have no compare-and-set;
    a first entry is claimed by creating it, so of two scans at once only one tells a new
    container; a digest that moves on again is re-read right before it is written."""

    def __init__(self, client: Any, engine_id: str) -> None:
        self._client = client
        self._engine_id = engine_id

    def read(self) -> dict[str, str]:
        """Container name -> the digest told."""
        told: dict[str, str] = {}
        offset = 0
        while True:
            page = self._client.request(
                "POST",
                "/variables/filter",
                json={
                    "variables": {"name": {"like_": engine_prefix(self._engine_id)}},
                    "limit": _PAGE,
                    "offset": offset,
                },
            ).json()
            for variable in page:
                if entry := read_entry(variable.get("value")):
                    told[entry[0]] = entry[1]
            if len(page) < _PAGE:
                return told
            offset += _PAGE

    def claim(self, container: str, digest: str) -> bool:
        """Record `digest` as told for `container`; False when another process did first."""
        from prefect.client.schemas.actions import VariableCreate, VariableUpdate

        name, value = entry_name(self._engine_id, container), entry_value(container, digest)
        try:
            self._client.create_variable(VariableCreate(name=name, value=value))
            return True
        except ObjectAlreadyExists:
            current = self._client.read_variable_by_name(name)
            if current is not None and read_entry(current.value) == (container, digest):
                return False
        self._client.update_variable(VariableUpdate(name=name, value=value))
        return True

    def forget(self, container: str) -> None:
        with suppress(ObjectNotFound):  # another scan forgot it first
            self._client.delete_variable_by_name(entry_name(self._engine_id, container))


@task(name="tell-new-images", cache_policy=NO_CACHE)
def tell_new_images(report: ScanReport, engine_id: str, settings: Settings, complete: bool) -> int:
    """One message listing the updates nobody was told of yet, to `notify.urls` and the
    AppriseNotifier blocks; how many it listed. Told means sent: a target that failed is not
    asked again at every scan (its failure is logged)."""
    logger = get_run_logger()
    if not settings.notify.on_update_available:
        return 0
    notifier = configured_notifier(settings, logger)
    if not len(notifier):
        return 0  # no target: nothing recorded, so one set later hears of what is pending
    with get_client(sync_client=True) as client:
        record = ToldRecord(client, engine_id)
        telling = what_to_tell(report.containers, record.read(), complete)
        for container in telling.forget:
            record.forget(container)
        claimed: list[NewImage] = [n for n in telling.tell if record.claim(n.container, n.new)]
    if not claimed:
        return 0
    notifier.send(updates_available(claimed, flow_run.get_flow_run_ui_url()))
    log_event(
        logger,
        logging.INFO,
        f"told of {len(claimed)} new images",
        component="notify",
        action="available",
        container=",".join(n.container for n in claimed),
    )
    return len(claimed)
