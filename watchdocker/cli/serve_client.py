"""The CLI as a thin client of a running `watch-docker serve`: serve publishes its API's address
under the state directory, beside the local credential (0600) the API takes as a full token.
The scan or update then runs inside serve, as a run of its deployment; this process imports
no Prefect (which alone took seconds to import)."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from watchdocker.auth.local_credential import local_credential, published_api_address
from watchdocker.config import Settings, run_settings_digest

# Only whether serve answers: a serve that stopped without withdrawing its address does not.
PROBE_SECONDS = 2.0
# A scan or an update waits for its run, health checks included.
RUN_SECONDS = 3600.0


class ServeError(Exception):
    """The API could not answer, or answered an error: one line to show, and what it sent."""

    def __init__(self, message: str, code: int = 0, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.data = data


@dataclass(frozen=True)
class ServeApi:
    """serve's API on loopback, in plain HTTP: the standard library's client (httpx, with what
    it imports, took a third of the CLI's start)."""

    url: str
    credential: str

    def _send(
        self, method: str, target: str, body: bytes | None, timeout: float
    ) -> tuple[int, bytes]:
        where = urlsplit(self.url)
        connection = http.client.HTTPConnection(where.hostname or "", where.port, timeout=timeout)
        headers = {"Authorization": f"Bearer {self.credential}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            connection.request(method, target, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def answers(self) -> bool:
        try:
            return self._send("GET", "/healthz", None, PROBE_SECONDS)[0] == 200
        except (OSError, http.client.HTTPException):
            return False

    def call(
        self, method: str, path: str, *, params: dict | None = None, body: dict | None = None
    ) -> Any:
        """The `data` of a `BaseRes` answer with code 0; raises ServeError otherwise."""
        target = f"{path}?{urlencode(params)}" if params else path
        payload = None if body is None else json.dumps(body).encode()
        try:
            status, raw = self._send(method, target, payload, RUN_SECONDS)
            sent = json.loads(raw)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise ServeError(f"serve's API at {self.url} did not answer: {exc}") from None
        if not isinstance(sent, dict) or "code" not in sent:
            raise ServeError(f"serve's API at {self.url} answered {status}")
        if sent["code"] != 0:
            raise ServeError(str(sent.get("msg", "")), sent["code"], sent.get("data"))
        return sent.get("data")


class OtherSettings(Exception):
    """serve runs with other scan or update settings than this command's: a run there would
    not do what this command's config and variables say."""


def running_serve(settings: Settings) -> ServeApi | None:
    """The API of the serve of this state directory, when one runs and answers. Raises
    OtherSettings when it runs with other settings than `settings`."""
    published = published_api_address(settings.state_dir)
    if published is None:
        return None
    api = ServeApi(published.url, local_credential(settings.state_dir))
    if not api.answers():
        return None
    if published.settings_digest != run_settings_digest(settings):
        raise OtherSettings(
            f"serve at {published.url} runs with other settings than this command's "
            "(a config file or WATCH_* variables differ)"
        )
    return api


def serve_of(settings: Settings) -> tuple[ServeApi | None, str | None]:
    """serve's API when a run there does what this command's settings say; else None, and
    when serve runs with other settings, the note saying so."""
    try:
        return running_serve(settings), None
    except OtherSettings as exc:
        return None, str(exc)
