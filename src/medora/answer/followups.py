"""Suggested follow-up questions: what the retrieved evidence covers that the answer did not."""

from __future__ import annotations

from medora.answer.sections import HEADINGS
from medora.models import SearchHit

_TEMPLATES = {
    "definition": "What is {focus}?",
    "causes": "What causes {focus}?",
    "symptoms": "What are the symptoms of {focus}?",
    "diagnosis": "How is {focus} diagnosed?",
    "treatment": "What are the treatments for {focus}?",
    "prevention": "How can {focus} be prevented?",
    "outlook": "What is the outlook for {focus}?",
    "genetics": "Is {focus} inherited?",
    "side_effects": "What are the side effects of {focus}?",
    "interactions": "What interacts with {focus}?",
    "dosage": "What is the usual dose of {focus}?",
    "warnings": "What warnings come with {focus}?",
}


def suggest(hits: list[SearchHit], covered: set[str], question: str, limit: int = 3) -> list[str]:
    """Up to ``limit`` questions about sections the top documents hold but the answer did not use.

    A section heading that is itself a question (MedQuAD's are) is offered as written; other
    sections are phrased from a template around the document's title.
    """
    from medora.retrieve.understand import SECTION_TYPE_TO_KEY

    asked = question.strip().lower().rstrip("?")
    out: list[str] = []
    for hit in hits:
        key = SECTION_TYPE_TO_KEY.get(hit.passage.section_type or "")
        if not key or key in covered or key not in HEADINGS:
            continue
        heading = hit.passage.section_path[-1] if hit.passage.section_path else ""
        if heading.endswith("?") and len(heading) < 160:
            candidate = " ".join(heading.replace(" ?", "?").split())
        elif key in _TEMPLATES and len(hit.document.title) < 80:
            candidate = _TEMPLATES[key].format(focus=hit.document.title)
        else:
            continue
        if candidate.lower().rstrip("?") != asked and candidate not in out:
            out.append(candidate)
            covered = covered | {key}
        if len(out) >= limit:
            break
    return out
