"""A Registry HTTP API v2 / OCI distribution client: manifest digests, with the auth real
registries use (Bearer token from the `WWW-Authenticate` challenge, Basic, anonymous)."""

from __future__ import annotations

import base64
import functools
import ipaddress
import random
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from watchdocker.reference import ImageReference, registry_api_host
from watchdocker.registry.challenge import Challenge, parse_challenge
from watchdocker.registry.credentials import IDENTITY_TOKEN_USER, Credential, CredentialStore
from watchdocker.registry.deadline import BoundedTransport, Deadline, current_deadline, within
from watchdocker.registry.errors import RateLimited, RegistryError, ScanTimedOut, Unanswered
from watchdocker.registry.manifests import (
    ACCEPT,
    DIGEST,
    INDEX_TYPES,
    ManifestError,
    Platform,
    config_digest,
    media_type_of,
    select_platform,
    sha256_digest,
)
from watchdocker.singleflight import SingleFlight

MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # distribution's own limit for a manifest
_TOKEN_MARGIN = 10.0  # seconds: renew a token this long before it expires


@dataclass(frozen=True, slots=True)
class RemoteDigest:
    """What a tag points at in its registry now."""

    digest: str
    media_type: str | None

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES


@dataclass(frozen=True, slots=True)
class _Endpoint:
    base_url: str
    challenge: Challenge | None
    insecure_tls: bool


@dataclass(slots=True)
class _Token:
    value: str
    expires_at: float


def is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _status_text(response: httpx.Response) -> str:
    return f"{response.status_code} {response.reason_phrase}".strip()


class RegistryClient:
    """Thread-safe; one per scan. Tokens are cached per registry and scope until they expire;
    concurrent identical requests (ping, token, digest) are merged; a registry that did not
    answer a lookup in time is not asked again by this client.

    Time limits, each in total (connect to last byte, retries and their waits included):
    a request `timeout`; a lookup (`resolve_digest`, `platform_config_digest`: ping, token and
    manifest requests) `timeout * (retries + 1)`; every lookup of this client `scan_timeout`
    after its creation, waits for a slot included."""

    def __init__(
        self,
        credentials: CredentialStore | None = None,
        *,
        insecure: Iterable[str] = (),
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.5,
        max_retry_after: float = 60.0,
        concurrency: int = 3,
        scan_timeout: float | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.credentials = credentials or CredentialStore()
        self.insecure = {h.lower() for h in insecure}
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_retry_after = max_retry_after
        self.lookup_timeout = timeout * (retries + 1)
        self._scan_deadline = (
            Deadline.after(scan_timeout, f"the scan timed out (scan.timeout {scan_timeout:g}s)")
            if scan_timeout is not None
            else None
        )
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=16)
        self._http = _http_client(transport, timeout, limits, verify=True)
        self._http_no_verify = _http_client(transport, timeout, limits, verify=False)
        self._endpoints: dict[str, _Endpoint] = {}
        # Registries that did not answer a lookup in time: their other lookups fail at once.
        self._unanswered: dict[str, Unanswered] = {}
        self._tokens: dict[tuple[str, str, str], _Token] = {}
        self._lock = threading.Lock()
        self._flights: SingleFlight = SingleFlight()
        # At most this many lookups talk to registries at once (scan.concurrency).
        self._slots = threading.BoundedSemaphore(concurrency)
        # For /metrics (watchdocker.run_metrics): HTTP requests sent, and lookups that failed.
        self._requests: Counter[str] = Counter()
        self._errors: Counter[str] = Counter()

    def requests_by_registry(self) -> dict[str, int]:
        with self._lock:
            return dict(self._requests)

    def errors_by_registry(self) -> dict[str, int]:
        """Lookups (a digest, a platform's image) that ended in an error, by registry."""
        with self._lock:
            return dict(self._errors)

    def close(self) -> None:
        self._http.close()
        self._http_no_verify.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- public ---------------------------------------------------------------------------

    def resolve_digest(self, ref: ImageReference) -> RemoteDigest:
        """The digest the reference's tag points at: `HEAD` with every manifest type accepted,
        digest from `Docker-Content-Digest`; a GET (sha256 of the body) only when HEAD has none."""

        def resolve() -> RemoteDigest:
            with self._lookup(ref.registry):
                return self._resolve(ref)

        return self._flights.do(("resolve", str(ref)), resolve)

    def platform_config_digest(self, ref: ImageReference, digest: str, platform: Platform) -> str:
        """The config digest (the engine's image ID) of the image `platform` gets from `digest`:
        through the index entry for that platform when `digest` is an index."""
        with self._lookup(ref.registry):
            return self._platform_config_digest(ref, digest, platform)

    @contextmanager
    def _lookup(self, registry: str) -> Iterator[None]:
        """One of `scan.concurrency` slots, then the lookup's deadline (within the scan's)."""
        self._refuse_if_unanswered(registry)
        scan = self._scan_deadline
        if scan is None:
            self._slots.acquire()
        elif not self._slots.acquire(timeout=max(0.0, scan.left())):
            raise ScanTimedOut(registry, scan.message)
        lookup = Deadline.after(
            self.lookup_timeout,
            f"did not answer within {self.lookup_timeout:g}s, the limit of one lookup "
            "(registry.timeout * (registry.retries + 1))",
        )
        try:
            # Again once the slot is ours: the lookup that held it may have just failed.
            self._refuse_if_unanswered(registry)
            with within(scan), within(lookup):
                yield
        except RegistryError as exc:
            with self._lock:
                self._errors[registry] += 1
                if isinstance(exc, Unanswered):
                    self._unanswered.setdefault(registry, exc)
            raise
        finally:
            self._slots.release()

    def _refuse_if_unanswered(self, registry: str) -> None:
        with self._lock:
            unanswered = self._unanswered.get(registry)
        if unanswered is not None:
            raise Unanswered(registry, f"{_message(unanswered)}; not asked again in this scan")

    def _platform_config_digest(self, ref: ImageReference, digest: str, platform: Platform) -> str:
        body, media_type = self._get_manifest(ref, digest)
        try:
            if media_type in INDEX_TYPES:
                child = select_platform(body, platform)
                body, media_type = self._get_manifest(ref, child)
                if media_type in INDEX_TYPES:
                    raise ManifestError("a platform entry of the index is itself an index")
            return config_digest(body)
        except ManifestError as exc:
            raise RegistryError(ref.registry, f"{ref.repository}@{digest}: {exc}") from None

    # -- manifests ------------------------------------------------------------------------

    def _resolve(self, ref: ImageReference) -> RemoteDigest:
        reference = ref.manifest_reference
        path = f"/v2/{ref.repository}/manifests/{reference}"
        response = self._authorized("HEAD", ref, path, {"Accept": ACCEPT})
        self._raise_for_manifest(ref, reference, response)
        digest = response.headers.get("Docker-Content-Digest", "").strip()
        content_type = response.headers.get("Content-Type")
        if DIGEST.fullmatch(digest):
            return RemoteDigest(
                digest, content_type.split(";")[0].strip() if content_type else None
            )
        body, media_type = self._get_manifest(ref, reference)
        return RemoteDigest(sha256_digest(body), media_type)

    def _get_manifest(self, ref: ImageReference, reference: str) -> tuple[bytes, str]:
        path = f"/v2/{ref.repository}/manifests/{reference}"
        response = self._authorized("GET", ref, path, {"Accept": ACCEPT})
        self._raise_for_manifest(ref, reference, response)
        body = response.content
        if reference.startswith("sha256:") and sha256_digest(body) != reference:
            raise RegistryError(
                ref.registry,
                f"{ref.repository}@{reference}: content does not "
                "match its digest; the registry or a proxy altered it",
            )
        try:
            return body, media_type_of(body, response.headers.get("Content-Type"))
        except ManifestError as exc:
            raise RegistryError(
                ref.registry,
                f"{ref.repository}:{reference}: the answer is not an image manifest ({exc})",
            ) from None

    @staticmethod
    def _raise_for_manifest(ref: ImageReference, reference: str, response: httpx.Response) -> None:
        if response.status_code == 404:
            what = f"tag {reference!r}" if not reference.startswith("sha256:") else reference
            raise RegistryError(
                ref.registry,
                f"no {what} in repository {ref.repository} (404 Not Found): "
                "check the image name and tag",
            )
        if response.status_code != 200:
            raise RegistryError(
                ref.registry,
                f"{ref.repository}:{reference}: unexpected answer {_status_text(response)}",
            )

    # -- auth -----------------------------------------------------------------------------

    def _authorized(
        self,
        method: str,
        ref: ImageReference,
        path: str,
        headers: dict[str, str],
    ) -> httpx.Response:
        registry = ref.registry
        endpoint = self._endpoint(registry)
        credential = self.credentials.lookup(registry)
        auth = self._auth_header(endpoint, registry, ref.repository, credential, refresh=False)
        response = self._send(registry, method, endpoint, path, {**headers, **auth})
        if response.status_code == 401:
            # A token that expired early, a narrower scope, or a repository-level challenge
            # behind an open /v2/: learn the challenge from this answer and try once more.
            challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
            if challenge is not None and challenge != endpoint.challenge:
                endpoint = _Endpoint(endpoint.base_url, challenge, endpoint.insecure_tls)
                with self._lock:
                    self._endpoints[registry] = endpoint
            if endpoint.challenge is not None:
                auth = self._auth_header(endpoint, registry, ref.repository, credential, True)
                response = self._send(registry, method, endpoint, path, {**headers, **auth})
        if response.status_code == 401:
            raise self._unauthorized(registry, ref.repository, credential)
        if response.status_code == 403:
            who = f"the account {credential.username!r}" if credential else "anonymous access"
            raise RegistryError(
                registry,
                f"access to {ref.repository} denied (403 Forbidden) for {who}: "
                "check that it may pull this repository",
            )
        return response

    @staticmethod
    def _unauthorized(
        registry: str, repository: str, credential: Credential | None
    ) -> RegistryError:
        if credential is None:
            return RegistryError(
                registry,
                f"{repository} needs credentials (401 Unauthorized): add them to registry.auth "
                f"(WATCH_REGISTRY_AUTH_<n>_*), a DockerRegistryCredentials block, or run "
                f"`docker login {registry}`",
            )
        return RegistryError(
            registry,
            f"credentials for {registry} from {credential.source} (user {credential.username!r})"
            f" were refused for {repository} (401 Unauthorized): check the username and password",
        )

    def _auth_header(
        self,
        endpoint: _Endpoint,
        registry: str,
        repository: str,
        credential: Credential | None,
        refresh: bool,
    ) -> dict[str, str]:
        challenge = endpoint.challenge
        if challenge is None:
            return {}
        if challenge.scheme == "basic":
            if credential is None:
                return {}
            return {"Authorization": _basic_auth(credential)}
        if challenge.scheme == "bearer" and challenge.realm:
            scope = f"repository:{repository}:pull"
            token = self._token(endpoint, registry, challenge, scope, credential, refresh)
            return {"Authorization": f"Bearer {token}"}
        return {}

    def _token(
        self,
        endpoint: _Endpoint,
        registry: str,
        challenge: Challenge,
        scope: str,
        credential: Credential | None,
        refresh: bool,
    ) -> str:
        key = (registry, challenge.realm or "", scope)

        def fetch() -> str:
            # Another caller may have fetched it while this one waited for the flight.
            cached = None if refresh else self._cached_token(key)
            if cached is not None:
                return cached
            token = self._fetch_token(endpoint, registry, challenge, scope, credential)
            with self._lock:
                self._tokens[key] = token
            return token.value

        cached = None if refresh else self._cached_token(key)
        return cached if cached is not None else self._flights.do(("token", *key, refresh), fetch)

    def _cached_token(self, key: tuple[str, str, str]) -> str | None:
        with self._lock:
            cached = self._tokens.get(key)
        return cached.value if cached and cached.expires_at > time.monotonic() else None

    def _fetch_token(
        self,
        endpoint: _Endpoint,
        registry: str,
        challenge: Challenge,
        scope: str,
        credential: Credential | None,
    ) -> _Token:
        realm = challenge.realm or ""
        params = {"scope": scope}
        if challenge.service:
            params["service"] = challenge.service
        client = self._http_no_verify if endpoint.insecure_tls else self._http
        try:
            if credential is not None and credential.username == IDENTITY_TOKEN_USER:
                # An identity token is an OAuth2 refresh token (Docker's `identitytoken`).
                form = {
                    **params,
                    "grant_type": "refresh_token",
                    "refresh_token": credential.password.get_secret_value(),
                    "client_id": "watch-docker",
                }
                request = client.build_request("POST", realm, data=form)
            else:
                request = client.build_request("GET", realm, params=params)
                if credential is not None:
                    request.headers["Authorization"] = _basic_auth(credential)
        except httpx.InvalidURL:
            raise RegistryError(registry, f"its token realm {realm!r} is not a URL") from None
        response = self._retrying(registry, lambda: self._send_request(registry, client, request))
        if response.status_code in (401, 403):
            raise self._unauthorized(registry, scope.split(":")[1], credential)
        if response.status_code != 200:
            raise RegistryError(
                registry, f"its token server {realm} answered {_status_text(response)}"
            )
        try:
            data = response.json()
            value = data.get("token") or data.get("access_token")
            if not isinstance(value, str) or not value:
                raise ValueError
            # The token spec's default lifetime is 60 s when expires_in is absent.
            expires_in = data.get("expires_in")
            lifetime = float(expires_in) if expires_in is not None else 60.0
        except (ValueError, AttributeError, TypeError):
            raise RegistryError(
                registry, f"its token server {realm} answered something that is not a token"
            ) from None
        margin = min(_TOKEN_MARGIN, lifetime / 2)
        return _Token(value, time.monotonic() + lifetime - margin)

    # -- transport ------------------------------------------------------------------------

    def _endpoint(self, registry: str) -> _Endpoint:
        with self._lock:
            known = self._endpoints.get(registry)
        if known is not None:
            return known

        def ping() -> _Endpoint:
            endpoint = self._ping(registry)
            with self._lock:
                self._endpoints[registry] = endpoint
            return endpoint

        return self._flights.do(("ping", registry), ping)

    def _ping(self, registry: str) -> _Endpoint:
        """`GET /v2/` once per registry: which scheme answers, and which auth it wants."""
        host = registry_api_host(registry)
        plain_allowed = is_loopback(host) or registry.lower() in self.insecure
        candidates = [_Endpoint(f"https://{host}", None, plain_allowed)]
        if plain_allowed:
            # Like Docker for an insecure registry: HTTPS (unverified) first, then plain HTTP.
            candidates.append(_Endpoint(f"http://{host}", None, False))
        last_error: RegistryError | None = None
        for candidate in candidates:
            # A TLS probe of a plain-HTTP registry fails at once and for good: no retries.
            probing = len(candidates) > 1 and candidate is candidates[0]
            try:
                response = self._send(registry, "GET", candidate, "/v2/", {}, retry=not probing)
            except RegistryError as exc:
                last_error = exc
                continue
            if response.status_code == 401:
                challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
                return _Endpoint(candidate.base_url, challenge, candidate.insecure_tls)
            if response.status_code == 200:
                return candidate
            raise RegistryError(
                registry,
                f"does not speak the Registry API v2 (GET /v2/ answered {_status_text(response)})",
            )
        assert last_error is not None
        raise last_error

    def _send(
        self,
        registry: str,
        method: str,
        endpoint: _Endpoint,
        path: str,
        headers: dict[str, str],
        *,
        retry: bool = True,
    ) -> httpx.Response:
        client = self._http_no_verify if endpoint.insecure_tls else self._http

        def once() -> httpx.Response:
            request = client.build_request(method, endpoint.base_url + path, headers=headers)
            return self._send_request(registry, client, request)

        return self._retrying(registry, once) if retry else once()

    def _send_request(
        self,
        registry: str,
        client: httpx.Client,
        request: httpx.Request,
    ) -> httpx.Response:
        with self._lock:
            self._requests[registry] += 1
        own = Deadline.after(
            self.timeout, f"did not answer within {self.timeout:g}s", retriable=True
        )
        with within(own):
            try:
                if _expired():
                    raise _timed_out(registry, self._scan_deadline)
                streamed = client.send(request, stream=True)
                try:
                    body = _read_limited(registry, streamed)
                finally:
                    streamed.close()
            except httpx.TimeoutException:
                raise _timed_out(registry, self._scan_deadline) from None
            except httpx.TransportError as exc:
                reason = str(exc) or type(exc).__name__
                raise Unanswered(registry, f"cannot be reached: {reason}", retriable=True) from None
        response = httpx.Response(
            streamed.status_code, headers=streamed.headers, content=body, request=request
        )
        if response.status_code == 429:
            retry_after = _retry_after(response.headers.get("Retry-After"))
            if retry_after is not None and retry_after > self.max_retry_after:
                raise RateLimited(registry, retry_after, retriable=False)
            raise RateLimited(registry, retry_after)
        if response.status_code >= 500:
            raise RegistryError(registry, f"failed with {_status_text(response)}", retriable=True)
        return response

    def _retrying(self, registry: str, call: Callable[[], httpx.Response]) -> httpx.Response:
        """`call`, retried `retries` times with exponential backoff and jitter (or the wait
        a 429 asks for) on retriable errors, while the lookup's deadline allows."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return call()
            except RegistryError as exc:
                if not exc.retriable:
                    raise
                pause = self._pause(exc, attempt)
                deadline = current_deadline()
                out_of_time = deadline is not None and pause >= deadline.left()
                if attempt > self.retries or out_of_time:
                    if attempt == 1:
                        raise
                    kind = Unanswered if isinstance(exc, Unanswered) else RegistryError
                    raise kind(
                        registry, f"{_message(exc)} (gave up after {attempt} attempts)"
                    ) from None
            time.sleep(pause)

    def _pause(self, exc: RegistryError, attempt: int) -> float:
        if isinstance(exc, RateLimited) and exc.retry_after is not None:
            return exc.retry_after
        return min(self.backoff * 2 ** (attempt - 1), self.backoff * 16) + random.uniform(
            0, self.backoff
        )


@functools.cache
def _tls(verify: bool) -> ssl.SSLContext:
    # Building one reads the CA bundle (tens of ms): once per process, not once per scan.
    return httpx.create_ssl_context(verify=verify)


def _http_client(
    transport: httpx.BaseTransport | None, timeout: float, limits: httpx.Limits, *, verify: bool
) -> httpx.Client:
    # Tests pass a MockTransport; real requests go through one that keeps to deadlines.
    transport = transport or BoundedTransport(verify=_tls(verify), limits=limits)
    return httpx.Client(transport=transport, timeout=timeout, follow_redirects=True)


def _expired() -> bool:
    deadline = current_deadline()
    return deadline is not None and deadline.left() <= 0


def _timed_out(registry: str, scan: Deadline | None) -> RegistryError:
    """The error for the deadline that binds now: the request's, the lookup's or the scan's."""
    deadline = current_deadline()
    assert deadline is not None
    if deadline is scan:
        return ScanTimedOut(registry, deadline.message)
    return Unanswered(registry, deadline.message, retriable=deadline.retriable)


def _message(exc: RegistryError) -> str:
    return str(exc).removeprefix(f"registry {exc.registry}: ")


def _read_limited(registry: str, response: httpx.Response) -> bytes:
    # A garbage answer must not fill memory: nothing a registry says here exceeds 4 MiB.
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_MANIFEST_BYTES:
            raise RegistryError(registry, "answered more than 4 MiB where a manifest was expected")
        chunks.append(chunk)
    return b"".join(chunks)


def _basic_auth(credential: Credential) -> str:
    pair = f"{credential.username}:{credential.password.get_secret_value()}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = datetime.strptime(value, "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=UTC)
    except ValueError:
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
