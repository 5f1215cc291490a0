"""The real update path (pull by digest, then the updater's replacement), stopped at one step:
the crash tests run it as a process of its own, to SIGKILL it there or to change the engine
under it meanwhile.

    python tests/integration/update_driver.py CONFIG CONTAINER IMAGE DIGEST STEP [PAUSE_FILE]

After journalling STEP it waits while PAUSE_FILE exists, or without one until it is killed
(at most PAUSE_LIMIT seconds either way), then goes on. It prints the replacement's result as
JSON.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

from watchdocker.config import load_settings
from watchdocker.flows.clients import engine_for, updater_for
from watchdocker.reference import ImageReference
from watchdocker.update.journal import Step
from watchdocker.update.pull import pull_by_digest
from watchdocker.update.updater import StepHook

PAUSE_LIMIT = 600.0  # bounded: a test that died must not leave this waiting for good


def pause_at(step: Step, pause_file: Path | None) -> StepHook:
    def hook(reached: Step) -> None:
        if reached != step:
            return
        deadline = time.monotonic() + PAUSE_LIMIT
        while time.monotonic() < deadline and (pause_file is None or pause_file.exists()):
            time.sleep(0.05)

    return hook


def main(config: str, container: str, image: str, digest: str, step: Step, *pause: str) -> None:
    settings = load_settings(config)
    hook = pause_at(step, Path(pause[0]) if pause else None)
    engine = engine_for(settings)
    try:
        updater = updater_for(settings, engine, on_step=hook)
        new_image_id = pull_by_digest(engine.api, ImageReference.parse(image), digest, None)
        old_id = engine.api.inspect_container(container)["Id"]
        result = updater.replace(container, old_id, new_image_id, image)
    finally:
        engine.close()
    print(json.dumps(dataclasses.asdict(result)))


if __name__ == "__main__":
    main(*sys.argv[1:])  # type: ignore[arg-type]
