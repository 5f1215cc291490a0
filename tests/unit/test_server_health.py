"""What serve counts as an outage and when it says so (watchdocker.server_health)."""

from __future__ import annotations

from watchdocker.server_health import (
    Outages,
    RepeatedErrors,
    ServiceError,
    service_errors,
)

# As Prefect 3.8.8's server wrote it when its scheduler failed (issue #8, SQLAlchemy 2.1).
SCHEDULER_FAILURE = [
    "00:23:45.745 | ERROR   | docket.dependencies - ↩ [    44ms] "
    "schedule_deployments(){schedule_deployments}",
    "Traceback (most recent call last):",
    '  File ".../docket/worker.py", line 1134, in _execute',
    "    result = await execution.function(",
    '  File ".../prefect/server/services/scheduler.py", line 272, in schedule_deployments',
    "    inserted_runs = await models.deployments._insert_scheduled_flow_runs(",
    "sqlalchemy.exc.InvalidRequestError: Can't evaluate bulk DML statement with "
    "synchronize_session='auto'",
    "00:23:46.001 | INFO    | docket.dependencies - ↫ [    44ms] "
    "schedule_deployments(){schedule_deployments}",
]

QUIET = """\
00:23:40.001 | INFO    | prefect.server.services.scheduler - Scheduled 3 runs.
00:23:41.002 | WARNING | prefect.server.events - slow
00:23:42.003 | ERROR   | prefect.flow_runs - a flow run's own error, not the server's
""".splitlines()


def test_a_failing_perpetual_service_is_named_with_its_exception():
    assert service_errors(SCHEDULER_FAILURE) == [
        ServiceError(
            "schedule_deployments",
            "InvalidRequestError: Can't evaluate bulk DML statement with "
            "synchronize_session='auto'",
        )
    ]


def test_info_warnings_and_other_loggers_are_not_server_errors():
    assert service_errors(QUIET) == []


def test_an_error_of_a_prefect_service_logger_counts_by_its_name():
    line = "00:00:01.000 | ERROR   | prefect.server.services.scheduler - Error scheduling 'x'."
    [error] = service_errors([line])
    assert error.service == "prefect.server.services.scheduler"
    assert error.detail == "Error scheduling 'x'."


def test_a_long_exception_is_shortened():
    lines = [SCHEDULER_FAILURE[0], "ValueError: " + "x" * 500]
    [error] = service_errors(lines)
    assert len(error.detail) == 160 and error.detail.endswith("…")


def test_one_error_is_a_blip_two_within_the_window_keep_failing():
    errors = RepeatedErrors(window=180, threshold=2)
    [failure] = service_errors(SCHEDULER_FAILURE)
    errors.add([failure], now=0)
    assert errors.problem(now=10) is None
    errors.add([failure], now=60)
    problem = errors.problem(now=60)
    assert problem and "schedule_deployments failed 2 times in 180s" in problem
    assert "InvalidRequestError" in problem


def test_errors_older_than_the_window_are_forgotten():
    errors = RepeatedErrors(window=180, threshold=2)
    failure = ServiceError("schedule_deployments", "boom")
    errors.add([failure, failure], now=0)
    assert errors.problem(now=180)
    assert errors.problem(now=181) is None


def test_an_outage_is_announced_once_and_its_end_once():
    outages = Outages()
    begun = outages.observe("Docker engine", "cannot reach it")
    assert begun and not begun.recovered and begun.text == "Docker engine: cannot reach it"
    assert outages.observe("Docker engine", "cannot reach it") is None
    assert outages.observe("Docker engine", "still cannot") is None
    ended = outages.observe("Docker engine", None)
    assert ended and ended.recovered and ended.text == "Docker engine is back"
    assert outages.observe("Docker engine", None) is None
    assert outages.down == frozenset()


def test_confirm_waits_for_problems_in_a_row():
    outages = Outages()
    assert outages.observe("Prefect server", "no answer", confirm=2) is None
    assert outages.observe("Prefect server", None, confirm=2) is None  # a blip: nothing said
    assert outages.observe("Prefect server", "no answer", confirm=2) is None
    assert outages.observe("Prefect server", "no answer", confirm=2) is not None
    assert outages.down == {"Prefect server"}


def test_conditions_are_independent():
    outages = Outages()
    assert outages.observe("Docker engine", "down")
    assert outages.observe("Prefect server services", "failing")
    assert outages.observe("Docker engine", None)
    assert outages.down == {"Prefect server services"}
