"""Retrieval methods under evaluation, each turning a query into a ranked list of document ids.

Medora's own methods search the library built from the dataset's corpus (passages are
grouped to their document by best score); peers (``bm25s``) are independent
implementations run in the same process on the same corpus, so every number is a ratio
against something measured together.
"""

from __future__ import annotations

import json
from typing import Callable, Protocol

from medora.errors import UsageError
from medora.eval.beir import BeirDataset
from medora.library.store import LibraryStore
from medora.models import SearchHit
from medora.retrieve.dense import embed_library
from medora.retrieve.lexical import lexical_search
from medora.retrieve.search import FEEDBACK_PASSAGES, Retriever

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


class Retrieve:
    """Medora's retriever in a given mode: "default" (what ask uses), "dense:MODEL" or "hybrid:MODEL"."""

    def __init__(self, name: str, store: LibraryStore, mode: str, embedder: str | None,
                 progress: Callable[[str], None] = print, feedback: int = FEEDBACK_PASSAGES):
        self.name = name
        self.retriever = Retriever(store, mode=mode, embedder_spec=embedder, feedback=feedback)
        if embedder and mode in ("dense", "hybrid"):
            ensure_embedded(store, self.retriever.embedder(), progress)

    def search(self, query: str, k: int = DEPTH) -> list[tuple[str, float]]:
        hits = self.retriever.search(query, k=k * 3, depth=k * 3).hits
        return _documents(hits, k, "rerank")


def ensure_embedded(store: LibraryStore, embedder, progress: Callable[[str], None]) -> None:
    """Embed whatever the (cached) evaluation library still lacks for this model."""
    done, total = store.embedding_coverage(embedder.model_id)
    if done < total:
        progress(f"embedding {total - done:,} passages with {embedder.model_id} (cached for later runs)")
        report = embed_library(store, embedder)
        progress(f"embedded {report.embedded:,} passages in {report.seconds:.0f}s "
                 f"({report.embedded / max(report.seconds, 1e-9):.1f}/s)")


class Bm25sPeer:
    """Peer: the bm25s package (k1 1.2, b 0.75, English stopwords, PyStemmer) over title + text."""

    name = "bm25s"

    def __init__(self, dataset: BeirDataset):
        ids, texts = [], []
        with dataset.corpus.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    row = json.loads(line)
                    ids.append(str(row["_id"]))
                    texts.append(f"{row.get('title', '')} {row.get('text', '')}")
        self._index(ids, texts)

    @classmethod
    def over(cls, ids: list[str], texts: list[str]) -> Bm25sPeer:
        """The same peer over given texts (e.g. a library's passages) instead of a BEIR corpus."""
        peer = cls.__new__(cls)
        peer._index(ids, texts)
        return peer

    def _index(self, ids: list[str], texts: list[str]) -> None:
        try:
            import bm25s
            import Stemmer
        except ImportError:
            raise UsageError("the bm25s peer needs `pip install bm25s PyStemmer`") from None
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


BUILTIN = ("bm25", "default", "bm25s", "dense:MODEL", "hybrid:MODEL", "dense-nofb:MODEL", "hybrid-nofb:MODEL")
NO_FEEDBACK = "-nofb"  # a dense or hybrid method without pseudo-relevance feedback (the comparison run)


def make_method(name: str, store: LibraryStore, dataset: BeirDataset, *, embedder: str | None = None,
                progress: Callable[[str], None] = print) -> Method:
    """A method by name. ``default`` uses ``embedder`` (the configured model) when the library has its vectors."""
    if name == "bm25":
        return Bm25(store)
    if name == "default":
        return Retrieve(name, store, "auto", embedder, progress)
    if name == "bm25s":
        return Bm25sPeer(dataset)
    mode, _, model = name.partition(":")
    feedback = 0 if mode.endswith(NO_FEEDBACK) else FEEDBACK_PASSAGES
    mode = mode.removesuffix(NO_FEEDBACK)
    if mode in ("dense", "hybrid") and model:
        return Retrieve(name, store, mode, model, progress, feedback)
    raise UsageError(f"unknown method {name!r}; known: {', '.join(BUILTIN)}")
