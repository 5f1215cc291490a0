"""Docker image references, parsed and normalised the way Docker itself does.

A port of Go's github.com/distribution/reference (v0.6: the grammar of regexp.go,
`ParseNormalizedNamed` + `TagNameOnly` of normalize.go, `Parse` of reference.go) and of
the digest checks of github.com/opencontainers/go-digest, so that `nginx`,
`index.docker.io/library/nginx:latest` and `docker.io/library/nginx` all name the same image
here as they do for the Docker engine.

Where this module knowingly differs from `ParseNormalizedNamed` (each is a reference Docker
would accept but could never pull or check for updates):

* a bare digest such as `sha256:<64 hex>` is an image ID, not a repository; Docker's
  normaliser would read it as `docker.io/library/sha256` with tag `<64 hex>`;
* a first component with a `.` that is no valid hostname but is a valid path (`a_b.c/d`)
  gives Docker an empty registry; it is rejected here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Self

DOCKER_HUB: Final = "docker.io"

_LEGACY_HUB: Final = "index.docker.io"
_HUB_API_HOST: Final = "registry-1.docker.io"
_HUB_ALIASES: Final = frozenset({DOCKER_HUB, _LEGACY_HUB, _HUB_API_HOST})
_OFFICIAL_PREFIX: Final = "library/"
_DEFAULT_TAG: Final = "latest"
_LOCALHOST: Final = "localhost"
# Docker checks the path (without registry) since distribution/reference v0.6.0.
_MAX_PATH_LENGTH: Final = 255

# The grammar of distribution/reference's regexp.go, piece by piece. Character classes are
# spelled out because Go's \w and \d are ASCII-only and Python's are not; every pattern is
# used with fullmatch because Python's `$` also matches before a trailing newline.
_ALPHANUMERIC = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALPHANUMERIC}(?:{_SEPARATOR}{_ALPHANUMERIC})*"
_REMOTE_NAME = rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_DOMAIN_NAME_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_NAME_COMPONENT}(?:\.{_DOMAIN_NAME_COMPONENT})*"
_IPV6_ADDRESS = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN_AND_PORT = rf"(?:{_DOMAIN_NAME}|{_IPV6_ADDRESS})(?::[0-9]+)?"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_NAME = rf"(?:{_DOMAIN_AND_PORT}/)?{_REMOTE_NAME}"

_REFERENCE_RE = re.compile(rf"({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?")
_ANCHORED_NAME_RE = re.compile(rf"(?:({_DOMAIN_AND_PORT})/)?({_REMOTE_NAME})")
_IDENTIFIER_RE = re.compile(r"[a-f0-9]{64}")
_TAG_RE = re.compile(_TAG)
_DIGEST_RE = re.compile(_DIGEST)
_DOMAIN_AND_PORT_RE = re.compile(_DOMAIN_AND_PORT)
_PATH_COMPONENT_RE = re.compile(_PATH_COMPONENT)
# Every character that any part of the grammar accepts; anything else can never parse.
_ALLOWED_CHARS_RE = re.compile(r"[A-Za-z0-9._\-:/@\[\]+]*")
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")

# go-digest's registered algorithms (Docker links sha256 and sha512, which brings sha384)
# and the exact encoded length each demands; only lowercase hex is accepted.
_DIGEST_HEX_LENGTHS: Final = {"sha256": 64, "sha384": 96, "sha512": 128}


class InvalidReferenceError(ValueError):
    """An image reference Docker would refuse; the message names the text and the problem."""

    reference: str
    problem: str

    def __init__(self, reference: str, problem: str) -> None:
        super().__init__(f"invalid image reference {reference!r}: {problem}")
        self.reference = reference
        self.problem = problem

    def __reduce__(self) -> tuple[type[InvalidReferenceError], tuple[str, str]]:
        # The default reduce would replay only the message; Prefect pickles task errors.
        return type(self), (self.reference, self.problem)


@dataclass(frozen=True, slots=True)
class ImageReference:
    """A fully normalised image reference: `docker.io/library/nginx:latest`.

    Build one with `parse`; direct construction is checked against it, so every instance is
    in the form Docker itself would print.
    """

    registry: str
    """`docker.io` for Docker Hub, else the host[:port] as written (case kept, as Docker)."""
    repository: str
    """The path inside the registry: `library/nginx` for an official Hub image."""
    tag: str | None
    """None only when a digest was given without a tag (Docker adds `latest` otherwise)."""
    digest: str | None
    """`sha256:<64 hex>` (or sha384 / sha512) when the reference is pinned."""

    def __post_init__(self) -> None:
        text = self._compose()
        try:
            parsed = type(self).parse(text)
        except InvalidReferenceError as error:
            raise InvalidReferenceError(text, error.problem) from None
        if parsed != self:
            raise InvalidReferenceError(text, f"not in normalised form, which is {parsed}")

    @classmethod
    def parse(cls, text: str) -> Self:
        """The normalised reference for `text`, as `docker pull text` would resolve it.

        `nginx` -> `docker.io/library/nginx:latest`; `nginx@sha256:...` keeps no tag;
        `name:tag@sha256:...` keeps both. Raises InvalidReferenceError for anything else.
        """
        if not isinstance(text, str):
            raise InvalidReferenceError(str(text), f"expected a string, not {type(text).__name__}")
        _precheck(text)
        domain, remainder = _split_docker_domain(text)
        # ParseNormalizedNamed tests everything before the first ':' (so also a digest's
        # algorithm when there is no tag) before it looks at the grammar.
        remote = remainder.partition(":")[0]
        if remote.lower() != remote:
            raise InvalidReferenceError(text, "repository name must be lowercase")
        candidate = f"{domain}/{remainder}"
        match = _REFERENCE_RE.fullmatch(candidate)
        if match is None:
            lowered = candidate.lower()
            if lowered != candidate and _REFERENCE_RE.fullmatch(lowered):
                raise InvalidReferenceError(text, "repository name must be lowercase")
            raise InvalidReferenceError(text, _diagnose(domain, remainder))
        name, tag, digest = match.groups()
        name_match = _ANCHORED_NAME_RE.fullmatch(name)
        assert name_match is not None  # the name already matched the same grammar
        registry, repository = name_match.group(1) or "", name_match.group(2)
        if len(repository) > _MAX_PATH_LENGTH:
            raise InvalidReferenceError(
                text, f"repository name must not be more than {_MAX_PATH_LENGTH} characters"
            )
        if digest is not None and (problem := _digest_problem(digest)) is not None:
            raise InvalidReferenceError(text, problem)
        if not registry:
            raise InvalidReferenceError(text, f"registry host {domain!r} is not a valid hostname")
        if tag is None and digest is None:
            tag = _DEFAULT_TAG
        return cls._make(registry, repository, tag, digest)

    @classmethod
    def _make(cls, registry: str, repository: str, tag: str | None, digest: str | None) -> Self:
        # Bypasses __post_init__, which itself calls parse; callers have validated the parts.
        made = object.__new__(cls)
        object.__setattr__(made, "registry", registry)
        object.__setattr__(made, "repository", repository)
        object.__setattr__(made, "tag", tag)
        object.__setattr__(made, "digest", digest)
        return made

    @property
    def name(self) -> str:
        """`registry/repository`: `docker.io/library/nginx`."""
        return f"{self.registry}/{self.repository}"

    @property
    def familiar_name(self) -> str:
        """The name as the Docker CLI shows it: `nginx`, `user/app`, `host:5000/a/b`.

        Like Docker's FamiliarName this is ambiguous when a Hub path starts with something
        host-like (`docker.io/localhost/app` -> `localhost/app`).
        """
        if self.registry != DOCKER_HUB:
            return self.name
        official = self.repository.removeprefix(_OFFICIAL_PREFIX)
        if official != self.repository and "/" not in official:
            return official
        return self.repository

    @property
    def pinned(self) -> bool:
        """Whether a digest fixes the image content."""
        return self.digest is not None

    @property
    def tagged_ref(self) -> str:
        """`name:tag` without any digest, or `name@digest` when there is no tag."""
        if self.tag is not None:
            return f"{self.name}:{self.tag}"
        return f"{self.name}@{self.digest}"

    @property
    def manifest_reference(self) -> str:
        """The `<reference>` of `/v2/<name>/manifests/<reference>`: the tag, else the digest."""
        reference = self.tag if self.tag is not None else self.digest
        assert reference is not None  # every instance has a tag or a digest
        return reference

    def with_digest(self, digest: str) -> Self:
        """The same name and tag pinned to `digest`; InvalidReferenceError if it is malformed."""
        if not isinstance(digest, str):
            problem: str | None = f"digest must be a string, not {type(digest).__name__}"
        else:
            problem = _digest_problem(digest)
        if problem is not None:
            raise InvalidReferenceError(f"{self.tagged_ref}@{digest}", problem)
        return self._make(self.registry, self.repository, self.tag, digest)

    def _compose(self) -> str:
        text = self.name
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text

    def __str__(self) -> str:
        return self._compose()


def canonical_registry(host: str) -> str:
    """The registry a credential or config key names, so keys written any way match.

    Docker Hub's aliases (`docker.io`, `index.docker.io`, `registry-1.docker.io`, and
    `https://index.docker.io/v1/` as ~/.docker/config.json has it) give `docker.io`; other
    hosts lose scheme and path (`https://ghcr.io/v2/` -> `ghcr.io`) and are lowercased,
    as host names are case-insensitive.
    """
    stripped = host.strip()
    if scheme := _SCHEME_RE.match(stripped):
        stripped = stripped[scheme.end() :]
    hostname = stripped.partition("/")[0].lower()
    return DOCKER_HUB if hostname in _HUB_ALIASES else hostname


def registry_api_host(registry: str) -> str:
    """The host that serves the registry API: Docker Hub's is `registry-1.docker.io`."""
    return _HUB_API_HOST if canonical_registry(registry) == DOCKER_HUB else registry


def _precheck(text: str) -> None:
    """Refuse early what can never parse, with a plainer message than the grammar gives."""
    if not text:
        raise InvalidReferenceError(text, "reference is empty")
    if any(char.isspace() for char in text):
        raise InvalidReferenceError(text, "reference must not contain whitespace")
    if not _ALLOWED_CHARS_RE.fullmatch(text):
        bad = next(char for char in text if not _ALLOWED_CHARS_RE.fullmatch(char))
        raise InvalidReferenceError(text, f"character {bad!r} is not allowed")
    if _IDENTIFIER_RE.fullmatch(text):
        # Docker's own rule: a bare image ID must never pass for a repository name.
        raise InvalidReferenceError(
            text, "invalid repository name, cannot specify 64-byte hexadecimal strings"
        )
    if _DIGEST_RE.fullmatch(text) and _digest_problem(text) is None:
        raise InvalidReferenceError(text, "a digest alone names no repository (an image ID?)")


def _split_docker_domain(name: str) -> tuple[str, str]:
    """normalize.go's splitDockerDomain: the registry Docker assumes, and the rest."""
    maybe_domain, slash, maybe_remote = name.partition("/")
    if not slash:
        # A single component is always an official Hub image, even `localhost:5000`.
        return DOCKER_HUB, _OFFICIAL_PREFIX + name
    if maybe_domain == _LOCALHOST:
        domain, remote = maybe_domain, maybe_remote
    elif maybe_domain == _LEGACY_HUB:
        domain, remote = DOCKER_HUB, maybe_remote
    elif "." in maybe_domain or ":" in maybe_domain:
        domain, remote = maybe_domain, maybe_remote
    elif maybe_domain.lower() != maybe_domain:
        # Namespaces are lowercase, so an uppercase first component must be a host.
        domain, remote = maybe_domain, maybe_remote
    else:
        domain, remote = DOCKER_HUB, name
    if domain == DOCKER_HUB and "/" not in remote:
        remote = _OFFICIAL_PREFIX + remote
    return domain, remote


def _digest_problem(digest: str) -> str | None:
    """What go-digest's Parse (after the grammar) finds wrong with `digest`, or None."""
    algorithm, _, encoded = digest.partition(":")
    length = _DIGEST_HEX_LENGTHS.get(algorithm)
    if length is not None:
        if len(encoded) == length and all(char in "0123456789abcdef" for char in encoded):
            return None
        return f"{algorithm} digest must be {length} lowercase hexadecimal characters"
    if not _DIGEST_RE.fullmatch(digest):
        return f"invalid digest {digest!r}: expected <algorithm>:<hex>, as sha256:<64 hex>"
    return f"unsupported digest algorithm {algorithm!r} (Docker knows sha256, sha384, sha512)"


def _diagnose(domain: str, remainder: str) -> str:
    """Name the part of a reference that breaks the grammar (only for the error message)."""
    name, at, digest = remainder.partition("@")
    if at:
        if not digest:
            return "digest after '@' is empty"
        if (problem := _digest_problem(digest)) is not None:
            return problem
    path, colon, tag = name.partition(":")
    if colon:
        if not tag:
            return "tag after ':' is empty"
        if len(tag) > 128:
            return "tag must not be more than 128 characters"
        if not _TAG_RE.fullmatch(tag):
            return (
                f"invalid tag {tag!r}: letters, digits, '_', '.' and '-', "
                "not starting with '.' or '-'"
            )
    if not _DOMAIN_AND_PORT_RE.fullmatch(domain) and not _PATH_COMPONENT_RE.fullmatch(domain):
        return f"invalid registry host {domain!r}"
    if domain == DOCKER_HUB and path.startswith(_OFFICIAL_PREFIX):
        official = path.removeprefix(_OFFICIAL_PREFIX)
        # Undo the `library/` that normalising added, to describe what was written.
        path = official if "/" not in official else path
    if not path:
        return "repository name is empty"
    for component in path.split("/"):
        if not component:
            return "repository path has an empty component (a leading, trailing or double '/')"
        if not _PATH_COMPONENT_RE.fullmatch(component):
            return (
                f"invalid repository path component {component!r}: lowercase letters and "
                "digits, separated by one '.', one or two '_', or dashes"
            )
    return "invalid reference format"
