"""Compose projects with the real Compose CLI (Debian's docker-compose v1 here): listed from
labels and folders with their status, acted on, created from a file and deleted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from compose_bed import compose, compose_text, down, project_name, write_project
from conftest import api_request, one_line, watch_docker

import testbed as tb
from watchdocker.config import Settings
from watchdocker.stacks.compose_cli import ComposeCli, ComposeFailed
from watchdocker.stacks.names import MARKER, BadProjectName
from watchdocker.stacks.operations import StackExists, act, create, delete, find_stack, list_stacks

pytestmark = pytest.mark.integration


@pytest.fixture
def engine() -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    yield client
    client.close()


@pytest.fixture
def cli() -> ComposeCli:
    return ComposeCli.from_settings(Settings())


def states(engine: docker.DockerClient, root: Path, name: str) -> dict[str, list[str]]:
    stack = find_stack(engine, root, name)
    return {s.name: [c.state for c in s.containers] for s in stack.services}


def test_the_cli_found_is_docker_compose_v1_here(cli: ComposeCli) -> None:
    # The test bed has Debian's docker-compose and no v2 plugin.
    assert Path(cli.command[0]).name == "docker-compose"
    configured = ComposeCli.from_settings(Settings(compose={"command": "docker compose"}))
    assert configured.command == ["docker", "compose"]


def test_a_two_service_project_through_its_life(
    tmp_path: Path, engine: docker.DockerClient, cli: ComposeCli
) -> None:
    name, folder = write_project(tmp_path, "two", {"web": tb.BASE_IMAGE, "db": tb.BASE_IMAGE})
    try:
        stack = find_stack(engine, tmp_path, name)
        assert (stack.status, stack.folder) == ("not created", str(folder))
        assert [s.name for s in stack.services] == ["db", "web"]
        assert not stack.managed

        act(cli, stack, "up")
        stack = find_stack(engine, tmp_path, name)
        assert stack.status == "running"
        assert states(engine, tmp_path, name) == {"db": ["running"], "web": ["running"]}
        assert stack.files == [str(folder / "docker-compose.yml")]
        # Found from the labels alone too, wherever the projects' folder is.
        elsewhere = {s.name: s for s in list_stacks(engine, tmp_path / "none")}
        assert elsewhere[name].status == "running"
        assert elsewhere[name].folder == str(folder)

        compose(folder, name, "stop", "db")
        assert find_stack(engine, tmp_path, name).status == "partial"

        act(cli, stack, "stop")
        assert find_stack(engine, tmp_path, name).status == "stopped"
        act(cli, stack, "start")
        assert find_stack(engine, tmp_path, name).status == "running"

        before = {s.name: s.containers[0].id for s in find_stack(engine, tmp_path, name).services}
        act(cli, stack, "restart")
        after = find_stack(engine, tmp_path, name)
        assert after.status == "running"
        assert {s.name: s.containers[0].id for s in after.services} == before  # restarted, same

        act(cli, stack, "down")
        assert find_stack(engine, tmp_path, name).status == "not created"
        assert folder.is_dir()  # not watch-docker's: down leaves it
    finally:
        down(folder, name)


def test_create_checks_the_file_and_delete_removes_only_its_own_folder(
    tmp_path: Path, engine: docker.DockerClient, cli: ComposeCli
) -> None:
    root = tmp_path / "stacks"
    name = project_name("made")
    try:
        folder = create(cli, engine, root, name, compose_text({"app": tb.BASE_IMAGE}))
        assert folder == root.resolve() / name
        assert (folder / MARKER).is_file()
        assert (folder / "docker-compose.yml").stat().st_mode & 0o077 == 0
        assert [p.name for p in root.iterdir()] == [name]  # nothing aside
        stack = find_stack(engine, root, name)
        assert (stack.status, stack.managed) == ("not created", True)
        with pytest.raises(StackExists):
            create(cli, engine, root, name, compose_text({"app": tb.BASE_IMAGE}))

        act(cli, stack, "up")
        assert find_stack(engine, root, name).status == "running"
        assert delete(cli, root, find_stack(engine, root, name)) is True
        assert not folder.exists()
        assert all(s.name != name for s in list_stacks(engine, root))
    finally:
        down(root / name, name)


def test_delete_keeps_a_folder_watch_docker_did_not_make(
    tmp_path: Path, engine: docker.DockerClient, cli: ComposeCli
) -> None:
    name, folder = write_project(tmp_path, "theirs", {"app": tb.BASE_IMAGE})
    try:
        act(cli, find_stack(engine, tmp_path, name), "up")
        assert delete(cli, tmp_path, find_stack(engine, tmp_path, name)) is False
        assert (folder / "docker-compose.yml").is_file()
        assert find_stack(engine, tmp_path, name).status == "not created"
    finally:
        down(folder, name)


def test_a_bad_file_is_refused_with_compose_s_message_and_nothing_is_left(
    tmp_path: Path, engine: docker.DockerClient, cli: ComposeCli
) -> None:
    root = tmp_path / "stacks"
    bad = "services:\n  app:\n    image: x\n    restart: sometimes-maybe\n    portz: [1]\n"
    name = project_name("bad")
    with pytest.raises(ComposeFailed) as refused:
        create(cli, engine, root, name, bad)
    said = str(refused.value)
    assert said.startswith(f"docker-compose config --quiet for {name} failed: ")
    assert "Unsupported config option for services.app: 'portz'" in said
    assert str(root.resolve() / name / "docker-compose.yml") in said
    assert "\n" not in said
    assert list(root.iterdir()) == []


@pytest.mark.parametrize("name", ["../x", "/etc", "", "..", "Upper"])
def test_refused_names_write_nothing(
    tmp_path: Path, engine: docker.DockerClient, cli: ComposeCli, name: str
) -> None:
    root = tmp_path / "stacks"
    with pytest.raises(BadProjectName):
        create(cli, engine, root, name, compose_text({"app": tb.BASE_IMAGE}))
    assert not root.exists()
    assert not (tmp_path / "x").exists()


def test_the_cli_without_serve_runs_the_compose_flow_here(
    tmp_path: Path, engine: docker.DockerClient, prefect_server: str
) -> None:
    name, folder = write_project(tmp_path, "here", {"app": tb.BASE_IMAGE})
    env = {"APP_PATH": str(tmp_path)}
    try:
        up = watch_docker("compose", "up", name, env=env)
        assert (up.returncode, up.stdout.strip()) == (0, f"compose up {name}: running"), up.stderr
        assert find_stack(engine, tmp_path, name).status == "running"
        runs = api_request(
            prefect_server,
            "POST",
            "/flow_runs/filter",
            json={"flow_runs": {"name": {"any_": [f"compose up {name}"]}}},
        ).json()
        assert [r["state_type"] for r in runs] == ["COMPLETED"]
        down_ = watch_docker("compose", "down", name, env=env)
        assert down_.stdout.strip() == f"compose down {name}: not created", down_.stderr
        assert folder.is_dir()
        missing = watch_docker("compose", "delete", project_name("none"), env=env)
        assert missing.returncode == 1
        assert one_line(missing.stderr).startswith(
            f"watch-docker: no compose project {project_name('none')!r}"
        )
        bad = tmp_path / "bad.yml"
        bad.write_text("services:\n  app:\n    portz: [1]\n")
        refused = watch_docker(
            "compose", "create", project_name("bad"), "--file", str(bad), env=env
        )
        assert refused.returncode == 1 and "portz" in one_line(refused.stderr)
        assert not (tmp_path / project_name("bad")).exists()
    finally:
        down(folder, name)
