"""Open a library by location: a file path is a SQLite library, a ``postgresql://`` URL a PostgreSQL one."""

from __future__ import annotations

from pathlib import Path

from medora.errors import LibraryError
from medora.library.store import LibraryStore

PG_SCHEMES = ("postgresql://", "postgres://")


def is_pg_url(location: str | Path) -> bool:
    """True for a PostgreSQL URL (a ``Path`` never is one: it would have collapsed the ``//``)."""
    return isinstance(location, str) and location.lower().startswith(PG_SCHEMES)


def open_store(location: str | Path, create: bool) -> LibraryStore:
    """The store for ``location``; ``create`` makes a missing library (file or schema) instead of refusing."""
    if is_pg_url(location):
        try:
            from medora.library.pg_store import (
                PgStore,  # psycopg is needed only for PostgreSQL libraries
            )
        except ImportError:
            raise LibraryError("a PostgreSQL library needs `pip install 'psycopg[binary]'`") from None
        return PgStore(str(location), create=create)
    from medora.library.sqlite_store import SQLiteStore

    return SQLiteStore(location, create=create)
