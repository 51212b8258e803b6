"""The one retrieval entry point for answers and evaluation: lexical, dense or hybrid, then policy.

``Retriever.search`` first cleans the question (``normalize``: chatter, abbreviations, spelling),
then runs BM25 and, when the library has vectors from the configured model, dense search; the
ranking policy (``rank.rerank``: section fit, focus in the title, authority) orders the BM25 list
and the two lists are fused by weighted reciprocal rank fusion (RRF).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from medora.library.store import LibraryStore
from medora.models import SearchHit
from medora.retrieve.lexical import hydrate
from medora.retrieve.normalize import (
    DEFAULT_STEPS,
    LibrarySpeller,
    NormalizedQuestion,
    normalize_question,
)
from medora.retrieve.query import content_terms, fts_match
from medora.retrieve.rank import rerank
from medora.retrieve.terms import TermWeights
from medora.retrieve.understand import QuestionKind, classify

RRF_K = 60
LEXICAL_WEIGHT = 0.3  # weight of the policy-ranked BM25 list against the dense list in fusion (see RESULTS)
MODES = ("auto", "lexical", "dense", "hybrid")
MATCH_TERMS = 12  # in hybrid search BM25 matches only a question's rarest words (see search)
MIN_COVERAGE = 0.95  # in "auto", dense joins only when this share of passages has vectors


def rrf(*ranked_lists: list[tuple[int, float]], k: int = RRF_K,
        weights: tuple[float, ...] | None = None) -> list[tuple[int, float]]:
    """Weighted reciprocal rank fusion of ranked (id, score) lists: sum of weight / (k + rank)."""
    fused: dict[int, float] = {}
    for i, ranked in enumerate(ranked_lists):
        w = weights[i] if weights else 1.0
        for rank, (pid, _) in enumerate(ranked, 1):
            fused[pid] = fused.get(pid, 0.0) + w / (k + rank)
    return sorted(fused.items(), key=lambda kv: -kv[1])


@dataclass
class Retrieval:
    """What retrieval hands the answer layer."""

    hits: list[SearchHit]
    kind: QuestionKind
    weights: TermWeights
    mode: str
    timings_ms: dict[str, float] = field(default_factory=dict)
    question: NormalizedQuestion | None = None  # the question as searched, with its corrections


_EMBEDDERS: dict[str, object] = {}  # spec -> loaded embedder (stateless, shared by every Retriever)


class Retriever:
    """Search one library; the embedder and its vectors load on first dense use and are reused."""

    def __init__(self, store: LibraryStore, *, mode: str = "auto", embedder_spec: str | None = None,
                 lexical_weight: float = LEXICAL_WEIGHT, normalize: frozenset[str] = DEFAULT_STEPS,
                 match_terms: int = MATCH_TERMS):
        self.store = store
        self.normalize = normalize  # normalize.STEPS to apply to each question
        self.speller = LibrarySpeller(store)
        self.lexical_weight = lexical_weight
        self.match_terms = match_terms
        self.mode = mode
        self.embedder_spec = embedder_spec
        self._embedder = None
        self._index = None

    def dense_available(self) -> bool:
        if self.mode == "lexical" or not self.embedder_spec or not self.store.has_embeddings():
            return False  # (checked before loading any model)
        embedder = self.embedder()
        from medora.retrieve.dense import coverage_for

        done, total = coverage_for(self.store, embedder.model_id)  # cached until the library changes
        return total > 0 and (self.mode in ("dense", "hybrid") or done / total >= MIN_COVERAGE)

    def embedder(self):
        if self._embedder is None:
            if self.embedder_spec not in _EMBEDDERS:  # loading a model takes ~0.5 s: once per process
                from medora.retrieve.embeddings import get_embedder

                _EMBEDDERS[self.embedder_spec] = get_embedder(self.embedder_spec)
            self._embedder = _EMBEDDERS[self.embedder_spec]
        return self._embedder

    def index(self):
        if self._index is None:
            from medora.retrieve.dense import index_for

            e = self.embedder()
            self._index = index_for(self.store, e.model_id, e.dim)
        return self._index

    def search(self, question: str, k: int = 20, depth: int = 100,
               preference: dict[str, float] | None = None) -> Retrieval:
        """Top ``k`` passages; ``preference`` adds a bonus by document type (the reader's audience)."""
        timings: dict[str, float] = {}
        t = time.perf_counter()
        normalized = normalize_question(question, self.speller, self.normalize)
        question = normalized.text
        timings["normalize"] = (time.perf_counter() - t) * 1000
        dense_joins = self.mode != "lexical" and self.dense_available()
        t = time.perf_counter()
        kind = classify(question)
        terms = content_terms(question)
        weights = TermWeights.build(self.store, terms)
        # With dense results to fuse, BM25 matches only the rarest words (at 1M passages a long message's
        # common words cost ~1 s; hybrid quality is unchanged). Alone, BM25 needs every word.
        match = fts_match(weights.rarest(self.match_terms) if dense_joins else terms)
        lexical = self.store.lexical_search(match, depth) if self.mode != "dense" else []
        focus = set(weights.weights)
        timings["lexical"] = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        # The ranking policy reorders the BM25 list (its scores have the spread the policy's bonuses
        # were tuned against); dense results then join by rank fusion.
        hits = rerank(hydrate(self.store, lexical, "bm25"), kind, focus, preference)
        timings["rank"] = (time.perf_counter() - t) * 1000
        mode = "lexical"
        if dense_joins:
            t = time.perf_counter()
            query = self.embedder().embed_query(question)
            if hasattr(self.store, "dense_search"):  # the database has its own vector index (pgvector HNSW)
                dense = self.store.dense_search(self.embedder().model_id, query, depth)
            else:
                dense = self.index().search(query, depth)
            timings["dense"] = (time.perf_counter() - t) * 1000
            if self.mode == "dense":
                hits, mode = rerank(hydrate(self.store, dense, "dense"), kind, focus, preference), "dense"
            else:
                policy_ranked = [(h.passage.id, h.scores["rerank"]) for h in hits]
                fused = rrf(policy_ranked, dense, weights=(self.lexical_weight, 1.0))
                hits, mode = hydrate(self.store, fused[: max(k * 2, k)], "hybrid"), "hybrid"
                for i, h in enumerate(hits, 1):
                    h.scores["rerank"] = h.score  # the fused score is the final ranking score
                    h.rank = i
        return Retrieval(hits[:k], kind, weights, mode, timings, normalized)
