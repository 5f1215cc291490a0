"""Discovery of named containers over a fake engine API: only those are inspected, and an
aside container counts as its service's name."""

from __future__ import annotations

from types import SimpleNamespace

from watchdocker.engine.discovery import discover_containers, service_names


class FakeApi:
    """The engine's list and inspect calls, with each call recorded."""

    def __init__(self, names: list[str]) -> None:
        self.summaries = [
            {"Id": f"id{i}", "Names": [f"/{n}"], "Image": f"img{i}", "ImageID": f"sha256:{i}"}
            for i, n in enumerate(names)
        ]
        self.inspected: list[str] = []

    def containers(self, all: bool) -> list[dict]:
        return self.summaries

    def inspect_image(self, image_id: str) -> dict:
        self.inspected.append(image_id)
        return {"RepoDigests": [], "Os": "linux", "Architecture": "amd64"}


def engine(api: FakeApi) -> SimpleNamespace:
    return SimpleNamespace(api=api)


def test_named_discovery_inspects_only_the_named():
    api = FakeApi(["web", "db", "cache"])
    found = discover_containers(engine(api), True, ["db"])  # type: ignore[arg-type]
    assert [c.name for c in found] == ["db"]
    assert api.inspected == ["sha256:1"]


def test_every_container_without_names():
    api = FakeApi(["web", "db"])
    found = discover_containers(engine(api), True)  # type: ignore[arg-type]
    assert [c.name for c in found] == ["db", "web"] and len(api.inspected) == 2


def test_an_aside_container_counts_for_its_service():
    api = FakeApi(["web-watchdocker-old-0123456789ab", "db"])
    assert service_names(engine(api)) == {"web", "db"}  # type: ignore[arg-type]
