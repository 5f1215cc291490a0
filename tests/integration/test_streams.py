"""The API's WebSocket streams over real WebSockets against `watch-docker serve` (a user
configured) on the real engine: admission (no token, a temp token, an expired one, a foreign
Origin), container status changes at several subscribers (Docker events, and a scan's and an
update's outcomes), a stalled subscriber that delays nobody, logs in order, stats, a shell in a
container (echo, resize), the host shell off and on, and nothing left behind (exec sessions,
threads, subprocesses) once the clients are gone or serve stops."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from conftest import SERVE_HTTP, _free_port, finished_run, run_deployment, start_serve, stop_serve

import testbed as tb
from watchdocker.api.codes import Code
from watchdocker.auth.tokens import TokenSigner

pytestmark = [pytest.mark.integration, pytest.mark.long]  # minutes: handed out first

USER = "admin"
PASSWORD = f"pw-{tb.RUN_ID}-Stream-Horse"
BASE = "watchdocker-testbed/busybox:base"


def name(suffix: str) -> str:
    return f"wdt-{tb.RUN_ID}-{suffix}"


class Served:
    def __init__(self, folder: Path, api: str, process: Any) -> None:
        self.folder, self.api, self.process = folder, api, process
        self.http = SERVE_HTTP[api]
        self.ws = self.http.replace("http://", "ws://")
        answer = httpx.post(
            self.http + "/api/v1/auth/login", json={"username": USER, "password": PASSWORD}
        )
        self.token = answer.json()["data"]["token"]

    def signer(self) -> TokenSigner:
        return TokenSigner((self.folder / "state" / "api" / "jwt.key").read_text().strip())

    def url(self, path: str, token: str | None = None) -> str:
        return self.ws + path + (f"?token={token}" if token else "")


def _start(tmp: Path, extra_env: dict[str, str] | None = None, config: str = "") -> Served:
    path = tmp / "config.yaml"
    path.write_text(
        f"policy:\n  onlyLabels: ['{tb.label_filter()}']\nupdate:\n  stableSeconds: 1s\n" + config
    )
    env = {
        "USER_NAME": USER,
        "USER_PASSWORD": PASSWORD,
        # As serve logs outside tests (tests/conftest.py quiets the console to WARNING).
        "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "INFO",
        **(extra_env or {}),
    }
    api, process = start_serve(tmp, path, _free_port(), env=env)
    return Served(tmp, api, process)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    serve = _start(tmp_path_factory.mktemp("streams"))
    yield serve
    stop_serve(serve.process)
    logs = (serve.folder / "out.log").read_text() + (serve.folder / "err.log").read_text()
    assert serve.token not in logs
    assert "Traceback" not in logs, logs[-3000:]


@pytest.fixture(scope="module")
def sleeper() -> Iterator[str]:
    """A running container of this run."""
    container = name("stream-sleeper")
    tb.run_container(BASE, *tb.STOPPABLE_SLEEP, name=container)
    yield container
    tb.docker_cli("rm", "-f", container, check=False)


def run(coroutine: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, 120))


async def refusal(url: str, **kwargs: Any) -> tuple[int, dict]:
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(url, **kwargs):
            pass
    response = refused.value.response
    return response.status_code, json.loads(response.body)


async def messages(ws: Any, count: int | None = None, until: Any = None) -> list[dict]:
    got: list[dict] = []
    while count is None or len(got) < count:
        got.append(json.loads(await asyncio.wait_for(ws.recv(), 30)))
        if until is not None and until(got[-1]):
            break
    return got


def stream_paths(container: str) -> list[str]:
    return [
        "/api/containers/ws",
        "/api/containers/stats/ws",
        f"/api/containers/{container}/logs/ws",
        f"/api/containers/{container}/shell/ws",
        "/api/shell/ws",
    ]


def test_every_stream_needs_a_full_token(served: Served, sleeper: str):
    temp = served.signer().temp(USER)
    expired = served.signer().full(USER, two_fa_verified=True, now=time.time() - 86401)

    async def check() -> None:
        for path in stream_paths(sleeper):
            status, body = await refusal(served.url(path))
            assert (status, body["code"]) == (401, Code.NOT_AUTHENTICATED), body
            assert "?token=" in body["msg"]
            status, body = await refusal(served.url(path, "not-a-token"))
            assert (status, body["code"]) == (401, Code.NOT_AUTHENTICATED), body
            status, body = await refusal(served.url(path, expired))
            assert (status, body["code"]) == (401, Code.TOKEN_EXPIRED), body
            status, body = await refusal(served.url(path, temp))
            assert (status, body["code"]) == (403, Code.FULL_TOKEN_REQUIRED), body
            # A page of another site, even with a good token.
            status, body = await refusal(
                served.url(path, served.token), origin="http://evil.example"
            )
            assert (status, body["code"]) == (403, Code.ORIGIN_NOT_ALLOWED), body

    run(check())


def test_the_token_expiring_closes_the_stream(served: Served):
    # Issued 24 h less 3 s ago: it expires 3 s from now.
    soon = served.signer().full(USER, two_fa_verified=True, now=time.time() - 86400 + 3)

    async def check() -> None:
        # As a browser page of the API's own host sends it, with the token as a subprotocol.
        origin = served.http
        async with websockets.connect(
            served.url("/api/containers/ws"), subprotocols=["bearer", soon], origin=origin
        ) as ws:
            assert ws.subprotocol == "bearer"
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(ws.recv(), 30)
        assert closed.value.rcvd.code == 1008
        assert "expired" in closed.value.rcvd.reason

    run(check())


def test_status_changes_reach_every_subscriber(served: Served):
    container = name("stream-status")

    async def check() -> None:
        clients = [
            await websockets.connect(served.url("/api/containers/ws", served.token))
            for _ in range(3)
        ]
        for ws in clients:
            first = await messages(ws, 1)
            assert first[0]["type"] == "containers"
            assert "containers" in first[0]["data"]
        await asyncio.to_thread(tb.run_container, BASE, *tb.STOPPABLE_SLEEP, name=container)
        await asyncio.to_thread(tb.docker_cli, "stop", "-t", "1", container)
        await asyncio.to_thread(tb.docker_cli, "start", container)
        await asyncio.to_thread(tb.docker_cli, "rm", "-f", container)
        for ws in clients:
            ours = [
                m
                for m in await messages(
                    ws,
                    until=lambda m: m["type"] == "destroyed" and m["data"]["name"] == container,
                )
                if m["data"].get("name") == container
            ]
            kinds = [m["type"] for m in ours]
            expected = iter(kinds)
            assert all(k in expected for k in ["created", "started", "stopped", "started"]), kinds
            assert kinds[-1] == "destroyed"
            started = next(m for m in ours if m["type"] == "started")["data"]
            assert started["running"] is True and started["status"] == "unknown"
            assert {"id", "name", "image", "state", "reason"} <= set(started)
            await ws.close()

    run(check())


class Stalled:
    """A WebSocket client that completes the handshake, then never reads a byte."""

    def __init__(self, url: str) -> None:
        host, _, rest = url.removeprefix("ws://").partition("/")
        address, port = host.rsplit(":", 1)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect((address, int(port)))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET /{rest} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def rest(self) -> tuple[bytes, bool]:
        """Everything sent since (read at last), and whether the server closed the
        connection after it."""
        self.sock.settimeout(10)
        data = b""
        try:
            while chunk := self.sock.recv(1 << 20):
                data += chunk
        except TimeoutError:
            return data, False
        finally:
            self.sock.close()
        return data, True


BLOCKS, BLOCK = 100, 3000  # 300000 lines, 9 MB of messages in about 3 s: more than a
# subscriber may be behind (4 MB), but not more than a client that reads can take


def test_logs_in_order_while_a_stalled_subscriber_is_dropped(served: Served):
    container = name("stream-logs")
    script = (
        f"sleep 3; for i in $(seq 0 {BLOCKS - 1}); do seq $((i*{BLOCK}+1)) $((i*{BLOCK}+{BLOCK})); "
        "usleep 30000; done; echo to-stderr >&2; sleep 1"
    )

    async def check() -> None:
        await asyncio.to_thread(tb.run_container, BASE, "sh", "-c", script, name=container)
        path = f"/api/containers/{container}/logs/ws?tail=0&token={served.token}"
        stalled = await asyncio.to_thread(Stalled, served.ws + path)
        lines = []
        async with websockets.connect(served.ws + path) as ws:
            with pytest.raises(websockets.ConnectionClosedOK) as closed:
                while True:
                    message = json.loads(await asyncio.wait_for(ws.recv(), 30))
                    lines += message["data"]["lines"]
        assert "output ended" in closed.value.rcvd.reason
        stdout = [line["line"] for line in lines if line["stream"] == "stdout"]
        assert stdout == [str(n) for n in range(1, BLOCKS * BLOCK + 1)]
        assert [line for line in lines if line["stream"] == "stderr"] == [
            {"stream": "stderr", "line": "to-stderr"}
        ]
        # The stalled one was dropped: it got what the sockets' buffers held, then the end.
        received, closed_by_serve = await asyncio.to_thread(stalled.rest)
        assert b'"line":"1"' in received
        assert f'"line":"{BLOCKS * BLOCK}"'.encode() not in received
        assert closed_by_serve
        logs = (served.folder / "err.log").read_text() + (served.folder / "out.log").read_text()
        assert "too slow: dropped component=streams action=logs:" in logs

    try:
        run(check())
    finally:
        tb.docker_cli("rm", "-f", container, check=False)


def test_stats_of_a_running_container(served: Served, sleeper: str):
    async def check() -> None:
        async with websockets.connect(served.url("/api/containers/stats/ws", served.token)) as ws:
            for _ in range(6):
                message = json.loads(await asyncio.wait_for(ws.recv(), 30))
                assert message["type"] == "stats"
                ours = [c for c in message["data"]["containers"] if c["name"] == sleeper]
                if ours:
                    break
            assert ours, "the running container never had stats"
            figures = ours[0]
            assert figures["memoryUsage"] > 0 and figures["memoryLimit"] >= figures["memoryUsage"]
            assert figures["cpuPercent"] >= 0
            assert figures["networkRxRate"] >= 0 and figures["networkTxRate"] >= 0

    run(check())


def exec_sessions(container: str) -> list[dict]:
    """The engine's account of every exec session in `container`."""
    import docker

    client = docker.from_env()
    try:
        ids = client.api.inspect_container(container)["ExecIDs"] or []
        return [client.api.exec_inspect(i) for i in ids]
    finally:
        client.close()


def running_execs(container: str) -> list[str]:
    """The exec sessions the engine still runs in `container`."""
    return [e["ID"] for e in exec_sessions(container) if e["Running"]]


def exec_story(container: str) -> list[str]:
    """What the engine says of each exec session: for a shell that ended."""
    return [
        f"{e['ProcessConfig']['arguments']} running={e['Running']} exit={e['ExitCode']}"
        for e in exec_sessions(container)
    ]


async def shell_round_trip(ws: Any, container: str | None = None) -> bytes:
    output = b""
    try:
        await ws.send(json.dumps({"type": "resize", "cols": 101, "rows": 33}))
        await ws.send("echo hi-$((40+2)); stty size\n")
        while b"33 101" not in output:
            chunk = await asyncio.wait_for(ws.recv(), 30)
            assert isinstance(chunk, bytes)
            output += chunk
    except websockets.ConnectionClosed as closed:
        with contextlib.suppress(websockets.ConnectionClosed):
            while True:  # what came before the close
                more = await ws.recv()
                output += more if isinstance(more, bytes) else more.encode()
        story = await asyncio.to_thread(exec_story, container) if container else []
        raise AssertionError(f"{closed} after {output!r}; exec sessions: {story}") from closed
    return output


def test_a_shell_in_a_container(served: Served, sleeper: str):
    async def check() -> None:
        async with websockets.connect(
            served.url(f"/api/containers/{sleeper}/shell/ws", served.token)
        ) as ws:
            output = await shell_round_trip(ws, sleeper)
            assert b"hi-42" in output and b"watchdocker-pid" not in output
            await ws.send(b"sleep 1000\n")  # binary frames are keystrokes too
            await asyncio.sleep(0.5)
            assert running_execs(sleeper)

    run(check())
    # Gone with the client, and what it ran too.
    deadline = time.monotonic() + 20
    while running_execs(sleeper) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert running_execs(sleeper) == []
    assert "sleep 1000" not in tb.docker_cli("exec", sleeper, "ps")
    log = (served.folder / "err.log").read_text() + (served.folder / "out.log").read_text()
    assert "shell closed" in log and f'target="container {sleeper}"' in log
    assert "hi-$((40+2))" not in log  # never the keystrokes


def test_the_host_shell_is_off_by_default(served: Served):
    async def check() -> None:
        status, body = await refusal(served.url("/api/shell/ws", served.token))
        assert (status, body["code"]) == (403, Code.SHELL_DISABLED)
        assert "IS_OPEN_DOCKER_SHELL=true" in body["msg"]

    run(check())


def threads_of(pid: int) -> set[int]:
    """The ids of serve's threads: by id, not by count, as pooled threads of earlier requests
    end whenever they have been idle long enough."""
    return {int(task) for task in os.listdir(f"/proc/{pid}/task")}


def children_of(pid: int) -> set[int]:
    found: set[int] = set()
    for task in threads_of(pid):
        try:
            text = Path(f"/proc/{pid}/task/{task}/children").read_text()
        except FileNotFoundError:
            continue  # a thread that ended since the listing
        found |= {int(p) for p in text.split()}
    return found


def settle(pid: int, started: set[int], children: set[int], timeout: float = 30) -> set[int]:
    """Waits (30 s: idle pooled threads end within 10 s) until none of the threads `started`
    runs and serve has no child process but `children`; what is left of both."""
    deadline = time.monotonic() + timeout
    while True:
        left = (threads_of(pid) & started) | (children_of(pid) - children)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.5)


def test_nothing_is_left_once_the_clients_are_gone(served: Served, sleeper: str):
    pid = served.process.pid
    before, children = threads_of(pid), children_of(pid)
    started: set[int] = set()

    async def check() -> None:
        token = served.token
        opened = [
            await websockets.connect(served.url(path, token))
            for path in [
                "/api/containers/ws",
                "/api/containers/ws",
                "/api/containers/stats/ws",
                f"/api/containers/{sleeper}/logs/ws",
                f"/api/containers/{sleeper}/shell/ws",
            ]
        ]
        await messages(opened[0], 1)
        await messages(opened[2], 2)
        await shell_round_trip(opened[4], sleeper)
        started.update(threads_of(pid) - before)
        assert started  # the sources and the shell run in threads
        opened[1].transport.abort()  # gone without a closing handshake
        opened[4].transport.abort()
        for ws in opened:
            await ws.close()

    run(check())
    assert settle(pid, started, children) == set()
    deadline = time.monotonic() + 20
    while running_execs(sleeper) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert running_execs(sleeper) == []


def test_a_half_open_client_is_dropped_by_the_keepalive(served: Served):
    # A client that vanished without a FIN (a laptop closed) looks like this one: the
    # connection stays open, and nothing answers serve's pings.
    pid = served.process.pid
    before = threads_of(pid)
    silent = Stalled(served.url("/api/containers/ws", served.token))
    deadline = time.monotonic() + 10
    while not threads_of(pid) - before and time.monotonic() < deadline:
        time.sleep(0.2)
    started = threads_of(pid) - before
    assert started  # the status source's threads run for it
    # uvicorn pings after 20 s and gives up 20 s later: the session ends, the source stops.
    assert settle(pid, started, children_of(pid), timeout=70) == set()
    received, closed_by_serve = silent.rest()
    assert received.startswith(b"\x81") and closed_by_serve


def test_scan_and_update_outcomes_reach_the_status_stream(served: Served):
    outdated, _, _ = tb.outdated_container("stream-outdated")

    async def check() -> None:
        async with websockets.connect(served.url("/api/containers/ws", served.token)) as ws:
            await messages(ws, 1)
            run_id = await asyncio.to_thread(run_deployment, served.api, "scan")
            state = await asyncio.to_thread(finished_run, served.api, run_id)
            assert state["state_type"] == "COMPLETED", state
            found = await messages(
                ws,
                until=lambda m: m["type"] == "update_available" and m["data"]["name"] == outdated,
            )
            assert found[-1]["data"]["remote_digest"].startswith("sha256:")
            answer = await asyncio.to_thread(
                httpx.post,
                f"{served.http}/api/containers/{outdated}/update",
                headers={"Authorization": f"Bearer {served.token}"},
                timeout=300,
            )
            assert answer.json()["code"] == 0, answer.json()
            found = await messages(
                ws, until=lambda m: m["type"] == "updated" and m["data"]["name"] == outdated
            )
            assert found[-1]["data"]["running"] is True

    try:
        run(check())
    finally:
        tb.docker_cli("rm", "-f", outdated, check=False)


def test_the_host_shell_when_on_and_serve_stopping_with_streams_open(tmp_path: Path, sleeper: str):
    serve = _start(tmp_path, {"IS_OPEN_DOCKER_SHELL": "true"})
    pid = serve.process.pid
    shells: set[int] = set()  # the host shells' processes
    try:
        children = children_of(pid)

        async def check() -> None:
            async with websockets.connect(serve.url("/api/shell/ws", serve.token)) as ws:
                output = await shell_round_trip(ws)
                assert b"hi-42" in output
                assert len(children_of(pid)) == len(children) + 1
            assert settle(pid, set(), children) == set()  # the shell's process is gone
            # Streams still open when serve stops: it stops all the same, closing them.
            status = await websockets.connect(serve.url("/api/containers/ws", serve.token))
            shell = await websockets.connect(
                serve.url(f"/api/containers/{sleeper}/shell/ws", serve.token)
            )
            await shell_round_trip(shell, sleeper)
            host = await websockets.connect(serve.url("/api/shell/ws", serve.token))
            await shell_round_trip(host)
            shells.update(children_of(pid) - children)
            assert shells
            assert await asyncio.to_thread(stop_serve, serve.process) == 0
            with pytest.raises(websockets.ConnectionClosed):
                while True:
                    await asyncio.wait_for(status.recv(), 30)

        run(check())
    finally:
        stop_serve(serve.process)
    assert running_execs(sleeper) == []
    assert not [p for p in shells if Path(f"/proc/{p}").exists()]
    log = (tmp_path / "err.log").read_text() + (tmp_path / "out.log").read_text()
    assert "target=host" in log and "shell closed" in log
