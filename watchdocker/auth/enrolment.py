"""Which second factors a user holds (seed §4.1 `UserTwoFAConfig`): a TOTP secret, passkeys on
one or more RP IDs, or both. The method a login names is derived from them, never stored apart,
so it cannot disagree with what is enrolled."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from watchdocker.auth.passkey_store import Passkey

OTP = "otp"
WEBAUTHN = "webauthn"


@dataclass(frozen=True)
class Enrolment:
    otp: bool
    passkeys: tuple[Passkey, ...]

    @property
    def is_setup(self) -> bool:
        return self.otp or bool(self.passkeys)

    @property
    def methods(self) -> list[str]:
        return [m for m, held in ((OTP, self.otp), (WEBAUTHN, bool(self.passkeys))) if held]

    @property
    def method(self) -> str | None:
        """`otp` when a TOTP secret is enrolled (what the login answered before passkeys),
        else `webauthn` when passkeys are, else None; `methods` lists every one."""
        return self.methods[0] if self.methods else None

    def summary(self) -> dict[str, Any]:
        """What the user is told of their own enrolment: passkeys by id, name, RP ID and
        creation time, never a key."""
        return {
            "isSetup": self.is_setup,
            "method": self.method,
            "methods": self.methods,
            "otp": self.otp,
            "passkeys": [p.info() for p in self.passkeys],
        }
