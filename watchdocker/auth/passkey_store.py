"""The users' passkeys, kept across restarts in one file of mode 0600,
`<stateDir>/api/passkeys.json` (written whole and replaced atomically by
`watchdocker.auth.secret_file.write_private`).

Why a file and not a Prefect block beside `TotpSecret`: a TOTP secret is a block because approval
runs on any worker read it; a passkey is only ever checked by the API, inside serve, which owns
the state directory already (its signing key lives there), and every passkey login rewrites the
credential's sign counter, which a local file takes in a millisecond and needs no Prefect server
up. The public keys are not secret, but the file is kept private all the same, and nothing here
logs or returns more than a passkey's id, name, RP ID and creation time (`PasskeyInfo`)."""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

from watchdocker.auth.secret_file import write_private

FILE_NAME = "passkeys.json"
_FORMAT = 1


class PasskeyStoreError(Exception):
    """The file cannot be read as passkeys: fail closed (no passkey is accepted) until fixed."""


class PasskeyExists(Exception):
    """The user has this passkey already (the browser ignored the options' exclude list)."""


@dataclass(frozen=True)
class Passkey:
    id: str  # the credential id, base64url as the browser sends it
    public_key: str  # COSE key, base64url
    sign_count: int
    rp_id: str
    created_at: str  # ISO 8601, UTC
    name: str
    transports: list[str] = field(default_factory=list)

    def info(self) -> dict[str, str]:
        """What a user is shown of their own passkey: never the key."""
        return {"id": self.id, "name": self.name, "rpId": self.rp_id, "createdAt": self.created_at}


class PasskeyStore:
    """Passkeys per user name, and each user's WebAuthn user handle (random, made once: a
    discoverable credential stores it, so it must not change nor tell the user's name)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    @classmethod
    def in_state_dir(cls, state_dir: Path) -> PasskeyStore:
        return cls(state_dir / "api" / FILE_NAME)

    def _read(self) -> dict[str, Any]:
        if not self.path.exists():
            return {"format": _FORMAT, "users": {}}
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError) as exc:
            raise PasskeyStoreError(f"{self.path} cannot be read ({type(exc).__name__})") from None
        if not isinstance(data, dict) or not isinstance(data.get("users"), dict):
            raise PasskeyStoreError(f"{self.path} does not hold passkeys; fix or delete it")
        return data

    def _write(self, data: dict[str, Any]) -> None:
        write_private(self.path, json.dumps(data, indent=1, sort_keys=True) + "\n")

    def _user(self, data: dict[str, Any], username: str) -> dict[str, Any]:
        user: dict[str, Any] = data["users"].setdefault(username, {})
        user.setdefault("passkeys", [])
        return user

    def passkeys(self, username: str, rp_id: str | None = None) -> list[Passkey]:
        """`username`'s passkeys, of `rp_id` only when given, oldest first."""
        with self._lock:
            user = self._read()["users"].get(username, {})
        try:
            found = [Passkey(**entry) for entry in user.get("passkeys", [])]
        except TypeError:
            raise PasskeyStoreError(f"{self.path} holds a malformed passkey; fix it") from None
        return [p for p in found if rp_id is None or p.rp_id == rp_id]

    def user_handle(self, username: str) -> bytes:
        with self._lock:
            data = self._read()
            user = self._user(data, username)
            if "handle" not in user:
                user["handle"] = bytes_to_base64url(secrets.token_bytes(32))
                self._write(data)
        return base64url_to_bytes(user["handle"])

    def add(self, username: str, passkey: Passkey) -> None:
        with self._lock:
            data = self._read()
            entries = self._user(data, username)["passkeys"]
            if any(entry["id"] == passkey.id for entry in entries):
                raise PasskeyExists("this passkey is registered already")
            entries.append(asdict(passkey))
            self._write(data)

    def set_sign_count(self, username: str, passkey_id: str, count: int) -> None:
        with self._lock:
            data = self._read()
            for entry in self._user(data, username)["passkeys"]:
                if entry["id"] == passkey_id:
                    entry["sign_count"] = count
            self._write(data)

    def remove(self, username: str, passkey_id: str | None = None) -> int:
        """Remove one passkey of `username` (all of them when `passkey_id` is None); how many."""
        with self._lock:
            data = self._read()
            user = data["users"].get(username)
            if not user:
                return 0
            before = user.get("passkeys", [])
            kept = [e for e in before if passkey_id is not None and e["id"] != passkey_id]
            user["passkeys"] = kept
            if len(kept) != len(before):
                self._write(data)
            return len(before) - len(kept)
