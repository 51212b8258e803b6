"""Follow-up threads belong to whoever opened them over HTTP.

A thread opened through ``POST /v1/ask`` or the web pages (``thread: "new"``) is bound to its
opener in ``thread_owners``: a signed-in user (``user:<id>``), or an anonymous caller by a hash of
its client address (API) or of its browser's CSRF cookie (web pages). Only that owner may continue
it; any other id, unknown or someone else's, gets the same "no thread" (404), so ids cannot be
probed. Threads opened from the command line have no owner and are not reachable over HTTP.
"""

from __future__ import annotations

import hashlib

from medora.api.auth import Principal
from medora.publish.database import Store, transaction
from medora.publish.errors import NotFound


def owner_key(principal: Principal, anonymous_handle: str | None) -> str:
    """The owner a thread opened by ``principal`` gets (``anonymous_handle``: address or browser cookie)."""
    if principal.user is not None:
        return f"user:{principal.user.id}"
    return "anon:" + hashlib.sha256((anonymous_handle or "").encode("utf-8", "replace")).hexdigest()[:32]


def check(store: Store, thread_id: str, owner: str) -> None:
    """Refuse to continue a thread this owner did not open (``NotFound``, the same as an unknown id)."""
    with transaction(store, write=False) as db:
        row = db.execute("SELECT owner FROM thread_owners WHERE thread_id = ?", (thread_id,)).fetchone()
    if row is None or row[0] != owner:
        raise NotFound(f"no thread {thread_id!r}; start one with thread 'new'")


def bind(store: Store, thread_id: str, owner: str) -> None:
    with transaction(store) as db:
        db.execute("INSERT INTO thread_owners(thread_id, owner) VALUES (?, ?) ON CONFLICT(thread_id) DO NOTHING",
                   (thread_id, owner))
