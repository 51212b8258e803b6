"""Rendering pages: one Jinja2 environment that escapes every template, and the headers every page gets.

Templates live in ``web/templates``; those starting with ``_`` hold macros (the answer's parts are
rendered by the same macros for the whole page and for the streamed fragments). Every page is
sent with a Content-Security-Policy that allows only this site's own scripts and styles (no
inline script or style), refuses framing, and is not cached.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from medora import __version__
from medora.web.session import Visitor, apply_cookies

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
AUDIENCE_LABELS = {
    "patient": "A patient",
    "caregiver": "A caregiver or family member",
    "student": "A student",
    "clinician": "A health professional",
}
STATE_LABELS = {
    "draft": "Draft", "submitted": "Submitted", "under_review": "Under review",
    "changes_requested": "Changes requested", "approved": "Approved", "rejected": "Rejected", "retired": "Retired",
}


def day(stamp: str | None) -> str:
    """'2025-08-28T10:00:00+00:00' -> '28 August 2025' (the text unchanged when it is not a timestamp)."""
    if not stamp:
        return ""
    try:
        return datetime.fromisoformat(stamp).strftime("%-d %B %Y")
    except ValueError:
        return stamp


def moment(stamp: str | None) -> str:
    """A timestamp to the minute, in UTC as stored."""
    try:
        return datetime.fromisoformat(stamp or "").strftime("%-d %b %Y %H:%M UTC")
    except ValueError:
        return stamp or ""


def web_url(url: str | None) -> str | None:
    """The URL if it is an http(s) link; None for anything else a source may hold (``javascript:``, ``data:``)."""
    return url if url and url.lower().startswith(("https://", "http://")) else None


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=PackageLoader("medora.web", "templates"), autoescape=select_autoescape(("html",)),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(day=day, moment=moment, web_url=web_url, state=lambda s: STATE_LABELS.get(s, s))
    env.globals.update(version=__version__, audience_labels=AUDIENCE_LABELS)
    return env


def macro(template: str, name: str, *args: Any) -> Markup:
    """Call macro ``name`` of ``template`` (for fragments sent outside a whole page)."""
    return getattr(environment().get_template(template).module, name)(*args)


def page(request: Request, who: Visitor, template: str, *, status: int = 200, title: str = "",
         **context: Any) -> HTMLResponse:
    """A whole page from ``template``, with the visitor's cookies and the security headers."""
    html = environment().get_template(template).render(who=who, path=request.url.path, title=title, **context)
    response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
    apply_cookies(request, response, who)
    return response
