"""TOTP codes (RFC 6238) for approvers of gated updates: 30-second steps, 6 digits, SHA-1 (what
every authenticator app speaks), one step of clock drift either way, secrets of 160 bits or more.

Pure: no Prefect here. Where the secrets live and which step was used last is for the callers
(`watchdocker.blocks.totp`). No message of this module contains a secret.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import io
import re
import time
from typing import TYPE_CHECKING

import pyotp

if TYPE_CHECKING:
    import segno

STEP_SECONDS = 30
DIGITS = 6
# One step each side: the code shown just before a step boundary, or a phone a little off the
# server's clock, still works - and no more, so a code is good for 90 seconds at most.
TOLERANCE_STEPS = 1
# RFC 4226 section 4 recommends 160 bits (the SHA-1 block the HMAC key is hashed into).
MIN_SECRET_BITS = 160
SECRET_CHARS = MIN_SECRET_BITS // 5  # base32: five bits a character

_BASE32 = re.compile(r"[A-Z2-7]+")
# ASCII digits only: str.isdigit() and pyotp's NFKC comparison would take fullwidth ones too.
_CODE = re.compile(rf"[0-9]{{{DIGITS}}}")


WRONG_CODE = "wrong code"


class TotpError(Exception):
    """A secret that cannot be used, a wrong code, or a replayed one. Never holds the secret."""


def generate_secret() -> str:
    """A new random secret: 32 base32 characters, 160 bits from the OS's CSPRNG."""
    return pyotp.random_base32(SECRET_CHARS)


def validate_secret(secret: str) -> str:
    """`secret` in the form pyotp and authenticator apps take: upper case, without the spaces
    some services group it with and without `=` padding. Raises TotpError when it is not
    base32 or decodes to fewer than 160 bits."""
    normalised = re.sub(r"\s+", "", secret).upper().rstrip("=")
    if not normalised:
        raise TotpError(f"TOTP secret has only 0 bits; at least {MIN_SECRET_BITS}")
    if not _BASE32.fullmatch(normalised):
        raise TotpError("TOTP secret is not base32 (letters A-Z and digits 2-7)")
    try:
        decoded = base64.b32decode(normalised + "=" * (-len(normalised) % 8))
    except binascii.Error:
        # 1, 3 or 6 characters past a multiple of 8 is no whole number of bytes.
        raise TotpError(
            f"TOTP secret is not base32: {len(normalised)} characters do not decode"
        ) from None
    bits = len(decoded) * 8
    if bits < MIN_SECRET_BITS:
        raise TotpError(f"TOTP secret has only {bits} bits; at least {MIN_SECRET_BITS}")
    return normalised


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(validate_secret(secret), digits=DIGITS, interval=STEP_SECONDS)


def provisioning_uri(secret: str, approver: str, issuer: str = "watch-docker") -> str:
    """The `otpauth://totp/<issuer>:<approver>?secret=...&issuer=...` URI authenticator apps
    enroll from (Google's Key Uri Format). It holds the secret: show it once, never log it."""
    if not approver.strip():
        raise TotpError("approver name is empty")
    return _totp(secret).provisioning_uri(name=approver, issuer_name=issuer)


def _qr(uri: str) -> segno.QRCode:
    import segno  # here: every command reads the config, which uses this module's rules

    return segno.make(uri, micro=False)


def qr_text(uri: str) -> str:
    """`uri` as a QR code drawn with Unicode half blocks (two modules a character cell, so it
    fits an 80-column terminal), quiet zone included. segno draws the light modules in the
    text colour: right on a dark terminal, inverted on a light one, which not every scanner
    app reads - so callers show the secret for typing in as well."""
    out = io.StringIO()
    _qr(uri).terminal(out=out, compact=True)
    return out.getvalue()


def qr_png_data_uri(uri: str) -> str:
    """`uri` as a QR code in a `data:image/png;base64,...` URL, for a web page's <img>."""
    return _qr(uri).png_data_uri(scale=5)


def _normalise_code(code: str) -> str | None:
    # Authenticator apps show "123 456"; people type it so, or paste it with a newline.
    candidate = code.strip().replace(" ", "")
    return candidate if _CODE.fullmatch(candidate) else None


def matching_step(secret: str, code: str, at: float | None = None) -> int | None:
    """The time-step counter (`int(t // 30)`) whose code `code` is, among the current step and
    one either side; the latest when several match. None when none does or `code` is not six
    digits. Raises TotpError when the secret is unusable."""
    totp = _totp(secret)
    candidate = _normalise_code(code)
    if candidate is None:
        return None
    now = time.time() if at is None else at
    current = int(now // STEP_SECONDS)
    matched = None
    # Every window is compared, in constant time, whatever matched before: how long this
    # takes must tell nothing about which window (or how much of a code) was right.
    for step in range(current - TOLERANCE_STEPS, current + TOLERANCE_STEPS + 1):
        if step < 0:
            continue  # before 1970: no such counter
        expected = totp.generate_otp(step)
        if hmac.compare_digest(expected.encode(), candidate.encode()):
            matched = step
    return matched


def verify_code(secret: str, code: str, last_used_step: int | None, at: float | None = None) -> int:
    """The step `code` matches (see `matching_step`), to be recorded as the last used one.
    Raises TotpError "wrong code", or "code already used" when the step is not after
    `last_used_step`: a code accepted once is never accepted again, nor one older than it."""
    step = matching_step(secret, code, at)
    if step is None:
        raise TotpError(WRONG_CODE)
    if last_used_step is not None and step <= last_used_step:
        raise TotpError("code already used")
    return step
