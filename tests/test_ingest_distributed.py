"""Parallel ingestion: a local process pool and a Ray cluster build the single-process library, row for row.

The shared sources with several files (pmc: 5 JATS articles, dailymed: 5 SPL labels) are added
through the real CLI into real SQLite libraries: in this process (A), with ``--jobs 2`` (B) and
on a 2-CPU Ray instance that the module starts (C). Documents, passages and file records must be
equal, database ids included, and so must the reports. A worker process that dies on one file
gets that file rejected and the others stored; the next run adds only that file.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import closed_port, medora_with

from medora.cli import EXIT_REJECTED, main
from medora.library.ingest_jobs import WORKER_DIED
from medora.sources.readers import registry
from medora.sources.readers.base import ParsedDocument, Skipped
from medora.sources.readers.jats import JatsReader

SOURCES = ("pmc", "dailymed")
VICTIM = "pntd.0002065.nxml"  # the middle one of the five pmc files, in the order they are read
DRIVER_PID = int(os.environ.setdefault("MEDORA_TEST_DRIVER_PID", str(os.getpid())))  # inherited by pool workers

DOCUMENT_COLUMNS = ("external_id, title, url, publisher, year, doc_type, grade, license, metadata, content_hash, "
                    "version, status, origin")
PASSAGE_COLUMNS = "p.ordinal, p.section_path, p.section_type, p.text, p.sentences, p.content_hash"


class DyingJatsReader(JatsReader):
    """The JATS reader, except that the worker process reading VICTIM exits halfway through it."""

    def read(self, path: Path) -> Iterator[ParsedDocument | Skipped]:
        if path.name == VICTIM and os.getpid() != DRIVER_PID:  # never the test process itself
            next(iter(super().read(path)))  # parse it, then die before handing anything back
            os._exit(9)
        yield from super().read(path)


def add(library: Path, shared_sources: Path, *options: str, code: int = 0) -> dict:
    """`medora library add pmc dailymed` with ``options``; the JSON report without timings."""
    result = CliRunner().invoke(main, ["library", "add", *SOURCES, "--from", str(shared_sources),
                                       "--library", str(library), "--format", "json", "-q", *options])
    assert result.exit_code == code, result.output
    json_start = result.stdout.index("\n{\n") + 1 if not result.stdout.startswith("{") else 0
    report = json.loads(result.stdout[json_start:])  # Ray's raylet prints a dead worker's notice to stdout
    for source in report.values():
        del source["seconds"]
    return report


def rows(library: Path) -> dict[str, list[tuple]]:
    """Every document, passage and file record of the library, with database ids."""
    with closing(sqlite3.connect(library)) as db:
        return {
            "documents": db.execute(f"SELECT id, source_id, {DOCUMENT_COLUMNS} FROM documents ORDER BY id").fetchall(),
            "passages": db.execute(f"SELECT p.id, p.document_id, {PASSAGE_COLUMNS} FROM passages p "
                                   "ORDER BY p.id").fetchall(),
            "files": db.execute("SELECT source_id, path, sha256, documents, skipped FROM ingested_files "
                                "ORDER BY source_id, path").fetchall(),
        }


def content(library: Path) -> dict[str, set[tuple]]:
    """The library's documents and passages keyed by external id (independent of the order rows were written)."""
    with closing(sqlite3.connect(library)) as db:
        return {
            "documents": set(db.execute(f"SELECT {DOCUMENT_COLUMNS} FROM documents")),
            "passages": set(db.execute(f"SELECT d.external_id, {PASSAGE_COLUMNS} FROM passages p "
                                       "JOIN documents d ON d.id = p.document_id")),
            "files": set(db.execute("SELECT path, sha256, documents, skipped FROM ingested_files")),
        }


@pytest.fixture(scope="module")
def single(shared_sources, tmp_path_factory) -> dict:
    """Library A, built in this process, with its report and the report of a second (no-op) run."""
    path = tmp_path_factory.mktemp("single") / "library.db"
    report = add(path, shared_sources)
    assert all(r["documents"]["added"] == 5 and r["passages_written"] > 50 for r in report.values())
    return {"path": path, "report": report, "rerun": add(path, shared_sources), "rows": rows(path)}


@pytest.mark.parametrize("options", [["--jobs", "2"], ["--ray", "local"]], ids=["jobs", "ray"])
def test_parallel_ingestion_builds_the_single_process_library(options, single, shared_sources, tmp_path, request):
    if "--ray" in options:
        request.getfixturevalue("ray_cluster")
    library = tmp_path / "library.db"
    assert add(library, shared_sources, *options) == single["report"]
    assert rows(library) == single["rows"]
    assert add(library, shared_sources, *options) == single["rerun"]  # every file skipped as unchanged
    assert rows(library) == single["rows"]


@pytest.mark.parametrize("options", [["--jobs", "2"], ["--ray", "local"]], ids=["jobs", "ray"])
def test_a_worker_that_dies_on_a_file_gets_only_that_file_rejected_and_the_rerun_adds_it(
        options, single, shared_sources, tmp_path, monkeypatch, request):
    library = tmp_path / "library.db"
    with monkeypatch.context() as patch:
        patch.setitem(registry.READERS, "jats", f"{__name__}:DyingJatsReader")
        if "--ray" in options:  # Ray's workers cannot import this test module: the reader travels by value
            cloudpickle = request.getfixturevalue("ray_cluster").cloudpickle
            cloudpickle.register_pickle_by_value(sys.modules[__name__])
            request.addfinalizer(lambda: cloudpickle.unregister_pickle_by_value(sys.modules[__name__]))
        first = add(library, shared_sources, *options, code=EXIT_REJECTED)
    (rejected,) = first["pmc"]["rejected"]
    died = WORKER_DIED if "--jobs" in options else "the Ray task reading it failed ("
    assert Path(rejected["file"]).name == VICTIM and rejected["reason"].startswith(died)
    assert first["pmc"]["documents"]["added"] == 4 and first["dailymed"] == single["report"]["dailymed"]
    stored = content(library)
    assert len(stored["files"]) == 9 and not any(path.endswith(VICTIM) for path, *_ in stored["files"])

    second = add(library, shared_sources, *options)
    assert second["pmc"]["documents"] == {"added": 1, "updated": 0, "unchanged": 4, "retired": 0,
                                          "rejected_files": 0}
    assert second["dailymed"] == single["rerun"]["dailymed"]
    assert content(library) == content(single["path"])


NO_RAY = "import sys; sys.modules['ray'] = None"


@pytest.mark.parametrize("options, prelude, exit_code, message", [
    (["--jobs", "2", "--ray", "local"], "", 2, "error: --jobs and --ray cannot be combined: on Ray every CPU"),
    (["--ray", "local"], NO_RAY, 2, "error: --ray needs the Ray packages: pip install 'medora[cluster]'"),
    (["--ray", "127.0.0.1:{port}"], "", 1, "error: cannot reach a Ray cluster at 127.0.0.1:{port} ("),
], ids=["jobs-and-ray", "no-ray", "unreachable"])
def test_cli_explains_bad_parallel_options_in_one_line(options, prelude, exit_code, message, shared_sources,
                                                       tmp_path):
    port = closed_port()
    library = tmp_path / "library.db"
    proc = medora_with("library", "add", "pmc", "--from", str(shared_sources), "--library", str(library),
                   *[o.format(port=port) for o in options], prelude=prelude)
    assert proc.returncode == exit_code, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(message.format(port=port))
    assert not library.exists()  # refused before the library was created
