"""PostgreSQL copies of the cached evaluation libraries, for ``medora eval retrieval --postgres URL``.

Each SQLite library is copied (passages and vectors, checksummed, nothing re-embedded) with
``migrate_library`` into its own database on the server of URL, named from the dataset and the
corpus digest. A database that already holds the same library (same documents, passages and
vectors per model) is reused; one that differs (the SQLite library gained vectors since) is
dropped and copied again.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from medora.errors import LibraryError, UsageError
from medora.library.migrate import migrate_library
from medora.library.open import is_pg_url
from medora.library.pg_store import PgStore, redact
from medora.library.sqlite_store import SQLiteStore
from medora.publish.database import transaction

Summary = tuple[int, int, tuple[tuple[str, int], ...]]
_COUNTS = ("SELECT (SELECT COUNT(*) FROM documents), (SELECT COUNT(*) FROM passages)",
           "SELECT model_id, COUNT(*) FROM embeddings GROUP BY model_id ORDER BY model_id")


def database_name(dataset: str, digest: str, cache_format: int) -> str:
    """``medora_eval_<name>_<digest12>_v<format>``: lower-case letters, digits and ``_``, within PostgreSQL's 63."""
    name = re.sub(r"[^a-z0-9]+", "_", dataset.lower()).strip("_")[:32]
    return f"medora_eval_{name}_{digest[:12]}_v{cache_format}"


def database_url(server_url: str, name: str) -> str:
    """``server_url`` pointing at database ``name`` (same host, user, password and parameters)."""
    return urlunsplit(urlsplit(server_url)._replace(path="/" + name))


def summary(store) -> Summary:
    """(documents, passages, ((model, vectors), ...)) of a SQLite or PostgreSQL library."""
    with transaction(store, write=False) as db:
        documents, passages = db.execute(_COUNTS[0]).fetchone()
        vectors = tuple((row[0], int(row[1])) for row in db.execute(_COUNTS[1]).fetchall())
    return int(documents), int(passages), vectors


def check_server(server_url: str) -> None:
    """Fail now, with one clear line, when ``server_url`` is not a reachable PostgreSQL server."""
    if not is_pg_url(server_url):
        raise UsageError(f"--postgres must be a postgresql:// URL, not {server_url!r}")
    _admin(server_url).close()


def pg_copy(library: Path, db_name: str, server_url: str, progress: Callable[[str], None] = print) -> str:
    """URL of a PostgreSQL database holding exactly the SQLite ``library`` (copied now unless it already does)."""
    url = database_url(server_url, db_name)
    with SQLiteStore(library, create=False) as source:
        wanted = summary(source)
        if _ensure_database(server_url, db_name):
            with PgStore(url, create=True) as target:
                if summary(target) == wanted:
                    progress(f"PostgreSQL copy {redact(url)} is current (reused)")
                    return url
            _drop_database(server_url, db_name)
            _ensure_database(server_url, db_name)
        with PgStore(url, create=True) as target:
            report = migrate_library(source, target)
    progress(f"copied {library.name} into {redact(url)} ({report.count('passages'):,} passages, "
             f"{report.count('embeddings'):,} vectors, {report.seconds:.1f}s)")
    return url


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _admin(server_url: str) -> psycopg.Connection:
    try:
        return psycopg.connect(server_url, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise LibraryError(f"cannot connect to PostgreSQL server {redact(server_url)}: {_one_line(exc)}") from None


def _ensure_database(server_url: str, name: str) -> bool:
    """True when database ``name`` already existed; else it is created now."""
    with _admin(server_url) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return True
        try:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.Error as exc:
            raise LibraryError(f"cannot create database {name} on {redact(server_url)} "
                               f"(the user needs CREATEDB): {_one_line(exc)}") from None
    return False


def _drop_database(server_url: str, name: str) -> None:
    with _admin(server_url) as admin:
        try:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        except psycopg.Error as exc:
            raise LibraryError(f"cannot drop the stale copy {name} on {redact(server_url)}: {_one_line(exc)}") from None
