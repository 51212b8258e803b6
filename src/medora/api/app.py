"""The FastAPI application: ``create_app(settings, api)`` wires routes, errors, limits and logging.

The web pages (``medora.web``) share the app, its error handlers and its limits.
Middleware, outermost first: per-client rate limit (429), request body limit (413). Every error
is a problem+json response (``problems``). Synchronous endpoints run on Starlette's worker
threads, each with its own library connection (``context.Libraries``), closed at shutdown.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from medora import __version__
from medora.api import (
    problems,
    routes_articles,
    routes_ask,
    routes_auth,
    routes_library,
    routes_meta,
    routes_review,
)
from medora.api.auth import SessionTokens
from medora.api.bodylimit import BodyLimitMiddleware
from medora.api.config import ApiSettings
from medora.api.context import Libraries, Server
from medora.api.logs import install_filters
from medora.api.ratelimit import RateLimitMiddleware, TokenBuckets
from medora.settings import Settings
from medora.web import mount_web

DESCRIPTION = """Cited answers from a library of real sources, and the articles an advisory board has
reviewed. Errors are `application/problem+json` (RFC 9457). Send tokens as
`Authorization: Bearer <token>`; without one you may read published articles (and ask, when the
server allows it)."""


def create_app(settings: Settings, api: ApiSettings | None = None) -> FastAPI:
    """The API over the library ``settings.library`` (which must exist)."""
    api = api or ApiSettings()
    install_filters()
    key = api.session_secret.get_secret_value().encode() if api.session_secret else secrets.token_bytes(32)
    server = Server(settings, api, Libraries(settings), SessionTokens(key, api.session_minutes))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        server.libraries.close()

    app = FastAPI(title="Medora", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.medora = server
    for module in (routes_ask, routes_articles, routes_review, routes_library, routes_auth, routes_meta):
        app.include_router(module.router)
    problems.install(app)
    mount_web(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=api.max_body_bytes)
    if api.rate_per_second > 0:
        app.add_middleware(RateLimitMiddleware, buckets=TokenBuckets(api.rate_per_second, api.rate_burst))
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, with error responses documented as problem+json (built once)."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        for path in schema["paths"].values():
            for operation in path.values():
                if "security" in operation:  # a token is optional: without one, the caller is anonymous
                    operation["security"] = [{}, *operation["security"]]
        app.openapi_schema = problems.problem_media_types(schema)
    return app.openapi_schema
