"""Errors as RFC 9457 problem details (``application/problem+json``), for every failure the API can give.

Each kind of problem has a stable ``type`` (``/problems/<slug>``, served as a short description),
a fixed ``title``, the HTTP ``status`` and a ``detail`` for this occurrence. Extension members:
``errors`` (which request fields were invalid) and ``current`` (the article as it is now, on 409).
``install`` maps Starlette, validation, Medora and unexpected errors to problems; unexpected ones
are logged with their traceback and answered with a generic 500 that reveals nothing internal.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from medora.errors import LibraryError, MedoraError, UsageError
from medora.publish.articles import ArticleState
from medora.publish.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    InvalidTransition,
    NotFound,
    PublishError,
    TooManyAttempts,
    Unauthenticated,
)

log = logging.getLogger("medora.api")

PROBLEM_MEDIA_TYPE = "application/problem+json"

#: slug -> (status, title, what it means)
PROBLEM_TYPES: dict[str, tuple[int, str, str]] = {
    "bad-request": (400, "Bad request", "The request could not be understood."),
    "unauthenticated": (401, "Authentication required",
                        "Send a valid API token or login token as 'Authorization: Bearer <token>'."),
    "forbidden": (403, "Not allowed", "Your role, or your token's scopes, do not allow this."),
    "not-found": (404, "Not found", "There is no such resource, or it is not published."),
    "method-not-allowed": (405, "Method not allowed", "The resource does not support this HTTP method; see Allow."),
    "conflict": (409, "Conflict",
                 "You acted on an old revision of the article, or it already exists; 'current' is the article now."),
    "invalid-transition": (409, "Action not allowed in this state",
                           "The review action does not apply to the article's current state; see 'current'."),
    "content-too-large": (413, "Request body too large", "The request body is over the server's limit."),
    "validation": (422, "Invalid request", "Some request fields are missing or invalid; see 'errors'."),
    "invalid-input": (422, "Invalid input", "The request is well formed but its content cannot be used."),
    "rate-limited": (429, "Too many requests", "Slow down: wait the number of seconds in Retry-After."),
    "server-error": (500, "Internal server error", "Something went wrong on the server; it has been logged."),
    "unavailable": (503, "Service unavailable", "The library is busy or unavailable; try again shortly."),
}
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
_SLUG_BY_STATUS = {status: slug for slug, (status, _, _) in reversed(PROBLEM_TYPES.items())}
_PUBLISH_SLUGS: dict[type[PublishError], str] = {
    Conflict: "conflict",
    InvalidTransition: "invalid-transition",
    InvalidInput: "invalid-input",
    NotFound: "not-found",
    Unauthenticated: "unauthenticated",
    Forbidden: "forbidden",
    TooManyAttempts: "rate-limited",
}


class FieldIssue(BaseModel):
    location: list[str | int] = Field(description="Where the invalid value is, e.g. ['body', 'question']")
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem detail."""

    type: str = Field(description="URI reference naming the kind of problem (dereferenceable: /problems/<slug>)")
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldIssue] | None = Field(None, description="For 422 validation problems: each invalid field")
    current: ArticleState | None = Field(None, description="For 409 problems: the article as it is now")


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


def problem_body(slug: str, detail: str | None = None, **extensions: Any) -> dict[str, Any]:
    """The JSON of a problem of kind ``slug``."""
    status, title, _ = PROBLEM_TYPES[slug]
    body = Problem(type=f"/problems/{slug}", title=title, status=status, detail=detail, **extensions)
    return body.model_dump(mode="json", exclude_none=True)


def problem(slug: str, detail: str | None = None, *, headers: dict[str, str] | None = None,
            **extensions: Any) -> ProblemResponse:
    """The response for a problem of kind ``slug``."""
    return ProblemResponse(problem_body(slug, detail, **extensions), status_code=PROBLEM_TYPES[slug][0],
                           headers=headers)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries documenting these problem statuses (see ``problem_media_types``)."""
    return {status: {"model": Problem, "description": PROBLEM_TYPES[_SLUG_BY_STATUS[status]][1]}
            for status in statuses}


def problem_media_types(schema: dict[str, Any]) -> dict[str, Any]:
    """Document every 4xx/5xx response of an OpenAPI ``schema`` as ``application/problem+json``."""
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content")
                if status[:1] in "45" and content:  # FastAPI files them under the route's own media type
                    response["content"] = {PROBLEM_MEDIA_TYPE: next(iter(content.values()))}
    return schema


# ------------------------------------------------------------------------------ handlers


async def _http_error(request: Request, exc: StarletteHTTPException) -> ProblemResponse:
    slug = _SLUG_BY_STATUS.get(exc.status_code, "bad-request" if exc.status_code < 500 else "server-error")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:  # Starlette names the methods of the first matching route only
        headers["Allow"] = _allowed_methods(request)
    detail = exc.detail if isinstance(exc.detail, str) else None
    if detail == HTTPStatus(exc.status_code).phrase:  # Starlette's routing errors say no more than the status
        detail = {"not-found": f"no resource at {request.url.path}",
                  "method-not-allowed": f"{request.method} is not allowed here; use {headers.get('Allow', '')}",
                  }.get(slug)
    return problem(slug, detail, headers=headers)


def _allowed_methods(request: Request) -> str:
    allowed = [method for method in _METHODS
               if any(route.matches({**request.scope, "method": method})[0] == Match.FULL
                      for route in request.app.router.routes)]
    return ", ".join(allowed)


async def _validation_error(request: Request, exc: RequestValidationError) -> ProblemResponse:
    issues = [FieldIssue(location=[str(x) if not isinstance(x, int) else x for x in e.get("loc", ())],
                         message=str(e.get("msg", "invalid"))) for e in exc.errors()]
    first = issues[0] if issues else None
    detail = f"{'.'.join(map(str, first.location))}: {first.message}" if first else None
    return problem("validation", detail, errors=issues)


async def _publish_error(request: Request, exc: PublishError) -> ProblemResponse:
    slug = next((s for cls, s in _PUBLISH_SLUGS.items() if isinstance(exc, cls)), "bad-request")
    headers = {"WWW-Authenticate": "Bearer"} if slug == "unauthenticated" else None
    if isinstance(exc, TooManyAttempts):
        headers = {"Retry-After": str(exc.retry_after)}
    current = getattr(exc, "current", None)
    return problem(slug, str(exc), headers=headers, current=current)


async def _medora_error(request: Request, exc: MedoraError) -> ProblemResponse:
    if isinstance(exc, LibraryError):
        log.warning("library unavailable: %s", exc)
        return problem("unavailable", str(exc), headers={"Retry-After": "1"})
    if isinstance(exc, UsageError):
        return problem("invalid-input", str(exc))
    return await _unexpected(request, exc)


async def _unusable_value(request: Request, exc: Exception) -> ProblemResponse:
    """Values the database cannot hold: integers past 64 bits, text with lone surrogates."""
    return problem("invalid-input", "a number is out of range or a text is not valid Unicode")


async def _database_unavailable(request: Request, exc: Exception) -> ProblemResponse:
    """A PostgreSQL error of a lost or unreachable server (a restart under a running request): 503, not 500."""
    log.warning("library unavailable on %s %s: %s", request.method, request.url.path, str(exc).partition("\n")[0])
    return problem("unavailable", "the library's database is unavailable; try again", headers={"Retry-After": "1"})


async def _unexpected(request: Request, exc: Exception) -> ProblemResponse:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem("server-error")


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem response."""
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(PublishError, _publish_error)
    app.add_exception_handler(MedoraError, _medora_error)
    app.add_exception_handler(OverflowError, _unusable_value)
    app.add_exception_handler(UnicodeEncodeError, _unusable_value)
    app.add_exception_handler(psycopg.OperationalError, _database_unavailable)
    app.add_exception_handler(Exception, _unexpected)
