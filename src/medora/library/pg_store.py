"""The library on PostgreSQL: the ``LibraryStore`` protocol over tsvector full-text search and pgvector.

For a library shared by several machines. Schema changes are SQL files in ``pg_migrations/``,
applied in order under an advisory lock (so two processes opening a new database do not race)
and recorded in ``schema_migrations``. A batch of document writes is one transaction.

Lexical search takes the FTS5-style expression ``retrieve.query.fts_match`` builds (quoted
terms OR-ed), reduces every quoted term to plain word tokens and hands them to ``to_tsquery`` as
a bound parameter, so no user text is ever read as SQL or tsquery syntax. A passage's score is
the sum over terms of idf(term) x ts_rank(passage, term) with title > section > body weights,
close to the SQLite library's BM25. Dense search (``dense_search``) uses a per-model HNSW index
(cosine distance), built once after a bulk load (``ensure_vector_index``); until then it is exact.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib import resources
from typing import Any, Iterator
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import psycopg
from psycopg import sql

from medora.errors import LibraryError
from medora.library import concepts
from medora.library.chunking import embedding_input
from medora.library.store import DocState, DocWrite
from medora.models import Document, Passage, Source

# ts_rank weights for labels {D, C, B, A} = (unused, body, section, title): the 1 : 1.5 : 2 ratio
# of the SQLite library's bm25 column weights.
RANK_WEIGHTS = [0.1, 0.4, 0.6, 0.8]
# No length normalisation: ts_rank's 1 + log(length) divisor cost MedQuAD 0.068 nDCG@10 against SQLite's BM25
# (short same-topic passages); without it BM25 alone is within 0.017 of SQLite on all three dev sets (RESULTS).
RANK_NORMALIZATION = 0
MIGRATION_LOCK = 0x6D65646F7261  # advisory lock key ("medora")
CONCEPTS_MIGRATION = 6  # pg_migrations/0006_concepts.sql: a library upgraded past it gets its concept index made
HNSW_MAX_DIM = 2000  # pgvector's limit for an HNSW index over `vector`
EF_SEARCH_MAX = 1000  # pgvector's limit for hnsw.ef_search, used for every dense search
ROWS_PER_PAGE = 5000
COUNT_ESTIMATE_MIN = 20_000  # words in more passages than this are not counted exactly (see _counts)
CANDIDATE_BUDGET = 20_000  # matches of the rarer terms that lexical search ranks at most (see candidate_terms)
HNSW_BYTES_PER_NODE = 1024  # pgvector's in-memory graph per vector beyond the vector itself (m = 16), generous
INDEX_MEMORY_MAX_MB = 8192  # cap on the session maintenance_work_mem of one index build
INDEX_BUILD_WORKERS = 2  # parallel maintenance workers for an index build (pgvector >= 0.6)

_QUOTED = re.compile(r'"([^"]*)"')
_WORD = re.compile(r"[^\W_]+")
_PASSWORD_PARAM = re.compile(r"((?:^|&)password=)[^&]*")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(timezone.utc).isoformat(timespec="seconds") if value is not None else None


def redact(url: str) -> str:
    """``url`` without its password (in the user part or a ``password=`` parameter), for messages and ``stats()``."""
    parts = urlsplit(url)
    if parts.password:
        parts = parts._replace(netloc=f"{parts.username}:***@{parts.netloc.rsplit('@', 1)[1]}")
    return urlunsplit(parts._replace(query=_PASSWORD_PARAM.sub(r"\1***", parts.query)))


def tsquery_terms(match: str) -> list[str]:
    """``to_tsquery`` inputs for the quoted terms of an FTS5 OR expression: 'a', '(c <-> d)'; word tokens only.

    Only letters and digits survive, so no term can carry tsquery operators. A quoted term of
    several words stays a phrase, as in FTS5. Repeated terms are kept once.
    """
    out: dict[str, None] = {}
    for term in _QUOTED.findall(match or ""):
        words = _WORD.findall(term)
        if words:
            out[words[0] if len(words) == 1 else "(" + " <-> ".join(words) + ")"] = None
    return list(out)


def candidate_terms(counts: dict[str, int], budget: int) -> list[str]:
    """The rarest terms whose matches add up to at most ``budget`` passages (always the rarest one).

    Only passages matching one of these are ranked; the commoner terms add to those passages'
    scores but bring in none of their own (Lucene's "common terms" idea). Ranking every match of
    a common word is what made lexical search slow at scale; a passage that matches only common
    words rarely outranks one that matches a rare word.
    """
    chosen: list[str] = []
    matched = 0
    for term in sorted(counts, key=lambda t: (counts[t], t)):
        if chosen and matched + counts[term] > budget:
            break
        chosen.append(term)
        matched += counts[term]
    return chosen


def idf(total: int, containing: int) -> float:
    """BM25's inverse document frequency, floored like SQLite FTS5's."""
    return max(math.log((total - containing + 0.5) / (containing + 0.5)), 1e-6)


def vector_text(blob: bytes) -> str:
    """pgvector's text form of a float16 vector as the SQLite library stores it (exact: float16 fits float32)."""
    values = np.frombuffer(blob, dtype="<f2").astype(np.float32).tolist()
    return "[" + ",".join(repr(v) for v in values) + "]"


def vector_f16(sent: bytes) -> bytes:
    """float16 little-endian bytes from ``vector_send`` output (int16 dim, int16 unused, float32 big-endian)."""
    return np.frombuffer(sent, dtype=">f4", offset=4).astype("<f2").tobytes()


def _migrations() -> list[tuple[int, str, str]]:
    """(number, name, sql) for every PostgreSQL migration shipped with the package, in order."""
    out = []
    for entry in resources.files("medora.library").joinpath("pg_migrations").iterdir():
        if entry.name.endswith(".sql"):
            out.append((int(entry.name.split("_", 1)[0]), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(out)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


class PgStore:
    """The PostgreSQL implementation of ``LibraryStore`` (plus ``dense_search``)."""

    def __init__(self, url: str, *, create: bool = True):
        self.path = redact(url)
        self._generation: tuple[int, int] | None = None  # data_version() when the counts below were taken
        self._indexed: int | None = None  # cached number of searchable passages
        self._df: dict[str, int] = {}  # cached passages-per-term counts
        self._hnsw: set[str] = set()  # models whose HNSW index is known to exist
        try:
            self.conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise LibraryError(f"cannot connect to PostgreSQL library {self.path}: {_one_line(exc)}") from None
        try:
            if self._migrate(create) and self.conn.execute("SELECT EXISTS (SELECT 1 FROM documents)").fetchone()[0]:
                self.rebuild_concepts()  # a library from before the concept index: index the documents it holds
        except psycopg.Error as exc:
            self.close()
            raise LibraryError(f"{self.path} is not a usable Medora library: {_one_line(exc)}") from None
        except LibraryError:
            self.close()
            raise

    # ------------------------------------------------------------------ schema

    def _migrate(self, create: bool) -> bool:
        """Apply the missing migrations; True when an existing library has just gained the concept index."""
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            exists = self.conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()[0]
            if not exists and not create:
                raise LibraryError(f"no Medora library in {self.path}; create one with `medora library add ...`")
            self.conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations"
                " (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)"
            )
            applied = {row[0] for row in self.conn.execute("SELECT version FROM schema_migrations")}
            known = _migrations()
            newest = max((n for n, _, _ in known), default=0)
            if applied and max(applied) > newest:
                raise LibraryError(
                    f"{self.path} was written by a newer Medora (schema {max(applied)} > {newest}); upgrade Medora"
                )
            for number, name, text in known:
                if number not in applied:
                    self.conn.execute(text)  # several statements, no parameters: one simple query
                    self.conn.execute(
                        "INSERT INTO schema_migrations(version, name, applied_at) VALUES (%s, %s, %s)",
                        (number, name, _now()),
                    )
        return bool(applied) and CONCEPTS_MIGRATION not in applied

    def schema_version(self) -> int:
        return self.conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]

    @contextmanager
    def _writing(self, action: str) -> Iterator[psycopg.Connection]:
        """One transaction; a database error becomes a one-line LibraryError (the transaction is rolled back)."""
        try:
            with self.conn.transaction():
                yield self.conn
            self.changed()
        except psycopg.Error as exc:
            raise LibraryError(f"{self.path}: could not {action}: {_one_line(exc)}") from None

    def changed(self) -> None:
        """Tell every process using this library (on any machine) that its cached term counts are stale."""
        self.conn.execute("SELECT nextval('library_generation')")

    def _fresh_caches(self) -> None:
        """Drop the cached counts when any process has written to the library since they were taken."""
        generation = self.data_version()
        if generation != self._generation:
            self._generation, self._indexed = generation, None
            self._df.clear()

    # ------------------------------------------------------------------ sources

    def upsert_source(self, source: Source) -> int:
        fields = (source.publisher, source.license, source.url, source.version, source.attribution)
        return self.conn.execute(
            "INSERT INTO sources(name, publisher, license, url, version, attribution) VALUES (%s,%s,%s,%s,%s,%s)"
            " ON CONFLICT (name) DO UPDATE SET publisher=COALESCE(excluded.publisher, sources.publisher),"
            " license=COALESCE(excluded.license, sources.license), url=COALESCE(excluded.url, sources.url),"
            " version=COALESCE(excluded.version, sources.version),"
            " attribution=COALESCE(excluded.attribution, sources.attribution)"
            " RETURNING id",
            (source.name, *fields),
        ).fetchone()[0]

    def mark_ingested(self, source_id: int, when: str) -> None:
        self.conn.execute("UPDATE sources SET ingested_at=%s WHERE id=%s", (when, source_id))

    def sources(self) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT s.name, s.publisher, s.license, s.url, s.version, s.attribution, s.ingested_at,"
            " (SELECT COUNT(*) FROM documents d WHERE d.source_id = s.id AND d.status = 'active'),"
            " (SELECT COUNT(*) FROM passages p JOIN documents d ON d.id = p.document_id"
            "   WHERE d.source_id = s.id AND d.status = 'active')"
            " FROM sources s ORDER BY s.name"
        ).fetchall()
        keys = ("name", "publisher", "license", "url", "version", "attribution", "ingested_at", "documents", "passages")
        return [dict(zip(keys, (*row[:6], _iso(row[6]), *row[7:]))) for row in rows]

    # ------------------------------------------------------------------ ingestion

    def document_states(self, source_id: int) -> dict[str, DocState]:
        rows = self.conn.execute(
            "SELECT external_id, id, content_hash, version, status, origin FROM documents WHERE source_id = %s",
            (source_id,),
        )
        return {ext: DocState(i, h, v, s, o) for ext, i, h, v, s, o in rows}

    def file_record(self, source_id: int, path: str) -> tuple[str, dict[str, int]] | None:
        row = self.conn.execute(
            "SELECT sha256, skipped FROM ingested_files WHERE source_id = %s AND path = %s", (source_id, path)
        ).fetchone()
        return (row[0], row[1]) if row else None

    def set_origin(self, doc_ids: list[int], origin: str) -> None:
        self.conn.execute("UPDATE documents SET origin = %s WHERE id = ANY(%s::bigint[])", (origin, list(doc_ids)))

    def record_file(self, source_id: int, path: str, sha256: str, documents: int, skipped: dict[str, int]) -> None:
        self.conn.execute(
            "INSERT INTO ingested_files(source_id, path, sha256, documents, skipped, ingested_at)"
            " VALUES (%s,%s,%s,%s,%s::jsonb,%s)"
            " ON CONFLICT (source_id, path) DO UPDATE SET sha256=excluded.sha256, documents=excluded.documents,"
            " skipped=excluded.skipped, ingested_at=excluded.ingested_at",
            (source_id, path, sha256, documents, json.dumps(skipped), _now()),
        )

    def write_batch(self, writes: list[DocWrite]) -> None:
        """Add or replace documents and their passages in one transaction."""
        if not writes:
            return
        now = _now()
        with self._writing("store a batch of documents") as db:
            passages = []
            for w in writes:
                doc_id = self._write_document(db, w, now)
                passages.extend(_passage_rows(doc_id, w))
                concepts.link_document(_qmark(db), doc_id, concepts.concepts_of(w.doc.title, w.doc.doc_type,
                                                                                 w.doc.metadata),
                                       fresh=w.existing is None)
            db.execute("SELECT nextval('concept_generation')")
            with db.cursor().copy(
                "COPY passages (document_id, ordinal, title, section_path, section_type, text, sentences,"
                " content_hash) FROM STDIN"
            ) as copy:
                for row in passages:
                    copy.write_row(row)

    def _write_document(self, db: psycopg.Connection, w: DocWrite, now: datetime) -> int:
        d = w.doc
        meta = json.dumps(d.metadata, ensure_ascii=False, sort_keys=True, default=str)
        values = (d.title, d.url, d.publisher, d.year, d.doc_type, d.grade, d.license, meta, w.content_hash, w.origin)
        if w.existing is None:
            return db.execute(
                "INSERT INTO documents(source_id, external_id, title, url, publisher, year, doc_type, grade,"
                " license, metadata, content_hash, origin, version, status, created_at, updated_at)"
                " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s::jsonb,%s,%s,1,'active',%s,%s) RETURNING id",
                (w.source_id, d.external_id, *values, now, now),
            ).fetchone()[0]
        db.execute("DELETE FROM passages WHERE document_id = %s", (w.existing.id,))
        db.execute(
            "UPDATE documents SET title=%s, url=%s, publisher=%s, year=%s, doc_type=%s, grade=%s, license=%s,"
            " metadata=%s::jsonb, content_hash=%s, origin=%s, version=version+1, status='active', updated_at=%s"
            " WHERE id=%s",
            (*values, now, w.existing.id),
        )
        return w.existing.id

    def retire(self, doc_ids: list[int]) -> int:
        """Mark documents retired and drop their passages from search. Returns how many changed."""
        if not doc_ids:
            return 0
        with self._writing("retire documents") as db:
            changed = [r[0] for r in db.execute(
                "UPDATE documents SET status='retired', version=version+1, updated_at=%s"
                " WHERE id = ANY(%s::bigint[]) AND status='active' RETURNING id",
                (_now(), list(doc_ids)),
            )]
            db.execute("UPDATE passages SET searchable = false WHERE document_id = ANY(%s::bigint[])", (changed,))
            concepts.unlink_documents(_qmark(db), changed)
            db.execute("SELECT nextval('concept_generation')")
        return len(changed)

    # ------------------------------------------------------------------ concepts (library/concepts.py)

    def concepts_version(self) -> tuple[int, int]:
        """Moves whenever the concept index may have changed (its own sequence: O(1); storing vectors leaves it)."""
        row = self.conn.execute("SELECT last_value, is_called FROM concept_generation").fetchone()
        return int(row[0]), int(row[1])

    def concept_names(self) -> list[tuple[int, str, str, str, str, str]]:
        """(concept id, kind, preferred name, normalized name, name, name kind) for every indexed name."""
        return self.conn.execute(concepts.NAME_ROWS_SQL).fetchall()

    def concept_links(self) -> list[tuple[int, int]]:
        """(concept id, document id) for every active document about a concept."""
        return self.conn.execute(concepts.LINK_ROWS_SQL).fetchall()

    def rebuild_concepts(self) -> dict[str, int]:
        """Remake the concept index from the active documents' metadata (one transaction)."""
        with self._writing("rebuild the concept index") as db:
            db.execute("SELECT nextval('concept_generation')")
            return concepts.rebuild(_qmark(db))

    def concept_counts(self) -> dict[str, int]:
        return concepts.index_counts(_qmark(self.conn))

    # ------------------------------------------------------------------ lexical search

    def lexical_search(self, match: str, limit: int) -> list[tuple[int, float]]:
        """(passage id, score) for an FTS5-style OR of quoted terms (``retrieve.query``); higher is better.

        score = sum over query terms of idf(term) * ts_rank(passage, term): ts_rank gives each term
        a saturating, field-weighted frequency; the idf weight (which ts_rank lacks) lets rare
        terms count more than common ones, as in BM25. Candidates are the matches of the rarer
        terms only (``candidate_terms``, up to ``CANDIDATE_BUDGET`` passages).
        """
        terms = tsquery_terms(match)
        if not terms or limit <= 0:
            return []
        total, counts = self._counts(terms)
        weighted = [(t, idf(total, counts[t])) for t in terms if counts[t]]
        if not weighted:
            return []
        pick = candidate_terms({t: counts[t] for t, _ in weighted}, CANDIDATE_BUDGET)
        rows = self.conn.execute(_RANK_SQL, {
            "terms": [t for t, _ in weighted], "idf": [w for _, w in weighted], "any": " | ".join(pick),
            "weights": RANK_WEIGHTS, "norm": RANK_NORMALIZATION, "limit": limit,
        }).fetchall()
        return [(int(pid), float(score)) for pid, score in rows]

    def term_frequencies(self, terms: list[str]) -> tuple[int, dict[str, int]]:
        """(number of searchable passages, {term: number of them containing it}) with the index's stemming."""
        queries = {term: (tsquery_terms('"' + term.replace('"', "") + '"') or [""])[0] for term in terms}
        total, counts = self._counts([q for q in queries.values() if q])
        return total, {term: counts.get(q, 0) for term, q in queries.items()}

    def _counts(self, queries: list[str]) -> tuple[int, dict[str, int]]:
        """(searchable passages, {tsquery text: searchable passages matching it}), cached until the next write.

        Counting the matches of a common word reads every one of them (seconds at 1M passages), so
        a word that ANALYZE's statistics put in over ``COUNT_ESTIMATE_MIN`` passages takes that
        estimate (within ~1% at 200k; an idf barely moves); rarer words and phrases are counted.
        """
        self._fresh_caches()
        if self._indexed is None:
            self._indexed = self.conn.execute("SELECT COUNT(*) FROM passages WHERE searchable").fetchone()[0]
        missing = [q for q in queries if q not in self._df]
        if missing:
            self._df.update(self._estimated_counts(missing))
        for query in queries:
            if query not in self._df:
                self._df[query] = self.conn.execute(
                    "SELECT COUNT(*) FROM passages WHERE searchable AND tsv @@ to_tsquery('english', %s)", (query,)
                ).fetchone()[0]
        return self._indexed, {q: self._df[q] for q in queries}

    def _estimated_counts(self, queries: list[str]) -> dict[str, int]:
        """{word: estimated passages} for the words among ``queries`` that the tsv column's statistics
        (most common lexemes and their frequencies) put in at least ``COUNT_ESTIMATE_MIN`` passages."""
        rows = self.conn.execute(_COMMON_LEXEMES_SQL, {"queries": queries}).fetchall()
        estimates = {q: round(freq * self._indexed) for q, freq in rows}
        return {q: n for q, n in estimates.items() if n >= COUNT_ESTIMATE_MIN}

    def index_terms(self) -> tuple[str, dict[str, int]]:
        """("english", {lexeme: searchable passages containing it}) from ``ts_stat`` (a full scan: callers cache it)."""
        rows = self.conn.execute("SELECT word, ndoc FROM ts_stat('SELECT tsv FROM passages WHERE searchable')")
        return "english", {word: int(n) for word, n in rows.fetchall()}

    # ------------------------------------------------------------------ embeddings

    def missing_embeddings(self, model_id: str, limit: int) -> list[tuple[str, str]]:
        """Up to ``limit`` (content hash, embedding input) of searchable passages with no vector from ``model_id``."""
        rows = self.conn.execute(
            "SELECT DISTINCT ON (p.content_hash) p.content_hash, p.title, p.section_path, p.text FROM passages p"
            " WHERE p.searchable AND NOT EXISTS"
            " (SELECT 1 FROM embeddings e WHERE e.model_id = %s AND e.content_hash = p.content_hash)"
            " ORDER BY p.content_hash LIMIT %s",
            (model_id, limit),
        ).fetchall()
        return [(h, embedding_input(title, path, text)) for h, title, path, text in rows]

    def put_embeddings(self, model_id: str, dim: int, rows: list[tuple[str, bytes]]) -> None:
        """Store float16 vectors in one transaction (COPY into a staging table, then one upsert).

        The model's HNSW index is not created here: a bulk load into an existing HNSW index costs a
        graph insertion per row (~110 vectors/s at 200k), so loaders call ``ensure_vector_index``
        once at the end. Until then dense search scans the model's vectors exactly; once the index
        exists, later (incremental) vectors are added to it row by row.
        """
        if not rows:
            return
        with self._writing("store embeddings") as db:
            db.execute("CREATE TEMP TABLE IF NOT EXISTS embeddings_in (content_hash text NOT NULL,"
                       " embedding vector NOT NULL) ON COMMIT DELETE ROWS")
            with db.cursor().copy("COPY embeddings_in (content_hash, embedding) FROM STDIN") as copy:
                for h, v in rows:
                    copy.write_row((h, vector_text(v)))
            db.execute(
                "INSERT INTO embeddings(model_id, content_hash, dim, embedding, created_at)"
                " SELECT DISTINCT ON (content_hash) %s, content_hash, %s, embedding, %s FROM embeddings_in"
                " ON CONFLICT (model_id, content_hash)"
                " DO UPDATE SET dim=excluded.dim, embedding=excluded.embedding, created_at=excluded.created_at",
                (model_id, dim, _now()),
            )

    def ensure_vector_index(self, model_id: str, dim: int) -> None:
        """Build the model's HNSW (cosine) index once, over the vectors already stored, unless it exists.

        One ``CREATE INDEX`` with ``maintenance_work_mem`` sized so the whole graph fits in memory
        (else pgvector falls back to far slower on-disk insertion) and parallel workers. Models over
        2000 dimensions (pgvector's HNSW limit) are searched exactly.
        """
        if model_id in self._hnsw or dim > HNSW_MAX_DIM:
            return
        name = _index_name(model_id)
        if self.conn.execute("SELECT to_regclass(%s) IS NULL", (name,)).fetchone()[0]:
            count = self.conn.execute("SELECT COUNT(*) FROM embeddings WHERE model_id = %s", (model_id,)).fetchone()[0]
            memory_mb = min(max(64, count * (dim * 4 + HNSW_BYTES_PER_NODE) // 2**20 * 5 // 4), INDEX_MEMORY_MAX_MB)
            try:
                with self.conn.transaction():
                    self.conn.execute(sql.SQL("SET LOCAL maintenance_work_mem = {}").format(
                        sql.Literal(f"{memory_mb}MB")))
                    self.conn.execute(sql.SQL("SET LOCAL max_parallel_maintenance_workers = {}").format(
                        sql.Literal(INDEX_BUILD_WORKERS)))
                    self.conn.execute(sql.SQL(
                        "CREATE INDEX IF NOT EXISTS {name} ON embeddings USING hnsw ((embedding::vector({dim}))"
                        " vector_cosine_ops) WHERE model_id = {model}"
                    ).format(name=sql.Identifier(name), dim=sql.Literal(dim), model=sql.Literal(model_id)))
            except psycopg.Error as exc:
                raise LibraryError(f"{self.path}: could not index vectors of {model_id}: {_one_line(exc)}") from None
        self._hnsw.add(model_id)

    def dense_search(self, model_id: str, query_vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(passage id, cosine similarity) of the ``k`` nearest searchable passages, best first (HNSW, approximate;
        an exact scan while the model has no index yet).

        The graph search keeps pgvector's most candidates (``ef_search`` 1000): at 1M passages
        recall@10 against exact search is 0.99 (0.82 with ef_search 200) for ~30 ms more. The
        nearest ``2k`` vectors are joined with passages; those of retired documents are dropped,
        so fewer than ``k`` may come back.
        """
        dim = int(query_vector.shape[0])
        if k <= 0:
            return []
        inner = min(EF_SEARCH_MAX, 2 * k)
        query = "[" + ",".join(repr(float(v)) for v in query_vector.astype(np.float32)) + "]"
        with self.conn.transaction():
            self.conn.execute("SELECT set_config('hnsw.ef_search', %s, true)", (str(EF_SEARCH_MAX),))
            rows = self.conn.execute(dense_query(model_id, dim), (query, inner, k)).fetchall()
        return [(int(pid), float(score)) for pid, score in rows]

    def passage_vectors(self, model_id: str, ids: list[int]) -> np.ndarray:
        """The ``model_id`` vectors of passages ``ids`` as float32 rows, in the order given (those without one left out)."""
        rows = dict(self.conn.execute(
            "SELECT p.id, vector_send(e.embedding) FROM passages p"
            " JOIN embeddings e ON e.model_id = %s AND e.content_hash = p.content_hash WHERE p.id = ANY(%s::bigint[])",
            (model_id, list(ids))).fetchall())
        return np.asarray([np.frombuffer(rows[i], dtype=">f4", offset=4) for i in ids if i in rows], dtype=np.float32)

    def has_embeddings(self) -> bool:
        return self.conn.execute("SELECT EXISTS (SELECT 1 FROM embeddings)").fetchone()[0]

    def embedding_coverage(self, model_id: str) -> tuple[int, int]:
        """(searchable passages with a vector from ``model_id``, searchable passages)."""
        row = self.conn.execute(
            "SELECT COUNT(e.content_hash), COUNT(*) FROM passages p"
            " LEFT JOIN embeddings e ON e.model_id = %s AND e.content_hash = p.content_hash WHERE p.searchable",
            (model_id,),
        ).fetchone()
        return int(row[0]), int(row[1])

    def embedding_rows(self, model_id: str) -> Iterator[tuple[int, bytes]]:
        """(passage id, float16 vector bytes) for every searchable passage embedded by ``model_id``, by id."""
        last = 0
        while True:
            rows = self.conn.execute(
                "SELECT p.id, vector_send(e.embedding) FROM passages p"
                " JOIN embeddings e ON e.model_id = %s AND e.content_hash = p.content_hash"
                " WHERE p.searchable AND p.id > %s ORDER BY p.id LIMIT %s",
                (model_id, last, ROWS_PER_PAGE),
            ).fetchall()
            for pid, sent in rows:
                yield pid, vector_f16(sent)
            if len(rows) < ROWS_PER_PAGE:
                return
            last = rows[-1][0]

    def data_version(self) -> tuple[int, int]:
        """Changes whenever passages or embeddings change (for caches kept outside the database).

        The ``library_generation`` sequence that every committed write bumps: O(1), where counting
        rows took ~0.5 s per question at 1M passages. ``is_called`` tells the first bump apart.
        """
        row = self.conn.execute("SELECT last_value, is_called FROM library_generation").fetchone()
        return int(row[0]), int(row[1])

    # ------------------------------------------------------------------ reading

    def passages(self, ids: list[int]) -> dict[int, Passage]:
        rows = self.conn.execute(_PASSAGE_SELECT + " WHERE id = ANY(%s::bigint[])", (list(ids),))
        return {row[0]: _passage(row) for row in rows}

    def documents(self, ids: list[int]) -> dict[int, Document]:
        rows = self.conn.execute(_DOC_SELECT + " WHERE d.id = ANY(%s::bigint[])", (list(ids),))
        return {row[0]: _document(row) for row in rows}

    def document_passages(self, doc_id: int) -> list[Passage]:
        rows = self.conn.execute(_PASSAGE_SELECT + " WHERE document_id = %s ORDER BY ordinal", (doc_id,))
        return [_passage(r) for r in rows]

    def stats(self) -> dict[str, Any]:
        row = self.conn.execute(
            "SELECT (SELECT COUNT(*) FROM sources),"
            " (SELECT COUNT(*) FROM documents WHERE status='active'),"
            " (SELECT COUNT(*) FROM documents WHERE status='retired'),"
            " (SELECT COUNT(*) FROM passages p JOIN documents d ON d.id=p.document_id WHERE d.status='active'),"
            " pg_database_size(current_database())"
        ).fetchone()
        by_type = dict(self.conn.execute(
            "SELECT doc_type, COUNT(*) FROM documents WHERE status='active' GROUP BY doc_type ORDER BY 2 DESC, 1"
        ).fetchall())
        return {
            "path": self.path,
            "schema_version": self.schema_version(),
            "sources": row[0],
            "documents": row[1],
            "retired_documents": row[2],
            "passages": row[3],
            "documents_by_type": by_type,
            "size_bytes": row[4],
        }

    def integrity_check(self) -> str:
        """'ok', or what is inconsistent: search flags against document status, indexed titles, empty documents."""
        problems = []
        for what, query in _CONSISTENCY:
            count = self.conn.execute(query).fetchone()[0]
            if count:
                problems.append(f"{count} {what}")
        return "; ".join(problems) or "ok"

    def close(self) -> None:
        try:
            self.conn.close()
        except psycopg.Error:
            pass

    def __enter__(self) -> "PgStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# Candidates are the passages matching any of the rarer terms (GIN index); each term's ts_rank is
# weighted by its idf. `tsv || ''` decompresses each candidate's tsvector once instead of once per term.
_RANK_SQL = """
WITH q AS MATERIALIZED (
    SELECT to_tsquery('english', t) AS tq, w FROM unnest(%(terms)s::text[], %(idf)s::float8[]) AS u(t, w)),
c AS MATERIALIZED (
    SELECT id, tsv || ''::tsvector AS tsv FROM passages WHERE searchable AND tsv @@ to_tsquery('english', %(any)s))
SELECT c.id, SUM(q.w * ts_rank(%(weights)s::float4[], c.tsv, q.tq, %(norm)s)) AS score
FROM c JOIN q ON c.tsv @@ q.tq GROUP BY c.id ORDER BY score DESC, c.id LIMIT %(limit)s
"""

# The words among %(queries)s that are in the tsv column's most-common-lexeme statistics, with
# their frequency (share of rows). A word's to_tsquery text is its quoted lexeme: 'syndrom'.
_COMMON_LEXEMES_SQL = """
SELECT u.q, m.f FROM unnest(%(queries)s::text[]) AS u(q)
JOIN (SELECT e, f FROM pg_stats, unnest(most_common_elems::text::text[],
        most_common_elem_freqs[1:cardinality(most_common_elems)]) AS m(e, f)
      WHERE schemaname = current_schema() AND tablename = 'passages' AND attname = 'tsv') m
  ON to_tsquery('english', u.q)::text = quote_literal(m.e)
"""

_CONSISTENCY = (
    ("searchable passages of retired documents",
     "SELECT COUNT(*) FROM passages p JOIN documents d ON d.id = p.document_id"
     " WHERE p.searchable AND d.status = 'retired'"),
    ("unsearchable passages of active documents",
     "SELECT COUNT(*) FROM passages p JOIN documents d ON d.id = p.document_id"
     " WHERE NOT p.searchable AND d.status = 'active'"),
    ("passages indexed under another title than their document's",
     "SELECT COUNT(*) FROM passages p JOIN documents d ON d.id = p.document_id WHERE p.title <> d.title"),
    ("documents without passages",
     "SELECT COUNT(*) FROM documents d WHERE NOT EXISTS (SELECT 1 FROM passages p WHERE p.document_id = d.id)"),
)

_PASSAGE_SELECT = "SELECT id, document_id, ordinal, section_path, section_type, text, sentences FROM passages"

_DOC_SELECT = (
    "SELECT d.id, s.name, d.external_id, d.title, d.url, d.publisher, d.year, d.doc_type, d.grade, d.license,"
    " d.version, d.status, d.metadata, d.updated_at FROM documents d JOIN sources s ON s.id = d.source_id"
)


def dense_query(model_id: str, dim: int) -> sql.Composed:
    """The nearest-passages query, parameters (query vector text, vectors to consider, k).

    Model and dimension are SQL literals, not parameters, so that the planner matches the
    model's partial HNSW index (its predicate and expression) in every plan.
    """
    return sql.SQL(
        "SELECT p.id, 1 - n.distance FROM (SELECT content_hash,"
        " embedding::vector({dim}) <=> %s::vector({dim}) AS distance FROM embeddings"
        " WHERE model_id = {model} ORDER BY distance LIMIT %s) n"
        " JOIN passages p ON p.content_hash = n.content_hash AND p.searchable"
        " ORDER BY n.distance, p.id LIMIT %s"
    ).format(dim=sql.Literal(dim), model=sql.Literal(model_id))


def _qmark(db: psycopg.Connection):
    """``execute`` taking the ``?`` placeholders of the SQL shared with the SQLite library."""
    return lambda query, params=(): db.execute(query.replace("?", "%s"), params)


def _index_name(model_id: str) -> str:
    return "embeddings_hnsw_" + hashlib.sha256(model_id.encode("utf-8")).hexdigest()[:16]


def _passage_rows(doc_id: int, w: DocWrite) -> Iterator[tuple]:
    title = w.doc.title
    for ordinal, c in enumerate(w.chunks):
        digest = hashlib.sha256(embedding_input(title, c.section_path, c.text).encode("utf-8")).hexdigest()
        yield (doc_id, ordinal, title, json.dumps(c.section_path, ensure_ascii=False), c.section_type, c.text,
               json.dumps(c.sentences), digest)


def _document(row) -> Document:
    return Document(
        id=row[0], source=row[1], external_id=row[2], title=row[3], url=row[4], publisher=row[5], year=row[6],
        doc_type=row[7], grade=row[8], license=row[9], version=row[10], status=row[11], metadata=row[12] or {},
        updated_at=_iso(row[13]),
    )


def _passage(row) -> Passage:
    return Passage(
        id=row[0], document_id=row[1], ordinal=row[2], section_path=row[3], section_type=row[4], text=row[5],
        sentences=[tuple(x) for x in row[6]],
    )
