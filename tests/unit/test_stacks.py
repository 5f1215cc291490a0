"""Compose projects' rules: names, the paths they may have, discovery and status."""

from __future__ import annotations

from pathlib import Path

import pytest

from watchdocker.stacks.names import (
    MARKER,
    BadProjectName,
    OutsideRoot,
    check_name,
    contained,
    project_folder,
)
from watchdocker.stacks.projects import (
    LabelledContainer,
    StackContainer,
    StackService,
    config_files,
    discover,
    project_folders,
    services_in_file,
    status_of,
)


@pytest.mark.parametrize("name", ["web", "a1", "0-stack_x", "my-app"])
def test_names_compose_accepts_pass(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("", "required"),
        ("../x", "is a path"),
        ("/etc", "is a path"),
        ("a/b", "is a path"),
        ("..", "is a path"),
        ("a\\b", "is a path"),
        ("Web", "lowercase"),
        ("-web", "starting with"),
        ("_web", "starting with"),
        ("we b", "lowercase"),
        ("web.1", "lowercase"),
        ("x" * 64, "longer than"),
    ],
)
def test_names_compose_refuses_are_refused_saying_why(name: str, says: str) -> None:
    with pytest.raises(BadProjectName, match=says):
        check_name(name)


def test_a_project_folder_is_directly_under_the_root(tmp_path: Path) -> None:
    assert project_folder(tmp_path, "web") == tmp_path.resolve() / "web"
    with pytest.raises(BadProjectName):
        project_folder(tmp_path, "../web")


def test_a_link_leading_out_of_the_root_is_refused(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "web").symlink_to(outside)
    with pytest.raises(OutsideRoot):
        project_folder(root, "web")
    (root / "inner").mkdir()
    (root / "alias").symlink_to(root / "inner")
    with pytest.raises(OutsideRoot, match="not a folder"):
        project_folder(root, "alias")


def test_contained_refuses_the_root_itself_and_what_is_outside(tmp_path: Path) -> None:
    assert contained(tmp_path, tmp_path / "a" / "b") == tmp_path.resolve() / "a" / "b"
    for path in (tmp_path, tmp_path / "..", Path("/etc")):
        with pytest.raises(OutsideRoot):
            contained(tmp_path, path)


def container(state: str) -> StackContainer:
    return StackContainer(id="i", name="n", image="img", state=state)


@pytest.mark.parametrize(
    ("services", "status"),
    [
        ([StackService(name="a", containers=[container("running")])], "running"),
        (
            [
                StackService(name="a", containers=[container("running")]),
                StackService(name="b", containers=[container("exited")]),
            ],
            "partial",
        ),
        (
            [
                StackService(name="a", containers=[container("running")]),
                StackService(name="b"),
            ],
            "partial",
        ),
        ([StackService(name="a", containers=[container("exited")])], "stopped"),
        ([StackService(name="a", containers=[container("created")])], "stopped"),
        ([StackService(name="a"), StackService(name="b")], "not created"),
        ([], "not created"),
    ],
)
def test_status(services: list[StackService], status: str) -> None:
    assert status_of(services) == status


def labels(project: str, service: str, working_dir: str = "/srv/p", files: str = "") -> dict:
    return {
        "com.docker.compose.project": project,
        "com.docker.compose.service": service,
        "com.docker.compose.project.working_dir": working_dir,
        "com.docker.compose.project.config_files": files or "docker-compose.yml",
    }


def test_config_files_are_absolute_from_v1_and_v2_labels() -> None:
    assert config_files(labels("p", "a")) == ["/srv/p/docker-compose.yml"]
    v2 = labels("p", "a", files="/srv/p/compose.yaml,/srv/p/override.yaml")
    assert config_files(v2) == ["/srv/p/compose.yaml", "/srv/p/override.yaml"]


def test_services_in_file() -> None:
    assert services_in_file("services:\n  web: {image: x}\n  db: {image: y}\n") == ["db", "web"]
    assert services_in_file("services: [") == []
    assert services_in_file("- a list") == []


def test_discovery_from_labels_and_folders(tmp_path: Path) -> None:
    (tmp_path / "fresh").mkdir()
    (tmp_path / "fresh" / "compose.yaml").write_text("services:\n  one: {image: x}\n")
    (tmp_path / "fresh" / MARKER).write_text("")
    (tmp_path / "empty").mkdir()  # no compose file: no project
    (tmp_path / "Bad.Name").mkdir()  # a name compose refuses: not a project
    (tmp_path / "Bad.Name" / "compose.yaml").write_text("services: {}\n")
    found = [
        LabelledContainer("1", "app-web-1", "web:1", "running", labels("app", "web")),
        LabelledContainer("2", "app-db-1", "db:1", "exited", labels("app", "db")),
        LabelledContainer(
            "3",
            "app-run",
            "web:1",
            "exited",
            labels("app", "web") | {"com.docker.compose.oneoff": "True"},
        ),
    ]
    stacks = {s.name: s for s in discover(found, project_folders(tmp_path))}
    assert set(stacks) == {"app", "fresh"}
    app = stacks["app"]
    assert (app.status, app.folder, app.files) == (
        "partial",
        "/srv/p",
        ["/srv/p/docker-compose.yml"],
    )
    assert [(s.name, [c.id for c in s.containers]) for s in app.services] == [
        ("db", ["2"]),
        ("web", ["1"]),
    ]
    assert not app.managed
    fresh = stacks["fresh"]
    assert (fresh.status, fresh.managed) == ("not created", True)
    assert fresh.files == [str(tmp_path / "fresh" / "compose.yaml")]
    assert [s.name for s in fresh.services] == ["one"]


def test_a_folder_of_the_same_name_as_containers_from_elsewhere_is_not_theirs(
    tmp_path: Path,
) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "compose.yaml").write_text("services:\n  other: {image: x}\n")
    (tmp_path / "app" / MARKER).write_text("")
    found = [LabelledContainer("1", "app-web-1", "w", "running", labels("app", "web"))]
    (app,) = discover(found, project_folders(tmp_path))
    assert ([s.name for s in app.services], app.managed, app.status) == (["web"], False, "running")


def test_no_root_folder_no_folder_projects(tmp_path: Path) -> None:
    assert project_folders(tmp_path / "missing") == []


def test_the_compose_command_is_the_setting_else_the_plugin_else_v1(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import watchdocker.stacks.compose_cli as compose_cli

    found = {"docker": "/bin/docker", "docker-compose": "/bin/docker-compose"}
    monkeypatch.setattr(compose_cli.shutil, "which", found.get)
    monkeypatch.setattr(compose_cli, "_plugin_present", lambda docker: docker == "/bin/docker")
    assert compose_cli.compose_command("podman compose") == ["podman", "compose"]
    assert compose_cli.compose_command(None) == ["/bin/docker", "compose"]
    monkeypatch.setattr(compose_cli, "_plugin_present", lambda docker: False)
    assert compose_cli.compose_command(None) == ["/bin/docker-compose"]
    found.pop("docker-compose")
    with pytest.raises(compose_cli.ComposeFailed, match="WATCH_COMPOSE_COMMAND"):
        compose_cli.compose_command(None)


def test_a_target_names_the_project_its_files_and_folder(tmp_path: Path) -> None:
    from watchdocker.stacks.compose_cli import ComposeTarget

    target = ComposeTarget("web", str(tmp_path), [str(tmp_path / "a.yml"), "/b.yml"])
    assert target.arguments() == [
        "-p", "web", "-f", str(tmp_path / "a.yml"), "-f", "/b.yml",
        "--project-directory", str(tmp_path),
    ]  # fmt: skip
    assert target.cwd == str(tmp_path)
    assert ComposeTarget("web", str(tmp_path / "gone")).cwd is None
