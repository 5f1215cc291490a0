"""Structured log lines with the seed's fields (component, action, container, image, digest,
durationMs, err), written through whatever logger is given (Prefect's run logger in flows)."""

from __future__ import annotations

import logging
import time
from typing import Any

FIELDS = ("component", "action", "container", "image", "digest", "durationMs", "err")


def log_event(
    logger: logging.Logger | logging.LoggerAdapter,
    level: int,
    message: str,
    **fields: Any,
) -> None:
    """`message component=scan action=resolve image=... durationMs=12`, fields also in `extra`."""
    shown = {k: v for k, v in fields.items() if v is not None}
    text = " ".join(f"{k}={_quote(v)}" for k, v in shown.items())
    logger.log(level, f"{message} {text}".strip(), extra={"watchdocker": shown})


def _quote(value: Any) -> str:
    text = str(value)
    return f'"{text}"' if (" " in text or not text) else text


def elapsed_ms(started: float) -> int:
    """Milliseconds since `started` (a time.perf_counter() reading), for durationMs."""
    return round((time.perf_counter() - started) * 1000)
