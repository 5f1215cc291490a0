"""Serves the console: `/` is its page, `/static/...` its files. Every answer carries a
Content-Security-Policy that allows this origin only (and `data:` images, the TOTP QR code),
so the page can load nothing from another host and runs no inline script."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"

HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Small files: always revalidated, so a new version of serve is seen at once.
    "Cache-Control": "no-cache",
}


class ConsoleFiles(StaticFiles):
    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers.update(HEADERS)
        return response


def console_page() -> FileResponse:
    return FileResponse(STATIC / "index.html", headers=HEADERS)


def mount_console(app: FastAPI) -> None:
    """Only `/` and `/static/`: every other path (`/api/...` included) stays the API's, so an
    unknown one is still its 404 `BaseRes`."""
    app.add_api_route("/", console_page, methods=["GET"], include_in_schema=False)
    app.mount("/static", ConsoleFiles(directory=STATIC), name="console")
