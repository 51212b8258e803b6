"""The SQLite library: migrations, idempotent content-addressed ingestion, versions, retiring, safety."""

from pathlib import Path

import pytest

from medora.errors import LibraryError
from medora.library.ingest import Ingestor
from medora.library.sqlite_store import SQLiteStore
from medora.models import Source
from medora.retrieve.lexical import lexical_search
from medora.sources.readers.base import ParsedDocument, ParsedSection, Skipped


class ListReader:
    """A reader over an in-memory list (stands in for a file format in these unit tests)."""

    name = "list"

    def __init__(self, docs):
        self.docs = docs

    def sniff(self, path, head):
        return True

    def read(self, path):
        yield from self.docs


def doc(ext: str, body: str, title: str = "Graves disease") -> ParsedDocument:
    return ParsedDocument(
        external_id=ext,
        title=title,
        sections=[ParsedSection(["Symptoms"], body, "symptoms")],
        doc_type="patient information",
    )


def run(store, docs, prune=False):
    return Ingestor(store, Source(name="test")).run([(Path("mem"), ListReader(docs))], prune=prune)


def test_migrations_are_numbered_and_applied_once(tmp_path):
    path = tmp_path / "lib.db"
    with SQLiteStore(path) as s:
        v = s.schema_version()
        assert v >= 1
    with SQLiteStore(path) as s:
        assert s.schema_version() == v
        assert s.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_missing_library_is_a_clear_error(tmp_path):
    with pytest.raises(LibraryError, match="no library at"):
        SQLiteStore(tmp_path / "nope.db", create=False)


def test_non_sqlite_file_is_refused_and_left_untouched(tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("just some notes")
    with pytest.raises(LibraryError, match="not a usable Medora library"):
        SQLiteStore(bad)
    assert bad.read_text() == "just some notes"


def test_ingest_is_idempotent_and_versions_changes(tmp_path):
    store = SQLiteStore(tmp_path / "lib.db")
    docs = [doc("a", "Graves disease causes a fast heartbeat and weight loss."), doc("b", "Goiter may appear.")]
    r1 = run(store, docs + [Skipped("answer removed upstream", 3)])
    assert (r1.added, r1.updated, r1.unchanged) == (2, 0, 0)
    assert r1.skipped["answer removed upstream"] == 3
    r2 = run(store, docs)
    assert (r2.added, r2.updated, r2.unchanged, r2.passages_written) == (0, 0, 2, 0)
    changed = [doc("a", "Graves disease causes tremor."), docs[1]]
    r3 = run(store, changed)
    assert (r3.added, r3.updated, r3.unchanged) == (0, 1, 1)
    a_id = r3.changed_document_ids[0]
    assert store.documents([a_id])[a_id].version == 2
    # old text is gone from search, new text is found
    assert not lexical_search(store, "heartbeat")
    assert [h.document.id for h in lexical_search(store, "tremor")] == [a_id]


def test_prune_retires_documents_not_seen(tmp_path):
    store = SQLiteStore(tmp_path / "lib.db")
    run(store, [doc("a", "Alpha text about thyroid."), doc("b", "Beta text about thyroid.")])
    report = run(store, [doc("a", "Alpha text about thyroid.")], prune=True)
    assert report.retired == 1
    assert store.stats()["documents"] == 1 and store.stats()["retired_documents"] == 1
    assert all(h.document.external_id == "a" for h in lexical_search(store, "thyroid"))
    # coming back re-activates it
    again = run(store, [doc("a", "Alpha text about thyroid."), doc("b", "Beta text about thyroid.")])
    assert again.updated == 1 and store.stats()["documents"] == 2


def test_duplicate_ids_in_one_run_are_rejected(tmp_path):
    store = SQLiteStore(tmp_path / "lib.db")
    report = run(store, [doc("a", "One text here."), doc("a", "Another text here.")])
    assert report.added == 1
    assert len(report.rejected) == 1 and "duplicate document id 'a'" in report.rejected[0][1]


def test_failed_batch_leaves_library_as_before(tmp_path):
    store = SQLiteStore(tmp_path / "lib.db")
    run(store, [doc("a", "Stored before the crash.")])

    def exploding():
        yield doc("b", "Never stored.")
        raise KeyboardInterrupt

    class Boom(ListReader):
        def read(self, path):
            yield from exploding()

    with pytest.raises(KeyboardInterrupt):
        Ingestor(store, Source(name="test")).run([(Path("mem"), Boom([]))])
    assert store.stats()["documents"] == 1
    assert store.integrity_check() == "ok"


@pytest.mark.parametrize(
    "query",
    ['"', "AND OR NOT", "NEAR(a b)", "col:thing", "a*", "\x00", "😀🩺", "'; DROP TABLE passages; --", "^x", "(((", ""],
)
def test_search_never_passes_user_text_as_fts_syntax(tmp_path, query):
    store = SQLiteStore(tmp_path / "lib.db")
    run(store, [doc("a", "Graves disease and thyroid hormone.")])
    assert isinstance(lexical_search(store, query), list)
    assert store.stats()["passages"] == 1


def test_data_version_moves_with_every_passage_or_vector_change_and_only_then(tmp_path):
    store = SQLiteStore(tmp_path / "lib.db")
    versions = [store.data_version()]
    run(store, [doc("a", "Alpha text about thyroid."), doc("b", "Beta text about thyroid.")])
    versions.append(store.data_version())
    run(store, [doc("a", "Alpha text about thyroid."), doc("b", "Beta text about thyroid.")])  # unchanged
    assert store.data_version() == versions[-1]
    run(store, [doc("a", "Alpha text about the thyroid gland.")], prune=True)  # one changed, one retired
    versions.append(store.data_version())
    store.put_embeddings("m", 2, [("h", b"\x00\x00\x00\x00")])
    versions.append(store.data_version())
    assert len(set(versions)) == len(versions)  # every change was seen
    with SQLiteStore(tmp_path / "lib.db") as other:  # and by another connection
        assert other.data_version() == versions[-1]


def test_term_counts_from_the_index_vocabulary_equal_counting_matches(shared_sources, tmp_path):
    from medora.sources.readers.registry import make_reader

    store = SQLiteStore(tmp_path / "lib.db")
    files = sorted((shared_sources / "dailymed-spl").glob("*.xml"))
    Ingestor(store, Source(name="dailymed")).run([(f, make_reader("spl")) for f in files])
    words = ["disease", "patients", "dosing", "reactions", "generalization", "is", "of", "Caused", "B12",
             "t-cell", "café", "hypertensions", "xyzzyq", "treatments", "ADHD", "injection", "infections"]
    total, counts = store.term_frequencies(words)
    for word in words:
        matched = store.db.execute("SELECT COUNT(*) FROM passages_fts WHERE passages_fts MATCH ?",
                                   ('"' + word + '"',)).fetchone()[0]
        assert counts[word] == matched, word
    assert total == store.stats()["passages"] and counts["disease"] > 10


def test_hybrid_search_matches_the_rarest_words_of_a_long_question_and_lexical_every_word(tmp_path):
    from medora.retrieve.dense import embed_library
    from medora.retrieve.search import Retriever
    from medora.retrieve.terms import TermWeights

    store = SQLiteStore(tmp_path / "lib.db")
    run(store, [doc("a", "Thyroid storm is rare but not common."), doc("b", "Thyroid disease is common; tests are common."),
                doc("c", "Common tests for common disease."), doc("d", "Tests and more tests.")])
    weights = TermWeights.build(store, ["common", "thyroid", "storm", "tests"])
    assert weights.rarest(2) == ["storm", "thyroid"]  # by IDF: storm in 1 passage, thyroid 2, common and tests 3
    matched: list[str] = []
    search = store.lexical_search
    store.lexical_search = lambda match, limit: matched.append(match) or search(match, limit)

    lexical = Retriever(store, mode="lexical", match_terms=1).search("common thyroid storm tests")
    assert {h.document.external_id for h in lexical.hits} == {"a", "b", "c", "d"}  # BM25 alone: every word
    hybrid = Retriever(store, mode="auto", embedder_spec="minilm", match_terms=1)
    embed_library(store, hybrid.embedder())
    assert hybrid.search("common thyroid storm tests").mode == "hybrid"
    assert matched == ['"common" OR "thyroid" OR "storm" OR "tests"', '"storm"']  # fused with dense: the rarest


def test_fusion_sums_each_lists_scaled_policy_scores():
    from medora.retrieve.search import combine

    lexical = [(1, 9.0), (2, 5.0), (3, 1.0)]  # scaled: 1.0, 0.5, 0.0
    dense = [(2, 0.8), (4, 0.6), (1, 0.4)]  # scaled: 1.0, 0.5, 0.0
    fused = dict(combine(lexical, dense, weights=(0.5, 1.0)))
    assert fused == {2: pytest.approx(0.25 + 1.0), 1: pytest.approx(0.5), 4: pytest.approx(0.5), 3: 0.0}
    assert [pid for pid, _ in combine(lexical, dense, weights=(0.5, 1.0))][:1] == [2]
    # a list far ahead keeps its lead: the margin of its best passage survives, unlike rank fusion
    assert [pid for pid, _ in combine([(7, 10.0), (8, 1.0), (9, 0.9)], [(8, 0.5), (7, 0.49), (9, 0.1)],
                                      weights=(1.0, 1.0))][0] == 7
    assert combine([], dense, weights=(0.5, 1.0))[0][0] == 2  # one empty list: the other's order
    assert combine([(5, 1.0), (6, 1.0)], [], weights=(0.5, 1.0)) == [(5, 0.5), (6, 0.5)]  # equal: all the best


def test_hybrid_hits_carry_both_lists_policy_scores(tmp_path):
    from medora.retrieve.dense import embed_library
    from medora.retrieve.search import Retriever

    store = SQLiteStore(tmp_path / "lib.db")
    run(store, [doc("a", "Thyroid storm is a rare emergency of an overactive thyroid."),
                doc("b", "Gout is joint pain from uric acid crystals."), doc("c", "Asthma narrows the airways.")])
    retriever = Retriever(store, mode="hybrid", embedder_spec="minilm")
    embed_library(store, retriever.embedder())
    result = retriever.search("what is thyroid storm?")
    top = result.hits[0]
    assert result.mode == "hybrid" and top.document.external_id == "a"
    assert {"bm25", "dense", "lexical_policy", "dense_policy", "hybrid"} <= set(top.scores)
    assert top.scores["rerank"] == top.score == pytest.approx(0.5 + 1.0)  # best in both lists
    assert [h.rank for h in result.hits] == list(range(1, len(result.hits) + 1))
    assert all(a.score >= b.score for a, b in zip(result.hits, result.hits[1:]))


# ------------------------------------------------------------------ a batch that fails inside the write


def _snapshot(path) -> list[str]:
    """Everything a reader of the file sees, read through a fresh connection (not the writer's)."""
    import sqlite3

    con = sqlite3.connect(path)
    try:
        return list(con.iterdump()) + [repr(con.execute(
            "SELECT rowid, title, section, body FROM passages_fts ORDER BY rowid").fetchall())]
    finally:
        con.close()


def _writes(store, docs, existing=None):
    from medora.library.chunking import chunk_document
    from medora.library.store import DocWrite

    source_id = store.upsert_source(Source(name="test"))
    states = store.document_states(source_id)
    return [DocWrite(source_id, d, d.content_hash(), chunk_document(d),
                     existing=states.get(d.external_id) if existing else None) for d in docs]


@pytest.fixture()
def stored(tmp_path):
    """A library holding two documents, and the snapshot every failed batch must leave unchanged."""
    path = tmp_path / "lib.db"
    store = SQLiteStore(path)
    run(store, [doc("a", "Stored before the failure about thyroid."), doc("b", "Also stored about goiter.")])
    yield store, path, _snapshot(path)
    store.close()


def _assert_unchanged_and_usable(store, path, before):
    assert _snapshot(path) == before  # another connection sees exactly the old library
    assert store.db.in_transaction is False  # the writer's transaction was closed, not left open
    assert store.stats()["documents"] == 2 and store.integrity_check() == "ok"
    assert [h.document.external_id for h in lexical_search(store, "thyroid")] == ["a"]
    store.write_batch(_writes(store, [doc("z", "A later batch about thyroid works.")]))  # connection usable
    assert store.stats()["documents"] == 3


def test_constraint_violation_after_the_first_rows_rolls_back_the_batch(stored):
    """Mutation: ROLLBACK -> COMMIT in SQLiteStore.write_batch leaves "c" and "d" behind."""
    store, path, before = stored
    # "c" and "d" are new; the third re-adds "a" as new, violating UNIQUE(source_id, external_id) after
    # two documents and their passages were written in this transaction.
    writes = _writes(store, [doc("c", "New text about thyroid."), doc("d", "More new text."),
                             doc("a", "A clashing copy.")])
    import sqlite3

    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        store.write_batch(writes)
    _assert_unchanged_and_usable(store, path, before)


@pytest.mark.parametrize("fail_at", [1, 2])
def test_exception_between_documents_and_passages_rolls_back(stored, monkeypatch, fail_at):
    """The document row is written, then inserting its passages fails (at the first or a later document)."""
    store, path, before = stored
    writes = _writes(store, [doc("c", "New text about thyroid."), doc("d", "More new text about thyroid.")])
    calls = []
    insert = store._insert_passages

    def failing(*args):
        calls.append(args[0])
        if len(calls) == fail_at:
            raise OSError("disk gone")
        return insert(*args)

    monkeypatch.setattr(store, "_insert_passages", failing)
    with pytest.raises(OSError, match="disk gone"):
        store.write_batch(writes)
    assert len(calls) == fail_at  # the failure happened where intended, after document rows were inserted
    monkeypatch.undo()
    _assert_unchanged_and_usable(store, path, before)


def test_interrupt_while_replacing_a_document_restores_its_old_passages(stored, monkeypatch):
    """A changed document: old passages deleted, row updated, then Ctrl-C before the new passages; the old
    version, its passages and its search entries come back (BaseException, not only Exception)."""
    store, path, before = stored
    writes = _writes(store, [doc("a", "Changed text about tremor.")], existing=True)
    assert writes[0].existing is not None

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(store, "_insert_passages", interrupted)
    with pytest.raises(KeyboardInterrupt):
        store.write_batch(writes)
    monkeypatch.undo()
    _assert_unchanged_and_usable(store, path, before)
    assert not lexical_search(store, "tremor")


def test_failure_at_the_end_of_the_batch_rolls_back(stored, monkeypatch):
    """Every row written, the change counter fails just before COMMIT: still nothing is kept."""
    store, path, before = stored
    writes = _writes(store, [doc("c", "New text about thyroid.")])

    def failing(what):
        raise RuntimeError("counter failed")

    monkeypatch.setattr(store, "_changed", failing)
    with pytest.raises(RuntimeError, match="counter failed"):
        store.write_batch(writes)
    monkeypatch.undo()
    _assert_unchanged_and_usable(store, path, before)


def test_hybrid_keeps_the_word_searchs_best_passages_among_the_k_returned():
    from medora.retrieve.search import keep_lexical_best

    # "What is chlorhexidine?": one passage names it (BM25 only); dense look-alikes fill the fused list.
    fused = [(10, 1.0), (11, 0.9), (12, 0.8), (13, 0.7), (99, 0.5)]
    kept = keep_lexical_best(fused, [99], k=3)
    assert [pid for pid, _ in kept][:3] == [10, 11, 99]
    assert sorted(kept) == sorted(fused)  # nothing lost, nothing added
    assert keep_lexical_best(fused, [10, 11], k=3) == fused  # already in: unchanged
