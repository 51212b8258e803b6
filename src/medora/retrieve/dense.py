"""Dense retrieval: embed passages into the library (incrementally) and search them exactly.

Vectors are stored per passage text hash and model id (``embeddings`` table), as float16.
Search loads the searchable passages' vectors into one float32 matrix and takes the top k by dot
product, which is cosine similarity for unit vectors; optionally the question's vector first moves
toward its nearest passages (pseudo-relevance feedback), which finds more of the relevant passages.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from medora.library.store import LibraryStore
from medora.retrieve.embed_jobs import EmbedReport, InProcess, run_embed_job
from medora.retrieve.embeddings import Embedder


def embed_library(store: LibraryStore, embedder: Embedder, *, limit: int | None = None,
                  progress: Callable[[int, int, float], None] | None = None) -> EmbedReport:
    """Embed every searchable passage that has no vector from this model yet, in this process (resumable: batches commit)."""
    return run_embed_job(store, embedder, InProcess(embedder), limit=limit, progress=progress)


FEEDBACK_WEIGHT = 0.5  # how far pseudo-relevance feedback moves the query (see DenseIndex.search)
FEEDBACK_POOL = 2000  # passages the moved query ranks again: the first pass's nearest


class DenseIndex:
    """The library's vectors for one model, as a matrix, searched exactly."""

    def __init__(self, store: LibraryStore, model_id: str, dim: int):
        ids, rows = [], []
        for pid, blob in store.embedding_rows(model_id):
            ids.append(pid)
            rows.append(blob)
        self.model_id = model_id
        self.ids = np.asarray(ids, dtype=np.int64)
        # float32 in memory: numpy multiplies float16 without BLAS, ~20x slower
        self.matrix = (np.frombuffer(b"".join(rows), dtype=np.float16).reshape(len(rows), dim).astype(np.float32)
                       if rows else np.zeros((0, dim), dtype=np.float32))

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, query: np.ndarray, k: int, *, feedback: int = 0,
               weight: float = FEEDBACK_WEIGHT) -> list[tuple[int, float]]:
        """(passage id, cosine) of the ``k`` nearest passages, best first.

        With ``feedback`` = n > 0 (pseudo-relevance feedback, Rocchio's rule on vectors): the query
        moves toward the mean of its n nearest passages, ``q + weight * mean``, and the first pass's
        ``max(FEEDBACK_POOL, 4k)`` nearest passages are ranked again by the moved query (cosines are
        to the moved query). One scan of the matrix either way.
        """
        if not len(self.ids):
            return []
        scores = self.matrix @ query.astype(np.float32)
        if feedback <= 0:
            return self._top(np.arange(len(scores)), scores, k)
        pool = _nearest(scores, max(FEEDBACK_POOL, 4 * k))
        moved = moved_query(query, self.matrix[pool[:feedback]], weight)
        return self._top(pool, self.matrix[pool] @ moved, k)

    def _top(self, rows: np.ndarray, scores: np.ndarray, k: int) -> list[tuple[int, float]]:
        best = _nearest(scores, k)
        return [(int(self.ids[rows[i]]), float(scores[i])) for i in best]


def moved_query(query: np.ndarray, nearest: np.ndarray, weight: float = FEEDBACK_WEIGHT) -> np.ndarray:
    """Rocchio's rule on unit vectors: ``query + weight * mean(nearest rows)``, scaled to unit length."""
    moved = query.astype(np.float32) + np.float32(weight) * nearest.astype(np.float32).mean(axis=0)
    return moved / max(float(np.linalg.norm(moved)), 1e-12)


def _nearest(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` highest scores, highest first (ties in position order)."""
    k = min(k, len(scores))
    top = np.argpartition(-scores, k - 1)[:k]
    return top[np.argsort(-scores[top], kind="stable")]


def coverage_for(store: LibraryStore, model_id: str) -> tuple[int, int]:
    """``store.embedding_coverage(model_id)``, counted again only when ``data_version`` changed: the
    count joins every passage with its vector (seconds at 1M passages), too slow for every question."""
    cache = store.__dict__.setdefault("_dense_coverage", {})
    version = store.data_version()
    cached = cache.get(model_id)
    if cached is None or cached[0] != version:
        cache[model_id] = (version, store.embedding_coverage(model_id))
    return cache[model_id][1]


def index_for(store: LibraryStore, model_id: str, dim: int) -> DenseIndex:
    """The store's DenseIndex for ``model_id``, loaded once and reloaded only when passages or
    vectors changed (``data_version``), so each question does not re-read every vector."""
    cache = store.__dict__.setdefault("_dense_indexes", {})
    version = store.data_version()
    cached = cache.get(model_id)
    if cached is None or cached[0] != version:
        cache[model_id] = (version, DenseIndex(store, model_id, dim))
    return cache[model_id][1]
