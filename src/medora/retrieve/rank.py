"""Ranking policy on top of retrieval: section fit, focus in the title, and evidence authority."""

from __future__ import annotations

from medora.models import Document, SearchHit
from medora.retrieve.query import stems
from medora.retrieve.understand import SECTION_TYPE_TO_KEY, QuestionKind

# Evidence authority policy (documented in docs/ARCHITECTURE.md): guidelines first, then syntheses,
# then primary studies, then narrative reviews, labels and patient information. A graded
# recommendation ranks above an ungraded text of the same type.
AUTHORITY = {
    "guideline": 1.0,
    "systematic review": 0.9,
    "meta-analysis": 0.9,
    "trial": 0.75,
    "drug label": 0.7,
    "cohort": 0.6,
    "case-control": 0.55,
    "review": 0.5,
    "patient information": 0.45,
    "article": 0.4,
    "case report": 0.3,
    "other": 0.2,
}


def authority(doc: Document) -> float:
    """0..1 authority of a document by type, with a small lift for a graded recommendation."""
    return min(1.0, AUTHORITY.get(doc.doc_type, 0.2) + (0.1 if doc.grade else 0.0)) / 1.0


def rerank(hits: list[SearchHit], kind: QuestionKind, focus_terms: set[str],
           preference: dict[str, float] | None = None) -> list[SearchHit]:
    """Prefer passages whose section answers this kind of question and whose title names the focus."""
    if not hits:
        return hits
    # Retrieval evidence on one scale whatever produced it (BM25 scores or fused reciprocal ranks):
    # the best hit 1, the last 0, so the policy bonuses below weigh the same against either.
    top, low = max(h.score for h in hits), min(h.score for h in hits)
    spread = (top - low) or 1.0
    for h in hits:
        key = SECTION_TYPE_TO_KEY.get(h.passage.section_type or "")
        title = stems(h.document.title)
        focus = len(title & focus_terms) / max(len(title), 1) if focus_terms else 0.0
        bonus = 0.3 if key == kind.primary else (0.1 if key in kind.plan else 0.0)
        h.scores["rerank"] = ((h.score - low) / spread + bonus + 0.4 * focus + 0.1 * authority(h.document)
                              + (preference or {}).get(h.document.doc_type, 0.0))
    ranked = sorted(hits, key=lambda h: -h.scores["rerank"])
    for i, h in enumerate(ranked, 1):
        h.rank = i
    return ranked
