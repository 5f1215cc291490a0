"""Apprise URLs kept in Prefect as `AppriseNotifier` blocks: every saved block of that type is
notified, next to `notify.urls`, as every `DockerRegistryCredentials` block is a credential."""

from __future__ import annotations

import logging

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from watchdocker.blocks import saved_blocks
from watchdocker.config import Settings
from watchdocker.notify import Notifier


class AppriseNotifier(Block):
    """Apprise URLs told of watch-docker update runs (a summary per run, an alert per rollback
    or failure) and of new images a scan found. Every saved block of this type is used."""

    _block_type_name = "AppriseNotifier"
    _block_type_slug = "apprise-notifier"
    _description = (
        "Apprise URLs (discord://, slack://, ntfy://, json://, ...) that watch-docker notifies of "
        "update runs and new images. Every block of this type is used. The URLs hold tokens and "
        "are stored as secrets."
    )

    urls: list[SecretStr] = Field(
        default_factory=list, description="apprise URLs, e.g. discord://webhook_id/webhook_token"
    )


def apprise_notifier_urls() -> list[SecretStr]:
    """The URLs of every `AppriseNotifier` block on the Prefect server."""
    return [url for _, block in saved_blocks(AppriseNotifier) for url in block.urls]


def configured_notifier(
    settings: Settings, logger: logging.Logger | logging.LoggerAdapter | None = None
) -> Notifier:
    """`notify.urls` (config and WATCH_NOTIFY_URLS) plus every block's, loaded where they are
    used so no URL travels as a flow parameter."""
    return Notifier([*settings.notify.urls, *apprise_notifier_urls()], logger=logger)
