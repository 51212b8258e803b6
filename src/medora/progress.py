"""Progress reporting for long work: a live bar on a terminal, a line every few seconds otherwise."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Iterator

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from medora.library.ingest import IngestReport


@contextmanager
def ingest_progress(label: str, *, quiet: bool = False) -> Iterator:
    """Yield a callback taking an IngestReport; shows documents done, passages and rate."""
    err = Console(stderr=True)
    started = time.perf_counter()

    def describe(r: IngestReport) -> str:
        elapsed = max(time.perf_counter() - started, 1e-6)
        rate = r.documents_seen / elapsed
        return (
            f"{label}: {r.files} files, {r.documents_seen:,} documents "
            f"({r.added:,} added, {r.updated:,} updated, {r.unchanged:,} unchanged), "
            f"{r.passages_written:,} passages, {rate:,.0f} docs/s"
        )

    if quiet:
        yield lambda r: None
        return
    if err.is_terminal:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err,
                      transient=True) as bar:
            task = bar.add_task(label)
            yield lambda r: bar.update(task, description=describe(r))
        return
    last = [started]

    def line(r: IngestReport) -> None:
        now = time.perf_counter()
        if now - last[0] >= 5.0:
            last[0] = now
            print(describe(r), file=sys.stderr, flush=True)

    yield line


@contextmanager
def embed_progress(model_id: str, *, quiet: bool = False) -> Iterator:
    """Yield a callback taking (done, todo, seconds) from an embedding job: share done, rate and time left,
    as a line every few seconds (embedding a large library takes minutes)."""
    started, last = time.perf_counter(), [0.0]

    def line(done: int, todo: int, seconds: float) -> None:
        now = time.perf_counter()
        if quiet or (now - last[0] < 5.0 and done < todo):
            return
        last[0] = now
        rate = done / max(seconds, 1e-9)
        left = f", ~{(todo - done) / rate / 60:.0f} min left" if rate and done < todo else ""
        print(f"embed {model_id}: {done:,}/{todo:,} passages ({100 * done // max(todo, 1)}%), {rate:.1f}/s{left}",
              file=sys.stderr, flush=True)

    yield line
    if not quiet and time.perf_counter() - started > 1.0:
        print(f"embed {model_id}: done in {time.perf_counter() - started:.0f}s", file=sys.stderr, flush=True)
