"""Image references: table cases ported from distribution/reference's Go tests
(normalize_test.go, reference_test.go, regexp_test.go) plus hypothesis properties."""

from __future__ import annotations

import pickle
import re

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from watchdocker.reference import (
    DOCKER_HUB,
    ImageReference,
    InvalidReferenceError,
    canonical_registry,
    registry_api_host,
)

H = "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c"
D = f"sha256:{H}"
F64 = "f" * 64


def _bad(text: str) -> InvalidReferenceError:
    with pytest.raises(InvalidReferenceError) as caught:
        ImageReference.parse(text)
    return caught.value


# --- normalisation: input -> str(parse(input)) -------------------------------------------

NORMALISED = [
    # normalize_test.go TestValidateReferenceName (valid) and TestParseDockerRef.
    ("docker/docker", "docker.io/docker/docker:latest"),
    ("library/debian", "docker.io/library/debian:latest"),
    ("debian", "docker.io/library/debian:latest"),
    ("docker.io/docker/docker", "docker.io/docker/docker:latest"),
    ("docker.io/library/debian", "docker.io/library/debian:latest"),
    ("docker.io/debian", "docker.io/library/debian:latest"),
    ("index.docker.io/docker/docker", "docker.io/docker/docker:latest"),
    ("index.docker.io/library/debian", "docker.io/library/debian:latest"),
    ("index.docker.io/debian", "docker.io/library/debian:latest"),
    ("127.0.0.1:5000/docker/docker", "127.0.0.1:5000/docker/docker:latest"),
    ("127.0.0.1:5000/library/debian", "127.0.0.1:5000/library/debian:latest"),
    ("127.0.0.1:5000/debian", "127.0.0.1:5000/debian:latest"),
    ("192.168.0.1", "docker.io/library/192.168.0.1:latest"),
    ("192.168.0.1:80", "docker.io/library/192.168.0.1:80"),
    ("192.168.0.1:8/debian", "192.168.0.1:8/debian:latest"),
    ("192.168.0.2:25000/debian", "192.168.0.2:25000/debian:latest"),
    (
        "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
        "docker.io/library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev:latest",
    ),
    ("[fc00::1]:5000/docker", "[fc00::1]:5000/docker:latest"),
    ("[fc00::1]:5000/docker/docker", "[fc00::1]:5000/docker/docker:latest"),
    ("[fc00:1:2:3:4:5:6:7]:5000/library/debian", "[fc00:1:2:3:4:5:6:7]:5000/library/debian:latest"),
    # With a host in front a 64-hex name is no longer ambiguous with an image ID.
    (
        "docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
        "docker.io/library/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a:latest",
    ),
    # An uppercase first component can only be a host (namespaces are lowercase).
    ("Docker/docker", "Docker/docker:latest"),
    ("DOCKER/docker", "DOCKER/docker:latest"),
    # TestValidateRemoteName (valid).
    ("docker-rules/docker", "docker.io/docker-rules/docker:latest"),
    ("docker---rules/docker", "docker.io/docker---rules/docker:latest"),
    ("doc/docker", "docker.io/doc/docker:latest"),
    ("d/docker", "docker.io/d/docker:latest"),
    ("jess/t", "docker.io/jess/t:latest"),
    ("dock__er/docker", "docker.io/dock__er/docker:latest"),
    # TestParseAnyReference (the named cases).
    ("redis", "docker.io/library/redis:latest"),
    ("redis:latest", "docker.io/library/redis:latest"),
    (f"redis@{D}", f"docker.io/library/redis@{D}"),
    (f"docker.io/library/redis@{D}", f"docker.io/library/redis@{D}"),
    ("dmcgowan/myapp", "docker.io/dmcgowan/myapp:latest"),
    ("docker.io/mcgowan/myapp:latest", "docker.io/mcgowan/myapp:latest"),
    (f"dmcgowan/myapp@{D}", f"docker.io/dmcgowan/myapp@{D}"),
    (H[:-1], f"docker.io/library/{H[:-1]}:latest"),
    ("dbcc1", "docker.io/library/dbcc1:latest"),
    # TestParseDockerRef; both tag and digest are kept (ParseNormalizedNamed, not ParseDockerRef).
    ("gcr.io/library/busybox", "gcr.io/library/busybox:latest"),
    (f"gcr.io/library/busybox:latest@{D}", f"gcr.io/library/busybox:latest@{D}"),
    (f"busybox:latest@{D}", f"docker.io/library/busybox:latest@{D}"),
    # reference_test.go TestReferenceParse, normalised.
    ("test_com", "docker.io/library/test_com:latest"),
    ("test.com:tag", "docker.io/library/test.com:tag"),
    ("test.com:5000", "docker.io/library/test.com:5000"),
    ("test.com/repo:tag", "test.com/repo:tag"),
    ("test:5000/repo", "test:5000/repo:latest"),
    ("test:5000/repo:tag", "test:5000/repo:tag"),
    (f"test:5000/repo@sha256:{F64}", f"test:5000/repo@sha256:{F64}"),
    (f"test:5000/repo:tag@sha256:{F64}", f"test:5000/repo:tag@sha256:{F64}"),
    ("lowercase:Uppercase", "docker.io/library/lowercase:Uppercase"),
    ("sub-dom1.foo.com/bar/baz/quux", "sub-dom1.foo.com/bar/baz/quux:latest"),
    ("sub-dom1.foo.com/bar/baz/quux:some-long-tag", "sub-dom1.foo.com/bar/baz/quux:some-long-tag"),
    (
        "b.gcr.io/test.example.com/my-app:test.example.com",
        "b.gcr.io/test.example.com/my-app:test.example.com",
    ),
    ("xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com/myimage:xn--n3h.com"),
    (
        f"xn--7o8h.com/myimage:xn--7o8h.com@sha512:{'f' * 128}",
        f"xn--7o8h.com/myimage:xn--7o8h.com@sha512:{'f' * 128}",
    ),
    ("foo_bar.com:8080", "docker.io/library/foo_bar.com:8080"),
    ("foo/foo_bar.com:8080", "docker.io/foo/foo_bar.com:8080"),
    ("192.168.1.1", "docker.io/library/192.168.1.1:latest"),
    ("192.168.1.1:tag", "docker.io/library/192.168.1.1:tag"),
    ("192.168.1.1/repo", "192.168.1.1/repo:latest"),
    ("192.168.1.1:5000/repo:5050", "192.168.1.1:5000/repo:5050"),
    ("[2001:db8::1]/repo", "[2001:db8::1]/repo:latest"),
    ("[2001:db8:1:2:3:4:5:6]/repo:tag", "[2001:db8:1:2:3:4:5:6]/repo:tag"),
    ("[2001:db8::1]:5000/repo", "[2001:db8::1]:5000/repo:latest"),
    (f"[2001:db8::1]:5000/repo:tag@sha256:{F64}", f"[2001:db8::1]:5000/repo:tag@sha256:{F64}"),
    ("[2001:db8::]:5000/repo", "[2001:db8::]:5000/repo:latest"),
    ("[::1]:5000/repo", "[::1]:5000/repo:latest"),
    # regexp_test.go: hosts and separators.
    ("Asdf.com/foo/bar", "Asdf.com/foo/bar:latest"),
    ("192.168.1.1:75050/foo", "192.168.1.1:75050/foo:latest"),  # no port range check
    ("[fd00123123123]:75050/foo", "[fd00123123123]:75050/foo:latest"),
    ("localhost/foo", "localhost/foo:latest"),
    ("localhost:8080/bar", "localhost:8080/bar:latest"),
    (f"localhost:8080/name@{D}", f"localhost:8080/name@{D}"),
    # A lone `localhost[:port]` is an official Hub image: Docker's own FIXME.
    (f"localhost:8080@{D}", f"docker.io/library/localhost:8080@{D}"),
    (f"localhost@{D}", f"docker.io/library/localhost@{D}"),
    ("aa-a/a", "docker.io/aa-a/a:latest"),
    ("do__cker/docker", "docker.io/do__cker/docker:latest"),
    (
        "example.com/some_separator__underscore/myimage",
        "example.com/some_separator__underscore/myimage:latest",
    ),
    (
        "registry.io/foo/project--id.module--name.ver---sion--name",
        "registry.io/foo/project--id.module--name.ver---sion--name:latest",
    ),
    ("a/a/a/a", "docker.io/a/a/a/a:latest"),
    ("docker.io/library/foo/bar", "docker.io/library/foo/bar:latest"),
    # Only index.docker.io is an alias Docker folds; the API host stays a host of its own.
    ("registry-1.docker.io/nginx", "registry-1.docker.io/nginx:latest"),
    # Tags: the grammar is [\w][\w.-]{0,127}.
    ("nginx:_x", "docker.io/library/nginx:_x"),
    ("nginx:V1.2.3-rc_1", "docker.io/library/nginx:V1.2.3-rc_1"),
    ("nginx:" + "t" * 128, "docker.io/library/nginx:" + "t" * 128),
    # Digests: sha256, sha384 and sha512, lowercase hex of the exact length.
    (f"nginx@sha384:{'e' * 96}", f"docker.io/library/nginx@sha384:{'e' * 96}"),
]


@pytest.mark.parametrize(("text", "expected"), NORMALISED)
def test_normalises_like_docker(text: str, expected: str) -> None:
    ref = ImageReference.parse(text)
    assert str(ref) == expected
    assert ImageReference.parse(expected) == ref


# --- rejection: input -> a fragment of the problem ---------------------------------------

INVALID = [
    # normalize_test.go TestValidateReferenceName / TestValidateRemoteName (invalid).
    ("https://github.com/docker/docker", "invalid registry host 'https:'"),
    ("docker/Docker", "must be lowercase"),
    ("-docker", "invalid repository path component '-docker'"),
    ("-docker/docker", "'-docker'"),
    ("-docker.io/docker/docker", "invalid registry host '-docker.io'"),
    ("docker///docker", "empty component"),
    ("docker.io/docker/Docker", "must be lowercase"),
    ("docker.io/docker///docker", "empty component"),
    ("[fc00::1]", ""),
    ("[fc00::1]:5000", ""),
    ("fc00::1:5000/debian", "invalid registry host 'fc00::1:5000'"),
    ("[fe80::1%eth0]:5000/debian", "character '%' is not allowed"),
    ("[2001:db8:3:4::192.0.2.33]:5000/debian", "invalid registry host"),
    (H, "cannot specify 64-byte hexadecimal strings"),
    ("docker-/docker", "'docker-'"),
    ("-docker-/docker", "'-docker-'"),
    ("____/____", "'____'"),
    ("_docker/_docker", "'_docker'"),
    ("dock..er/docker", "'dock..er'"),
    ("dock_.er/docker", "'dock_.er'"),
    ("dock-.er/docker", "'dock-.er'"),
    ("docker/", "empty component"),
    ("x" * 250 + "/docker", "must not be more than 255 characters"),
    ("-foo", "'-foo'"),
    # reference_test.go TestReferenceParse (errors).
    ("", "reference is empty"),
    (":justtag", "repository name is empty"),
    (f"@sha256:{F64}", "repository name is empty"),
    ("repo@sha256:" + "f" * 34, "sha256 digest must be 64 lowercase hexadecimal characters"),
    (f"validname@invaliddigest:{F64}", "unsupported digest algorithm 'invaliddigest'"),
    ("Uppercase:tag", "must be lowercase"),
    ("test:5000/Uppercase/lowercase:tag", "must be lowercase"),
    ("aa/asdf$$^/aa", "character '$' is not allowed"),
    ("[2001:db8::1]", ""),
    ("[2001:db8::1]:5000", ""),
    ("[2001:db8::1]:tag", ""),
    ("[fe80::1%@invalidzone]:5000/repo", "character '%' is not allowed"),
    # regexp_test.go (no match).
    ("test.com:http/foo", "invalid registry host 'test.com:http'"),
    ("ab-.com/foo", "invalid registry host 'ab-.com'"),
    ("ab.-com/foo", "invalid registry host"),
    ("[fd00:1:2::3]75050/foo", "invalid registry host"),
    ("[fd00:1:2::3]::75050/foo", "invalid registry host"),
    ("a/a/a/a/", "empty component"),
    ("a//a/a", "empty component"),
    ("foo.com/", "repository name is empty"),
    ("foo/bar-", "'bar-'"),
    ("foo/-bar", "'-bar'"),
    ("foo_bar.com:8080/app", "invalid registry host 'foo_bar.com:8080'"),
    ("docker_/docker_", "'docker_'"),
    ("example.com/__underscore/myimage", "'__underscore'"),
    ("example.com/..dots/myimage", "'..dots'"),
    ("example.com/.dots/myimage", "'.dots'"),
    ("example.com/nodouble..dots/myimage", "'nodouble..dots'"),
    ("docker./docker", "invalid registry host 'docker.'"),
    (".docker/docker", "invalid registry host '.docker'"),
    ("do..cker/docker", "'do..cker'"),
    ("do__cker:8080/docker", "invalid registry host 'do__cker:8080'"),
    ("Foo/FarB", "must be lowercase"),
    ("registry.com:8080/myapp@sha256:badbadbadbad", "sha256 digest must be 64"),
    ("registry.com:8080/myapp:invalid~tag", "character '~' is not allowed"),
    ("bad_hostname.com:8080/myapp:tag", "invalid registry host 'bad_hostname.com:8080'"),
    (f"localhost:http/name@{D}", "invalid registry host 'localhost:http'"),
    ("registry.com:8080/myapp@bad", "invalid digest 'bad'"),
    ("registry.com:8080/myapp@2bad", "invalid digest '2bad'"),
    # regexp_test.go TestIdentifierRegexp: uppercase hex is no ID, but no valid name either.
    (H.upper(), "must be lowercase"),
    # Whitespace and stray characters: Docker trims nothing.
    (" nginx", "must not contain whitespace"),
    ("nginx ", "must not contain whitespace"),
    ("nginx\n", "must not contain whitespace"),
    ("ngin\tx", "must not contain whitespace"),
    ("nginx:lat est", "must not contain whitespace"),
    ("ñginx", "character 'ñ' is not allowed"),
    # Trailing separators and empty parts.
    ("nginx:", "tag after ':' is empty"),
    ("nginx@", "digest after '@' is empty"),
    ("nginx:latest@", "digest after '@' is empty"),
    ("ghcr.io/a/b:", "tag after ':' is empty"),
    ("/nginx", "empty component"),
    ("//nginx", ""),
    ("ghcr.io//nginx", "empty component"),
    ("ghcr.io/", "repository name is empty"),
    (":", ""),
    ("@", ""),
    ("/", ""),
    # Tags.
    ("nginx:.x", "invalid tag '.x'"),
    ("nginx:-x", "invalid tag '-x'"),
    ("nginx:" + "t" * 129, "tag must not be more than 128 characters"),
    ("nginx:a:b", "invalid tag 'a:b'"),
    ("nginx:a/b", "invalid registry host 'nginx:a'"),  # a ':' before any '/' makes a host
    # Digests.
    (f"nginx@sha256:{H.upper()}", "sha256 digest must be 64 lowercase hexadecimal characters"),
    (f"nginx@sha256:{H}0", "sha256 digest must be 64"),
    (f"nginx@sha256:{H[:-1]}", "sha256 digest must be 64"),
    (f"nginx@sha512:{H}", "sha512 digest must be 128"),
    ("nginx@md5:" + "a" * 32, "unsupported digest algorithm 'md5'"),
    ("nginx@sha256:" + "a" * 31, "sha256 digest must be 64"),
    (f"nginx@sha256:{H}@sha256:{H}", ""),
    (f"nginx@SHA256:{H}", "must be lowercase"),
    (f"nginx@{H}", "invalid digest"),
    # A digest alone is an image ID, not a repository (Docker would read `library/sha256`).
    (D, "a digest alone names no repository"),
    (f"sha512:{'f' * 128}", "a digest alone names no repository"),
    # Docker takes `a_b.c` for a host, then its grammar for a path: no registry at all.
    ("a_b.c/d", "registry host 'a_b.c' is not a valid hostname"),
]


@pytest.mark.parametrize(("text", "problem"), INVALID)
def test_rejects_like_docker(text: str, problem: str) -> None:
    error = _bad(text)
    assert problem in error.problem
    assert error.reference == text
    assert str(error) == f"invalid image reference {text!r}: {error.problem}"


def test_error_message_names_reference_and_problem() -> None:
    error = _bad("Nginx:latest")
    assert str(error) == "invalid image reference 'Nginx:latest': repository name must be lowercase"
    assert isinstance(error, ValueError)
    assert (error.reference, error.problem) == ("Nginx:latest", "repository name must be lowercase")


def test_error_survives_pickling() -> None:
    error = _bad("nginx:")
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), str(copy), copy.reference, copy.problem) == (
        InvalidReferenceError,
        str(error),
        error.reference,
        error.problem,
    )


@pytest.mark.parametrize("value", [None, 5, b"nginx", ["nginx"]])
def test_non_string_is_an_invalid_reference(value: object) -> None:
    with pytest.raises(InvalidReferenceError, match="expected a string"):
        ImageReference.parse(value)  # type: ignore[arg-type]


# --- length limit: 255 characters of path, registry not counted (distribution/reference v0.6)


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("a" * 247, True),  # library/ + 247 = 255
        ("a" * 248, False),
        ("ghcr.io/" + "a" * 255, True),
        ("ghcr.io/" + "a" * 256, False),
        ("a/" * 127 + "a", True),
        ("a/" * 128 + "a", False),
        ("a/" * 127 + "a:tag-puts-this-over-max", True),  # the tag does not count
        ("localhost:5000/" + "b/" * 127 + "b", True),
    ],
)
def test_path_length_limit(text: str, ok: bool) -> None:
    if ok:
        assert len(ImageReference.parse(text).repository) <= 255
    else:
        assert "must not be more than 255 characters" in _bad(text).problem


# --- registry / repository split (TestNormalizedSplitHostname, TestParseRepositoryInfo) --


@pytest.mark.parametrize(
    ("text", "registry", "repository"),
    [
        ("test.com/foo", "test.com", "foo"),
        ("test_com/foo", DOCKER_HUB, "test_com/foo"),
        ("docker/migrator", DOCKER_HUB, "docker/migrator"),
        ("test.com:8080/foo", "test.com:8080", "foo"),
        ("test-com:8080/foo", "test-com:8080", "foo"),
        ("foo", DOCKER_HUB, "library/foo"),
        ("xn--n3h.com/foo", "xn--n3h.com", "foo"),
        ("xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo"),
        ("docker.io/foo", DOCKER_HUB, "library/foo"),
        ("docker.io/library/foo", DOCKER_HUB, "library/foo"),
        ("docker.io/library/foo/bar", DOCKER_HUB, "library/foo/bar"),
        ("localhost/foo", "localhost", "foo"),
        ("localhost:5000/foo", "localhost:5000", "foo"),
        ("[::1]:5000/a", "[::1]:5000", "a"),
        ("[::1]/a/b", "[::1]", "a/b"),
        ("Foo/bar", "Foo", "bar"),
        ("GHCR.IO/a/b", "GHCR.IO", "a/b"),  # Docker keeps the host as written
        ("index.docker.io/a/b", DOCKER_HUB, "a/b"),
    ],
)
def test_registry_and_repository(text: str, registry: str, repository: str) -> None:
    ref = ImageReference.parse(text)
    assert (ref.registry, ref.repository, ref.name) == (
        registry,
        repository,
        f"{registry}/{repository}",
    )


REPOSITORY_INFO = [
    # (repository, familiar name, full name, another spelling, registry)
    ("fooo/bar", "fooo/bar", "docker.io/fooo/bar", "index.docker.io/fooo/bar", DOCKER_HUB),
    ("library/ubuntu", "ubuntu", "docker.io/library/ubuntu", "library/ubuntu", DOCKER_HUB),
    ("nonlibrary/ubuntu", "nonlibrary/ubuntu", "docker.io/nonlibrary/ubuntu", None, DOCKER_HUB),
    ("other/library", "other/library", "docker.io/other/library", None, DOCKER_HUB),
    (
        "private/moonbase",
        "127.0.0.1:8000/private/moonbase",
        "127.0.0.1:8000/private/moonbase",
        None,
        "127.0.0.1:8000",
    ),
    (
        "privatebase",
        "127.0.0.1:8000/privatebase",
        "127.0.0.1:8000/privatebase",
        None,
        "127.0.0.1:8000",
    ),
    (
        "private/moonbase",
        "example.com/private/moonbase",
        "example.com/private/moonbase",
        None,
        "example.com",
    ),
    ("privatebase", "example.com/privatebase", "example.com/privatebase", None, "example.com"),
    (
        "private/moonbase",
        "example.com:8000/private/moonbase",
        "example.com:8000/private/moonbase",
        None,
        "example.com:8000",
    ),
    (
        "privatebasee",
        "example.com:8000/privatebasee",
        "example.com:8000/privatebasee",
        None,
        "example.com:8000",
    ),
    (
        "library/ubuntu-12.04-base",
        "ubuntu-12.04-base",
        "docker.io/library/ubuntu-12.04-base",
        "index.docker.io/library/ubuntu-12.04-base",
        DOCKER_HUB,
    ),
    ("library/foo", "foo", "docker.io/library/foo", "docker.io/foo", DOCKER_HUB),
    ("library/foo/bar", "library/foo/bar", "docker.io/library/foo/bar", None, DOCKER_HUB),
    ("store/foo/bar", "store/foo/bar", "docker.io/store/foo/bar", None, DOCKER_HUB),
    ("bar", "Foo/bar", "Foo/bar", None, "Foo"),
    ("bar", "FOO/bar", "FOO/bar", None, "FOO"),
]


@pytest.mark.parametrize(("repository", "familiar", "full", "other", "registry"), REPOSITORY_INFO)
def test_repository_info(
    repository: str, familiar: str, full: str, other: str | None, registry: str
) -> None:
    for text in filter(None, (familiar, full, other)):
        ref = ImageReference.parse(text)
        assert ref.repository == repository
        assert ref.familiar_name == familiar
        assert ref.name == full
        assert ref.registry == registry


def test_familiar_name_is_as_ambiguous_as_dockers() -> None:
    # FamiliarName drops docker.io even where the rest then reads as a host.
    ref = ImageReference.parse("docker.io/localhost/app")
    assert ref.familiar_name == "localhost/app"
    assert ImageReference.parse(ref.familiar_name).registry == "localhost"


# --- the other members ---------------------------------------------------------------------


def test_tag_and_digest_members() -> None:
    tagged = ImageReference.parse("nginx")
    assert (tagged.tag, tagged.digest, tagged.pinned) == ("latest", None, False)
    assert tagged.tagged_ref == "docker.io/library/nginx:latest"
    assert tagged.manifest_reference == "latest"

    digested = ImageReference.parse(f"nginx@{D}")
    assert (digested.tag, digested.digest, digested.pinned) == (None, D, True)
    assert digested.tagged_ref == f"docker.io/library/nginx@{D}"
    assert digested.manifest_reference == D

    both = ImageReference.parse(f"host:5000/a/b:t@{D}")
    assert (both.tag, both.digest, both.pinned) == ("t", D, True)
    assert str(both) == f"host:5000/a/b:t@{D}"
    assert both.tagged_ref == "host:5000/a/b:t"
    assert both.manifest_reference == "t"
    assert both.familiar_name == "host:5000/a/b"


def test_with_digest() -> None:
    ref = ImageReference.parse("user/app:1.2")
    pinned = ref.with_digest(D)
    assert str(pinned) == f"docker.io/user/app:1.2@{D}"
    assert pinned.pinned and not ref.pinned
    assert ref.with_digest(D).with_digest(f"sha256:{F64}").digest == f"sha256:{F64}"
    untagged = ImageReference.parse(f"user/app@sha256:{F64}").with_digest(D)
    assert (untagged.tag, untagged.digest) == (None, D)


@pytest.mark.parametrize(
    "digest", ["", "sha256:", H, f"sha256:{H.upper()}", "md5:" + "a" * 32, f"sha256:{H} ", None]
)
def test_with_digest_rejects_malformed(digest: str) -> None:
    with pytest.raises(InvalidReferenceError):
        ImageReference.parse("nginx").with_digest(digest)


def test_is_a_frozen_hashable_value() -> None:
    a = ImageReference.parse("nginx")
    b = ImageReference.parse("index.docker.io/library/nginx:latest")
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    with pytest.raises(AttributeError):
        a.tag = "1"  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(a)) == a


def test_direct_construction_must_be_normalised() -> None:
    assert ImageReference("docker.io", "library/nginx", "latest", None) == ImageReference.parse(
        "nginx"
    )
    assert ImageReference("ghcr.io", "a/b", None, D).pinned
    for registry, repository, tag, digest in [
        ("docker.io", "nginx", "latest", None),  # needs library/
        ("index.docker.io", "library/nginx", "latest", None),  # alias not folded
        ("docker.io", "library/nginx", None, None),  # neither tag nor digest
        ("docker.io", "library/Nginx", "latest", None),
        ("docker.io", "library/nginx", "", None),
        ("", "nginx", "latest", None),
        ("ghcr.io", "a/b", "latest", "sha256:abc"),
    ]:
        with pytest.raises(InvalidReferenceError):
            ImageReference(registry, repository, tag, digest)


# --- registry hosts ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "canonical"),
    [
        ("docker.io", DOCKER_HUB),
        ("index.docker.io", DOCKER_HUB),
        ("registry-1.docker.io", DOCKER_HUB),
        ("https://index.docker.io/v1/", DOCKER_HUB),
        ("http://index.docker.io/v1/", DOCKER_HUB),
        ("https://registry-1.docker.io/v2/", DOCKER_HUB),
        ("Docker.IO", DOCKER_HUB),
        ("ghcr.io", "ghcr.io"),
        ("https://ghcr.io", "ghcr.io"),
        ("https://ghcr.io/v2/", "ghcr.io"),
        ("GHCR.io", "ghcr.io"),
        ("localhost:5000", "localhost:5000"),
        ("http://localhost:5000/", "localhost:5000"),
        ("oci://[::1]:5000/v2", "[::1]:5000"),
        (" quay.io ", "quay.io"),
    ],
)
def test_canonical_registry(host: str, canonical: str) -> None:
    assert canonical_registry(host) == canonical


def test_credentials_keyed_any_way_match_the_parsed_registry() -> None:
    ref = ImageReference.parse("nginx")
    assert canonical_registry("https://index.docker.io/v1/") == canonical_registry(ref.registry)


@pytest.mark.parametrize(
    ("registry", "api_host"),
    [
        ("docker.io", "registry-1.docker.io"),
        ("index.docker.io", "registry-1.docker.io"),
        ("registry-1.docker.io", "registry-1.docker.io"),
        ("ghcr.io", "ghcr.io"),
        ("localhost:5000", "localhost:5000"),
        ("[::1]:5000", "[::1]:5000"),
    ],
)
def test_registry_api_host(registry: str, api_host: str) -> None:
    assert registry_api_host(registry) == api_host


# --- properties ----------------------------------------------------------------------------

_REFERENCE_CHARS = "abcxyz019ABZ._-:/@[]+%é \n"


def _parse_or_error(text: str) -> ImageReference | InvalidReferenceError:
    try:
        return ImageReference.parse(text)
    except InvalidReferenceError as error:
        return error


@settings(max_examples=300)
@given(st.text() | st.text(alphabet=_REFERENCE_CHARS, max_size=30))
def test_any_text_parses_or_raises_invalid_reference(text: str) -> None:
    result = _parse_or_error(text)  # any other exception fails the test
    if isinstance(result, InvalidReferenceError):
        assert result.reference == text and result.problem
        return
    assert ImageReference.parse(str(result)) == result
    assert re.fullmatch(r"[a-z0-9._/-]+", result.repository)
    assert result.tag is not None or result.digest is not None


# Strategies are built from text() rather than from_regex(), which is slower to draw.
_ALNUM = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=6)
_SEPARATORS = st.sampled_from([".", "_", "__", "-", "--", "---"])
_PATH_COMPONENTS = st.builds(
    lambda first, rest: first + "".join(sep + part for sep, part in rest),
    _ALNUM,
    st.lists(st.tuples(_SEPARATORS, _ALNUM), max_size=3),
)
_HOST_CHARS = "abcxyzABCXYZ0189"
_DOMAIN_COMPONENTS = st.sampled_from(_HOST_CHARS) | st.builds(
    lambda first, middle, last: first + middle + last,
    st.sampled_from(_HOST_CHARS),
    st.text(alphabet=_HOST_CHARS + "-", max_size=5),
    st.sampled_from(_HOST_CHARS),
)
_HOSTS = st.one_of(
    st.lists(_DOMAIN_COMPONENTS, min_size=1, max_size=4).map(".".join),
    st.text(alphabet="0129abfABF:", min_size=1, max_size=16).map(lambda address: f"[{address}]"),
    st.just("localhost"),
)
_PORTS = st.none() | st.integers(min_value=0, max_value=99999).map(str)
# A host is only taken as a registry when it looks like one (normalize.go splitDockerDomain).
_REGISTRIES = st.builds(
    lambda host, port: host if port is None else f"{host}:{port}", _HOSTS, _PORTS
).filter(lambda r: r == "localhost" or "." in r or ":" in r or r.lower() != r)
_WORD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"
_TAGS = st.builds(
    str.__add__,
    st.sampled_from(_WORD),
    st.text(alphabet=_WORD + ".-", max_size=127) | st.text(alphabet=_WORD + ".-", max_size=4),
)
_DIGESTS = st.sampled_from([("sha256", 64), ("sha384", 96), ("sha512", 128)]).flatmap(
    lambda algorithm: st.text(
        alphabet="0123456789abcdef", min_size=algorithm[1], max_size=algorithm[1]
    ).map(lambda hex_digits: f"{algorithm[0]}:{hex_digits}")
)


@st.composite
def _references(draw: st.DrawFn) -> tuple[str, ImageReference]:
    """Text written from the grammar, with the reference Docker makes of it."""
    written = draw(st.sampled_from([None, "docker.io", "index.docker.io"]) | _REGISTRIES)
    components = draw(st.lists(_PATH_COMPONENTS, min_size=1, max_size=4))
    tag = draw(st.none() | _TAGS)
    digest = draw(st.none() | _DIGESTS)
    if written is None and len(components) > 1:
        # Without a registry the first component must not look like a host.
        assume("." not in components[0] and components[0] != "localhost")
    hub = written in (None, "docker.io", "index.docker.io")
    repository = "/".join(components)
    if hub and len(components) == 1:
        repository = "library/" + repository
    assume(len(repository) <= 255)
    text = "/".join(components) if written is None else f"{written}/{'/'.join(components)}"
    text += (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    # `sha256` tagged with 64 hex would be a bare digest; vanishingly rare but possible.
    assume(not re.fullmatch(r"sha(256|384|512):[a-f0-9]+", text))
    expected = ImageReference(
        DOCKER_HUB if hub else str(written),
        repository,
        tag if tag is not None or digest is not None else "latest",
        digest,
    )
    return text, expected


@settings(max_examples=200, suppress_health_check=[HealthCheck.filter_too_much])
@given(_references())
def test_grammar_references_parse_and_round_trip(case: tuple[str, ImageReference]) -> None:
    text, expected = case
    ref = ImageReference.parse(text)
    assert ref == expected
    assert ImageReference.parse(str(ref)) == ref
    assert str(ImageReference.parse(str(ref))) == str(ref)
    assert ImageReference.parse(ref.name) == ImageReference.parse(f"{ref.name}:latest")


@settings(max_examples=200, suppress_health_check=[HealthCheck.filter_too_much])
@given(_references())
def test_familiar_name_parses_back(case: tuple[str, ImageReference]) -> None:
    _, ref = case
    first = ref.familiar_name.split("/", 1)[0]
    # Docker's FamiliarName is ambiguous for Hub paths whose first part looks like a host.
    assume(ref.registry != DOCKER_HUB or "/" not in ref.familiar_name or "." not in first)
    assume(ref.registry != DOCKER_HUB or first != "localhost" or "/" not in ref.familiar_name)
    suffix = (f":{ref.tag}" if ref.tag else "") + (f"@{ref.digest}" if ref.digest else "")
    assume(not re.fullmatch(r"sha(256|384|512):[a-f0-9]+", ref.familiar_name + suffix))
    assert ImageReference.parse(ref.familiar_name + suffix) == ref
    assert ImageReference.parse(ref.familiar_name).name == ref.name


@settings(max_examples=100, suppress_health_check=[HealthCheck.filter_too_much])
@given(_references(), _DIGESTS)
def test_with_digest_round_trips(case: tuple[str, ImageReference], digest: str) -> None:
    _, ref = case
    pinned = ref.with_digest(digest)
    assert (pinned.name, pinned.tag, pinned.digest) == (ref.name, ref.tag, digest)
    assert ImageReference.parse(str(pinned)) == pinned
