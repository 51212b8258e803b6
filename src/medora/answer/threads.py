"""Follow-up threads: earlier questions give a follow-up its context.

A follow-up such as "what about in children?" names no topic; its retrieval query is
rewritten by carrying the focus terms of the thread's previous turns into it. Threads live in
the library (SQLite or PostgreSQL); questions are stored only after personal details were removed.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from medora.errors import UsageError
from medora.retrieve.query import content_terms

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from medora.publish.database import Db, Store

NEW = "new"
CARRY_TERMS = 4


@dataclass
class Turn:
    turn: int
    question: str
    retrieval_query: str
    focus: list[str]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _transaction(store: Store, write: bool) -> AbstractContextManager[Db]:
    from medora.publish.database import transaction  # loaded only when a thread is used

    return transaction(store, write=write)


def open_thread(store: Store, thread_id: str | None, audience: str) -> tuple[str | None, list[Turn]]:
    """(thread id, earlier turns). ``"new"`` starts a thread; None means no thread."""
    if thread_id is None:
        return None, []
    if thread_id == NEW:
        new_id = secrets.token_hex(8)
        with _transaction(store, write=True) as db:
            db.execute("INSERT INTO threads(id, audience, created_at) VALUES (?,?,?)", (new_id, audience, _now()))
        return new_id, []
    with _transaction(store, write=False) as db:
        if not db.execute("SELECT 1 FROM threads WHERE id = ?", (thread_id,)).fetchone():
            raise UsageError(f"no thread {thread_id!r} in this library; start one with --thread new")
        rows = db.execute(
            "SELECT turn, question, retrieval_query, focus FROM thread_turns WHERE thread_id = ? ORDER BY turn",
            (thread_id,),
        ).fetchall()
    return thread_id, [Turn(t, q, r, f.split()) for t, q, r, f in rows]


def rewrite(question: str, turns: list[Turn]) -> str:
    """The retrieval query for a follow-up: earlier focus terms the new question lacks, then the question."""
    if not turns:
        return question
    own = set(content_terms(question))
    carried = [t for t in turns[-1].focus if t not in own][:CARRY_TERMS]
    return " ".join(carried + [question]) if carried else question


def record_turn(store: Store, thread_id: str, question: str, retrieval_query: str, focus: list[str],
                status: str) -> int:
    """Append the next turn to the thread (numbered in the same transaction, so concurrent asks never collide)."""
    with _transaction(store, write=True) as db:
        turn = db.execute("SELECT COALESCE(MAX(turn), 0) + 1 FROM thread_turns WHERE thread_id = ?",
                          (thread_id,)).fetchone()[0]
        db.execute(
            "INSERT INTO thread_turns(thread_id, turn, question, retrieval_query, focus, status, created_at)"
            " VALUES (?,?,?,?,?,?,?)",
            (thread_id, turn, question, retrieval_query, " ".join(focus), status, _now()),
        )
    return turn
