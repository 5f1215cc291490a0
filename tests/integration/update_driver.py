"""The real update path (pull by digest, then the updater's replacement), stopped at one step:
the crash tests run it as a process of its own, to SIGKILL it there or to change the engine
under it meanwhile.

    python tests/integration/update_driver.py CONFIG CONTAINER IMAGE DIGEST STEP [PAUSE_FILE]

After journalling STEP it waits while PAUSE_FILE exists, or without one until it is killed
(`step_pause/pausing.py`), then goes on. It prints the replacement's result as
JSON.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

from step_pause.pausing import pause_at

from watchdocker.config import load_settings
from watchdocker.flows.clients import engine_for, updater_for
from watchdocker.reference import ImageReference
from watchdocker.update.journal import Step
from watchdocker.update.pull import pull_by_digest


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
