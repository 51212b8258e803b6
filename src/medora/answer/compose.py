"""Compose an answer article from the library: retrieve, judge sufficiency, select, cite.

Extractive by construction: every statement is a sentence (light trim only) of the passage
it cites, with the exact quote and its offsets, so no statement can say what its source does not.
"""

from __future__ import annotations

import time

from medora.answer.evidence import (
    Candidate,
    candidates,
    evidence_coverage,
    near_duplicate,
)
from medora.answer.sections import HEADINGS
from medora.errors import UsageError
from medora.library.store import LibraryStore
from medora.models import (
    Answer,
    AnswerSection,
    Citation,
    Document,
    Reference,
    Statement,
)
from medora.retrieve.query import content_terms
from medora.retrieve.search import Retriever
from medora.retrieve.understand import QuestionKind, classify
from medora.settings import Settings

MAX_QUESTION_CHARS = 2000

DISCLAIMERS = {
    "clinician": (
        "For health professionals, for education and decision support only. Every statement quotes the cited "
        "source; check the source and use clinical judgment before acting."
    ),
}

INSUFFICIENT = (
    "The library does not hold enough evidence to answer this question, so Medora will not guess. "
    "The closest sources are listed below; they were not judged to answer it."
)


def evidence_label(doc: Document) -> str:
    parts = [doc.doc_type.capitalize()]
    if doc.grade:
        parts.append(f"Grade {doc.grade}")
    if doc.year:
        parts.append(str(doc.year))
    return " · ".join(parts)


def _title(question: str) -> str:
    q = " ".join(question.split())
    q = q[:1].upper() + q[1:]
    return q if q.endswith("?") else q.rstrip(".") + "?"


class _Citations:
    """Numbers references by first citation and builds Citation objects."""

    def __init__(self) -> None:
        self.numbers: dict[int, int] = {}
        self.references: list[Reference] = []

    def cite(self, c: Candidate) -> Citation:
        doc = c.hit.document
        if doc.id not in self.numbers:
            self.numbers[doc.id] = len(self.numbers) + 1
            self.references.append(reference(doc, self.numbers[doc.id], c.hit.passage.section_path))
        return Citation(
            ref=self.numbers[doc.id],
            passage_id=c.hit.passage.id,
            document_id=doc.id,
            quote=c.text,
            start=c.start,
            end=c.end,
        )


def reference(doc: Document, number: int, section_path: list[str] | None = None) -> Reference:
    return Reference(
        number=number,
        document_id=doc.id,
        source=doc.source,
        title=doc.title,
        publisher=doc.publisher,
        year=doc.year,
        url=doc.url,
        doc_type=doc.doc_type,
        grade=doc.grade,
        section=" › ".join(section_path) if section_path else None,
        evidence_label=evidence_label(doc),
    )


def answer_question(store: LibraryStore, question: str, settings: Settings, audience: str = "clinician",
                    retriever: Retriever | None = None) -> Answer:
    """The full extractive pipeline for one question."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    question = (question or "").replace("\x00", " ").strip()
    if len(question) > MAX_QUESTION_CHARS:
        raise UsageError(f"question is too long ({len(question):,} characters; the limit is {MAX_QUESTION_CHARS:,})")
    kind = classify(question)
    terms = content_terms(question)
    base = dict(question=question, title=_title(question) if question else "", audience=audience,
                question_type=kind.kind, disclaimer=DISCLAIMERS["clinician"])
    if not terms:
        return Answer(status="invalid_question", message="The question has no words Medora can search for.", **base)

    retriever = retriever or Retriever(store, mode=settings.retrieval, embedder_spec=settings.embedder)
    retrieval = retriever.search(question, k=settings.top_k)
    hits, weights = retrieval.hits, retrieval.weights
    timings["retrieve"] = (time.perf_counter() - t0) * 1000

    t1 = time.perf_counter()
    coverage = evidence_coverage(hits, weights)
    scores = {"evidence_coverage": round(coverage, 4), "threshold": settings.min_evidence}
    timings.update({f"retrieve.{k}": v for k, v in retrieval.timings_ms.items()})
    if hits:
        scores["top_bm25"] = round(hits[0].scores.get("bm25", 0.0), 4)
    if not hits or coverage < settings.min_evidence:
        closest, seen = [], set()
        for h in hits:
            if h.document.id not in seen and len(closest) < 3:
                seen.add(h.document.id)
                closest.append(reference(h.document, len(closest) + 1, h.passage.section_path))
        timings["select"] = (time.perf_counter() - t1) * 1000
        timings["total"] = (time.perf_counter() - t0) * 1000
        return Answer(status="insufficient_evidence", message=INSUFFICIENT, closest_sources=closest,
                      scores=scores, timings_ms=_round(timings), **base)

    pool = sorted(candidates(hits, weights, kind), key=lambda c: -c.score)
    timings["select"] = (time.perf_counter() - t1) * 1000

    t2 = time.perf_counter()
    bottom, sections = _select(pool, kind, settings.max_statements)
    cites = _Citations()
    bottom_line = [Statement(text=c.text, citations=[cites.cite(c)], kind="sentence") for c in bottom]
    answer_sections = [
        AnswerSection(key=key, heading=HEADINGS[key],
                      statements=[Statement(text=c.text, citations=[cites.cite(c)]) for c in chosen])
        for key, chosen in sections
    ]
    timings["compose"] = (time.perf_counter() - t2) * 1000
    timings["total"] = (time.perf_counter() - t0) * 1000
    return Answer(status="answered", bottom_line=bottom_line, sections=answer_sections,
                  references=cites.references, scores=scores, timings_ms=_round(timings), **base)


def _round(timings: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 2) for k, v in timings.items()}


def _select(pool: list[Candidate], kind: QuestionKind, max_statements: int):
    """Bottom line (1-2 sentences) and sections (in plan order), without near-duplicates."""
    chosen: list[Candidate] = []

    def fresh(c: Candidate) -> bool:
        return all(not near_duplicate(c.text, d.text) and (c.passage_id, c.start) != (d.passage_id, d.start)
                   for d in chosen)

    bottom: list[Candidate] = []
    # The bottom line comes from the best-ranked passages that answer this kind of question.
    supported = [c for c in pool if c.support >= 0.5]
    primary = ([c for c in supported if c.section_key == kind.primary and c.hit.rank <= 6]
               or [c for c in supported if c.hit.rank <= 3] or supported)
    words = 0
    for c in primary:
        n = len(c.text.split())
        if bottom and (len(bottom) >= 2 or words + n > 60):
            break
        if bottom and c.overlap == 0:  # a second sentence must itself speak to the question
            continue
        if fresh(c):
            bottom.append(c)
            chosen.append(c)
            words += n

    allowed = list(kind.plan)
    for c in pool[:5]:  # a strongly matching section outside the plan may still be shown
        if c.section_key not in allowed:
            allowed.append(c.section_key)
    if "seek_care" not in allowed:
        allowed.append("seek_care")
    best_score = pool[0].score if pool else 0.0
    sections = []
    budget = max_statements - len(bottom)
    for key in allowed:
        limit = 5 if key == kind.primary else 3
        picked: list[Candidate] = []
        for c in pool:
            if budget <= 0 or len(picked) >= limit:
                break
            if c.section_key != key or c.score < 0.45 * best_score:
                continue
            if fresh(c):
                picked.append(c)
                chosen.append(c)
                budget -= 1
        if picked:
            sections.append((key, picked))
    return bottom, sections
