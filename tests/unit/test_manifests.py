"""Manifest media types, platform selection out of an index, config digests, garbage bodies."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watchdocker.registry.manifests import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
    ManifestError,
    Platform,
    config_digest,
    media_type_of,
    select_platform,
    sha256_digest,
)


def digest(char: str) -> str:
    return "sha256:" + char * 64


def body(data: object) -> bytes:
    return json.dumps(data).encode()


# --- media_type_of ------------------------------------------------------------------------

MEDIA_TYPES = [
    # The body's mediaType wins.
    (body({"mediaType": DOCKER_MANIFEST_LIST}), None, DOCKER_MANIFEST_LIST),
    (body({"mediaType": DOCKER_MANIFEST}), None, DOCKER_MANIFEST),
    (body({"mediaType": OCI_INDEX}), None, OCI_INDEX),
    (body({"mediaType": OCI_MANIFEST}), None, OCI_MANIFEST),
    (body({"mediaType": OCI_MANIFEST}), DOCKER_MANIFEST_LIST, OCI_MANIFEST),
    # Else the Content-Type header, parameters and whitespace dropped.
    (b"{}", OCI_MANIFEST, OCI_MANIFEST),
    (b"{}", OCI_MANIFEST + "; charset=utf-8", OCI_MANIFEST),
    (b'{"schemaVersion":2}', " " + OCI_INDEX + " ", OCI_INDEX),
    (b"{}", DOCKER_MANIFEST_LIST, DOCKER_MANIFEST_LIST),
    # Else the shape: OCI allows an index or manifest without mediaType anywhere.
    (body({"schemaVersion": 2, "manifests": []}), None, OCI_INDEX),
    (body({"schemaVersion": 2, "config": {}, "layers": []}), None, OCI_MANIFEST),
    (body({"manifests": []}), "application/json", OCI_INDEX),
]


@pytest.mark.parametrize(("data", "content_type", "expected"), MEDIA_TYPES)
def test_media_type_of(data: bytes, content_type: str | None, expected: str) -> None:
    assert media_type_of(data, content_type) == expected


BAD_MANIFESTS = [
    (b"{}", None, "unknown"),
    (b"{}", "text/plain", "text/plain"),
    (body({"config": {}}), None, "unknown"),
    (
        body({"mediaType": "application/vnd.docker.distribution.manifest.v1+prettyjws"}),
        None,
        "v1\\+prettyjws",
    ),
    (body({"mediaType": OCI_INDEX.upper()}), None, "unsupported"),
    (b"[]", None, "not a JSON object"),
    (b"null", None, "not a JSON object"),
    (b'"x"', None, "not a JSON object"),
    (b"not json", None, "not JSON"),
    (b"", None, "not JSON"),
    (b"\xff\xfe\x00", None, "not JSON"),
    (b"<html>502 Bad Gateway</html>", "text/html", "not JSON"),
]


@pytest.mark.parametrize(("data", "content_type", "fragment"), BAD_MANIFESTS)
def test_media_type_of_refuses(data: bytes, content_type: str | None, fragment: str) -> None:
    with pytest.raises(ManifestError, match=fragment):
        media_type_of(data, content_type)


@pytest.mark.parametrize(
    "data",
    [body({"mediaType": ["x"]}), body({"mediaType": {"a": 1}}), body({"mediaType": 5})],
    ids=["list", "object", "number"],
)
def test_media_type_of_non_string_media_type_is_a_manifest_error(data: bytes) -> None:
    # BUG (manifests.py:73): `media_type not in INDEX_TYPES | MANIFEST_TYPES` hashes the value,
    # so a list or object mediaType raises TypeError instead of ManifestError.
    with pytest.raises(ManifestError):
        media_type_of(data, OCI_MANIFEST)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_media_type_of_garbage_bytes(data: bytes) -> None:
    try:
        result = media_type_of(data, None)
    except ManifestError:
        return
    assert result in {DOCKER_MANIFEST_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST}


# --- select_platform ----------------------------------------------------------------------

ATTESTATION = {
    "mediaType": OCI_MANIFEST,
    "digest": digest("0"),
    "platform": {"os": "unknown", "architecture": "unknown"},
    "annotations": {
        "vnd.docker.reference.type": "attestation-manifest",
        "vnd.docker.reference.digest": digest("1"),
    },
}
INDEX = body(
    {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            ATTESTATION,
            {"digest": digest("1"), "platform": {"os": "linux", "architecture": "amd64"}},
            {
                "digest": digest("2"),
                "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"},
            },
            {
                "digest": digest("3"),
                "platform": {"os": "linux", "architecture": "arm", "variant": "v6"},
            },
            {
                "digest": digest("4"),
                "platform": {"os": "linux", "architecture": "arm", "variant": "v7"},
            },
            {
                "digest": digest("5"),
                "platform": {
                    "os": "windows",
                    "architecture": "amd64",
                    "os.version": "10.0.17763.5206",
                },
            },
        ],
    }
)

SELECTED = [
    ("linux/amd64", "1"),
    ("linux/x86_64", "1"),
    ("LINUX/AMD64", "1"),
    ("linux/arm64", "2"),
    ("linux/arm64/v8", "2"),
    ("linux/aarch64", "2"),
    ("linux/arm/v6", "3"),
    ("linux/arm/v7", "4"),
    ("linux/arm", "4"),  # arm without variant means v7
    ("windows/amd64", "5"),
]


@pytest.mark.parametrize(("platform", "expected"), SELECTED)
def test_select_platform(platform: str, expected: str) -> None:
    assert select_platform(INDEX, Platform.parse(platform)) == digest(expected)


@pytest.mark.parametrize(
    ("entry_platform", "wanted", "expected"),
    [
        # arm64 entries without a variant still serve linux/arm64/v8 and the reverse.
        ({"os": "linux", "architecture": "arm64"}, "linux/arm64/v8", "8"),
        ({"os": "linux", "architecture": "arm64", "variant": "v8"}, "linux/arm64", "8"),
        # arm without variant in the index is v7 too.
        ({"os": "linux", "architecture": "arm"}, "linux/arm/v7", "8"),
        ({"os": "linux", "architecture": "amd64", "variant": ""}, "linux/amd64", "8"),
    ],
)
def test_select_platform_default_variants(entry_platform: dict, wanted: str, expected: str) -> None:
    index = body({"manifests": [{"digest": digest("8"), "platform": entry_platform}]})
    assert select_platform(index, Platform.parse(wanted)) == digest(expected)


def test_select_platform_skips_attestations_and_takes_the_first_match() -> None:
    index = body(
        {
            "manifests": [
                {**ATTESTATION, "digest": digest("a")},
                {"digest": digest("b"), "platform": {"os": "linux", "architecture": "amd64"}},
                {"digest": digest("c"), "platform": {"os": "linux", "architecture": "amd64"}},
            ]
        }
    )
    assert select_platform(index, Platform.parse("linux/amd64")) == digest("b")


@pytest.mark.parametrize(
    ("index", "wanted", "fragment"),
    [
        (INDEX, "linux/386", "no manifest for linux/386"),
        (INDEX, "linux/arm/v5", "no manifest for linux/arm/v5"),
        (INDEX, "linux/ppc64le", "no manifest for linux/ppc64le"),
        (body({"manifests": [ATTESTATION]}), "linux/amd64", "no manifest for linux/amd64"),
        (body({"manifests": []}), "linux/amd64", "no manifest"),
        (body({}), "linux/amd64", "no 'manifests' list"),
        (body({"manifests": {}}), "linux/amd64", "no 'manifests' list"),
        (body({"manifests": None}), "linux/amd64", "no 'manifests' list"),
        (b"[]", "linux/amd64", "not a JSON object"),
        (b"garbage", "linux/amd64", "not JSON"),
        # Entries that are no entries, or with no platform or an invalid digest.
        (
            body(
                {
                    "manifests": [
                        1,
                        None,
                        "x",
                        {"platform": 5},
                        {"digest": digest("1")},
                        {"digest": "x", "platform": {"os": "linux", "architecture": "amd64"}},
                        {
                            "digest": "sha256:" + "A" * 64,
                            "platform": {"os": "linux", "architecture": "amd64"},
                        },
                    ]
                }
            ),
            "linux/amd64",
            "no manifest for linux/amd64",
        ),
    ],
)
def test_select_platform_missing(index: bytes, wanted: str, fragment: str) -> None:
    with pytest.raises(ManifestError, match=fragment):
        select_platform(index, Platform.parse(wanted))


@pytest.mark.parametrize(
    "platform",
    [
        {"os": "linux", "architecture": "amd64", "variant": 5},
        {"os": "linux", "architecture": "amd64", "variant": ["v8"]},
        {"os": "linux", "architecture": "amd64", "variant": {"x": 1}},
    ],
    ids=["int", "list", "object"],
)
def test_select_platform_non_string_variant_is_skipped_not_a_crash(platform: dict) -> None:
    # BUG (manifests.py:93 + 48): `p.get("variant")` is passed on unconverted and
    # Platform.normalized() calls .lower() on it -> AttributeError, not ManifestError.
    index = body(
        {
            "manifests": [
                {"digest": digest("9"), "platform": platform},
                {"digest": digest("1"), "platform": {"os": "linux", "architecture": "amd64"}},
            ]
        }
    )
    assert select_platform(index, Platform.parse("linux/amd64")) == digest("1")


# --- config_digest ------------------------------------------------------------------------


def test_config_digest() -> None:
    manifest = body(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": digest("e"),
            },
            "layers": [],
        }
    )
    assert config_digest(manifest) == digest("e")


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (body({}), "no valid config digest"),
        (body({"config": {}}), "no valid config digest"),
        (body({"config": "sha256:" + "e" * 64}), "no valid config digest"),
        (body({"config": {"digest": 5}}), "no valid config digest"),
        (body({"config": {"digest": "sha256:" + "E" * 64}}), "no valid config digest"),
        (body({"config": {"digest": "sha256:" + "e" * 63}}), "no valid config digest"),
        (body({"config": {"digest": "sha256:" + "e" * 64 + "\n"}}), "no valid config digest"),
        (body({"config": {"digest": "sha512:" + "e" * 128}}), "no valid config digest"),
        (b"[]", "not a JSON object"),
        (b"", "not JSON"),
        (b"\x80", "not JSON"),
    ],
)
def test_config_digest_refuses(data: bytes, fragment: str) -> None:
    with pytest.raises(ManifestError, match=fragment):
        config_digest(data)


# --- Platform and sha256_digest -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("linux/amd64", Platform("linux", "amd64")),
        ("linux/arm/v7", Platform("linux", "arm", "v7")),
        ("windows/amd64", Platform("windows", "amd64")),
    ],
)
def test_platform_parse(text: str, expected: Platform) -> None:
    assert Platform.parse(text) == expected
    assert str(Platform.parse(text)) == text


@pytest.mark.parametrize("text", ["", "linux", "linux/", "/amd64", "linux//v7", "a/b/c/d"])
def test_platform_parse_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="not a platform"):
        Platform.parse(text)


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        (Platform("linux", "x86_64"), Platform("linux", "amd64")),
        (Platform("Linux", "AMD64"), Platform("linux", "amd64")),
        (Platform("linux", "aarch64"), Platform("linux", "arm64")),
        (Platform("linux", "arm64", "v8"), Platform("linux", "arm64")),
        (Platform("linux", "arm64", "V8"), Platform("linux", "arm64")),
        (Platform("linux", "arm"), Platform("linux", "arm", "v7")),
        (Platform("linux", "armhf"), Platform("linux", "arm", "v7")),
        (Platform("linux", "arm", "v6"), Platform("linux", "arm", "v6")),
        (Platform("linux", "amd64", ""), Platform("linux", "amd64")),
    ],
)
def test_platform_normalized(platform: Platform, expected: Platform) -> None:
    assert platform.normalized() == expected


def test_sha256_digest() -> None:
    assert sha256_digest(b"") == (
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
