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

# Plain-language selection for patients and caregivers (see bench/RESULTS.md, answer quality).
PLAIN_GRADE = 6.0
PLAIN_WORDS = 20
GRADE_WEIGHT = 0.08
WORD_WEIGHT = 0.01
PENALTY_CAP = 0.6
PLAIN_SOURCE_BONUS = 0.1
PLAIN_MAX_GRADE = 14.0
PLAIN_MAX_WORDS = 40
CUE_BONUS = 0.15


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
    r"more detailed information|other names for this|here (are|is) |find out |learn (how|about|more) )|"
    r"\b(listed below|the following list|this section)\b|"
    r", see [A-Z]|https?://|\bwww\.|\b[\w-]+\.(com|org|gov|net)\b|\bwebsite\.",
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
               plain: bool = False, cue: re.Pattern[str] | None = None) -> list[Candidate]:
    """Score every usable sentence of the top ``passages`` hits.

    ``plain`` (patients and caregivers) favours patient information and easy sentences and leaves
    out run-on and very hard ones, unless nothing else is left to quote.
    """
    out: list[Candidate] = []
    hard: list[Candidate] = []
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
            if plain:
                score += PLAIN_SOURCE_BONUS * (hit.document.doc_type == "patient information")
                score -= readability_penalty(sentence)
            if cue is not None and cue.search(sentence):
                score += CUE_BONUS
            c = Candidate(hit, a, b, sentence, section_key_for(hit, sentence), score, overlap, support)
            (hard if plain and too_hard(sentence) else out).append(c)
    return out or hard


def too_hard(sentence: str) -> bool:
    """A sentence no plain-language answer should quote: a run-on list or a grade far above 8."""
    return reading_grade(sentence) > PLAIN_MAX_GRADE or len(sentence.split()) > PLAIN_MAX_WORDS


def readability_penalty(sentence: str) -> float:
    """How much harder than plain language a sentence reads: its Flesch-Kincaid grade above
    ``PLAIN_GRADE`` and its length above ``PLAIN_WORDS`` words, capped so relevance still counts."""
    over_grade = max(0.0, reading_grade(sentence) - PLAIN_GRADE)
    over_words = max(0, len(sentence.split()) - PLAIN_WORDS)
    return min(PENALTY_CAP, GRADE_WEIGHT * over_grade + WORD_WEIGHT * over_words)


def near_duplicate(a: str, b: str, threshold: float = 0.6, containment: float = 0.8) -> bool:
    """The same point in other words: word-stem Jaccard above ``threshold``, or one sentence's
    stems nearly all inside the other's (a short restatement of a longer sentence)."""
    sa, sb = stems(a), stems(b)
    if not sa or not sb:
        return False
    shared = len(sa & sb)
    return shared / len(sa | sb) >= threshold or shared / min(len(sa), len(sb)) >= containment
