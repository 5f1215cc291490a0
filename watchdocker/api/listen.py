"""Where the API listens: `server.addr`, but on loopback only while no user is configured,
since nothing may listen beyond it without authentication."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from watchdocker.config import Settings

OPEN_IT = "set USER_NAME and USER_PASSWORD (or USER_PASSWORD_HASH) to open it to the network"


class ListenRefused(ValueError):
    """server.addr asks for a non-loopback address while no user is configured."""


@dataclass(frozen=True)
class ListenAddress:
    host: str
    port: int
    note: str | None  # one line for the operator, when the address is not the one written

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def listen_address(settings: Settings) -> ListenAddress:
    host, port = settings.server.host.strip("[]"), settings.server.port
    if settings.auth.user_configured:
        return ListenAddress(host or "0.0.0.0", port, None)
    if not host:
        return ListenAddress("127.0.0.1", port, f"the API listens on 127.0.0.1 only: {OPEN_IT}")
    if not _is_loopback(host):
        raise ListenRefused(
            f"server.addr (WATCH_SERVER_ADDR) {settings.server.addr} is beyond loopback but no "
            f"user is configured: {OPEN_IT}, or listen on 127.0.0.1"
        )
    return ListenAddress(host, port, None)
