"""`medora eval answers` on a PostgreSQL library (real pgserver): the same command, a postgresql:// URL."""

from __future__ import annotations

import json

from conftest import run_cli

pytest_plugins = ("pg_fixtures",)  # pg_url: a fresh database on a real PostgreSQL 16 + pgvector


def test_answer_evaluation_runs_on_a_postgresql_library(shared_sources, shared_eval, tmp_path, pg_url):
    sqlite = tmp_path / "library.db"
    run_cli("library", "add", "pubmedqa", "--from", str(shared_sources), "--library", str(sqlite), "-q")
    run_cli("library", "migrate", "--from", str(sqlite), "--to", pg_url)
    report = json.loads(run_cli("eval", "answers", str(shared_eval), "--library", pg_url, "--matcher", "lexical",
                                "--audiences", "patient", "--kqa-limit", "2", "--pubmedqa-limit", "5",
                                "--limit", "2", "--format", "json").stdout)
    assert report["pubmedqa"]["questions"] == 5
    assert report["pubmedqa"]["status"] == {"answered": 5}  # each question's own abstract is in the library
    assert report["integrity"]["rate"] == 1.0 and report["integrity"]["failures"] == {}
    assert report["integrity"]["statements"] > 10  # every quoted statement found in its cited PostgreSQL passage
    assert report["kqa"]["patient"]["questions"] == 2
    # key facts, MedicationQA (answerable subset searched in PostgreSQL) and the naive baseline read the same library
    assert report["keyfacts"]["questions"] == 2 and report["medicationqa"]["questions"] == 2
    assert report["naive"]["passages"] > 1000 and report["kqa_naive"]["answered"] == 2
