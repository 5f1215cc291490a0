"""Brute-force limits of the API's login and second factor: failed logins and wrong codes are
counted per user name and per client address. From the second failure on, each one opens a
refusal window that doubles (1 s, 2 s, 4 s...) so guesses cannot be fired back to back; the
`attempts`-th failure within `period` locks that user or address for `period`
(`watchdocker.auth.lockout`'s rule, the approvers' one). While refused even the right password
is. Kept in memory by the one process that serves the API: a restart forgets it.

Pure but for a lock: the clock is a parameter of every call."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

from watchdocker.auth.lockout import WrongCodes, count_wrong_code

MAX_BACKOFF_SECONDS = 60.0
# Beyond this many remembered names and addresses, those with nothing left to enforce go.
_PRUNE_ABOVE = 4096


@dataclass(frozen=True)
class Refusal:
    """Why an attempt is refused before it is checked, and until when (epoch seconds)."""

    key: str  # "user alice" or "address 10.0.0.7"
    until: float
    locked: bool  # False: only the backoff window between two attempts

    def seconds_left(self, now: float) -> int:
        return max(1, math.ceil(self.until - now))


def _backoff(failures: int) -> float:
    return 0.0 if failures < 2 else min(2.0 ** (failures - 2), MAX_BACKOFF_SECONDS)


class AttemptLimiter:
    """Failures per key (`user:<name>`, `address:<ip>`); thread-safe."""

    def __init__(self, attempts: int, period_seconds: float) -> None:
        self.attempts = attempts
        self.period = period_seconds
        self._records: dict[str, WrongCodes] = {}
        self._lock = threading.Lock()

    def _refusal(self, key: str, now: float) -> Refusal | None:
        record = self._records.get(key)
        if record is None:
            return None
        if (lock_end := record.lock_end(now)) is not None:
            return Refusal(key, lock_end, locked=True)
        recent = [t for t in record.at if now - self.period < t <= now]
        if recent:
            until = recent[-1] + _backoff(len(recent))
            if now < until:
                return Refusal(key, until, locked=False)
        return None

    def refusal(self, keys: list[str], now: float) -> Refusal | None:
        """The refusal that ends last among `keys`, None when an attempt may be checked."""
        with self._lock:
            found = [r for key in keys if (r := self._refusal(key, now)) is not None]
        return max(found, key=lambda r: r.until) if found else None

    def fail(self, keys: list[str], now: float) -> list[Refusal]:
        """Count a failure against every key; the locks it started."""
        started = []
        with self._lock:
            if len(self._records) > _PRUNE_ABOVE:
                self._prune(now)
            for key in keys:
                before = self._records.get(key, WrongCodes())
                after = count_wrong_code(before, now, self.attempts, self.period)
                self._records[key] = after
                if after.locked_since == now and before.locked_since != now:
                    assert after.locked_until is not None
                    started.append(Refusal(key, after.locked_until, locked=True))
        return started

    def succeed(self, keys: list[str]) -> None:
        """A right password or code: the failures before it no longer count (a lock stays,
        but a locked key is never checked, so never succeeds)."""
        with self._lock:
            for key in keys:
                self._records.pop(key, None)

    def _prune(self, now: float) -> None:
        for key in [k for k in self._records if self._refusal(k, now) is None]:
            record = self._records[key]
            if not record.at or record.at[-1] <= now - self.period:
                del self._records[key]


def limit_keys(username: str, address: str) -> list[str]:
    return [f"user {username}", f"address {address}"]


TEMP_TOKEN_CODE_ATTEMPTS = 3


class TokenCodeAttempts:
    """Wrong codes given with each temp token (by its `jti`): after `allowed` the token is
    refused and its holder logs in again, which the login limits count."""

    def __init__(self, allowed: int = TEMP_TOKEN_CODE_ATTEMPTS) -> None:
        self.allowed = allowed
        self._wrong: dict[str, tuple[int, float]] = {}  # jti -> (wrong codes, token expiry)
        self._lock = threading.Lock()

    def exhausted(self, token_id: str) -> bool:
        with self._lock:
            return self._wrong.get(token_id, (0, 0.0))[0] >= self.allowed

    def fail(self, token_id: str, expires_at: float, now: float) -> int:
        """Count a wrong code; how many the token has left."""
        with self._lock:
            # An expired token is refused anyway: its count need not be kept.
            for jti in [j for j, (_, end) in self._wrong.items() if end <= now]:
                del self._wrong[jti]
            wrong = self._wrong.get(token_id, (0, expires_at))[0] + 1
            self._wrong[token_id] = (wrong, expires_at)
        return max(0, self.allowed - wrong)
