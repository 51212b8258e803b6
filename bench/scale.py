"""Scale benchmark: ingestion, index, disk, memory and retrieval/ask latency at 20k, 200k and 1M passages.

Corpora at these sizes are synthesised from a real library (``--base``, built from the shared
sources with ``medora library add --all`` when missing): every synthetic passage is made of
whole sentences drawn from 1-3 real passages of the same section type (the first one sets the
length, so the length distribution stays real); documents hold 4 such sections under a title
joined from the sources' real titles, and keep the first source's document type, year and
grade. Everything is seeded, so a size is the same corpus on every run (and a prefix of the
next size). Documents go in through the real ``Ingestor`` (chunking, hashing, batched writes).

Vectors: embedding 1M passages with the real model would take ~9 h on 2 cores, so the real
model embeds only the base library (``embed_library``) and a timed sample (``--embed-sample``,
one worker thread: the per-worker rate); a synthetic passage's vector is the normalised,
word-weighted sum of its source passages' real vectors, stored with ``put_embeddings``. On
PostgreSQL the HNSW index is then built once over all vectors (``ensure_vector_index``, timed
apart as "index s"), as ``medora library embed`` does after a bulk load.

Each (backend, size) is built in one fresh subprocess and queried in another, so peak RSS is
that of the querying process alone. Questions: all 51 LiveQA questions and 49 evenly spaced
MedQuAD ones (100), after a warm-up, through ``Retriever`` (lexical, dense, hybrid; k=20) and
``answer_question`` (default settings: hybrid when vectors exist).

    nice -n 10 .venv/bin/python bench/scale.py [--sizes 20000 200000 1000000] [--backends sqlite pg]

``--keep`` keeps the libraries (PostgreSQL: the server's data folder under /tmp/medora-scale/pg);
``--reuse JSON`` queries them again with the build figures of the run that kept them, e.g. a
build under ``nice -n 15`` queried later at normal priority.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from common import (
    SHARED_DATA,
    PgServer,
    check_run,
    command_line,
    machine_info,
    markdown_table,
    percentile,
    report_header,
    run_cli,
    write_json,
)

from medora.library.chunking import MAX_WORDS, embedding_input
from medora.library.ingest import Ingestor
from medora.library.open import is_pg_url, open_store
from medora.library.store import LibraryStore
from medora.models import Source
from medora.retrieve.embeddings import get_embedder
from medora.settings import load_settings
from medora.sources.readers.base import ParsedDocument, ParsedSection

WORK = Path("/tmp/medora-scale")
SEED = 20261127
SECTIONS_PER_DOC = 4  # the real library averages 4.2 passages per document
PUT_BATCH = 5000
MODES = ("lexical", "dense", "hybrid")
GOAL_P95_S, GOAL_RSS_GB = 1.0, 4.0


# ----------------------------------------------------------------------------- the real pool


@dataclass
class Pool:
    """The base library's embedded passages: sentences, section type, document facts and vectors."""

    sentences: list[list[str]]
    words: list[list[int]]
    section_type: list[str]
    section_path: list[list[str]]
    doc: list[dict[str, Any]]
    vectors: np.ndarray  # float32, one unit row per passage
    by_type: dict[str, list[int]]


def load_pool(store: LibraryStore, model_id: str, dim: int) -> Pool:
    ids, blobs = [], []
    for pid, blob in store.embedding_rows(model_id):
        ids.append(pid)
        blobs.append(blob)
    vectors = np.frombuffer(b"".join(blobs), dtype=np.float16).reshape(len(ids), dim).astype(np.float32)
    passages = {}
    for start in range(0, len(ids), 2000):
        passages.update(store.passages(ids[start:start + 2000]))
    docs = store.documents(sorted({p.document_id for p in passages.values()}))
    pool = Pool([], [], [], [], [], vectors, defaultdict(list))
    for i, pid in enumerate(ids):
        p = passages[pid]
        sents = [p.text[a:b] for a, b in p.sentences if 0 < len(p.text[a:b].split()) <= MAX_WORDS]
        d = docs[p.document_id]
        pool.sentences.append(sents)
        pool.words.append([len(s.split()) for s in sents])
        pool.section_type.append(p.section_type or "other")
        pool.section_path.append(list(p.section_path))
        pool.doc.append({"title": d.title, "doc_type": d.doc_type, "year": d.year, "grade": d.grade,
                         "publisher": d.publisher})
        if sents:
            pool.by_type[pool.section_type[-1]].append(i)
    return pool


# ----------------------------------------------------------------------------- synthesis


class Synthesiser:
    """Deterministic synthetic documents; remembers each passage's content hash and vector recipe."""

    name = "synthetic"

    def __init__(self, pool: Pool, passages: int, seed: int = SEED):
        self.pool, self.target, self.rng = pool, passages, random.Random(seed)
        self.usable = [i for ids in pool.by_type.values() for i in ids]
        self.hashes: list[str] = []
        self.recipes: list[list[tuple[int, int]]] = []  # (pool index, words taken) per synthetic passage
        self.seconds = 0.0  # time spent synthesising (subtracted from the ingest rate)

    def sniff(self, path: Path, head: bytes) -> bool:
        return False

    def read(self, path: Path) -> Iterator[ParsedDocument]:
        made, n = 0, 0
        while made < self.target:
            t = time.perf_counter()
            doc = self._document(n, min(SECTIONS_PER_DOC, self.target - made))
            self.seconds += time.perf_counter() - t
            made += len(doc.sections)
            n += 1
            yield doc

    def _document(self, n: int, sections: int) -> ParsedDocument:
        rng, pool = self.rng, self.pool
        parts = [self._passage() for _ in range(sections)]
        first = pool.doc[parts[0][1][0][0]]
        titles = list(dict.fromkeys(pool.doc[i]["title"] for _, recipe in parts for i, _ in recipe))
        title = " / ".join(titles[:2]) if rng.random() < 0.5 else titles[0]
        doc = ParsedDocument(
            external_id=f"synthetic-{n}", title=title,
            sections=[ParsedSection(list(pool.section_path[recipe[0][0]]), text, pool.section_type[recipe[0][0]])
                      for text, recipe in parts],
            publisher=first["publisher"], year=first["year"], doc_type=first["doc_type"], grade=first["grade"],
        )
        for section, (_, recipe) in zip(doc.sections, parts):
            digest = hashlib.sha256(embedding_input(title, section.path, section.text).encode("utf-8")).hexdigest()
            self.hashes.append(digest)
            self.recipes.append(recipe)
        return doc

    def _passage(self) -> tuple[str, list[tuple[int, int]]]:
        """Sentences taken in turn from 1-3 same-type passages until the first one's length."""
        rng, pool = self.rng, self.pool
        lead = rng.choice(self.usable)
        same = pool.by_type[pool.section_type[lead]]
        sources = [lead] + [rng.choice(same) for _ in range(rng.randint(0, 2))]
        budget = min(sum(pool.words[lead]), MAX_WORDS)
        cursors = [rng.randrange(len(pool.sentences[s])) for s in sources]
        taken: list[str] = []
        recipe: Counter = Counter()
        used = 0
        for step in range(sum(len(pool.sentences[s]) for s in sources)):
            k = step % len(sources)
            s = sources[k]
            if not pool.sentences[s]:
                continue
            j = cursors[k] % len(pool.sentences[s])
            cursors[k] += 1
            n = pool.words[s][j]
            if used + n > budget and taken:
                break
            if used + n <= MAX_WORDS:
                taken.append(pool.sentences[s][j])
                recipe[s] += n
                used += n
        return " ".join(taken), list(recipe.items())

    def vectors(self, start: int, stop: int) -> np.ndarray:
        """Float16 vectors of synthetic passages start..stop: normalised word-weighted sums of real ones."""
        out = np.zeros((stop - start, self.pool.vectors.shape[1]), dtype=np.float32)
        for row, recipe in enumerate(self.recipes[start:stop]):
            for i, weight in recipe:
                out[row] += weight * self.pool.vectors[i]
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out.astype(np.float16)


# ----------------------------------------------------------------------------- build (child process)


def disk_bytes(location: str, store: LibraryStore) -> int:
    if is_pg_url(location):
        return int(store.stats()["size_bytes"])
    return sum(Path(location + s).stat().st_size for s in ("", "-wal") if Path(location + s).exists())


def build(location: str, base: str, size: int) -> dict[str, Any]:
    """Synthesise, ingest and store vectors for one library; return the measurements."""
    embedder = get_embedder(load_settings(library=base).embedder)
    t = time.perf_counter()
    with open_store(base, create=False) as base_store:
        pool = load_pool(base_store, embedder.model_id, embedder.dim)
    pool_s = time.perf_counter() - t
    synth = Synthesiser(pool, size)
    with open_store(location, create=True) as store:
        t = time.perf_counter()
        report = Ingestor(store, Source(name="synthetic", publisher="bench/scale.py")).run([(WORK, synth)])
        ingest_s = time.perf_counter() - t
        if report.rejected or report.passages_written != size:
            raise SystemExit(f"ingestion wrote {report.passages_written} of {size} passages: {report.rejected[:3]}")
        t = time.perf_counter()
        for start in range(0, size, PUT_BATCH):
            stop = min(start + PUT_BATCH, size)
            vectors = synth.vectors(start, stop)
            store.put_embeddings(embedder.model_id, embedder.dim,
                                 [(h, v.tobytes()) for h, v in zip(synth.hashes[start:stop], vectors)])
        vectors_s = time.perf_counter() - t
        t = time.perf_counter()
        if hasattr(store, "ensure_vector_index"):
            store.ensure_vector_index(embedder.model_id, embedder.dim)
        index_s = time.perf_counter() - t
        covered, total = store.embedding_coverage(embedder.model_id)
        if covered != total or total != size:
            raise SystemExit(f"only {covered} of {total} passages got a vector (expected {size})")
        return {
            "passages": size, "documents": report.added, "pool_passages": len(pool.sentences),
            "pool_load_s": pool_s, "ingest_s": ingest_s, "synthesis_s": synth.seconds,
            "ingest_passages_per_s": size / (ingest_s - synth.seconds),
            "vectors_s": vectors_s, "index_s": index_s, "disk_bytes": disk_bytes(location, store),
            "load_avg": list(os.getloadavg()),
        }


# ----------------------------------------------------------------------------- query (child process)


def select_questions(eval_dir: Path, count: int) -> list[str]:
    """Evenly spaced LiveQA (51%, all 51 at 100) and MedQuAD questions, ``count`` in all, in file order."""
    def read(name: str) -> list[str]:
        lines = (eval_dir / name / "queries.jsonl").read_text(encoding="utf-8").splitlines()
        return [json.loads(line)["text"] for line in lines if line.strip()]

    def spaced(rows: list[str], n: int) -> list[str]:
        return [rows[i * len(rows) // n] for i in range(n)]

    live, medquad = read("liveqa-med-dev"), read("medquad-qa-1k")
    n_live = min(len(live), round(count * 0.51))
    return spaced(live, n_live) + spaced(medquad, count - n_live)


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _timed(questions: list[str], ask: Callable[[str], object]) -> dict[str, float]:
    """Wall and CPU (this process) p50/p95/max in ms of ``ask`` over the questions."""
    walls, cpus = [], []
    for q in questions:
        wall, cpu = time.perf_counter(), time.process_time()
        ask(q)
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    return {"p50_ms": percentile(walls, 50), "p95_ms": percentile(walls, 95), "max_ms": max(walls),
            "cpu_p50_ms": percentile(cpus, 50), "cpu_p95_ms": percentile(cpus, 95)}


def server_pss_mib(data_dir: Path) -> float:
    """Proportional set size (shared memory split fairly) of a PostgreSQL postmaster and its children."""
    pid = int((data_dir / "postmaster.pid").read_text().split()[0])
    pids, total = {pid}, 0.0
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                pids.add(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue
    for p in pids:
        try:
            lines = Path(f"/proc/{p}/smaps_rollup").read_text().splitlines()
        except OSError:
            continue
        total += sum(int(line.split()[1]) / 1024 for line in lines if line.startswith("Pss:"))
    return total


def query(location: str, questions: list[str], pg_data: Path | None = None) -> dict[str, Any]:
    """Latency of retrieval by mode and of ``answer_question``; RSS of this process (and of the PG server)."""
    from medora.answer.compose import answer_question
    from medora.retrieve.search import Retriever

    settings = load_settings(library=location)
    result: dict[str, Any] = {"rss_start_mib": rss_mib()}
    with open_store(location, create=False) as store:
        retrievers = {m: Retriever(store, mode=m, embedder_spec=settings.embedder) for m in MODES}
        t = time.perf_counter()
        retrievers["dense"].embedder()
        result["model_load_s"] = time.perf_counter() - t
        t = time.perf_counter()
        if not hasattr(store, "dense_search"):
            retrievers["dense"].index()  # the exact index: every vector into one matrix
        result["dense_index_load_s"] = time.perf_counter() - t
        result["rss_after_index_mib"] = rss_mib()
        for mode, retriever in retrievers.items():
            retriever.search(questions[0])  # warm-up
            used: Counter = Counter()
            result[mode] = _timed(questions, lambda q, r=retriever, u=used: u.update([r.search(q).mode]))
            result[mode]["modes"] = dict(used)
        answer_question(store, questions[0], settings)
        status: Counter = Counter()
        result["ask"] = _timed(questions, lambda q: status.update([answer_question(store, q, settings).status]))
        result["ask"].update({"status": dict(status), "retrieval": settings.retrieval})
        if pg_data is not None:  # measured while this process's backend still runs
            result["server_pss_mib"] = server_pss_mib(pg_data)
    result["rss_end_mib"] = rss_mib()
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["load_avg"] = list(os.getloadavg())
    return result


# ----------------------------------------------------------------------------- parent


def ensure_base(base: Path, sources: Path) -> dict[str, Any]:
    """The real library the corpora are drawn from, built and embedded when missing."""
    facts: dict[str, Any] = {}
    if not base.exists():
        run = run_cli(["library", "add", "--all", "--from", sources, "--library", base, "--format", "json", "-q"])
        check_run(run, "building the base library", ok=(0, 3))
        facts["built_s"] = run.wall_s
    from medora.retrieve.dense import embed_library

    embedder = get_embedder(load_settings(library=base).embedder)
    with open_store(str(base), create=False) as store:
        rep = embed_library(store, embedder)
        done, total = store.embedding_coverage(embedder.model_id)
        facts.update({"model_id": embedder.model_id, "embedded_now": rep.embedded, "embed_now_s": rep.seconds,
                      "vectors": done, "passages": total})
    return facts


def embedding_rate(base: Path, sample: int) -> dict[str, Any]:
    """Passages/s of the real model with one worker thread on a fixed sample of base passages."""
    embedder = get_embedder(load_settings(library=base).embedder)
    with open_store(str(base), create=False) as store:
        pid_list = [pid for pid, _ in store.embedding_rows(embedder.model_id)]
        chosen = sorted(random.Random(SEED).sample(pid_list, min(sample, len(pid_list))))
        passages = {}
        for start in range(0, len(chosen), 2000):
            passages.update(store.passages(chosen[start:start + 2000]))
        docs = store.documents(sorted({p.document_id for p in passages.values()}))
        texts = [embedding_input(docs[p.document_id].title, p.section_path, p.text) for p in passages.values()]
    workers = getattr(embedder, "workers", None)
    if workers is not None:
        embedder.workers = 1
    t = time.perf_counter()
    for start in range(0, len(texts), 64):
        embedder.embed_passages(texts[start:start + 64])
    seconds = time.perf_counter() - t
    if workers is not None:
        embedder.workers = workers
    return {"passages": len(texts), "seconds": seconds, "per_worker_per_s": len(texts) / seconds,
            "mean_words": sum(len(t.split()) for t in texts) / len(texts), "load_avg": list(os.getloadavg())}


def child(args: list[str]) -> dict[str, Any]:
    """Run this script's ``_build``/``_query`` step in a fresh process; its JSON line is the result."""
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{args[0]} {args[1:]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def one_size(backend: str, size: int, base: Path, eval_dir: Path, questions: int, pg: PgServer | None,
             keep: bool, reuse: dict[str, Any] | None = None) -> dict[str, Any]:
    name = f"scale_{size}"
    if reuse:  # query a library kept (--keep) by an earlier run, with that run's build figures
        location, built = (pg.url(name) if pg else str(WORK / f"{name}.db")), reuse
    else:
        location = pg.database(name) if pg else str(WORK / f"{name}.db")
        if not pg:
            for suffix in ("", "-wal", "-shm"):
                Path(location + suffix).unlink(missing_ok=True)
        built = child(["_build", location, str(base), str(size)])
    print(f"  {backend} {size:,}: built in {built['ingest_s'] + built['vectors_s']:.0f} s", flush=True)
    asked = child(["_query", location, str(eval_dir), *([str(pg.folder / "data")] if pg else []),
                   "--questions", str(questions)])
    asked["questions"] = questions
    print(f"  {backend} {size:,}: hybrid p95 {asked['hybrid']['p95_ms']:.0f} ms, "
          f"peak RSS {asked['peak_rss_mib']:.0f} MiB", flush=True)
    if not keep:
        if pg:
            pg.drop(name)
        else:
            for suffix in ("", "-wal", "-shm"):
                Path(location + suffix).unlink(missing_ok=True)
    return {"backend": backend, "size": size, "build": built, "query": asked}


# ----------------------------------------------------------------------------- report


def _avg(values: list[float]) -> str:
    return "/".join(f"{x:.1f}" for x in values)


def build_rows(results: list[dict[str, Any]]) -> list[list[Any]]:
    rows = []
    for r in results:
        b, q = r["build"], r["query"]
        if r["backend"] == "sqlite":
            index = f"{q['dense_index_load_s']:.1f} (matrix load)"
        else:
            index = f"{b['index_s']:.0f} (HNSW build)" if "index_s" in b else f"{b['vectors_s']:.0f} (HNSW, in vectors s)"
        rows.append([r["backend"], f"{r['size']:,}", f"{b['documents']:,}", f"{b['ingest_s'] - b['synthesis_s']:.0f}",
                     f"{b['ingest_passages_per_s']:,.0f}", f"{b['vectors_s']:.0f}", index,
                     f"{b['disk_bytes'] / 1e9:.2f}", _avg(b["load_avg"])])
    return rows


def _ms(stats: dict[str, float], cpu: bool) -> str:
    shown = f"{stats['p50_ms']:.0f} / {stats['p95_ms']:.0f}"
    return shown + (f" ({stats['cpu_p95_ms']:.0f})" if cpu and "cpu_p95_ms" in stats else "")


def query_rows(results: list[dict[str, Any]]) -> list[list[Any]]:
    rows = []
    for r in results:
        q = r["query"]
        rss = q["peak_rss_mib"] + q.get("server_pss_mib", 0.0)
        met = q["hybrid"]["p95_ms"] < GOAL_P95_S * 1000 and rss < GOAL_RSS_GB * 1024
        rows.append([r["backend"], f"{r['size']:,}", q.get("questions", 100), f"{q['peak_rss_mib']:,.0f}",
                     f"{q['server_pss_mib']:,.0f}" if "server_pss_mib" in q else "–",
                     *(_ms(q[m], r["backend"] == "sqlite") for m in (*MODES, "ask")),
                     "met" if met else "NOT met", _avg(q["load_avg"])])
    return rows


def report(data: dict[str, Any]) -> str:
    rate, base = data["embedding_rate"], data["base"]
    pg = data.get("pg_settings")
    return "\n".join([
        report_header("Scale: 20k / 200k / 1M passages (`bench/scale.py`)", data["machine"], data["command"]),
        (f"Synthetic corpora recombined from the real library ({base['passages']:,} passages, "
         f"{base['vectors']:,} with real `{base['model_id']}` vectors). **Synthetic passages' vectors are NOT model "
         "output**: each is the normalised word-weighted sum of its source passages' real vectors. Real-model "
         f"embedding rate, one worker thread, {rate['passages']:,} real passages (mean {rate['mean_words']:.0f} "
         f"words): **{rate['per_worker_per_s']:.1f} passages/s per worker** (load avg {_avg(rate['load_avg'])}); "
         f"1M passages would take {1e6 / rate['per_worker_per_s'] / 3600:.1f} worker-hours."),
        "",
        ("Build: ingest = `Ingestor.run` (synthesis time excluded; FTS5 / tsvector indexed as passages are "
         "written); vectors = `put_embeddings` of every vector in batches of 5,000; PG index = one HNSW build "
         "over all of them (`ensure_vector_index`); SQLite's dense index is the exact float32 "
         "matrix, loaded by the querying process. Disk: SQLite file + WAL; PG `pg_database_size`."),
        "",
        markdown_table(["backend", "passages", "documents", "ingest s", "ingest passages/s", "vectors s", "index s",
                        "disk GB", "load avg at end"], build_rows(data["results"])),
        "",
        ("Queries: `questions` evenly spaced questions (51% LiveQA, the rest MedQuAD; 100 = all 51 LiveQA + 49 "
         "MedQuAD) after a warm-up, each process fresh; `Retriever.search` "
         "k=20 by mode, and `answer_question` (ask) with default settings (hybrid). Wall p50 / p95 ms, SQLite "
         "with this process's CPU p95 in brackets (the machine's other load inflates wall time). Peak RSS = "
         "`ru_maxrss` of the querying process; PG server = PSS of postmaster + backends at the end. "
         f"Goal: hybrid p95 < {GOAL_P95_S:.0f} s and RSS (client + server) < {GOAL_RSS_GB:.0f} GB."),
        "",
        markdown_table(["backend", "passages", "questions", "peak RSS MiB", "PG server MiB", "lexical ms", "dense ms",
                        "hybrid ms", "ask ms", "goal", "load avg at end"], query_rows(data["results"])),
        "",
        f"PostgreSQL settings (pgserver defaults): {pg}" if pg else "",
    ])


def kept_build(earlier: Path | None, backend: str, size: int) -> dict[str, Any] | None:
    """The build figures of a library an earlier run kept (PostgreSQL: in the kept server folder)."""
    if earlier is None or (backend == "sqlite" and not (WORK / f"scale_{size}.db").exists()):
        return None
    runs = json.loads(earlier.read_text(encoding="utf-8"))["results"]
    return next((r["build"] for r in runs if r["backend"] == backend and r["size"] == size), None)


def merged(paths: list[Path]) -> dict[str, Any]:
    """Several runs' JSON as one report: the first file's header facts, every file's results."""
    runs = [json.loads(p.read_text(encoding="utf-8")) for p in paths]
    data = {**runs[0], "results": [r for run in runs for r in run["results"]]}
    data["pg_settings"] = next((run["pg_settings"] for run in runs if run.get("pg_settings")), None)
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000, 1_000_000])
    parser.add_argument("--backends", nargs="+", choices=("sqlite", "pg"), default=["sqlite", "pg"])
    parser.add_argument("--base", type=Path, default=WORK / "base.db",
                        help="real embedded library to recombine (built from --sources when missing)")
    parser.add_argument("--sources", type=Path, default=SHARED_DATA / "sources")
    parser.add_argument("--eval", type=Path, default=SHARED_DATA / "eval")
    parser.add_argument("--embed-sample", type=int, default=2000, help="real passages timed for the embedding rate")
    parser.add_argument("--questions", type=int, default=100, help="questions per latency measurement (2-100)")
    parser.add_argument("--keep", action="store_true", help="keep the scale libraries (else deleted after each size)")
    parser.add_argument("--reuse", type=Path,
                        help="JSON of an earlier --keep run: query its libraries again instead of rebuilding")
    parser.add_argument("--report", type=Path, nargs="+", help="only print the report of earlier runs' JSON files")
    args = parser.parse_args()
    if args.report:
        print(report(merged(args.report)))
        return
    if any(n < SECTIONS_PER_DOC for n in args.sizes):
        raise SystemExit(f"sizes must be at least {SECTIONS_PER_DOC} passages")
    if not 2 <= args.questions <= 100:
        raise SystemExit("--questions must be between 2 and 100")
    WORK.mkdir(parents=True, exist_ok=True)
    info, command = machine_info(), command_line()
    base = args.base.resolve()
    data: dict[str, Any] = {"machine": info, "command": command, "base": ensure_base(base, args.sources.resolve())}
    data["embedding_rate"] = embedding_rate(base, args.embed_sample)
    print(f"embedding: {data['embedding_rate']['per_worker_per_s']:.1f} passages/s per worker", flush=True)
    data["results"] = []
    name = "scale-" + "-".join(args.backends)
    for backend in args.backends:
        pg = PgServer(WORK, fresh=args.reuse is None, keep=args.keep or args.reuse is not None) \
            if backend == "pg" else None
        try:
            if pg:
                data["pg_settings"] = pg.settings()
            for size in args.sizes:
                data["results"].append(one_size(backend, size, base, args.eval.resolve(), args.questions, pg,
                                                args.keep, kept_build(args.reuse, backend, size)))
                write_json(name, data)
        finally:
            if pg:
                pg.stop()
    path = write_json(name, data)
    print()
    print(report(data))
    print(f"raw results: {path.relative_to(path.parents[2])}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_build":
        print(json.dumps(build(sys.argv[2], sys.argv[3], int(sys.argv[4]))))
    elif len(sys.argv) > 1 and sys.argv[1] == "_query":
        step = argparse.ArgumentParser()
        step.add_argument("location")
        step.add_argument("eval", type=Path)
        step.add_argument("pg_data", type=Path, nargs="?")
        step.add_argument("--questions", type=int, default=100)
        a = step.parse_args(sys.argv[2:])
        print(json.dumps(query(a.location, select_questions(a.eval, a.questions), a.pg_data)))
    else:
        main()
