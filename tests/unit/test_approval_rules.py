"""Who must approve, what they are shown, and how an answer is judged."""

from __future__ import annotations

import pyotp
from pydantic import SecretStr

from watchdocker.approval import Answer, chosen, judge_answer, needs_approval, plan_markdown
from watchdocker.update_plan import PlannedUpdate

SECRET = pyotp.random_base32(32)
NOW = 1_800_000_000.0
PLAN = [
    PlannedUpdate(container_id="1", name="web", image="r/web:latest",
                  remote_digest="sha256:" + "b" * 64, local_digest="sha256:" + "a" * 64),
    PlannedUpdate(container_id="2", name="db", image="r/db:16", remote_digest="sha256:" + "d" * 64),
]  # fmt: skip


def test_needs_approval_by_setting_request_or_label():
    assert not needs_approval(PLAN, "none", False)
    assert needs_approval(PLAN, "totp", False)
    assert needs_approval(PLAN, "none", True)
    labelled = PLAN[1].model_copy(update={"labels": {"watchdocker.approval": "totp"}})
    assert needs_approval([PLAN[0], labelled], "none", False)
    other = PLAN[1].model_copy(update={"labels": {"watchdocker.approval": "none"}})
    assert not needs_approval([PLAN[0], other], "none", False)
    assert not needs_approval([], "totp", True)  # nothing to change, nobody to ask


def test_plan_shows_containers_and_short_digests():
    text = plan_markdown(PLAN)
    assert "| web | r/web:latest | aaaaaaaaaaaa | bbbbbbbbbbbb |" in text
    assert "| db | r/db:16 | ? | dddddddddddd |" in text


def judge(answer: Answer, last: int | None = None, locked_until: float | None = None):
    secrets = {"alice": SecretStr(SECRET)}
    return judge_answer(answer, secrets, lambda _: last, lambda _: locked_until, at=NOW)


def test_a_current_code_approves_and_names_its_step():
    code = pyotp.TOTP(SECRET).at(NOW)
    verdict = judge(Answer("alice", code, True))
    assert (verdict.outcome, verdict.step) == ("approved", int(NOW // 30))
    assert verdict.reason == "approved by alice"


def test_replayed_wrong_and_unknown_are_wrong_codes():
    code = pyotp.TOTP(SECRET).at(NOW)
    assert judge(Answer("alice", code, True), last=int(NOW // 30)).outcome == "wrong_code"
    assert judge(Answer("alice", "000000" if code != "000000" else "111111", True)).outcome == (
        "wrong_code"
    )
    unknown = judge(Answer("mallory", code, True))
    assert unknown.outcome == "wrong_code" and "not an approver" in unknown.reason
    assert SECRET not in unknown.reason


def test_wrong_codes_of_an_approver_are_guesses_and_replays_are_not():
    code = pyotp.TOTP(SECRET).at(NOW)
    wrong = "000000" if code != "000000" else "111111"
    assert judge(Answer("alice", wrong, True)).guessed
    assert not judge(Answer("alice", code, True), last=int(NOW // 30)).guessed
    assert not judge(Answer("mallory", wrong, True)).guessed  # nobody to lock


def test_a_reject_needs_an_approver_and_their_valid_code():
    code = pyotp.TOTP(SECRET).at(NOW)
    verdict = judge(Answer("alice", code, False))
    assert (verdict.outcome, verdict.step) == ("rejected", int(NOW // 30))
    assert verdict.reason == "rejected by alice"
    assert judge(Answer("alice", "", False)).outcome == "wrong_code"
    assert judge(Answer("", "", False)).outcome == "wrong_code"
    assert judge(Answer("bob", code, False)).outcome == "wrong_code"
    assert judge(Answer("alice", code, False), last=int(NOW // 30)).outcome == "wrong_code"


def test_a_locked_approver_is_refused_even_with_the_right_code():
    code = pyotp.TOTP(SECRET).at(NOW)
    for approve in (True, False):
        verdict = judge(Answer("alice", code, approve), locked_until=NOW + 600)
        assert verdict.outcome == "locked" and verdict.refused and not verdict.guessed
        assert verdict.step is None
        assert "alice is locked" in verdict.reason
        assert verdict.reason.endswith("until 2027-01-15 08:10:00 UTC")


def test_an_answer_may_approve_a_subset():
    assert [p.name for p in chosen(PLAN, Answer("alice", "", True, ["db"]))] == ["db"]
    assert chosen(PLAN, Answer("alice", "", True, None)) == PLAN
