"""The audit log: an append-only record of every state change, edit and account change.

Entries say who (user, role, client address), when, what action, on which article version,
from which state to which, and a JSON detail. Secrets (passwords, tokens) never enter it.
Triggers in the database (SQLite and PostgreSQL) abort any UPDATE or DELETE on the table.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from medora.publish.actors import Actor
from medora.publish.database import Db, now


class AuditEntry(BaseModel):
    id: int
    at: str
    actor: str
    actor_role: str
    action: str
    article_id: int | None = None
    version: int | None = None
    from_state: str | None = None
    to_state: str | None = None
    detail: dict[str, Any]
    client: str | None = None


def record(
    db: Db,
    actor: Actor,
    action: str,
    *,
    article_id: int | None = None,
    version: int | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
    detail: dict[str, Any] | None = None,
) -> int:
    """Append one entry (call inside the transaction that makes the change) and return its id."""
    return db.insert(
        "INSERT INTO audit_log(at, actor_id, actor, actor_role, action, article_id, version, from_state, to_state,"
        " detail, client) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (now(), actor.user_id, actor.username, actor.role, action, article_id, version, from_state, to_state,
         json.dumps(detail or {}, ensure_ascii=False, sort_keys=True), actor.client),
    )


def entries(db: Db, *, article_id: int | None = None, limit: int = 1000) -> list[AuditEntry]:
    """Entries oldest first, for one article or (``article_id`` None) for everything."""
    where, args = ("WHERE article_id = ?", (article_id,)) if article_id is not None else ("", ())
    rows = db.execute(
        "SELECT id, at, actor, actor_role, action, article_id, version, from_state, to_state, detail, client"
        f" FROM audit_log {where} ORDER BY id LIMIT ?",
        (*args, limit),
    ).fetchall()
    keys = ("id", "at", "actor", "actor_role", "action", "article_id", "version", "from_state", "to_state")
    return [AuditEntry(**dict(zip(keys, r[:9])), detail=json.loads(r[9]), client=r[10]) for r in rows]
