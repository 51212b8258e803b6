"""How hybrid retrieval fuses its two lists: the grid behind ``retrieve/search.py``'s choice.

For every query of each dev set (the cached ``medora eval retrieval`` libraries, which must already
hold MiniLM vectors: run ``medora eval retrieval DATASET --methods hybrid:minilm`` once), the BM25
list (the question's rarest words, policy-ranked as ``Retriever`` does) and the dense list (with
and without pseudo-relevance feedback, raw and policy-ranked) are computed once at depth 300; each
fusion is then scored with pytrec_eval (nDCG@10, R@100) over the queries with a relevant passage.
Reciprocal rank fusion is implemented here only as the comparison it lost.

    .venv/bin/python bench/fusion.py [--datasets liveqa-med-dev pubmedqa-1k medquad-qa-1k] [--queries N]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from common import SHARED_DATA, command_line, machine_info, markdown_table, report_header, write_json

from medora.eval.beir import load_dataset
from medora.eval.retrieval import library_for, score_run
from medora.library.sqlite_store import SQLiteStore
from medora.retrieve.lexical import hydrate
from medora.retrieve.normalize import DEFAULT_STEPS, normalize_question
from medora.retrieve.query import content_terms, fts_match
from medora.retrieve.rank import rerank
from medora.retrieve.search import MATCH_TERMS, Retriever, combine
from medora.retrieve.terms import TermWeights
from medora.retrieve.understand import classify
from medora.settings import default_cache_dir

DEPTH = 300  # passages per list, as `medora eval retrieval` asks for (3 x 100 documents)
Ranked = list[tuple[int, float]]


def rrf(*lists: Ranked, weights: tuple[float, ...], k: int = 60) -> Ranked:
    """Weighted reciprocal rank fusion (the previous default): sum of weight / (k + rank)."""
    fused: dict[int, float] = {}
    for weight, ranked in zip(weights, lists, strict=True):
        for rank, (pid, _) in enumerate(ranked, 1):
            fused[pid] = fused.get(pid, 0.0) + weight / (k + rank)
    return sorted(fused.items(), key=lambda kv: -kv[1])


FUSIONS = {  # name -> (fuse, lexical weight, dense list policy-ranked?)
    "RRF, policy on BM25 only (previous default)": (rrf, 0.3, False),
    "RRF, policy on both lists": (rrf, 0.3, True),
    "score sum, policy on BM25 only": (combine, 0.5, False),
    "score sum, policy on both, BM25 weight 0.3": (combine, 0.3, True),
    "score sum, policy on both, BM25 weight 0.5 (default)": (combine, 0.5, True),
    "score sum, policy on both, BM25 weight 0.7": (combine, 0.7, True),
    "score sum, policy on both, BM25 weight 1.0": (combine, 1.0, True),
}


def lists_for(retriever: Retriever, question: str) -> dict[str, Ranked]:
    """BM25 (policy-ranked) and dense lists, raw and policy-ranked, without and with feedback."""
    store = retriever.store
    question = normalize_question(question, retriever.speller, DEFAULT_STEPS).text
    kind, weights = classify(question), TermWeights.build(store, content_terms(question))
    focus = set(weights.weights)

    def policy(ranked: Ranked, name: str) -> Ranked:
        return [(h.passage.id, h.scores["rerank"]) for h in rerank(hydrate(store, ranked, name), kind, focus)]

    out = {"bm25": policy(store.lexical_search(fts_match(weights.rarest(MATCH_TERMS)), DEPTH), "bm25")}
    vector = retriever.embedder().embed_query(question)
    for feedback in (0, 5):
        dense = retriever.index().search(vector, DEPTH, feedback=feedback)
        out[f"dense{feedback}"], out[f"dense{feedback}+policy"] = dense, policy(dense, "dense")
    return out


def documents(store: SQLiteStore, ranked: Ranked, owner: dict[int, str]) -> dict[str, float]:
    """First appearance of each document, top 100, as a pytrec_eval run (strictly decreasing scores)."""
    out: dict[str, float] = {}
    for pid, _ in ranked:
        doc = owner[pid]
        if doc not in out:
            out[doc] = 1000.0 - len(out)
            if len(out) == 100:
                break
    return out


def run_dataset(name: str, limit: int | None) -> list[dict]:
    dataset = load_dataset(SHARED_DATA / "eval" / name)
    store = SQLiteStore(library_for(dataset, default_cache_dir(), progress=print), create=False)
    retriever = Retriever(store, mode="hybrid", embedder_spec="minilm")
    done, total = store.embedding_coverage(retriever.embedder().model_id)
    if done < total:
        raise SystemExit(f"{name}: {total - done} passages lack MiniLM vectors; run "
                         f"`medora eval retrieval {SHARED_DATA / 'eval' / name} --methods hybrid:minilm` first")
    passages = store.passages(retriever.index().ids.tolist())
    docs = store.documents(list({p.document_id for p in passages.values()}))
    owner = {pid: docs[p.document_id].external_id for pid, p in passages.items()}
    queries = list(dataset.queries.items())[:limit]
    started = time.perf_counter()
    per_query = {qid: lists_for(retriever, text) for qid, text in queries}
    print(f"{name}: lists for {len(queries)} queries in {time.perf_counter() - started:.0f}s")
    qrels = {qid: dataset.qrels[qid] for qid, _ in queries}
    rows = []
    for feedback in (0, 5):
        for label, (fuse, weight, dense_policy) in FUSIONS.items():
            dense_key = f"dense{feedback}" + ("+policy" if dense_policy else "")
            run = {qid: documents(store, fuse(lists["bm25"], lists[dense_key], weights=(weight, 1.0)), owner)
                   for qid, lists in per_query.items()}
            means, _ = score_run(qrels, run)
            rows.append({"dataset": name, "feedback": feedback, "fusion": label,
                         "nDCG@10": means["nDCG@10"], "R@100": means["R@100"]})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["liveqa-med-dev", "pubmedqa-1k", "medquad-qa-1k"])
    parser.add_argument("--queries", type=int, default=None, help="first N queries of each set (default: all)")
    args = parser.parse_args()
    info = machine_info()
    rows = [row for name in args.datasets for row in run_dataset(name, args.queries)]
    write_json("fusion", {"machine": info, "command": command_line(), "rows": rows})
    print(report_header("Hybrid fusion grid (nDCG@10 / R@100)", info, command_line()))
    table: dict[tuple[str, int], dict[str, str]] = {}
    for row in rows:
        table.setdefault((row["fusion"], row["feedback"]), {})[row["dataset"]] = \
            f"{row['nDCG@10']:.3f} / {row['R@100']:.3f}"
    print(markdown_table(["fusion", "feedback", *args.datasets],
                         [[fusion, "5 passages" if fb else "off", *(cells.get(d, "") for d in args.datasets)]
                          for (fusion, fb), cells in table.items()]))


if __name__ == "__main__":
    main()
