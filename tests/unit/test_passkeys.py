"""Passkeys' core with a software authenticator (tests/soft_authenticator.py): options on the wire
as py_webauthn's options_to_json writes them, challenges single use and valid 60 s, registration
and assertion checked against origin and RP ID, sign counters that must grow, a passkey bound to
the RP ID it was made on, and the store that keeps them (0600, across instances)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from soft_authenticator import SoftAuthenticator
from webauthn.helpers import base64url_to_bytes

from watchdocker.auth.passkey_store import Passkey, PasskeyExists, PasskeyStore, PasskeyStoreError
from watchdocker.auth.passkeys import (
    CHALLENGE_BYTES,
    Ceremony,
    Challenges,
    NoCeremony,
    PasskeyRejected,
    authentication_options,
    registration_options,
    verify_authentication,
    verify_registration,
)
from watchdocker.auth.relying_party import RelyingParty

LOCAL = RelyingParty("localhost", "http://localhost:8080")
PROXIED = RelyingParty("watch.example", "https://watch.example")
HANDLE = b"h" * 32
NOW = 1_800_000_000.0


def enrol(authenticator: SoftAuthenticator, rp: RelyingParty, existing: list[Passkey]) -> Passkey:
    challenge = b"c" * CHALLENGE_BYTES
    options = registration_options(rp, "admin", HANDLE, existing, challenge)
    answer = authenticator.create(options, rp.origin)
    return verify_registration(rp, challenge, answer, "laptop", NOW)


def assert_with(
    authenticator: SoftAuthenticator,
    rp: RelyingParty,
    passkeys: list[Passkey],
    *,
    browser_rp_id: str | None = None,
    browser_origin: str | None = None,
) -> int:
    challenge = b"a" * CHALLENGE_BYTES
    options = authentication_options(rp, passkeys, challenge)
    answer = authenticator.get(options, browser_origin or rp.origin, rp_id=browser_rp_id)
    return verify_authentication(rp, challenge, answer, passkeys).sign_count


def test_registration_options_are_the_level_3_json_form():
    old = Passkey("b2xk", "key", 0, "localhost", "2026-01-01T00:00:00+00:00", "old")
    elsewhere = Passkey("ZWxzZQ", "key", 0, "watch.example", "2026-01-01T00:00:00+00:00", "x")
    challenge = bytes(range(32))
    options = registration_options(LOCAL, "admin", HANDLE, [old, elsewhere], challenge)
    assert base64url_to_bytes(options["challenge"]) == challenge
    assert options["rp"] == {"name": "watch-docker", "id": "localhost"}
    assert base64url_to_bytes(options["user"]["id"]) == HANDLE
    assert options["user"]["name"] == "admin"
    assert options["timeout"] == 60000 and options["attestation"] == "none"
    # Platform and cross-platform authenticators: no attachment asked for.
    assert options["authenticatorSelection"] == {
        "residentKey": "preferred",
        "requireResidentKey": False,
        "userVerification": "preferred",
    }
    # Only the user's passkeys of this RP ID are excluded.
    assert options["excludeCredentials"] == [{"id": "b2xk", "type": "public-key"}]
    assert {"type": "public-key", "alg": -7} in options["pubKeyCredParams"]


def test_authentication_options_allow_only_this_rp_ids_passkeys():
    here = Passkey("aGVyZQ", "key", 3, "localhost", "2026-01-01T00:00:00+00:00", "a")
    usb = Passkey("dXNi", "key", 3, "localhost", "2026-01-01T00:00:00+00:00", "c", ["usb", "x"])
    there = Passkey("dGhlcmU", "key", 0, "watch.example", "2026-01-01T00:00:00+00:00", "b")
    options = authentication_options(LOCAL, [here, usb, there], b"x" * 32)
    assert options["rpId"] == "localhost" and options["userVerification"] == "preferred"
    # With the transports each authenticator named (those a browser knows), as a hint.
    assert options["allowCredentials"] == [
        {"id": "aGVyZQ", "type": "public-key"},
        {"id": "dXNi", "type": "public-key", "transports": ["usb"]},
    ]
    assert base64url_to_bytes(options["challenge"]) == b"x" * 32


def test_a_registered_passkey_signs_in_and_its_counter_grows():
    authenticator = SoftAuthenticator()
    passkey = enrol(authenticator, LOCAL, [])
    assert (passkey.rp_id, passkey.name, passkey.sign_count) == ("localhost", "laptop", 0)
    assert passkey.transports == ["internal"]
    assert passkey.created_at == "2027-01-15T08:00:00+00:00"
    assert assert_with(authenticator, LOCAL, [passkey]) == 1


def test_registration_is_refused_for_another_challenge_origin_or_rp_id():
    authenticator = SoftAuthenticator()
    options = registration_options(LOCAL, "admin", HANDLE, [], b"c" * 32)
    answer = authenticator.create(options, LOCAL.origin)
    with pytest.raises(PasskeyRejected, match="challenge"):
        verify_registration(LOCAL, b"d" * 32, answer, "x", NOW)
    with pytest.raises(PasskeyRejected, match="origin"):
        other_port = RelyingParty("localhost", "http://localhost:9090")
        verify_registration(other_port, b"c" * 32, answer, "x", NOW)
    phished = authenticator.create(options, LOCAL.origin, rp_id="evil.example")
    with pytest.raises(PasskeyRejected, match="RP ID"):
        verify_registration(LOCAL, b"c" * 32, phished, "x", NOW)
    with pytest.raises(PasskeyRejected, match=r"malformed|not accepted"):
        verify_registration(LOCAL, b"c" * 32, {"id": "x"}, "x", NOW)


def test_a_counter_that_does_not_grow_is_a_cloned_authenticator():
    authenticator = SoftAuthenticator()
    passkey = enrol(authenticator, LOCAL, [])
    stored = Passkey(**{**passkey.__dict__, "sign_count": 5})
    authenticator.passkeys[0].counter = 4  # the clone answers with 5, no more than stored
    with pytest.raises(PasskeyRejected, match=r"sign count.*cloned authenticator"):
        assert_with(authenticator, LOCAL, [stored])
    authenticator.passkeys[0].counter = 5
    assert assert_with(authenticator, LOCAL, [stored]) == 6


def test_a_counter_that_stays_zero_on_both_sides_is_accepted():
    # Many platform passkeys never count: 0 after 0 is not a regression.
    authenticator = SoftAuthenticator(counts=False)
    passkey = enrol(authenticator, LOCAL, [])
    assert assert_with(authenticator, LOCAL, [passkey]) == 0
    assert assert_with(authenticator, LOCAL, [passkey]) == 0


def test_a_passkey_is_bound_to_the_rp_id_it_was_made_on():
    authenticator = SoftAuthenticator()
    local = enrol(authenticator, LOCAL, [])
    proxied = enrol(authenticator, PROXIED, [local])  # one user, several RP IDs
    # Offered on its own RP ID only...
    assert authentication_options(PROXIED, [local, proxied], b"x" * 32)["allowCredentials"] == [
        {"id": proxied.id, "type": "public-key", "transports": ["internal"]}
    ]
    assert assert_with(authenticator, PROXIED, [local, proxied]) == 1
    # ...and the localhost passkey answering on watch.example is refused, whatever RP ID its
    # authenticator data names.
    challenge = b"a" * 32
    options = authentication_options(PROXIED, [local, proxied], challenge)
    for rp_id in ("localhost", "watch.example"):
        answer = authenticator.get(
            options, PROXIED.origin, rp_id=rp_id, passkey=authenticator.passkeys[0]
        )
        with pytest.raises(PasskeyRejected, match=r"not registered for watch\.example"):
            verify_authentication(PROXIED, challenge, answer, [local, proxied])


def test_an_assertion_from_another_origin_rp_id_or_key_is_refused():
    authenticator = SoftAuthenticator()
    passkey = enrol(authenticator, LOCAL, [])
    with pytest.raises(PasskeyRejected, match="origin"):
        assert_with(authenticator, LOCAL, [passkey], browser_origin="http://evil.example:8080")
    with pytest.raises(PasskeyRejected, match="RP ID"):
        assert_with(authenticator, LOCAL, [passkey], browser_rp_id="evil.example")
    impostor = SoftAuthenticator()
    enrol(impostor, LOCAL, [])
    impostor.passkeys[0].id = authenticator.passkeys[0].id  # same id, another key
    with pytest.raises(PasskeyRejected, match="signature"):
        assert_with(impostor, LOCAL, [passkey])
    with pytest.raises(PasskeyRejected, match="malformed"):
        verify_authentication(LOCAL, b"a" * 32, {"id": passkey.id}, [passkey])


def test_challenges_are_32_random_bytes_used_once():
    challenges = Challenges()
    first = challenges.issue("admin", "localhost", Ceremony.AUTHENTICATION, NOW)
    assert len(first) == 32
    assert challenges.issue("admin", "localhost", Ceremony.AUTHENTICATION, NOW) != first
    challenge = challenges.issue("admin", "localhost", Ceremony.AUTHENTICATION, NOW)
    assert challenges.take("admin", "localhost", Ceremony.AUTHENTICATION, NOW + 1) == challenge
    with pytest.raises(NoCeremony, match="used once"):
        challenges.take("admin", "localhost", Ceremony.AUTHENTICATION, NOW + 1)


def test_challenges_are_kept_per_user_rp_id_and_ceremony():
    challenges = Challenges()
    mine = challenges.issue("admin", "localhost", Ceremony.REGISTRATION, NOW)
    for user, rp_id, ceremony in [
        ("bob", "localhost", Ceremony.REGISTRATION),
        ("admin", "watch.example", Ceremony.REGISTRATION),
        ("admin", "localhost", Ceremony.AUTHENTICATION),
    ]:
        with pytest.raises(NoCeremony):
            challenges.take(user, rp_id, ceremony, NOW)
    assert challenges.take("admin", "localhost", Ceremony.REGISTRATION, NOW) == mine


def test_a_challenge_expires_after_60_seconds():
    challenges = Challenges()
    challenge = challenges.issue("admin", "localhost", Ceremony.REGISTRATION, NOW)
    assert challenges.take("admin", "localhost", Ceremony.REGISTRATION, NOW + 59.9) == challenge
    challenges.issue("admin", "localhost", Ceremony.REGISTRATION, NOW)
    with pytest.raises(NoCeremony, match="expired"):
        challenges.take("admin", "localhost", Ceremony.REGISTRATION, NOW + 60)
    # An expired challenge is gone for good, and others' go when a new one is issued.
    with pytest.raises(NoCeremony, match="used once"):
        challenges.take("admin", "localhost", Ceremony.REGISTRATION, NOW + 60)
    challenges.issue("bob", "localhost", Ceremony.REGISTRATION, NOW)
    challenges.issue("carol", "localhost", Ceremony.REGISTRATION, NOW + 61)
    with pytest.raises(NoCeremony, match="used once"):
        challenges.take("bob", "localhost", Ceremony.REGISTRATION, NOW + 61)


def test_the_store_keeps_passkeys_per_user_in_a_private_file(tmp_path: Path):
    store = PasskeyStore.in_state_dir(tmp_path)
    assert store.passkeys("admin") == []
    authenticator = SoftAuthenticator()
    local = enrol(authenticator, LOCAL, [])
    proxied = enrol(authenticator, PROXIED, [])
    store.add("admin", local)
    store.add("admin", proxied)
    with pytest.raises(PasskeyExists):
        store.add("admin", local)
    handle = store.user_handle("admin")
    assert len(handle) == 32 and store.user_handle("bob") != handle
    store.set_sign_count("admin", local.id, 7)
    path = tmp_path / "api" / "passkeys.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # Another instance (serve restarted) reads the same.
    again = PasskeyStore.in_state_dir(tmp_path)
    assert again.user_handle("admin") == handle
    assert [p.sign_count for p in again.passkeys("admin")] == [7, 0]
    assert again.passkeys("admin", "watch.example") == [proxied]
    assert again.passkeys("bob") == []
    assert again.remove("admin", local.id) == 1 and again.passkeys("admin") == [proxied]
    assert again.remove("admin", "nope") == 0
    assert again.remove("admin") == 1 and again.passkeys("admin") == []


def test_what_a_user_is_shown_of_a_passkey_holds_no_key():
    passkey = enrol(SoftAuthenticator(), LOCAL, [])
    assert passkey.info() == {
        "id": passkey.id,
        "name": "laptop",
        "rpId": "localhost",
        "createdAt": "2027-01-15T08:00:00+00:00",
    }


def test_a_broken_store_fails_closed(tmp_path: Path):
    store = PasskeyStore(tmp_path / "passkeys.json")
    store.path.write_text("{not json")
    with pytest.raises(PasskeyStoreError, match="cannot be read"):
        store.passkeys("admin")
    store.path.write_text('{"users": {"admin": {"passkeys": [{"id": "x"}]}}}')
    with pytest.raises(PasskeyStoreError, match="malformed"):
        store.passkeys("admin")
    store.path.write_text("[]")
    with pytest.raises(PasskeyStoreError, match="does not hold passkeys"):
        store.passkeys("admin")
