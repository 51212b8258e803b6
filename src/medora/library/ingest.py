"""Ingestion: read files with their readers, chunk documents, and write them to the library.

Content-addressed and idempotent: a file fully read before by the same reader at the same version
(its record holds the file's sha256, the reader's name and version) is skipped unread; a document
whose content hash is already stored is skipped before chunking; a changed one replaces its
passages and bumps its version; with ``prune``,
documents of the source not seen in a complete run are retired. Writes go in batches, one
transaction each, so an interrupted run loses at most the batch in flight and the next run
resumes where it stopped (everything already stored is skipped as unchanged). A reader
backend (:mod:`medora.library.ingest_jobs`) may read and chunk files in other processes; this
driver still applies their results one file at a time, in input order.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator, Protocol

from medora.errors import MedoraError, ReaderError
from medora.library.chunking import Chunk, chunk_document
from medora.library.store import DocWrite, LibraryStore
from medora.models import Source
from medora.sources.readers.base import ParsedDocument, Reader, Skipped, reader_version

BATCH_DOCUMENTS = 500
BATCH_PASSAGES = 4000


@dataclass
class IngestReport:
    """What one ingestion run did. ``rejected`` holds (file, reason) for every file that failed."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    retired: int = 0
    passages_written: int = 0
    files: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    changed_document_ids: list[int] = field(default_factory=list)
    retired_document_ids: list[int] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def documents_seen(self) -> int:
        return self.added + self.updated + self.unchanged

    def as_dict(self) -> dict:
        return {
            "files": self.files,
            "documents": {
                "added": self.added,
                "updated": self.updated,
                "unchanged": self.unchanged,
                "retired": self.retired,
                "rejected_files": len(self.rejected),
            },
            "passages_written": self.passages_written,
            "rejected": [{"file": f, "reason": r} for f, r in self.rejected],
            "skipped": dict(self.skipped),
            "seconds": round(self.seconds, 3),
        }


ProgressFn = Callable[[IngestReport], None]


@dataclass
class ChunkedDocument:
    """A document read, hashed and chunked by a worker process, ready for the driver to store."""

    doc: ParsedDocument
    content_hash: str
    chunks: list[Chunk]

    @classmethod
    def of(cls, doc: ParsedDocument) -> ChunkedDocument:
        return cls(doc, doc.content_hash(), chunk_document(doc))


FileItems = Iterable[ParsedDocument | ChunkedDocument | Skipped]


class ReaderBackend(Protocol):
    """Reads files ahead of the driver, elsewhere; yields (path, reader, items or None) in input order.

    ``wanted(path, reader)`` is False for a file the driver will most likely skip unread; such files
    (and those without a reader) come back with None and the driver reads them itself if it must.
    """

    def read(self, inputs: Iterable[tuple[Path, Reader | None]],
             wanted: Callable[[Path, Reader], bool]) -> Iterator[tuple[Path, Reader | None, FileItems | None]]: ...


def rejection(path: Path, reader: Reader, exc: Exception) -> tuple[str, str]:
    """The (file, reason) reported for a file whose reading raised ``exc``."""
    if isinstance(exc, ReaderError):
        return exc.path, exc.reason
    if isinstance(exc, MedoraError):
        return str(path), str(exc)
    return str(path), " ".join(f"{reader.name} reader could not read it ({type(exc).__name__}: {exc})".split())


def file_digest(sha256: str, reader: Reader) -> str:
    """What a file's record holds: the file's sha256 and the reader (name and version) that read it.

    A file is skipped unread only when this is unchanged, so a reader whose output changed (its
    ``version`` bumped) reads its files again. Stored in the records' ``sha256`` column as it is.
    """
    return f"{sha256}:{reader.name}@{reader_version(reader)}"


def _file_key(path: Path) -> tuple[str, str | None]:
    """(stable key, sha256) of an input file; directories get no digest (they are always read)."""
    key = str(path.resolve())
    if not path.is_file():
        return key, None
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return key, h.hexdigest()


class Ingestor:
    """Ingests a stream of (file, reader) pairs into one source of a library."""

    def __init__(self, store: LibraryStore, source: Source, progress: ProgressFn | None = None,
                 on_change: Callable[[list[int], str], object] | None = None):
        """``on_change(document_ids, reason)`` runs after a run that changed or retired documents
        (publishing uses it to send articles citing them back to review)."""
        self.store = store
        self.on_change = on_change
        self.source = source
        self.source_id = store.upsert_source(source)
        self.states = store.document_states(self.source_id)
        self.progress = progress or (lambda report: None)
        self.report = IngestReport()
        self.seen: dict[str, str] = {}  # external_id -> file it came from in this run
        self._batch: list[DocWrite] = []
        self._batch_passages = 0
        self._file_keys: dict[Path, tuple[str, str | None]] = {}

    def run(self, inputs: Iterable[tuple[Path, Reader | None]], *, prune: bool = False,
            reader_backend: ReaderBackend | None = None) -> IngestReport:
        """Ingest ``inputs``, read in this process or, ahead of time, by ``reader_backend``."""
        started = time.perf_counter()
        planned = (reader_backend.read(inputs, self._may_read) if reader_backend is not None
                   else ((path, reader, None) for path, reader in inputs))
        for path, reader, items in planned:
            self.report.files += 1
            if reader is None:
                reason = "no such file" if not path.exists() else "unknown format (no reader recognises it)"
                self.report.rejected.append((str(path), reason))
                continue
            self._read_file(path, reader, items)
            self.progress(self.report)
        self._flush()
        if prune and not self.report.rejected:
            stale = [s.id for ext, s in self.states.items() if ext not in self.seen and s.status == "active"]
            self.report.retired = self.store.retire(stale)
            self.report.retired_document_ids = stale
        self.store.mark_ingested(self.source_id, datetime.now(timezone.utc).isoformat(timespec="seconds"))
        touched = self.report.changed_document_ids + self.report.retired_document_ids
        if touched and self.on_change is not None:
            self.on_change(touched, f"re-ingested source {self.source.name!r}")
        self.report.seconds = time.perf_counter() - started
        self.progress(self.report)
        return self.report

    def run_documents(self, batches: Iterable[tuple[str, Iterable[ParsedDocument]]]) -> IngestReport:
        """Ingest documents that came from no local file (a web service's responses). Each batch is
        (origin, documents), ``origin`` naming where they came from (a URL without its key)."""
        given = [(Path(origin), origin, list(docs)) for origin, docs in batches]
        for path, origin, _ in given:
            self._file_keys[path] = (origin, None)  # no file to hash: always read, origin kept as written
        return self.run([(path, _GIVEN) for path, _, _ in given],
                        reader_backend=_GivenDocuments([(path, docs) for path, _, docs in given]))

    def _key(self, path: Path) -> tuple[str, str | None]:
        if path not in self._file_keys:
            self._file_keys[path] = _file_key(path)
        return self._file_keys[path]

    def _digest(self, path: Path, reader: Reader) -> tuple[str, str | None]:
        """(key, digest recorded for ``path`` read by ``reader``); no digest when there is no file to hash."""
        key, sha256 = self._key(path)
        return key, None if sha256 is None else file_digest(sha256, reader)

    def _may_read(self, path: Path, reader: Reader) -> bool:
        """False when ``path`` was fully ingested before with the same digest and reader (it will be skipped)."""
        key, digest = self._digest(path, reader)
        record = self.store.file_record(self.source_id, key) if digest is not None else None
        return record is None or record[0] != digest

    def _read_file(self, path: Path, reader: Reader, items: FileItems | None = None) -> None:
        key, digest = self._digest(path, reader)
        if digest is not None and self._skip_unchanged_file(key, digest):
            return
        skipped: Counter = Counter()
        before = len(self.seen)
        try:
            for item in reader.read(path) if items is None else items:
                if isinstance(item, Skipped):
                    skipped[item.reason] += item.count
                else:
                    self._add(path, item, key)
                    if self.report.documents_seen % 200 == 0:
                        self.progress(self.report)
            self._flush()
            self.report.skipped.update(skipped)
            if digest is not None:
                self.store.record_file(self.source_id, key, digest, len(self.seen) - before, dict(skipped))
        except Exception as exc:  # noqa: BLE001 - a reader bug on odd input must not stop the batch
            self.report.rejected.append(rejection(path, reader, exc))

    def _skip_unchanged_file(self, key: str, digest: str) -> bool:
        """True (and the file's documents counted unchanged) when this exact file was fully ingested before
        by the same reader at the same version."""
        record = self.store.file_record(self.source_id, key)
        if record is None or record[0] != digest:
            return False
        mine = {ext: st for ext, st in self.states.items() if st.origin == key and st.status == "active"}
        if not mine or any(ext in self.seen for ext in mine):
            return False
        for ext in mine:
            self.seen[ext] = key
        self.report.unchanged += len(mine)
        self.report.skipped.update(record[1])
        return True

    def _add(self, path: Path, item: ParsedDocument | ChunkedDocument, origin: str) -> None:
        doc = item.doc if isinstance(item, ChunkedDocument) else item
        if doc.external_id in self.seen:
            self.report.rejected.append(
                (str(path), f"duplicate document id {doc.external_id!r} (already read from {self.seen[doc.external_id]})")
            )
            return
        self.seen[doc.external_id] = str(path)
        digest = item.content_hash if isinstance(item, ChunkedDocument) else doc.content_hash()
        state = self.states.get(doc.external_id)
        if state is not None and state.content_hash == digest and state.status == "active":
            self.report.unchanged += 1
            if state.origin != origin:
                self.store.set_origin([state.id], origin)
            return
        chunks = item.chunks if isinstance(item, ChunkedDocument) else chunk_document(doc)
        if not chunks:
            self.report.skipped["document has no text"] += 1
            return
        self._batch.append(DocWrite(self.source_id, doc, digest, chunks, state, origin))
        self._batch_passages += len(chunks)
        if len(self._batch) >= BATCH_DOCUMENTS or self._batch_passages >= BATCH_PASSAGES:
            self._flush()

    def _flush(self) -> None:
        if not self._batch:
            return
        self.store.write_batch(self._batch)
        for w in self._batch:
            self.report.passages_written += len(w.chunks)
            if w.existing is None:
                self.report.added += 1
            else:
                self.report.updated += 1
                self.report.changed_document_ids.append(w.existing.id)
        self._batch = []
        self._batch_passages = 0


class _GivenReader:
    """Stands for "documents handed over already read" (``Ingestor.run_documents``); never reads a file."""

    name = "given"

    def sniff(self, path: Path, head: bytes) -> bool:
        return False

    def read(self, path: Path) -> Iterator[ParsedDocument | Skipped]:
        raise ReaderError(str(path), "documents for this origin were not handed over")


_GIVEN = _GivenReader()


class _GivenDocuments:
    """A reader backend whose "files" are batches of documents already in memory."""

    def __init__(self, batches: list[tuple[Path, list[ParsedDocument]]]):
        self.batches = dict(batches)

    def read(self, inputs, wanted):
        for path, reader in inputs:
            yield path, reader, self.batches.get(path, [])
