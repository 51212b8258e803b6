"""`medora eval retrieval`: metrics from pytrec_eval, cached libraries, run files, peers in the same run."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from medora.cli import main
from medora.errors import UsageError
from medora.eval.beir import load_dataset
from medora.eval.retrieval import evaluate, scorable, score_run


def test_metrics_follow_trec_eval_definitions():
    qrels = {"q1": {"a": 3, "b": 1, "c": 0}, "q2": {"x": 1}}
    run = {"q1": {"b": 3.0, "a": 2.0, "z": 1.0}, "q2": {"y": 2.0}}
    means, per_query = score_run(qrels, run)
    # trec_eval's nDCG: linear gain (the grade itself), log2(rank + 1) discount
    dcg = 1 / math.log2(2) + 3 / math.log2(3)
    idcg = 3 / math.log2(2) + 1 / math.log2(3)
    assert per_query["q1"]["ndcg_cut_10"] == pytest.approx(dcg / idcg)
    assert per_query["q1"]["recip_rank"] == 1.0  # b is relevant (grade 1) at rank 1
    assert per_query["q2"]["ndcg_cut_10"] == 0.0 and per_query["q2"]["recall_100"] == 0.0
    assert means["nDCG@10"] == pytest.approx(round((dcg / idcg) / 2, 4))


def test_queries_without_a_relevant_document_are_run_but_not_averaged():
    qrels = {"q1": {"a": 2, "b": 0}, "q2": {"x": 0, "y": 0}}  # q2: every judged passage is grade 0
    run = {"q1": {"a": 2.0, "b": 1.0}, "q2": {"x": 2.0, "y": 1.0}}
    assert scorable(qrels) == ["q1"]
    means, per_query = score_run(qrels, run)
    assert means["nDCG@10"] == 1.0 and means["R@100"] == 1.0  # q1 alone: a perfect ranking
    assert per_query["q2"]["ndcg_cut_10"] == 0.0  # still reported per query
    with pytest.raises(UsageError, match="no query has a relevant"):
        score_run({"q2": qrels["q2"]}, {"q2": run["q2"]})


def test_bad_dataset_folder_is_a_clear_error(tmp_path):
    with pytest.raises(UsageError, match="corpus.jsonl is missing"):
        load_dataset(tmp_path)


def test_liveqa_dev_with_peer_cached_library_and_run_files(tmp_path, shared_eval):
    messages: list[str] = []
    result = evaluate(shared_eval / "liveqa-med-dev", ["bm25", "default", "bm25s"], tmp_path / "cache",
                      tmp_path / "runs", progress=messages.append)
    assert any("built library" in m for m in messages)
    by_name = {m.method: m for m in result.methods}
    assert set(by_name) == {"bm25", "default", "bm25s"}
    for m in by_name.values():
        assert (m.queries, m.unscorable) == (48, 3)  # 3 questions have only grade-0 judgments
        assert 0.4 < m.metrics["nDCG@10"] < 0.8  # measured 0.54-0.59 on 2026-11-27
        assert m.metrics["R@100"] >= m.metrics["R@10"]
    # the ranking policy must not lose to plain BM25 on this set
    assert by_name["default"].metrics["nDCG@10"] >= by_name["bm25"].metrics["nDCG@10"]
    lines = (tmp_path / "runs" / "liveqa-med-dev" / "default.trec").read_text().splitlines()
    qid, q0, doc, rank, score, tag = lines[0].split()
    assert (q0, rank, tag) == ("Q0", "1", "medora-default")
    per_query = {}
    for line in lines:
        per_query[line.split()[0]] = per_query.get(line.split()[0], 0) + 1
    assert max(per_query.values()) <= 100
    # second run reuses the cached library
    messages.clear()
    evaluate(shared_eval / "liveqa-med-dev", ["bm25"], tmp_path / "cache", None, progress=messages.append)
    assert not any("built library" in m for m in messages)


def test_cli_json_output(tmp_path, shared_eval, monkeypatch):
    monkeypatch.setenv("MEDORA_CACHE_DIR", str(tmp_path / "cache"))
    result = CliRunner().invoke(main, ["eval", "retrieval", str(shared_eval / "pubmedqa-1k"), "--methods", "bm25",
                                       "--format", "json", "--per-query"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["schema"] == "medora.eval.retrieval/1"
    m = data["datasets"][0]["methods"][0]
    assert m["method"] == "bm25" and m["metrics"]["nDCG@10"] > 0.95 and len(m["per_query"]) == 1000
