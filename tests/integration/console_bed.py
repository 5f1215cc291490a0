"""The web console's browser tests' shared parts (test_console, test_console_stacks): a real
`watch-docker serve` with a user, tabs of Debian's Chromium whose script errors and policy
refusals are collected, a session started with a signed token, and screenshots saved in the
test's folder (and copied to $CONSOLE_SCREENSHOTS when set)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyotp
from conftest import SERVE_HTTP, _free_port, start_serve, stop_serve
from playwright.sync_api import BrowserContext, Page

from watchdocker.auth.tokens import TokenSigner

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
def served_console(folder: Path, config: str, env: dict[str, str]) -> Iterator[Console]:
    """`watch-docker serve` with `config` (YAML) and `env` (its user), as a Console."""
    path = folder / "config.yaml"
    path.write_text(config)
    api, process = start_serve(folder, path, _free_port(), env)
    shots = folder / "screens"
    shots.mkdir()
    try:
        yield Console(folder, SERVE_HTTP[api], shots)
    finally:
        stop_serve(process)


def watched_page(context: BrowserContext, problems: list[str]) -> Page:
    """A new tab whose script errors and refusals by the page's policy go in `problems`."""
    page = context.new_page()
    page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))
    page.on(
        "console",
        lambda message: (
            problems.append(f"{page.url}: {message.text}")
            if "Content Security Policy" in message.text
            else None
        ),
    )
    return page


def start_session(page: Page, base: str, console: Console, user: str) -> None:
    """A full token as the TOTP login gives one (test_console shows that login), in the tab."""
    page.goto(base + "/")
    token = TokenSigner(console.key()).full(user, two_fa_verified=True)
    page.evaluate(
        "([user, token]) => { sessionStorage.setItem('watchdocker.user', user);"
        " sessionStorage.setItem('watchdocker.token', token); }",
        [user, token],
    )
