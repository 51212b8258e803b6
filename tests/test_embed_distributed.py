"""Embedding jobs: a local process pool and a Ray cluster give the single-process vectors, byte for byte.

A real SQLite library (DailyMed labels and a PubMed record, ~350 passages) is embedded with
MiniLM in this process (A), by 2 worker processes (B) and by a Ray cluster of 2 CPUs that the
module starts (C). Vectors must be byte-equal, not merely close: every passage runs alone
through a single-threaded ONNX session, so which batch or process embeds it cannot change its
arithmetic, and the float16 bytes are stored as computed. Killed workers must leave finished
batches in place and the next run must embed only the rest.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import closed_port, medora_with

from medora.cli import main
from medora.errors import UsageError
from medora.library.ingest import Ingestor
from medora.library.pg_store import PgStore, vector_f16
from medora.library.sqlite_store import SQLiteStore
from medora.models import Source
from medora.retrieve.dense import embed_library
from medora.retrieve.embed_jobs import (
    EmbedJobError,
    InProcess,
    ProcessPool,
    RayBackend,
    WorkerSpec,
    make_backend,
    run_embed_job,
)
from medora.retrieve.embeddings import get_embedder
from medora.sources.fetch import resolve_files
from medora.sources.readers.registry import make_reader
from medora.sources.registry import get_source

pytest_plugins = ("pg_fixtures",)

SOURCES = ("dailymed", "pubmed")
SMALL_BATCH = 16  # many batches from few passages, so a worker can die partway


class CountingStore(SQLiteStore):
    """The real SQLite store, remembering every content hash written to it."""

    def __init__(self, path: Path):
        super().__init__(path)
        self.written: list[str] = []

    def put_embeddings(self, model_id: str, dim: int, rows: list[tuple[str, bytes]]) -> None:
        super().put_embeddings(model_id, dim, rows)
        self.written.extend(h for h, _ in rows)


def add_sources(store, shared_sources: Path, cache: Path) -> None:
    for name in SOURCES:
        known = get_source(name)
        files = resolve_files(known, sources_dir=shared_sources, cache_dir=cache)
        Ingestor(store, Source(name=name)).run([(f, make_reader(known.format)) for f in files])


def vectors(path: Path) -> dict[str, bytes]:
    """content hash → vector bytes of every embedding in the library file."""
    with closing(sqlite3.connect(path)) as db:
        return dict(db.execute("SELECT content_hash, vector FROM embeddings"))


@pytest.fixture(scope="module")
def minilm():
    return get_embedder("minilm")


@pytest.fixture(scope="module")
def base_library(shared_sources, tmp_path_factory) -> Path:
    """A closed SQLite library without vectors; tests embed copies of it."""
    tmp = tmp_path_factory.mktemp("embed-jobs")
    with SQLiteStore(tmp / "base.db", create=True) as store:
        add_sources(store, shared_sources, tmp)
        assert store.embedding_coverage("none")[1] > 300
    return tmp / "base.db"


@pytest.fixture
def library(base_library, tmp_path) -> Path:
    """A fresh copy of the base library for one test."""
    return Path(shutil.copy(base_library, tmp_path / "library.db"))


@pytest.fixture(scope="module")
def single(base_library, minilm, tmp_path_factory) -> dict[str, bytes]:
    """Vectors A: the whole library embedded in this process."""
    path = Path(shutil.copy(base_library, tmp_path_factory.mktemp("single") / "library.db"))
    with SQLiteStore(path) as store:
        assert embed_library(store, minilm).embedded == store.embedding_coverage(minilm.model_id)[1]
    return vectors(path)


def partly_embedded(library: Path, single: dict[str, bytes], model_id: str, missing: int) -> set[str]:
    """Give ``library`` the single-process vectors of all but ``missing`` passages; returns the missing hashes."""
    hashes = sorted(single)
    with closing(sqlite3.connect(library)) as db, db:
        db.executemany("INSERT INTO embeddings(model_id, content_hash, dim, vector, created_at) VALUES (?,?,?,?,?)",
                       [(model_id, h, 384, single[h], "2026-01-01") for h in hashes[missing:]])
    return set(hashes[:missing])


def test_process_pool_gives_the_single_process_vectors(library, minilm, single):
    spec = WorkerSpec("minilm", minilm.model_id, minilm.max_tokens, threads=1)
    with CountingStore(library) as store, closing(ProcessPool(spec, jobs=2)) as pool:
        report = run_embed_job(store, minilm, pool, batch_size=SMALL_BATCH)
    assert report.embedded == len(single) and sorted(store.written) == sorted(single)
    assert vectors(library) == single


def test_ray_job_gives_the_single_process_vectors(library, minilm, single, ray_cluster):
    worker = WorkerSpec("minilm", minilm.model_id, minilm.max_tokens, threads=1)
    with CountingStore(library) as store, closing(RayBackend(worker, address="local", jobs=2)) as backend:
        report = run_embed_job(store, minilm, backend, batch_size=SMALL_BATCH)
    assert report.embedded == len(single) and sorted(store.written) == sorted(single)
    assert vectors(library) == single


def test_a_killed_worker_process_keeps_finished_batches_and_the_rerun_embeds_only_the_rest(library, minilm, single):
    missing = partly_embedded(library, single, minilm.model_id, missing=8 * SMALL_BATCH)
    spec = WorkerSpec("minilm", minilm.model_id, minilm.max_tokens, threads=1)

    def kill_a_worker(done: int, todo: int, seconds: float) -> None:
        if done == SMALL_BATCH:  # after the first written batch
            os.kill(multiprocessing.active_children()[0].pid, signal.SIGKILL)

    with CountingStore(library) as store:
        with closing(ProcessPool(spec, jobs=2)) as pool, pytest.raises(EmbedJobError, match="run the same command"):
            run_embed_job(store, minilm, pool, batch_size=SMALL_BATCH, progress=kill_a_worker)
        first = list(store.written)
        assert SMALL_BATCH <= len(first) < len(missing)
        with closing(ProcessPool(spec, jobs=2)) as pool:  # the rerun
            report = run_embed_job(store, minilm, pool, batch_size=SMALL_BATCH)
    assert report.embedded == len(missing) - len(first)
    assert sorted(store.written) == sorted(missing)  # each missing passage written exactly once over both runs
    assert vectors(library) == single


def _ray_actor_pids() -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and b"RayEmbedActor" in (proc / "cmdline").read_bytes():
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds Ray's actor processes through /proc")
def test_ray_restarts_a_killed_actor_and_finishes_without_re_embedding(library, minilm, single, ray_cluster):
    missing = partly_embedded(library, single, minilm.model_id, missing=6 * SMALL_BATCH)
    worker = WorkerSpec("minilm", minilm.model_id, minilm.max_tokens, threads=1)
    killed: list[int] = []

    def kill_an_actor(done: int, todo: int, seconds: float) -> None:
        if not killed:
            killed.extend(_ray_actor_pids()[:1])
            os.kill(killed[0], signal.SIGKILL)

    with CountingStore(library) as store, closing(RayBackend(worker, address="local", jobs=2)) as backend:
        report = run_embed_job(store, minilm, backend, batch_size=SMALL_BATCH, progress=kill_an_actor)
    assert killed and report.embedded == len(missing) and sorted(store.written) == sorted(missing)
    assert vectors(library) == single


def test_process_pool_on_a_postgresql_library(pg_url, shared_sources, tmp_path, minilm, single):
    """The driver is the only writer whatever the store: PostgreSQL ends with the single-process vectors."""
    with PgStore(pg_url) as store:
        add_sources(store, shared_sources, tmp_path)
        hashes = sorted(single)
        store.put_embeddings(minilm.model_id, minilm.dim, [(h, single[h]) for h in hashes[48:]])
        spec = WorkerSpec("minilm", minilm.model_id, minilm.max_tokens, threads=1)
        with closing(ProcessPool(spec, jobs=2)) as pool:
            report = run_embed_job(store, minilm, pool, batch_size=SMALL_BATCH)
        stored = store.conn.execute("SELECT content_hash, vector_send(embedding) FROM embeddings WHERE model_id = %s",
                                    (minilm.model_id,)).fetchall()
    assert report.embedded == 48
    assert {h: vector_f16(sent) for h, sent in stored} == single


@pytest.mark.parametrize("backend", ["pool", "ray"])
def test_a_worker_with_another_model_refuses_and_nothing_is_written(library, minilm, backend, request):
    worker = WorkerSpec("minilm", "minilm:some-other-build@0", minilm.max_tokens, threads=1)
    if backend == "ray":
        request.getfixturevalue("ray_cluster")
    pool = ProcessPool(worker, jobs=2) if backend == "pool" else RayBackend(worker, address="local", jobs=1)
    with CountingStore(library) as store, closing(pool), pytest.raises(UsageError) as raised:
        run_embed_job(store, minilm, pool, batch_size=SMALL_BATCH)
    assert str(raised.value).startswith("a worker built minilm:") and "\n" not in str(raised.value)
    assert store.written == [] and vectors(library) == {}


@pytest.mark.parametrize("options", [["--jobs", "2"], ["--ray", "local", "--jobs", "2"]], ids=["jobs", "ray"])
def test_cli_embeds_only_the_missing_passages(library, minilm, single, options, request):
    if "--ray" in options:
        request.getfixturevalue("ray_cluster")  # the CLI joins the module's Ray instance instead of starting one
    missing = partly_embedded(library, single, minilm.model_id, missing=40)
    result = CliRunner().invoke(main, ["library", "embed", "--library", str(library), "--format", "json",
                                       "--model", "minilm", "--batch-size", "8", *options])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["embedded_now"] == len(missing) and data["embedded_total"] == len(single)
    assert vectors(library) == single


def test_cli_explains_an_unreachable_cluster_in_one_line(library):
    port = closed_port()
    proc = medora_with("library", "embed", "--library", str(library), "--ray", f"127.0.0.1:{port}")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"error: cannot reach a Ray cluster at 127.0.0.1:{port}" in proc.stderr


def test_cli_names_the_extra_when_ray_is_missing(library):
    proc = medora_with("library", "embed", "--library", str(library), "--ray", "local",
                   prelude="import sys; sys.modules['ray'] = None")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "pip install 'medora[cluster]'" in proc.stderr


def test_gpus_need_ray(library, minilm):
    with pytest.raises(UsageError, match="--gpus-per-worker needs --ray"):
        make_backend(minilm, "minilm", jobs=2, gpus_per_worker=1)


def test_in_process_embedding_finds_the_missing_passages_once_per_window_not_once_per_batch(library, minilm, single):
    # Finding the passages without a vector scans the library (~0.5 s at 67k passages): per 16-passage
    # batch that was a third of `make demo`'s embedding time.
    class Reads(CountingStore):
        reads = 0

        def missing_embeddings(self, model_id: str, limit: int) -> list[tuple[str, str]]:
            Reads.reads += 1
            return super().missing_embeddings(model_id, limit)

    missing = partly_embedded(library, single, minilm.model_id, 100)
    with Reads(library) as store:
        report = run_embed_job(store, minilm, InProcess(minilm), batch_size=SMALL_BATCH)
    assert report.embedded == 100 and set(store.written) == missing
    assert Reads.reads == 2  # one window of 100, then the read that finds nothing left (7 batches written)
    assert {h: v for h, v in vectors(library).items() if h in missing} == {h: single[h] for h in missing}
