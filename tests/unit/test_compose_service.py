"""Which containers an update sends through compose: those whose labels name a project, a
service and compose files that exist; and which go together, a whole project at once."""

from __future__ import annotations

from pathlib import Path

from watchdocker.update.compose_update import compose_service
from watchdocker.update.plan import PlannedUpdate, split_whole_projects


def container(labels: dict[str, str]) -> dict:
    return {"Id": "c1", "Image": "sha256:old", "Config": {"Labels": labels}}


def compose_labels(folder: Path, files: str = "docker-compose.yml") -> dict[str, str]:
    return {
        "com.docker.compose.project": "shop",
        "com.docker.compose.service": "web",
        "com.docker.compose.project.working_dir": str(folder),
        "com.docker.compose.project.config_files": files,
    }


def test_a_service_with_its_files_goes_through_compose(tmp_path: Path) -> None:
    (tmp_path / "docker-compose.yml").write_text("services: {}\n")
    service = compose_service(container(compose_labels(tmp_path)))
    assert service is not None
    assert (service.project, service.service, service.folder) == ("shop", "web", str(tmp_path))
    assert service.files == [str(tmp_path / "docker-compose.yml")]
    assert service.old_image_id == "sha256:old"


def test_without_files_or_labels_the_recreate_does_it(tmp_path: Path) -> None:
    assert compose_service(container(compose_labels(tmp_path))) is None  # files gone
    (tmp_path / "a.yml").write_text("services: {}\n")
    both = compose_labels(tmp_path, f"{tmp_path / 'a.yml'},{tmp_path / 'b.yml'}")
    assert compose_service(container(both)) is None  # one of them gone
    assert compose_service(container({"com.docker.compose.project": "shop"})) is None
    assert compose_service(container({})) is None
    assert compose_service({"Id": "c", "Image": "i", "Config": {"Labels": None}}) is None


def planned(name: str, image: str, **labels: str) -> PlannedUpdate:
    return PlannedUpdate(
        container_id=f"id-{name}", name=name, image=image, remote_digest="sha256:r", labels=labels
    )


def test_whole_projects_are_taken_out_of_their_image_groups_and_batched() -> None:
    whole = {"com.docker.compose.project": "shop", "watchdocker.compose.whole-project": "true"}
    web, api = planned("web", "a", **whole), planned("api", "b", **whole)
    alone = planned("alone", "a", **{"com.docker.compose.project": "shop"})
    other = planned("x", "c", **{"com.docker.compose.project": "blog"})
    groups, batches = split_whole_projects(
        [([web, alone], "i-a"), ([api], "i-b"), ([other], "i-c")]
    )
    assert groups == [([alone], "i-a"), ([other], "i-c")]
    assert batches == [[(web, "i-a"), (api, "i-b")]]
    assert split_whole_projects([([alone], "i-a")]) == ([([alone], "i-a")], [])
