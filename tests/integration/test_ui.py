"""The UI that `watch-docker serve` serves, in a real browser: Debian's chromium, headless,
logs in with the credential of the state directory as a user does, then renders the table
artifact of a triggered scan (testbed/chromium.sh installs it)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from conftest import (
    CHROMIUM_FLAGS,
    SERVE_HOMES,
    finished_run,
    run_artifact,
    run_deployment,
)
from websockets.sync.client import ClientConnection, connect

import testbed as tb
from watchdocker.deployments.prefect_env import CREDENTIAL_FILE

pytestmark = pytest.mark.integration

FLAGS = ["--headless", *CHROMIUM_FLAGS, "--window-size=1400,1000"]
# For --dump-dom and --screenshot: the page is a single-page app, virtual time waits for its
# API calls, then renders.
RENDER = "--virtual-time-budget=15000"
BROWSER_TIMEOUT = 60  # seconds, per chromium call (one takes 2-4 s on the 2-core bed)


def browse(chromium: str, url: str, action: str, profile: Path) -> str:
    """One headless chromium run (`--dump-dom` or `--screenshot=...`) with a fresh profile;
    returns its stdout. The whole process group goes when it overruns its time."""
    process = subprocess.Popen(
        [chromium, *FLAGS, RENDER, f"--user-data-dir={profile}", action, url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=BROWSER_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        pytest.fail(f"chromium {action} {url} took over {BROWSER_TIMEOUT}s:\n{err[-2000:]}")
    assert process.returncode == 0, f"chromium {action} {url}: {process.returncode}\n{err[-2000:]}"
    return out


class DevTools:
    """A headless chromium driven through the DevTools protocol (websockets comes with
    Prefect), for what its command line cannot do: type into a form."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection, self.sent = connection, 0

    def call(self, method: str, session: str | None = None, **params: object) -> dict:
        """`method` of the browser, or of the page attached as `session`; its result."""
        self.sent += 1
        message: dict = {"id": self.sent, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self.connection.send(json.dumps(message))
        while True:
            answer = json.loads(self.connection.recv(timeout=BROWSER_TIMEOUT))
            if answer.get("id") == self.sent:
                return answer.get("result", {})

    def wait_until(self, session: str, condition: str) -> None:
        """Until the JavaScript expression `condition` is true on the page."""
        deadline = time.monotonic() + BROWSER_TIMEOUT
        while True:
            answer = self.call("Runtime.evaluate", session, expression=condition)
            if answer["result"].get("value"):
                return
            assert time.monotonic() < deadline, f"never true: {condition}"
            time.sleep(0.25)


def log_in(chromium: str, ui: str, credential: str, profile: Path) -> str:
    """Opens `ui`/deployments, which sends the browser to the login form; types `credential`
    there and presses Enter, as a user pastes the credential file. The profile keeps the login
    for later browse() calls. Returns the path of the page that asked for it."""
    process = subprocess.Popen(
        [chromium, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        # Chromium writes the port it chose and the browser's path there.
        active = profile / "DevToolsActivePort"
        deadline = time.monotonic() + BROWSER_TIMEOUT
        while len(lines := active.read_text().split() if active.exists() else []) < 2:
            assert process.poll() is None and time.monotonic() < deadline, "no DevTools port"
            time.sleep(0.1)
        with connect(f"ws://127.0.0.1:{lines[0]}{lines[1]}", max_size=None) as connection:
            tools = DevTools(connection)
            target = tools.call("Target.createTarget", url=f"{ui}/deployments")["targetId"]
            page = tools.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
            # The app sends the browser to its login form, and focuses its password field.
            tools.wait_until(page, "document.activeElement.type === 'password'")
            first = tools.call("Runtime.evaluate", page, expression="location.pathname")
            tools.call("Input.insertText", page, text=credential)
            for kind in ("keyDown", "keyUp"):
                enter = {"key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13}
                tools.call("Input.dispatchKeyEvent", page, type=kind, text="\r", **enter)
            tools.wait_until(page, "location.pathname === '/deployments'")
            tools.call("Browser.close")  # and the profile is written
        process.wait(BROWSER_TIMEOUT)
        return first["result"]["value"]
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


class _Rows(HTMLParser):
    """The text of each cell of each <tr> of a dumped DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th") and self.rows:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def table_rows(dom: str) -> list[list[str]]:
    parser = _Rows()
    parser.feed(dom)
    return parser.rows


def visible_text(dom: str) -> str:
    dom = re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", dom)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom)).strip()


def test_the_served_ui_shows_the_scan_table(served, chromium, tmp_path: Path):
    api, _ = served
    ui = api.removesuffix("/api")
    container = tb.current_container("ui")
    profile = tmp_path / "profile"
    credential = (SERVE_HOMES[api] / CREDENTIAL_FILE).read_text().strip()
    assert log_in(chromium, ui, credential, profile) == "/login"  # no way in without it
    try:
        run_id = run_deployment(api, "scan")
        state = finished_run(api, run_id)
        assert state["state_type"] == "COMPLETED", state
        artifact = run_artifact(api, run_id, "watchdocker-scan")

        # The artifact's own page renders its table (the /artifacts/key/... page does not,
        # headless, within the budget; the run's Artifacts tab shows no cells).
        page = f"{ui}/artifacts/artifact/{artifact['id']}"
        rows: list[list[str]] = []
        for _ in range(3):  # a busy machine may render late; each run is time-boxed
            dom = browse(chromium, page, "--dump-dom", profile)
            rows = [row for row in table_rows(dom) if container in row]
            if rows:
                break
        ui_api = httpx.get(f"{ui}/ui-settings", timeout=5).json().get("api_url")
        assert rows, (
            f"no table row for {container} on {page}; the UI calls the API at {ui_api} "
            f"(this server: {api}); it shows: {visible_text(dom)[:1500]}"
        )
        [row] = rows
        assert "up_to_date" in row, row
        assert "name" in visible_text(dom) and "status" in visible_text(dom)

        screenshot = tmp_path / "ui.png"
        browse(chromium, page, f"--screenshot={screenshot}", profile)
        png = screenshot.read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        assert len(png) > 20_000, f"{screenshot}: only {len(png)} bytes"
        print(f"screenshot: {screenshot}")
    finally:
        tb.docker_cli("rm", "-f", container, check=False)
