"""Evidence selection: from retrieved passages to scored candidate sentences.

Each sentence of the top passages is scored for the question (IDF-weighted term overlap),
the passage's retrieval rank, and whether its section answers the kind of question asked.
Sufficiency is judged separately: how much of the question's weighted terms the best
passages cover at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from medora.answer.audience import reading_grade
from medora.answer.sections import is_seek_care
from medora.models import SearchHit
from medora.retrieve.query import stems
from medora.retrieve.terms import TermWeights
from medora.retrieve.understand import SECTION_TYPE_TO_KEY, QuestionKind


@dataclass
class Candidate:
    """A sentence that could become a statement."""

    hit: SearchHit
    start: int
    end: int
    text: str
    section_key: str
    score: float
    overlap: float  # share of the question's weighted terms in the sentence itself
    support: float  # ... in the sentence plus its document title and section headings

    @property
    def passage_id(self) -> int:
        return self.hit.passage.id


_BULLET = re.compile(r"^(?:[-•*▪◦·]|\(?\d{1,2}[.)]|[a-z][.)])\s+")
_HEADING_LIKE = re.compile(r"^[A-Z][A-Za-z ,/&-]{0,60}$")
# A statement must read as a sentence: capital or digit first, terminal punctuation last.
_STARTS_WELL = re.compile(r"^[\"'“(\[]?[A-Z0-9]")
_ENDS_WELL = re.compile(r"[.!][\"'”)\]]*$|\)\.?$")
_DANGLING = re.compile(r"\b(such as|include|includes|including|following|are|is|of|and|or)\W*$", re.IGNORECASE)
# Sentences about the page rather than the medicine.
_META = re.compile(
    r"^(see |click |call 1-|you may report|check the list|this summary|these are not all|for more information|"
    r"gene ?review|genetic testing registry|the human phenotype ontology|the following|read the |"
    r"more detailed information|other names for this)|\b(listed below|the following list|this section)\b",
    re.IGNORECASE,
)


def usable_statement(sentence: str) -> bool:
    """Whether a source sentence can stand alone as a statement in an article."""
    n_words = len(sentence.split())
    return (
        5 <= n_words <= 90
        and bool(_STARTS_WELL.match(sentence))
        and bool(_ENDS_WELL.search(sentence))
        and not _DANGLING.search(sentence.rstrip(".!"))
        and not _META.search(sentence)
        and "|" not in sentence
        and not _HEADING_LIKE.match(sentence)
        and not _title_case(sentence)
    )


def _title_case(sentence: str) -> bool:
    """A heading or document title that ended up as a line ("Childhood Leukemia Treatment.")."""
    words = [w for w in sentence.split() if w[:1].isalpha()]
    return len(words) <= 12 and sum(w[0].isupper() for w in words) >= 0.7 * len(words)


def trim_sentence(text: str, start: int, end: int) -> tuple[int, int]:
    """Drop a leading list marker from text[start:end]; returns new offsets (light trimming only)."""
    m = _BULLET.match(text[start:end])
    if m:
        start += m.end()
    return start, end


def evidence_coverage(hits: list[SearchHit], weights: TermWeights, top: int = 3) -> float:
    """Share of the question's focus-term weight found in the best single passage among the top few.

    Only the most specific known terms count (long consumer questions carry many incidental
    words), and the share of the question made of words the library lacks entirely scales it
    down: "the capital of Mongolia" is not answered by a passage that mentions a capital.
    """
    focus = weights.focus()
    total = sum(focus.values()) or 1.0
    best = 0.0
    for hit in hits[:top]:
        present = stems(hit.document.title + " " + " ".join(hit.passage.section_path) + " " + hit.passage.text)
        best = max(best, sum(w for s, w in focus.items() if s in present) / total)
    return best * (1.0 - weights.unknown_share())


def section_key_for(hit: SearchHit, sentence: str) -> str:
    if is_seek_care(sentence):
        return "seek_care"
    key = SECTION_TYPE_TO_KEY.get(hit.passage.section_type or "")
    if key:
        return key
    if hit.document.doc_type in ("trial", "meta-analysis", "systematic review", "cohort", "article"):
        return "findings"
    return "background"


def candidates(hits: list[SearchHit], weights: TermWeights, kind: QuestionKind, passages: int = 12,
               plain: bool = False) -> list[Candidate]:
    """Score every usable sentence of the top ``passages`` hits; ``plain`` favours easy-to-read ones."""
    out: list[Candidate] = []
    for hit in hits[:passages]:
        p = hit.passage
        context = stems(hit.document.title + " " + " ".join(p.section_path))
        section_match = SECTION_TYPE_TO_KEY.get(p.section_type or "") in kind.plan
        primary_match = SECTION_TYPE_TO_KEY.get(p.section_type or "") == kind.primary
        if kind.yes_no and p.section_type == "conclusions":
            primary_match = True  # a yes/no question is answered by a study's conclusion
        rank_prior = 1.0 / (1.0 + 0.25 * (hit.rank - 1))
        for a, b in p.sentences:
            a, b = trim_sentence(p.text, a, b)
            sentence = p.text[a:b]
            if not usable_statement(sentence):
                continue
            own = stems(sentence)
            overlap = weights.coverage(own)
            support = weights.coverage(own | context)
            score = 0.4 * overlap + 0.2 * support + 0.3 * rank_prior
            score += 0.25 if primary_match else (0.1 if section_match else 0.0)
            if plain:  # patients and caregivers: prefer sentences at or below reading grade 8
                score -= min(0.3, 0.03 * max(0.0, reading_grade(sentence) - 8.0))
            out.append(Candidate(hit, a, b, sentence, section_key_for(hit, sentence), score, overlap, support))
    return out


def near_duplicate(a: str, b: str, threshold: float = 0.6, containment: float = 0.8) -> bool:
    """The same point in other words: word-stem Jaccard above ``threshold``, or one sentence's
    stems nearly all inside the other's (a short restatement of a longer sentence)."""
    sa, sb = stems(a), stems(b)
    if not sa or not sb:
        return False
    shared = len(sa & sb)
    return shared / len(sa | sb) >= threshold or shared / min(len(sa), len(sb)) >= containment
