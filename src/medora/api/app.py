"""The FastAPI application: ``create_app(settings, api)`` wires routes, errors, limits and logging.

The web pages (``medora.web``) share the app, its error handlers and its limits.
Middleware, outermost first: observer (request id, worker pid header, latency metric, access
log: ``metrics``), per-client rate limit (429; keyed by a verified credential, else the client
address; in memory for one worker on SQLite, in the library for several workers or PostgreSQL:
``ratelimit``), request body limit (413). Every error is a
problem+json response (``problems``). Synchronous endpoints run on Starlette's worker threads,
each with its own library connection (``context.Libraries``), closed at shutdown. Nothing a
request needs is kept in one process only: login tokens and CSRF values are signed with
``ApiSettings.session_secret`` (the same in every worker under ``medora serve``).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from medora import __version__
from medora.api import (
    cds_hooks,
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
from medora.api.metrics import ObserveMiddleware
from medora.api.ratelimit import (
    Buckets,
    CredentialCheck,
    RateLimitMiddleware,
    SharedBuckets,
    TokenBuckets,
)
from medora.library.open import is_pg_url, open_store
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

    app = FastAPI(title="Medora", version=__version__, description=DESCRIPTION, lifespan=lifespan,
                  docs_url="/docs" if api.api_docs else None, redoc_url="/redoc" if api.api_docs else None)
    app.state.medora = server
    with closing(open_store(settings.library, create=False)) as store:
        app.state.schema_version = store.schema_version()  # what /v1/health reports, without touching the library
    for module in (routes_ask, routes_articles, routes_review, routes_library, routes_auth, routes_meta, cds_hooks):
        app.include_router(module.router)
    problems.install(app)
    mount_web(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=api.max_body_bytes)
    if api.rate_per_second > 0:
        verified = CredentialCheck(server.sessions.is_valid, lambda: server.libraries.local().store)
        app.add_middleware(RateLimitMiddleware, buckets=_buckets(server), verified=verified)
    app.add_middleware(ObserveMiddleware, access=api.access_log)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _buckets(server: Server) -> Buckets:
    """Rate-limit buckets in memory for one worker on SQLite, else shared through the library."""
    api = server.api
    if api.workers > 1 or is_pg_url(server.settings.library):
        return SharedBuckets(lambda: server.libraries.local().store, api.rate_per_second, api.rate_burst)
    return TokenBuckets(api.rate_per_second, api.rate_burst)


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
