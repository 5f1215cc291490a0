"""The task runner of the flows: tasks in threads of this process."""

from __future__ import annotations

from typing import Any

from prefect.futures import PrefectFuture
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner


def thread_pool(max_workers: int) -> TaskRunner[PrefectFuture[Any]]:
    """A `ThreadPoolTaskRunner`, typed as `@flow` takes it."""
    # Prefect's typing is wrong here: `flow` asks for a TaskRunner[PrefectFuture[Any]], invariant
    # in the future type, which its own ThreadPoolTaskRunner (of PrefectConcurrentFuture) is not.
    return ThreadPoolTaskRunner(max_workers=max_workers)  # type: ignore[return-value]
