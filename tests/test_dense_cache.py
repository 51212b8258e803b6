"""``dense.coverage_for``: the embedding coverage a question checks is counted once per library version."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import run_cli

from medora.library.sqlite_store import SQLiteStore
from medora.retrieve.dense import coverage_for

MODEL, DIM = "test-model@1", 8


@pytest.fixture
def store(tmp_path, shared_sources):
    path = tmp_path / "library.db"
    run_cli("library", "add", "pubmedqa", "--from", str(shared_sources), "--library", str(path), "-q")
    with SQLiteStore(path, create=False) as s:
        yield s


def _add_vectors(store: SQLiteStore, count: int) -> None:
    hashes = [h for h, _ in store.missing_embeddings(MODEL, count)]
    vectors = np.random.default_rng(0).standard_normal((len(hashes), DIM)).astype(np.float16)
    store.put_embeddings(MODEL, DIM, [(h, v.tobytes()) for h, v in zip(hashes, vectors)])


def test_coverage_follows_the_library_and_is_counted_once_per_version(store, monkeypatch):
    counted = []
    real = store.embedding_coverage
    monkeypatch.setattr(store, "embedding_coverage", lambda model: counted.append(model) or real(model))

    done, total = coverage_for(store, MODEL)
    assert done == 0 and total > 1000
    assert coverage_for(store, MODEL) == (0, total)
    assert len(counted) == 1  # unchanged library: the cached count

    _add_vectors(store, 25)
    assert coverage_for(store, MODEL) == (25, total) == real(MODEL)
    assert len(counted) == 2
    assert coverage_for(store, "another-model@1") == (0, total)  # kept per model
