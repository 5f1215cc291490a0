"""Options shared by the commands (kept apart so that sub-apps import them, not the app)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="config.yaml to read (default: WATCH_CONFIG, the usual places)"
    ),
]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="show Prefect's logs")]
JsonOption = Annotated[bool, typer.Option("--json", help="print one JSON object")]
