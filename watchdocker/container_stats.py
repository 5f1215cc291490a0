"""A running container's figures for the stats stream, from the samples of Docker's stats
stream: CPU % as `docker stats` computes it, memory usage (without the page cache) and limit,
network receive and send rates in bytes per second between two samples."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel


@dataclass(frozen=True)
class Sample:
    """What one stats message of the engine says, with when it was read (monotonic seconds)."""

    cpu_percent: float
    memory_usage: int
    memory_limit: int
    rx_bytes: int
    tx_bytes: int
    at: float


class ContainerStats(BaseModel):
    id: str
    name: str
    cpuPercent: float
    memoryUsage: int  # bytes
    memoryLimit: int  # bytes
    networkRxRate: float  # bytes per second
    networkTxRate: float


def cpu_percent(stats: dict[str, Any]) -> float:
    cpu = stats.get("cpu_stats") or {}
    before = stats.get("precpu_stats") or {}
    used = (cpu.get("cpu_usage") or {}).get("total_usage", 0) - (before.get("cpu_usage") or {}).get(
        "total_usage", 0
    )
    system = cpu.get("system_cpu_usage", 0) - before.get("system_cpu_usage", 0)
    cpus = (
        cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or []) or 1
    )
    if system <= 0 or used < 0:
        return 0.0
    return round(used / system * cpus * 100.0, 2)


def memory_usage(stats: dict[str, Any]) -> int:
    """Usage less the page cache, as `docker stats` shows it (cgroup v1 `cache`, v2
    `inactive_file`)."""
    memory = stats.get("memory_stats") or {}
    details = memory.get("stats") or {}
    cache = details.get("inactive_file", details.get("cache", 0))
    return max(int(memory.get("usage", 0)) - int(cache), 0)


def sample(stats: dict[str, Any], at: float) -> Sample:
    networks = (stats.get("networks") or {}).values()
    return Sample(
        cpu_percent=cpu_percent(stats),
        memory_usage=memory_usage(stats),
        memory_limit=int((stats.get("memory_stats") or {}).get("limit", 0)),
        rx_bytes=sum(int(n.get("rx_bytes", 0)) for n in networks),
        tx_bytes=sum(int(n.get("tx_bytes", 0)) for n in networks),
        at=at,
    )


def _rate(before: int, after: int, seconds: float) -> float:
    # A counter that went back (the container restarted) has no rate this time.
    return round((after - before) / seconds, 1) if seconds > 0 and after >= before else 0.0


def container_stats(id: str, name: str, now: Sample, before: Sample | None) -> ContainerStats:
    """The figures of `now`; the rates need an earlier sample (0 without one)."""
    seconds = now.at - before.at if before else 0.0
    return ContainerStats(
        id=id,
        name=name,
        cpuPercent=now.cpu_percent,
        memoryUsage=now.memory_usage,
        memoryLimit=now.memory_limit,
        networkRxRate=_rate(before.rx_bytes, now.rx_bytes, seconds) if before else 0.0,
        networkTxRate=_rate(before.tx_bytes, now.tx_bytes, seconds) if before else 0.0,
    )
