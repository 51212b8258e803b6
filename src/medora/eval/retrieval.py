"""`medora eval retrieval`: run methods over BEIR datasets and score them with trec_eval measures.

For each dataset a library is built from its corpus once and cached by the corpus' content
hash. Every method answers every judged query (depth 100); metrics come from pytrec_eval
(trec_eval's definitions: graded nDCG@10, Recall@10/@100, MRR@10), per query and overall,
with query latency. Run files are written in TREC format for any other tool to re-score.
With a PostgreSQL server, every Medora method also runs on a PostgreSQL copy of the same
library (``eval/pg_copy.py``), reported as rows of their own (``backend``).

Means are over the queries with at least one relevant (grade > 0) judged passage: for a query
whose judged passages are all grade 0, every ranking scores 0, so it measures nothing (3 of the
51 LiveQA dev questions). Such queries are still run, listed per query, and counted as
``unscorable``.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from medora.errors import LibraryError, UsageError
from medora.eval.beir import BeirDataset, load_dataset
from medora.eval.methods import DEPTH, Method, make_method
from medora.library.ingest import Ingestor
from medora.library.sqlite_store import SQLiteStore
from medora.library.store import LibraryStore
from medora.models import Source
from medora.sources.readers.registry import make_reader

CACHE_FORMAT = 2  # bump when chunking or passage hashing changes, so cached libraries are rebuilt
MEASURES = {"ndcg_cut_10": "nDCG@10", "recall_10": "R@10", "recall_100": "R@100", "recip_rank": "MRR@10"}


@dataclass
class MethodResult:
    method: str
    metrics: dict[str, float]
    per_query: dict[str, dict[str, float]]
    latency_ms: dict[str, float]
    queries: int  # queries in the means
    unscorable: int = 0  # judged queries with no relevant passage: run, but left out of the means
    backend: str = "sqlite"  # the library it searched: "sqlite" or "postgresql" (peers run on SQLite's rows)

    def as_dict(self, per_query: bool = False) -> dict:
        out = {"method": self.method, "backend": self.backend, "queries": self.queries, "unscorable": self.unscorable,
               "metrics": self.metrics, "latency_ms": self.latency_ms}
        if per_query:
            out["per_query"] = self.per_query
        return out


@dataclass
class DatasetResult:
    dataset: str
    corpus_hash: str
    library: str
    pg_server: str | None = None  # --postgres, redacted
    pg_library: str | None = None  # the PostgreSQL copy's URL, redacted
    methods: list[MethodResult] = field(default_factory=list)


def library_for(dataset: BeirDataset, cache_dir: Path, progress: Callable[[str], None] = print) -> Path:
    """The cached library for this corpus (built now if absent): eval/<name>-<hash>.db under the cache dir."""
    digest = dataset.corpus_hash()[:16]
    path = Path(cache_dir) / "eval" / f"{dataset.name}-{digest}-v{CACHE_FORMAT}.db"
    with SQLiteStore(path) as store:
        source = Source(name=f"beir:{dataset.name}", version=digest)
        report = Ingestor(store, source).run([(dataset.corpus, make_reader("beir"))])
    if report.rejected:
        raise UsageError(f"{dataset.corpus}: {report.rejected[0][1]}")
    if report.added or report.updated:
        progress(f"{dataset.name}: built library {path} ({report.added:,} documents, "
                 f"{report.passages_written:,} passages, {report.seconds:.1f}s)")
    return path


def scorable(qrels: dict[str, dict[str, int]]) -> list[str]:
    """The queries with at least one relevant (grade > 0) judged document: the ones a ranking can score on."""
    return [q for q, judged in qrels.items() if any(grade > 0 for grade in judged.values())]


def score_run(qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]]) -> tuple[dict, dict]:
    """(mean metrics over the scorable queries, per-query metrics of every judged query) with pytrec_eval.
    MRR is computed on the top 10."""
    try:
        import pytrec_eval
    except ImportError:
        raise UsageError("evaluation needs `pip install pytrec-eval-terrier` (imports as pytrec_eval)") from None
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.10,100"})
    per_query = evaluator.evaluate(run)
    top10 = {q: dict(sorted(docs.items(), key=lambda kv: -kv[1])[:10]) for q, docs in run.items()}
    rr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(top10)
    for q in qrels:
        per_query.setdefault(q, {"ndcg_cut_10": 0.0, "recall_10": 0.0, "recall_100": 0.0})
        per_query[q]["recip_rank"] = rr.get(q, {}).get("recip_rank", 0.0)
    counted = scorable(qrels)
    if not counted:
        raise UsageError("no query has a relevant (grade > 0) judged document: nothing to score")
    means = {MEASURES[m]: round(statistics.fmean(per_query[q][m] for q in counted), 4) for m in MEASURES}
    return means, per_query


def write_run(path: Path, run: dict[str, dict[str, float]], tag: str) -> None:
    """A TREC run file: ``qid Q0 docid rank score tag``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for qid, docs in run.items():
            for rank, (doc, score) in enumerate(sorted(docs.items(), key=lambda kv: -kv[1]), 1):
                fh.write(f"{qid} Q0 {doc} {rank} {score:.6f} {tag}\n")


def run_method(method: Method, dataset: BeirDataset, backend: str = "sqlite") -> tuple[MethodResult, dict]:
    """Score ``method`` on every judged query: (its result, its run)."""
    run: dict[str, dict[str, float]] = {}
    latencies = []
    for qid, text in dataset.queries.items():
        started = time.perf_counter()
        ranked = method.search(text, DEPTH)
        latencies.append((time.perf_counter() - started) * 1000)
        # pytrec_eval breaks score ties by doc id; strictly decreasing scores keep our order
        run[qid] = {doc: float(DEPTH - i) for i, (doc, _) in enumerate(ranked)}
    means, per_query = score_run(dataset.qrels, run)
    latencies.sort()
    lat = {"p50": round(statistics.median(latencies), 2),
           "p95": round(latencies[int(0.95 * (len(latencies) - 1))], 2)}
    counted = len(scorable(dataset.qrels))
    return MethodResult(method.name, means, per_query, lat, counted, len(dataset.qrels) - counted, backend), run


def evaluate(dataset_dir: Path, methods: list[str], cache_dir: Path, out_dir: Path | None = None,
             progress: Callable[[str], None] = print, embedder: str | None = None,
             postgres: str | None = None) -> DatasetResult:
    """Run ``methods`` on the dataset's cached SQLite library and, with a ``postgres`` server URL, on its
    PostgreSQL copy too (every method but the bm25s peer; vectors are made on SQLite first, then copied)."""
    copier = _pg_copier(postgres, progress) if postgres else None
    dataset = load_dataset(dataset_dir)
    if not dataset.queries:
        raise UsageError(f"{dataset_dir}: no judged queries")
    lib = library_for(dataset, cache_dir, progress)
    result = DatasetResult(dataset.name, dataset.corpus_hash(), str(lib))
    with SQLiteStore(lib, create=False) as store:
        _run_all(store, "sqlite", methods, dataset, result, out_dir, progress, embedder)
    pg_methods = [m for m in methods if m != "bm25s"]
    if copier and pg_methods:
        from medora.library.pg_store import PgStore, redact

        url = copier(lib, dataset)
        result.pg_server, result.pg_library = redact(postgres), redact(url)
        with PgStore(url, create=False) as pg:
            _run_all(pg, "postgresql", pg_methods, dataset, result, out_dir, progress, embedder)
    return result


def _run_all(store: LibraryStore, backend: str, methods: list[str], dataset: BeirDataset, result: DatasetResult,
             out_dir: Path | None, progress: Callable[[str], None], embedder: str | None) -> None:
    for name in methods:
        method = make_method(name, store, dataset, embedder=embedder, progress=progress)
        scored, run = run_method(method, dataset, backend)
        result.methods.append(scored)
        if out_dir:
            folder = Path(out_dir) / dataset.name / ("" if backend == "sqlite" else backend)
            write_run(folder / f"{name}.trec", run, f"medora-{name}")
        where = "" if backend == "sqlite" else f" [{backend}]"
        progress(f"{dataset.name} {name}{where}: " + ", ".join(f"{k} {v:.3f}" for k, v in scored.metrics.items())
                 + f"  (p50 {scored.latency_ms['p50']} ms)")


def _pg_copier(server_url: str, progress: Callable[[str], None]) -> Callable[[Path, BeirDataset], str]:
    """(library, dataset) -> URL of its PostgreSQL copy on ``server_url``, once the server is known to answer."""
    try:
        from medora.eval.pg_copy import check_server, database_name, pg_copy
    except ImportError:
        raise LibraryError("--postgres needs `pip install 'psycopg[binary]'`") from None
    check_server(server_url)
    return lambda lib, dataset: pg_copy(lib, database_name(dataset.name, dataset.corpus_hash(), CACHE_FORMAT),
                                        server_url, progress)
