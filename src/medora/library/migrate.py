"""Copy a SQLite library into an empty PostgreSQL one, vectors and publishing data included, and prove
the copy is exact.

Nothing is re-read, re-chunked or re-embedded: sources, documents (same ids, versions and
hashes), passages (same ids, text, sentences; retired ones stay out of search), the ingested
file records and the float16 vectors are streamed with COPY in one transaction, followed by the
publishing tables (users, tokens, articles with their versions, variants and cited documents,
comments, the audit log, threads, rate-limit buckets) with their ids, so every link between them
holds. COPY inserts, which the audit log's append-only triggers allow. Identity sequences then
continue past the copied ids. Before it commits, every table is digested on both sides (row count
and sha256 over its rows in key order, passage text hashed as stored) and any difference rolls
the whole copy back.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from medora.errors import LibraryError, UsageError
from medora.library.open import is_pg_url
from medora.library.pg_store import PgStore, redact, vector_f16, vector_text
from medora.library.sqlite_store import SQLiteStore

Progress = Callable[[str], None]


@dataclass
class MigrationReport:
    """Per table: (rows, sha256 of its rows), identical on both sides; and the time it took."""

    digests: dict[str, tuple[int, str]] = field(default_factory=dict)
    seconds: float = 0.0

    def count(self, table: str) -> int:
        return self.digests[table][0]


def migrate(src: str | Path, dst: str, progress: Progress | None = None) -> MigrationReport:
    """Copy the SQLite library file ``src`` into the empty PostgreSQL library at URL ``dst`` (schema made if missing).

    Locations are checked before anything is opened, so a wrong one creates nothing.
    """
    if is_pg_url(src):
        raise UsageError(f"the library to copy must be a SQLite file, not {redact(str(src))}")
    if not is_pg_url(dst):
        raise UsageError(f"the target must be a postgresql:// URL, not {dst!r}")
    with SQLiteStore(src, create=False) as source, PgStore(dst, create=True) as target:
        return migrate_library(source, target, progress)


def migrate_library(src_store: SQLiteStore, dst_store: PgStore, progress: Progress | None = None) -> MigrationReport:
    """Copy ``src_store`` into the empty ``dst_store``; raises LibraryError (leaving it empty) on any mismatch."""
    say = progress or (lambda message: None)
    started = time.perf_counter()
    db = dst_store.conn
    try:
        with db.transaction():
            _require_empty(dst_store)
            for table, columns, rows in _source_tables(src_store):
                with db.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    copied = 0
                    for row in rows:
                        copy.write_row(row)
                        copied += 1
                say(f"{table}: {copied:,} rows copied")
            for table, column in _IDENTITIES:
                db.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'),"
                           f" COALESCE(MAX({column}), 0) + 1, false) FROM {table}")
            report = MigrationReport(_check(sqlite_digests(src_store), pg_digests(dst_store)))
            say("verified: " + ", ".join(f"{t} {n:,}" for t, (n, _) in report.digests.items()))
    except psycopg.Error as exc:
        reason = " ".join(str(exc).split())
        raise LibraryError(f"{dst_store.path}: migration failed, nothing was kept: {reason}") from None
    dst_store.changed()
    concepts = dst_store.rebuild_concepts()  # the concept index is derived from the documents: made, not copied
    say(f"concept index: {concepts['concepts']:,} concepts, {concepts['links']:,} document links")
    for model_id, dim in db.execute("SELECT DISTINCT model_id, dim FROM embeddings").fetchall():
        dst_store.ensure_vector_index(model_id, dim)
        say(f"vector index ready for {model_id}")
    report.seconds = time.perf_counter() - started
    return report


def _require_empty(dst: PgStore) -> None:
    held = dict(zip(_HELD, dst.conn.execute(
        "SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {table})" for table in _HELD.values())).fetchone()))
    if any(held.values()):
        what = ", ".join(f"{n:,} {name}" for name, n in held.items() if n)
        raise LibraryError(f"{dst.path} already holds a library ({what}); migrate into an empty database")


_HELD = {"sources": "sources", "documents": "documents", "vectors": "embeddings", "users": "users",
         "articles": "articles", "audit entries": "audit_log", "threads": "threads"}


def _check(source: dict[str, tuple[int, str]], copied: dict[str, tuple[int, str]]) -> dict[str, tuple[int, str]]:
    differ = [t for t in source if source[t] != copied.get(t)]
    if differ:
        detail = "; ".join(f"{t}: {source[t][0]:,} rows in SQLite, {copied[t][0]:,} copied" for t in differ)
        raise LibraryError(f"migration check failed, nothing was kept ({detail}; contents differ)")
    return source


# ---------------------------------------------------------------------- reading SQLite


def _source_tables(src: SQLiteStore) -> Iterator[tuple[str, tuple[str, ...], Iterable[tuple]]]:
    """(PostgreSQL table, columns, rows in COPY order) for each table, parents first."""
    q = src.db.execute
    yield "sources", ("id", "name", "publisher", "license", "url", "version", "attribution", "ingested_at"), q(
        "SELECT id, name, publisher, license, url, version, attribution, ingested_at FROM sources ORDER BY id")
    yield "documents", _DOC_COLUMNS, q(f"SELECT {', '.join(_DOC_COLUMNS)} FROM documents ORDER BY id")
    yield "passages", _PASSAGE_COLUMNS, q(
        "SELECT p.id, p.document_id, p.ordinal, d.title, p.section_path, p.section_type, p.text, p.sentences,"
        " p.content_hash, p.id IN (SELECT rowid FROM passages_fts)"
        " FROM passages p JOIN documents d ON d.id = p.document_id ORDER BY p.id")
    yield "ingested_files", ("source_id", "path", "sha256", "documents", "skipped", "ingested_at"), q(
        "SELECT source_id, path, sha256, documents, skipped, ingested_at FROM ingested_files ORDER BY source_id, path")
    yield "embeddings", ("model_id", "content_hash", "dim", "embedding", "created_at"), (
        (m, h, d, vector_text(v), c) for m, h, d, v, c in
        q("SELECT model_id, content_hash, dim, vector, created_at FROM embeddings ORDER BY model_id, content_hash"))
    for table in PUBLISHING:
        yield table.name, table.columns, q(table.select(postgres=False))


_DOC_COLUMNS = ("id", "source_id", "external_id", "title", "url", "publisher", "year", "doc_type", "grade", "license",
                "metadata", "content_hash", "origin", "version", "status", "created_at", "updated_at")
_PASSAGE_COLUMNS = ("id", "document_id", "ordinal", "title", "section_path", "section_type", "text", "sentences",
                    "content_hash", "searchable")


@dataclass(frozen=True)
class Table:
    """A publishing table, copied column for column (same names on both backends) in primary-key order."""

    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    text_key: tuple[str, ...] = ()  # key columns ordered by bytes on PostgreSQL too (COLLATE "C"), as in SQLite

    def select(self, postgres: bool) -> str:
        order = ", ".join(f'{k} COLLATE "C"' if postgres and k in self.text_key else k for k in self.key)
        return f"SELECT {', '.join(self.columns)} FROM {self.name} ORDER BY {order}"


# Parents before children. article_variants.rowid is SQLite's implicit rowid and PostgreSQL's identity
# column: the order variants were added, which the publishing queries rely on.
PUBLISHING = (
    Table("users", ("id", "username", "display_name", "role", "password_hash", "disabled", "created_at",
                    "updated_at"), ("id",)),
    Table("api_tokens", ("id", "user_id", "name", "token_hash", "prefix", "scopes", "created_at", "last_used_at",
                         "revoked_at"), ("id",)),
    Table("articles", ("id", "slug", "question", "question_key", "title", "state", "state_reason", "revision",
                       "current_version", "approved_version", "claimed_by", "approved_by", "approved_at",
                       "created_by", "created_at", "updated_at"), ("id",)),
    Table("article_versions", ("article_id", "version", "audience", "created_at", "created_by"),
          ("article_id", "version")),
    Table("article_variants", ("rowid", "article_id", "version", "audience", "answer", "created_at", "created_by"),
          ("rowid",)),
    Table("article_sources", ("article_id", "version", "document_id", "document_version"),
          ("article_id", "version", "document_id")),
    Table("article_comments", ("id", "article_id", "version", "audience", "statement_id", "author_id", "author",
                               "body", "created_at"), ("id",)),
    Table("audit_log", ("id", "at", "actor_id", "actor", "actor_role", "action", "article_id", "version",
                        "from_state", "to_state", "detail", "client"), ("id",)),
    Table("threads", ("id", "audience", "created_at"), ("id",), ("id",)),
    Table("thread_turns", ("thread_id", "turn", "question", "retrieval_query", "focus", "status", "created_at"),
          ("thread_id", "turn"), ("thread_id",)),
    Table("rate_limits", ("key", "tokens", "updated_at"), ("key",), ("key",)),
    # Issue 13: a logout stays a logout, a thread keeps its owner, a backoff keeps counting.
    Table("thread_owners", ("thread_id", "owner"), ("thread_id",), ("thread_id",)),
    Table("revoked_sessions", ("nonce", "expires_at"), ("nonce",), ("nonce",)),
    Table("login_failures", ("key", "failures", "last_at"), ("key",), ("key",)),
)
# (table, column) of every identity: new rows must get ids past the copied ones.
_IDENTITIES = (("sources", "id"), ("documents", "id"), ("passages", "id"), ("users", "id"), ("api_tokens", "id"),
               ("articles", "id"), ("article_variants", "rowid"), ("article_comments", "id"), ("audit_log", "id"))


# ---------------------------------------------------------------------- digests


def _digest(rows: Iterable[Iterable[Any]]) -> tuple[int, str]:
    """(row count, sha256 over the rows' canonical JSON lines)."""
    h = hashlib.sha256()
    n = 0
    for row in rows:
        h.update(json.dumps(list(row), ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8"))
        h.update(b"\n")
        n += 1
    return n, h.hexdigest()


def _sha(data: str | bytes) -> str:
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


def sqlite_digests(src: SQLiteStore) -> dict[str, tuple[int, str]]:
    """Digest of every migrated table of a SQLite library (see ``pg_digests``: same rows, same order)."""
    q = src.db.execute
    return {
        "sources": _digest(q("SELECT id, name FROM sources ORDER BY id")),
        "documents": _digest(
            (i, s, e, t, h, v, st, o, json.loads(m)) for i, s, e, t, h, v, st, o, m in q(
                "SELECT id, source_id, external_id, title, content_hash, version, status, origin, metadata"
                " FROM documents ORDER BY id")),
        "passages": _digest(
            (i, d, o, json.loads(sp), st, _sha(text), h, json.loads(se), bool(s)) for i, d, o, sp, st, text, h, se, s
            in q("SELECT id, document_id, ordinal, section_path, section_type, text, content_hash, sentences,"
                 " id IN (SELECT rowid FROM passages_fts) FROM passages ORDER BY id")),
        "ingested_files": _digest(
            (s, p, h, n, json.loads(k)) for s, p, h, n, k in q(
                "SELECT source_id, path, sha256, documents, skipped FROM ingested_files ORDER BY source_id, path")),
        "embeddings": _digest(
            (m, h, d, _sha(v)) for m, h, d, v in q(
                "SELECT model_id, content_hash, dim, vector FROM embeddings ORDER BY model_id, content_hash")),
        **{table.name: _digest(q(table.select(postgres=False))) for table in PUBLISHING},
    }


def _stream(conn: psycopg.Connection, query: str) -> Iterator[tuple]:
    """Rows of ``query`` through a server-side cursor (a large table never sits in memory whole)."""
    with conn.transaction(), conn.cursor(name="medora_migrate_digest") as cur:
        cur.itersize = 2000
        cur.execute(query)
        yield from cur


def pg_digests(dst: PgStore) -> dict[str, tuple[int, str]]:
    """Digest of the same tables in a PostgreSQL library; passage text is hashed as PostgreSQL holds it."""
    q = lambda query: _stream(dst.conn, query)
    return {
        "sources": _digest(q("SELECT id, name FROM sources ORDER BY id")),
        "documents": _digest(q(
            "SELECT id, source_id, external_id, title, content_hash, version, status, origin, metadata"
            " FROM documents ORDER BY id")),
        "passages": _digest(q(
            "SELECT id, document_id, ordinal, section_path, section_type,"
            " encode(sha256(convert_to(text, 'UTF8')), 'hex'), content_hash, sentences, searchable"
            " FROM passages ORDER BY id")),
        "ingested_files": _digest(q(
            "SELECT source_id, path, sha256, documents, skipped FROM ingested_files"
            " ORDER BY source_id, path COLLATE \"C\"")),
        "embeddings": _digest(
            (m, h, d, _sha(vector_f16(v))) for m, h, d, v in q(
                "SELECT model_id, content_hash, dim, vector_send(embedding) FROM embeddings"
                " ORDER BY model_id COLLATE \"C\", content_hash COLLATE \"C\"")),
        **{table.name: _digest(q(table.select(postgres=True))) for table in PUBLISHING},
    }
