"""Registry credentials: configured ones first, then the Docker CLI config (`auths`,
`credHelpers`, `credsStore`), with fake `docker-credential-<name>` helpers on PATH that speak
the real protocol: `get` as argument, the server URL on stdin, JSON on stdout, exit 1 on a miss.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from watchdocker.config import RegistryAuth
from watchdocker.registry.credentials import (
    IDENTITY_TOKEN_USER,
    Credential,
    CredentialStore,
    DockerConfigCredentials,
    StaticCredential,
    configured_credentials,
    docker_config_path,
)

SECRET = "hunter2-secret"
HUB_KEY = "https://index.docker.io/v1/"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def write_config(directory: Path, data: Any) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "config.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


class FakeHelpers:
    """Writes `docker-credential-<name>` scripts into a directory on PATH and logs each call."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.log = bin_dir / "calls.log"

    def add(self, name: str, known: dict[str, tuple[str, str]], raw: str | None = None) -> None:
        cases = []
        for server, (user, secret) in known.items():
            answer = json.dumps({"ServerURL": server, "Username": user, "Secret": secret})
            cases.append(f"  '{server}') printf '%s\\n' '{answer}' ;;")
        default = (
            f"  *) printf '%s\\n' '{raw}' ;;"
            if raw is not None
            else "  *) echo 'credentials not found in native keychain'; exit 1 ;;"
        )
        script = "\n".join(
            [
                "#!/bin/sh",
                'server=""',
                "IFS= read -r server || true",
                f'printf "%s %s %s\\n" "{name}" "$*" "$server" >> "{self.log}"',
                'case "$server" in',
                *cases,
                default,
                "esac",
                "",
            ]
        )
        path = self.bin_dir / f"docker-credential-{name}"
        path.write_text(script)
        path.chmod(0o755)

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []


@pytest.fixture
def helpers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeHelpers:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    return FakeHelpers(bin_dir)


def lookup(tmp_path: Path, data: Any, registry: str) -> Credential | None:
    store = CredentialStore([], DockerConfigCredentials(write_config(tmp_path / "docker", data)))
    return store.lookup(registry)


def plain(credential: Credential | None) -> tuple[str, str, str] | None:
    if credential is None:
        return None
    return credential.username, credential.password.get_secret_value(), credential.source


# --- auths --------------------------------------------------------------------------------

AUTHS = [
    # config, registry asked, expected (username, password, source)
    ({"auths": {"ghcr.io": {"auth": b64("me:pw")}}}, "ghcr.io", ("me", "pw", "docker config")),
    ({"auths": {"ghcr.io": {"auth": b64("me:p:w")}}}, "ghcr.io", ("me", "p:w", "docker config")),
    (
        {"auths": {"ghcr.io": {"username": "me", "password": "pw"}}},
        "ghcr.io",
        ("me", "pw", "docker config"),
    ),
    (
        {"auths": {"ghcr.io": {"identitytoken": "tok"}}},
        "ghcr.io",
        (IDENTITY_TOKEN_USER, "tok", "docker config"),
    ),
    # identitytoken wins over auth in the same entry.
    (
        {"auths": {"ghcr.io": {"auth": b64("me:pw"), "identitytoken": "tok"}}},
        "ghcr.io",
        (IDENTITY_TOKEN_USER, "tok", "docker config"),
    ),
    # Keys are matched as hosts: scheme, path and case do not matter.
    ({"auths": {"https://ghcr.io": {"auth": b64("a:b")}}}, "ghcr.io", ("a", "b", "docker config")),
    (
        {"auths": {"https://GHCR.io/v2/": {"auth": b64("a:b")}}},
        "ghcr.io",
        ("a", "b", "docker config"),
    ),
    ({"auths": {"ghcr.io": {"auth": b64("a:b")}}}, "GHCR.IO", ("a", "b", "docker config")),
    (
        {"auths": {"localhost:5000": {"auth": b64("a:b")}}},
        "localhost:5000",
        ("a", "b", "docker config"),
    ),
    ({"auths": {"localhost:5000": {"auth": b64("a:b")}}}, "localhost:5001", None),
    ({"auths": {"ghcr.io": {"auth": b64("a:b")}}}, "quay.io", None),
    # Entries without credentials (as `docker login` leaves with a credsStore).
    ({"auths": {"ghcr.io": {}}}, "ghcr.io", None),
    ({"auths": {"ghcr.io": {"username": "me"}}}, "ghcr.io", None),
    ({"auths": {"ghcr.io": "not an object"}}, "ghcr.io", None),
    ({"auths": {}}, "ghcr.io", None),
    ({}, "ghcr.io", None),
]


@pytest.mark.parametrize(("data", "registry", "expected"), AUTHS)
def test_auths(tmp_path: Path, data: dict, registry: str, expected: tuple | None) -> None:
    assert plain(lookup(tmp_path, data, registry)) == expected


@pytest.mark.parametrize("key", [HUB_KEY, "index.docker.io", "registry-1.docker.io", "docker.io"])
@pytest.mark.parametrize(
    "asked", ["docker.io", "index.docker.io", "registry-1.docker.io", "https://index.docker.io/v1/"]
)
def test_docker_hub_aliases(tmp_path: Path, key: str, asked: str) -> None:
    data = {"auths": {key: {"auth": b64("hubuser:hubpass")}}}
    assert plain(lookup(tmp_path, data, asked)) == ("hubuser", "hubpass", "docker config")


def test_docker_hub_key_does_not_serve_other_registries(tmp_path: Path) -> None:
    data = {"auths": {HUB_KEY: {"auth": b64("hubuser:hubpass")}}}
    assert lookup(tmp_path, data, "ghcr.io") is None


@pytest.mark.parametrize(
    "auth",
    [
        "!!!",  # not base64 at all
        b64("no-colon-here"),  # Docker's decodeAuth refuses "invalid auth configuration file"
        5,  # not a string
    ],
    ids=["not-base64", "no-colon", "not-a-string"],
)
def test_malformed_auth_entry_is_ignored(tmp_path: Path, auth: object) -> None:
    # BUG (credentials.py:93-99): "!!!" decodes (non-strict b64decode) to b"" and gives
    # Credential(username=''); an auth without ':' gives a credential with an empty
    # password; a non-string auth raises TypeError out of lookup. Docker ignores/refuses
    # all three; the module's own intent is "ignoring a malformed 'auth' entry".
    assert lookup(tmp_path, {"auths": {"ghcr.io": {"auth": auth}}}, "ghcr.io") is None


# --- unreadable configs -------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["{not json", "", "\xff"],
    ids=["bad-json", "empty", "latin1"],
)
def test_unreadable_config_is_ignored(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config.json"
    path.write_bytes(text.encode("latin-1"))
    assert DockerConfigCredentials(path).lookup("ghcr.io") is None


@pytest.mark.parametrize(
    "data",
    [None, [], "just a string", 5, {"auths": ["ghcr.io"]}, {"credHelpers": "x"}, {"auths": "x"}],
    ids=["null", "list", "string", "number", "auths-list", "credHelpers-string", "auths-string"],
)
def test_config_of_the_wrong_shape_is_ignored(tmp_path: Path, data: object) -> None:
    # BUG (credentials.py:63, 73, 77): valid JSON that is not an object (or sections that are not
    # objects) raises AttributeError from lookup instead of being ignored like bad JSON.
    path = write_config(tmp_path, json.dumps(data))
    assert DockerConfigCredentials(path).lookup("ghcr.io") is None


def test_missing_and_directory_configs_are_ignored(tmp_path: Path) -> None:
    assert DockerConfigCredentials(tmp_path / "absent.json").lookup("ghcr.io") is None
    (tmp_path / "dir.json").mkdir()
    assert DockerConfigCredentials(tmp_path / "dir.json").lookup("ghcr.io") is None


def test_docker_config_env_is_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tmp_path / "elsewhere"
    write_config(directory, {"auths": {"ghcr.io": {"auth": b64("env:pw")}}})
    monkeypatch.setenv("DOCKER_CONFIG", str(directory))
    assert docker_config_path() == directory / "config.json"
    assert plain(DockerConfigCredentials().lookup("ghcr.io")) == ("env", "pw", "docker config")


def test_without_docker_config_env_home_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DOCKER_CONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert docker_config_path() == tmp_path / ".docker" / "config.json"


# --- credential helpers -------------------------------------------------------------------


def test_cred_helper_protocol(tmp_path: Path, helpers: FakeHelpers) -> None:
    helpers.add("fake", {"ghcr.io": ("helper-user", "helper-secret")})
    found = lookup(tmp_path, {"credHelpers": {"ghcr.io": "fake"}}, "ghcr.io")
    assert plain(found) == ("helper-user", "helper-secret", "helper fake")
    assert helpers.calls() == ["fake get ghcr.io"]


def test_cred_helper_for_docker_hub_gets_the_key_as_written(
    tmp_path: Path, helpers: FakeHelpers
) -> None:
    helpers.add("fake", {HUB_KEY: ("hub-user", "hub-secret")})
    found = lookup(tmp_path, {"credHelpers": {HUB_KEY: "fake"}}, "docker.io")
    assert plain(found) == ("hub-user", "hub-secret", "helper fake")
    assert helpers.calls() == [f"fake get {HUB_KEY}"]


def test_cred_helper_wins_over_auths(tmp_path: Path, helpers: FakeHelpers) -> None:
    helpers.add("fake", {"ghcr.io": ("helper-user", "helper-secret")})
    data = {
        "credHelpers": {"ghcr.io": "fake"},
        "auths": {"ghcr.io": {"auth": b64("inline:pw")}, "quay.io": {"auth": b64("q:pw")}},
    }
    assert plain(lookup(tmp_path, data, "ghcr.io")) == (
        "helper-user",
        "helper-secret",
        "helper fake",
    )
    # Other registries are not sent to that helper.
    assert plain(lookup(tmp_path, data, "quay.io")) == ("q", "pw", "docker config")
    assert helpers.calls() == ["fake get ghcr.io"]


def test_cred_helper_miss_is_none(tmp_path: Path, helpers: FakeHelpers) -> None:
    helpers.add("fake", {})
    assert lookup(tmp_path, {"credHelpers": {"ghcr.io": "fake"}}, "ghcr.io") is None
    assert helpers.calls() == ["fake get ghcr.io"]


def test_creds_store_for_docker_hub_and_others(tmp_path: Path, helpers: FakeHelpers) -> None:
    helpers.add(
        "store",
        {HUB_KEY: ("hub-user", "hub-secret"), "ghcr.io": ("gh-user", "gh-secret")},
    )
    data = {"credsStore": "store", "auths": {HUB_KEY: {}, "ghcr.io": {}}}
    assert plain(lookup(tmp_path, data, "docker.io")) == ("hub-user", "hub-secret", "helper store")
    assert plain(lookup(tmp_path, data, "index.docker.io")) == (
        "hub-user",
        "hub-secret",
        "helper store",
    )
    assert plain(lookup(tmp_path, data, "ghcr.io")) == ("gh-user", "gh-secret", "helper store")
    assert lookup(tmp_path, data, "quay.io") is None
    assert helpers.calls() == [
        f"store get {HUB_KEY}",
        f"store get {HUB_KEY}",
        "store get ghcr.io",
        "store get quay.io",
    ]


def test_inline_auth_wins_over_creds_store(tmp_path: Path, helpers: FakeHelpers) -> None:
    helpers.add("store", {"ghcr.io": ("store-user", "store-secret")})
    data = {"credsStore": "store", "auths": {"ghcr.io": {"auth": b64("inline:pw")}}}
    assert plain(lookup(tmp_path, data, "ghcr.io")) == ("inline", "pw", "docker config")
    assert helpers.calls() == []


def test_cred_helper_identity_token(tmp_path: Path, helpers: FakeHelpers) -> None:
    helpers.add("fake", {"ghcr.io": (IDENTITY_TOKEN_USER, "refresh-token")})
    found = lookup(tmp_path, {"credHelpers": {"ghcr.io": "fake"}}, "ghcr.io")
    assert plain(found) == (IDENTITY_TOKEN_USER, "refresh-token", "helper fake")


@pytest.mark.parametrize(
    "raw",
    [f"not json {SECRET}", '{"Username": "u"}', "[]", '{"Username": "u", "Secret": null}x'],
)
def test_cred_helper_garbage_is_none_and_not_logged(
    tmp_path: Path, helpers: FakeHelpers, caplog: pytest.LogCaptureFixture, raw: str
) -> None:
    helpers.add("fake", {}, raw=raw)
    with caplog.at_level(logging.DEBUG):
        assert lookup(tmp_path, {"credHelpers": {"ghcr.io": "fake"}}, "ghcr.io") is None
    assert SECRET not in caplog.text


def test_missing_helper_program_is_none(
    tmp_path: Path, helpers: FakeHelpers, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        assert lookup(tmp_path, {"credsStore": "absent-xyz"}, "ghcr.io") is None
    assert "docker-credential-absent-xyz" in caplog.text


def test_helper_timeout_is_none(tmp_path: Path, helpers: FakeHelpers) -> None:
    script = helpers.bin_dir / "docker-credential-slow"
    script.write_text("#!/bin/sh\nexec sleep 5\n")
    script.chmod(0o755)
    config = DockerConfigCredentials(
        write_config(tmp_path, {"credsStore": "slow"}), helper_timeout=0.2
    )
    assert config.lookup("ghcr.io") is None


# --- CredentialStore ----------------------------------------------------------------------


def static(host: str, user: str = "cfg-user", password: str = "cfg-pass") -> StaticCredential:
    return StaticCredential(host, user, SecretStr(password), "config")


STORE = [
    # configured hosts, registry asked, expected username (None: nothing found)
    (["ghcr.io"], "ghcr.io", "cfg-user"),
    (["https://ghcr.io/"], "GHCR.io", "cfg-user"),
    ([HUB_KEY], "docker.io", "cfg-user"),
    (["docker.io"], "index.docker.io", "cfg-user"),
    (["registry-1.docker.io"], "docker.io", "cfg-user"),
    # Configured for another host: the Docker config answers.
    (["quay.io"], "ghcr.io", "docker-user"),
    ([], "ghcr.io", "docker-user"),
    ([], "quay.io", None),
]


@pytest.mark.parametrize(("hosts", "asked", "expected"), STORE)
def test_store_precedence(
    tmp_path: Path, hosts: list[str], asked: str, expected: str | None
) -> None:
    docker = DockerConfigCredentials(
        write_config(
            tmp_path,
            {
                "auths": {
                    "ghcr.io": {"auth": b64("docker-user:docker-pass")},
                    HUB_KEY: {"auth": b64("docker-user:docker-pass")},
                }
            },
        )
    )
    found = CredentialStore([static(h) for h in hosts], docker).lookup(asked)
    assert (found.username if found else None) == expected


def test_store_first_configured_entry_wins() -> None:
    store = CredentialStore([static("ghcr.io", "first"), static("ghcr.io", "second")])
    found = store.lookup("ghcr.io")
    assert found is not None
    assert (found.username, found.source) == ("first", "config")


def test_store_without_docker_config() -> None:
    assert CredentialStore().lookup("ghcr.io") is None


def test_configured_credentials_from_settings_entries() -> None:
    entry = RegistryAuth(host="ghcr.io", username="me", password=SecretStr("pw"))
    (item,) = configured_credentials([entry])
    assert (item.host, item.username, item.password.get_secret_value(), item.source) == (
        "ghcr.io",
        "me",
        "pw",
        "config",
    )


# --- secrecy ------------------------------------------------------------------------------


def test_credential_repr_never_shows_the_password() -> None:
    credential = Credential("me", SecretStr(SECRET), "config")
    for text in (repr(credential), str(credential), f"{credential}", repr([credential])):
        assert SECRET not in text
        assert "me" in text
    assert SECRET not in repr(static("ghcr.io", password=SECRET))
