"""Retrieval methods under evaluation, each turning a query into a ranked list of document ids.

Medora's own methods search the library built from the dataset's corpus (passages are
grouped to their document by best score); peers (``bm25s``) are independent
implementations run in the same process on the same corpus, so every number is a ratio
against something measured together.
"""

from __future__ import annotations

import json
from typing import Protocol

from medora.errors import UsageError
from medora.eval.beir import BeirDataset
from medora.library.store import LibraryStore
from medora.models import SearchHit
from medora.retrieve.lexical import lexical_search
from medora.retrieve.query import content_terms
from medora.retrieve.rank import rerank
from medora.retrieve.terms import TermWeights
from medora.retrieve.understand import classify

DEPTH = 100  # documents per query in run files


class Method(Protocol):
    name: str

    def search(self, query: str, k: int = DEPTH) -> list[tuple[str, float]]: ...


def _documents(hits: list[SearchHit], k: int, score_key: str | None = None) -> list[tuple[str, float]]:
    """First (best) appearance of each document, as (external id, score), at most ``k``."""
    out: dict[str, float] = {}
    for h in hits:
        ext = h.document.external_id
        if ext not in out:
            out[ext] = h.scores.get(score_key, h.score) if score_key else h.score
            if len(out) >= k:
                break
    return list(out.items())


class Bm25:
    """Medora's lexical path: FTS5 BM25 (porter stemming, stopwords dropped)."""

    name = "bm25"

    def __init__(self, store: LibraryStore):
        self.store = store

    def search(self, query: str, k: int = DEPTH) -> list[tuple[str, float]]:
        return _documents(lexical_search(self.store, query, limit=k * 3), k)


class Default:
    """What ``medora ask`` retrieves with: BM25, then the ranking policy (section fit, focus, authority)."""

    name = "default"

    def __init__(self, store: LibraryStore):
        self.store = store

    def search(self, query: str, k: int = DEPTH) -> list[tuple[str, float]]:
        hits = lexical_search(self.store, query, limit=k * 3)
        weights = TermWeights.build(self.store, content_terms(query))
        ranked = rerank(hits, classify(query), set(weights.weights))
        return _documents(ranked, k, "rerank")


class Bm25sPeer:
    """Peer: the bm25s package (k1 1.2, b 0.75, English stopwords, PyStemmer) over title + text."""

    name = "bm25s"

    def __init__(self, dataset: BeirDataset):
        try:
            import bm25s
            import Stemmer
        except ImportError:
            raise UsageError("the bm25s peer needs `pip install bm25s PyStemmer`") from None
        ids, texts = [], []
        with dataset.corpus.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    row = json.loads(line)
                    ids.append(str(row["_id"]))
                    texts.append(f"{row.get('title', '')} {row.get('text', '')}")
        self._bm25s = bm25s
        self.stemmer = Stemmer.Stemmer("english")
        self.ids = ids
        self.retriever = bm25s.BM25(k1=1.2, b=0.75)
        self.retriever.index(bm25s.tokenize(texts, stopwords="en", stemmer=self.stemmer, show_progress=False),
                             show_progress=False)

    def search(self, query: str, k: int = DEPTH) -> list[tuple[str, float]]:
        tokens = self._bm25s.tokenize([query], stopwords="en", stemmer=self.stemmer, show_progress=False)
        if not tokens.vocab:
            return []
        k = min(k, len(self.ids))
        docs, scores = self.retriever.retrieve(tokens, k=k, show_progress=False, n_threads=1)
        return [(self.ids[int(d)], float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]


BUILTIN = ("bm25", "default", "bm25s")


def make_method(name: str, store: LibraryStore, dataset: BeirDataset) -> Method:
    if name == "bm25":
        return Bm25(store)
    if name == "default":
        return Default(store)
    if name == "bm25s":
        return Bm25sPeer(dataset)
    raise UsageError(f"unknown method {name!r}; known: {', '.join(BUILTIN)}")
