"""Dense search: the embedding coverage a question checks is counted once per library version, and
pseudo-relevance feedback moves the question toward its nearest passages."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import run_cli

from medora.library.sqlite_store import SQLiteStore
from medora.retrieve.dense import DenseIndex, coverage_for

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


def test_feedback_moves_the_question_toward_its_nearest_passages(store):
    # Five passages close to the question share a direction (y); F leans that way, G does not.
    rows = {"near": [(0.9, 0.43, 0.0)] * 5, "F": [(0.6, 0.8, 0.0)], "G": [(0.7, 0.0, 0.714)]}
    vectors = [v for group in rows.values() for v in group]
    hashes = [h for h, _ in store.missing_embeddings(MODEL, len(vectors))]
    unit = [np.asarray(v, dtype=np.float32) / np.linalg.norm(v) for v in vectors]
    store.put_embeddings(MODEL, 3, [(h, v.astype(np.float16).tobytes()) for h, v in zip(hashes, unit)])
    index = DenseIndex(store, MODEL, 3)
    question = np.asarray([1.0, 0.0, 0.0], dtype=np.float32)
    plain = index.search(question, 7)
    moved = index.search(question, 7, feedback=5)
    assert {p for p, _ in plain} == {p for p, _ in moved} == set(index.ids.tolist())
    f_id, g_id = _id_of(index, unit[5]), _id_of(index, unit[6])  # F and G, in the order written
    order = [p for p, _ in plain]
    assert order.index(g_id) < order.index(f_id)  # by the question alone, G is nearer
    order = [p for p, _ in moved]
    assert order.index(f_id) < order.index(g_id)  # moved toward the five nearest, F overtakes G
    target = question + 0.5 * index.matrix[[_row(index, p) for p, _ in plain[:5]]].mean(axis=0)
    target /= np.linalg.norm(target)
    assert dict(moved)[f_id] == pytest.approx(float(index.matrix[_row(index, f_id)] @ target), abs=1e-6)
    assert index.search(question, 7, feedback=0) == plain


def _row(index: DenseIndex, passage_id: int) -> int:
    return int(np.flatnonzero(index.ids == passage_id)[0])


def _id_of(index: DenseIndex, vector: np.ndarray) -> int:
    """The passage whose stored (float16) vector is closest to ``vector``."""
    return int(index.ids[int(np.argmax(index.matrix @ vector))])
