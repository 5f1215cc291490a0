"""What the routes share: the settings serve runs with, where the Prefect API and UI are, and
the Docker engine."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import docker
from fastapi import Request

from watchdocker.config import Settings


@dataclass
class ApiContext:
    settings: Settings
    config_file: str | None  # passed on to the flow runs the API starts
    prefect_api: str  # e.g. http://127.0.0.1:4200/api
    engine: docker.DockerClient
    local_credential: str  # the CLI's (`watchdocker.auth.local_credential`)

    @cached_property
    def engine_id(self) -> str:
        """The engine's ID, which the saved scans are kept by (asked once)."""
        return str(self.engine.info()["ID"])

    @property
    def prefect_ui(self) -> str:
        return self.prefect_api.rstrip("/").removesuffix("/api")

    def flow_run_url(self, flow_run_id: str) -> str:
        return f"{self.prefect_ui}/runs/flow-run/{flow_run_id}"


def api_context(request: Request) -> ApiContext:
    """FastAPI dependency: the context `create_app` was given."""
    context: ApiContext = request.app.state.context
    return context
