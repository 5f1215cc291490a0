"""The console's files as the API serves them (no engine, no browser): the page at `/`, its
modules under `/static/`, a Content-Security-Policy that allows this origin only, nothing
referring to another host; and the API's own paths untouched (an unknown `/api/...` route is
still its 404 BaseRes)."""

from __future__ import annotations

import re
from pathlib import Path
from unittest.mock import MagicMock

import pytest
from fastapi.testclient import TestClient

from watchdocker.api.app import create_app
from watchdocker.api.codes import Code
from watchdocker.api.context import ApiContext
from watchdocker.config import Settings
from watchdocker.web.console import STATIC


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setenv("WATCH_STATE_DIR", str(tmp_path))
    context = ApiContext(Settings(), None, "http://127.0.0.1:1/api", MagicMock(), "credential")
    return TestClient(create_app(context))


def files() -> list[Path]:
    return sorted(p for p in STATIC.rglob("*") if p.is_file())


def test_the_page_and_its_modules_are_served_with_a_policy(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    # Every file the page or a module names is served, with the same policy.
    names = set(re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text))
    for module in STATIC.joinpath("js").glob("*.js"):
        names.add(f"/static/js/{module.name}")
        for imported in re.findall(r'from "\./([\w-]+\.js)"', module.read_text()):
            assert STATIC.joinpath("js", imported).is_file(), f"{module.name} imports {imported}"
    assert {"/static/app.css", "/static/js/app.js"} <= names
    for name in names:
        answer = client.get(name)
        assert answer.status_code == 200, name
        assert answer.headers["content-security-policy"] == policy
        assert answer.headers["x-content-type-options"] == "nosniff"
    assert client.get("/static/js/app.js").headers["content-type"].startswith("text/javascript")


def test_nothing_is_loaded_from_another_host() -> None:
    for path in files():
        text = path.read_text()
        # Links a person follows (the Prefect UI's) come from the API's answers, not the files.
        assert not re.search(r"(https?:)?//[\w.-]+\.\w+", text), path
        assert "@import" not in text and "innerHTML" not in text, path


@pytest.mark.parametrize("path", ["/api/nope", "/static/nope.js", "/nope"])
def test_unknown_paths_are_still_the_api_404(client: TestClient, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 404
    assert answer.json()["code"] == Code.NOT_FOUND


def test_the_api_routes_are_unchanged(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/docs").status_code == 200
    assert client.get("/metrics").status_code == 200  # open: no user is configured
    answer = client.get("/api/containers")
    assert (answer.status_code, answer.json()["code"]) == (401, Code.NOT_AUTHENTICATED)


def test_every_page_the_nav_links_to_is_routed() -> None:
    links = set(re.findall(r'href="(#/[\w-]+)"', STATIC.joinpath("index.html").read_text()))
    routes = set(re.findall(r'"(#/[\w-]+)": \w+Page', STATIC.joinpath("js", "app.js").read_text()))
    assert "#/stacks" in links and links <= routes
