"""A changed reader reaches an existing library: a file's "already read" record holds the reader's
name and version beside the file's sha256, so bumping a reader's ``version`` re-reads its files.

Real SPL labels of the shared ``dailymed`` source go into a real SQLite library with the real SPL
reader. The reader's ``read`` is wrapped only to count which files it was asked to read (it still
reads them); its ``version`` is bumped by monkeypatching the class attribute, as a commit would.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections import Counter
from contextlib import closing
from pathlib import Path

import pytest

from medora.library.ingest import Ingestor, file_digest
from medora.library.ingest_jobs import ProcessPool
from medora.library.sqlite_store import SQLiteStore
from medora.models import Source
from medora.sources.fetch import resolve_files
from medora.sources.readers.base import ParsedDocument, reader_version
from medora.sources.readers.openfda import OpenFdaCommonReader, OpenFdaReader
from medora.sources.readers.registry import READERS, make_reader
from medora.sources.readers.spl import SplReader
from medora.sources.registry import get_source


@pytest.fixture
def labels(shared_sources, tmp_path) -> list[Path]:
    files = resolve_files(get_source("dailymed"), sources_dir=shared_sources, cache_dir=tmp_path / "cache")
    assert len(files) == 5
    return files


@pytest.fixture
def reads(monkeypatch) -> Counter:
    """Which files the SPL reader was asked to read (in this process), by name."""
    counted: Counter = Counter()
    real_read = SplReader.read

    def counting_read(self, path):
        counted[Path(path).name] += 1
        yield from real_read(self, path)

    monkeypatch.setattr(SplReader, "read", counting_read)
    return counted


def ingest(library: Path, files: list[Path], **run_options):
    store = SQLiteStore(library)
    try:
        reader = make_reader("spl")
        return Ingestor(store, Source(name="dailymed")).run([(f, reader) for f in files], prune=True, **run_options)
    finally:
        store.close()


def stored(library: Path) -> dict[str, object]:
    with closing(sqlite3.connect(library)) as db:
        return {
            "documents": sorted(db.execute("SELECT external_id, version, content_hash FROM documents")),
            "passages": sorted(db.execute("SELECT document_id, ordinal, text FROM passages")),
            "files": dict(db.execute("SELECT path, sha256 FROM ingested_files")),
        }


def counts(report) -> tuple[int, int, int, int, int]:
    return report.added, report.updated, report.unchanged, report.retired, report.passages_written


def test_a_bumped_reader_version_rereads_files_and_keeps_unchanged_documents(labels, reads, monkeypatch, tmp_path):
    library = tmp_path / "library.db"
    first = ingest(library, labels)
    assert counts(first)[:4] == (5, 0, 0, 0) and first.passages_written > 50 and not first.rejected
    assert sum(reads.values()) == 5
    before = stored(library)
    sha = {str(f.resolve()): hashlib.sha256(f.read_bytes()).hexdigest() for f in labels}
    assert before["files"] == {key: f"{digest}:spl@1" for key, digest in sha.items()}

    reads.clear()
    again = ingest(library, labels)
    assert counts(again) == (0, 0, 5, 0, 0)
    assert not reads  # same file, same reader, same version: not even parsed
    assert stored(library) == before

    monkeypatch.setattr(SplReader, "version", 2, raising=False)
    bumped = ingest(library, labels)
    assert sorted(reads) == sorted(f.name for f in labels) and sum(reads.values()) == 5  # every file read again
    assert counts(bumped) == (0, 0, 5, 0, 0) and not bumped.changed_document_ids  # same output: no new version
    after = stored(library)
    assert after["documents"] == before["documents"] and after["passages"] == before["passages"]
    assert after["files"] == {key: f"{digest}:spl@2" for key, digest in sha.items()}

    reads.clear()
    assert counts(ingest(library, labels)) == (0, 0, 5, 0, 0) and not reads  # and then skipped again


def test_changed_output_reaches_the_library_only_with_a_bumped_version(labels, reads, monkeypatch, tmp_path):
    library = tmp_path / "library.db"
    ingest(library, labels)
    real_read = SplReader.read  # the counting wrapper

    def improved_read(self, path):  # a reader change: the same file now parses to a different first section
        for item in real_read(self, path):
            if isinstance(item, ParsedDocument) and Path(path) == labels[0]:
                item.sections[0].text += " Added by the improved reader."
            yield item

    monkeypatch.setattr(SplReader, "read", improved_read)
    stale = ingest(library, labels)
    assert counts(stale) == (0, 0, 5, 0, 0)  # what the version protects against: without a bump nothing is read

    monkeypatch.setattr(SplReader, "version", 2, raising=False)
    reads.clear()
    fresh = ingest(library, labels)
    assert sum(reads.values()) == 5
    assert (fresh.added, fresh.updated, fresh.unchanged, fresh.retired) == (0, 1, 4, 0)
    with closing(sqlite3.connect(library)) as db:
        versions = Counter(v for v, in db.execute("SELECT version FROM documents"))
        improved = db.execute("SELECT count(*) FROM passages WHERE text LIKE '%Added by the improved reader.%'")
        assert versions == {1: 4, 2: 1} and improved.fetchone()[0] == 1


def test_worker_processes_are_handed_the_files_of_a_bumped_reader(labels, monkeypatch, tmp_path):
    library = tmp_path / "library.db"
    submitted: list[str] = []
    real_submit = ProcessPool._submit

    def counting_submit(self, path, reader):
        submitted.append(Path(path).name)
        return real_submit(self, path, reader)

    monkeypatch.setattr(ProcessPool, "_submit", counting_submit)
    pool = ProcessPool(2)
    try:
        assert counts(ingest(library, labels, reader_backend=pool))[:3] == (5, 0, 0) and len(submitted) == 5
        submitted.clear()
        assert counts(ingest(library, labels, reader_backend=pool)) == (0, 0, 5, 0, 0) and not submitted
        monkeypatch.setattr(SplReader, "version", 2, raising=False)
        bumped = ingest(library, labels, reader_backend=pool)
    finally:
        pool.close()
    assert sorted(submitted) == sorted(f.name for f in labels)  # read ahead by the workers, not by the driver
    assert counts(bumped) == (0, 0, 5, 0, 0) and not bumped.rejected
    assert all(d.endswith(":spl@2") for d in stored(library)["files"].values())


def test_every_registered_reader_has_a_valid_version_and_the_openfda_readers_were_bumped():
    for name in READERS:
        assert reader_version(make_reader(name)) >= 1, name
    assert OpenFdaReader.version >= 2 and OpenFdaCommonReader.version >= 2  # their headings changed (issue 15)
    assert file_digest("ab" * 32, make_reader("openfda")) == f"{'ab' * 32}:openfda@{OpenFdaReader.version}"


def test_a_reader_version_that_is_not_a_positive_int_is_refused(monkeypatch):
    monkeypatch.setattr(SplReader, "version", "2", raising=False)
    with pytest.raises(TypeError, match="positive int"):
        reader_version(SplReader())
