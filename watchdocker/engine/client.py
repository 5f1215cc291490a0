"""The connection to a Docker engine: `docker.host`, else DOCKER_HOST, else the local socket."""

from __future__ import annotations

import docker
from docker.errors import DockerException


class EngineUnavailable(Exception):
    """The Docker engine cannot be reached; the message names the address tried."""


def connect(host: str | None = None, timeout: float = 60.0) -> docker.DockerClient:
    try:
        client = (
            docker.DockerClient(base_url=host, timeout=timeout)
            if host
            else docker.from_env(timeout=timeout)
        )
        client.ping()
    except DockerException as exc:
        where = host or "DOCKER_HOST or the local socket"
        raise EngineUnavailable(f"cannot reach the Docker engine at {where}: {exc}") from None
    return client
