"""Transactions for the publishing tables: one lock per store, ``BEGIN IMMEDIATE`` for writes.

Every check-and-update runs inside one transaction, so two connections acting on the same
article revision cannot both succeed. The lock serialises threads that share one store (one
sqlite3 connection cannot hold two transactions at once).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from weakref import WeakKeyDictionary

from medora.errors import LibraryError
from medora.library.sqlite_store import SQLiteStore

_LOCKS: WeakKeyDictionary[SQLiteStore, threading.RLock] = WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _lock_for(store: SQLiteStore) -> threading.RLock:
    with _LOCKS_GUARD:
        lock = _LOCKS.get(store)
        if lock is None:
            lock = _LOCKS[store] = threading.RLock()
        return lock


@contextmanager
def transaction(store: SQLiteStore, *, write: bool = True) -> Iterator[sqlite3.Connection]:
    """Yield the store's connection inside one transaction; commit on success, roll back on any error."""
    db = store.db
    with _lock_for(store):
        try:
            db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        except sqlite3.OperationalError as exc:
            raise LibraryError(f"{store.path}: library is busy ({exc}); try again") from None
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
