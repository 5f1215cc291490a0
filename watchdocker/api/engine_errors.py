"""Docker's refusals and failures as `DOCKER_ERROR` answers with the engine's short reason,
and the lookups of what a person named, as 404 or 400 answers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from docker.errors import APIError, DockerException, NotFound
from requests import RequestException

from watchdocker.api.codes import Code
from watchdocker.api.responses import ApiError
from watchdocker.engine.client import why
from watchdocker.engine.inventory import AmbiguousId, NoSuchObject

# docker-py wraps the engine's answers in DockerException, but not a refused or broken
# connection: that comes as requests' own exception.
ENGINE_ERRORS = (DockerException, RequestException)


def engine_reason(exc: Exception) -> str:
    """The engine's own sentence (`container is running: stop the container before ...`)
    rather than the HTTP status line docker-py puts first."""
    if isinstance(exc, APIError) and exc.explanation:
        return str(exc.explanation)
    return why(exc)


@contextmanager
def docker_errors(not_found: Code) -> Iterator[None]:
    """`not_found`: the code for a name that matches nothing (a container's, an image's)."""
    try:
        yield
    except NoSuchObject as exc:
        raise ApiError(not_found, str(exc)) from None
    except AmbiguousId as exc:
        raise ApiError(Code.BAD_REQUEST, str(exc)) from None
    except NotFound as exc:  # gone between the lookup and the action
        raise ApiError(not_found, f"Docker: {engine_reason(exc)}") from None
    except ENGINE_ERRORS as exc:
        raise ApiError(Code.DOCKER_ERROR, f"Docker: {engine_reason(exc)}") from None
