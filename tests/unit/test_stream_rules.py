"""The plain rules behind the streams: event actions to message types, stats figures, log
lines, outcomes of update runs, newly outdated containers, allowed origins, resize frames."""

from __future__ import annotations

from pathlib import Path

from watchdocker.auth.origins import origin_allowed
from watchdocker.container_events import change_type, health_of
from watchdocker.container_stats import container_stats, cpu_percent, memory_usage, sample
from watchdocker.container_status import ContainerStatus
from watchdocker.log_lines import LineCutter, LogLine
from watchdocker.run_outcomes import KEPT, read_outcomes, record_outcomes, streamed_since
from watchdocker.scan_store import SavedScan, newly_available
from watchdocker.streams.session import parse_resize


def test_event_actions():
    assert [change_type(a) for a in ("create", "start", "stop", "die", "destroy")] == [
        "created", "started", "stopped", "died", "destroyed",
    ]  # fmt: skip
    assert change_type("health_status: healthy") == "health"
    assert health_of("health_status: unhealthy") == "unhealthy"
    assert change_type("exec_start: sh") is None


STATS = {
    "cpu_stats": {"cpu_usage": {"total_usage": 300}, "system_cpu_usage": 2000, "online_cpus": 2},
    "precpu_stats": {"cpu_usage": {"total_usage": 100}, "system_cpu_usage": 1000},
    "memory_stats": {"usage": 5000, "limit": 10000, "stats": {"inactive_file": 1000}},
    "networks": {"eth0": {"rx_bytes": 100, "tx_bytes": 50}, "eth1": {"rx_bytes": 0, "tx_bytes": 0}},
}


def test_stats_figures():
    assert cpu_percent(STATS) == 40.0  # 200/1000 of the system, 2 CPUs
    assert memory_usage(STATS) == 4000
    assert cpu_percent({}) == 0.0
    before = sample(STATS, at=10.0)
    later = {**STATS, "networks": {"eth0": {"rx_bytes": 300, "tx_bytes": 150}}}
    figures = container_stats("id", "web", sample(later, at=12.0), before)
    assert (figures.networkRxRate, figures.networkTxRate) == (100.0, 50.0)
    assert figures.memoryLimit == 10000
    assert container_stats("id", "web", before, None).networkRxRate == 0.0
    restarted = container_stats("id", "web", before, sample(later, at=9.0))
    assert restarted.networkRxRate == 0.0  # the counter went back


def test_log_lines_across_chunks_and_streams():
    cutter = LineCutter()
    assert cutter.feed(1, b"one\ntw") == [LogLine(stream="stdout", line="one")]
    assert cutter.feed(2, b"err\r\n") == [LogLine(stream="stderr", line="err")]
    assert cutter.feed(1, "o \u00e9".encode()[:-1]) == []  # half a character
    assert cutter.feed(1, "\u00e9".encode()[-1:] + b"\n") == [
        LogLine(stream="stdout", line="two \u00e9")
    ]
    cutter.feed(1, b"unfinished")
    assert cutter.flush() == [LogLine(stream="stdout", line="unfinished")]


def test_outcomes_are_appended_with_sequence_numbers_and_bounded(tmp_path: Path):
    record_outcomes(tmp_path, [("web", "updated", ""), ("db", "up_to_date", "")], 1.0)
    seen = read_outcomes(tmp_path).seq
    record_outcomes(tmp_path, [("api", "rolled_back", "unhealthy")], 2.0)
    kept = read_outcomes(tmp_path)
    assert [o.name for o in streamed_since(kept, 0)] == ["web", "api"]
    assert [(o.name, o.reason) for o in streamed_since(kept, seen)] == [("api", "unhealthy")]
    record_outcomes(tmp_path, [("x", "updated", "")] * (KEPT + 5), 3.0)
    assert len(read_outcomes(tmp_path).outcomes) == KEPT
    assert read_outcomes(tmp_path).seq == KEPT + 8


def status(id: str, state: str, remote: str | None = None) -> ContainerStatus:
    return ContainerStatus(
        id=id, name=id, image="i", running=True, status=state, reason="", remote_digest=remote
    )


def test_newly_available():
    before = SavedScan(
        engine_id="e",
        scanned_at=1,
        containers=[status("a", "up_to_date"), status("b", "update_available", "sha256:1")],
    )
    after = SavedScan(
        engine_id="e",
        scanned_at=2,
        containers=[
            status("a", "update_available", "sha256:9"),
            status("b", "update_available", "sha256:1"),  # told before
            status("c", "update_available", "sha256:2"),
        ],
    )
    assert [c.id for c in newly_available(before, after)] == ["a", "c"]
    assert [c.id for c in newly_available(None, after)] == ["a", "b", "c"]


def test_origins():
    assert origin_allowed(None, "h:8080", [])
    assert origin_allowed("http://h:8080", "h:8080", [])
    assert origin_allowed("https://console.example/", "h:8080", ["https://console.example"])
    assert not origin_allowed("http://evil.example", "h:8080", ["https://console.example"])
    assert not origin_allowed("http://h:9999", "h:8080", [])


def test_resize_frames():
    assert parse_resize('{"type": "resize", "cols": 80, "rows": 24}') == (80, 24)
    assert parse_resize('{"type": "resize", "cols": "80", "rows": 24}') is None
    assert parse_resize("ls\n") is None
    assert parse_resize('{"type": "other"}') is None
