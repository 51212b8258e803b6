"""The embedded library: one SQLite file in WAL mode, with numbered migrations and FTS5.

A batch of document writes is one transaction, so a crash or SIGKILL leaves the file as it
was before that batch. Schema changes are SQL files in ``migrations/`` applied in order and
recorded in ``schema_migrations``.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3

import Stemmer
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from medora.errors import LibraryError
from medora.library import concepts
from medora.library.chunking import Chunk, embedding_input
from medora.library.store import DocState, DocWrite
from medora.models import Document, Passage, Source

# bm25 column weights for (title, section, body)
BM25_WEIGHTS = (2.0, 1.5, 1.0)
CONCEPTS_MIGRATION = 9  # migrations/0009_concepts.sql: a library upgraded past it gets its concept index made


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _migrations() -> list[tuple[int, str, str]]:
    """(number, name, sql) for every migration file shipped with the package, in order."""
    out = []
    for entry in resources.files("medora.library").joinpath("migrations").iterdir():
        if entry.name.endswith(".sql"):
            number = int(entry.name.split("_", 1)[0])
            out.append((number, entry.name, entry.read_text(encoding="utf-8")))
    return sorted(out)


_PORTER = Stemmer.Stemmer("porter")  # the FTS5 ``porter`` tokenizer's algorithm (Porter 1980)


def _index_token(term: str) -> str | None:
    """The FTS5 term ``porter unicode61`` makes of ``term`` when it is one plain ASCII word, else None.

    FTS5 passes tokens under 3 or over 64 characters through unstemmed.
    """
    word = term.lower()
    if not (word.isascii() and word.isalpha()):
        return None
    return word if len(word) < 3 or len(word) > 64 else _PORTER.stemWord(word)


class SQLiteStore:
    """The SQLite implementation of ``LibraryStore``."""

    def __init__(self, path: str | Path, *, create: bool = True):
        self.path = str(path)
        self._indexed: int | None = None  # cached number of indexed passages
        p = Path(path)
        if not p.exists():
            if not create:
                raise LibraryError(
                    f"no library at {p}; create one with `medora library add medquad` or `medora ingest PATH`"
                )
            p.parent.mkdir(parents=True, exist_ok=True)
        elif p.is_dir():
            raise LibraryError(f"{p} is a directory, not a library file")
        try:
            self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise LibraryError(f"{p} is not a usable Medora library: {exc}") from None

    # ------------------------------------------------------------------ schema

    def _migrate(self) -> None:
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at TEXT)"
        )
        applied = {row[0] for row in self.db.execute("SELECT version FROM schema_migrations")}
        known = _migrations()
        newest = max((n for n, _, _ in known), default=0)
        if applied and max(applied) > newest:
            raise LibraryError(
                f"{self.path} was written by a newer Medora (schema {max(applied)} > {newest}); upgrade Medora"
            )
        for number, name, sql in known:
            if number in applied:
                continue
            self.db.execute("BEGIN IMMEDIATE")
            try:
                for statement in _split_sql(sql):
                    self.db.execute(statement)
                self.db.execute(
                    "INSERT INTO schema_migrations(version, name, applied_at) VALUES (?,?,?)", (number, name, _now())
                )
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        held = applied and self.db.execute("SELECT 1 FROM documents LIMIT 1").fetchone()
        if held and CONCEPTS_MIGRATION not in applied:
            self.rebuild_concepts()  # a library from before the concept index: index the documents it holds

    def schema_version(self) -> int:
        return self.db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]

    # ------------------------------------------------------------------ sources

    def upsert_source(self, source: Source) -> int:
        row = self.db.execute("SELECT id FROM sources WHERE name = ?", (source.name,)).fetchone()
        fields = (source.publisher, source.license, source.url, source.version, source.attribution)
        if row:
            self.db.execute(
                "UPDATE sources SET publisher=COALESCE(?, publisher), license=COALESCE(?, license),"
                " url=COALESCE(?, url), version=COALESCE(?, version), attribution=COALESCE(?, attribution)"
                " WHERE id=?",
                (*fields, row[0]),
            )
            return row[0]
        cur = self.db.execute(
            "INSERT INTO sources(name, publisher, license, url, version, attribution) VALUES (?,?,?,?,?,?)",
            (source.name, *fields),
        )
        return cur.lastrowid

    def mark_ingested(self, source_id: int, when: str) -> None:
        self.db.execute("UPDATE sources SET ingested_at=? WHERE id=?", (when, source_id))

    def sources(self) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT s.name, s.publisher, s.license, s.url, s.version, s.attribution, s.ingested_at,"
            " (SELECT COUNT(*) FROM documents d WHERE d.source_id = s.id AND d.status = 'active'),"
            " (SELECT COUNT(*) FROM passages p JOIN documents d ON d.id = p.document_id"
            "   WHERE d.source_id = s.id AND d.status = 'active')"
            " FROM sources s ORDER BY s.name"
        ).fetchall()
        keys = ("name", "publisher", "license", "url", "version", "attribution", "ingested_at", "documents", "passages")
        return [dict(zip(keys, row)) for row in rows]

    # ------------------------------------------------------------------ ingestion

    def document_states(self, source_id: int) -> dict[str, DocState]:
        rows = self.db.execute(
            "SELECT external_id, id, content_hash, version, status, origin FROM documents WHERE source_id = ?",
            (source_id,),
        )
        return {ext: DocState(i, h, v, s, o) for ext, i, h, v, s, o in rows}

    def file_record(self, source_id: int, path: str) -> tuple[str, dict[str, int]] | None:
        row = self.db.execute(
            "SELECT sha256, skipped FROM ingested_files WHERE source_id = ? AND path = ?", (source_id, path)
        ).fetchone()
        return (row[0], json.loads(row[1])) if row else None

    def set_origin(self, doc_ids: list[int], origin: str) -> None:
        self.db.executemany("UPDATE documents SET origin = ? WHERE id = ?", [(origin, i) for i in doc_ids])

    def record_file(self, source_id: int, path: str, sha256: str, documents: int, skipped: dict[str, int]) -> None:
        self.db.execute(
            "INSERT INTO ingested_files(source_id, path, sha256, documents, skipped, ingested_at) VALUES (?,?,?,?,?,?)"
            " ON CONFLICT(source_id, path) DO UPDATE SET sha256=excluded.sha256, documents=excluded.documents,"
            " skipped=excluded.skipped, ingested_at=excluded.ingested_at",
            (source_id, path, sha256, documents, json.dumps(skipped), _now()),
        )

    def write_batch(self, writes: list[DocWrite]) -> None:
        """Add or replace documents and their passages in one transaction."""
        if not writes:
            return
        self._indexed = None
        now = _now()
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            for w in writes:
                d = w.doc
                meta = json.dumps(d.metadata, ensure_ascii=False, sort_keys=True, default=str)
                values = (d.title, d.url, d.publisher, d.year, d.doc_type, d.grade, d.license, meta, w.content_hash,
                          w.origin)
                if w.existing is None:
                    cur = db.execute(
                        "INSERT INTO documents(source_id, external_id, title, url, publisher, year, doc_type, grade,"
                        " license, metadata, content_hash, origin, version, status, created_at, updated_at)"
                        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,1,'active',?,?)",
                        (w.source_id, d.external_id, *values, now, now),
                    )
                    doc_id = cur.lastrowid
                else:
                    doc_id = w.existing.id
                    self._delete_passages(doc_id)
                    db.execute(
                        "UPDATE documents SET title=?, url=?, publisher=?, year=?, doc_type=?, grade=?, license=?,"
                        " metadata=?, content_hash=?, origin=?, version=version+1, status='active', updated_at=?"
                        " WHERE id=?",
                        (*values, now, doc_id),
                    )
                self._insert_passages(doc_id, d.title, w.chunks)
                concepts.link_document(db.execute, doc_id, concepts.concepts_of(d.title, d.doc_type, d.metadata),
                                       fresh=w.existing is None)
            self._changed("passages")
            self._changed("concepts")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _insert_passages(self, doc_id: int, title: str, chunks: list[Chunk]) -> None:
        rows = []
        for ordinal, c in enumerate(chunks):
            rows.append(
                (
                    doc_id,
                    ordinal,
                    json.dumps(c.section_path, ensure_ascii=False),
                    c.section_type,
                    c.text,
                    json.dumps(c.sentences),
                    hashlib.sha256(embedding_input(title, c.section_path, c.text).encode("utf-8")).hexdigest(),
                )
            )
        self.db.executemany(
            "INSERT INTO passages(document_id, ordinal, section_path, section_type, text, sentences, content_hash)"
            " VALUES (?,?,?,?,?,?,?)",
            rows,
        )
        self.db.execute(
            "INSERT INTO passages_fts(rowid, title, section, body)"
            " SELECT p.id, ?, p.section_path, p.text FROM passages p WHERE p.document_id = ?",
            (title, doc_id),
        )

    def _delete_passages(self, doc_id: int) -> None:
        self.db.execute(
            "DELETE FROM passages_fts WHERE rowid IN (SELECT id FROM passages WHERE document_id = ?)", (doc_id,)
        )
        self.db.execute("DELETE FROM passages WHERE document_id = ?", (doc_id,))

    def retire(self, doc_ids: list[int]) -> int:
        """Mark documents retired and drop their passages from search. Returns how many changed."""
        if not doc_ids:
            return 0
        self._indexed = None
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            changed = 0
            for doc_id in doc_ids:
                cur = db.execute(
                    "UPDATE documents SET status='retired', version=version+1, updated_at=?"
                    " WHERE id=? AND status='active'",
                    (_now(), doc_id),
                )
                if cur.rowcount:
                    changed += 1
                    db.execute(
                        "DELETE FROM passages_fts WHERE rowid IN (SELECT id FROM passages WHERE document_id = ?)",
                        (doc_id,),
                    )
                    concepts.unlink_documents(db.execute, [doc_id])
            if changed:
                self._changed("passages")
                self._changed("concepts")
            db.execute("COMMIT")
            return changed
        except BaseException:
            db.execute("ROLLBACK")
            raise

    # ------------------------------------------------------------------ reading

    def lexical_search(self, match: str, limit: int) -> list[tuple[int, float]]:
        """(passage id, score) for an FTS5 MATCH expression built by ``retrieve.query``; higher is better."""
        if not match:
            return []
        w = BM25_WEIGHTS
        rows = self.db.execute(
            f"SELECT rowid, -bm25(passages_fts, {w[0]}, {w[1]}, {w[2]}) AS score FROM passages_fts"
            " WHERE passages_fts MATCH ? ORDER BY bm25(passages_fts, ?, ?, ?) LIMIT ?",
            (match, *w, limit),
        ).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]

    def term_frequencies(self, terms: list[str]) -> tuple[int, dict[str, int]]:
        """(number of indexed passages, {term: number of passages containing it}) using the index's stemming."""
        if self._indexed is None:  # counting the FTS table scans it: keep the count until the next write
            self._indexed = self.db.execute("SELECT COUNT(*) FROM passages_fts").fetchone()[0]
        total = self._indexed
        counts = {}
        vocabulary = self._vocabulary()
        for term in terms:
            token = _index_token(term)  # one plain word: read its count from the index's vocabulary
            found = vocabulary.execute("SELECT doc FROM temp.passages_vocab WHERE term = ?",
                                       (token,)).fetchone() if token else None
            # (counting MATCH rows reads every matching row: ~10x slower for common words)
            counts[term] = found[0] if found else self.db.execute(
                "SELECT COUNT(*) FROM passages_fts WHERE passages_fts MATCH ?", ('"' + term.replace('"', "") + '"',)
            ).fetchone()[0]
        return total, counts

    def index_terms(self) -> tuple[str, dict[str, int]]:
        """("porter", {FTS5 term: passages containing it}): the index's own vocabulary, read via fts5vocab."""
        return "porter", dict(self._vocabulary().execute("SELECT term, doc FROM temp.passages_vocab"))

    def _vocabulary(self) -> sqlite3.Connection:
        """The connection, with ``temp.passages_vocab`` (fts5vocab over the index: term -> passages) made."""
        self.db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.passages_vocab USING fts5vocab(main, passages_fts, row)")
        return self.db

    # ------------------------------------------------------------------ embeddings

    def missing_embeddings(self, model_id: str, limit: int) -> list[tuple[str, str]]:
        """Up to ``limit`` (content hash, embedding input) of searchable passages with no vector from ``model_id``."""
        rows = self.db.execute(
            "SELECT p.content_hash, MIN(d.title), MIN(p.section_path), MIN(p.text) FROM passages p"
            " JOIN passages_fts f ON f.rowid = p.id JOIN documents d ON d.id = p.document_id"
            " WHERE NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.model_id = ? AND e.content_hash = p.content_hash)"
            " GROUP BY p.content_hash LIMIT ?",
            (model_id, limit),
        ).fetchall()
        return [(h, embedding_input(title, json.loads(path), text)) for h, title, path, text in rows]

    def put_embeddings(self, model_id: str, dim: int, rows: list[tuple[str, bytes]]) -> None:
        """Store vectors (one transaction)."""
        now = _now()
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.executemany(
                "INSERT OR REPLACE INTO embeddings(model_id, content_hash, dim, vector, created_at) VALUES (?,?,?,?,?)",
                [(model_id, h, dim, v, now) for h, v in rows],
            )
            self._changed("embeddings")
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def has_embeddings(self) -> bool:
        return self.db.execute("SELECT 1 FROM embeddings LIMIT 1").fetchone() is not None

    def embedding_coverage(self, model_id: str) -> tuple[int, int]:
        """(searchable passages with a vector from ``model_id``, searchable passages)."""
        row = self.db.execute(
            "SELECT COUNT(e.content_hash), COUNT(*) FROM passages p JOIN passages_fts f ON f.rowid = p.id"
            " LEFT JOIN embeddings e ON e.model_id = ? AND e.content_hash = p.content_hash",
            (model_id,),
        ).fetchone()
        return int(row[0]), int(row[1])

    def embedding_rows(self, model_id: str):
        """Iterate (passage id, vector bytes) for every searchable passage embedded by ``model_id``."""
        return self.db.execute(
            "SELECT p.id, e.vector FROM passages p JOIN passages_fts f ON f.rowid = p.id"
            " JOIN embeddings e ON e.model_id = ? AND e.content_hash = p.content_hash ORDER BY p.id",
            (model_id,),
        )

    def data_version(self) -> tuple[int, int]:
        """Changes whenever passages or embeddings change (for caches kept outside the database)."""
        return tuple(self.db.execute("SELECT passages, embeddings FROM library_changes").fetchone())

    # ------------------------------------------------------------------ concepts (library/concepts.py)

    def concepts_version(self) -> int:
        """Moves whenever the concept index changes (O(1): for the resolver's cache)."""
        return self.db.execute("SELECT concepts FROM library_changes").fetchone()[0]

    def concept_names(self) -> list[tuple[int, str, str, str, str, str]]:
        """(concept id, kind, preferred name, normalized name, name, name kind) for every indexed name."""
        return self.db.execute(concepts.NAME_ROWS_SQL).fetchall()

    def concept_links(self) -> list[tuple[int, int]]:
        """(concept id, document id) for every active document about a concept."""
        return self.db.execute(concepts.LINK_ROWS_SQL).fetchall()

    def rebuild_concepts(self) -> dict[str, int]:
        """Remake the concept index from the active documents' metadata (one transaction)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            counts = concepts.rebuild(self.db.execute)
            self._changed("concepts")
            self.db.execute("COMMIT")
            return counts
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def concept_counts(self) -> dict[str, int]:
        return concepts.index_counts(self.db.execute)

    def _changed(self, what: str) -> None:
        """Bump a ``library_changes`` counter (inside the caller's transaction)."""
        self.db.execute(f"UPDATE library_changes SET {what} = {what} + 1")

    def passages(self, ids: list[int]) -> dict[int, Passage]:
        out: dict[int, Passage] = {}
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            for row in self.db.execute(
                "SELECT id, document_id, ordinal, section_path, section_type, text, sentences"
                f" FROM passages WHERE id IN ({marks})",
                chunk,
            ):
                out[row[0]] = _passage(row)
        return out

    def documents(self, ids: list[int]) -> dict[int, Document]:
        out: dict[int, Document] = {}
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            for row in self.db.execute(_DOC_SELECT + f" WHERE d.id IN ({marks})", chunk):
                out[row[0]] = _document(row)
        return out

    def document_passages(self, doc_id: int) -> list[Passage]:
        rows = self.db.execute(
            "SELECT id, document_id, ordinal, section_path, section_type, text, sentences"
            " FROM passages WHERE document_id = ? ORDER BY ordinal",
            (doc_id,),
        )
        return [_passage(r) for r in rows]

    def stats(self) -> dict[str, Any]:
        one = lambda sql: self.db.execute(sql).fetchone()[0]  # noqa: E731
        by_type = dict(
            self.db.execute(
                "SELECT doc_type, COUNT(*) FROM documents WHERE status='active' GROUP BY doc_type ORDER BY 2 DESC"
            ).fetchall()
        )
        path = Path(self.path)
        size = sum(f.stat().st_size for f in path.parent.glob(path.name + "*") if f.is_file())
        return {
            "path": self.path,
            "schema_version": self.schema_version(),
            "sources": one("SELECT COUNT(*) FROM sources"),
            "documents": one("SELECT COUNT(*) FROM documents WHERE status='active'"),
            "retired_documents": one("SELECT COUNT(*) FROM documents WHERE status='retired'"),
            "passages": one(
                "SELECT COUNT(*) FROM passages p JOIN documents d ON d.id=p.document_id WHERE d.status='active'"
            ),
            "documents_by_type": by_type,
            "size_bytes": size,
        }

    def integrity_check(self) -> str:
        return self.db.execute("PRAGMA integrity_check").fetchone()[0]

    def close(self) -> None:
        try:
            self.db.close()
        except sqlite3.Error:
            pass

    def __enter__(self) -> "SQLiteStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_DOC_SELECT = (
    "SELECT d.id, s.name, d.external_id, d.title, d.url, d.publisher, d.year, d.doc_type, d.grade, d.license,"
    " d.version, d.status, d.metadata, d.updated_at FROM documents d JOIN sources s ON s.id = d.source_id"
)


def _document(row) -> Document:
    return Document(
        id=row[0],
        source=row[1],
        external_id=row[2],
        title=row[3],
        url=row[4],
        publisher=row[5],
        year=row[6],
        doc_type=row[7],
        grade=row[8],
        license=row[9],
        version=row[10],
        status=row[11],
        metadata=json.loads(row[12] or "{}"),
        updated_at=row[13],
    )


def _passage(row) -> Passage:
    return Passage(
        id=row[0],
        document_id=row[1],
        ordinal=row[2],
        section_path=json.loads(row[3]),
        section_type=row[4],
        text=row[5],
        sentences=[tuple(x) for x in json.loads(row[6])],
    )


def _chunks(items: list[int], size: int):
    items = list(items)
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _split_sql(sql: str) -> list[str]:
    """Split a migration file into complete statements (trigger bodies with inner ';' stay whole)."""
    statements, buf = [], ""
    for line in sql.splitlines(keepends=True):
        if not buf and line.strip().startswith("--"):
            continue
        buf += line
        if sqlite3.complete_statement(buf):
            statements.append(buf.strip())
            buf = ""
    if buf.strip():
        statements.append(buf.strip())
    return [s for s in statements if s.rstrip(";").strip()]
