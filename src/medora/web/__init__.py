"""The web app served by ``medora serve``: server-rendered pages over the same app as the REST API.

``mount_web(app)`` adds the pages (ask, answers, articles, library, editorial policy,
login, the reviewer area), the static CSS and JavaScript at ``/static``, and HTML error pages.
Templates are Jinja2 (``templates/``), escaped everywhere; there is no front-end build step and
no third-party script. Everything can be read and asked without JavaScript; ``static/medora.js``
adds the streamed answer and dismissable citation tooltips.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles


def mount_web(app: FastAPI) -> None:
    """Add the web pages to ``app`` (after ``problems.install``, whose handlers it wraps)."""
    from medora.web import (  # they import medora.api
        errors,
        routes_library,
        routes_public,
        routes_review,
    )

    app.mount("/static", StaticFiles(packages=[("medora.web", "static")]), name="static")
    for router in (routes_public.router, routes_public.service_router, routes_library.router, routes_review.router):
        app.include_router(router)
    errors.install_html_errors(app)
