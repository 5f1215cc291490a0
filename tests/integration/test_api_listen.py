"""Where `watch-docker serve` puts its HTTP API, as a user starts it: loopback until a user is
configured (said in one line), refused beyond loopback without one, a taken port stops it at once;
the address published for the CLI while it serves, and withdrawn when it stops."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx
import pytest
import yaml
from conftest import SERVE_HTTP, _free_port, one_line, start_serve, stop_serve, watch_docker

pytestmark = pytest.mark.integration


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"stateDir": str(tmp_path / "state")}))
    return path


def test_beyond_loopback_without_a_user_is_refused_before_anything_starts(tmp_path: Path) -> None:
    started = time.monotonic()
    done = watch_docker(
        "serve",
        "--config",
        str(_config(tmp_path)),
        env={"WATCH_SERVER_ADDR": f"0.0.0.0:{_free_port()}", "WATCH_PREFECT_ADDR": "127.0.0.1:1"},
    )
    assert done.returncode == 2
    line = one_line(done.stderr)
    assert "server.addr (WATCH_SERVER_ADDR)" in line and "no user is configured" in line
    assert "USER_NAME" in line and "USER_PASSWORD" in line
    assert not (tmp_path / "state" / "prefect").exists()  # no Prefect server was started
    assert time.monotonic() - started < 30


def test_a_taken_port_stops_serve_at_once(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = watch_docker(
            "serve",
            "--config",
            str(_config(tmp_path)),
            env={"WATCH_SERVER_ADDR": f"127.0.0.1:{port}", "WATCH_PREFECT_ADDR": "127.0.0.1:1"},
        )
    assert done.returncode == 1
    assert one_line(done.stderr) == (
        f"watch-docker: the API cannot listen on 127.0.0.1:{port}: address already in use; "
        "set server.addr (WATCH_SERVER_ADDR) to a free address"
    )


def test_serve_answers_on_loopback_and_publishes_its_address(tmp_path: Path) -> None:
    port = _free_port()
    api, process = start_serve(
        tmp_path, _config(tmp_path), _free_port(), {"WATCH_SERVER_ADDR": f":{port}"}
    )
    try:
        assert SERVE_HTTP[api] == f"http://:{port}"
        base = f"http://127.0.0.1:{port}"
        out = (tmp_path / "out.log").read_text()
        assert f"watch-docker: API at {base} (docs: {base}/docs)" in out
        assert "the API listens on 127.0.0.1 only: set USER_NAME and USER_PASSWORD" in out
        published = tmp_path / "state" / "api" / "address"
        assert published.read_text().splitlines()[0] == base
        assert published.stat().st_mode & 0o077 == 0
        assert httpx.get(f"{base}/healthz").json() == {
            "code": 0,
            "msg": "ok",
            "data": {"status": "up"},
        }
        ready = httpx.get(f"{base}/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
        assert ready.json()["data"] == {"docker": "up", "prefect": "up"}
        assert httpx.get(f"{base}/docs").status_code == 200
        # Only loopback: no other address of this host answers.
        others = {
            info[4][0]
            for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
            if not info[4][0].startswith("127.")
        }
        for host in others:
            with pytest.raises(httpx.ConnectError):
                httpx.get(f"http://{host}:{port}/healthz", timeout=2)
        unknown = httpx.get(f"{base}/api/nothing-here")
        assert (unknown.status_code, unknown.json()["code"]) == (404, 40400)
        anonymous = httpx.get(f"{base}/api/containers")
        assert (anonymous.status_code, anonymous.json()["code"]) == (401, 40101)
    finally:
        assert stop_serve(process) == 0
    assert not published.exists()
