"""`cannot reach the Docker engine at ...: <cause>`: the root cause in a few words, not the
chain of wrappers requests and urllib3 put around it."""

from __future__ import annotations

import socket

import pytest
from docker.errors import DockerException

from watchdocker.engine.client import EngineUnavailable, connect, why


def wrapped(root: BaseException) -> DockerException:
    """`root` under two wrappers, as docker-py raises it from requests and urllib3."""
    try:
        try:
            raise root
        except BaseException as exc:
            raise ConnectionError("HTTPConnectionPool(...): Max retries exceeded ...") from exc
    except ConnectionError as exc:
        try:
            raise DockerException(f"Error while fetching server API version: {exc}") from exc
        except DockerException as outer:
            return outer


@pytest.mark.parametrize(
    ("root", "said"),
    [
        (ConnectionRefusedError(111, "Connection refused"), "connection refused"),
        (FileNotFoundError(2, "No such file or directory"), "no such file or directory"),
        (socket.gaierror(-2, "Name or service not known"), "name or service not known"),
        (TimeoutError("timed out after 60s"), "timed out"),
        (ValueError("404 Client Error: Not Found"), "404 Client Error: Not Found"),
    ],
)
def test_the_root_cause_in_a_few_words(root: BaseException, said: str) -> None:
    assert why(wrapped(root)) == said


def test_a_docker_error_of_its_own_loses_only_its_prefix() -> None:
    plain = DockerException("Error while fetching server API version: Invalid bind address")
    assert why(plain) == "Invalid bind address"


def test_a_refused_connection_is_one_short_line(tmp_path) -> None:
    with pytest.raises(EngineUnavailable) as caught:
        connect(f"unix://{tmp_path}/no-engine.sock", timeout=2)
    assert str(caught.value) == (
        f"cannot reach the Docker engine at unix://{tmp_path}/no-engine.sock: "
        "no such file or directory"
    )
