"""What a run in serve's own process shares: one Prefect client for the run and the calls
inside it, and settings without the heartbeat built once."""

from __future__ import annotations

import ssl

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
