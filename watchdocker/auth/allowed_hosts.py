"""TWOFA_ALLOWED_DOMAINS (seed §8.2): the host a second-factor request was sent to, as a
reverse proxy passes it on, must be one of the listed ones when any are."""

from __future__ import annotations

from collections.abc import Callable

# The proxy's headers first: behind one, Host is the proxy's upstream, not what the user typed.
HOST_HEADERS = ("x-forwarded-host", "x-original-host", "host")


def request_host(header: Callable[[str], str | None]) -> str:
    """The host of a request, lower case and without its port, from the first of
    `HOST_HEADERS` that `header` (a case-insensitive lookup) has; "" when none."""
    return strip_port(first_header(header, HOST_HEADERS)).lower().rstrip(".")


def first_header(header: Callable[[str], str | None], names: tuple[str, ...]) -> str:
    """The value of the first of `names` that `header` has, "" when none; of a list that a
    chain of proxies made, its first item (what the client sent to the first proxy)."""
    for name in names:
        value = (header(name) or "").split(",")[0].strip()
        if value:
            return value
    return ""


def strip_port(host: str) -> str:
    if host.startswith("["):  # [::1]:8080
        return host[: host.find("]") + 1] if "]" in host else host
    name, sep, port = host.rpartition(":")
    return name if sep and port.isdigit() and ":" not in name else host


def host_allowed(host: str, allowed: list[str]) -> bool:
    """True when `allowed` is empty (no restriction) or names `host` (case-insensitive)."""
    if not allowed:
        return True
    return host in {strip_port(a.strip()).lower().rstrip(".") for a in allowed}
