"""RFC 9457 problem details (``application/problem+json``) for every REST error.

A refusal of the tree (`OrchestrationError`) keeps its ``code`` as the problem's type and its
``hint`` as an extension member; request validation errors list the offending fields, without
echoing their values.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from orchestration.errors import DaemonError
from orchestration.streams import OrchestrationError

__all__ = [
    "MEDIA_TYPE",
    "RESPONSES",
    "Problem",
    "ProblemDetails",
    "from_error",
    "install",
    "problem_response",
]

PROBLEM_TYPE = "https://orchestration.dev/problems/"
MEDIA_TYPE = "application/problem+json"

STATUS_BY_CODE: dict[str, int] = {
    "unknown_agent": 404,
    "unknown_room": 404,
    "unknown_supervisor": 404,
    "unknown_message": 404,
    "unknown_workflow": 404,
    "adk_missing": 501,
    "workflow_failed": 502,
    "duplicate_agent": 409,
    "duplicate_room": 409,
    "tree_conflict": 409,
    "room_closed": 409,
    "agent_failed": 409,
    "nothing_pending": 409,
    "already_answered": 409,
    "invalid_spec": 422,
    "invalid_message": 422,
    "invalid_room": 422,
    "invalid_tree": 422,
    "credentials": 400,
    "unknown_provider": 400,
    "journal": 503,
    "daemon": 503,
    "gateway_failed": 503,
    "service_failed": 503,
    "timeout": 504,
}
"""HTTP status of each `ErrorCode` (and of the streams' ``timeout``); others are 500."""


class ProblemDetails(BaseModel):
    """The body of every error response (RFC 9457), with extension members such as
    ``errors`` (the invalid fields), ``kind`` and ``retryable`` (a failed turn)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description=f"{PROBLEM_TYPE}<code>")
    title: str
    status: int
    detail: str
    hint: str = Field("", description="what to do about it, when there is something")


_PROBLEM = {"content": {MEDIA_TYPE: {"schema": ProblemDetails.model_json_schema()}}}
RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"description": "The request was refused", **_PROBLEM},
    "5XX": {"description": "The daemon or an agent failed", **_PROBLEM},
}
"""The error responses of every operation, for the OpenAPI schema (``FastAPI(responses=)``)."""


class Problem(Exception):
    """An HTTP error raised by the REST layer itself (auth, limits, a failed turn)."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        hint: str = "",
        *,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.hint = hint
        self.headers = headers
        self.extensions = extensions


def problem_response(problem: Problem) -> JSONResponse:
    """The problem as an ``application/problem+json`` response."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE + problem.code.replace("_", "-"),
        "title": problem.code.replace("_", " ").capitalize(),
        "status": problem.status,
        "detail": problem.detail,
        **problem.extensions,
    }
    if problem.hint:
        body["hint"] = problem.hint
    return JSONResponse(body, problem.status, headers=problem.headers, media_type=MEDIA_TYPE)


def from_error(exc: OrchestrationError | DaemonError) -> Problem:
    """The problem a Runtime failure is."""
    code = exc.code if isinstance(exc, OrchestrationError) else "daemon"
    return Problem(STATUS_BY_CODE.get(code, 500), code, str(exc), exc.hint)


def install(app: FastAPI) -> None:
    """Answer every error of ``app`` with problem+json."""

    async def on_problem(_: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc)

    async def on_runtime_error(_: Request, exc: OrchestrationError | DaemonError) -> JSONResponse:
        return problem_response(from_error(exc))

    async def on_invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            {"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]}
            for error in exc.errors()
        ]
        detail = "; ".join(f"{'.'.join(map(str, f['loc']))}: {f['msg']}" for f in fields)
        hint = "see the request schema at /docs"
        return problem_response(Problem(422, "invalid_request", detail, hint, errors=fields))

    async def on_http_error(_: Request, exc: HTTPException) -> JSONResponse:
        code = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_")
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        return problem_response(Problem(exc.status_code, code, detail, headers=exc.headers))

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(OrchestrationError, on_runtime_error)
    app.add_exception_handler(DaemonError, on_runtime_error)
    app.add_exception_handler(RequestValidationError, on_invalid_request)
    app.add_exception_handler(HTTPException, on_http_error)
