"""The one retrieval entry point for answers and evaluation: lexical, dense or hybrid, then policy.

``Retriever.search`` first cleans the question (``normalize``: chatter, abbreviations, spelling),
then runs BM25 and, when the library has vectors from the configured model, dense search (with
pseudo-relevance feedback: the question's vector moves toward its nearest passages). The ranking
policy (``rank.rerank``: section fit, focus in the title, authority) orders each list on its own
scale, and the two are fused by a weighted sum of their min-max scaled policy scores (``combine``),
which keeps how far ahead a list's best passages are (reciprocal rank fusion discards that, and
lost on the dev sets: bench/RESULTS.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from medora.library.store import LibraryStore
from medora.models import SearchHit
from medora.retrieve.concepts import resolve_concepts
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

LEXICAL_WEIGHT = 0.5  # weight of the policy-ranked BM25 list against the policy-ranked dense list (see RESULTS)
MODES = ("auto", "lexical", "dense", "hybrid")
MATCH_TERMS = 12  # in hybrid search BM25 matches only a question's rarest words (see search)
MIN_COVERAGE = 0.95  # in "auto", dense joins only when this share of passages has vectors
LEXICAL_KEEP = 3  # in hybrid search the word search's best 3 passages always stay among the k returned
FEEDBACK_PASSAGES = 5  # dense search moves the question toward its 5 nearest passages (0: off; see RESULTS)


def combine(*scored: list[tuple[int, float]], weights: tuple[float, ...]) -> list[tuple[int, float]]:
    """Weighted sum of each list's scores scaled to 0..1 (its best 1, its last 0), best first (CombSUM).
    A passage missing from a list gets 0 from it; ties keep the order of first appearance."""
    fused: dict[int, float] = {}
    for weight, ranked in zip(weights, scored, strict=True):
        if not ranked:
            continue
        top, low = max(s for _, s in ranked), min(s for _, s in ranked)
        for pid, score in ranked:
            scaled = (score - low) / (top - low) if top > low else 1.0  # equal scores: all equally the best
            fused[pid] = fused.get(pid, 0.0) + weight * scaled
    return sorted(fused.items(), key=lambda kv: -kv[1])


def keep_lexical_best(fused: list[tuple[int, float]], lexical_best: list[int], k: int) -> list[tuple[int, float]]:
    """``fused`` with the word search's best passages inside its first ``k``: a rare name that only BM25 matches
    ("chlorhexidine", one passage) must not be pushed out by the dense list's look-alikes ("chloroprocaine")."""
    head = {pid for pid, _ in fused[:k]}
    missing = [pid for pid in lexical_best if pid not in head]
    if not missing:
        return fused
    scores = dict(fused)
    kept = [(pid, scores[pid]) for pid in missing]
    rest = [item for item in fused if item[0] not in missing]
    return rest[: k - len(kept)] + kept + rest[k - len(kept):]


def coverage_notice(coverage: tuple[int, int] | None, mode: str) -> list[str]:
    """What the reader should know when only part of the library has vectors (e.g. while
    ``library add``/``library embed`` runs in another process): the search fell back to words, or
    its dense half saw only the passages embedded so far. Nothing when every passage has one."""
    if not coverage or not coverage[1] or coverage[0] >= coverage[1]:
        return []
    share = min(99, 100 * coverage[0] // coverage[1])
    if mode == "lexical":
        return [f"Searching by words only: vectors are still being computed ({share}% done; "
                "`medora library embed` completes them)."]
    if mode == "dense":
        return [f"Vectors are still being computed ({share}% done): dense search saw only those passages."]
    return [f"Vectors are still being computed ({share}% done): the other passages were searched by words only."]


def _fused_hits(lexical: list[SearchHit], dense: list[SearchHit], fused: list[tuple[int, float]]) -> list[SearchHit]:
    """Hits in ``fused`` order, each carrying the scores both lists gave it (``rerank`` = the fused score)."""
    by_id: dict[int, SearchHit] = {}
    scores: dict[int, dict[str, float]] = {}
    for name, hits in (("dense", dense), ("lexical", lexical)):
        for h in hits:
            by_id.setdefault(h.passage.id, h)
            merged = scores.setdefault(h.passage.id, {})
            merged.update({k: v for k, v in h.scores.items() if k != "rerank"})
            merged[f"{name}_policy"] = h.scores["rerank"]
    out = []
    for rank, (pid, score) in enumerate(fused, 1):
        hit = by_id[pid]
        out.append(SearchHit(hit.passage, hit.document, score, rank, {**scores[pid], "hybrid": score, "rerank": score}))
    return out


@dataclass
class Retrieval:
    """What retrieval hands the answer layer."""

    hits: list[SearchHit]
    kind: QuestionKind
    weights: TermWeights
    mode: str
    timings_ms: dict[str, float] = field(default_factory=dict)
    question: NormalizedQuestion | None = None  # the question as searched, with its corrections
    notices: list[str] = field(default_factory=list)  # for the reader, e.g. that vectors are still being computed


_EMBEDDERS: dict[str, object] = {}  # spec -> loaded embedder (stateless, shared by every Retriever)


class Retriever:
    """Search one library; the embedder and its vectors load on first dense use and are reused."""

    def __init__(self, store: LibraryStore, *, mode: str = "auto", embedder_spec: str | None = None,
                 lexical_weight: float = LEXICAL_WEIGHT, normalize: frozenset[str] = DEFAULT_STEPS,
                 match_terms: int = MATCH_TERMS, feedback: int = FEEDBACK_PASSAGES):
        self.store = store
        self.feedback = feedback
        self.normalize = normalize  # normalize.STEPS to apply to each question
        self.speller = LibrarySpeller(store)
        self.concepts = lambda text: resolve_concepts(store, text)  # the library's concept index, cached
        self.lexical_weight = lexical_weight
        self.match_terms = match_terms
        self.mode = mode
        self.embedder_spec = embedder_spec
        self._embedder = None
        self._index = None
        self.coverage: tuple[int, int] | None = None  # (passages with vectors, passages) at the last check

    def dense_available(self) -> bool:
        self.coverage = None
        if self.mode == "lexical" or not self.embedder_spec or not self.store.has_embeddings():
            return False  # (checked before loading any model)
        embedder = self.embedder()
        from medora.retrieve.dense import coverage_for

        done, total = coverage_for(self.store, embedder.model_id)  # cached until the library changes
        self.coverage = (done, total)
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

    def _database_dense(self, query, depth: int) -> list[tuple[int, float]]:
        """Dense search by the database's own index; with feedback, a second search by the moved query."""
        from medora.retrieve.dense import moved_query

        model = self.embedder().model_id
        dense = self.store.dense_search(model, query, depth)
        if self.feedback and dense:
            nearest = self.store.passage_vectors(model, [pid for pid, _ in dense[: self.feedback]])
            dense = self.store.dense_search(model, moved_query(query, nearest), depth)
        return dense

    def search(self, question: str, k: int = 20, depth: int = 100,
               preference: dict[str, float] | None = None) -> Retrieval:
        """Top ``k`` passages; ``preference`` adds a bonus by document type (the reader's audience)."""
        timings: dict[str, float] = {}
        t = time.perf_counter()
        normalized = normalize_question(question, self.speller, self.normalize, concepts=self.concepts)
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
        hits = rerank(hydrate(self.store, lexical, "bm25"), kind, focus, preference)
        timings["rank"] = (time.perf_counter() - t) * 1000
        mode = "lexical"
        if dense_joins:
            t = time.perf_counter()
            query = self.embedder().embed_query(question)
            if hasattr(self.store, "dense_search"):  # the database has its own vector index (pgvector HNSW)
                dense = self._database_dense(query, depth)
            else:
                dense = self.index().search(query, depth, feedback=self.feedback)
            timings["dense"] = (time.perf_counter() - t) * 1000
            t = time.perf_counter()
            dense_hits = rerank(hydrate(self.store, dense, "dense"), kind, focus, preference)
            if self.mode == "dense":
                hits, mode = dense_hits, "dense"
            else:
                fused = combine([(h.passage.id, h.scores["rerank"]) for h in hits],
                                [(h.passage.id, h.scores["rerank"]) for h in dense_hits],
                                weights=(self.lexical_weight, 1.0))
                fused = keep_lexical_best(fused, [h.passage.id for h in hits[:LEXICAL_KEEP]], k)
                hits, mode = _fused_hits(hits, dense_hits, fused[: max(k * 2, k)]), "hybrid"
            timings["rank"] += (time.perf_counter() - t) * 1000
        return Retrieval(hits[:k], kind, weights, mode, timings, normalized, coverage_notice(self.coverage, mode))
