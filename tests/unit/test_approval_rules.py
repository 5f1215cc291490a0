"""Who must approve, what they are shown, and how an answer is judged."""

from __future__ import annotations

import pyotp
from pydantic import SecretStr

from watchdocker.approval import (
    Answer,
    ApprovalDecision,
    Verdict,
    answer_record,
    chosen,
    decided,
    judge_answer,
    needs_approval,
    plan_markdown,
    plan_table,
    split_by_decision,
    with_attempts_left,
)
from watchdocker.update.plan import PlannedUpdate

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


def test_an_answer_decides_only_when_it_approves_or_rejects():
    subset = Answer("alice", "123456", True, ["db"])
    approved = decided(Verdict("approved", "approved by alice", 1), PLAN, subset)
    assert approved == ApprovalDecision(True, "approved by alice", [PLAN[1]])
    rejected = decided(Verdict("rejected", "rejected by alice", 1), PLAN, subset)
    assert rejected == ApprovalDecision(False, "rejected by alice")
    for refused in ("wrong_code", "locked"):
        assert decided(Verdict(refused, "no"), PLAN, subset) is None  # wait for another answer


def test_a_refused_code_says_how_many_attempts_are_left():
    wrong = Verdict("wrong_code", "wrong code for alice", guessed=True)
    assert with_attempts_left(wrong, 2).reason == "wrong code for alice; 2 attempts left"
    assert with_attempts_left(wrong, 1).reason == "wrong code for alice; 1 attempt left"
    last = with_attempts_left(Verdict("locked", "alice is locked"), 0)
    assert last.reason == "alice is locked; that was the last attempt: the update run is rejected"
    assert last.outcome == "locked"
    approved = Verdict("approved", "approved by alice", 7)
    assert with_attempts_left(approved, 0) == approved  # a decision has no attempts to count


def test_a_rejected_run_skips_every_container_it_asked_for():
    approved, skipped = split_by_decision(PLAN, ApprovalDecision(False, "no answer within 60s"))
    assert approved == set()
    assert [(r.name, r.result, r.reason) for r in skipped] == [
        ("web", "skipped", "not approved: no answer within 60s"),
        ("db", "skipped", "not approved: no answer within 60s"),
    ]


def test_an_approved_subset_skips_the_containers_left_out():
    decision = ApprovalDecision(True, "approved by alice", [PLAN[1]])
    approved, skipped = split_by_decision(PLAN, decision)
    assert approved == {"db"}
    assert [(r.name, r.image, r.result, r.reason) for r in skipped] == [
        ("web", "r/web:latest", "skipped", "not among the containers approved by alice")
    ]
    assert split_by_decision(PLAN, ApprovalDecision(True, "approved by bob", PLAN)) == (
        {"web", "db"},
        [],
    )


def test_the_artifacts_rows_hold_full_digests_and_the_answers():
    assert plan_table(PLAN) == [
        {"container": "web", "image": "r/web:latest", "current": "sha256:" + "a" * 64,
         "new": "sha256:" + "b" * 64},
        {"container": "db", "image": "r/db:16", "current": "", "new": "sha256:" + "d" * 64},
    ]  # fmt: skip
    row = answer_record(2, Answer("alice", "123456", True), Verdict("wrong_code", "bad"), NOW)
    assert row == {
        "attempt": "2",
        "approver": "alice",
        "outcome": "wrong_code",
        "reason": "bad",
        "at": "2027-01-15T08:00:00Z",
    }
    assert "123456" not in row.values()  # the code itself is never recorded
