"""Fault injection for `watch-docker` run as a subprocess by the tests: on PYTHONPATH, with
WATCHDOCKER_TEST_PAUSE_AT_STEP set, every Updater the command makes pauses after journalling that
step (`pausing.pause_at`, while WATCHDOCKER_TEST_PAUSE_FILE exists). The command and its flow
run as a user runs them; production code has only the seam, the updater's `on_step`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

STEP = os.environ.get("WATCHDOCKER_TEST_PAUSE_AT_STEP")

if STEP:
    from pausing import pause_at

    from watchdocker.update import updater

    _hook = pause_at(STEP, Path(os.environ["WATCHDOCKER_TEST_PAUSE_FILE"]))  # type: ignore[arg-type]
    _original = updater.Updater.__init__

    def _init(self: updater.Updater, *args: Any, **kwargs: Any) -> None:
        kwargs["on_step"] = _hook
        _original(self, *args, **kwargs)

    updater.Updater.__init__ = _init  # type: ignore[method-assign]
