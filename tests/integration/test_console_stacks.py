"""The console's Stacks page in Debian's Chromium against a real `watch-docker serve` and the
real Compose CLI: a project created from the page (the keyboard's Ctrl+Enter), listed as not
created, up (the run's link), its logs followed over the WebSocket (lines as text, scrolled to
the newest unless the reader scrolled up, the last 2000 kept, the `compose logs` process ended
by Stop or by leaving the page), stop, down and delete after their dialogs; a refused name, a
taken one and a file compose refuses said in the form; an `up` compose fails said with
compose's message and the run's link; a narrow window. Screenshots as test_console's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from compose_bed import compose_text, down, logs_processes, project_name
from conftest import wait_for
from console_kit import (
    NARROW,
    WIDE,
    Console,
    serve_console,
    start_session,
    watched_page,
)
from playwright.sync_api import Browser, Page, expect

import testbed as tb

pytestmark = [pytest.mark.integration, pytest.mark.long]  # over a minute: handed out first

PASSWORD = f"pw-{tb.RUN_ID}-stacks"
RUN_TIMEOUT = 180_000  # ms: a compose flow run (up may create networks and containers)
KEPT_LINES = 2000  # what the page keeps of a followed log (stacks.js)
# Bursts of 100 numbered lines a second, with markup that must stay text; stops on SIGTERM
# (`$$`: a `$` compose does not interpolate).
BURSTS = [
    "sh",
    "-c",
    "trap 'exit 0' TERM; i=0; while true; do i=$$((i+1)); echo \"line $$i <b>not bold</b>\";"
    " if [ $$((i % 100)) -eq 0 ]; then sleep 1; fi; done",
]


@pytest.fixture(scope="module")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """compose.dir: where the page's projects get their folders."""
    return tmp_path_factory.mktemp("console-stacks-dir") / "stacks"


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory, stacks: Path) -> Iterator[Console]:
    config = (
        f"scan:\n  interval: 2h\npolicy:\n  onlyLabels: ['{tb.label_filter()}']\n"
        f"compose:\n  dir: {stacks}\n"
    )
    env = {"USER_PASSWORD": PASSWORD}
    with serve_console(tmp_path_factory, "console-stacks", config, env) as console:
        yield console


PROBLEMS: list[str] = []  # script errors and refusals by the page's policy, in any tab


@pytest.fixture(scope="module")
def page(browser: Browser, console: Console) -> Iterator[Page]:
    context = browser.new_context(viewport=WIDE)
    page = watched_page(context, PROBLEMS)
    page.set_default_timeout(30_000)
    start_session(page, console.localhost, console)
    page.goto(console.localhost + "/#/stacks")
    yield page
    context.close()


@pytest.fixture(scope="module")
def project(stacks: Path) -> Iterator[str]:
    name = project_name("console-stack")
    yield name
    down(stacks / name, name)


def row(page: Page, name: str) -> Any:
    return page.locator(f'tr[data-name="{name}"]')


def create(page: Page, name: str, content: str) -> None:
    """Fills the New stack form and sends it from the file's field with Ctrl+Enter."""
    if page.locator("#create-stack").is_hidden():
        page.get_by_role("button", name="New stack").click()
    expect(page.get_by_label("Name", exact=True)).to_be_focused()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Compose file (YAML)").fill(content)
    page.get_by_label("Compose file (YAML)").press("Control+Enter")


def last_line(log: Any) -> int:
    """The number of the last `line N` the log panel shows."""
    return int(log.evaluate("pre => [...pre.textContent.matchAll(/line (\\d+) /g)].pop()[1]"))


def shown_line(page: Page, number: int) -> None:
    """Waits until the log panel shows the service's `line <number>`."""
    page.wait_for_function(
        "n => document.querySelector('pre.log').textContent.includes(`line ${n} `)",
        arg=number,
        timeout=120_000,
    )


def test_refused_names_and_files_are_said_in_the_page(page: Page, console: Console, stacks: Path):
    expect(page.get_by_role("heading", name="Stacks")).to_be_visible()
    form = page.locator("#create-stack")
    good = compose_text({"app": tb.BASE_IMAGE})
    create(page, "../x", good)
    expect(form.get_by_role("alert")).to_contain_text("is a path")
    expect(page.get_by_label("Name", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Name", exact=True)).to_be_focused()
    console.screenshot(page, "20-stacks-bad-name")

    name = project_name("console-badfile")
    create(page, name, "services:\n  app:\n    image: x\n    portz: [1]\n")
    expect(form.get_by_role("alert")).to_contain_text("portz")
    expect(page.get_by_label("Compose file (YAML)")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Name", exact=True)).not_to_have_attribute("aria-invalid", "true")
    console.screenshot(page, "21-stacks-bad-file")
    assert not stacks.exists() or list(stacks.iterdir()) == []
    assert not (stacks.parent / "x").exists()
    # Cancel closes the form; the list shows no such project.
    form.get_by_role("button", name="Cancel").click()
    expect(form).to_be_hidden()
    expect(page.get_by_role("button", name="New stack")).to_be_focused()
    expect(row(page, name)).to_have_count(0)


def test_a_stack_is_created_up_and_its_logs_followed(
    page: Page, console: Console, stacks: Path, project: str
):
    content = compose_text({"talker": tb.BASE_IMAGE}, talker={"command": BURSTS})
    create(page, project, content)
    line = row(page, project)
    expect(line.locator(".badge")).to_have_text("not created")
    expect(line).to_contain_text(str(stacks.resolve() / project))
    expect(line).to_contain_text("created by watch-docker")
    expect(page.locator(".outcome").first).to_contain_text(f"created {project}")
    expect(line.get_by_role("button", name=f"Up {project}")).to_be_focused()
    assert (stacks / project / ".watch-docker-created").exists()
    # A name taken: said, nothing changed.
    create(page, project, content)
    expect(page.locator("#create-stack").get_by_role("alert")).to_contain_text(project)
    page.locator("#create-stack").get_by_role("button", name="Cancel").click()
    console.screenshot(page, "22-stacks-created")

    line.get_by_role("button", name=f"Up {project}").click()
    outcome = page.locator(".outcome").first
    expect(outcome).to_contain_text(f"compose up {project}: running", timeout=RUN_TIMEOUT)
    link = outcome.get_by_role("link", name="open the run in the Prefect UI")
    assert "/runs/flow-run/" in (link.get_attribute("href") or "")
    expect(line.locator(".badge")).to_have_text("running")
    expect(line.locator(".services")).to_contain_text("talker")
    expect(line.locator(".services .state")).to_have_text("running")

    line.get_by_role("button", name=f"Logs {project}").click()
    panel = page.locator("section.logs")
    log = panel.locator("pre.log")
    expect(panel.get_by_role("heading")).to_have_text(f"Logs of {project}")
    expect(log).to_contain_text("<b>not bold</b>", timeout=60_000)
    first = int(log.evaluate("pre => /line (\\d+) /.exec(pre.textContent)[1]"))
    assert wait_for(lambda: logs_processes(project), 30)
    # Lines are text: the markup the service prints is shown, never made elements.
    assert log.evaluate("pre => pre.querySelector('b') === null")
    assert log.evaluate("pre => [...pre.childNodes].every((n) => n.nodeType === Node.TEXT_NODE)")
    # Following: the newest line is in view.
    at_end = "pre => pre.scrollHeight - pre.scrollTop - pre.clientHeight < 8"
    assert log.evaluate(at_end)
    console.screenshot(page, "23-stacks-logs")
    # Scrolled up, the reader stays where they are while lines come; at the end, it follows.
    log.evaluate("pre => { pre.scrollTop = 0; }")
    shown_line(page, last_line(log) + 150)
    assert log.evaluate("pre => pre.scrollTop") == 0
    log.evaluate("pre => { pre.scrollTop = pre.scrollHeight; }")
    shown_line(page, last_line(log) + 150)
    assert log.evaluate(at_end)
    # The last KEPT_LINES only: the first lines followed go.
    shown_line(page, first + KEPT_LINES + 100)
    assert log.evaluate("pre => pre.childNodes.length") <= KEPT_LINES
    assert f"line {first} " not in log.inner_text()

    panel.get_by_role("button", name="Stop following").click()
    expect(panel.get_by_role("status")).to_have_text(f"Stopped following {project}.")
    expect(panel.get_by_role("button", name="Stop following")).to_be_disabled()
    assert wait_for(lambda: not logs_processes(project), 30)
    panel.get_by_role("button", name="Close").click()
    expect(panel).to_have_count(0)
    expect(line.get_by_role("button", name=f"Logs {project}")).to_be_focused()


def test_leaving_the_page_ends_the_followed_logs(page: Page, console: Console, project: str):
    row(page, project).get_by_role("button", name=f"Logs {project}").click()
    expect(page.locator("pre.log")).to_contain_text("not bold")
    assert wait_for(lambda: logs_processes(project), 30)
    page.get_by_role("link", name="Images").click()
    expect(page.get_by_role("heading", name="Images")).to_be_visible()
    assert wait_for(lambda: not logs_processes(project), 30)
    page.get_by_role("link", name="Stacks").click()
    expect(page.get_by_role("heading", name="Stacks")).to_be_visible()


def test_a_narrow_dark_window_has_no_sideways_scroll(
    browser: Browser, page: Page, console: Console, project: str
):
    context = browser.new_context(viewport=NARROW, color_scheme="dark")
    narrow = watched_page(context, PROBLEMS)
    start_session(narrow, console.localhost, console)
    narrow.goto(console.localhost + "/#/stacks")
    expect(row(narrow, project).locator(".badge")).to_have_text("running")
    fits = "document.documentElement.scrollWidth <= window.innerWidth"
    assert narrow.evaluate(fits)
    console.screenshot(narrow, "24-narrow-stacks", full_page=False)
    row(narrow, project).get_by_role("button", name=f"Logs {project}").click()
    expect(narrow.locator("pre.log")).to_contain_text("not bold")
    narrow.get_by_role("button", name="New stack").click()
    assert narrow.evaluate(fits)
    console.screenshot(narrow, "25-narrow-stacks-form-and-logs")
    context.close()
    assert wait_for(lambda: not logs_processes(project), 30)


def test_stop_down_and_delete_after_their_dialogs(
    page: Page, console: Console, stacks: Path, project: str
):
    line = row(page, project)
    line.get_by_role("button", name=f"Stop {project}").click()
    outcome = page.locator(".outcome").first
    expect(outcome).to_contain_text(f"compose stop {project}: stopped", timeout=RUN_TIMEOUT)
    expect(line.locator(".badge")).to_have_text("stopped")
    expect(line.locator(".services .state")).to_have_text("exited")
    expect(line.get_by_role("button", name=f"Start {project}")).to_be_visible()

    # Down asks first, with a choice of removing the volumes; Cancel keeps everything.
    line.get_by_role("button", name=f"Down {project}").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("folder and files stay")
    volumes = dialog.get_by_label(f"Remove the volumes of {project} too")
    expect(volumes).not_to_be_checked()
    console.screenshot(page, "26-stacks-down-dialog")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(line.locator(".badge")).to_have_text("stopped")
    line.get_by_role("button", name=f"Down {project}").click()
    dialog.get_by_label(f"Remove the volumes of {project} too").check()
    dialog.get_by_role("button", name="Down").click()
    expect(outcome).to_contain_text(f"compose down {project}: not created", timeout=RUN_TIMEOUT)
    expect(line.locator(".badge")).to_have_text("not created")
    assert (stacks / project).is_dir()

    # Delete says the folder goes (watch-docker made it); Escape keeps it.
    line.get_by_role("button", name=f"Delete {project}").click()
    expect(dialog).to_contain_text(f"its folder {stacks.resolve() / project}, which watch-docker")
    console.screenshot(page, "27-stacks-delete-dialog")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert (stacks / project).is_dir()
    line.get_by_role("button", name=f"Delete {project}").click()
    dialog.get_by_role("button", name="Delete").click()
    # The answer, not the "compose delete …" the page shows while the run is under way.
    expect(outcome).to_contain_text(
        f"compose delete {project}: not created (its folder removed)", timeout=RUN_TIMEOUT
    )
    expect(line).to_have_count(0)
    assert not (stacks / project).exists()
    console.screenshot(page, "28-stacks-deleted")


def test_a_failing_action_is_said_with_compose_s_message_and_its_run(
    page: Page, console: Console, stacks: Path
):
    name = project_name("console-broken")
    missing = tb.repo("open", "console-missing") + ":1"  # never pushed: the pull fails
    try:
        create(page, name, compose_text({"app": missing}))
        line = row(page, name)
        expect(line.locator(".badge")).to_have_text("not created")
        line.get_by_role("button", name=f"Up {name}").click()
        failed = page.locator(".outcome").first
        expect(failed).to_have_attribute("role", "alert", timeout=RUN_TIMEOUT)
        expect(failed).to_contain_text("compose up: ")
        expect(failed).to_contain_text("manifest")
        link = failed.get_by_role("link", name="open the run in the Prefect UI")
        assert "/runs/flow-run/" in (link.get_attribute("href") or "")
        console.screenshot(page, "29-stacks-up-failed")
        line.get_by_role("button", name=f"Delete {name}").click()
        page.get_by_role("dialog").get_by_role("button", name="Delete").click()
        expect(line).to_have_count(0, timeout=RUN_TIMEOUT)
        assert not (stacks / name).exists()
    finally:
        down(stacks / name, name)


def test_no_script_error_nor_policy_refusal_in_any_page():
    assert PROBLEMS == []
