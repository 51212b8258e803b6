"""Embedding jobs: one driver loop, run in this process, in a local process pool, or on a Ray cluster.

The driver reads passages that have no vector yet (content hash, embedding input) from the
store a window at a time, cuts them into batches, hands the batches to a backend and writes
each finished batch with ``put_embeddings`` (one transaction). Workers load the embedder
themselves, once each, from its spec string (never a pickled model) and check that they built
the same model id as the driver; they return (content hash, float16 vector bytes) and never
touch the database, so the store keeps a single writer. Vectors are keyed by passage-text hash,
so a run that dies keeps every batch it wrote and the next run embeds only the rest.

Backends (callers close them, e.g. with ``contextlib.closing``): :class:`InProcess` (the
default, one batch at a time), :class:`ProcessPool` (``--jobs N``) and :class:`RayBackend`
(``--ray ADDRESS|local``: a Ray Data job whose actor pool holds one embedder per actor; Ray
restarts a dead actor and retries its batch). Every Ray node needs medora and the model's
package installed. ``gpus_per_worker`` only reserves GPUs: the bundled embedders run on CPU.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import re
import signal
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from medora.errors import MedoraError, UsageError
from medora.retrieve.embeddings import Embedder, OnnxEmbedder, get_embedder

if TYPE_CHECKING:
    from medora.library.store import LibraryStore

DEFAULT_BATCH = 64
WINDOW_BATCHES_PER_WORKER = 32  # batches read from the store per round for each parallel worker
MAX_WINDOW = 50_000  # passages held by the driver at once
RAY_EXTRA = "pip install 'medora[cluster]'"
RAY_PORT = 6379
RAY_CONNECT_TIMEOUT = 5.0
WORKER_ERROR = re.compile(r"^medora\.errors\.(\w+): (.+)$", re.MULTILINE)

Row = tuple[str, str]  # (content hash, embedding input)
Vector = tuple[str, bytes]  # (content hash, float16 vector bytes)


class EmbedJobError(MedoraError):
    """A worker or the cluster failed; the batches written so far stay in the library."""


@dataclass
class EmbedReport:
    model_id: str
    embedded: int
    total_searchable: int
    seconds: float


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker needs to build the driver's embedder itself."""

    spec: str  # as for get_embedder: "minilm", "onnx:/path", ...
    model_id: str  # the driver's; a worker that builds another model refuses to embed
    max_tokens: int
    threads: int  # threads the worker's embedder may use


class Backend(Protocol):
    """Embeds batches of rows, yielding finished batches in any order."""

    window_batches: int  # how many batches the driver hands over per round

    def embed(self, batches: list[list[Row]]) -> Iterator[list[Vector]]: ...

    def close(self) -> None: ...


def vector_rows(embedder: Embedder, rows: list[Row]) -> list[Vector]:
    """(content hash, float16 bytes) for each row: the one conversion every backend uses."""
    vectors = embedder.embed_passages([text for _, text in rows]).astype(np.float16)
    return [(h, v.tobytes()) for (h, _), v in zip(rows, vectors)]


def run_embed_job(store: LibraryStore, embedder: Embedder, backend: Backend, *, batch_size: int = DEFAULT_BATCH,
                  limit: int | None = None, progress: Callable[[int, int, float], None] | None = None) -> EmbedReport:
    """Embed every searchable passage without a vector from ``embedder`` (at most ``limit``) through ``backend``."""
    started = time.perf_counter()
    done_before, total = store.embedding_coverage(embedder.model_id)
    todo = total - done_before
    embedded = 0
    window = min(batch_size * backend.window_batches, MAX_WINDOW)
    while limit is None or embedded < limit:
        rows = store.missing_embeddings(embedder.model_id, window if limit is None else min(window, limit - embedded))
        if not rows:
            break
        before = embedded
        for finished in backend.embed([rows[i : i + batch_size] for i in range(0, len(rows), batch_size)]):
            store.put_embeddings(embedder.model_id, embedder.dim, finished)
            embedded += len(finished)
            if progress:
                progress(embedded, todo, time.perf_counter() - started)
        if embedded == before:  # never read the same rows again and again
            raise EmbedJobError(f"the workers returned no vectors for {len(rows)} passages")
    if hasattr(store, "ensure_vector_index"):  # PostgreSQL: the HNSW index is built once, after the bulk load
        store.ensure_vector_index(embedder.model_id, embedder.dim)
    return EmbedReport(embedder.model_id, embedded, total, time.perf_counter() - started)


class InProcess:
    """This process, one batch at a time: the driver reads a window of batches, then embeds and writes
    each batch in turn. Finding the passages without a vector takes a scan of the library (~0.5 s at
    67k passages), so it is done once per window, not once per batch (bench/RESULTS.md)."""

    window_batches = WINDOW_BATCHES_PER_WORKER

    def __init__(self, embedder: Embedder):
        self.embedder = embedder

    def embed(self, batches: list[list[Row]]) -> Iterator[list[Vector]]:
        for batch in batches:
            yield vector_rows(self.embedder, batch)

    def close(self) -> None:
        pass


# ------------------------------------------------------------------ workers (any process)

_worker_embedders: dict[WorkerSpec, Embedder] = {}


def load_worker_embedder(worker: WorkerSpec) -> Embedder:
    """The worker's embedder, built once per process; refuses a model other than the driver's."""
    if worker not in _worker_embedders:
        embedder = get_embedder(worker.spec, max_tokens=worker.max_tokens)
        if embedder.model_id != worker.model_id:
            raise UsageError(f"a worker built {embedder.model_id}, not the driver's {worker.model_id}: "
                             "install the same model package version on every worker")
        if isinstance(embedder, OnnxEmbedder):
            embedder.workers = worker.threads
        _worker_embedders[worker] = embedder
    return _worker_embedders[worker]


def _embed_in_worker(worker: WorkerSpec, rows: list[Row]) -> list[Vector]:
    return vector_rows(load_worker_embedder(worker), rows)


# ------------------------------------------------------------------ local process pool


class ProcessPool:
    """``jobs`` spawned processes on this machine, each with its own embedder."""

    def __init__(self, worker: WorkerSpec, jobs: int):
        self.worker = worker
        self.window_batches = jobs * WINDOW_BATCHES_PER_WORKER
        self._pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=signal.signal, initargs=(signal.SIGINT, signal.SIG_IGN))

    def embed(self, batches: list[list[Row]]) -> Iterator[list[Vector]]:
        pending: set[Future] = {self._pool.submit(_embed_in_worker, self.worker, batch) for batch in batches}
        try:
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    yield future.result()
        except BrokenProcessPool:
            raise EmbedJobError("an embedding worker process died; the finished batches are saved: "
                                "run the same command again to embed the rest") from None
        finally:
            for future in pending:
                future.cancel()

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)


def local_threads(jobs: int) -> int:
    """Embedder threads for each of ``jobs`` local workers: the cores shared out, at least one."""
    return max(1, (os.cpu_count() or 1) // jobs)


# ------------------------------------------------------------------ Ray


class RayEmbedActor:
    """A Ray Data actor: builds the embedder once, then embeds each batch it is handed.

    A refusal to build it (another model id, a missing package) is raised with the first batch,
    which fails the job at once; Ray would keep recreating an actor whose ``__init__`` failed.
    """

    def __init__(self, worker: WorkerSpec):
        try:
            self.embedder: Embedder | MedoraError = load_worker_embedder(worker)
        except MedoraError as error:
            self.embedder = error

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if isinstance(self.embedder, MedoraError):
            raise self.embedder
        vectors = self.embedder.embed_passages(batch["text"].tolist()).astype(np.float16)
        return {"content_hash": batch["content_hash"], "vector": vectors}


def _import_ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError:
        raise UsageError(f"--ray needs the Ray packages: {RAY_EXTRA}") from None
    return ray


def _check_reachable(address: str) -> None:
    """Fail fast, with a clear message, when nothing listens at a Ray head node's ``host[:port]``."""
    host_port = address.removeprefix("ray://")
    host, _, port = host_port.rpartition(":") if ":" in host_port else (host_port, "", str(RAY_PORT))
    if not port.isdigit():
        raise UsageError(f"--ray {address!r}: expected HOST:PORT, ray://HOST:PORT, auto or local")
    try:
        socket.create_connection((host, int(port)), timeout=RAY_CONNECT_TIMEOUT).close()
    except OSError as error:
        raise EmbedJobError(f"cannot reach a Ray cluster at {address} ({error}); start one with "
                            "`ray start --head`, or use --ray local") from None


def connect_ray(address: str, cpus: int | None) -> bool:
    """Connect this process to Ray (``local`` starts a private cluster); True when this call started it."""
    ray = _import_ray()
    if ray.is_initialized():
        return False
    if address != "auto" and address != "local":
        _check_reachable(address)
    options: dict[str, Any] = {"include_dashboard": False, "logging_level": "warning", "log_to_driver": False}
    if address == "local":
        options["num_cpus"] = cpus
    else:
        options["address"] = address
    try:
        ray.init(**options)
    except (ConnectionError, RuntimeError, ValueError, ImportError) as error:
        raise EmbedJobError(f"cannot connect to Ray at {address}: {error}") from None
    return True


class RayBackend:
    """A Ray Data job per window: rows in, a fixed pool of ``jobs`` embedding actors, vectors streamed back."""

    def __init__(self, worker: WorkerSpec, *, address: str, jobs: int | None, gpus_per_worker: float = 0.0):
        ray = _import_ray()
        self._started = connect_ray(address, jobs)
        logging.getLogger("ray.data").setLevel(logging.CRITICAL)  # failures surface as exceptions, reported once
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        self.jobs = jobs or self._default_jobs(ray, gpus_per_worker)
        self.worker = worker
        self.gpus_per_worker = gpus_per_worker
        self.window_batches = self.jobs * WINDOW_BATCHES_PER_WORKER

    @staticmethod
    def _default_jobs(ray: Any, gpus_per_worker: float) -> int:
        """One actor per CPU of the cluster, or per ``gpus_per_worker`` of its GPUs."""
        resources = ray.cluster_resources()
        if gpus_per_worker:
            return max(1, int(resources.get("GPU", 0) // gpus_per_worker))
        return max(1, int(resources.get("CPU", 1)))

    def embed(self, batches: list[list[Row]]) -> Iterator[list[Vector]]:
        ray = _import_ray()
        items = [{"content_hash": h, "text": t} for batch in batches for h, t in batch]
        resources = {"num_gpus": self.gpus_per_worker} if self.gpus_per_worker else {"num_cpus": self.worker.threads}
        dataset = ray.data.from_items(items).map_batches(
            RayEmbedActor, fn_constructor_args=(self.worker,), batch_size=len(batches[0]), batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=self.jobs), **resources)
        try:
            for out in dataset.iter_batches(batch_size=None, batch_format="numpy"):
                yield [(h, v.tobytes()) for h, v in zip(out["content_hash"].tolist(), out["vector"])]
        except ray.exceptions.RayError as error:
            raise _ray_failure(error) from None

    def close(self) -> None:
        if self._started:
            _import_ray().shutdown()


def _ray_failure(error: Exception) -> MedoraError:
    """The error a worker raised, or one that explains the failure.

    Ray passes a worker's exception back as the text of its traceback, so a worker's
    ``medora.errors.UsageError: ...`` line is read back from that text.
    """
    raised = WORKER_ERROR.search(str(error))
    if raised:
        kind, message = raised.groups()
        return UsageError(message) if kind == "UsageError" else EmbedJobError(message)
    first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return EmbedJobError(f"the Ray embedding job failed ({first_line}); the finished batches are saved: "
                         "run the same command again to embed the rest")


def make_backend(embedder: Embedder, spec: str, *, jobs: int | None = None, ray_address: str | None = None,
                 gpus_per_worker: float = 0.0) -> Backend:
    """The backend for the CLI's options: Ray when ``ray_address`` is given, else ``jobs`` local processes."""
    if gpus_per_worker and not ray_address:
        raise UsageError("--gpus-per-worker needs --ray")
    if ray_address:
        worker = WorkerSpec(spec, embedder.model_id, embedder.max_tokens, threads=1)
        return RayBackend(worker, address=ray_address, jobs=jobs, gpus_per_worker=gpus_per_worker)
    if not jobs or jobs == 1:
        return InProcess(embedder)
    return ProcessPool(WorkerSpec(spec, embedder.model_id, embedder.max_tokens, local_threads(jobs)), jobs)
