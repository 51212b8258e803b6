"""User accounts and API tokens: who may act, and how a request proves it.

Passwords must pass the policy (``passwords``) and are hashed with argon2id (``argon2-cffi``);
password logins back off after failures (``login_guard``) and are audited, failed or not; logouts
record the login token's nonce as revoked. API tokens are 256-bit random secrets
shown once at creation; only their sha256 is stored (enough for secrets of that entropy), with
a short prefix to recognise them in lists. Tokens carry scopes bounded by the user's role and
can be revoked. Account changes go to the audit log; secrets never do.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import secrets
import time

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel

from medora.publish import audit, login_guard
from medora.publish.actors import (
    ADMIN,
    EDITOR,
    READER,
    REVIEWER,
    SYSTEM_ROLE,
    USER_ROLES,
    Actor,
)
from medora.publish.database import Db, Store, now, transaction
from medora.publish.errors import Forbidden, InvalidInput, NotFound, TooManyAttempts, Unauthenticated
from medora.publish.passwords import check_password

SCOPES = ("read", "ask", "review", "admin")
ROLE_SCOPES: dict[str, frozenset[str]] = {
    READER: frozenset({"read", "ask"}),
    REVIEWER: frozenset({"read", "ask", "review"}),
    EDITOR: frozenset({"read", "ask", "review"}),
    ADMIN: frozenset(SCOPES),
}
TOKEN_PREFIX = "mdr_"
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
RESERVED_USERNAMES = frozenset({"anonymous", "system", "local"})  # actor names in the audit log
_BAD_LOGIN = "wrong username or password"
_BAD_TOKEN = "invalid or revoked API token"


class User(BaseModel):
    id: int
    username: str
    display_name: str
    role: str
    disabled: bool
    created_at: str

    def actor(self, client: str | None = None) -> Actor:
        return Actor(self.role, self.id, self.username, client)


class ApiToken(BaseModel):
    """A token's public record; the secret is never stored or shown again."""

    id: int
    user_id: int
    name: str
    prefix: str
    scopes: list[str]
    created_at: str
    last_used_at: str | None = None
    revoked_at: str | None = None


class NewToken(BaseModel):
    token: ApiToken
    secret: str


def _token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


_USER_COLUMNS = "id, username, display_name, role, disabled, created_at"
_TOKEN_COLUMNS = "id, user_id, name, prefix, scopes, created_at, last_used_at, revoked_at"


def _user(row: tuple) -> User:
    return User(id=row[0], username=row[1], display_name=row[2], role=row[3], disabled=bool(row[4]), created_at=row[5])


def _token(row: tuple) -> ApiToken:
    return ApiToken(id=row[0], user_id=row[1], name=row[2], prefix=row[3], scopes=json.loads(row[4]),
                    created_at=row[5], last_used_at=row[6], revoked_at=row[7])


class Accounts:
    """Users and tokens of one library. Managing users takes an admin (or the local system actor)."""

    def __init__(self, store: Store, hasher: PasswordHasher | None = None):
        self.store = store
        self.hasher = hasher or PasswordHasher()
        self._dummy_hash: str | None = None

    # ------------------------------------------------------------------ users

    def create_user(self, actor: Actor, username: str, display_name: str, role: str,
                    password: str | None = None) -> User:
        _require_admin(actor)
        username = _check_username(username)
        if role not in USER_ROLES:
            raise InvalidInput(f"unknown role {role!r}; choose one of {', '.join(USER_ROLES)}")
        display_name = " ".join((display_name or "").split()) or username
        hashed = self._hash(password, username, display_name) if password is not None else None
        stamp = now()
        with transaction(self.store) as db:
            if db.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone():
                raise InvalidInput(f"username {username!r} is taken")
            user_id = db.insert(
                "INSERT INTO users(username, display_name, role, password_hash, disabled, created_at, updated_at)"
                " VALUES (?,?,?,?,0,?,?)",
                (username, display_name, role, hashed, stamp, stamp),
            )
            audit.record(db, actor, "create_user", detail={"user_id": user_id, "username": username, "role": role})
            return self._get(db, user_id)

    def user(self, user_id: int) -> User:
        with transaction(self.store, write=False) as db:
            return self._get(db, user_id)

    def users(self) -> list[User]:
        with transaction(self.store, write=False) as db:
            return [_user(r) for r in db.execute(f"SELECT {_USER_COLUMNS} FROM users ORDER BY username")]

    def set_password(self, actor: Actor, user_id: int, password: str) -> None:
        _require_self_or_admin(actor, user_id)
        user = self.user(user_id)
        hashed = self._hash(password, user.username, user.display_name)
        self._update_user(actor, user_id, "set_password", "password_hash = ?", (hashed,), {})

    def set_role(self, actor: Actor, user_id: int, role: str) -> User:
        _require_admin(actor)
        if role not in USER_ROLES:
            raise InvalidInput(f"unknown role {role!r}; choose one of {', '.join(USER_ROLES)}")
        return self._update_user(actor, user_id, "set_role", "role = ?", (role,), {"role": role})

    def set_disabled(self, actor: Actor, user_id: int, disabled: bool) -> User:
        _require_admin(actor)
        action = "disable_user" if disabled else "enable_user"
        return self._update_user(actor, user_id, action, "disabled = ?", (int(disabled),), {})

    def authenticate_password(self, username: str, password: str, client: str | None = None) -> User:
        """The user, or ``Unauthenticated`` with the same message for every reason (unknown, wrong, disabled).

        Failures are audited (``login_failed``, with the name tried and the client address) and
        counted per account and per address; past a few, ``TooManyAttempts`` until the backoff
        has passed (``login_guard``). Successful logins are audited too (``login``).
        """
        name = (username or "").strip().lower()[:64]
        attempt = login_guard.keys(name, client)
        with transaction(self.store) as db:
            wait = login_guard.seconds_to_wait(db, attempt)
            row = db.execute(f"SELECT {_USER_COLUMNS}, password_hash FROM users WHERE username = ?",
                             (name,)).fetchone()
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise TooManyAttempts(f"too many failed logins; try again in {seconds} s", seconds)
        stored = row[6] if row and row[6] else self._dummy()  # same work whether or not the user exists
        try:
            self.hasher.verify(stored, password or "")
            ok = row is not None and bool(row[6]) and not row[4]
        except (VerificationError, InvalidHashError):
            ok = False
        with transaction(self.store) as db:
            if not ok:
                login_guard.record_failure(db, attempt)
                audit.record(db, Actor.anonymous(client), "login_failed", detail={"username": name})
            else:
                login_guard.clear_account(db, name)
                if self.hasher.check_needs_rehash(stored):
                    db.execute("UPDATE users SET password_hash = ? WHERE id = ?", (self.hasher.hash(password), row[0]))
                audit.record(db, _user(row[:6]).actor(client), "login", detail={"user_id": row[0]})
        if not ok:
            raise Unauthenticated(_BAD_LOGIN)
        return _user(row[:6])

    # ------------------------------------------------------------------ login sessions

    def revoke_session(self, user_id: int, nonce: str, expires_at: float) -> None:
        """Record a login token's nonce as ended (logout) until it would have expired; audited."""
        with transaction(self.store) as db:
            db.execute("DELETE FROM revoked_sessions WHERE expires_at < ?", (time.time(),))
            db.execute("INSERT INTO revoked_sessions(nonce, expires_at) VALUES (?, ?) ON CONFLICT(nonce) DO NOTHING",
                       (nonce[:64], float(expires_at)))
            user = self._get(db, user_id)
            audit.record(db, user.actor(None), "logout", detail={"user_id": user_id})

    def session_revoked(self, nonce: str) -> bool:
        with transaction(self.store, write=False) as db:
            return db.execute("SELECT 1 FROM revoked_sessions WHERE nonce = ?", (nonce[:64],)).fetchone() is not None

    # ------------------------------------------------------------------ tokens

    def create_token(self, actor: Actor, user_id: int, name: str, scopes: list[str]) -> NewToken:
        """A new token for ``user_id``; ``secret`` is returned this once and cannot be recovered."""
        _require_self_or_admin(actor, user_id)
        name = " ".join((name or "").split())
        if not name:
            raise InvalidInput("a token needs a name (what or who uses it)")
        wanted = sorted(set(scopes))
        if not wanted or any(s not in SCOPES for s in wanted):
            raise InvalidInput(f"scopes must be some of {', '.join(SCOPES)}")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with transaction(self.store) as db:
            owner = self._get(db, user_id)
            beyond = [s for s in wanted if s not in ROLE_SCOPES[owner.role]]
            if beyond:
                raise Forbidden(f"a {owner.role} cannot hold scope {', '.join(beyond)}")
            token_id = db.insert(
                "INSERT INTO api_tokens(user_id, name, token_hash, prefix, scopes, created_at) VALUES (?,?,?,?,?,?)",
                (user_id, name, _token_hash(secret), secret[:8], json.dumps(wanted), now()),
            )
            audit.record(db, actor, "create_token", detail={"token_id": token_id, "user_id": user_id,
                                                           "name": name, "scopes": wanted})
            token = self._get_token(db, token_id)
        return NewToken(token=token, secret=secret)

    def tokens(self, user_id: int) -> list[ApiToken]:
        with transaction(self.store, write=False) as db:
            rows = db.execute(f"SELECT {_TOKEN_COLUMNS} FROM api_tokens WHERE user_id = ? ORDER BY id", (user_id,))
            return [_token(r) for r in rows]

    def revoke_token(self, actor: Actor, token_id: int) -> ApiToken:
        with transaction(self.store) as db:
            token = self._get_token(db, token_id)
            _require_self_or_admin(actor, token.user_id)
            db.execute("UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?", (now(), token_id))
            audit.record(db, actor, "revoke_token", detail={"token_id": token_id, "user_id": token.user_id})
            return self._get_token(db, token_id)

    def authenticate_token(self, secret: str, scope: str | None = None) -> tuple[User, ApiToken]:
        """The token's user and record; ``Unauthenticated`` if unknown/revoked/disabled, ``Forbidden`` if out of scope."""
        with transaction(self.store) as db:
            row = db.execute(f"SELECT {_TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = ?",
                             (_token_hash(secret or ""),)).fetchone()
            if row is None or row[7] is not None:
                raise Unauthenticated(_BAD_TOKEN)
            user = self._get(db, row[1])
            if user.disabled:
                raise Unauthenticated(_BAD_TOKEN)
            token = _token(row)
            if scope is not None and (scope not in token.scopes or scope not in ROLE_SCOPES[user.role]):
                raise Forbidden(f"this token lacks the {scope!r} scope")
            stamp = now()
            db.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (stamp, token.id))
        return user, token.model_copy(update={"last_used_at": stamp})

    # ------------------------------------------------------------------ helpers

    def _hash(self, password: str, username: str, display_name: str) -> str:
        check_password(password, username, display_name)
        return self.hasher.hash(password)

    def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))
        return self._dummy_hash

    def _update_user(self, actor: Actor, user_id: int, action: str, assignment: str, values: tuple,
                     detail: dict) -> User:
        with transaction(self.store) as db:
            self._get(db, user_id)
            db.execute(f"UPDATE users SET {assignment}, updated_at = ? WHERE id = ?", (*values, now(), user_id))
            audit.record(db, actor, action, detail={"user_id": user_id, **detail})
            return self._get(db, user_id)

    @staticmethod
    def _get(db: Db, user_id: int) -> User:
        row = db.execute(f"SELECT {_USER_COLUMNS} FROM users WHERE id = ?", (user_id,)).fetchone()
        if row is None:
            raise NotFound(f"no user {user_id}")
        return _user(row)

    @staticmethod
    def _get_token(db: Db, token_id: int) -> ApiToken:
        row = db.execute(f"SELECT {_TOKEN_COLUMNS} FROM api_tokens WHERE id = ?", (token_id,)).fetchone()
        if row is None:
            raise NotFound(f"no API token {token_id}")
        return _token(row)


def _check_username(username: str) -> str:
    name = (username or "").strip().lower()
    if not _USERNAME.fullmatch(name):
        raise InvalidInput("a username is 2-64 characters: letters, digits, '.', '_' or '-', starting with a letter "
                           "or digit")
    if name in RESERVED_USERNAMES:
        raise InvalidInput(f"the username {name!r} is reserved (the audit log uses it for Medora itself)")
    return name


def _require_admin(actor: Actor) -> None:
    if actor.role not in (ADMIN, SYSTEM_ROLE):
        raise Forbidden("only an admin can manage users")


def _require_self_or_admin(actor: Actor, user_id: int) -> None:
    if actor.role not in (ADMIN, SYSTEM_ROLE) and actor.user_id != user_id:
        raise Forbidden("only the user or an admin can do this")
