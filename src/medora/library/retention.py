"""How long follow-up threads are kept: ``purge_threads`` deletes those idle longer than the retention.

A thread (``threads``, its ``thread_turns`` and its ``thread_owners`` row) holds the redacted
questions of one conversation. It is kept ``Settings.thread_retention_days`` (default 30) after its
last turn, then deleted by ``medora threads purge`` (run it daily, e.g. from cron) and once at each
start of ``medora serve``. Works on SQLite and PostgreSQL (``publish.database``, the dialect seam).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from medora.publish.database import Store, transaction

# Threads whose newest turn (or, with no turn yet, creation) is before the cut-off.
_IDLE = ("SELECT t.id FROM threads t LEFT JOIN thread_turns u ON u.thread_id = t.id GROUP BY t.id, t.created_at"
         " HAVING COALESCE(MAX(u.created_at), t.created_at) < ?")


@dataclass(frozen=True)
class Purged:
    threads: int
    turns: int
    cutoff: str


def purge_threads(store: Store, retention_days: int, now: datetime | None = None) -> Purged:
    """Delete every thread idle for more than ``retention_days`` days (0: every thread), in one transaction."""
    cutoff = ((now or datetime.now(UTC)) - timedelta(days=retention_days)).isoformat(timespec="seconds")
    with transaction(store) as db:
        ids = [row[0] for row in db.execute(_IDLE, (cutoff,)).fetchall()]
        turns = 0
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            turns += db.execute(f"DELETE FROM thread_turns WHERE thread_id IN ({marks})", chunk).rowcount
            db.execute(f"DELETE FROM thread_owners WHERE thread_id IN ({marks})", chunk)
            db.execute(f"DELETE FROM threads WHERE id IN ({marks})", chunk)
    return Purged(threads=len(ids), turns=turns, cutoff=cutoff)
