"""Registry client protocol and fault handling, against httpx.MockTransport registries.

The happy paths also run against the real Docker Distribution registry in
tests/integration; here the transport injects what a real one rarely does on demand."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable

import httpx
import pytest
from pydantic import SecretStr

from watchdocker.reference import ImageReference
from watchdocker.registry.client import RegistryClient
from watchdocker.registry.credentials import CredentialStore, StaticCredential
from watchdocker.registry.errors import RegistryError
from watchdocker.registry.manifests import (
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Platform,
    sha256_digest,
)

HOST = "registry.example.com"
SECRET = "s3cret-password-value"
CONFIG_DIGEST = "sha256:" + "c" * 64


def manifest_body(config: str = CONFIG_DIGEST) -> bytes:
    return json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {"digest": config}, "layers": []}
    ).encode()


def index_body(entries: dict[str, str]) -> bytes:
    manifests = []
    for platform, digest in entries.items():
        os_, arch, *variant = platform.split("/")
        p = {"os": os_, "architecture": arch, **({"variant": variant[0]} if variant else {})}
        manifests.append({"mediaType": OCI_MANIFEST, "digest": digest, "platform": p})
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}).encode()


Handler = Callable[[httpx.Request], httpx.Response]


class FakeRegistry:
    """Counts requests by (method, path) and answers through `handler`."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.calls: Counter[tuple[str, str]] = Counter()
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls[(request.method, request.url.path)] += 1
        self.requests.append(request)
        return self.handler(request)


def client_for(
    fake: FakeRegistry, credential: StaticCredential | None = None, **kw
) -> RegistryClient:
    store = CredentialStore([credential] if credential else [])
    kw.setdefault("backoff", 0)
    kw.setdefault("retries", 2)
    return RegistryClient(store, transport=httpx.MockTransport(fake), **kw)


def ref(text: str = f"{HOST}/team/app:1.0-latest") -> ImageReference:
    return ImageReference.parse(text)


DIGEST = sha256_digest(manifest_body())


def open_registry(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/v2/":
        return httpx.Response(200)
    if request.url.path.startswith("/v2/team/app/manifests/"):
        return httpx.Response(
            200, headers={"Docker-Content-Digest": DIGEST, "Content-Type": OCI_MANIFEST}
        )
    return httpx.Response(404)


def bearer_registry(token_lifetime: int = 300) -> Handler:
    issued = Counter[str]()

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.example.com":
            scope = request.url.params["scope"]
            issued[scope] += 1
            expected = httpx.BasicAuth("alice", SECRET)._auth_header  # the client must send it
            if request.headers.get("Authorization") != expected:
                return httpx.Response(401, json={"errors": [{"code": "UNAUTHORIZED"}]})
            token = f"token-{scope}-{issued[scope]}"
            return httpx.Response(200, json={"token": token, "expires_in": token_lifetime})
        challenge = 'Bearer realm="https://auth.example.com/token",service="registry.example.com"'
        auth = request.headers.get("Authorization", "")
        if request.url.path == "/v2/" or not auth.startswith("Bearer token-repository:team/app"):
            return httpx.Response(401, headers={"WWW-Authenticate": challenge})
        return open_registry(request)

    return handle


ALICE = StaticCredential(HOST, "alice", SecretStr(SECRET), "config")


def test_open_registry_costs_one_ping_and_one_head():
    fake = FakeRegistry(open_registry)
    with client_for(fake) as client:
        remote = client.resolve_digest(ref())
        again = client.resolve_digest(ref(f"{HOST}/team/app:other"))
    assert remote.digest == DIGEST and remote.media_type == OCI_MANIFEST
    assert again.digest == DIGEST
    assert fake.calls[("GET", "/v2/")] == 1
    assert fake.calls[("HEAD", "/v2/team/app/manifests/1.0-latest")] == 1
    head = next(r for r in fake.requests if r.method == "HEAD")
    for media_type in (OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST):
        assert media_type in head.headers["Accept"]


def test_bearer_flow_caches_the_token_per_scope():
    fake = FakeRegistry(bearer_registry())
    with client_for(fake, ALICE) as client:
        for tag in ("a", "b", "c"):
            assert client.resolve_digest(ref(f"{HOST}/team/app:{tag}")).digest == DIGEST
    assert fake.calls[("GET", "/token")] == 1
    token_request = next(r for r in fake.requests if r.url.path == "/token")
    assert token_request.url.params["scope"] == "repository:team/app:pull"
    assert token_request.url.params["service"] == "registry.example.com"


def test_expired_token_is_fetched_again():
    fake = FakeRegistry(bearer_registry(token_lifetime=0))
    with client_for(fake, ALICE) as client:
        client.resolve_digest(ref(f"{HOST}/team/app:a"))
        client.resolve_digest(ref(f"{HOST}/team/app:b"))
    assert fake.calls[("GET", "/token")] == 2


def test_wrong_credentials_name_their_source_but_never_the_password():
    wrong = StaticCredential(HOST, "alice", SecretStr("not-" + SECRET), "config")
    fake = FakeRegistry(bearer_registry())
    with client_for(fake, wrong) as client, pytest.raises(RegistryError) as raised:
        client.resolve_digest(ref())
    message = str(raised.value)
    assert "401" in message and "alice" in message and "config" in message
    assert SECRET not in message


def test_missing_credentials_say_how_to_add_them():
    fake = FakeRegistry(bearer_registry())
    with client_for(fake) as client, pytest.raises(RegistryError) as raised:
        client.resolve_digest(ref())
    assert "docker login" in str(raised.value) and HOST in str(raised.value)


def test_basic_auth_sends_credentials_without_a_token_server():
    def handle(request: httpx.Request) -> httpx.Response:
        if request.headers.get("Authorization") != httpx.BasicAuth("alice", SECRET)._auth_header:
            return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="r"'})
        return open_registry(request)

    fake = FakeRegistry(handle)
    with client_for(fake, ALICE) as client:
        assert client.resolve_digest(ref()).digest == DIGEST
    assert fake.calls[("HEAD", "/v2/team/app/manifests/1.0-latest")] == 1


def test_head_without_digest_falls_back_to_get_and_hashes_the_body():
    body = manifest_body()

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/":
            return httpx.Response(200)
        if request.method == "HEAD":
            return httpx.Response(200, headers={"Content-Type": OCI_MANIFEST})
        return httpx.Response(200, content=body, headers={"Content-Type": OCI_MANIFEST})

    fake = FakeRegistry(handle)
    with client_for(fake) as client:
        assert client.resolve_digest(ref()).digest == sha256_digest(body)


def test_missing_tag_is_a_clear_404_without_retries():
    fake = FakeRegistry(lambda r: httpx.Response(200 if r.url.path == "/v2/" else 404))
    with client_for(fake) as client, pytest.raises(RegistryError) as raised:
        client.resolve_digest(ref())
    assert "'1.0-latest'" in str(raised.value) and "team/app" in str(raised.value)
    assert sum(n for (m, _), n in fake.calls.items() if m == "HEAD") == 1


def test_5xx_is_retried_then_reported_with_the_attempt_count():
    fake = FakeRegistry(lambda r: httpx.Response(200 if r.url.path == "/v2/" else 503))
    with client_for(fake, retries=2) as client, pytest.raises(RegistryError) as raised:
        client.resolve_digest(ref())
    assert "503" in str(raised.value) and "3 attempts" in str(raised.value)
    assert fake.calls[("HEAD", "/v2/team/app/manifests/1.0-latest")] == 3


def test_429_honours_retry_after_then_succeeds():
    answers = iter([httpx.Response(429, headers={"Retry-After": "0"})])

    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "HEAD":
            return next(answers, None) or open_registry(request)
        return open_registry(request)

    fake = FakeRegistry(handle)
    with client_for(fake) as client:
        assert client.resolve_digest(ref()).digest == DIGEST
    assert fake.calls[("HEAD", "/v2/team/app/manifests/1.0-latest")] == 2


def test_429_asking_for_too_long_a_wait_fails_at_once():
    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "HEAD":
            return httpx.Response(429, headers={"Retry-After": "3600"})
        return open_registry(request)

    fake = FakeRegistry(handle)
    with client_for(fake, max_retry_after=5) as client, pytest.raises(RegistryError) as raised:
        client.resolve_digest(ref())
    assert "429" in str(raised.value) and "3600" in str(raised.value)
    assert fake.calls[("HEAD", "/v2/team/app/manifests/1.0-latest")] == 1


def test_connection_errors_are_retried_and_named():
    def handle(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    fake = FakeRegistry(handle)
    with client_for(fake, retries=1) as client, pytest.raises(RegistryError) as raised:
        client.resolve_digest(ref())
    assert "cannot be reached" in str(raised.value) and "2 attempts" in str(raised.value)
    assert fake.calls[("GET", "/v2/")] == 2


def test_timeouts_say_how_long_was_waited():
    def handle(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    fake = FakeRegistry(handle)
    with client_for(fake, retries=0, timeout=1.5) as client, pytest.raises(RegistryError) as raised:
        client.resolve_digest(ref())
    assert "1.5s" in str(raised.value)


@pytest.mark.parametrize(
    "body",
    [b"<html>oops</html>", b"[1, 2]", b'{"hello": "world"}', b"\xff\xfe garbage"],
)
def test_garbage_manifest_is_a_clear_error(body: bytes):
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/":
            return httpx.Response(200)
        if request.method == "HEAD":
            return httpx.Response(200)
        return httpx.Response(200, content=body, headers={"Content-Type": "text/html"})

    with client_for(FakeRegistry(handle)) as client, pytest.raises(RegistryError) as raised:
        client.resolve_digest(ref())
    assert "not an image manifest" in str(raised.value)


def test_garbage_token_answer_is_a_clear_error():
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.example.com":
            return httpx.Response(200, content=b"<html>login page</html>")
        return httpx.Response(
            401, headers={"WWW-Authenticate": 'Bearer realm="https://auth.example.com/t"'}
        )

    with client_for(FakeRegistry(handle), ALICE) as client, pytest.raises(RegistryError) as raised:
        client.resolve_digest(ref())
    assert "not a token" in str(raised.value)


def test_oversized_answer_is_refused():
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/":
            return httpx.Response(200)
        if request.method == "HEAD":
            return httpx.Response(200)
        return httpx.Response(200, content=b"x" * (5 * 1024 * 1024))

    with client_for(FakeRegistry(handle)) as client, pytest.raises(RegistryError) as raised:
        client.resolve_digest(ref())
    assert "4 MiB" in str(raised.value)


def test_platform_image_through_an_index_verifies_digests():
    amd = manifest_body(CONFIG_DIGEST)
    arm = manifest_body("sha256:" + "a" * 64)
    index = index_body({"linux/amd64": sha256_digest(amd), "linux/arm64": sha256_digest(arm)})
    blobs = {sha256_digest(b): b for b in (amd, arm, index)}

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/":
            return httpx.Response(200)
        digest = request.url.path.rsplit("/", 1)[1]
        body = blobs[digest]
        media = OCI_INDEX if body is index else OCI_MANIFEST
        return httpx.Response(200, content=body, headers={"Content-Type": media})

    with client_for(FakeRegistry(handle)) as client:
        found = client.platform_config_digest(
            ref(), sha256_digest(index), Platform.parse("linux/amd64")
        )
        assert found == CONFIG_DIGEST
        with pytest.raises(RegistryError, match="no manifest for linux/s390x"):
            client.platform_config_digest(
                ref(), sha256_digest(index), Platform.parse("linux/s390x")
            )


def test_content_not_matching_its_digest_is_refused():
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/":
            return httpx.Response(200)
        return httpx.Response(200, content=manifest_body(), headers={"Content-Type": OCI_MANIFEST})

    with client_for(FakeRegistry(handle)) as client, pytest.raises(RegistryError, match="altered"):
        client.platform_config_digest(ref(), "sha256:" + "0" * 64, Platform.parse("linux/amd64"))


def test_loopback_registry_falls_back_to_plain_http():
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "https":
            raise httpx.ConnectError("wrong version number", request=request)
        return open_registry(request)

    fake = FakeRegistry(handle)
    with client_for(fake, retries=0) as client:
        assert client.resolve_digest(ref("127.0.0.1:5999/team/app:1")).digest == DIGEST
    schemes = [r.url.scheme for r in fake.requests]
    assert schemes == ["https", "http", "http"]


def test_remote_registries_are_never_reached_over_plain_http():
    def handle(request: httpx.Request) -> httpx.Response:
        assert request.url.scheme == "https"
        raise httpx.ConnectError("refused", request=request)

    with client_for(FakeRegistry(handle), retries=0) as client, pytest.raises(RegistryError):
        client.resolve_digest(ref())


def test_docker_hub_is_asked_at_its_api_host():
    fake = FakeRegistry(
        lambda r: (
            open_registry(r)
            if "team/app" in r.url.path or r.url.path == "/v2/"
            else httpx.Response(404)
        )
    )
    with client_for(fake) as client:
        client.resolve_digest(ref("team/app:1.0-latest"))
    assert {r.url.host for r in fake.requests} == {"registry-1.docker.io"}


def test_requests_and_failed_lookups_are_counted_by_registry():
    fake = FakeRegistry(lambda r: httpx.Response(200 if r.url.path == "/v2/" else 503))
    with client_for(fake, retries=1) as client:
        with pytest.raises(RegistryError):
            client.resolve_digest(ref())
        requests, errors = client.requests_by_registry(), client.errors_by_registry()
    assert requests == {HOST: sum(fake.calls.values())} and requests[HOST] == 3
    assert errors == {HOST: 1}


def test_a_lookup_that_succeeds_counts_no_error():
    fake = FakeRegistry(open_registry)
    with client_for(fake) as client:
        client.resolve_digest(ref())
        assert client.requests_by_registry() == {HOST: 2}
        assert client.errors_by_registry() == {}
