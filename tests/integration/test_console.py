"""The web console in a real browser: Debian's Chromium, headless, driven by Playwright against
a real `watch-docker serve` with a user and IS_SECONDARY_VERIFICATION. A person's path through
it: log in with TOTP enrolment (the secret read from the page), a wrong code said in the page;
the containers page (scan statuses, an update with its run and an approval, stop, start, delete
after a dialog); images (a refusal for one in use, an unused one deleted); settings; logout; a
garbage or expired token back at the login page; a narrow window; the keyboard. Each page's
screenshot is saved in the test's folder (and copied to $CONSOLE_SCREENSHOTS when set)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import wrong_code
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
from playwright.sync_api import Browser, Page, Route, expect

import testbed as tb
from watchdocker.api.codes import Code
from watchdocker.auth.tokens import TokenSigner

pytestmark = [pytest.mark.integration, pytest.mark.long]  # minutes: handed out first

PASSWORD = f"pw-{tb.RUN_ID}-console"
LOGIN_TRIES = 8  # the waits between failed logins grow 1 s, 2 s, 4 s...
UPDATE_TIMEOUT = 180_000  # ms: an update run, from the Runner's start to its health check
PROBLEMS: list[str] = []  # script errors and refusals by the page's policy, in any tab


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    config = (
        "scan:\n  interval: 2h\n  cacheTTL: 0s\n"
        "update:\n  stableSeconds: 1s\n  healthTimeout: 20s\n"
        f"policy:\n  onlyLabels: ['{tb.label_filter()}']\n"
        "approval:\n  lockoutAttempts: 50\n"
    )
    env = {"USER_PASSWORD": PASSWORD, "IS_SECONDARY_VERIFICATION": "true"}
    with serve_console(tmp_path_factory, "console", config, env) as console:
        yield console


@pytest.fixture(scope="module")
def page(browser: Browser, console: Console) -> Iterator[Page]:
    """One tab through the module's tests: its session goes on from one to the next."""
    context = browser.new_context(viewport=WIDE)
    page = watched_page(context, PROBLEMS)
    page.set_default_timeout(30_000)
    yield page
    context.close()


def log_in(page: Page, password: str = PASSWORD) -> None:
    page.get_by_label("User name").fill(USER)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def row(page: Page, name: str) -> Any:
    return page.locator(f'tr[data-name="{name}"]')


def fact(page: Page, term: str) -> Any:
    return page.locator(f"dl.facts dt:text-is('{term}') + dd")


def test_login_enrols_totp_and_a_wrong_code_is_said(page: Page, console: Console):
    page.goto(console.localhost + "/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    console.screenshot(page, "01-login")
    log_in(page, "not-the-password")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("wrong user name or password")
    # Failed logins in a row: from the second, a growing wait, said with its length.
    for _ in range(LOGIN_TRIES):
        log_in(page, "not-the-password")
        expect(alert).to_contain_text(re.compile("wrong user name|too many"))
        if "too many" in alert.inner_text():
            break
    expect(alert).to_contain_text(re.compile(r"too many failed attempts .*try again in \d+ s"))
    console.screenshot(page, "01-login-wait")
    for _ in range(LOGIN_TRIES):  # the right password, once the wait is over
        log_in(page)
        expect(
            alert.or_(page.get_by_role("heading", name="Set up a second factor"))
        ).to_be_visible()
        if not alert.is_visible():
            break
        time.sleep(1)
    expect(page.get_by_role("heading", name="Set up a second factor")).to_be_visible()
    page.get_by_role("button", name="Set up an authenticator app").click()
    qr = page.get_by_role("img", name="QR code of the TOTP secret")
    expect(qr).to_be_visible()
    assert qr.evaluate("img => img.naturalWidth") > 0  # the PNG data URL renders
    secret = page.locator("#totp-secret").inner_text().strip()
    console.state["secret"] = secret
    code = page.get_by_label("Code from the app")
    code.fill(wrong_code(secret))
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("alert")).to_contain_text("wrong code")
    console.screenshot(page, "02-totp-enrolment-wrong-code")
    code.fill(console.fresh_code())
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="Containers")).to_be_visible()
    # The secret is gone from the page once enrolled; the token is in this tab's storage.
    assert secret not in page.content()
    assert page.evaluate("sessionStorage.getItem('watchdocker.token')")


def test_containers_show_scan_statuses_and_an_update_with_its_approval(
    page: Page, console: Console
):
    outdated, v1, _ = tb.outdated_container("console-old")
    ref, _, _ = tb.two_versions("console-gated")
    gated = f"wdt-{tb.RUN_ID}-console-gated"
    tb.run_container(ref, *tb.STOPPABLE_SLEEP, name=gated, labels={"watchdocker.approval": "totp"})
    page.reload()
    expect(row(page, outdated)).to_contain_text("not scanned")
    page.get_by_role("button", name="Refresh (scan)").click()
    expect(row(page, outdated).locator(".badge")).to_have_text("update available", timeout=120_000)
    expect(row(page, gated).locator(".badge")).to_have_text("update available")
    expect(row(page, outdated)).to_contain_text("running")
    expect(page.get_by_text("Last scan: never")).to_have_count(0)
    console.screenshot(page, "03-containers")

    # Two selected: one run, which waits for the approver (the login user, same secret).
    row(page, outdated).get_by_role("checkbox").check()
    row(page, gated).get_by_role("checkbox").check()
    page.get_by_role("button", name="Update selected (2)").click()
    run = page.locator("section.run").first
    expect(run.get_by_role("link", name="open it in the Prefect UI")).to_be_visible()
    run_id = run.locator("code").first.inner_text()
    assert run.get_by_role("link").get_attribute("href").endswith(run_id)
    expect(run).to_contain_text("waits for an approver", timeout=UPDATE_TIMEOUT)
    expect(run.get_by_label("Approver", exact=True)).to_have_value(USER)
    console.screenshot(page, "04-update-waits-for-approval")
    # Reopened, the page finds the waiting run again (GET /api/approvals) and asks for the code.
    page.reload()
    run = page.locator(f'section.run[data-run="{run_id}"]')
    expect(run).to_contain_text(f"{gated}")
    expect(run).to_contain_text("waits for an approver")
    run.get_by_label("Approver's TOTP code").fill(wrong_code(console.state["secret"]))
    run.get_by_role("button", name="Approve").click()
    # The gate judges the code in the run (resumed, then paused again for another answer).
    expect(run.get_by_role("alert")).to_contain_text("wrong code", timeout=UPDATE_TIMEOUT)
    run.get_by_label("Approver's TOTP code").fill(console.fresh_code())
    run.get_by_role("button", name="Approve").click()
    expect(run.locator(".results")).to_contain_text(f"{outdated}: updated", timeout=UPDATE_TIMEOUT)
    expect(run.locator(".results")).to_contain_text(f"{gated}: updated")
    console.screenshot(page, "05-update-done")
    assert tb.docker_cli("inspect", "--format", "{{.Image}}", outdated).strip() != v1


def test_stop_start_and_delete_after_a_confirmation(page: Page, console: Console):
    name = f"wdt-{tb.RUN_ID}-console-life"
    tb.run_container(tb.BASE_IMAGE, *tb.STOPPABLE_SLEEP, name=name)
    page.get_by_role("link", name="Images").click()
    page.get_by_role("link", name="Containers").click()
    line = row(page, name)
    expect(line.locator(".state")).to_have_text("running")
    line.get_by_role("button", name=f"Stop {name}").click()
    expect(line.locator(".state")).to_have_text("exited")
    assert tb.docker_cli("inspect", "--format", "{{.State.Running}}", name).strip() == "false"
    # The row is drawn anew with the focus on its button: Enter starts it again.
    expect(line.get_by_role("button", name=f"Start {name}")).to_be_focused()
    page.keyboard.press("Enter")
    expect(line.locator(".state")).to_have_text("running")

    # Delete asks first; Cancel (or Escape) keeps the container.
    line.get_by_role("button", name=f"Delete {name}").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"{name} is running: it will be stopped and removed")
    console.screenshot(page, "06-delete-dialog")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    line.get_by_role("button", name=f"Delete {name}").click()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert tb.docker_cli("ps", "-aq", "--filter", f"name=^{name}$").strip()
    line.get_by_role("button", name=f"Delete {name}").click()
    dialog.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status")).to_contain_text(f"removed {name}")
    expect(line).to_have_count(0)
    assert not tb.docker_cli("ps", "-aq", "--filter", f"name=^{name}$").strip()


def test_images_refuse_one_in_use_and_delete_an_unused_one(page: Page, console: Console):
    used_ref = tb.repo("open", "console-used") + ":1"
    used = tb.build_image(used_ref, marker="console-used")
    tb.run_container(used_ref, "sleep", "600", name=f"wdt-{tb.RUN_ID}-console-user")
    unused = tb.build_image(tb.repo("open", "console-unused") + ":1", marker="console-unused")
    page.get_by_role("link", name="Images").click()
    expect(page.get_by_role("heading", name="Images")).to_be_visible()
    in_use = page.locator(f'tr[data-id="{used}"]')
    expect(in_use).to_contain_text(f"wdt-{tb.RUN_ID}-console-user")
    console.screenshot(page, "07-images")
    in_use.get_by_role("button").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(page.get_by_role("alert")).to_contain_text("is used by")
    assert tb.docker_cli("image", "inspect", "--format", "{{.Id}}", used).strip() == used
    page.locator(f'tr[data-id="{unused}"]').get_by_role("button").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status")).to_contain_text("Deleted")
    expect(page.locator(f'tr[data-id="{unused}"]')).to_have_count(0)
    assert unused not in tb.docker_cli("images", "-q", "--no-trunc").split()


def test_settings_show_the_second_factor(page: Page, console: Console):
    page.get_by_role("link", name="Settings").click()
    expect(fact(page, "Second factor at login")).to_have_text("required")
    expect(fact(page, "Authenticator app (TOTP)")).to_have_text("set up")
    expect(page.get_by_role("button", name="Disable 2FA")).to_be_visible()
    console.screenshot(page, "08-settings")


def drop_the_first(page: Page, pattern: str) -> list[str]:
    """The tab's first request matching `pattern` dropped (a reset connection), the next ones
    let through; returns the list the requests are added to as they come."""
    asked: list[str] = []

    def handle(route: Route) -> None:
        asked.append(route.request.url)
        if len(asked) == 1:
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route(pattern, handle)
    return asked


def test_a_console_file_that_did_not_come_loads_the_page_again(browser: Browser, console: Console):
    # Chromium drops the requests under way when the host's network interfaces change, as
    # Docker's do for each container started or stopped: here the first request for one of
    # the modules app.js imports is dropped.
    context = browser.new_context(viewport=WIDE)
    page = context.new_page()
    asked = drop_the_first(page, "**/static/js/stacks.js")
    page.goto(console.localhost + "/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    assert len(asked) == 2, asked
    context.close()


def test_a_read_whose_request_was_dropped_is_asked_again(browser: Browser, console: Console):
    context = browser.new_context(viewport=WIDE)
    page = context.new_page()
    start_session(page, console.localhost, console)
    asked = drop_the_first(page, "**/api/v1/2fa/status")
    page.goto(console.localhost + "/#/settings")
    expect(page.get_by_role("heading", name="Settings")).to_be_visible()
    expect(fact(page, "Second factor at login")).to_have_text("required")
    assert len(asked) == 2, asked
    context.close()


def test_a_console_whose_files_never_come_says_so(browser: Browser, console: Console):
    context = browser.new_context(viewport=WIDE)
    page = context.new_page()
    asked: list[str] = []

    def refuse(route: Route) -> None:
        asked.append(route.request.url)
        route.abort("connectionrefused")

    page.route("**/static/js/dom.js", refuse)
    page.goto(console.localhost + "/")
    expect(page.get_by_role("main")).to_contain_text(
        "The console's files did not load: is serve running?"
    )
    tries = len(asked)
    page.wait_for_timeout(2000)  # no further reload comes
    # The first load and three more; a load may also fail on another of its files when the
    # host's interfaces change (other tests' containers), and count as a try (a suite run).
    assert len(asked) == tries and 2 <= tries <= 4, asked
    context.close()


def test_a_narrow_dark_window_has_no_sideways_scroll(
    browser: Browser, page: Page, console: Console
):
    token = page.evaluate("sessionStorage.getItem('watchdocker.token')")
    context = browser.new_context(viewport=NARROW, color_scheme="dark")
    narrow = watched_page(context, PROBLEMS)
    narrow.goto(console.localhost + "/")
    narrow.evaluate(
        "([user, token]) => { sessionStorage.setItem('watchdocker.user', user);"
        " sessionStorage.setItem('watchdocker.token', token); }",
        [USER, token],
    )
    for where, heading in (("#/containers", "Containers"), ("#/images", "Images")):
        narrow.goto(f"{console.localhost}/{where}")
        expect(narrow.get_by_role("heading", name=heading)).to_be_visible()
        narrow.locator("tbody tr").first.wait_for()
        assert narrow.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        console.screenshot(narrow, f"09-narrow-{heading.lower()}", full_page=False)
    context.close()


def test_logout_and_the_keyboard(page: Page, console: Console):
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("You are logged out")
    assert page.evaluate("sessionStorage.getItem('watchdocker.token')") is None
    expect(page.get_by_role("navigation")).to_be_hidden()
    console.screenshot(page, "10-logged-out")
    # The keyboard alone: the focus starts in the form, Tab moves on, Enter submits; the
    # focused button shows an outline.
    expect(page.get_by_label("User name")).to_be_focused()
    page.keyboard.type(USER)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Log in")).to_be_focused()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Second factor")).to_be_visible()
    expect(page.get_by_label("Code from your authenticator app")).to_be_focused()
    page.keyboard.type(console.fresh_code())
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Containers")).to_be_visible()


@pytest.mark.parametrize("kind", ["garbage", "expired"])
def test_a_bad_token_goes_back_to_the_login_page(page: Page, console: Console, kind: str):
    past = time.time() - 2 * 24 * 3600
    token = {
        "garbage": "not-a-token",
        "expired": TokenSigner(console.key()).full(USER, two_fa_verified=True, now=past),
    }[kind]
    fresh_tab(page, console.localhost)
    page.evaluate("t => sessionStorage.setItem('watchdocker.token', t)", token)
    page.goto(console.localhost + "/#/images")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    said = {"garbage": "not valid any more", "expired": "expired"}[kind]
    expect(page.get_by_role("status")).to_contain_text(said)
    console.screenshot(page, f"11-{kind}-token")
    log_in(page)
    expect(page.get_by_role("heading", name="Second factor")).to_be_visible()


# --- passkeys, with Chromium's virtual authenticator ------------------------------------------


@pytest.fixture(scope="module")
def keyed(browser: Browser, console: Console) -> Iterator[tuple[Page, Any, str]]:
    """A tab with a virtual platform authenticator (user verification done, presence
    automatic): (the tab, its DevTools session, the authenticator's id)."""
    context = browser.new_context(viewport=WIDE)
    page = watched_page(context, PROBLEMS)
    page.set_default_timeout(30_000)
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    options = {
        "protocol": "ctap2",
        "transport": "internal",
        "hasResidentKey": True,
        "hasUserVerification": True,
        "isUserVerified": True,
        "automaticPresenceSimulation": True,
    }
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})
    yield page, cdp, added["authenticatorId"]
    context.close()


def test_a_passkey_is_enrolled_and_logs_in(keyed: tuple[Page, Any, str], console: Console):
    page, cdp, authenticator = keyed
    start_session(page, console.localhost, console)
    page.goto(console.localhost + "/#/settings")
    expect(fact(page, "Passkeys")).to_have_text("none")
    page.get_by_label("Passkey name (optional)").fill("laptop")
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.locator("ul.passkeys")).to_contain_text("laptop — for localhost")
    expect(fact(page, "Passkeys")).to_have_text("1")
    console.screenshot(page, "12-settings-with-a-passkey")
    [made] = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    assert made["rpId"] == "localhost" and made["isResidentCredential"]

    page.get_by_role("button", name="Log out").click()
    log_in(page)
    expect(page.get_by_role("heading", name="Second factor")).to_be_visible()
    expect(page.get_by_label("Code from your authenticator app")).to_be_visible()
    console.screenshot(page, "13-second-factor-code-or-passkey")
    page.get_by_role("button", name="Use a passkey").click()
    expect(page.get_by_role("heading", name="Containers")).to_be_visible()
    used = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    assert used[0]["signCount"] > made["signCount"]


def test_a_localhost_passkey_is_not_offered_on_127_0_0_1(
    keyed: tuple[Page, Any, str], console: Console
):
    page, _, _ = keyed
    page.goto(console.http + "/")
    log_in(page)
    expect(page.get_by_role("heading", name="Second factor")).to_be_visible()
    expect(page.get_by_role("button", name="Use a passkey")).to_have_count(0)
    expect(page.get_by_role("status")).to_contain_text(
        "Your passkeys are for localhost, not for 127.0.0.1"
    )
    console.screenshot(page, "14-passkey-not-for-this-host")
    # Nor does the server offer it: not at an IP address, not on another host name.
    with httpx.Client(base_url=console.http, timeout=30) as client:
        login = {"username": USER, "password": PASSWORD}
        temp = client.post("/api/v1/auth/login", json=login).json()["data"]["tempToken"]
        auth = {"Authorization": f"Bearer {temp}"}
        here = client.post("/api/v1/2fa/verify/webauthn/begin", headers=auth)
        assert (here.status_code, here.json()["code"]) == (400, Code.PASSKEY_HOST)
        elsewhere = client.post(
            "/api/v1/2fa/verify/webauthn/begin",
            headers={**auth, "X-Forwarded-Host": "console.example"},
        )
        assert (elsewhere.status_code, elsewhere.json()["code"]) == (409, Code.PASSKEY_NOT_HERE)
        assert "options" not in str(elsewhere.json()["data"])


def test_2fa_is_disabled_with_a_passkey_without_to_json(
    keyed: tuple[Page, Any, str], console: Console
):
    page, _, _ = keyed
    # A browser without PublicKeyCredential.toJSON: the console writes the JSON itself.
    page.add_init_script("delete PublicKeyCredential.prototype.toJSON")
    start_session(page, console.localhost, console)
    page.goto(console.localhost + "/#/settings")
    assert page.evaluate("typeof PublicKeyCredential.prototype.toJSON") == "undefined"
    page.get_by_role("button", name="Disable 2FA with a passkey").click()
    expect(fact(page, "Authenticator app (TOTP)")).to_have_text("not set up")
    expect(fact(page, "Passkeys")).to_have_text("none")
    expect(page.get_by_role("button", name="Set up an authenticator app")).to_be_visible()
    console.screenshot(page, "15-settings-2fa-disabled")


def test_the_api_docs_render_from_serve_alone(browser: Browser, console: Console):
    # Swagger UI 5 reads the OpenAPI 3.1 FastAPI writes; its files come from serve, as a
    # host without internet access sees them.
    context = browser.new_context(viewport=WIDE)
    page = watched_page(context, PROBLEMS)
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    try:
        page.goto(console.http + "/docs")
        expect(page.get_by_role("heading", name=re.compile("^watch-docker"))).to_be_visible()
        operation = page.locator(".opblock-summary-path", has_text="/api/v1/auth/login")
        expect(operation).to_be_visible()
        expect(
            page.locator(".opblock-summary-path", has_text="/api/containers").first
        ).to_be_visible()
        console.screenshot(page, "16-api-docs")
    finally:
        context.close()
    elsewhere = [url for url in asked if not url.startswith(console.http + "/")]
    assert elsewhere == [], elsewhere
    assert any(url.endswith("/swagger-ui-bundle.js") for url in asked), asked


def test_no_script_error_nor_policy_refusal_in_any_page():
    # Last: what every tab of this module met (an inline style or a script from elsewhere
    # would be refused by the Content-Security-Policy and logged).
    assert PROBLEMS == []
