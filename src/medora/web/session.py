"""Who is visiting the web pages: the login cookie, the CSRF token, the remembered audience, and forms.

Cookies, all ``HttpOnly`` and ``SameSite=Lax``, ``Secure`` over https (or as
``ApiSettings.secure_cookies`` says):

* ``medora_session``: a login token (``mds_…``) from the signer behind ``POST /v1/auth/login``;
  nothing is stored on the server, and a disabled user's cookie stops working at once.
* ``medora_csrf``: a random value. Every form carries ``HMAC(server key, value)`` in its ``csrf``
  field (a signed double-submit token); a POST whose field does not match, or whose ``Origin``
  is another site, is refused with 403.
* ``medora_audience``: the reader's answer to "Which best describes you?".
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from fastapi import Request, Response

from medora.answer.audience import AUDIENCES
from medora.api.auth import Principal, anonymous, authenticate, client_address
from medora.api.context import Server, server_of
from medora.publish.errors import Forbidden, InvalidInput, Unauthenticated

SESSION_COOKIE = "medora_session"
CSRF_COOKIE = "medora_csrf"
AUDIENCE_COOKIE = "medora_audience"
AUDIENCE_SECONDS = 365 * 24 * 3600
DEFAULT_AUDIENCE = "patient"
MAX_FORM_FIELDS = 100
_FORM_TYPE = "application/x-www-form-urlencoded"

Form = dict[str, str]


@dataclass
class Visitor:
    """The caller of one page: principal, the CSRF token its forms carry, its audience, cookies to set."""

    principal: Principal
    csrf: str
    audience: str
    new_csrf_cookie: str | None = None
    drop_session: bool = False

    @property
    def user(self) -> str | None:
        return self.principal.user.username if self.principal.user else None

    @property
    def is_staff(self) -> bool:
        return self.principal.is_staff


def _csrf_token(server: Server, cookie: str) -> str:
    return hmac.new(server.sessions.key, b"csrf:" + cookie.encode("ascii", "replace"), hashlib.sha256).hexdigest()


def _principal(request: Request, server: Server) -> tuple[Principal, bool]:
    """(principal from the session cookie, whether the cookie must be dropped as invalid)."""
    token = request.cookies.get(SESSION_COOKIE)
    client = client_address(request)
    if not token:
        return anonymous(client, server.api.anonymous_ask), False
    accounts = server.libraries.local().accounts
    try:
        return authenticate(accounts, server.sessions, f"Bearer {token}", client, server.api.anonymous_ask), False
    except Unauthenticated:  # expired, mangled, or its user was disabled
        return anonymous(client, server.api.anonymous_ask), True


def audience_of(request: Request, chosen: str | None = None) -> str:
    """The audience chosen now, else the remembered one, else the default."""
    for value in (chosen, request.cookies.get(AUDIENCE_COOKIE)):
        if value in AUDIENCES:
            return value
    return DEFAULT_AUDIENCE


def visitor(request: Request, audience: str | None = None) -> Visitor:
    """The visitor of this request (call it on a worker thread: it may read the accounts table)."""
    server = server_of(request)
    principal, drop = _principal(request, server)
    cookie = request.cookies.get(CSRF_COOKIE)
    fresh = None if cookie else secrets.token_urlsafe(32)
    return Visitor(principal, _csrf_token(server, fresh or cookie or ""), audience_of(request, audience), fresh, drop)


def secure(request: Request) -> bool:
    configured = server_of(request).api.secure_cookies
    return request.url.scheme == "https" if configured is None else configured


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="lax",
                        secure=secure(request))


def drop_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(name, path="/", httponly=True, samesite="lax", secure=secure(request))


def apply_cookies(request: Request, response: Response, who: Visitor) -> None:
    """Set the cookies a visitor needs: a new CSRF cookie, or the removal of a dead session."""
    if who.new_csrf_cookie:
        set_cookie(request, response, CSRF_COOKIE, who.new_csrf_cookie, None)
    if who.drop_session:
        drop_cookie(request, response, SESSION_COOKIE)


def remember_audience(request: Request, response: Response, audience: str) -> None:
    if audience != request.cookies.get(AUDIENCE_COOKIE):
        set_cookie(request, response, AUDIENCE_COOKIE, audience, AUDIENCE_SECONDS)


async def posted_form(request: Request) -> Form:
    """FastAPI dependency: the fields of a URL-encoded form whose CSRF token and origin check out."""
    if not request.headers.get("content-type", "").startswith(_FORM_TYPE):
        raise InvalidInput("send the form as application/x-www-form-urlencoded")
    _check_origin(request)
    try:
        pairs = parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True,
                          max_num_fields=MAX_FORM_FIELDS, strict_parsing=False)
    except ValueError:
        raise InvalidInput(f"a form may have at most {MAX_FORM_FIELDS} fields") from None
    form = {name: value.replace("\x00", "") for name, value in pairs}
    cookie = request.cookies.get(CSRF_COOKIE, "")
    expected = _csrf_token(server_of(request), cookie)
    if not cookie or not hmac.compare_digest(form.get("csrf", "").encode(), expected.encode()):
        raise Forbidden("this form has expired or did not come from this site; reload the page and try again")
    return form


def _check_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.url.netloc:
        raise Forbidden("this form was sent from another site")
