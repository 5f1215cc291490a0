"""The UI that `watch-docker serve` serves, in a real browser (Debian's Chromium, headless,
driven by Playwright): a person opens it, is sent to its login form, pastes the credential of
the state directory, then reads the table artifact of a triggered scan (testbed/chromium.sh
installs Chromium)."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
from conftest import SERVE_HOMES, finished_run, run_artifact, run_deployment
from console_kit import FETCHED
from playwright.sync_api import Browser, Locator, Page, Request, expect

import testbed as tb
from watchdocker.deployments.prefect_env import CREDENTIAL_FILE

pytestmark = pytest.mark.integration

SHOWS_WITHIN = 60  # seconds for a page of the UI to draw (a few on the busy 2-core bed)
RELOADS = 3


def open_until(page: Page, url: str, shown: Locator) -> None:
    """`url` in the tab, until `shown` is visible. When a file of the page did not come, the
    Prefect UI stays blank without a script error, and a person reloads it; so does this, then
    and only then. Chromium drops the requests under way whenever the host's network interfaces
    change (ERR_NETWORK_CHANGED), and Docker adds or removes one for each container it starts
    or stops, as the tests beside this one do."""
    lost: list[str] = []

    def failed(request: Request) -> None:
        if request.resource_type in ("document", "script", "stylesheet"):
            lost.append(f"{request.url}: {request.failure}")

    page.on("requestfailed", failed)
    try:
        for _ in range(RELOADS + 1):
            lost.clear()
            page.goto(url)
            deadline = time.monotonic() + SHOWS_WITHIN
            while not lost and time.monotonic() < deadline:
                if shown.is_visible():
                    return
                page.wait_for_timeout(250)
            if not lost:
                break
            print(f"reloading {url}, a file did not come: {lost}")
        fetched = "\n".join(page.evaluate(FETCHED))
        shows = page.locator("body").inner_text()[:1500]
        pytest.fail(
            f"{url} did not show {shown} (at {page.url}): {shows}\n"
            f"files that did not come: {lost}\nfetched:\n{fetched}"
        )
    finally:
        page.remove_listener("requestfailed", failed)


def log_in(page: Page, ui: str, credential: str) -> str:
    """Opens `ui`/deployments, which sends the browser to the login form; pastes `credential`
    there and presses Enter. Returns the path of the page that asked for it."""
    password = page.locator("input[type=password]")
    open_until(page, f"{ui}/deployments", password)
    asked_at = urlparse(page.url).path
    password.fill(credential)
    password.press("Enter")
    expect(page).to_have_url(f"{ui}/deployments", timeout=SHOWS_WITHIN * 1000)
    return asked_at


def test_the_served_ui_shows_the_scan_table(served, browser: Browser, tmp_path: Path):
    api, _ = served
    ui = api.removesuffix("/api")
    container = tb.current_container("ui")
    credential = (SERVE_HOMES[api] / CREDENTIAL_FILE).read_text().strip()
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        assert log_in(page, ui, credential) == "/login"  # no way in without it
        run_id = run_deployment(api, "scan")
        state = finished_run(api, run_id)
        assert state["state_type"] == "COMPLETED", state
        artifact = run_artifact(api, run_id, "watchdocker-scan")

        # The artifact's own page renders its table (the run's Artifacts tab shows no cells).
        row = page.locator("tr", has_text=container)
        open_until(page, f"{ui}/artifacts/artifact/{artifact['id']}", row)
        expect(row).to_have_count(1)
        cells = [cell.strip() for cell in row.locator("td, th").all_inner_texts()]
        assert "up_to_date" in cells, cells
        headers = [h.strip() for h in page.locator("th").all_inner_texts()]
        assert "name" in headers and "status" in headers, headers

        screenshot = tmp_path / "ui.png"
        png = page.screenshot(path=screenshot, full_page=True)
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        assert len(png) > 20_000, f"{screenshot}: only {len(png)} bytes"
        print(f"screenshot: {screenshot}")
    finally:
        context.close()
        tb.docker_cli("rm", "-f", container, check=False)
