"""Brute-force limits: a growing wait between failures, then a lock for the period after
`attempts` failures within it, per user and per address; a temp token's few codes."""

from __future__ import annotations

from watchdocker.auth.attempt_limits import AttemptLimiter, TokenCodeAttempts, limit_keys

T = 1_000_000.0
KEYS = limit_keys("admin", "10.0.0.7")


def test_one_failure_costs_no_wait_then_the_wait_doubles():
    limits = AttemptLimiter(attempts=10, period_seconds=900)
    limits.fail(KEYS, T)
    assert limits.refusal(KEYS, T + 0.01) is None
    limits.fail(KEYS, T + 1)
    refused = limits.refusal(KEYS, T + 1.5)
    assert refused is not None and not refused.locked and refused.until == T + 2
    assert limits.refusal(KEYS, T + 2) is None
    limits.fail(KEYS, T + 2)
    assert limits.refusal(KEYS, T + 3.9) is not None
    assert limits.refusal(KEYS, T + 4) is None


def test_attempts_failures_in_the_period_lock_for_the_period():
    limits = AttemptLimiter(attempts=3, period_seconds=60)
    assert limits.fail(KEYS, T) == []
    assert limits.fail(KEYS, T + 10) == []
    started = limits.fail(KEYS, T + 20)
    assert {r.key for r in started} == {"user admin", "address 10.0.0.7"}
    refused = limits.refusal(KEYS, T + 79)
    assert refused is not None and refused.locked and refused.until == T + 80
    assert refused.seconds_left(T + 79) == 1
    assert limits.refusal(KEYS, T + 80) is None


def test_failures_outside_the_period_do_not_add_up():
    limits = AttemptLimiter(attempts=3, period_seconds=60)
    limits.fail(KEYS, T)
    limits.fail(KEYS, T + 30)
    assert limits.fail(KEYS, T + 100) == []
    assert limits.refusal(KEYS, T + 100.5) is None


def test_the_user_is_locked_from_every_address_and_the_address_for_every_user():
    limits = AttemptLimiter(attempts=2, period_seconds=60)
    limits.fail(limit_keys("admin", "10.0.0.1"), T)
    limits.fail(limit_keys("admin", "10.0.0.2"), T + 5)
    refused = limits.refusal(limit_keys("admin", "10.0.0.3"), T + 10)
    assert refused is not None and refused.key == "user admin" and refused.locked
    assert limits.refusal(limit_keys("bob", "10.0.0.3"), T + 10) is None
    limits.fail(limit_keys("carol", "10.0.0.9"), T)
    limits.fail(limit_keys("dave", "10.0.0.9"), T + 5)
    refused = limits.refusal(limit_keys("erin", "10.0.0.9"), T + 10)
    assert refused is not None and refused.key == "address 10.0.0.9"


def test_success_forgets_the_failures_but_not_a_lock():
    limits = AttemptLimiter(attempts=3, period_seconds=60)
    limits.fail(KEYS, T)
    limits.fail(KEYS, T + 10)
    limits.succeed(KEYS)
    assert limits.fail(KEYS, T + 20) == []
    assert limits.refusal(KEYS, T + 20.5) is None


def test_a_temp_token_has_three_wrong_codes():
    codes = TokenCodeAttempts()
    assert not codes.exhausted("jti-1")
    assert codes.fail("jti-1", expires_at=T + 900, now=T) == 2
    assert codes.fail("jti-1", expires_at=T + 900, now=T + 1) == 1
    assert not codes.exhausted("jti-1")
    assert codes.fail("jti-1", expires_at=T + 900, now=T + 2) == 0
    assert codes.exhausted("jti-1")
    assert not codes.exhausted("jti-2")
    # An expired token's count is dropped on the next failure of any token.
    codes.fail("jti-2", expires_at=T + 2000, now=T + 1000)
    assert not codes.exhausted("jti-1")
