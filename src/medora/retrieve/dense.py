"""Dense retrieval: embed passages into the library (incrementally) and search them exactly.

Vectors are stored per passage text hash and model id (``embeddings`` table), as float16.
Search loads the searchable passages' vectors into one float32 matrix and takes the top k by dot product, which is cosine similarity for unit vectors.
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

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(passage id, cosine) of the ``k`` nearest passages, best first."""
        if not len(self.ids):
            return []
        scores = self.matrix @ query.astype(np.float32)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(self.ids[i]), float(scores[i])) for i in top]


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
