"""What the console's browser tests share beside conftest's `browser`: a `watch-docker serve`
with a user for them, tabs that record script errors and policy refusals, a session put in a
tab, and screenshots (in the test's folder, copied to $CONSOLE_SCREENSHOTS when set)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyotp
import pytest
from conftest import SERVE_HTTP, _free_port, start_serve, stop_serve
from playwright.sync_api import (
    BrowserContext,
    Page,
    Request,
    expect,
)

from watchdocker.auth.tokens import TokenSigner

# What a page shows after a serve call or an engine event: with the whole suite on 2 cores,
# Playwright's 5 s default has run out before a page that was right (a behaviour, not a bound).
expect.set_options(timeout=20_000)

USER = "admin"
# Where the screenshots are copied too, when set (they stay in the test's folder anyway).
SCREENS = os.environ.get("CONSOLE_SCREENSHOTS")
WIDE = {"width": 1280, "height": 900}
NARROW = {"width": 390, "height": 844}


@dataclass
class Console:
    folder: Path
    http: str  # http://127.0.0.1:PORT
    shots: Path
    # What the tests pass on: the TOTP secret read from the page, the last TOTP step used.
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def localhost(self) -> str:
        return self.http.replace("127.0.0.1", "localhost")

    def key(self) -> str:
        return (self.folder / "state" / "api" / "jwt.key").read_text().strip()

    def fresh_code(self) -> str:
        """A code newer than the last one used (the replay guard, shared by logins and
        approvals, refuses older ones), waiting until the server's ±1 step window takes it."""
        last = self.state.get("step", -1)
        while int(time.time() // 30) < last:
            time.sleep(0.5)
        step = max(last + 1, int(time.time() // 30))
        self.state["step"] = step
        return pyotp.TOTP(self.state["secret"]).at(step * 30)

    def screenshot(self, page: Page, name: str, full_page: bool = True) -> None:
        path = self.shots / f"{name}.png"
        page.screenshot(path=path, full_page=full_page)
        if SCREENS:
            Path(SCREENS).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(SCREENS) / path.name)


@contextmanager
def serve_console(
    tmp_path_factory: pytest.TempPathFactory, name: str, config: str, env: Mapping[str, str]
) -> Iterator[Console]:
    """A `serve` of its own (config.yaml's text, extra variables) for one test module."""
    folder = tmp_path_factory.mktemp(name)
    config_file = folder / "config.yaml"
    config_file.write_text(config)
    api, process = start_serve(folder, config_file, _free_port(), {"USER_NAME": USER, **env})
    shots = folder / "screens"
    shots.mkdir()
    try:
        yield Console(folder, SERVE_HTTP[api], shots)
    finally:
        stop_serve(process)


def watched_page(context: BrowserContext, problems: list[str]) -> Page:
    """A tab whose script errors, refusals by the page's policy and console files that did not
    come go to `problems`."""
    page = context.new_page()

    def said(problem: str) -> None:
        # Printed as well: a test that fails on a blank page shows why in its output.
        print(f"problem in the tab at {page.url}: {problem}")
        problems.append(f"{page.url}: {problem}")

    page.on("pageerror", lambda error: said(str(error)))
    page.on(
        "console",
        lambda message: said(message.text) if "Content Security Policy" in message.text else None,
    )

    # A console file that did not come (an error, a dropped connection) leaves its scripts
    # unrun and the page blank without a script error: said too. Not a problem: a file cut
    # short by the tab's next navigation (ERR_ABORTED), or dropped by Chromium when the
    # engine added or removed a network interface (ERR_NETWORK_CHANGED: the console loads
    # again, boot.js), which is only printed.
    def failed(request: Request) -> None:
        failure = request.failure or ""
        if request.resource_type not in ("document", "script", "stylesheet"):
            return
        if "ERR_NETWORK_CHANGED" in failure:
            print(f"{request.url} dropped by Chromium: {failure}")
        elif "ERR_ABORTED" not in failure:
            said(f"{request.url} failed: {failure}")

    page.on("requestfailed", failed)
    page.on(
        "response",
        lambda response: (
            said(f"{response.url} answered {response.status}")
            if response.status >= 400
            and response.request.resource_type in ("document", "script", "stylesheet")
            else None
        ),
    )
    return page


# What the tab fetched (each file, its HTTP status, how long it took): said when a page
# stays blank.
FETCHED = """() => performance.getEntriesByType('resource').map(
  (e) => `${e.name} ${e.responseStatus} ${Math.round(e.duration)} ms`)"""


def fresh_tab(page: Page, base: str) -> None:
    """The tab on the console's login page without a session, nothing of an earlier page
    left running: an earlier page's call still on its way could otherwise end a session set
    after it, and the page would then show the login page without its message."""
    page.goto(base + "/")
    page.evaluate("sessionStorage.clear()")
    page.reload()
    login = page.get_by_role("heading", name="Log in")
    try:
        expect(login).to_be_visible()
    except AssertionError:
        print(f"the console did not draw its login page at {page.url}; it fetched:")
        print("\n".join(page.evaluate(FETCHED)))
        raise


def start_session(page: Page, base: str, console: Console) -> None:
    """A full token as a login gives one (the login itself is test_console's), in the tab."""
    # The console is up (its login page) before the token is set: a navigation that follows
    # is then a hash change it routes, not one racing its start.
    fresh_tab(page, base)
    token = TokenSigner(console.key()).full(USER, two_fa_verified=True)
    page.evaluate(
        "([user, token]) => { sessionStorage.setItem('watchdocker.user', user);"
        " sessionStorage.setItem('watchdocker.token', token); }",
        [USER, token],
    )
