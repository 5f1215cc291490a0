"""What the API's login and second factor keep while serve runs: the token signer, the
configured user, the brute-force limits (`watchdocker.auth.attempt_limits`), the secrets of
enrolments begun but not yet confirmed, the users' passkeys and their pending challenges.
`create_app` makes one; routes reach it through `Auth`."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from watchdocker.api.codes import Code
from watchdocker.api.responses import ApiError
from watchdocker.auth.attempt_limits import AttemptLimiter, Refusal, TokenCodeAttempts
from watchdocker.auth.lockout import clock_time
from watchdocker.auth.passkey_store import PasskeyStore
from watchdocker.auth.passkeys import Challenges
from watchdocker.auth.passwords import UserCredentials
from watchdocker.auth.signing_key import signing_key
from watchdocker.auth.tokens import TEMP_LIFETIME, TokenSigner
from watchdocker.config import Settings
from watchdocker.logs import log_event

log = logging.getLogger("watchdocker.api")


class PendingSecrets:
    """Secrets shown by `setup/otp/init` and not yet confirmed by a code, per user; one
    expires with the temp token it was asked with."""

    def __init__(self) -> None:
        self._secrets: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def put(self, username: str, secret: str, now: float) -> None:
        with self._lock:
            self._secrets[username] = (secret, now + TEMP_LIFETIME.total_seconds())

    def get(self, username: str, now: float) -> str | None:
        with self._lock:
            secret, until = self._secrets.get(username, ("", 0.0))
        return secret if now < until else None

    def drop(self, username: str) -> None:
        with self._lock:
            self._secrets.pop(username, None)


def configured_user(settings: Settings) -> UserCredentials | None:
    auth = settings.auth
    if not auth.username:
        return None
    password = auth.password.get_secret_value() if auth.password else None
    password_hash = auth.password_hash.get_secret_value() if auth.password_hash else None
    return UserCredentials(auth.username, password, password_hash)


@dataclass
class Authenticator:
    signer: TokenSigner
    user: UserCredentials | None
    limiter: AttemptLimiter
    passkeys: PasskeyStore
    challenges: Challenges = field(default_factory=Challenges)
    token_codes: TokenCodeAttempts = field(default_factory=TokenCodeAttempts)
    pending: PendingSecrets = field(default_factory=PendingSecrets)

    @classmethod
    def from_settings(cls, settings: Settings) -> Authenticator:
        secret = settings.auth.jwt_secret
        key = signing_key(secret.get_secret_value() if secret else None, settings.state_dir)
        limits = AttemptLimiter(
            settings.auth.login_attempts, settings.auth.login_lockout.total_seconds()
        )
        passkeys = PasskeyStore.in_state_dir(settings.state_dir)
        return cls(TokenSigner(key), configured_user(settings), limits, passkeys)

    def refuse_if_limited(self, keys: list[str], now: float) -> None:
        if (refusal := self.limiter.refusal(keys, now)) is not None:
            raise too_many(refusal, now)

    def count_failure(self, what: str, keys: list[str], user: str, client: str, now: float) -> None:
        """A failed login or wrong code: counted, and logged by user and address only."""
        for lock in self.limiter.fail(keys, now):
            self.log_lock(f"{lock.key} locked until {clock_time(lock.until)}", user, client)
        log_event(
            log, logging.WARNING, what, component="api", action="auth", user=user, client=client
        )

    def log_lock(self, message: str, user: str, client: str) -> None:
        log_event(
            log,
            logging.WARNING,
            message,
            component="api",
            action="lockout",
            user=user,
            client=client,
        )


def too_many(refusal: Refusal, now: float) -> ApiError:
    wait = refusal.seconds_left(now)
    if refusal.locked:
        msg = (
            f"too many failed attempts for {refusal.key}: locked until {clock_time(refusal.until)}"
        )
    else:
        msg = f"too many failed attempts for {refusal.key}: try again in {wait} s"
    return ApiError(
        Code.TOO_MANY_ATTEMPTS, msg, {"retryAfterSeconds": wait, "until": clock_time(refusal.until)}
    )


def client_address(request: Request) -> str:
    # The peer's address: X-Forwarded-For would let any client pick the key it is counted by.
    return request.client.host if request.client else "unknown"


def authenticator(request: Request) -> Authenticator:
    auth: Authenticator = request.app.state.authenticator
    return auth


Auth = Annotated[Authenticator, Depends(authenticator)]
