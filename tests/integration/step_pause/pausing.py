"""The step hook the crash tests give the updater: after journalling `step`, wait while
`pause_file` exists, or without one until killed (at most PAUSE_LIMIT seconds either way)."""

from __future__ import annotations

import time
from pathlib import Path

from watchdocker.update.journal import Step
from watchdocker.update.updater import StepHook

PAUSE_LIMIT = 600.0  # bounded: a test that died must not leave a process waiting for good


def pause_at(step: Step, pause_file: Path | None) -> StepHook:
    def hook(reached: Step) -> None:
        if reached != step:
            return
        deadline = time.monotonic() + PAUSE_LIMIT
        while time.monotonic() < deadline and (pause_file is None or pause_file.exists()):
            time.sleep(0.05)

    return hook
