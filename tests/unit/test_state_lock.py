"""The shared JSON files under the state directory: read whole or not at all, changed by one
process at a time."""

from __future__ import annotations

import multiprocessing
import stat
from pathlib import Path

from pydantic import BaseModel

from watchdocker.state_lock import change_model, read_model


class Counter(BaseModel):
    count: int = 0


def _counted(before: Counter | None) -> Counter:
    counter = before or Counter()
    counter.count += 1
    return counter


def _count_many(path: Path, times: int) -> None:
    for _ in range(times):
        change_model(path, Counter, _counted)


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
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_count_many, args=(path, 25)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    assert read_model(path, Counter) == Counter(count=100)
