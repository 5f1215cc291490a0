"""Passkeys (WebAuthn) as a second factor (seed §4.1, §8.2), with py_webauthn: the options a
browser needs to make or use a passkey, and the checks of what it answers. Challenges are 32
random bytes, single use, valid 60 s, kept per user, RP ID and ceremony in memory (a restart of
serve only voids ceremonies under way). A passkey is bound to the RP ID it was made on: options
list, and answers may use, only the user's passkeys of the request's RP ID.

Pure but for the clock (a parameter) and the randomness of challenges; nothing here logs, and no
message holds a key, a challenge or a credential's signature."""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.parse_authentication_credential_json import (
    parse_authentication_credential_json,
)
from webauthn.helpers.parse_registration_credential_json import (
    parse_registration_credential_json,
)
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from watchdocker.auth.passkey_store import Passkey
from watchdocker.auth.relying_party import RelyingParty

CHALLENGE_BYTES = 32
CHALLENGE_SECONDS = 60.0
RP_NAME = "watch-docker"


class Ceremony(Enum):
    REGISTRATION = "registration"
    AUTHENTICATION = "authentication"


class PasskeyError(Exception):
    """Why a passkey answer is refused; a message a person reads, never holding key material."""


class NoCeremony(PasskeyError):
    """No challenge pending for this user, RP ID and ceremony: never begun, used or expired."""


class PasskeyRejected(PasskeyError):
    """The answer does not verify: unknown passkey, wrong origin or RP ID, bad signature,
    or a sign counter that did not grow (a cloned authenticator)."""


class Challenges:
    """Pending challenges by (user, RP ID, ceremony); a new begin replaces the one before."""

    def __init__(self, lifetime: float = CHALLENGE_SECONDS) -> None:
        self.lifetime = lifetime
        self._pending: dict[tuple[str, str, Ceremony], tuple[bytes, float]] = {}
        self._lock = threading.Lock()

    def issue(self, username: str, rp_id: str, ceremony: Ceremony, now: float) -> bytes:
        challenge = secrets.token_bytes(CHALLENGE_BYTES)
        with self._lock:
            # Expired ones of anyone go: the dict never holds more than the last minute's.
            for key in [k for k, (_, end) in self._pending.items() if end <= now]:
                del self._pending[key]
            self._pending[(username, rp_id, ceremony)] = (challenge, now + self.lifetime)
        return challenge

    def take(self, username: str, rp_id: str, ceremony: Ceremony, now: float) -> bytes:
        """The pending challenge, used up by this call; NoCeremony when none is valid."""
        with self._lock:
            challenge, end = self._pending.pop((username, rp_id, ceremony), (b"", 0.0))
        if not challenge:
            raise NoCeremony(
                f"no passkey {ceremony.value} is under way for {rp_id}: begin it first "
                "(a challenge is used once)"
            )
        if end <= now:
            raise NoCeremony(
                f"the passkey {ceremony.value} challenge expired ({self.lifetime:g} s): begin again"
            )
        return challenge


_TRANSPORTS = {t.value: t for t in AuthenticatorTransport}


def _descriptors(passkeys: list[Passkey]) -> list[PublicKeyCredentialDescriptor]:
    # The transports the authenticator named when it was made: a hint for the browser (which
    # to offer first), values it does not know left out.
    return [
        PublicKeyCredentialDescriptor(
            id=base64url_to_bytes(p.id),
            transports=[_TRANSPORTS[t] for t in p.transports if t in _TRANSPORTS] or None,
        )
        for p in passkeys
    ]


def registration_options(
    rp: RelyingParty,
    username: str,
    user_handle: bytes,
    existing: list[Passkey],
    challenge: bytes,
) -> dict[str, Any]:
    """`PublicKeyCredentialCreationOptionsJSON` (as `options_to_json` writes it) for a new
    passkey of `username` on `rp`; `existing`, their passkeys of that RP ID, are excluded."""
    options = generate_registration_options(
        rp_id=rp.rp_id,
        rp_name=RP_NAME,
        user_name=username,
        user_id=user_handle,
        challenge=challenge,
        timeout=int(CHALLENGE_SECONDS * 1000),
        # No attachment: platform (Touch ID, Windows Hello) and cross-platform (security keys)
        # authenticators alike.
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=_descriptors([p for p in existing if p.rp_id == rp.rp_id]),
    )
    result: dict[str, Any] = json.loads(options_to_json(options))
    return result


def authentication_options(
    rp: RelyingParty, passkeys: list[Passkey], challenge: bytes
) -> dict[str, Any]:
    """`PublicKeyCredentialRequestOptionsJSON` allowing the user's passkeys of `rp` only."""
    options = generate_authentication_options(
        rp_id=rp.rp_id,
        challenge=challenge,
        timeout=int(CHALLENGE_SECONDS * 1000),
        allow_credentials=_descriptors([p for p in passkeys if p.rp_id == rp.rp_id]),
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    result: dict[str, Any] = json.loads(options_to_json(options))
    return result


def verify_registration(
    rp: RelyingParty, challenge: bytes, credential: dict[str, Any], name: str, now: float
) -> Passkey:
    """The passkey a browser's `PublicKeyCredential.toJSON()` registers, checked against the
    challenge, origin and RP ID; PasskeyRejected otherwise."""
    try:
        parsed = parse_registration_credential_json(credential)
        verified = verify_registration_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=rp.rp_id,
            expected_origin=rp.origin,
            require_user_verification=False,  # preferred, not required
        )
    except (WebAuthnException, ValueError) as exc:
        raise PasskeyRejected(f"the new passkey was not accepted: {exc}") from None
    return Passkey(
        id=bytes_to_base64url(verified.credential_id),
        public_key=bytes_to_base64url(verified.credential_public_key),
        sign_count=verified.sign_count,
        rp_id=rp.rp_id,
        created_at=datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds"),
        name=name,
        transports=[t.value for t in parsed.response.transports or []],
    )


@dataclass(frozen=True)
class Assertion:
    passkey: Passkey  # as it was stored
    sign_count: int  # the new counter to store


def verify_authentication(
    rp: RelyingParty, challenge: bytes, credential: dict[str, Any], passkeys: list[Passkey]
) -> Assertion:
    """Which of `passkeys` (of `rp`'s RP ID only) signed the challenge, and its new counter;
    PasskeyRejected for an unknown passkey, another origin or RP ID, a bad signature, or a
    counter that did not grow (once either is non-zero: a cloned authenticator)."""
    try:
        parsed = parse_authentication_credential_json(credential)
    except (WebAuthnException, ValueError) as exc:
        raise PasskeyRejected(f"the passkey answer is malformed: {exc}") from None
    passkey = next((p for p in passkeys if p.id == parsed.id and p.rp_id == rp.rp_id), None)
    if passkey is None:
        raise PasskeyRejected(f"this passkey is not registered for {rp.rp_id}")
    try:
        verified = verify_authentication_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=rp.rp_id,
            expected_origin=rp.origin,
            credential_public_key=base64url_to_bytes(passkey.public_key),
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=False,
        )
    except (WebAuthnException, ValueError) as exc:
        hint = " (a cloned authenticator?)" if "sign count" in str(exc) else ""
        raise PasskeyRejected(f"the passkey was not accepted: {exc}{hint}") from None
    return Assertion(passkey, verified.new_sign_count)
