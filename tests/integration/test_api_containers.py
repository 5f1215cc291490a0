"""The API's container, image and metrics routes over real HTTP against `watch-docker serve`
on the real engine: the list after a scan (the deployment's run, and `?refresh=true` as a
flow run in serve), start, stop and delete of containers this test created, images, /metrics,
and every error as a BaseRes with its HTTP status."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from conftest import (
    SERVE_HOMES,
    SERVE_HTTP,
    answer,
    api_request,
    deployments,
    finished_run,
    run_deployment,
)
from prometheus_client.parser import text_string_to_metric_families

import testbed as tb

pytestmark = pytest.mark.integration


class Api:
    """The HTTP API of the module's serve, with the local credential the CLI uses."""

    def __init__(self, prefect_api: str) -> None:
        self.base = SERVE_HTTP[prefect_api]
        state = SERVE_HOMES[prefect_api].parent
        token = (state / "api" / "local-credential").read_text().strip()
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        kwargs.setdefault("timeout", 120)
        return httpx.request(method, self.base + path, headers=self.headers, **kwargs)  # type: ignore[arg-type]


def listed(api: Api, **params: str) -> dict[str, dict]:
    body = answer(api.call("GET", "/api/containers", params=params), 200, 0)
    return {c["name"]: c for c in body["data"]["containers"]}


# The image of every container created here: on the open registry of the bed, so that a
# scan (serve's schedule may start one at any time) never looks beyond it.
IMAGE = tb.repo("open", "api-new") + ":latest"


def name(suffix: str) -> str:
    return f"wdt-{tb.RUN_ID}-{suffix}"


@pytest.fixture(scope="module")
def api(served) -> Iterator[Api]:
    prefect_api, _ = served
    yield Api(prefect_api)


@pytest.fixture(scope="module")
def scanned(served, api: Api) -> Iterator[tuple[str, str]]:
    """An outdated and a current container, scanned by a run of the `scan` deployment (in the
    Runner's subprocess)."""
    prefect_api, _ = served
    outdated, _, _ = tb.outdated_container("api-old")
    current = tb.current_container("api-new")
    state = finished_run(prefect_api, run_deployment(prefect_api, "scan"))
    assert state["state_type"] == "COMPLETED", state
    yield outdated, current


def test_routes_need_a_token_but_metrics_is_open_on_loopback(api: Api):
    for method, path in [
        ("GET", "/api/containers"),
        ("POST", "/api/containers/x/start"),
        ("POST", "/api/containers/x/stop"),
        ("DELETE", "/api/containers/x"),
        ("GET", "/api/images"),
        ("DELETE", "/api/images"),
    ]:
        response = httpx.request(method, api.base + path, timeout=10)
        answer(response, 401, 40101)
        wrong = httpx.request(method, api.base + path, headers={"Authorization": "Bearer x"})
        answer(wrong, 401, 40101)
    assert httpx.get(api.base + "/metrics", timeout=10).status_code == 200


def test_the_list_is_the_scan_merged_with_live_state(api: Api, scanned: tuple[str, str]):
    outdated, current = scanned
    found = listed(api)
    assert found[outdated]["status"] == "update_available"
    assert found[outdated]["remote_digest"].startswith("sha256:")
    assert found[current]["status"] == "up_to_date"
    assert found[current]["running"] is True and found[current]["state"] == "running"
    assert set(found[current]) == {
        "id", "name", "image", "running", "status", "reason", "local_digest", "remote_digest",
        "state",
    }  # fmt: skip
    # Created after the scan: unknown; stopped since: its status stays, running is live.
    late = name("api-late")
    tb.run_container(IMAGE, *tb.STOPPABLE_SLEEP, name=late)
    tb.docker_cli("stop", "-t", "1", current)
    try:
        found = listed(api)
        assert found[late]["status"] == "unknown"
        assert found[late]["reason"] == "created since the last scan"
        assert found[current]["status"] == "up_to_date"
        assert found[current]["running"] is False and found[current]["state"] == "exited"
    finally:
        tb.docker_cli("rm", "-f", late)
        tb.docker_cli("start", current)
    assert late not in listed(api)  # gone: dropped


def scan_runs(prefect_api: str) -> list[dict]:
    """The runs of serve's `scan` deployment."""
    scan_deployment = deployments(prefect_api)["scan"]["id"]
    return api_request(
        prefect_api,
        "POST",
        "/flow_runs/filter",
        json={"flow_runs": {"deployment_id": {"any_": [scan_deployment]}}},
    ).json()


def test_the_list_runs_no_scan(served, api: Api, scanned: tuple[str, str]):
    # What makes it answer in milliseconds (bench/api.py measures it): the saved result and
    # one engine call, no flow run and no registry.
    prefect_api, _ = served
    before = len(scan_runs(prefect_api))
    for _ in range(3):
        listed(api)
    assert len(scan_runs(prefect_api)) == before


def test_refresh_runs_the_scan_deployment_inside_serve(served, api: Api, scanned):
    prefect_api, _ = served
    before = {run["id"] for run in scan_runs(prefect_api)}
    fresh = name("api-fresh")
    tb.run_container(IMAGE, "sleep", "600", name=fresh)
    try:
        assert listed(api)[fresh]["status"] == "unknown"
        found = listed(api, refresh="true")
        assert found[fresh]["status"] == "up_to_date"
    finally:
        tb.docker_cli("rm", "-f", fresh)
    new = [run for run in scan_runs(prefect_api) if run["id"] not in before]
    assert [run["state_type"] for run in new] == ["COMPLETED"], new


def test_start_stop_and_delete_a_container(api: Api, scanned: tuple[str, str]):
    container = name("api-life")
    cid = tb.run_container(IMAGE, *tb.STOPPABLE_SLEEP, name=container)
    try:
        stopped = answer(api.call("POST", f"/api/containers/{container}/stop"), 200, 0)
        assert stopped["data"] == {
            "id": cid,
            "name": container,
            "running": False,
            "state": "exited",
        }
        started = answer(api.call("POST", f"/api/containers/{cid[:12]}/start"), 200, 0)
        assert started["data"]["running"] is True and started["data"]["state"] == "running"
        refused = answer(api.call("DELETE", f"/api/containers/{cid}"), 409, 40901)
        assert container in refused["msg"] and "force=true" in refused["msg"]
        assert tb.docker_cli("inspect", "-f", "{{.State.Running}}", container).strip() == "true"
        answer(api.call("DELETE", f"/api/containers/{container}", params={"force": "true"}), 200, 0)
        assert tb.docker_cli("ps", "-aq", "--filter", f"id={cid}").strip() == ""
    finally:
        tb.docker_cli("rm", "-f", container, check=False)


def test_a_stopped_container_is_deleted_without_force(api: Api, scanned: tuple[str, str]):
    container = name("api-stopped")
    tb.docker_cli("create", "--label", tb.label_filter(), "--name", container, IMAGE)
    try:
        answer(api.call("DELETE", f"/api/containers/{container}"), 200, 0)
        assert tb.docker_cli("ps", "-aq", "--filter", f"name=^{container}$").strip() == ""
    finally:
        tb.docker_cli("rm", "-f", container, check=False)


def test_container_errors(api: Api, scanned: tuple[str, str]):
    unknown = answer(api.call("POST", "/api/containers/no-such-container-here/start"), 404, 40401)
    assert "no container 'no-such-container-here'" in unknown["msg"]
    answer(api.call("DELETE", "/api/containers/no-such-container-here"), 404, 40401)
    answer(api.call("DELETE", "/api/containers/x", params={"force": "maybe"}), 400, 40000)
    # The engine refuses to start it: its command does not exist.
    broken = name("api-broken")
    tb.docker_cli(
        "create", "--label", tb.label_filter(), "--name", broken, IMAGE, "/no/such/binary"
    )
    try:
        failed = answer(api.call("POST", f"/api/containers/{broken}/start"), 500, 50003)
        assert failed["msg"].startswith("Docker: ") and "/no/such/binary" in failed["msg"]
        assert "http+docker" not in failed["msg"]
    finally:
        tb.docker_cli("rm", "-f", broken, check=False)


def test_images_list_and_delete(api: Api):
    used_ref = tb.repo("open", "api-img-used") + ":1"
    free_ref = tb.repo("open", "api-img-free") + ":1"
    used_id = tb.build_image(used_ref, marker="api-img-used")
    free_id = tb.build_image(free_ref, marker="api-img-free")
    user = name("api-img-user")
    tb.docker_cli("create", "--label", tb.label_filter(), "--name", user, used_ref)
    try:
        images = {i["id"]: i for i in answer(api.call("GET", "/api/images"), 200, 0)["data"]}
        assert images[used_id]["tags"] == [used_ref] and images[used_id]["inUseBy"] == [user]
        assert images[free_id]["inUseBy"] == [] and images[free_id]["size"] > 0
        assert images[free_id]["created"].endswith("+00:00")
        refused = answer(api.call("DELETE", "/api/images", json={"id": used_ref}), 409, 40902)
        assert user in refused["msg"]
        answer(api.call("DELETE", "/api/images"), 400, 40001)
        answer(api.call("DELETE", "/api/images", json={}), 400, 40001)
        answer(api.call("DELETE", "/api/images", json={"id": " "}), 400, 40001)
        answer(api.call("DELETE", "/api/images", content=b"{not json"), 400, 40000)
        answer(api.call("DELETE", "/api/images", json={"id": used_ref + "x"}), 404, 40402)
        deleted = answer(api.call("DELETE", "/api/images", json={"id": free_id[7:19]}), 200, 0)
        assert deleted["data"]["id"] == free_id and free_ref in deleted["data"]["untagged"]
        images = {i["id"] for i in answer(api.call("GET", "/api/images"), 200, 0)["data"]}
        assert free_id not in images and used_id in images
    finally:
        tb.docker_cli("rm", "-f", user, check=False)


def test_metrics_after_a_scan(api: Api, scanned: tuple[str, str]):
    response = httpx.get(api.base + "/metrics", timeout=10)
    assert response.headers["content-type"].startswith("text/plain")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }
    assert samples[("watchdocker_scans_total", (("result", "ok"),))] >= 1
    assert samples[("watchdocker_containers", (("status", "update_available"),))] >= 1
    assert samples[("watchdocker_containers", (("status", "up_to_date"),))] >= 1
    open_registry = tb.repo("open", "x").split("/")[0]
    assert samples[("watchdocker_registry_requests_total", (("registry", open_registry),))] >= 2
    assert samples[("watchdocker_scan_duration_seconds_count", ())] >= 1
    assert samples[("watchdocker_last_scan_timestamp_seconds", ())] > time.time() - 3600
