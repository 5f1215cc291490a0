"""The suite's own pytest plugins (tests/exclusive.py, tests/still_running.py), on small test
files run by pytest in a new process, with and without pytest-xdist workers."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.exclusive  # bounds when a line appears

RECORDING = """
import time
from pathlib import Path

import pytest

LOG = Path(__file__).with_name("intervals.log")


def record(name: str, seconds: float) -> None:
    started = time.time()
    time.sleep(seconds)
    with LOG.open("a") as log:
        log.write(f"{name} {started} {time.time()}\\n")
"""


def run_pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
    plugins = ["-p", "no:cacheprovider", "-p", "exclusive", "-p", "still_running"]
    where = ["--rootdir", str(folder), str(folder)]
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *plugins, *args, *where],
        capture_output=True,
        text=True,
        env=env,
        cwd=folder,
        timeout=180,
        check=False,
    )


def write_tests(folder: Path, name: str, body: str) -> None:
    (folder / name).write_text(RECORDING + textwrap.dedent(body))


def read_intervals(folder: Path) -> dict[str, tuple[float, float]]:
    return {
        name: (float(start), float(end))
        for name, start, end in (
            line.split() for line in (folder / "intervals.log").read_text().splitlines()
        )
    }


def overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def test_exclusive_tests_run_alone_quiet_ones_together_and_the_others_side_by_side(
    tmp_path: Path,
) -> None:
    for module in ("a", "b"):
        write_tests(
            tmp_path,
            f"test_shared_{module}.py",
            f"""
            @pytest.mark.parametrize("n", range(3))
            def test_shared(n):
                record(f"shared_{module}{{n}}", 1.0)
            """,
        )
    write_tests(
        tmp_path,
        "test_alone.py",
        """
        pytestmark = pytest.mark.exclusive

        @pytest.mark.parametrize("n", range(2))
        def test_alone(n):
            record(f"alone{n}", 0.7)
        """,
    )
    for module in ("a", "b"):
        write_tests(
            tmp_path,
            f"test_quiet_{module}.py",
            f"""
            pytestmark = pytest.mark.quiet

            @pytest.mark.parametrize("n", range(2))
            def test_quiet(n):
                record(f"quiet_{module}{{n}}", 0.7)
            """,
        )
    ran = run_pytest(tmp_path, "-n", "3", "--dist", "loadfile", "--no-loadscope-reorder")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    intervals = read_intervals(tmp_path)
    assert len(intervals) == 12, intervals

    def beside(name: str) -> set[str]:
        return {
            other[:-1]
            for other in intervals
            if other != name and overlap(intervals[name], intervals[other])
        }

    for name in intervals:
        if name.startswith("alone"):
            assert beside(name) == set(), name
        if name.startswith("quiet"):
            assert beside(name) <= {"quiet_a", "quiet_b"}, name
    # The two quiet modules ran together, on two workers, and so did the two shared ones.
    assert beside("quiet_a0") | beside("quiet_a1") == {"quiet_b"}
    assert "shared_b" in set().union(*(beside(f"shared_a{n}") for n in range(3)))


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_a_long_test_is_named_while_it_runs(tmp_path: Path, workers: list[str]) -> None:
    write_tests(
        tmp_path,
        "test_slow.py",
        """
        def test_slow():
            print("what the test says")
            record("slow", 3.5)

        def test_quick():
            pass
        """,
    )
    ran = run_pytest(tmp_path, "-o", "still_running_every=1", *workers)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    said = [line for line in ran.stdout.splitlines() if line.startswith("still running:")]
    assert "still running: test_slow.py::test_slow (1 s)" in said, ran.stdout
    assert "still running: test_slow.py::test_slow (2 s)" in said, ran.stdout
    assert not [line for line in said if "test_quick" in line]


def test_quiet_tests_come_first_then_exclusive_ones_then_long_modules(tmp_path: Path) -> None:
    marks = (("a", None), ("b", "long"), ("c", "exclusive"), ("d", None), ("e", "quiet"))
    for name, mark in marks:
        marked = f"pytestmark = pytest.mark.{mark}" if mark else ""
        write_tests(
            tmp_path, f"test_{name}.py", f"{marked}\ndef test_it():\n    record('{name}', 0)\n"
        )
    ran = run_pytest(tmp_path, "-n", "1", "--dist", "loadfile", "--no-loadscope-reorder")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    order = [line.split()[0] for line in (tmp_path / "intervals.log").read_text().splitlines()]
    assert order == ["e", "c", "b", "a", "d"]


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_kinds_selects_the_tests_of_a_session(tmp_path: Path, workers: list[str]) -> None:
    marks = (("a", None), ("c", "exclusive"), ("e", "quiet"))
    for name, mark in marks:
        marked = f"pytestmark = pytest.mark.{mark}" if mark else ""
        write_tests(
            tmp_path, f"test_{name}.py", f"{marked}\ndef test_it():\n    record('{name}', 0)\n"
        )

    def ran_with(kinds: str) -> set[str]:
        (tmp_path / "intervals.log").unlink(missing_ok=True)
        ran = run_pytest(tmp_path, "--kinds", kinds, *workers)
        assert ran.returncode == 0, ran.stdout + ran.stderr
        return set(read_intervals(tmp_path))

    assert ran_with("quiet,exclusive") == {"c", "e"}
    assert ran_with("shared") == {"a"}
    (tmp_path / "intervals.log").unlink()
    wrong = run_pytest(tmp_path, "--kinds", "quiet,loud", *workers)
    assert wrong.returncode == 4, wrong.stdout + wrong.stderr
    assert "--kinds: unknown loud (known: quiet, exclusive, shared)" in wrong.stderr
    assert not (tmp_path / "intervals.log").exists()
