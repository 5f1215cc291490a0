"""The console's live parts in a real browser (Debian's Chromium, Playwright) against a real
`watch-docker serve` on the real engine: the Containers page follows the status stream (stop,
start, create and remove with `docker`, no reload, the selection and focus kept), a session
that expires on an open stream goes back to the login page, a container's page follows its logs
(stderr marked) and has a line-mode terminal (echo, Ctrl-C), and where the shell is off it says
so instead. Screenshots as test_console's."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import SERVE_HTTP, _free_port, start_serve, stop_serve, wait_for
from console_kit import (
    NARROW,
    USER,
    WIDE,
    Console,
    fresh_tab,
    serve_console,
    start_session,
    watched_page,
)
from playwright.sync_api import Browser, Page, expect

import testbed as tb
from watchdocker.api.codes import Code
from watchdocker.auth.tokens import FULL_LIFETIME, TokenSigner

pytestmark = [pytest.mark.integration, pytest.mark.long]  # minutes: handed out first

CONFIG = f"scan:\n  interval: 2h\npolicy:\n  onlyLabels: ['{tb.label_filter()}']\n"
PROBLEMS: list[str] = []  # script errors and refusals by the page's policy, in any tab
PRINTER = [
    "sh",
    "-c",
    f"echo first-{tb.RUN_ID}; echo oops-{tb.RUN_ID} >&2; trap 'exit 0' TERM; sleep 3600 & wait",
]


def _serve(tmp_path_factory: pytest.TempPathFactory, name: str, **env: str) -> Iterator[Console]:
    with serve_console(
        tmp_path_factory, name, CONFIG, {"USER_PASSWORD": f"pw-{tb.RUN_ID}-live", **env}
    ) as console:
        yield console


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    yield from _serve(tmp_path_factory, "console-live")


@pytest.fixture(scope="module")
def shell_off(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """A serve whose shells in containers are off."""
    yield from _serve(tmp_path_factory, "console-shell-off", WATCH_SHELL_CONTAINERS="false")


@pytest.fixture
def page(browser: Browser, console: Console) -> Iterator[Page]:
    context = browser.new_context(viewport=WIDE)
    page = watched_page(context, PROBLEMS)
    page.set_default_timeout(30_000)
    start_session(page, console.localhost, console)
    yield page
    context.close()


def row(page: Page, name: str) -> Any:
    return page.locator(f'tr[data-name="{name}"]')


def test_the_containers_page_follows_changes_without_a_reload(page: Page, console: Console):
    name = f"wdt-{tb.RUN_ID}-live-row"
    tb.run_container(tb.BASE_IMAGE, *tb.STOPPABLE_SLEEP, name=name)
    page.goto(console.localhost + "/#/containers")
    expect(page.locator(".live")).to_have_text("live")
    line = row(page, name)
    expect(line.locator(".state")).to_have_text("running")
    # CPU and memory from the stats stream, every 2 s.
    expect(line.locator(".usage")).to_contain_text(re.compile(r"CPU [\d.]+ % · mem [\d.]+ \w+"))
    page.evaluate("window.notReloaded = true")
    # The person's selection and focus stay where they are while the row changes.
    line.get_by_role("checkbox").check()
    line.get_by_role("button", name=f"Delete {name}").focus()

    tb.docker_cli("stop", name)
    expect(line.locator(".state")).to_have_text("exited")
    expect(line.get_by_role("button", name=f"Start {name}")).to_be_visible()
    expect(line.get_by_role("checkbox")).to_be_checked()
    expect(line.get_by_role("button", name=f"Delete {name}")).to_be_focused()
    expect(page.get_by_role("button", name="Update selected (1)")).to_be_enabled()
    tb.docker_cli("start", name)
    expect(line.locator(".state")).to_have_text("running")
    console.screenshot(page, "20-live-containers")

    other = f"wdt-{tb.RUN_ID}-live-new"
    tb.run_container(tb.BASE_IMAGE, *tb.STOPPABLE_SLEEP, name=other)
    expect(row(page, other).locator(".state")).to_have_text("running")
    # The list drawn again (after a Stop from the page) leaves the row of a container that did
    # not change as it is: a click under way in it is not lost.
    line.evaluate("tr => { tr.dataset.drawn = 'earlier'; }")
    row(page, other).get_by_role("button", name=f"Stop {other}").click()
    # Focused once the list is drawn again.
    expect(row(page, other).get_by_role("button", name=f"Start {other}")).to_be_focused()
    expect(line).to_have_attribute("data-drawn", "earlier")
    line.get_by_role("button", name=f"Delete {name}").focus()
    tb.docker_cli("rm", "-f", other)
    expect(row(page, other)).to_have_count(0)
    expect(line.get_by_role("button", name=f"Delete {name}")).to_be_focused()
    assert page.evaluate("window.notReloaded") is True


def test_the_containers_page_reconnects_when_serve_comes_back(
    browser: Browser, tmp_path_factory: pytest.TempPathFactory
):
    folder = tmp_path_factory.mktemp("console-restart")
    config = folder / "config.yaml"
    config.write_text(CONFIG)
    prefect_port, address = _free_port(), f"127.0.0.1:{_free_port()}"  # the same after a restart
    env = {"USER_NAME": USER, "USER_PASSWORD": f"pw-{tb.RUN_ID}-live", "WATCH_SERVER_ADDR": address}
    api, process = start_serve(folder, config, prefect_port, env)
    (folder / "screens").mkdir()
    console = Console(folder, SERVE_HTTP[api], folder / "screens")
    context = browser.new_context(viewport=WIDE)
    try:
        page = watched_page(context, PROBLEMS)
        page.set_default_timeout(30_000)
        start_session(page, console.localhost, console)
        page.goto(console.localhost + "/#/containers")
        live = page.locator(".live")
        expect(live).to_have_text("live")
        stop_serve(process)
        expect(live).to_have_text("reconnecting…", timeout=30_000)
        console.screenshot(page, "26-reconnecting", full_page=False)
        # What changed meanwhile is in the list the stream sends first once it is back.
        name = f"wdt-{tb.RUN_ID}-live-meanwhile"
        tb.run_container(tb.BASE_IMAGE, *tb.STOPPABLE_SLEEP, name=name)
        _, process = start_serve(folder, config, prefect_port, env)
        expect(live).to_have_text("live", timeout=90_000)
        expect(row(page, name).locator(".state")).to_have_text("running")
        expect(page.get_by_role("heading", name="Containers")).to_be_visible()  # no login
    finally:
        context.close()
        stop_serve(process)


def test_a_session_that_expires_on_an_open_stream_goes_to_the_login_page(
    page: Page, console: Console
):
    # A token that expires in half a minute (time for the page to load on a loaded machine):
    # the stream closes (1008), the console then finds the session refused over HTTP and goes
    # back to the login page.
    fresh_tab(page, console.localhost)
    soon = time.time() - FULL_LIFETIME.total_seconds() + 30
    token = TokenSigner(console.key()).full(USER, two_fa_verified=True, now=soon)
    page.evaluate("t => sessionStorage.setItem('watchdocker.token', t)", token)
    page.goto(console.localhost + "/#/containers")
    expect(page.get_by_role("heading", name="Containers")).to_be_visible(timeout=25_000)
    expect(page.get_by_role("heading", name="Log in")).to_be_visible(timeout=60_000)
    expect(page.get_by_role("status")).to_contain_text("expired")


def test_a_container_page_follows_its_logs_and_has_a_terminal(page: Page, console: Console):
    name = f"wdt-{tb.RUN_ID}-live-page"
    tb.run_container(tb.BASE_IMAGE, *PRINTER, name=name)
    page.goto(console.localhost + "/#/containers")
    # Once the start's updates are drawn: a row redrawn between the press and the release of
    # the button loses the click (a suite run under load).
    expect(row(page, name).locator(".state")).to_have_text("running")
    row(page, name).get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible()
    assert page.url.endswith(f"#/containers/{name}")
    logs = page.get_by_role("log", name=f"Logs of {name}")
    expect(logs).to_contain_text(f"first-{tb.RUN_ID}")
    expect(logs.locator(".stderr")).to_have_text(f"oops-{tb.RUN_ID}")
    # A line printed now arrives while the page is open.
    tb.docker_cli("exec", name, "sh", "-c", f"echo later-{tb.RUN_ID} > /proc/1/fd/1")
    expect(logs).to_contain_text(f"later-{tb.RUN_ID}")

    page.get_by_role("button", name="Open a shell (sh)").click()
    terminal = page.get_by_role("log", name=f"Shell in {name}")
    command = page.get_by_label("Command")
    expect(command).to_be_focused()
    command.fill(f"echo hello-{tb.RUN_ID}")
    command.press("Enter")
    # The output on a line of its own (the terminal also echoes what was typed).
    expect(terminal).to_contain_text(re.compile(rf"^hello-{tb.RUN_ID}$", re.MULTILINE))
    command.fill("sleep 600")
    command.press("Enter")
    # Ctrl-C once the shell runs sleep, as a person sees it run: one that came before
    # interrupted nothing, and what followed went to sleep (a suite run).
    wait_for(lambda: "sleep 600" in tb.docker_cli("top", name), timeout=20)
    page.get_by_role("button", name="Send Ctrl-C").click()
    command.fill(f"echo after-{tb.RUN_ID}")
    command.press("Enter")
    expect(terminal).to_contain_text(re.compile(rf"^after-{tb.RUN_ID}$", re.MULTILINE))
    assert "\x1b" not in terminal.inner_text()
    console.screenshot(page, "21-container-page")

    # The details follow the container too: stopped, its output ends and it says so.
    tb.docker_cli("stop", name)
    expect(page.locator(".facts .state")).to_have_text("exited")
    expect(page.get_by_text("The container's output ended")).to_be_visible()
    expect(page.get_by_text(f"{name} is not running: start it first")).to_be_visible()
    console.screenshot(page, "22-container-stopped")


def test_a_narrow_window_shows_the_container_page_without_sideways_scroll(
    browser: Browser, console: Console
):
    name = f"wdt-{tb.RUN_ID}-live-narrow"
    tb.run_container(tb.BASE_IMAGE, *PRINTER, name=name)
    context = browser.new_context(viewport=NARROW, color_scheme="dark")
    narrow = watched_page(context, PROBLEMS)
    start_session(narrow, console.localhost, console)
    narrow.goto(f"{console.localhost}/#/containers/{name}")
    expect(narrow.get_by_role("log", name=f"Logs of {name}")).to_contain_text(f"oops-{tb.RUN_ID}")
    narrow.get_by_role("button", name="Open a shell (sh)").click()
    narrow.get_by_label("Command").fill("ls /")
    narrow.get_by_label("Command").press("Enter")
    expect(narrow.get_by_role("log", name=f"Shell in {name}")).to_contain_text("proc")
    assert narrow.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    console.screenshot(narrow, "23-narrow-container-page")
    narrow.goto(f"{console.localhost}/#/containers")
    expect(row(narrow, name).locator(".usage")).to_contain_text("CPU")
    assert narrow.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    console.screenshot(narrow, "24-narrow-live-containers", full_page=False)
    context.close()


def test_where_the_shell_is_off_the_page_says_so(browser: Browser, shell_off: Console):
    name = f"wdt-{tb.RUN_ID}-live-noshell"
    tb.run_container(tb.BASE_IMAGE, *PRINTER, name=name)
    context = browser.new_context(viewport=WIDE)
    page = watched_page(context, PROBLEMS)
    start_session(page, shell_off.localhost, shell_off)
    page.goto(f"{shell_off.localhost}/#/containers/{name}")
    refusal = page.get_by_role("status").filter(has_text="shells in containers are off")
    expect(refusal).to_be_visible()
    expect(page.get_by_role("button", name="Open a shell (sh)")).to_be_hidden()
    expect(page.get_by_role("log", name=f"Logs of {name}")).to_contain_text(f"first-{tb.RUN_ID}")
    shell_off.screenshot(page, "25-shell-off")
    context.close()


def test_the_shell_check_answers_what_the_handshake_would(console: Console, shell_off: Console):
    running, stopped = f"wdt-{tb.RUN_ID}-live-check-on", f"wdt-{tb.RUN_ID}-live-check-off"
    tb.run_container(tb.BASE_IMAGE, *tb.STOPPABLE_SLEEP, name=running)
    tb.run_container(tb.BASE_IMAGE, *tb.STOPPABLE_SLEEP, name=stopped)
    tb.docker_cli("stop", stopped)

    def check(where: Console, name: str, token: str | None) -> tuple[int, int, object]:
        auth = {"Authorization": f"Bearer {token}"} if token else {}
        answer = httpx.get(f"{where.http}/api/containers/{name}/shell", headers=auth, timeout=30)
        return answer.status_code, answer.json()["code"], answer.json()["data"]

    token = TokenSigner(console.key()).full(USER, two_fa_verified=True)
    status, code, data = check(console, running, token)
    assert (status, code, data["name"], data["shell"]) == (200, Code.OK, running, "sh")
    assert check(console, stopped, token)[:2] == (400, Code.BAD_REQUEST)
    assert check(console, f"wdt-{tb.RUN_ID}-none", token)[:2] == (404, Code.CONTAINER_NOT_FOUND)
    assert check(console, running, None)[:2] == (401, Code.NOT_AUTHENTICATED)
    off = TokenSigner(shell_off.key()).full(USER, two_fa_verified=True)
    assert check(shell_off, running, off)[:2] == (403, Code.SHELL_DISABLED)


def test_no_script_error_nor_policy_refusal_in_any_page():
    assert PROBLEMS == []
