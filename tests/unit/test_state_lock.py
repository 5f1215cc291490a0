"""The shared JSON files under the state directory: read whole or not at all, changed by one
process at a time."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

from pydantic import BaseModel

from watchdocker.state_lock import change_model, read_model


class Counter(BaseModel):
    count: int = 0


def _counted(before: Counter | None) -> Counter:
    counter = before or Counter()
    counter.count += 1
    return counter


# Processes of their own, as the CLI, serve and the Runner's flow runs are (a fork of a test
# worker inherits whatever that worker's earlier tests left in it); they count with this
# module's `Counter` and `_counted`.
COUNT_MANY = """
import sys
from pathlib import Path

sys.path.insert(0, sys.argv[3])
from test_state_lock import Counter, _counted
from watchdocker.state_lock import change_model

for _ in range(int(sys.argv[2])):
    change_model(Path(sys.argv[1]), Counter, _counted)
"""


def test_a_missing_or_garbled_file_reads_as_none(tmp_path: Path):
    path = tmp_path / "counts" / "counter.json"
    assert read_model(path, Counter) is None
    path.parent.mkdir()
    path.write_text('{"count": "many"')
    assert read_model(path, Counter) is None


def test_a_change_starts_from_none_and_keeps_the_file_private(tmp_path: Path):
    path = tmp_path / "counts" / "counter.json"
    change_model(path, Counter, _counted)
    change_model(path, Counter, _counted)
    assert read_model(path, Counter) == Counter(count=2)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_changes_from_processes_at_once_are_all_kept(tmp_path: Path):
    path = tmp_path / "counts" / "counter.json"
    here = str(Path(__file__).parent)
    command = [sys.executable, "-c", COUNT_MANY, str(path), "25", here]
    workers = [subprocess.Popen(command, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    for worker in workers:
        _, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
    assert read_model(path, Counter) == Counter(count=100)
