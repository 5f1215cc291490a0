"""Time limits of registry lookups, against httpx.MockTransport registries that take their time.

A MockTransport cannot be interrupted mid-answer, so these check the limits between requests
(retries, waits, slots); tests/integration/test_registry_deadlines.py checks them on sockets
against registries that hang or drip."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from test_registry_client import DIGEST, FakeRegistry, client_for, open_registry, ref

from watchdocker.registry.deadline import Deadline, current_deadline, within
from watchdocker.registry.errors import RegistryError, ScanTimedOut

pytestmark = pytest.mark.exclusive  # bounds how long lookups take

HEAD = ("HEAD", "/v2/team/app/manifests/1.0-latest")


def slow_heads(seconds: float, status: int = 200) -> FakeRegistry:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "HEAD":
            time.sleep(seconds)
            if status != 200:
                return httpx.Response(status)
        return open_registry(request)

    return FakeRegistry(handle)


def test_the_earliest_deadline_binds():
    late, early = Deadline.after(60, "late"), Deadline.after(1, "early")
    with within(early), within(late):
        assert current_deadline() is early
    with within(late), within(early):
        assert current_deadline() is early
    assert current_deadline() is None


def test_retries_stop_at_the_lookup_deadline():
    # Backoff 0.2 s doubling (plus up to 0.2 s of jitter): 10 retries would wait about 20 s,
    # but the lookup may take 0.3 s * (10 + 1) = 3.3 s and no wait may end past it.
    fake = slow_heads(0, status=503)
    started = time.monotonic()
    client = client_for(fake, timeout=0.3, retries=10, backoff=0.2)
    with client, pytest.raises(RegistryError) as raised:
        client.resolve_digest(ref())
    # Slack for a busy machine: far below the ~20 s the retries alone would wait.
    assert time.monotonic() - started < 3.3 + 1.5
    assert 4 <= fake.calls[HEAD] <= 5
    assert "503" in str(raised.value) and "gave up after" in str(raised.value)


def test_a_retry_after_beyond_the_lookup_deadline_gives_up_at_once():
    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "HEAD":
            return httpx.Response(429, headers={"Retry-After": "5"})
        return open_registry(request)

    fake = FakeRegistry(handle)
    started = time.monotonic()
    with client_for(fake, timeout=1, retries=2) as client, pytest.raises(RegistryError) as raised:
        client.resolve_digest(ref())
    assert time.monotonic() - started < 3.0  # not the 5 s Retry-After asks
    assert fake.calls[HEAD] == 1
    assert "429" in str(raised.value)


def test_a_request_after_the_lookup_deadline_is_not_sent():
    # The ping takes the whole lookup (0.4 s * 1): the HEAD is never sent.
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/":
            time.sleep(0.45)
        return open_registry(request)

    fake = FakeRegistry(handle)
    with client_for(fake, timeout=0.4, retries=0) as client, pytest.raises(RegistryError) as raised:
        client.resolve_digest(ref())
    assert fake.calls[HEAD] == 0
    assert "did not answer within 0.4s, the limit of one lookup" in str(raised.value)


def test_lookups_waiting_past_the_scan_deadline_time_out_without_asking():
    fake = slow_heads(0.6)
    outcomes: dict[str, object] = {}

    def resolve(tag: str) -> None:
        try:
            outcomes[tag] = client.resolve_digest(ref(f"registry.example.com/team/app:{tag}"))
        except RegistryError as exc:
            outcomes[tag] = exc

    with client_for(fake, concurrency=1, scan_timeout=0.3) as client:
        started = time.monotonic()
        first = threading.Thread(target=resolve, args=("first",))
        first.start()
        time.sleep(0.1)  # the first holds the only slot
        resolve("second")
        waited = time.monotonic() - started
        first.join()
    assert outcomes["first"].digest == DIGEST  # type: ignore[union-attr]
    second = outcomes["second"]
    assert isinstance(second, ScanTimedOut)
    assert "the scan timed out (scan.timeout 0.3s)" in str(second)
    assert waited < 0.6  # it did not wait for the slot to come free
    assert fake.calls[("HEAD", "/v2/team/app/manifests/second")] == 0


def test_a_request_after_the_scan_deadline_says_the_scan_timed_out():
    fake = slow_heads(0.4)
    with client_for(fake, scan_timeout=0.3) as client:
        client.resolve_digest(ref())  # sent before the deadline: answered
        with pytest.raises(ScanTimedOut, match=r"scan timed out \(scan.timeout 0.3s\)"):
            client.resolve_digest(ref("registry.example.com/team/app:other"))
    assert fake.calls[("HEAD", "/v2/team/app/manifests/other")] == 0


def test_a_registry_that_did_not_answer_is_not_asked_again_by_the_client():
    def handle(request: httpx.Request) -> httpx.Response:
        time.sleep(0.2)
        raise httpx.ConnectError("connection refused", request=request)

    fake = FakeRegistry(handle)
    errors: list[RegistryError] = []

    def resolve(tag: str) -> None:
        with pytest.raises(RegistryError) as raised:
            client.resolve_digest(ref(f"registry.example.com/team/app:{tag}"))
        errors.append(raised.value)

    # One slot: the other two wait for it while the first lookup fails.
    with client_for(fake, retries=1, concurrency=1) as client:
        threads = [threading.Thread(target=resolve, args=(tag,)) for tag in "abc"]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert fake.calls[("GET", "/v2/")] == 2  # one ping and its retry, for all three
    assert all("cannot be reached" in str(e) for e in errors)
    assert sum("not asked again in this scan" in str(e) for e in errors) == 2
