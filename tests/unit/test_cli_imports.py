"""The command line starts light: a thin client of serve must not pay for the Docker SDK,
Prefect, a JWT library, an HTTP client library, QR codes or rich tables before it knows it
needs them (each costs tens of milliseconds to seconds at every command)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("docker", "prefect", "jwt", "requests", "httpx", "segno", "rich")


def test_the_command_line_imports_no_heavy_library_at_start() -> None:
    script = (
        "import json, sys\n"
        "import watchdocker.cli.app, watchdocker.cli.serve_client, watchdocker.container_status\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(json.loads(done.stdout))
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))
