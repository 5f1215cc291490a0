"""Registry credentials, looked up per registry host from, in order: the config file and
WATCH_REGISTRY_AUTH_*, Prefect `DockerRegistryCredentials` blocks, and the user's Docker CLI
config (`auths`, `credHelpers`, `credsStore`) so that `docker login` just works."""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from watchdocker.config import RegistryAuth
from watchdocker.reference import DOCKER_HUB, canonical_registry

log = logging.getLogger(__name__)

# What the Docker CLI stores Docker Hub's credentials under.
_HUB_SERVER_URL = "https://index.docker.io/v1/"
# Docker's marker for an OAuth2 refresh token (identity token) in place of a password.
IDENTITY_TOKEN_USER = "<token>"


@dataclass(frozen=True)
class Credential:
    username: str
    password: SecretStr
    source: str  # where it came from, for messages: "config", "block NAME", "docker config"

    def __repr__(self) -> str:
        return f"Credential(username={self.username!r}, source={self.source!r})"


@dataclass(frozen=True)
class StaticCredential:
    """One (host, username, password) from the config file or a block."""

    host: str
    username: str
    password: SecretStr
    source: str


def _mapping(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def docker_config_path() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker") / "config.json"


class DockerConfigCredentials:
    """The Docker CLI's config.json: inline `auths` and credential helpers."""

    def __init__(self, path: Path | None = None, helper_timeout: float = 10.0) -> None:
        self.path = path or docker_config_path()
        self.helper_timeout = helper_timeout
        self._data: dict | None = None

    def _load(self) -> dict:
        if self._data is None:
            try:
                data = json.loads(self.path.read_text())
            except FileNotFoundError:
                data = {}
            except (OSError, ValueError) as exc:
                log.warning("ignoring unreadable Docker config %s: %s", self.path, exc)
                data = {}
            if not isinstance(data, dict):
                log.warning("ignoring Docker config %s: not a JSON object", self.path)
                data = {}
            self._data = data
        return self._data

    def lookup(self, registry: str) -> Credential | None:
        data = self._load()
        for key, helper in _mapping(data.get("credHelpers")).items():
            if isinstance(helper, str) and canonical_registry(key) == registry:
                return self._from_helper(helper, key)
        for key, entry in _mapping(data.get("auths")).items():
            if canonical_registry(key) == registry and isinstance(entry, dict):
                found = self._from_entry(entry)
                if found:
                    return found
        store = data.get("credsStore")
        if isinstance(store, str) and store:
            server = _HUB_SERVER_URL if registry == DOCKER_HUB else registry
            return self._from_helper(store, server)
        return None

    @staticmethod
    def _from_entry(entry: dict) -> Credential | None:
        token = entry.get("identitytoken")
        if isinstance(token, str) and token:
            return Credential(IDENTITY_TOKEN_USER, SecretStr(token), "docker config")
        if entry.get("auth"):
            # Docker itself refuses an `auth` that is not base64 of "user:password".
            try:
                decoded = base64.b64decode(entry["auth"], validate=True).decode()
            except (ValueError, TypeError, UnicodeDecodeError):
                decoded = ""
            user, colon, password = decoded.partition(":")
            if not (user and colon):
                log.warning("ignoring a malformed 'auth' entry in the Docker config")
                return None
            return Credential(user, SecretStr(password), "docker config")
        username, secret = entry.get("username"), entry.get("password")
        if isinstance(username, str) and isinstance(secret, str) and username and secret:
            return Credential(username, SecretStr(secret), "docker config")
        return None

    def _from_helper(self, helper: str, server: str) -> Credential | None:
        program = f"docker-credential-{helper}"
        try:
            done = subprocess.run(
                [program, "get"],
                input=server,
                capture_output=True,
                text=True,
                timeout=self.helper_timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning(
                "credential helper %s failed for %s: %s", program, server, type(exc).__name__
            )
            return None
        if done.returncode != 0:
            # "credentials not found" is the protocol's normal miss; stdout says so, never secrets.
            return None
        try:
            answer = json.loads(done.stdout)
            return Credential(answer["Username"], SecretStr(answer["Secret"]), f"helper {helper}")
        except (ValueError, KeyError, TypeError):
            log.warning("credential helper %s gave an answer that is not JSON credentials", program)
            return None


class CredentialStore:
    """First match wins: configured credentials, then blocks, then the Docker CLI config."""

    def __init__(
        self,
        configured: Iterable[StaticCredential] = (),
        docker_config: DockerConfigCredentials | None = None,
    ) -> None:
        self.configured = list(configured)
        self.docker_config = docker_config

    def lookup(self, registry: str) -> Credential | None:
        wanted = canonical_registry(registry)
        for item in self.configured:
            if canonical_registry(item.host) == wanted:
                return Credential(item.username, item.password, item.source)
        if self.docker_config is not None:
            return self.docker_config.lookup(wanted)
        return None


def configured_credentials(auth: Iterable[RegistryAuth]) -> list[StaticCredential]:
    """The `registry.auth` entries of the settings."""
    return [StaticCredential(a.host, a.username, a.password, "config") for a in auth]
