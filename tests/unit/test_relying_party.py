"""The WebAuthn relying party of a request: the RP ID is the host without its port, the origin
keeps the port (but not the scheme's default one); behind a proxy, X-Forwarded-Host,
X-Original-Host and X-Forwarded-Proto win; IP addresses and hosts outside
TWOFA_ALLOWED_DOMAINS are refused."""

from __future__ import annotations

import pytest

from watchdocker.auth.relying_party import (
    HostNotAllowed,
    RelyingParty,
    RelyingPartyError,
    relying_party,
)


def party(scheme: str = "http", allowed: list[str] | None = None, **headers: str) -> RelyingParty:
    lowered = {k.replace("_", "-").lower(): v for k, v in headers.items()}
    return relying_party(lowered.get, scheme, allowed or [])


@pytest.mark.parametrize(
    ("headers", "scheme", "rp_id", "origin"),
    [
        ({"host": "localhost:8080"}, "http", "localhost", "http://localhost:8080"),
        ({"host": "Watch.Example"}, "https", "watch.example", "https://watch.example"),
        ({"host": "watch.example:443"}, "https", "watch.example", "https://watch.example"),
        ({"host": "watch.example:80"}, "http", "watch.example", "http://watch.example"),
        ({"host": "watch.example:443"}, "http", "watch.example", "http://watch.example:443"),
        ({"host": "watch.example."}, "https", "watch.example", "https://watch.example"),
        (
            {"host": "api:8080", "x_forwarded_host": "watch.example", "x_forwarded_proto": "https"},
            "http",
            "watch.example",
            "https://watch.example",
        ),
        (
            {"host": "api:8080", "x_original_host": "watch.example:8443"},
            "http",
            "watch.example",
            "http://watch.example:8443",
        ),
        (
            {
                "host": "api",
                "x_original_host": "orig.example",
                "x_forwarded_host": "fwd.example:9000, proxy.internal",
                "x_forwarded_proto": "HTTPS, http",
            },
            "http",
            "fwd.example",
            "https://fwd.example:9000",
        ),
    ],
    ids=[
        "port-kept-in-origin",
        "lower-case",
        "https-default-port-dropped",
        "http-default-port-dropped",
        "other-scheme-port-kept",
        "trailing-dot",
        "forwarded-host-and-proto",
        "original-host",
        "first-of-a-proxy-chain",
    ],
)
def test_rp_id_is_the_host_and_origin_keeps_the_port(
    headers: dict[str, str], scheme: str, rp_id: str, origin: str
):
    assert party(scheme, **headers) == RelyingParty(rp_id, origin)


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1:8080", "10.0.0.1", "[::1]:8080", "[fe80::1]"],
    ids=["v4-port", "v4", "v6-port", "v6"],
)
def test_an_ip_address_cannot_be_an_rp_id(host: str):
    with pytest.raises(RelyingPartyError, match="is an IP address"):
        party(host=host)


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "names no host"),
        ({"host": "a_b.example"}, "not one"),
        ({"host": "localhost:80x"}, "'localhost:80x' is not one"),
        ({"host": "localhost", "x_forwarded_proto": "ftp"}, "neither http nor https"),
    ],
    ids=["no-host", "not-a-domain", "bad-port", "bad-proto"],
)
def test_hosts_and_schemes_that_cannot_be_a_relying_party(headers: dict[str, str], message: str):
    with pytest.raises(RelyingPartyError, match=message):
        party(**headers)


def test_the_allowed_domains_limit_the_rp_ids():
    allowed = ["watch.example", "localhost:8080"]
    assert party(allowed=allowed, host="localhost:9999").rp_id == "localhost"
    proxied = party(allowed=allowed, host="localhost", x_forwarded_host="WATCH.example")
    assert proxied.rp_id == "watch.example"
    with pytest.raises(HostNotAllowed, match=r"'evil\.example' are not allowed"):
        party(allowed=allowed, host="localhost", x_forwarded_host="evil.example")
    with pytest.raises(HostNotAllowed):
        party(allowed=allowed, host="sub.watch.example")
