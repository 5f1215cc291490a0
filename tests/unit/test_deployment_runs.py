"""What a run in serve's own process shares: one Prefect client for the run and the calls
inside it, settings without the heartbeat built once, a deployment's id read once."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any, cast
from uuid import UUID, uuid4

import httpx
import pytest
from prefect.client.orchestration import get_client
from prefect.context import get_settings_context
from prefect.settings import (
    PREFECT_API_URL,
    PREFECT_CLIENT_SERVER_VERSION_CHECK_ENABLED,
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
    temporary_settings,
)

from watchdocker.deployments.deployment_runs import (
    _QuietSettings,
    _without_heartbeat,
    pending_run_of,
    prefect_client,
)


def test_calls_inside_a_run_here_take_its_client_with_one_tls_context() -> None:
    # No server: its version is not asked.
    updates = {
        PREFECT_API_URL: "http://127.0.0.1:9/api",
        PREFECT_CLIENT_SERVER_VERSION_CHECK_ENABLED: False,
    }
    with temporary_settings(updates):
        with prefect_client() as client:
            assert get_client(sync_client=True) is client  # as Prefect's engine asks for it
            with prefect_client() as second:
                assert second is not client
                contexts = {
                    c._client._transport._pool._ssl_context  # type: ignore[attr-defined]
                    for c in (client, second)
                }
        assert get_client(sync_client=True) is not client
    [context] = contexts
    assert isinstance(context, ssl.SSLContext)


def test_settings_without_heartbeat_are_built_once_per_base() -> None:
    quiet = _QuietSettings()
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 30}):
        with _without_heartbeat():
            assert PREFECT_FLOWS_HEARTBEAT_FREQUENCY.value() is None
        assert PREFECT_FLOWS_HEARTBEAT_FREQUENCY.value() == 30
        base = get_settings_context().settings
        first = quiet.of(base)
        assert quiet.of(base) is first
        assert first.flows.heartbeat_frequency is None
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 40}):
        other = get_settings_context().settings
        assert quiet.of(other) is not first


@dataclass
class _Deployments:
    """The Prefect client's two calls a run here makes, against deployments by name."""

    ids: dict[str, UUID]
    calls: list[str] = field(default_factory=list)

    def read_deployment_by_name(self, name: str) -> Any:
        self.calls.append(f"read {name}")
        return type("Deployment", (), {"id": self.ids[name]})

    def create_flow_run_from_deployment(self, deployment_id: UUID, **_: Any) -> UUID:
        self.calls.append("create")
        if deployment_id not in self.ids.values():
            request = httpx.Request("POST", "http://prefect/api/deployments/x/create_flow_run")
            response = httpx.Response(404, request=request)
            raise httpx.HTTPStatusError("gone", request=request, response=response)
        return deployment_id


def test_a_deployment_s_id_is_read_once_and_again_when_it_was_made_anew() -> None:
    name = f"scan/{uuid4()}"
    prefect = _Deployments({name: uuid4()})
    client = cast(Any, prefect)
    assert pending_run_of(client, name, {}) == prefect.ids[name]
    assert pending_run_of(client, name, {}) == prefect.ids[name]
    assert prefect.calls == [f"read {name}", "create", "create"]
    prefect.ids[name] = uuid4()  # deleted and made again: a new id
    prefect.calls.clear()
    assert pending_run_of(client, name, {}) == prefect.ids[name]
    assert prefect.calls == ["create", f"read {name}", "create"]


def test_other_refusals_of_a_run_are_not_taken_for_a_new_deployment() -> None:
    name = f"scan/{uuid4()}"
    prefect = _Deployments({name: uuid4()})
    pending_run_of(cast(Any, prefect), name, {})

    def refused(deployment_id: UUID, **_: Any) -> None:
        request = httpx.Request("POST", "http://prefect/api")
        raise httpx.HTTPStatusError("no", request=request, response=httpx.Response(409))

    prefect.create_flow_run_from_deployment = refused  # type: ignore[method-assign,assignment]
    with pytest.raises(httpx.HTTPStatusError):
        pending_run_of(cast(Any, prefect), name, {})


def test_the_suspension_watch_left_out_of_runs_here_is_the_one_prefect_s_engine_calls() -> None:
    # A tripwire for a Prefect upgrade: under another name, runs here would pay for it again.
    import inspect

    import prefect.flow_engine

    engine = prefect.flow_engine.BaseFlowRunEngine
    source = inspect.getsource(engine.setup_flow_run_suspension_request)
    assert "observe_flow_run_suspension(" in source
    assert callable(prefect.flow_engine.observe_flow_run_suspension)
