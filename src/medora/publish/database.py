"""Transactions for the publishing tables on either backend, behind one small SQL dialect seam.

Publishing code writes portable SQL with ``?`` placeholders (``ON CONFLICT``, no date functions:
timestamps are ISO text made by ``now()``). ``transaction(store)`` yields a ``Db`` whose
``execute`` returns a cursor (``fetchone``, ``fetchall``, ``rowcount``, iteration) of ``Row``s;
``insert`` returns the new row's id. On PostgreSQL ``?`` becomes ``%s``.

Every check-and-update runs inside one write transaction, and write transactions run one at a
time, so two connections acting on the same article revision cannot both succeed: SQLite takes
its write lock at ``BEGIN IMMEDIATE``; PostgreSQL takes one transaction-level advisory lock
before the first read (READ COMMITTED then shows each statement every write committed before
it). A lock not granted in ``BUSY_TIMEOUT_S`` is a ``LibraryError`` ("busy; try again"), and so is
a connection the server ended (a restart): never retried here, since a lost COMMIT may have
landed; a caller trying again is safe where it names the revision it expects. Reads
see one snapshot (PostgreSQL: REPEATABLE READ, READ ONLY). A per-store lock serialises threads
that share one store (one connection cannot hold two transactions at once).
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Self, Union
from weakref import WeakKeyDictionary

from medora.errors import LibraryError
from medora.library.sqlite_store import SQLiteStore
from medora.publish.errors import InvalidInput

if TYPE_CHECKING:
    from medora.library.pg_store import PgStore

Store = Union[SQLiteStore, "PgStore"]

PUBLISH_LOCK = 0x6D65646F7270  # advisory lock key of publishing writes on PostgreSQL
BUSY_TIMEOUT_S = 30  # as the SQLite store's busy timeout
_LITERAL = re.compile(r"('(?:[^']|'')*')")

_LOCKS: WeakKeyDictionary[Any, threading.RLock] = WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Row(tuple):
    """A result row: a tuple that can also be indexed by column name, as ``sqlite3.Row``."""

    _names: dict[str, int]

    def __new__(cls, values: Iterable[Any], names: dict[str, int]) -> Self:
        row = super().__new__(cls, values)
        row._names = names
        return row

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            if key not in self._names:
                raise IndexError(f"no column {key!r}")
            key = self._names[key]
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


def _names(description: Sequence[Sequence[Any]] | None) -> dict[str, int]:
    return {column[0]: i for i, column in enumerate(description or ())}


@lru_cache(maxsize=512)
def pg_sql(statement: str) -> str:
    """``statement`` with psycopg placeholders: ``?`` outside string literals becomes ``%s``, every ``%`` ``%%``."""
    parts = _LITERAL.split(statement)
    return "".join(part.replace("%", "%%") if i % 2 else part.replace("%", "%%").replace("?", "%s")
                   for i, part in enumerate(parts))


class Db:
    """A transaction's connection, sqlite3 or psycopg, behind the same ``execute``/``executemany``/``insert``."""

    def __init__(self, raw: Any, postgres: bool):
        self.raw = raw
        self.postgres = postgres

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement; the cursor's rows are ``Row``s."""
        if self.postgres:
            cur = self.raw.cursor(row_factory=_pg_rows)
            cur.execute(pg_sql(statement), tuple(params))
            return cur
        cur = self.raw.cursor()
        cur.row_factory = _sqlite_rows()
        return cur.execute(statement, tuple(params))

    def executemany(self, statement: str, rows: Iterable[Sequence[Any]]) -> None:
        if self.postgres:
            self.raw.cursor().executemany(pg_sql(statement), [tuple(r) for r in rows])
        else:
            self.raw.executemany(statement, rows)

    def insert(self, statement: str, params: Sequence[Any] = ()) -> int:
        """Run an INSERT into a table with an ``id`` key and return the new row's id."""
        if self.postgres:
            return self.execute(statement + " RETURNING id", params).fetchone()[0]
        return self.execute(statement, params).lastrowid


def _sqlite_rows() -> Callable[[sqlite3.Cursor, tuple], Row]:
    names: dict[str, int] | None = None

    def make(cursor: sqlite3.Cursor, values: tuple) -> Row:
        nonlocal names
        if names is None:
            names = _names(cursor.description)
        return Row(values, names)

    return make


def _pg_rows(cursor: Any) -> Callable[[Sequence[Any]], Row]:
    names = _names(cursor.description)
    return lambda values: Row(values, names)


def _lock_for(store: Store) -> threading.RLock:
    with _LOCKS_GUARD:
        lock = _LOCKS.get(store)
        if lock is None:
            lock = _LOCKS[store] = threading.RLock()
        return lock


@contextmanager
def transaction(store: Store, *, write: bool = True, exclusive: bool = True) -> Iterator[Db]:
    """Yield the store's connection inside one transaction; commit on success, roll back on any error.

    ``exclusive=False`` (PostgreSQL only; SQLite writes are always one at a time): the write skips
    the publishing lock, for callers that lock the rows they change themselves (``FOR UPDATE``).
    """
    with _lock_for(store):
        if isinstance(store, SQLiteStore):
            with _sqlite_transaction(store, write) as db:
                yield db
        else:
            with _pg_transaction(store, write, exclusive) as db:
                yield db


@contextmanager
def _sqlite_transaction(store: SQLiteStore, write: bool) -> Iterator[Db]:
    db = store.db
    try:
        db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
    except sqlite3.OperationalError as exc:
        raise LibraryError(f"{store.path}: library is busy ({exc}); try again") from None
    try:
        yield Db(db, postgres=False)
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


@contextmanager
def _pg_transaction(store: PgStore, write: bool, exclusive: bool) -> Iterator[Db]:
    import psycopg

    conn = store.conn
    try:
        with conn.transaction():
            if write:
                conn.execute("SELECT set_config('lock_timeout', %s, true)", (f"{BUSY_TIMEOUT_S}s",))
                if exclusive:
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (PUBLISH_LOCK,))
            else:
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield Db(conn, postgres=True)
    except psycopg.errors.LockNotAvailable:
        raise LibraryError(f"{store.path}: library is busy (another write held it {BUSY_TIMEOUT_S}s); try again") \
            from None
    except psycopg.DataError as exc:
        raise InvalidInput(f"a value cannot be stored: {_one_line(exc)}") from None
    except psycopg.Error as exc:
        if conn.closed:  # the server restarted or ended the session; a commit may or may not have happened
            raise LibraryError(f"{store.path}: the connection to the database was lost ({_one_line(exc)});"
                               " try again") from None
        raise LibraryError(f"{store.path}: {_one_line(exc)}") from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
