"""Who the WebAuthn relying party is for one request (seed §4.3 `extractRPIDAndOrigin`): the RP
ID is the host the browser shows (a passkey is bound to it), the origin the scheme, host and port
it loaded the page from. Behind a reverse proxy both come from the proxy's headers."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

from watchdocker.auth.allowed_hosts import HOST_HEADERS, first_header, host_allowed, strip_port

# What a browser accepts as an RP ID: a domain name (WebAuthn §5.1.3 wants a valid domain string).
_DOMAIN = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")
_DEFAULT_PORTS = {"http": "80", "https": "443"}


class RelyingPartyError(Exception):
    """Why a request cannot be a WebAuthn ceremony; names the host, holds nothing secret."""


class HostNotAllowed(RelyingPartyError):
    """The host is not one of TWOFA_ALLOWED_DOMAINS."""


@dataclass(frozen=True)
class RelyingParty:
    rp_id: str  # e.g. "watch.example": the host without its port
    origin: str  # e.g. "https://watch.example:8443": what the browser puts in clientDataJSON


def relying_party(
    header: Callable[[str], str | None], scheme: str, allowed: list[str]
) -> RelyingParty:
    """The relying party of a request: `header` is a case-insensitive lookup of its headers,
    `scheme` the one it came in with (X-Forwarded-Proto wins), `allowed` TWOFA_ALLOWED_DOMAINS.
    Raises HostNotAllowed, or RelyingPartyError when the host cannot be an RP ID."""
    authority = first_header(header, HOST_HEADERS).lower()
    host = strip_port(authority)
    rp_id = host.rstrip(".")
    if not rp_id:
        raise RelyingPartyError("the request names no host (Host or X-Forwarded-Host)")
    if not host_allowed(rp_id, allowed):
        raise HostNotAllowed(f"2FA requests to host {rp_id!r} are not allowed here")
    if _is_ip_address(rp_id):
        raise RelyingPartyError(
            f"passkeys need a domain name, and {rp_id!r} is an IP address (browsers refuse "
            "those): open the console by name, e.g. localhost"
        )
    if not _DOMAIN.fullmatch(rp_id):
        raise RelyingPartyError(f"passkeys need a domain name, and {rp_id!r} is not one")
    proto = (first_header(header, ("x-forwarded-proto",)) or scheme).lower()
    if proto not in _DEFAULT_PORTS:
        raise RelyingPartyError(f"scheme {proto!r} is neither http nor https")
    port = authority[len(host) :].removeprefix(":")  # digits or nothing (strip_port)
    shown = f"{rp_id}:{port}" if port and port != _DEFAULT_PORTS[proto] else rp_id
    return RelyingParty(rp_id, f"{proto}://{shown}")


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True
