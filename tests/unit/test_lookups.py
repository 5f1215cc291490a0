"""The scan's registry lookups in plain Python (`watchdocker.lookups`): all at once, each
distinct reference once, a registry failure as the answer's error, over a fake registry."""

from __future__ import annotations

import logging
import threading
from typing import Any, cast

import pytest

from watchdocker.config import PolicyConfig
from watchdocker.container_status import plan_check
from watchdocker.engine.discovery import ContainerInfo
from watchdocker.lookups import ask_digests, ask_platforms, concurrently, judge_plans
from watchdocker.reference import ImageReference
from watchdocker.registry.client import RegistryClient, RemoteDigest
from watchdocker.registry.errors import RegistryError, ScanTimedOut

LOG = logging.getLogger("test")
NEWER = "sha256:" + "b" * 64
LOCAL = "sha256:" + "a" * 64
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


class FakeRegistry:
    """Answers by repository name: a digest, or the error to raise."""

    def __init__(self, answers: dict[str, str | RegistryError]) -> None:
        self.answers = answers
        self.asked: list[str] = []
        self.lock = threading.Lock()

    def resolve_digest(self, ref: ImageReference) -> RemoteDigest:
        with self.lock:
            self.asked.append(ref.name)
        answer = self.answers[ref.name]
        if isinstance(answer, RegistryError):
            raise answer
        return RemoteDigest(answer, OCI_MANIFEST)


def registry(answers: dict[str, Any]) -> tuple[FakeRegistry, RegistryClient]:
    fake = FakeRegistry(answers)
    return fake, cast(RegistryClient, fake)


def container(name: str, image: str) -> ContainerInfo:
    repository = image.rsplit(":", 1)[0]
    return ContainerInfo(
        id=name * 4,
        name=name,
        image=image,
        image_id="sha256:" + "c" * 64,
        running=True,
        state="running",
        repo_digests=[f"{repository}@{LOCAL}"],
        labels={},
    )


def test_concurrently_runs_every_call_at_once():
    # Three calls that each wait for the other two: only at once do they all return.
    together = threading.Barrier(3, timeout=5)

    def call(key: int) -> int:
        together.wait()
        return key * 10

    assert concurrently(call, [1, 2, 3]) == {1: 10, 2: 20, 3: 30}


def test_a_registry_error_is_that_keys_answer_and_others_still_come():
    failure = RegistryError("r.example", "401 Unauthorized")

    def call(key: str) -> str:
        if key == "bad":
            raise failure
        return key.upper()

    assert concurrently(call, ["ok", "bad"]) == {"ok": "OK", "bad": failure}


def test_other_exceptions_are_not_answers():
    def call(_: str) -> str:
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        concurrently(call, ["a"])


def test_each_distinct_reference_is_asked_once_and_failures_are_per_container():
    fake, client = registry(
        {
            "docker.io/library/nginx": NEWER,
            "docker.io/library/redis": RegistryError("docker.io", "404 Not Found"),
            "docker.io/library/mysql": ScanTimedOut("docker.io", "the scan timed out"),
        }
    )
    containers = [
        container("web1", "nginx:latest"),
        container("web2", "nginx:latest"),
        container("cache", "redis:latest"),
        container("db", "mysql:latest"),
    ]
    plans = [plan_check(c, PolicyConfig()) for c in containers]
    statuses = judge_plans(plans, ask_digests(client, LOG), ask_platforms(client, LOG))
    assert sorted(fake.asked) == [
        "docker.io/library/mysql",
        "docker.io/library/nginx",
        "docker.io/library/redis",
    ]
    by_name = {s.name: s for s in statuses}
    assert by_name["web1"].status == by_name["web2"].status == "update_available"
    assert by_name["web1"].remote_digest == NEWER
    assert by_name["cache"].status == "error" and "404 Not Found" in by_name["cache"].reason
    assert by_name["db"].status == "error" and "timed out" in by_name["db"].reason


def test_no_reference_asks_nothing():
    fake, client = registry({})
    assert ask_digests(client, LOG)([]) == {}
    assert ask_platforms(client, LOG)([]) == {}
    assert fake.asked == []
