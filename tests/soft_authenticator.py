"""A software WebAuthn authenticator for the tests: an EC P-256 key per passkey, and the bytes a
browser would send (WebAuthn §6.1 authenticator data, §5.8.1 client data, `none` attestation),
as `PublicKeyCredential.toJSON()` gives them. It answers the options the API sends as they are,
so the tests exercise the wire format; `rp_id`/`origin` overrides play a browser on another
host, and `counter` a cloned authenticator."""

from __future__ import annotations

import hashlib
import json
import secrets
import struct
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.encode_cbor import encode_cbor

UP, UV, AT = 0x01, 0x04, 0x40  # flags: user present, user verified, attested credential data


class InvalidStateError(Exception):
    """What a browser throws when the options exclude a passkey this authenticator holds."""


@dataclass
class SoftPasskey:
    id: bytes
    key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    counter: int = 0

    def cose_public_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        # COSE_Key: kty EC2 (2), alg ES256 (-7), crv P-256 (1), x, y.
        return encode_cbor(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )


def _client_data(kind: str, challenge: str, origin: str) -> bytes:
    return json.dumps(
        {"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False}
    ).encode()


def _auth_data(rp_id: str, flags: int, counter: int, attested: bytes = b"") -> bytes:
    rp_hash = hashlib.sha256(rp_id.encode()).digest()
    return rp_hash + bytes([flags]) + struct.pack(">I", counter) + attested


def _public_key_credential(passkey: SoftPasskey, response: dict[str, Any]) -> dict[str, Any]:
    credential_id = bytes_to_base64url(passkey.id)
    return {
        "id": credential_id,
        "rawId": credential_id,
        "type": "public-key",
        "response": response,
        "authenticatorAttachment": "platform",
        "clientExtensionResults": {},
    }


class SoftAuthenticator:
    def __init__(self, counts: bool = True) -> None:
        self.passkeys: list[SoftPasskey] = []
        self.counts = counts  # False: a counter that stays 0, as many platform passkeys do

    def create(self, options: dict[str, Any], origin: str, rp_id: str | None = None) -> dict:
        """`navigator.credentials.create({publicKey: options})`, `.toJSON()`."""
        rp = rp_id or options["rp"]["id"]
        excluded = {e["id"] for e in options.get("excludeCredentials", [])}
        if excluded & {bytes_to_base64url(p.id) for p in self.passkeys if p.rp_id == rp}:
            raise InvalidStateError("this authenticator holds an excluded passkey already")
        user_handle = options["user"]["id"]
        passkey = SoftPasskey(
            secrets.token_bytes(32), ec.generate_private_key(ec.SECP256R1()), rp, user_handle
        )
        self.passkeys.append(passkey)
        attested = b"\0" * 16 + struct.pack(">H", len(passkey.id)) + passkey.id
        attested += passkey.cose_public_key()
        auth_data = _auth_data(rp, UP | UV | AT, passkey.counter, attested)
        attestation = encode_cbor({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = _client_data("webauthn.create", options["challenge"], origin)
        response = {
            "clientDataJSON": bytes_to_base64url(client_data),
            "attestationObject": bytes_to_base64url(attestation),
            "transports": ["internal"],
        }
        return _public_key_credential(passkey, response)

    def get(
        self,
        options: dict[str, Any],
        origin: str,
        rp_id: str | None = None,
        passkey: SoftPasskey | None = None,
    ) -> dict:
        """`navigator.credentials.get({publicKey: options})`, `.toJSON()`: with the first of
        its passkeys that the options allow (or `passkey`, to answer with one they do not)."""
        rp = rp_id or options["rpId"]
        if passkey is None:
            allowed = {a["id"] for a in options.get("allowCredentials", [])}
            passkey = next(p for p in self.passkeys if bytes_to_base64url(p.id) in allowed)
        if self.counts:
            passkey.counter += 1
        auth_data = _auth_data(rp, UP | UV, passkey.counter)
        client_data = _client_data("webauthn.get", options["challenge"], origin)
        signed = auth_data + hashlib.sha256(client_data).digest()
        signature = passkey.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        response = {
            "clientDataJSON": bytes_to_base64url(client_data),
            "authenticatorData": bytes_to_base64url(auth_data),
            "signature": bytes_to_base64url(signature),
            "userHandle": passkey.user_handle,
        }
        return _public_key_credential(passkey, response)
