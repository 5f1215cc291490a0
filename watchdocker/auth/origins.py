"""Which browser pages may open the API's WebSockets: a browser sends its page's `Origin` on a
WebSocket handshake and applies no CORS to it, so the server must check it itself."""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import urlsplit


def origin_allowed(origin: str | None, host: str | None, allowed: Collection[str]) -> bool:
    """No `Origin` (not a browser: the token alone decides), one of the allowed origins
    (`server.corsOrigins`), or a page of the same host and port as the API."""
    if origin is None:
        return True
    if origin.rstrip("/") in {a.rstrip("/") for a in allowed}:
        return True
    netloc = urlsplit(origin).netloc.lower()
    return bool(host) and netloc == (host or "").lower()
