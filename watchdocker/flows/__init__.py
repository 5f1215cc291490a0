"""The Prefect flows: what the CLI runs and the deployments serve."""

from watchdocker.flows.compose import compose
from watchdocker.flows.scan import scan
from watchdocker.flows.update import auto_update, update

__all__ = ["auto_update", "compose", "scan", "update"]
