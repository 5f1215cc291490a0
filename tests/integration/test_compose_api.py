"""The compose routes and the compose CLI against a real `watch-docker serve` and the real
Compose CLI: create (a bad file, refused names, an existing one), up/stop/start/restart/down
and delete as runs of the `compose` flow in the Prefect UI, the list, and a project's logs
over the WebSocket, whose `compose logs` process ends with the client."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from compose_bed import compose_text, down, logs_processes, project_name
from conftest import (
    SERVE_HOMES,
    SERVE_HTTP,
    _free_port,
    answer,
    api_request,
    start_serve,
    stop_serve,
)
from conftest import watch_docker as run_cli
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

import testbed as tb

pytestmark = [pytest.mark.integration, pytest.mark.long]  # over a minute: handed out first


USER, PASSWORD = "admin", "compose-tests-password"


class Served:
    def __init__(self, prefect_api: str, stacks: Path) -> None:
        self.prefect_api = prefect_api
        self.base = SERVE_HTTP[prefect_api]
        self.state = SERVE_HOMES[prefect_api].parent
        self.token = (self.state / "api" / "local-credential").read_text().strip()
        self.stacks = stacks

    def call(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        kwargs.setdefault("timeout", 300)
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.request(method, self.base + path, headers=headers, **kwargs)  # type: ignore[arg-type]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The CLI with serve's settings: a thin client of serve's API."""
        config = self.state.parent / "config.yaml"
        return run_cli(*args, env={"WATCH_STATE_DIR": str(self.state), "WATCH_CONFIG": str(config)})

    def create(self, name: str, content: str | None) -> httpx.Response:
        body = {"name": name} if content is None else {"name": name, "content": content}
        return self.call("POST", "/api/compose/create", json=body)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("compose-serve")
    stacks = tmp / "stacks"
    config = tmp / "config.yaml"
    config.write_text(
        f"scan:\n  interval: 2h\npolicy:\n  onlyLabels: ['{tb.label_filter()}']\n"
        f"compose:\n  dir: {stacks}\n"
    )
    user = {"USER_NAME": USER, "USER_PASSWORD": PASSWORD}
    prefect_api, process = start_serve(tmp, config, _free_port(), env=user)
    yield Served(prefect_api, stacks)
    assert stop_serve(process) == 0, (tmp / "err.log").read_text()


def stack_of(served: Served, name: str) -> dict:
    listed = answer(served.call("GET", "/api/compose"), 200, 0)["data"]
    [found] = [s for s in listed if s["name"] == name]
    return found


def act(served: Served, action: str, name: str, **extra: object) -> dict:
    method = "DELETE" if action == "delete" else "POST"
    response = served.call(method, f"/api/compose/{action}", json={"name": name, **extra})
    return answer(response, 200, 0)["data"]


def test_a_project_s_life_through_the_api_as_compose_flow_runs(served: Served) -> None:
    name = project_name("api")
    content = compose_text({"web": tb.BASE_IMAGE, "db": tb.BASE_IMAGE})
    try:
        made = answer(
            served.create(name, content),
            200,
            0,
        )
        assert made["data"]["folder"] == str(served.stacks.resolve() / name)
        assert stack_of(served, name)["status"] == "not created"
        again = served.create(name, content)
        assert name in answer(again, 409, 40930)["msg"]

        done = act(served, "up", name)
        assert (done["project"], done["action"], done["status"]) == (name, "up", "running")
        run = api_request(served.prefect_api, "GET", f"/flow_runs/{done['flowRunId']}").json()
        assert (run["name"], run["state_type"]) == (f"compose up {name}", "COMPLETED")
        assert done["url"].endswith(f"/runs/flow-run/{done['flowRunId']}")
        stack = stack_of(served, name)
        assert stack["status"] == "running"
        assert {s["name"]: [c["state"] for c in s["containers"]] for s in stack["services"]} == {
            "db": ["running"],
            "web": ["running"],
        }

        assert act(served, "stop", name)["status"] == "stopped"
        assert act(served, "start", name)["status"] == "running"
        assert act(served, "restart", name)["status"] == "running"
        assert act(served, "down", name)["status"] == "not created"
        assert (served.stacks / name).is_dir()
        gone = act(served, "delete", name)
        assert (gone["status"], gone["folderRemoved"]) == ("not created", True)
        assert not (served.stacks / name).exists()
        missing = served.call("POST", "/api/compose/up", json={"name": name})
        assert name in answer(missing, 404, 40430)["msg"]
    finally:
        down(served.stacks / name, name)


def test_refusals_write_nothing(served: Served) -> None:
    good = compose_text({"app": tb.BASE_IMAGE})
    for bad_name in ("../x", "/etc", "", "..", "Up"):
        response = served.create(bad_name, good)
        answer(response, 400, 40030)
        answer(served.call("POST", "/api/compose/stop", json={"name": bad_name}), 400, 40030)
    name = project_name("badfile")
    bad = "services:\n  app:\n    image: x\n    portz: [1]\n"
    refused = answer(served.create(name, bad), 500, 50030)
    assert "portz" in refused["msg"]
    assert not served.stacks.exists() or list(served.stacks.iterdir()) == []
    assert not (served.stacks.parent / "x").exists()
    answer(served.create(name, None), 400, 40000)


def refusal(url: str, headers: dict[str, str] | None = None) -> tuple[int, int]:
    """The HTTP status and code with which the handshake was refused."""
    with pytest.raises(InvalidStatus) as refused, connect(url, additional_headers=headers):
        pass
    response = refused.value.response
    return response.status_code, json.loads(response.body)["code"]


def ws_url(served: Served, name: str, token: str, tail: int = 3) -> str:
    query = f"project={name}&tail={tail}&token={token}"
    return f"{served.base.replace('http', 'ws', 1)}/api/compose/logs/ws?{query}"


def test_logs_stream_over_the_websocket_and_end_with_the_client(served: Served) -> None:
    name = project_name("logs")
    answer(served.create(name, compose_text({"talker": tb.BASE_IMAGE})), 200, 0)
    try:
        act(served, "up", name)
        # As the console does: a login's token, in the query.
        login = {"username": USER, "password": PASSWORD}
        jwt = answer(served.call("POST", "/api/v1/auth/login", json=login), 200, 0)["data"]
        with connect(ws_url(served, name, jwt["token"])) as socket:
            lines = [socket.recv(timeout=30) for _ in range(8)]
            assert all(isinstance(line, str) and "\n" not in line for line in lines)
            assert sum("tick" in line for line in lines) >= 6, lines
            assert logs_processes(name), "no compose logs process while a client follows"
        deadline = time.monotonic() + 30
        while logs_processes(name):
            assert time.monotonic() < deadline, logs_processes(name)
            time.sleep(0.2)

        # Refused before the upgrade, as the API's other streams: the handshake's answer.
        assert refusal(ws_url(served, name, "not-a-token")) == (401, 40101)
        assert refusal(ws_url(served, project_name("nothing"), served.token)) == (404, 40430)
        assert refusal(ws_url(served, "../x", served.token)) == (400, 40030)
        assert refusal(ws_url(served, name, served.token, tail=-1)) == (400, 40000)
        other_site = {"Origin": "http://elsewhere.example"}
        assert refusal(ws_url(served, name, served.token), other_site) == (403, 40320)
        assert not logs_processes(name)
        err = (served.state.parent / "err.log").read_text() + (
            served.state.parent / "out.log"
        ).read_text()
        assert served.token not in err  # the ?token= is never logged
    finally:
        act(served, "delete", name)


def test_the_cli_through_serve(served: Served, tmp_path: Path) -> None:
    name = project_name("cli")
    file = tmp_path / "compose.yml"
    file.write_text(compose_text({"app": tb.BASE_IMAGE}))
    try:
        made = served.cli("compose", "create", name, "--file", str(file))
        assert made.returncode == 0, made.stderr
        assert made.stdout.strip() == f"compose create {name}: {served.stacks.resolve() / name}"
        up = served.cli("compose", "up", name)
        assert (up.returncode, up.stdout.strip()) == (0, f"compose up {name}: running"), up.stderr
        listed = served.cli("compose", "ls", "--json")
        assert listed.returncode == 0, listed.stderr
        [stack] = [s for s in json.loads(listed.stdout)["projects"] if s["name"] == name]
        assert stack["status"] == "running" and stack["managed"]
        table = served.cli("compose", "ls")
        assert any(line.split("\t")[:2] == [name, "running"] for line in table.stdout.splitlines())
        stop = served.cli("compose", "stop", name)
        assert stop.stdout.strip() == f"compose stop {name}: stopped", stop.stderr
        logs = served.cli("compose", "logs", name, "--tail", "2")
        assert logs.returncode == 0 and "tick" in logs.stdout, logs.stderr
        refused = served.cli("compose", "up", "../x")
        assert refused.returncode == 2 and "is a path" in refused.stderr
        unknown = served.cli("compose", "stop", project_name("none"))
        assert unknown.returncode == 1 and "no compose project" in unknown.stderr
        deleted = served.cli("compose", "delete", name)
        assert deleted.stdout.strip() == f"compose delete {name}: not created (its folder removed)"
    finally:
        down(served.stacks / name, name)
