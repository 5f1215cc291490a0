"""Fault injection for tests/integration/test_serve_outages.py: on PYTHONPATH, it makes the real
Prefect server's scheduler fail the way it does with SQLAlchemy 2.1 (issue #8): every insert of
scheduled runs raises InvalidRequestError. The lock pins SQLAlchemy 2.0, so the real fault
cannot be installed; this raises the same exception from the same function."""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from typing import Any

_TARGET = "prefect.server.models.deployments"
_MESSAGE = (
    "Can't evaluate bulk DML statement with synchronize_session='auto' (fault injected by "
    "tests/integration/scheduler_fault)"
)


async def _failing_insert(*_: Any, **__: Any) -> Any:
    from sqlalchemy.exc import InvalidRequestError

    raise InvalidRequestError(_MESSAGE)


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Lets the module load as usual, then replaces its `_insert_scheduled_flow_runs`."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != _TARGET:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return None
        loader = spec.loader

        class _Loader(importlib.abc.Loader):
            def create_module(self, spec: Any) -> Any:
                return loader.create_module(spec)

            def exec_module(self, module: Any) -> None:
                loader.exec_module(module)
                module._insert_scheduled_flow_runs = _failing_insert

        spec.loader = _Loader()
        return spec


sys.meta_path.insert(0, _PatchOnImport())
