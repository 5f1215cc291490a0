"""Prefect blocks: where credentials, notifier URLs and TOTP secrets live in the Prefect UI."""

from __future__ import annotations

import logging
from typing import TypeVar

from prefect.blocks.core import Block
from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError

log = logging.getLogger(__name__)

B = TypeVar("B", bound=Block)


def saved_blocks(block_class: type[B]) -> list[tuple[str, B]]:
    """Every saved block of `block_class`'s type as (document name, block), secrets revealed.
    Invalid ones are logged by name only - their data holds secrets - and skipped."""
    try:
        with get_client(sync_client=True) as client:
            documents = client.read_block_documents_by_type(
                block_class.get_block_type_slug(), include_secrets=True
            )
    except (ObjectNotFound, PrefectHTTPStatusError):
        return []  # the block type is not registered: nobody created one
    found = []
    for document in documents:
        try:
            found.append((document.name or "", block_class.model_validate(document.data)))
        except ValueError:
            log.warning("ignoring %s block %r: invalid", block_class.__name__, document.name)
    return found
