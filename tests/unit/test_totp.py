"""TOTP (RFC 6238) as approvals use it: codes at fixed times, the one-step tolerance, replay
refusal, secret validation, the enrollment URI and QR code - and no secret in any message."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, unquote, urlsplit

import pyotp
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from watchdocker.auth.totp import (
    TotpError,
    generate_secret,
    matching_step,
    provisioning_uri,
    qr_text,
    validate_secret,
    verify_code,
)
from watchdocker.blocks.totp import VARIABLE_PREFIX, approver_secrets, replay_variable_name
from watchdocker.config import Settings

# RFC 6238 appendix B's SHA-1 seed, "12345678901234567890" (160 bits), in base32.
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
# Its published 8-digit values; the 6-digit codes are their last six digits (RFC 4226 5.3).
RFC_VECTORS = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]
T0 = 1_700_000_015.0  # the middle of step 56_666_667
STEP = int(T0 // 30)

base32_secrets = st.binary(min_size=20, max_size=64).map(lambda b: base64.b32encode(b).decode())
times = st.floats(min_value=120, max_value=4_000_000_000, allow_nan=False)


def code_at(secret: str, step: int) -> str:
    return pyotp.TOTP(secret).generate_otp(step)


@pytest.mark.parametrize(("at", "eight_digits"), RFC_VECTORS)
def test_rfc_6238_test_vectors(at: int, eight_digits: str) -> None:
    assert matching_step(RFC_SECRET, eight_digits[-6:], at=at) == at // 30


def test_code_of_now_matches_this_step() -> None:
    secret = generate_secret()
    code = pyotp.TOTP(secret).at(T0)
    assert matching_step(secret, code, at=T0) == STEP
    assert verify_code(secret, code, None, at=T0) == STEP


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_one_step_either_side_is_accepted(offset: int) -> None:
    secret = generate_secret()
    code = pyotp.TOTP(secret).at(T0, counter_offset=offset)
    assert matching_step(secret, code, at=T0) == STEP + offset
    assert verify_code(secret, code, STEP - 2, at=T0) == STEP + offset


@pytest.mark.parametrize("offset", [-2, 2, -3, 3])
def test_two_steps_away_is_refused(offset: int) -> None:
    secret = RFC_SECRET
    code = pyotp.TOTP(secret).at(T0, counter_offset=offset)
    # Fixed secret and time: these codes differ from the three accepted ones (checked here).
    assert code not in {code_at(secret, STEP + d) for d in (-1, 0, 1)}
    assert matching_step(secret, code, at=T0) is None
    with pytest.raises(TotpError, match=r"^wrong code$"):
        verify_code(secret, code, None, at=T0)


def test_window_edges_follow_step_boundaries() -> None:
    secret = RFC_SECRET  # fixed: its codes around STEP are all different
    assert len({code_at(secret, STEP + d) for d in range(-1, 4)}) == 5
    start = STEP * 30.0
    code = code_at(secret, STEP)
    assert matching_step(secret, code, at=start - 30) == STEP  # one step early: tolerated
    assert matching_step(secret, code, at=start + 59.999) == STEP  # one step late: tolerated
    assert matching_step(secret, code, at=start + 60) is None


def test_replay_of_the_same_step_is_refused() -> None:
    secret = generate_secret()
    code = pyotp.TOTP(secret).at(T0)
    used = verify_code(secret, code, None, at=T0)
    with pytest.raises(TotpError, match=r"^code already used$"):
        verify_code(secret, code, used, at=T0)
    # ... still, a few seconds later, while the code is within tolerance.
    with pytest.raises(TotpError, match=r"^code already used$"):
        verify_code(secret, code, used, at=T0 + 25)


def test_an_older_code_than_the_last_used_is_refused() -> None:
    secret = generate_secret()
    newer = verify_code(secret, code_at(secret, STEP + 1), None, at=T0)
    with pytest.raises(TotpError, match=r"^code already used$"):
        verify_code(secret, code_at(secret, STEP), newer, at=T0)
    with pytest.raises(TotpError, match=r"^code already used$"):
        verify_code(secret, code_at(secret, STEP - 1), newer, at=T0)


def test_the_next_step_after_a_used_one_is_accepted() -> None:
    secret = generate_secret()
    assert verify_code(secret, code_at(secret, STEP + 1), STEP, at=T0) == STEP + 1


FULLWIDTH = "\uff11\uff12\uff13\uff14\uff15\uff16"  # digits NFKC would take for 123456


@pytest.mark.parametrize(
    "code",
    ["", "12345", "1234567", "12345a", "abcdef", "-12345", "+12345", "12.456", FULLWIDTH],
)
def test_anything_but_six_ascii_digits_matches_nothing(code: str) -> None:
    assert matching_step(RFC_SECRET, code, at=T0) is None
    with pytest.raises(TotpError, match=r"^wrong code$"):
        verify_code(RFC_SECRET, code, None, at=T0)


def test_codes_as_typed_are_accepted() -> None:
    code = code_at(RFC_SECRET, STEP)
    for typed in (f" {code}\n", f"{code[:3]} {code[3:]}"):
        assert matching_step(RFC_SECRET, typed, at=T0) == STEP


def test_leading_zeros_are_part_of_the_code() -> None:
    # Some step of the RFC secret has a code starting with 0; it must not be taken as 5 digits.
    step = next(s for s in range(STEP, STEP + 1000) if code_at(RFC_SECRET, s).startswith("0"))
    code = code_at(RFC_SECRET, step)
    assert matching_step(RFC_SECRET, code, at=step * 30) == step
    assert matching_step(RFC_SECRET, code.lstrip("0"), at=step * 30) is None


def test_generated_secrets_are_160_bits_of_base32() -> None:
    secrets = {generate_secret() for _ in range(50)}
    assert len(secrets) == 50
    for secret in secrets:
        assert len(secret) == 32
        assert len(base64.b32decode(secret)) == 20
        assert validate_secret(secret) == secret


def test_validate_normalises() -> None:
    secret = generate_secret()
    grouped = " ".join(secret[i : i + 4] for i in range(0, 32, 4)).lower()
    assert validate_secret(grouped) == secret
    assert validate_secret(f"{secret}\n") == secret
    odd = base64.b32encode(b"x" * 21).decode()  # 21 bytes: 34 characters and 6 "="
    assert odd.endswith("=")
    assert validate_secret(odd) == odd.rstrip("=")
    assert validate_secret(odd.rstrip("=")) == odd.rstrip("=")


@pytest.mark.parametrize(
    ("secret", "bits"),
    [
        ("", 0),
        ("JBSWY3DPEHPK3PXP", 80),  # the ubiquitous example secret
        (base64.b32encode(b"x" * 19).decode(), 152),
    ],
)
def test_short_secrets_are_refused(secret: str, bits: int) -> None:
    with pytest.raises(TotpError, match=rf"^TOTP secret has only {bits} bits; at least 160$"):
        validate_secret(secret)


@pytest.mark.parametrize(
    "secret",
    [
        "A" * 31 + "1",  # 1 is not in the base32 alphabet (nor 0, 8, 9)
        "A" * 31 + "!",
        "A" * 16 + "=" + "A" * 16,  # padding only at the end
        "A" * 33,  # 33 characters are no whole number of bytes
    ],
)
def test_non_base32_secrets_are_refused(secret: str) -> None:
    with pytest.raises(TotpError, match="not base32"):
        validate_secret(secret)


def test_unusable_secret_raises_rather_than_refusing_the_code() -> None:
    with pytest.raises(TotpError, match="only 80 bits"):
        matching_step("JBSWY3DPEHPK3PXP", "123456", at=T0)
    with pytest.raises(TotpError, match="only 80 bits"):
        verify_code("JBSWY3DPEHPK3PXP", "123456", None, at=T0)


def test_provisioning_uri_format() -> None:
    secret = generate_secret()
    uri = provisioning_uri(secret.lower(), "alice")
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert unquote(parts.path) == "/watch-docker:alice"
    query = parse_qs(parts.query)
    assert query["secret"] == [secret]  # normalised
    assert query["issuer"] == ["watch-docker"]
    # Defaults (SHA1, 6 digits, 30 s) are left out, as Google's Key Uri Format allows.
    assert set(query) <= {"secret", "issuer", "algorithm", "digits", "period"}
    assert pyotp.parse_uri(uri).at(T0) == pyotp.TOTP(secret).at(T0)


def test_provisioning_uri_quotes_issuer_and_label() -> None:
    uri = provisioning_uri(RFC_SECRET, "ops team", issuer="ACME Corp")
    parts = urlsplit(uri)
    assert parts.path == "/ACME%20Corp:ops%20team"
    assert parse_qs(parts.query)["issuer"] == ["ACME Corp"]
    with pytest.raises(TotpError, match="approver name is empty"):
        provisioning_uri(RFC_SECRET, " ")
    with pytest.raises(TotpError, match="only 80 bits"):
        provisioning_uri("JBSWY3DPEHPK3PXP", "alice")


def test_qr_text_is_a_printable_block_drawing() -> None:
    text = qr_text(provisioning_uri(generate_secret(), "default"))
    lines = text.splitlines()
    assert len(lines) > 10
    assert len({len(line) for line in lines}) == 1  # a rectangle
    assert len(lines[0]) <= 80  # fits a terminal
    assert set(text) <= {" ", "\u2580", "\u2584", "\u2588", "\n"}
    assert len(set(text) - {"\n"}) > 1


@settings(max_examples=200, deadline=None)
@given(secret=base32_secrets, at=times, offset=st.sampled_from([-1, 0, 1]))
def test_any_secret_accepts_its_codes_within_one_step(secret: str, at: float, offset: int) -> None:
    now = int(at // 30)
    step = now + offset
    # A code equal in two windows (about 1 in 10^6) matches the later one: not this test's case.
    assume(len({code_at(secret, now + d) for d in (-1, 0, 1)}) == 3)
    assert matching_step(secret, code_at(secret, step), at=at) == step


@settings(max_examples=200, deadline=None)
@given(secret=base32_secrets, at=times, offset=st.sampled_from([-3, -2, 2, 3]))
def test_any_secret_refuses_codes_further_away(secret: str, at: float, offset: int) -> None:
    now = int(at // 30)
    code = code_at(secret, now + offset)
    assume(code not in {code_at(secret, now + d) for d in (-1, 0, 1)})  # a 6-digit collision
    assert matching_step(secret, code, at=at) is None


def _all_messages(secret: str, code: str) -> list[str]:
    messages = []
    for call in (
        lambda: validate_secret(secret),
        lambda: matching_step(secret, code, at=T0),
        lambda: verify_code(secret, code, None, at=T0),
        lambda: verify_code(secret, code, STEP + 5, at=T0),
        lambda: provisioning_uri(secret, ""),
    ):
        try:
            call()
        except TotpError as exc:
            messages.append(str(exc))
    return messages


@settings(max_examples=300, deadline=None)
@given(
    secret=st.one_of(
        base32_secrets,
        st.binary(min_size=5, max_size=19).map(lambda b: base64.b32encode(b).decode()),
        st.text(min_size=8, max_size=64),
    ),
    code=st.one_of(st.text(max_size=10), st.from_regex(r"[0-9]{6}", fullmatch=True)),
)
def test_no_message_holds_the_secret(secret: str, code: str) -> None:
    # A secret of 8 characters or more cannot appear by chance in these short messages.
    assume(len(secret.strip()) >= 8)
    normalised = "".join(secret.split()).upper().rstrip("=")
    assume(len(normalised) >= 8)
    for message in _all_messages(secret, code):
        assert secret not in message
        assert normalised not in message
        assert normalised.lower() not in message.lower()


def test_replay_variable_names_are_valid_and_distinct() -> None:
    names = ["default", "bob", "Bob", "a.b", "a_b", "ops team", "x" * 300, "ü"]
    variables = [replay_variable_name(name) for name in names]
    assert variables[0] == f"{VARIABLE_PREFIX}default"
    assert len(set(variables)) == len(names)
    for variable in variables:
        assert variable.startswith(VARIABLE_PREFIX)
        assert len(variable) <= 255
        assert set(variable) <= set("abcdefghijklmnopqrstuvwxyz0123456789-_")


def test_approver_secrets_from_the_configuration() -> None:
    first, second = generate_secret(), generate_secret()
    settings_ = Settings(
        twofa={"users": {"default": {"otpSecret": first}, "ops": {"otpSecret": second}}}
    )
    secrets = approver_secrets(settings_, include_blocks=False)
    assert {name: s.get_secret_value() for name, s in secrets.items()} == {
        "default": first,
        "ops": second,
    }
    assert all(isinstance(s, SecretStr) for s in secrets.values())


def test_watch_totp_secret_is_approver_default(monkeypatch: pytest.MonkeyPatch) -> None:
    from watchdocker.config import load_settings

    secret = generate_secret()
    monkeypatch.setenv("WATCH_TOTP_SECRET", secret)
    monkeypatch.setenv("WATCH_CONFIG", "/dev/null")
    secrets = approver_secrets(load_settings(), include_blocks=False)
    assert secrets["default"].get_secret_value() == secret


def test_qr_text_draws_the_code_of_the_uri() -> None:
    # Read the half blocks back into modules: it must be segno's matrix for the URI, with the
    # standard 4-module quiet zone (light) around it.
    import segno

    uri = provisioning_uri(generate_secret(), "default")
    halves = {" ": (1, 1), "\u2580": (0, 1), "\u2584": (1, 0), "\u2588": (0, 0)}  # 1: dark
    rows: list[list[int]] = []
    for line in qr_text(uri).splitlines():
        pairs = [halves[char] for char in line]
        rows += [[top for top, _ in pairs], [bottom for _, bottom in pairs]]
    expected = [[0] * 4 + list(row) + [0] * 4 for row in segno.make(uri, micro=False).matrix]
    width = len(expected[0])
    expected = [[0] * width] * 4 + expected + [[0] * width] * 4
    assert rows[: len(expected)] == expected
    # An odd number of rows: the last line's lower half is left blank (terminal background).
    assert all(all(row) for row in rows[len(expected) :])


def test_codes_of_the_first_steps_of_the_epoch() -> None:
    # No step -1 to compare with at t < 30: it is skipped, not an error.
    assert matching_step(RFC_SECRET, code_at(RFC_SECRET, 0), at=0) == 0
    assert matching_step(RFC_SECRET, code_at(RFC_SECRET, 1), at=29.9) == 1
