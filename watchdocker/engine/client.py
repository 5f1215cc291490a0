"""The connection to a Docker engine: `docker.host`, else DOCKER_HOST, else the local socket."""

from __future__ import annotations

import docker
from docker.constants import DEFAULT_DOCKER_API_VERSION
from docker.errors import DockerException

_API_VERSION_PREFIX = "Error while fetching server API version: "


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
        raise EngineUnavailable(f"cannot reach the Docker engine at {where}: {why(exc)}") from None
    return client


def connect_or_later(host: str | None = None, timeout: float = 60.0) -> docker.DockerClient:
    """`connect`, or when the engine does not answer yet, a client that will reach it once it
    does (at docker-py's default API version: negotiating one needs an answer). For a long-lived
    caller, such as serve's API, that must start while the engine is down."""
    try:
        return connect(host, timeout)
    except EngineUnavailable:
        if host:
            return docker.DockerClient(
                base_url=host, version=DEFAULT_DOCKER_API_VERSION, timeout=timeout
            )
        return docker.from_env(version=DEFAULT_DOCKER_API_VERSION, timeout=timeout)


def why(exc: BaseException) -> str:
    """The root cause in a few words (`connection refused`), not the chain of wrappers that
    requests and urllib3 put around it on one long line."""
    root = exc
    while (inner := root.__cause__ or root.__context__) is not None:
        root = inner
    if isinstance(root, TimeoutError):
        return "timed out"
    if isinstance(root, OSError) and root.strerror:
        return root.strerror[:1].lower() + root.strerror[1:]
    return str(root).removeprefix(_API_VERSION_PREFIX)
