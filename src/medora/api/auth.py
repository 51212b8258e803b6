"""Who is calling: bearer tokens, short-lived login tokens, and the scopes each request needs.

Two kinds of bearer token are accepted in ``Authorization: Bearer <token>``:

* API tokens (``mdr_…``), created with ``medora tokens create``; ``Accounts`` keeps only their hash.
* Login tokens (``mds_…``) from ``POST /v1/auth/login``: the user id, expiry and a nonce, signed
  with HMAC-SHA256 under the server's key. They expire after ``ApiSettings.session_minutes``;
  logging out (``POST /v1/auth/logout``, the web page's "Log out") records the nonce as revoked in
  the library until then. The user's role and ``disabled`` flag and the revocation are read on every
  request, so disabling a user or logging out ends the session at once, on every worker.

Every request resolves to a ``Principal``: an ``Actor`` for the audit log and the scopes it holds
(a token's scopes within what its user's role allows; anonymous clients hold ``read``, and ``ask``
when ``ApiSettings.anonymous_ask``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from medora.api.context import server_of
from medora.publish.actors import ANONYMOUS, Actor
from medora.publish.errors import Forbidden, NotFound, Unauthenticated
from medora.publish.users import ROLE_SCOPES, Accounts, User
from medora.publish.workflow import STAFF

SESSION_PREFIX = "mds_"
_BAD_SESSION = "invalid or expired login token; log in again"

bearer = HTTPBearer(auto_error=False, description="An API token (mdr_…) or a login token (mds_…)")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionTokens:
    """Signs and checks login tokens: ``mds_`` + base64(user id, expiry, nonce) + ``.`` + base64(HMAC)."""

    def __init__(self, key: bytes, minutes: int):
        self.key = key
        self.seconds = minutes * 60

    def issue(self, user_id: int) -> tuple[str, datetime]:
        expires = int(time.time()) + self.seconds
        payload = _b64(f"{user_id}.{expires}.{secrets.token_hex(8)}".encode("ascii"))
        token = f"{SESSION_PREFIX}{payload}.{self._sign(payload)}"
        return token, datetime.fromtimestamp(expires, UTC)

    def user_id(self, token: str) -> int:
        """The user a valid, unexpired token was issued to; ``Unauthenticated`` otherwise."""
        return self.claims(token)[0]

    def claims(self, token: str) -> tuple[int, int, str]:
        """(user id, expiry as unix time, nonce) of a valid, unexpired token; ``Unauthenticated`` otherwise."""
        payload, _, signature = token.removeprefix(SESSION_PREFIX).partition(".")
        if not hmac.compare_digest(signature.encode("ascii", "replace"), self._sign(payload).encode("ascii")):
            raise Unauthenticated(_BAD_SESSION)
        user_id, expires, nonce = _unb64(payload).decode("ascii").split(".")
        if int(expires) <= time.time():
            raise Unauthenticated(_BAD_SESSION)
        return int(user_id), int(expires), nonce

    def is_valid(self, token: str) -> bool:
        """Whether ``token`` is a login token this server signed and that has not expired (no library read)."""
        try:
            self.user_id(token)
        except (Unauthenticated, ValueError, UnicodeError):
            return False
        return True

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self.key, payload.encode("ascii", "replace"), hashlib.sha256).digest())


@dataclass(frozen=True)
class Principal:
    """The caller of one request: actor, user (None when anonymous) and scopes held."""

    actor: Actor
    scopes: frozenset[str]
    user: User | None = None

    @property
    def is_staff(self) -> bool:
        """Reviewers, editors and admins acting with the ``review`` scope see unpublished articles."""
        return self.actor.role in STAFF and "review" in self.scopes

    def require(self, scope: str) -> Actor:
        """The actor, if it holds ``scope``; else 401 for anonymous callers and 403 for users."""
        if scope not in self.scopes:
            if self.actor.role == ANONYMOUS:
                raise Unauthenticated(f"sign in: this needs the {scope!r} scope")
            raise Forbidden(f"this needs the {scope!r} scope, which your token does not hold")
        return self.actor

    def require_staff(self) -> Actor:
        actor = self.require("review")
        if not self.is_staff:
            raise Forbidden(f"a {actor.role} cannot see unpublished articles")
        return actor


def anonymous(client: str | None, may_ask: bool) -> Principal:
    return Principal(Actor.anonymous(client), frozenset({"read", "ask"} if may_ask else {"read"}))


def authenticate(accounts: Accounts, sessions: SessionTokens, authorization: str | None, client: str | None,
                 anonymous_ask: bool) -> Principal:
    """The principal for an ``Authorization`` header value (None: anonymous)."""
    if authorization is None:
        return anonymous(client, anonymous_ask)
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("use 'Authorization: Bearer <token>'")
    if token.startswith(SESSION_PREFIX):
        user = _session_user(accounts, sessions, token)
        scopes = ROLE_SCOPES[user.role]
    else:
        user, api_token = accounts.authenticate_token(token)
        scopes = frozenset(api_token.scopes) & ROLE_SCOPES[user.role]
    return Principal(user.actor(client), frozenset(scopes), user)


def _session_user(accounts: Accounts, sessions: SessionTokens, token: str) -> User:
    try:
        user_id, _, nonce = sessions.claims(token)
        user = accounts.user(user_id)
    except (ValueError, NotFound):  # a mangled token, or a user that no longer exists
        raise Unauthenticated(_BAD_SESSION) from None
    if user.disabled or accounts.session_revoked(nonce):
        raise Unauthenticated(_BAD_SESSION)
    return user


def revoke_session(accounts: Accounts, sessions: SessionTokens, token: str) -> bool:
    """End a login token before it expires (logout); False when it was not a valid one."""
    try:
        user_id, expires, nonce = sessions.claims(token)
    except (Unauthenticated, ValueError, UnicodeError):
        return False
    accounts.revoke_session(user_id, nonce, expires)
    return True


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def principal(request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]) -> Principal:
    """FastAPI dependency: the caller of this request (runs on a worker thread, with that thread's library)."""
    server = server_of(request)
    return authenticate(server.libraries.local().accounts, server.sessions, request.headers.get("authorization"),
                        client_address(request), server.api.anonymous_ask)
