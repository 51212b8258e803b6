"""About the service: health, the editorial policy's text, and what each problem type means.

The policy page itself, ``/editorial-policy``, is served by ``medora.web`` in the site's layout.
"""

from __future__ import annotations

from functools import lru_cache
from html import escape
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from medora import __version__
from medora.api import problems
from medora.api.context import server_of
from medora.api.schemas import Health
from medora.publish.errors import NotFound

router = APIRouter(tags=["service"], responses=problems.responses(400, 404, 413, 422, 429, 500, 503))
_HTML_PAGE = ('<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>\n'
              "<body>\n{body}</body></html>\n")


@lru_cache(maxsize=1)
def policy_markdown() -> str:
    return resources.files("medora.publish").joinpath("editorial_policy.md").read_text(encoding="utf-8")


@router.get("/v1/health", response_model=Health, summary="Is the service up")
def health(request: Request) -> Health:
    return Health(version=__version__, schema_version=server_of(request).libraries.local().store.schema_version())


@router.get("/problems/{slug}", response_class=HTMLResponse, summary="What a problem type means")
def problem_type(slug: Annotated[str, Path(max_length=64)]) -> HTMLResponse:
    if slug not in problems.PROBLEM_TYPES:
        raise NotFound(f"no problem type {slug!r}")
    status, title, meaning = problems.PROBLEM_TYPES[slug]
    body = f"<h1>{status} {escape(title)}</h1>\n<p>{escape(meaning)}</p>\n"
    return HTMLResponse(_HTML_PAGE.format(title=escape(title), body=body))
