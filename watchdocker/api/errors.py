"""Every error as a `BaseRes` with a message a person understands: ours (`ApiError`),
FastAPI's validation errors, unknown routes and methods, and anything unexpected (logged here,
answered without its text, which could hold anything)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prefect.exceptions import ObjectNotFound
from starlette.exceptions import HTTPException as StarletteHTTPException

from watchdocker.api.codes import Code
from watchdocker.api.responses import ApiError, answer
from watchdocker.auth.passkey_store import PasskeyStoreError

log = logging.getLogger(__name__)


def _where(loc: tuple[str | int, ...]) -> str:
    # ("body", "names", 0) -> "body.names[0]"
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def validation_message(exc: RequestValidationError) -> str:
    problems = []
    for error in exc.errors():
        where = _where(tuple(error.get("loc", ())))
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        if error.get("type") == "json_invalid":
            message = "the body is not valid JSON"
        elif error.get("type") in ("model_attributes_type", "dict_type") and where == "body":
            message = "must be a JSON object (Content-Type: application/json)"
        problems.append(f"{where}: {message}" if where else message)
    return "bad request: " + "; ".join(problems)


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return answer(exc.code, exc.msg, exc.data)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return answer(Code.BAD_REQUEST, validation_message(exc))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        return answer(Code.NOT_FOUND, f"no such route: {request.method} {request.url.path}")
    if exc.status_code == 405:
        response = answer(Code.NOT_FOUND, f"{request.method} is not allowed on {request.url.path}")
        response.status_code = 405
        return response
    response = answer(Code.BAD_REQUEST, str(exc.detail))
    response.status_code = exc.status_code
    return response


async def _missing_on_prefect(_: Request, exc: Exception) -> JSONResponse:
    # A deployment serve registered, deleted since (in the UI): restarting serve registers it.
    return answer(
        Code.NOT_READY,
        "the Prefect server lacks what serve registered (a deployment deleted?); restart serve",
    )


async def _passkey_store(_: Request, exc: Exception) -> JSONResponse:
    # Fail closed with the reason (the file's path and what is wrong, no content).
    return answer(Code.INTERNAL, f"{exc}")


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("internal error on %s %s: %s", request.method, request.url.path, type(exc).__name__)
    return answer(Code.INTERNAL, "internal error; the server log has its kind")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ObjectNotFound, _missing_on_prefect)
    app.add_exception_handler(PasskeyStoreError, _passkey_store)
    app.add_exception_handler(Exception, _unexpected)
