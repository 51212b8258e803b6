"""Parallel ingestion: workers read, parse and chunk files; the driver stores them, in input order.

A file is the unit of work. A worker runs the file's reader (pickled with it: readers hold only
their options), hashes and chunks every document, and returns the lot as a :class:`FileRead`;
it never touches the library. The driver (:class:`~medora.library.ingest.Ingestor`) applies the
results one file at a time in input order, exactly as if it had read them itself, so the library
ends identical to a single-process run. A reader error, or a worker that dies on a file, gets
that file rejected and the others kept; files already recorded are skipped by the next run.

Backends (callers close them): :class:`InProcess` (the driver reads), :class:`ProcessPool`
(``--jobs N``) and :class:`RayReader` (``--ray ADDRESS|local``: one Ray task per file, on
every CPU of the cluster; each node needs medora installed).
"""

from __future__ import annotations

import multiprocessing
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medora.errors import ReaderError, UsageError
from medora.library.ingest import ChunkedDocument, FileItems, rejection
from medora.retrieve.embed_jobs import connect_ray
from medora.sources.readers.base import Reader, Skipped

READ_AHEAD_PER_WORKER = 2  # files handed out per worker beyond the one the driver waits for
WORKER_DIED = "the worker process reading it died"

Planned = tuple[Path, Reader | None, FileItems | None]


@dataclass
class FileRead:
    """One file as a worker read it: its items, and (file, reason) when reading stopped early.

    Iterating replays the items, then raises the reader's error, as the reader itself would.
    """

    items: list[ChunkedDocument | Skipped]
    error: tuple[str, str] | None = None

    def __iter__(self) -> Iterator[ChunkedDocument | Skipped]:
        yield from self.items
        if self.error is not None:
            raise ReaderError(*self.error)


def read_file(path: Path, reader: Reader) -> FileRead:
    """Read, hash and chunk one file (runs in a worker); the items read before an error are kept."""
    items: list[ChunkedDocument | Skipped] = []
    try:
        for item in reader.read(path):
            items.append(item if isinstance(item, Skipped) else ChunkedDocument.of(item))
    except Exception as exc:  # noqa: BLE001 - reported as the driver reports a reader error
        return FileRead(items, rejection(path, reader, exc))
    return FileRead(items)


class InProcess:
    """No workers: the driver reads every file itself."""

    def read(self, inputs: Iterable[tuple[Path, Reader | None]],
             wanted: Callable[[Path, Reader], bool]) -> Iterator[Planned]:
        return ((path, reader, None) for path, reader in inputs)

    def close(self) -> None:
        pass


class _ReadAhead:
    """Hands files to workers ahead of the driver and gives the results back in input order."""

    window: int

    def read(self, inputs: Iterable[tuple[Path, Reader | None]],
             wanted: Callable[[Path, Reader], bool]) -> Iterator[Planned]:
        self._pending: deque[tuple[Path, Reader | None, Any]] = deque()
        for path, reader in inputs:
            job = self._submit(path, reader) if reader is not None and wanted(path, reader) else None
            self._pending.append((path, reader, job))
            while self._pending and (self._pending[0][2] is None or len(self._pending) > self.window):
                yield self._next()
        while self._pending:
            yield self._next()

    def _next(self) -> Planned:
        path, reader, job = self._pending.popleft()
        return path, reader, None if job is None else self._result(path, reader, job)

    def _submit(self, path: Path, reader: Reader) -> Any: ...

    def _result(self, path: Path, reader: Reader, job: Any) -> FileRead: ...


class ProcessPool(_ReadAhead):
    """``jobs`` spawned processes on this machine.

    When a worker dies, every file in flight fails with it: the pool is restarted, the file the
    driver waits for is read again alone (rejected if its worker dies again) and the others are
    handed out again.
    """

    def __init__(self, jobs: int):
        self.jobs = jobs
        self.window = jobs * (1 + READ_AHEAD_PER_WORKER)
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.jobs, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=signal.signal, initargs=(signal.SIGINT, signal.SIG_IGN))

    def _submit(self, path: Path, reader: Reader) -> Future:
        try:
            return self._pool.submit(read_file, path, reader)
        except BrokenProcessPool as broken:  # a worker died since the last result: handled with the file in flight
            failed: Future = Future()
            failed.set_exception(broken)
            return failed

    def _result(self, path: Path, reader: Reader, job: Future) -> FileRead:
        try:
            return job.result()
        except BrokenProcessPool:
            return self._after_crash(path, reader)
        except Exception as exc:  # noqa: BLE001 - e.g. a reader that cannot be pickled
            return FileRead([], rejection(path, reader, exc))

    def _after_crash(self, path: Path, reader: Reader) -> FileRead:
        self._restart()
        try:
            read = self._submit(path, reader).result()
        except BrokenProcessPool:
            self._restart()
            read = FileRead([], (str(path), WORKER_DIED))
        self._pending = deque((p, r, self._submit(p, r) if _failed(job) and r is not None else job)
                              for p, r, job in self._pending)
        return read

    def _restart(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._new_pool()

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)


def _failed(job: Future | None) -> bool:
    """True for a job that will not give a result (it was in flight when its pool broke)."""
    return job is not None and (not job.done() or job.exception() is not None)


class RayReader(_ReadAhead):
    """One Ray task per file on the cluster's CPUs; a task whose worker dies is retried once, then rejected."""

    def __init__(self, address: str):
        self._started = connect_ray(address, None)
        import ray

        self._ray = ray
        self.window = max(1, int(ray.cluster_resources().get("CPU", 1))) * (1 + READ_AHEAD_PER_WORKER)
        self._task = ray.remote(read_file).options(num_cpus=1, max_retries=1)

    def _submit(self, path: Path, reader: Reader) -> Any:
        return self._task.remote(path, reader)

    def _result(self, path: Path, reader: Reader, job: Any) -> FileRead:
        try:
            return self._ray.get(job)
        except self._ray.exceptions.RayError as error:
            first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
            return FileRead([], (str(path), f"the Ray task reading it failed ({first_line})"))

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()


def make_reader_backend(*, jobs: int | None = None, ray_address: str | None = None) -> InProcess | ProcessPool | RayReader:
    """The backend for the CLI's options: Ray when ``ray_address`` is given, else ``jobs`` local processes."""
    if ray_address and jobs:
        raise UsageError("--jobs and --ray cannot be combined: on Ray every CPU of the cluster reads files")
    if ray_address:
        return RayReader(ray_address)
    if not jobs or jobs == 1:
        return InProcess()
    return ProcessPool(jobs)
