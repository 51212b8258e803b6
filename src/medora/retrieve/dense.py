"""Dense retrieval: embed passages into the library (incrementally) and search them exactly.

Vectors are stored per passage text hash and model id (``embeddings`` table), as float16.
Search loads the searchable passages' vectors into one float32 matrix and takes the top k by dot product, which is cosine similarity for unit vectors.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from medora.library.store import LibraryStore
from medora.retrieve.embeddings import Embedder

EMBED_BATCH = 64


@dataclass
class EmbedReport:
    model_id: str
    embedded: int
    total_searchable: int
    seconds: float


def embed_library(store: LibraryStore, embedder: Embedder, *, limit: int | None = None,
                  progress: Callable[[int, int, float], None] | None = None) -> EmbedReport:
    """Embed every searchable passage that has no vector from this model yet (resumable: batches commit)."""
    started = time.perf_counter()
    done_before, total = store.embedding_coverage(embedder.model_id)
    todo = total - done_before
    embedded = 0
    while limit is None or embedded < limit:
        size = EMBED_BATCH if limit is None else min(EMBED_BATCH, limit - embedded)
        batch = store.missing_embeddings(embedder.model_id, size)
        if not batch:
            break
        vectors = embedder.embed_passages([text for _, text in batch]).astype(np.float16)
        store.put_embeddings(embedder.model_id, embedder.dim, [(h, v.tobytes()) for (h, _), v in zip(batch, vectors)])
        embedded += len(batch)
        if progress:
            progress(embedded, todo, time.perf_counter() - started)
    return EmbedReport(embedder.model_id, embedded, total, time.perf_counter() - started)


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


def index_for(store: LibraryStore, model_id: str, dim: int) -> DenseIndex:
    """The store's DenseIndex for ``model_id``, loaded once and reloaded only when passages or
    vectors changed (``data_version``), so each question does not re-read every vector."""
    cache = store.__dict__.setdefault("_dense_indexes", {})
    version = store.data_version()
    cached = cache.get(model_id)
    if cached is None or cached[0] != version:
        cache[model_id] = (version, DenseIndex(store, model_id, dim))
    return cache[model_id][1]
