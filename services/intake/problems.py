"""Errors as RFC 9457 problem details (``application/problem+json``): what was wrong, and where."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://newswire.dev/problems/"


class Problem(Exception):
    """Raise to answer with a problem document."""

    def __init__(
        self,
        status: int,
        kind: str,
        title: str,
        detail: str,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.title = title
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}


def problem_response(problem: Problem, instance: str) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"{PROBLEM_TYPE_BASE}{problem.kind}",
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "instance": instance,
    }
    if problem.errors:
        body["errors"] = problem.errors
    return JSONResponse(
        jsonable_encoder(body),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=problem.headers,
    )


def validation_problem(errors: list[dict[str, Any]]) -> Problem:
    """FastAPI's own request validation (path and query parameters) as a problem."""
    described = [
        {"pointer": "/".join(str(part) for part in error.get("loc", ())), "message": error["msg"]}
        for error in errors
    ]
    summary = "; ".join(f"{e['pointer']}: {e['message']}" for e in described[:5])
    return Problem(422, "invalid-request", "The request is not valid", summary, described)


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(exc, request.url.path)


async def _on_request_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return problem_response(validation_problem(list(exc.errors())), request.url.path)


async def _on_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Request failed")
    problem = Problem(exc.status_code, f"http-{exc.status_code}", title, str(exc.detail))
    return problem_response(problem, request.url.path)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    # A bug must still answer in the documented format; the traceback goes to the log.
    problem = Problem(500, "internal", "Internal error", "An unexpected error occurred.")
    return problem_response(problem, request.url.path)


EXCEPTION_HANDLERS = {
    Problem: _on_problem,
    RequestValidationError: _on_request_validation,
    StarletteHTTPException: _on_http_exception,
    Exception: _on_unexpected,
}
