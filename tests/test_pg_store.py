"""The PostgreSQL library against a real PostgreSQL 16 + pgvector: the SQLite store's behaviours, search
over the shared sources compared with SQLite, dense search, and migrating a SQLite library with its vectors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from psycopg import sql
from test_library_store import ListReader, doc

from medora.errors import LibraryError
from medora.library import pg_store
from medora.library.chunking import chunk_document
from medora.library.ingest import Ingestor, file_digest
from medora.library.migrate import migrate_library, pg_digests, sqlite_digests
from medora.library.open import open_store
from medora.library.pg_store import (
    PgStore,
    _index_name,
    candidate_terms,
    dense_query,
    redact,
    tsquery_terms,
)
from medora.library.sqlite_store import SQLiteStore
from medora.library.store import DocWrite
from medora.models import Source
from medora.retrieve.dense import DenseIndex, embed_library
from medora.retrieve.embeddings import get_embedder
from medora.retrieve.lexical import lexical_search
from medora.retrieve.search import Retriever
from medora.sources.fetch import resolve_files
from medora.sources.readers.base import Skipped
from medora.sources.readers.registry import make_reader
from medora.sources.registry import get_source

pytest_plugins = ("pg_fixtures",)  # pg_url, pg_module_url: fresh databases on a real server

SHARED = ("dailymed", "pubmed", "pubmedqa")


def run(store, docs, prune=False, source="test"):
    return Ingestor(store, Source(name=source)).run([(Path("mem"), ListReader(docs))], prune=prune)


def add_sources(store, shared_sources: Path, names, cache: Path) -> None:
    for name in names:
        known = get_source(name)
        files = resolve_files(known, sources_dir=shared_sources, cache_dir=cache)
        report = Ingestor(store, Source(name=name)).run([(f, make_reader(known.format)) for f in files])
        assert not report.rejected and report.added


@pytest.fixture
def store(pg_url):
    with PgStore(pg_url) as s:
        yield s


@pytest.fixture(scope="module")
def libraries(pg_module_url, shared_sources, tmp_path_factory):
    """The same shared sources (DailyMed labels, a PubMed record, PubMedQA) in SQLite and in PostgreSQL."""
    tmp = tmp_path_factory.mktemp("pg-shared")
    sqlite, pg = SQLiteStore(tmp / "lib.db"), PgStore(pg_module_url)
    for store in (sqlite, pg):
        add_sources(store, shared_sources, SHARED, tmp)
    yield sqlite, pg
    sqlite.close()
    pg.close()


@pytest.fixture(scope="module")
def wordllama():
    return get_embedder("wordllama")


@pytest.fixture(scope="module")
def sqlite_with_vectors(shared_sources, tmp_path_factory, wordllama):
    """A SQLite library (labels + PubMed record) with one retired document and wordllama vectors."""
    tmp = tmp_path_factory.mktemp("pg-migrate")
    store = SQLiteStore(tmp / "lib.db")
    add_sources(store, shared_sources, ("dailymed", "pubmed"), tmp)
    retired = next(d for d in store.documents(list(range(1, 10))).values() if d.external_id == "29768149")
    assert store.retire([retired.id]) == 1
    assert embed_library(store, wordllama).embedded > 300
    yield store, retired.id
    store.close()


# ---------------------------------------------------------------------- opening


def test_migrations_are_numbered_and_applied_once(pg_url):
    with PgStore(pg_url) as s:
        version = s.schema_version()
        assert version >= 1
    with PgStore(pg_url, create=False) as s:
        assert s.schema_version() == version
        assert s.conn.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0] == version
        assert s.conn.execute("SELECT extname FROM pg_extension WHERE extname = 'vector'").fetchone()


def test_missing_or_unreachable_library_is_a_clear_error(pg_url, tmp_path):
    with pytest.raises(LibraryError, match="no Medora library in"):
        PgStore(pg_url, create=False)
    with PgStore(pg_url) as s:  # the refusal created nothing
        assert s.stats()["documents"] == 0
    url = f"postgresql://medora:s3cret@/lib?host={tmp_path}"
    with pytest.raises(LibraryError, match="cannot connect to PostgreSQL library") as caught:
        PgStore(url)
    assert "s3cret" not in str(caught.value)
    assert redact(url) == f"postgresql://medora:***@/lib?host={tmp_path}"
    assert redact("postgresql://h/lib?sslmode=require&password=pw") == "postgresql://h/lib?sslmode=require&password=***"


def test_open_store_picks_the_backend_from_the_location(pg_url, tmp_path):
    with open_store(pg_url, create=True) as s:
        assert isinstance(s, PgStore)
    with open_store(tmp_path / "lib.db", create=True) as s:
        assert isinstance(s, SQLiteStore)
    with pytest.raises(LibraryError, match="no library at"):
        open_store(tmp_path / "missing.db", create=False)


# ---------------------------------------------------------------------- the SQLite store's behaviours


def test_ingest_is_idempotent_and_versions_changes(store):
    docs = [doc("a", "Graves disease causes a fast heartbeat and weight loss."), doc("b", "Goiter may appear.")]
    r1 = run(store, docs + [Skipped("answer removed upstream", 3)])
    assert (r1.added, r1.updated, r1.unchanged) == (2, 0, 0)
    assert r1.skipped["answer removed upstream"] == 3
    r2 = run(store, docs)
    assert (r2.added, r2.updated, r2.unchanged, r2.passages_written) == (0, 0, 2, 0)
    r3 = run(store, [doc("a", "Graves disease causes tremor."), docs[1]])
    assert (r3.added, r3.updated, r3.unchanged) == (0, 1, 1)
    a_id = r3.changed_document_ids[0]
    assert store.documents([a_id])[a_id].version == 2
    assert not lexical_search(store, "heartbeat")
    assert [h.document.id for h in lexical_search(store, "tremor")] == [a_id]
    assert store.integrity_check() == "ok"


def test_prune_retires_documents_not_seen(store):
    run(store, [doc("a", "Alpha text about thyroid."), doc("b", "Beta text about thyroid.")])
    report = run(store, [doc("a", "Alpha text about thyroid.")], prune=True)
    assert report.retired == 1
    assert store.stats()["documents"] == 1 and store.stats()["retired_documents"] == 1
    assert [h.document.external_id for h in lexical_search(store, "thyroid")] == ["a"]
    assert store.term_frequencies(["thyroid"]) == (1, {"thyroid": 1})
    again = run(store, [doc("a", "Alpha text about thyroid."), doc("b", "Beta text about thyroid.")])
    assert again.updated == 1 and store.stats()["documents"] == 2
    assert store.integrity_check() == "ok"


def test_writes_from_another_machine_refresh_cached_term_counts(store, pg_url):
    run(store, [doc("a", "Graves disease and thyroid hormone.")])
    assert store.term_frequencies(["tirzepatide"]) == (1, {"tirzepatide": 0})  # counted, and cached
    with PgStore(pg_url) as other:  # a second connection stands in for another machine
        run(other, [doc("b", "Tirzepatide lowers blood glucose.")])
    assert store.term_frequencies(["tirzepatide"]) == (2, {"tirzepatide": 1})
    assert [h.document.external_id for h in lexical_search(store, "tirzepatide")] == ["b"]


def test_data_version_moves_with_every_passage_or_vector_change_and_only_then(store, pg_url):
    versions = [store.data_version()]
    run(store, [doc("a", "Alpha text about thyroid."), doc("b", "Beta text about thyroid.")])  # the first write
    versions.append(store.data_version())
    run(store, [doc("a", "Alpha text about thyroid."), doc("b", "Beta text about thyroid.")])  # unchanged
    assert store.data_version() == versions[-1]
    run(store, [doc("a", "Alpha text about the thyroid gland.")], prune=True)  # one changed, one retired
    versions.append(store.data_version())
    store.put_embeddings("m", 2, [(h, b"\x00\x3c\x00\x00") for h, _ in store.missing_embeddings("m", 5)])
    versions.append(store.data_version())
    assert len(set(versions)) == len(versions)  # every change was seen
    with PgStore(pg_url) as other:  # and by another connection
        assert other.data_version() == versions[-1]


def test_duplicate_ids_in_one_run_are_rejected(store):
    report = run(store, [doc("a", "One text here."), doc("a", "Another text here.")])
    assert report.added == 1
    assert len(report.rejected) == 1 and "duplicate document id 'a'" in report.rejected[0][1]


def test_failed_batch_leaves_library_as_before(store):
    run(store, [doc("a", "Stored before the crash.")])

    class Boom(ListReader):
        def read(self, path):
            yield doc("b", "Never stored.")
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Ingestor(store, Source(name="test")).run([(Path("mem"), Boom([]))])
    assert store.stats()["documents"] == 1
    assert store.integrity_check() == "ok"


def test_database_error_rolls_back_the_whole_batch(store):
    source_id = store.upsert_source(Source(name="test"))
    good, bad = doc("a", "A fine text."), doc("b", "Another fine text.", title="NUL \x00 in a title")
    writes = [DocWrite(source_id, d, d.content_hash(), chunk_document(d)) for d in (good, bad)]
    with pytest.raises(LibraryError, match="could not store a batch of documents"):
        store.write_batch(writes)
    assert store.stats()["documents"] == 0 and store.stats()["passages"] == 0
    store.write_batch(writes[:1])  # the connection is usable afterwards
    assert store.stats()["passages"] == 1


def test_search_never_passes_user_text_as_query_syntax(store):
    run(store, [doc("a", "Graves disease and thyroid hormone.")])
    hostile = ['"', "AND OR NOT", "NEAR(a b)", "col:thing", "a*", "\x00", "😀🩺", "'; DROP TABLE passages; --",
               "^x", "(((", "", "thyroid:* | !graves", "a <-> b", "\\' & |"]
    for query in hostile:
        assert isinstance(lexical_search(store, query), list)
    raw = ['"thyroid:*" OR "!graves"', '"a & (b"', "thyroid", '"x\' | y"', '""', '"\x00"', '"graves disease"']
    results = {m: store.lexical_search(m, 5) for m in raw}
    assert results['"graves disease"'] and results['"thyroid:*" OR "!graves"']  # operators dropped, words kept
    assert results["thyroid"] == [] and results['""'] == []  # only quoted terms are read
    terms = tsquery_terms('"thyroid:*" OR "a & (b" OR "graves disease"')
    assert terms == ["thyroid", "(a <-> b)", "(graves <-> disease)"]
    assert store.stats()["passages"] == 1 and store.integrity_check() == "ok"


def test_candidate_terms_are_the_rarest_within_the_budget():
    counts = {"common": 900, "rare": 3, "mid": 40, "tied": 40}
    assert candidate_terms(counts, 100) == ["rare", "mid", "tied"]
    assert candidate_terms(counts, 50) == ["rare", "mid"]
    assert candidate_terms(counts, 0) == ["rare"]  # the rarest term always brings its matches
    assert candidate_terms(counts, 10_000) == ["rare", "mid", "tied", "common"]


def test_common_terms_score_but_only_rarer_terms_bring_candidates(store, monkeypatch):
    common = [doc(f"c{i}", f"Thyroid hormone note {i}.") for i in range(6)]
    others = [doc(f"o{i}", f"Unrelated note {i}.") for i in range(10)]
    rare = [doc("both", "Tirzepatide with thyroid hormone."), doc("rare", "Tirzepatide with food intake.")]
    run(store, common + others + rare)
    match = '"tirzepatide" OR "thyroid"'
    full = store.lexical_search(match, 10)
    texts = [store.passages([p])[p].text for p, _ in full]
    assert texts[:2] == ["Tirzepatide with thyroid hormone.", "Tirzepatide with food intake."] and len(full) == 8
    monkeypatch.setattr(pg_store, "CANDIDATE_BUDGET", 3)  # tirzepatide: 2 passages, thyroid: 7
    assert store.lexical_search(match, 10) == full[:2]  # the same order and scores: thyroid still counts


def test_common_words_take_their_count_from_the_statistics(store, monkeypatch):
    run(store, [doc(f"t{i}", f"Thyroid note {i}.") for i in range(30)] + [doc(f"o{i}", "Goiter note.") for i in range(10)])
    store.conn.execute("ANALYZE passages")  # statistics of 40 passages, 30 with "thyroid"
    retired = [d for d, in store.conn.execute("SELECT id FROM documents WHERE external_id LIKE 't%' LIMIT 10")]
    assert store.retire(retired) == 10
    assert store.term_frequencies(["thyroid", "note"]) == (30, {"thyroid": 20, "note": 30})  # counted: exact
    monkeypatch.setattr(pg_store, "COUNT_ESTIMATE_MIN", 10)
    store.changed()  # drop the cached counts
    total, counts = store.term_frequencies(["thyroid", "note", "goiter", "zzzunknown"])
    assert total == 30 and counts["note"] == 30 and counts["zzzunknown"] == 0
    assert counts["thyroid"] in (22, 23)  # 30/40 of the 30 searchable passages: the stale estimate, not a count
    assert counts["goiter"] == 10  # 10/40 x 30 = 7.5 is under the threshold, so counted


# ---------------------------------------------------------------------- shared sources, both backends


def test_shared_sources_are_stored_alike(libraries):
    sqlite, pg = libraries
    a, b = sqlite.stats(), pg.stats()
    for key in ("sources", "documents", "retired_documents", "passages", "documents_by_type"):
        assert a[key] == b[key], key
    assert a["documents"] == 1006 and a["passages"] > 4500
    strip = lambda rows: [{k: r[k] for k in ("name", "documents", "passages", "license")} for r in rows]  # noqa: E731
    assert strip(sqlite.sources()) == strip(pg.sources())
    ids = list(range(1, 40))
    assert sqlite.passages(ids) == pg.passages(ids)
    assert {i: d.external_id for i, d in sqlite.documents(ids).items()} == {
        i: d.external_id for i, d in pg.documents(ids).items()}
    assert sqlite.document_passages(3) == pg.document_passages(3)
    terms = ["atorvastatin", "heart", "symptoms", "children", "zzzunknown"]
    assert sqlite.term_frequencies(terms) == pg.term_frequencies(terms)
    assert pg.integrity_check() == "ok"


def test_reingesting_unchanged_files_writes_nothing(libraries, shared_sources, tmp_path):
    _, pg = libraries
    known = get_source("dailymed")
    files = resolve_files(known, sources_dir=shared_sources, cache_dir=tmp_path)
    report = Ingestor(pg, Source(name="dailymed")).run([(f, make_reader(known.format)) for f in files], prune=True)
    assert (report.added, report.updated, report.unchanged, report.retired, report.passages_written) == (0, 0, 5, 0, 0)
    source_id = next(i for i, in pg.conn.execute("SELECT id FROM sources WHERE name = 'dailymed'"))
    assert pg.file_record(source_id, str(files[0].resolve()))[0] == file_digest(  # sha256 + reader name and version
        hashlib.sha256(files[0].read_bytes()).hexdigest(), make_reader(known.format))


@pytest.mark.parametrize("question, title", [
    ("atorvastatin adverse reactions", "LIPITOR"),
    ("sildenafil with nitrates and hypotension", "VIAGRA"),
    ("adalimumab tuberculosis screening", "HUMIRA"),
    ("budesonide-formoterol as needed in mild asthma", "Budesonide-Formoterol"),
])
def test_lexical_search_finds_the_expected_document(libraries, question, title):
    sqlite, pg = libraries
    top = lexical_search(pg, question, 5)[0]
    assert title in top.document.title
    assert top.document.id == lexical_search(sqlite, question, 5)[0].document.id


def test_pubmedqa_questions_find_the_same_abstract_as_sqlite(libraries, shared_sources):
    sqlite, pg = libraries
    questions = list(json.loads((shared_sources / "pubmedqa" / "ori_pqal.json").read_text()).items())[:20]
    agree = own = 0
    for pmid, item in questions:
        top_pg = lexical_search(pg, item["QUESTION"], 10)[0].document.external_id
        agree += top_pg == lexical_search(sqlite, item["QUESTION"], 10)[0].document.external_id
        own += top_pg == pmid
    assert agree >= 19 and own >= 19, (agree, own)  # measured: 20/20 and 20/20


# ---------------------------------------------------------------------- vectors


def test_embedding_creates_an_hnsw_index_that_dense_search_uses(store, wordllama):
    run(store, [doc("a", "Atorvastatin lowers cholesterol; muscle pain is a side effect.", title="Lipitor"),
                doc("b", "Sildenafil treats erectile dysfunction.", title="Viagra"),
                doc("c", "Levothyroxine replaces thyroid hormone.", title="Synthroid")])
    report = embed_library(store, wordllama)
    assert report.embedded == 3 and store.embedding_coverage(wordllama.model_id) == (3, 3)
    assert store.missing_embeddings(wordllama.model_id, 10) == [] and store.has_embeddings()
    query = wordllama.embed_query("statin muscle pain")
    hits = store.dense_search(wordllama.model_id, query, 2)
    first = store.passages([hits[0][0]])[hits[0][0]]
    assert store.documents([first.document_id])[first.document_id].external_id == "a"
    assert [pid for pid, _ in hits] == [pid for pid, _ in DenseIndex(store, wordllama.model_id, wordllama.dim).search(
        query, 2)]
    with store.conn.transaction():  # three rows: the planner would rather sort; show that the index serves the query
        store.conn.execute("SET LOCAL enable_seqscan = off; SET LOCAL enable_sort = off")
        explain = sql.SQL("EXPLAIN ") + dense_query(wordllama.model_id, wordllama.dim)
        plan = " ".join(r[0] for r in store.conn.execute(explain, ("[" + ",".join(["0.1"] * 256) + "]", 10, 5)))
    assert "embeddings_hnsw_" in plan
    run(store, [doc("b", "Sildenafil treats erectile dysfunction.", title="Viagra"),
                doc("c", "Levothyroxine replaces thyroid hormone.", title="Synthroid")], prune=True)
    assert first.id not in [pid for pid, _ in store.dense_search(wordllama.model_id, query, 5)]


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float16)


def _plan(store, model: str, dim: int) -> str:
    explain = sql.SQL("EXPLAIN ") + dense_query(model, dim)
    return " ".join(r[0] for r in store.conn.execute(explain, ("[" + ",".join(["0.1"] * dim) + "]", 10, 5)))


def test_bulk_vectors_are_searched_exactly_until_one_index_build_matches_exact_search(store):
    model, dim = "bulk-test", 32
    run(store, [doc(f"d{i}", f"Passage number {i} about thyroid care.") for i in range(600)])
    hashes = [h for h, _ in store.missing_embeddings(model, 1000)]
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(12, dim))  # clustered, like real embeddings
    vectors = _unit(centres[rng.integers(0, 12, len(hashes))] + 0.6 * rng.normal(size=(len(hashes), dim)))
    for start in range(0, len(hashes), 250):  # several batches, one with a repeated row
        batch = [(h, v.tobytes()) for h, v in zip(hashes[start:start + 250], vectors[start:start + 250])]
        store.put_embeddings(model, dim, batch + batch[:1])
    assert store.embedding_coverage(model) == (600, 600)
    assert store.conn.execute("SELECT to_regclass(%s)", (_index_name(model),)).fetchone()[0] is None
    exact = DenseIndex(store, model, dim)
    queries = _unit(vectors[:40].astype(np.float32) + 0.3 * rng.normal(size=(40, dim)))
    before = [store.dense_search(model, q.astype(np.float32), 10) for q in queries]
    assert [[p for p, _ in hits] for hits in before] == [[p for p, _ in exact.search(q, 10)] for q in queries]
    store.ensure_vector_index(model, dim)
    store.ensure_vector_index(model, dim)  # built once: a second call is a no-op
    with store.conn.transaction():
        store.conn.execute("SET LOCAL enable_seqscan = off; SET LOCAL enable_sort = off")
        assert _index_name(model) in _plan(store, model, dim)
    after = [store.dense_search(model, q.astype(np.float32), 10) for q in queries]
    assert [[p for p, _ in hits][:5] for hits in after] == [[p for p, _ in hits][:5] for hits in before]
    found = sum(len({p for p, _ in a} & {p for p, _ in b}) for a, b in zip(after, before))
    assert found >= 0.98 * 10 * len(queries)  # HNSW is approximate: recall@10 against the exact scan
    run(store, [doc("late", "A passage embedded after the index was built.")])
    (late, _), = store.missing_embeddings(model, 5)
    store.put_embeddings(model, dim, [(late, _unit(-centres[:1]).tobytes())])  # maintained by the index
    assert store.passages([store.dense_search(model, -centres[0], 1)[0][0]]).popitem()[1].text.startswith("A passage")


def test_migration_copies_everything_without_reembedding(sqlite_with_vectors, pg_url, wordllama):
    src, retired_id = sqlite_with_vectors
    messages = []
    with PgStore(pg_url) as dst:
        report = migrate_library(src, dst, messages.append)
        assert report.digests == sqlite_digests(src) == pg_digests(dst)
        assert report.count("documents") == 6 and report.count("embeddings") > 300
        assert any(m.startswith("verified") for m in messages)
        model = wordllama.model_id
        assert list(dst.embedding_rows(model)) == list(src.embedding_rows(model))  # vectors copied, not recomputed
        assert dst.embedding_coverage(model) == src.embedding_coverage(model)
        assert dst.missing_embeddings(model, 5) == [] and embed_library(dst, wordllama).embedded == 0
        ids = [pid for pid, _ in src.embedding_rows(model)]
        assert dst.passages(ids) == src.passages(ids)
        doc_ids = list(range(1, 7))
        assert dst.documents(doc_ids) == src.documents(doc_ids)
        assert dst.stats()["retired_documents"] == 1 and dst.integrity_check() == "ok"
        assert all(h.document.id != retired_id for h in lexical_search(dst, "budesonide formoterol asthma"))
        query = wordllama.embed_query("muscle pain with statins")
        exact = DenseIndex(src, model, wordllama.dim).search(query, 5)
        assert [p for p, _ in dst.dense_search(model, query, 5)] == [p for p, _ in exact]
        vectors = dict(src.embedding_rows(model))
        nearest = [p for p, _ in exact]
        assert np.array_equal(dst.passage_vectors(model, nearest),
                              np.stack([np.frombuffer(vectors[p], dtype="<f2").astype(np.float32) for p in nearest]))
        # dense search with pseudo-relevance feedback ranks alike on both backends
        searches = [Retriever(s, mode="dense", embedder_spec="wordllama").search("muscle pain with statins", k=5)
                    for s in (src, dst)]
        assert [h.passage.id for h in searches[1].hits] == [h.passage.id for h in searches[0].hits]
        added = run(dst, [doc("new", "Written after the migration.")], source="after")
        assert added.added == 1 and dst.integrity_check() == "ok"  # id sequences continue past copied ids


def test_migration_refuses_a_library_that_is_not_empty(sqlite_with_vectors, pg_url):
    src, _ = sqlite_with_vectors
    with PgStore(pg_url) as dst:
        run(dst, [doc("a", "Already here.")])
        with pytest.raises(LibraryError, match="already holds a library"):
            migrate_library(src, dst)
        assert dst.stats()["documents"] == 1


def test_a_copy_that_differs_is_rolled_back(sqlite_with_vectors, pg_url):
    src, _ = sqlite_with_vectors
    with PgStore(pg_url) as dst:
        dst.conn.execute(  # a destination that silently alters what it is given
            "CREATE FUNCTION alter_text() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN NEW.text := NEW.text || ' '; RETURN NEW; END $$;"
            " CREATE TRIGGER alter_text BEFORE INSERT ON passages FOR EACH ROW EXECUTE FUNCTION alter_text()")
        with pytest.raises(LibraryError, match=r"migration check failed, nothing was kept \(passages"):
            migrate_library(src, dst)
        assert dst.stats()["documents"] == 0 and not dst.has_embeddings()
        dst.conn.execute("DROP TRIGGER alter_text ON passages")
        assert migrate_library(src, dst).digests == sqlite_digests(src)  # nothing was left behind: a retry works
