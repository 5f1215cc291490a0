"""A Docker client of its own for each endless stream: a followed response holds its
connection for as long as it runs, which the API's shared client (whose pool its routes use)
must not run out of."""

from __future__ import annotations

import docker

from watchdocker.config import Settings
from watchdocker.engine.client import connect_or_later


def stream_client(settings: Settings) -> docker.DockerClient:
    return connect_or_later(settings.docker.host)
