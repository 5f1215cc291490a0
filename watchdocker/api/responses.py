"""`BaseRes {code, msg, data}`, the shape of every answer (seed §11), and `ApiError`, what a
route raises to answer with an error code."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from watchdocker.api.codes import HTTP_STATUS, Code


class BaseRes(BaseModel):
    code: int = Code.OK
    msg: str = "ok"
    data: Any = None


class ApiError(Exception):
    """An error answer: its code (which gives the HTTP status) and a message a person reads.
    The message must never hold a secret."""

    def __init__(self, code: Code, msg: str, data: Any = None) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.data = data


def ok(data: Any = None, msg: str = "ok") -> BaseRes:
    return BaseRes(code=Code.OK, msg=msg, data=data)


def answer(code: Code, msg: str, data: Any = None) -> JSONResponse:
    """A `BaseRes` with the HTTP status of `code`."""
    body = BaseRes(code=code, msg=msg, data=data).model_dump(mode="json")
    return JSONResponse(body, status_code=HTTP_STATUS[code])


def ok_json(data: Any) -> Response:
    """`ok(data)` serialised in one pass by pydantic-core, for large answers (models inside
    `data` included): FastAPI would dump, validate and encode it again, several times slower.
    The route declares `response_model=BaseRes` for its OpenAPI page."""
    return Response(BaseRes(data=data).model_dump_json(), media_type="application/json")
