"""Whether a scan asks the registry afresh: what a person runs does, the schedule does not."""

from __future__ import annotations

import pytest

from watchdocker.freshness import asks_registry_afresh


@pytest.mark.parametrize(
    ("requested", "auto_scheduled", "fresh"),
    [
        (None, False, True),  # the CLI, a manual run of a deployment from the UI
        (None, True, False),  # a run the scheduler created: the cache serves
        (True, True, True),  # a sub-flow of a person's update, whatever its own run says
        (False, False, False),  # a sub-flow of a scheduled auto-update
    ],
)
def test_fresh_from_what_started_the_run(requested, auto_scheduled, fresh):
    assert asks_registry_afresh(requested, auto_scheduled) is fresh
