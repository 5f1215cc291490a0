"""TWOFA_ALLOWED_DOMAINS: the host from X-Forwarded-Host, X-Original-Host, then Host, without
its port, must be listed when any are."""

from __future__ import annotations

import pytest

from watchdocker.auth.allowed_hosts import host_allowed, request_host


def host_of(**headers: str) -> str:
    lowered = {k.replace("_", "-").lower(): v for k, v in headers.items()}
    return request_host(lowered.get)


def test_the_proxy_headers_come_first_in_order():
    assert host_of(host="api:8080") == "api"
    assert host_of(host="api:8080", x_original_host="orig.example") == "orig.example"
    assert (
        host_of(host="api", x_original_host="orig.example", x_forwarded_host="Fwd.Example:443")
        == "fwd.example"
    )
    assert host_of(x_forwarded_host="a.example, proxy.internal") == "a.example"
    assert host_of() == ""


@pytest.mark.parametrize(
    ("header", "host"),
    [("[::1]:8080", "[::1]"), ("[::1]", "[::1]"), ("10.0.0.1:80", "10.0.0.1"), ("a.b.", "a.b")],
)
def test_the_port_is_stripped(header: str, host: str):
    assert host_of(host=header) == host


def test_only_listed_hosts_pass_when_any_are_listed():
    allowed = ["watch.example", "Admin.Example:8443"]
    assert host_allowed("watch.example", allowed)
    assert host_allowed("admin.example", allowed)
    assert not host_allowed("evil.example", allowed)
    assert not host_allowed("", allowed)
    assert not host_allowed("watch.example.evil", allowed)
    assert host_allowed("anything", [])
