"""About the service: liveness, readiness, metrics, the editorial policy's text, what each problem type means.

``/v1/health`` answers while the process is up, without touching the library. ``/v1/ready`` opens
the library afresh (read-only for SQLite), runs a trivial query and checks its schema is the newest
this Medora ships; else 503 problem+json, so a load balancer stops sending requests to a worker
whose library is gone.
``/metrics`` is the Prometheus page (``medora.api.metrics``). The policy page itself,
``/editorial-policy``, is served by ``medora.web`` in the site's layout.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from functools import lru_cache
from html import escape
from importlib import resources
from pathlib import Path as FilePath
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from medora import __version__
from medora.api import problems
from medora.api.context import server_of
from medora.api.metrics import WORKER_ID, exposition
from medora.api.schemas import Health
from medora.errors import LibraryError
from medora.library.open import is_pg_url, open_store
from medora.publish.errors import NotFound

router = APIRouter(tags=["service"], responses=problems.responses(400, 404, 413, 422, 429, 500, 503))
_HTML_PAGE = ('<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>\n'
              "<body>\n{body}</body></html>\n")


@lru_cache(maxsize=1)
def policy_markdown() -> str:
    return resources.files("medora.publish").joinpath("editorial_policy.md").read_text(encoding="utf-8")


@router.get("/v1/health", response_model=Health, summary="Is the service up")
def health(request: Request) -> Health:
    """Liveness: the process answers (``schema_version``: the library's when this worker started)."""
    return Health(version=__version__, schema_version=request.app.state.schema_version)


class Ready(BaseModel):
    status: Literal["ready"] = "ready"
    schema_version: int
    worker: str = Field(description="Which worker answered: an opaque id, the same as its x-medora-worker header")


@lru_cache(maxsize=2)
def newest_migration(folder: str) -> int:
    """The highest migration number shipped in ``medora/library/<folder>``."""
    names = (entry.name for entry in resources.files("medora.library").joinpath(folder).iterdir())
    return max(int(name.split("_", 1)[0]) for name in names if name.endswith(".sql"))


def _sqlite_schema(location: str) -> int:
    path = FilePath(location)
    if not path.is_file():
        raise LibraryError("the library file is missing")
    try:
        with closing(sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True, timeout=5)) as db:
            db.execute("SELECT 1 FROM passages LIMIT 1").fetchall()
            return db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]
    except sqlite3.Error as exc:
        raise LibraryError(f"the library cannot be read ({exc})") from None


def check_ready(location: str) -> int:
    """The library's schema version if it opens, answers a query and is fully migrated; ``LibraryError`` if not."""
    if is_pg_url(location):
        with closing(open_store(location, create=False)) as store:
            version, newest = store.schema_version(), newest_migration("pg_migrations")
    else:
        version, newest = _sqlite_schema(location), newest_migration("migrations")
    if version < newest:
        raise LibraryError(f"the library's schema ({version}) is older than this server's ({newest})")
    return version


@router.get("/v1/ready", response_model=Ready, summary="Can this worker serve requests")
def ready(request: Request) -> Ready:
    """200 when the library opens and answers; 503 problem+json otherwise."""
    return Ready(schema_version=check_ready(server_of(request).settings.library), worker=WORKER_ID)


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    body, content_type = exposition()
    return Response(body, media_type=content_type)


@router.get("/problems/{slug}", response_class=HTMLResponse, summary="What a problem type means")
def problem_type(slug: Annotated[str, Path(max_length=64)]) -> HTMLResponse:
    if slug not in problems.PROBLEM_TYPES:
        raise NotFound(f"no problem type {slug!r}")
    status, title, meaning = problems.PROBLEM_TYPES[slug]
    body = f"<h1>{status} {escape(title)}</h1>\n<p>{escape(meaning)}</p>\n"
    return HTMLResponse(_HTML_PAGE.format(title=escape(title), body=body))
