"""Lexical retrieval: BM25 over the library's FTS5 index."""

from __future__ import annotations

from medora.library.store import LibraryStore
from medora.models import SearchHit
from medora.retrieve.normalize import DEFAULT_STEPS, LibrarySpeller, normalize_question
from medora.retrieve.query import content_terms, fts_match


def lexical_search(store: LibraryStore, question: str, limit: int = 20,
                   normalize: frozenset[str] = DEFAULT_STEPS) -> list[SearchHit]:
    """Top ``limit`` passages for ``question`` (cleaned by the ``normalize`` steps) by BM25, with their documents."""
    from medora.retrieve.concepts import resolve_concepts

    resolver = lambda text: resolve_concepts(store, text)  # noqa: E731
    terms = content_terms(normalize_question(question, LibrarySpeller(store), normalize, concepts=resolver).text)
    ranked = store.lexical_search(fts_match(terms), limit)
    return hydrate(store, ranked, "bm25")


def hydrate(store: LibraryStore, ranked: list[tuple[int, float]], score_name: str) -> list[SearchHit]:
    """Turn (passage id, score) pairs into SearchHits, keeping order; retired documents are dropped."""
    passages = store.passages([pid for pid, _ in ranked])
    documents = store.documents(list({p.document_id for p in passages.values()}))
    hits: list[SearchHit] = []
    for pid, score in ranked:
        passage = passages.get(pid)
        if passage is None:
            continue
        document = documents.get(passage.document_id)
        if document is None or document.status != "active":
            continue
        hits.append(SearchHit(passage, document, score, len(hits) + 1, {score_name: score}))
    return hits
