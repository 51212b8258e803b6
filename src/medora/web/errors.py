"""Error pages: the API's error handlers, answered as HTML pages when a browser asks for a page.

The API maps every error to a problem (``medora.api.problems``); this wraps each handler so that
a request for a page (outside ``/v1/``, accepting ``text/html``) gets the same status, title and
detail as a page in the site's layout, and a request that needs signing in is sent to the login
form. API clients still get problem+json.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from medora.api.auth import anonymous
from medora.web.pages import page
from medora.web.session import Visitor, visitor

Handler = Callable[[Request, Exception], Awaitable[Response]]
_KEPT_HEADERS = ("retry-after", "allow")


def wants_page(request: Request) -> bool:
    return not request.url.path.startswith("/v1/") and "text/html" in request.headers.get("accept", "")


async def _visitor(request: Request) -> Visitor:
    """The visitor, or an anonymous one when even that fails (the library may be what is broken)."""
    try:
        return await run_in_threadpool(visitor, request)
    except Exception:  # noqa: BLE001 - an error page must not fail
        return Visitor(anonymous(None, False), csrf="", audience="patient")


def _login_redirect(request: Request) -> RedirectResponse:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(here if request.method == 'GET' else '/review', safe='')}",
                            status_code=303)


def _as_page(handler: Handler) -> Handler:
    async def handle(request: Request, exc: Exception) -> Response:
        response = await handler(request, exc)
        if not wants_page(request):
            return response
        problem = json.loads(bytes(response.body))
        if problem["status"] == 401:
            return _login_redirect(request)
        who = await _visitor(request)
        html = page(request, who, "error.html", status=problem["status"], title=problem["title"], problem=problem)
        for name in _KEPT_HEADERS:
            if name in response.headers:
                html.headers[name] = response.headers[name]
        return html

    return handle


def install_html_errors(app: FastAPI) -> None:
    """Wrap every error handler installed so far (call after ``problems.install``)."""
    for kind, handler in list(app.exception_handlers.items()):
        app.add_exception_handler(kind, _as_page(handler))
