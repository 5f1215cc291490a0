"""Which containers an update run replaces, and the result contract."""

from __future__ import annotations

import pytest

from watchdocker.container_status import ContainerStatus
from watchdocker.update.plan import (
    UnknownContainers,
    UpdateReport,
    UpdateResult,
    dry_run_results,
    group_by_image,
    keep_only,
    plan_updates,
    replace_results,
    require_known,
    results_for,
)
from watchdocker.update.updater import ReplaceResult

D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64


def status(name, state, image="reg.local/app:latest", reason="", labels=None):
    remote = D2 if state in ("update_available", "up_to_date") else None
    return ContainerStatus(
        labels=labels or {},
        id=f"id-{name}",
        name=name,
        image=image,
        running=True,
        status=state,
        reason=reason,
        local_digest=D1,
        remote_digest=remote,
    )


SCAN = [
    status("web", "update_available"),
    status("web2", "update_available"),
    status("db", "up_to_date", image="reg.local/db:16"),
    status("pinned", "skipped", reason="pinned to digest"),
    status("broken", "error", reason="registry x: 401"),
    status(
        "stack-web",
        "update_available",
        image="reg.local/stack:1",
        labels={"com.docker.compose.project": "stack"},
    ),
]


def test_all_takes_every_update_and_skips_compose_by_default():
    planned, known = plan_updates(SCAN, None, allow_compose=False)
    assert [p.name for p in planned] == ["web", "web2"]
    assert planned[0].remote_digest == D2 and planned[0].container_id == "id-web"
    results = {r.name: r for r in known}
    assert [(r.name, r.result) for r in known] == [("broken", "skipped"), ("stack-web", "skipped")]
    assert "compose project 'stack'" in results["stack-web"].reason


def test_all_lists_a_container_it_could_not_check_as_skipped_not_failed():
    _, known = plan_updates(SCAN, None, allow_compose=True)
    [broken] = [r for r in known if r.name == "broken"]
    assert broken.result == "skipped"
    assert broken.reason == "scan failed, not updated: registry x: 401"


def test_compose_containers_when_allowed():
    planned, _ = plan_updates(SCAN, None, allow_compose=True)
    assert "stack-web" in [p.name for p in planned]


def test_named_containers_each_get_a_result():
    names = ["web", "db", "pinned", "broken", "ghost"]
    planned, known = plan_updates(SCAN, names, allow_compose=False)
    assert [p.name for p in planned] == ["web"]
    results = {r.name: r for r in known}
    assert results["db"].result == "up_to_date"
    assert results["pinned"].result == "skipped" and results["pinned"].reason == "pinned to digest"
    assert results["broken"].result == "failed" and "401" in results["broken"].reason
    assert (
        results["ghost"].result == "failed"
        and "no container named 'ghost'" in results["ghost"].reason
    )


def test_a_service_another_run_is_updating_is_skipped_not_failed():
    # Its old container was aside when the scan looked: no container had the name.
    holder = "an update of ghost by process 7 on vm is in progress (step renamed)"
    _, known = plan_updates(SCAN, ["ghost"], False, {"ghost": holder})
    assert [(r.result, r.reason) for r in known] == [("skipped", f"{holder}: nothing done")]


def test_one_image_is_updated_serially():
    planned, _ = plan_updates(SCAN, None, allow_compose=True)
    groups = group_by_image(planned)
    assert [[p.name for p in g] for g in groups] == [["web", "web2"], ["stack-web"]]


def test_report_ok_and_summary():
    report = UpdateReport(
        results=[
            UpdateResult(name="a", image="i", result="updated"),
            UpdateResult(name="b", image="i", result="rolled_back", reason="unhealthy"),
        ]
    )
    assert not report.ok and report.summary == "1 updated, 1 rolled back"
    assert UpdateReport(results=[]).summary == "nothing to update"
    assert set(UpdateResult(name="a", image="i", result="updated").model_dump()) == {
        "name",
        "image",
        "result",
        "reason",
        "old_image_id",
        "new_image_id",
    }


def test_a_dry_run_says_what_it_would_update_and_counts_it():
    planned, known = plan_updates(SCAN, ["web", "web2", "db"], allow_compose=False)
    rows = dry_run_results(planned)
    assert [(r.name, r.result, r.reason) for r in rows] == [
        ("web", "would_update", "111111111111 → 222222222222"),
        ("web2", "would_update", "111111111111 → 222222222222"),
    ]
    report = UpdateReport(results=known + rows)
    assert report.ok and report.summary == "2 would be updated"
    assert dry_run_results([]) == []


def test_known_names_pass():
    require_known(["web", "db"], {"web", "db", "other"})
    require_known([], set())


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["web", "ghost"], "no container named 'ghost': nothing was updated"),
        (["ghost", "web", "spook", "ghost"], "no containers named 'ghost', 'spook'"),
    ],
)
def test_unknown_names_are_all_named_in_one_line(names, message):
    with pytest.raises(UnknownContainers) as raised:
        require_known(names, {"web"})
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_planned_updates_carry_the_labels_discovery_found():
    labelled = status("gated", "update_available", labels={"watchdocker.approval": "totp"})
    [planned], _ = plan_updates([labelled], None, allow_compose=False)
    assert planned.labels == {"watchdocker.approval": "totp"}
    assert "labels" not in planned.model_dump()


def test_one_result_for_each_container_of_a_group():
    planned, _ = plan_updates(SCAN, None, allow_compose=True)
    rows = results_for(planned[:2], "failed", "pull failed, nothing changed: 404")
    assert [(r.name, r.image, r.result, r.reason) for r in rows] == [
        ("web", "reg.local/app:latest", "failed", "pull failed, nothing changed: 404"),
        ("web2", "reg.local/app:latest", "failed", "pull failed, nothing changed: 404"),
    ]
    assert results_for([], "skipped", "x") == []


def test_a_replacement_then_the_containers_joined_to_its_network():
    sidecar = ReplaceResult(name="sidecar", result="updated", image="r/side")
    probe = ReplaceResult(name="probe", result="failed", image="r/probe", reason="exit 1")
    done = ReplaceResult(
        name="web",
        result="updated",
        image="r/web",
        old_image_id="sha256:old",
        new_image_id="sha256:new",
        dependents=[sidecar, probe],
    )
    rows = replace_results(done)
    assert [(r.name, r.result, r.reason) for r in rows] == [
        ("web", "updated", ""),
        ("sidecar", "updated", "recreated to join the new web"),
        ("probe", "failed", "exit 1"),
    ]
    assert (rows[0].old_image_id, rows[0].new_image_id) == ("sha256:old", "sha256:new")


def test_only_the_approved_containers_of_the_pulled_groups_are_kept():
    planned, _ = plan_updates(SCAN, None, allow_compose=True)
    pulled = [(group, f"image-{group[0].image}") for group in group_by_image(planned)]
    kept = keep_only(pulled, {"web2"})
    assert [([p.name for p in g], image) for g, image in kept] == [
        (["web2"], "image-reg.local/app:latest")
    ]  # the stack's group, now empty, is gone
    assert keep_only(pulled, {"web", "web2", "stack-web"}) == pulled
