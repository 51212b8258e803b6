"""`medora eval retrieval --postgres`: the same methods on a PostgreSQL copy of the cached library (real server)."""

from __future__ import annotations

import json
from urllib.parse import urlsplit, urlunsplit

import psycopg
from click.testing import CliRunner
from psycopg import sql

from medora.cli import main
from medora.eval.beir import load_dataset
from medora.eval.pg_copy import database_name, database_url
from medora.eval.retrieval import CACHE_FORMAT, evaluate

pytest_plugins = ("pg_fixtures",)


def _without_copy(server, dataset_dir) -> str:
    """The URL of the dataset's PostgreSQL copy on ``server``, dropped now so that a test starts without it."""
    name = database_name(dataset_dir.name, load_dataset(dataset_dir).corpus_hash(), CACHE_FORMAT)
    with psycopg.connect(server.get_uri(), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    return database_url(server.get_uri(), name)


def test_liveqa_on_both_backends_copy_reused_and_refreshed(tmp_path, shared_eval, pg_server):
    dataset, cache, server = shared_eval / "liveqa-med-dev", tmp_path / "cache", pg_server.get_uri()
    copy = _without_copy(pg_server, dataset)
    messages: list[str] = []
    first = evaluate(dataset, ["bm25"], cache, progress=messages.append, postgres=server)
    assert sum("copied" in m for m in messages) == 1 and "0 vectors" in next(m for m in messages if "copied" in m)
    assert [(m.method, m.backend) for m in first.methods] == [("bm25", "sqlite"), ("bm25", "postgresql")]
    assert "medora_eval_liveqa_med_dev_" in first.pg_library

    # a dense method adds vectors to the SQLite library: the stale copy is dropped and made again, with them
    messages.clear()
    result = evaluate(dataset, ["bm25", "default", "hybrid:wordllama", "bm25s"], cache, tmp_path / "runs",
                      progress=messages.append, postgres=server)
    copied = [m for m in messages if "copied" in m]
    assert len(copied) == 1 and "0 vectors" not in copied[0]
    assert messages.index(copied[0]) > max(i for i, m in enumerate(messages) if m.startswith("embedded"))
    rows = {(m.method, m.backend): m for m in result.methods}
    assert set(rows) == {(m, b) for m in ("bm25", "default", "hybrid:wordllama") for b in ("sqlite", "postgresql")} \
        | {("bm25s", "sqlite")}
    for method in ("bm25", "hybrid:wordllama"):
        sqlite, pg = rows[method, "sqlite"], rows[method, "postgresql"]
        assert (pg.queries, pg.unscorable) == (sqlite.queries, sqlite.unscorable) == (48, 3)
        assert abs(pg.metrics["nDCG@10"] - sqlite.metrics["nDCG@10"]) <= 0.05, (method, sqlite.metrics, pg.metrics)
        assert pg.metrics["nDCG@10"] > 0.4
    with psycopg.connect(copy) as conn:  # the copy is searched through its HNSW index
        assert conn.execute("SELECT COUNT(*) FROM pg_indexes WHERE indexdef ILIKE '%USING hnsw%'").fetchone()[0] == 1
    assert (tmp_path / "runs" / "liveqa-med-dev" / "postgresql" / "hybrid:wordllama.trec").is_file()

    messages.clear()
    evaluate(dataset, ["bm25"], cache, progress=messages.append, postgres=server)
    assert any("is current (reused)" in m for m in messages) and not any("copied" in m for m in messages)


def test_cli_reports_both_backends_and_redacts_the_url(tmp_path, shared_eval, pg_server, monkeypatch):
    monkeypatch.setenv("MEDORA_CACHE_DIR", str(tmp_path / "cache"))
    url = urlunsplit(urlsplit(pg_server.get_uri())._replace(netloc="postgres:secret@"))
    result = CliRunner().invoke(main, ["eval", "retrieval", str(shared_eval / "liveqa-med-dev"), "--methods", "bm25",
                                       "--postgres", url, "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert "secret" not in result.output and data["postgres"].startswith("postgresql://postgres:***@")
    assert [m["backend"] for m in data["datasets"][0]["methods"]] == ["sqlite", "postgresql"]


def test_bad_url_unreachable_server_and_no_createdb_are_one_clear_line(tmp_path, shared_eval, pg_server, monkeypatch):
    monkeypatch.setenv("MEDORA_CACHE_DIR", str(tmp_path / "cache"))
    _without_copy(pg_server, shared_eval / "liveqa-med-dev")
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as admin:
        admin.execute("CREATE ROLE medora_reader LOGIN NOCREATEDB")
    reader = urlunsplit(urlsplit(pg_server.get_uri())._replace(netloc="medora_reader@"))
    for url, says in (("mysql://localhost/x", "--postgres must be a postgresql:// URL"),
                      ("postgresql://nobody@127.0.0.1:1/x", "cannot connect to PostgreSQL server"),
                      (reader, "cannot create database medora_eval_liveqa_med_dev_")):
        result = CliRunner().invoke(main, ["eval", "retrieval", str(shared_eval / "liveqa-med-dev"), "--methods",
                                           "bm25", "--postgres", url])
        assert result.exit_code != 0 and says in result.output, result.output
        assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
