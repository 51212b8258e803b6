"""Evidence selection: from retrieved passages to scored candidate sentences.

Each sentence of the top passages is scored for the question (IDF-weighted term overlap),
the passage's retrieval rank, and whether its section answers the kind of question asked.
Sufficiency is judged separately: how much of the question's weighted terms the best
passages cover at all.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from medora.answer.questions import SECTION_TYPE_TO_KEY, QuestionKind, is_seek_care
from medora.library.store import LibraryStore
from medora.models import SearchHit
from medora.retrieve.query import tokenize

_SUFFIXES = ("ational", "ization", "fulness", "iveness", "ations", "ation", "ments", "ment", "ness", "ings",
             "ing", "ies", "ied", "ers", "er", "ed", "es", "ly", "s")


def light_stem(word: str) -> str:
    """A small suffix stripper so 'symptoms' meets 'symptom' and 'treated' meets 'treat'."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    return word


def stems(text: str) -> set[str]:
    return {light_stem(t) for t in tokenize(text)}


@dataclass
class TermWeights:
    """IDF weights of the question's content terms in this library (stemmed keys)."""

    weights: dict[str, float]
    by_term: dict[str, float]

    @classmethod
    def build(cls, store: LibraryStore, terms: list[str]) -> "TermWeights":
        total, counts = store.term_frequencies(terms)
        by_term = {t: math.log((total + 1) / (counts.get(t, 0) + 0.5)) for t in terms}
        weights: dict[str, float] = {}
        for t, w in by_term.items():
            key = light_stem(t)
            weights[key] = max(weights.get(key, 0.0), w)
        return cls(weights, by_term)

    @property
    def total(self) -> float:
        return sum(self.weights.values()) or 1.0

    def coverage(self, present: set[str]) -> float:
        return sum(w for s, w in self.weights.items() if s in present) / self.total


@dataclass
class Candidate:
    """A sentence that could become a statement."""

    hit: SearchHit
    start: int
    end: int
    text: str
    section_key: str
    score: float
    overlap: float

    @property
    def passage_id(self) -> int:
        return self.hit.passage.id


_BULLET = re.compile(r"^(?:[-•*▪◦·]|\(?\d{1,2}[.)]|[a-z][.)])\s+")
_HEADING_LIKE = re.compile(r"^[A-Z][A-Za-z ,/&-]{0,60}$")


def trim_sentence(text: str, start: int, end: int) -> tuple[int, int]:
    """Drop a leading list marker from text[start:end]; returns new offsets (light trimming only)."""
    m = _BULLET.match(text[start:end])
    if m:
        start += m.end()
    return start, end


def evidence_coverage(hits: list[SearchHit], weights: TermWeights, top: int = 3) -> float:
    """Share of the question's IDF weight found in the best single passage among the top few."""
    best = 0.0
    for hit in hits[:top]:
        present = stems(hit.document.title + " " + " ".join(hit.passage.section_path) + " " + hit.passage.text)
        best = max(best, weights.coverage(present))
    return best


def section_key_for(hit: SearchHit, sentence: str) -> str:
    if is_seek_care(sentence):
        return "seek_care"
    key = SECTION_TYPE_TO_KEY.get(hit.passage.section_type or "")
    if key:
        return key
    if hit.document.doc_type in ("trial", "meta-analysis", "systematic review", "cohort", "article"):
        return "findings"
    return "background"


def candidates(hits: list[SearchHit], weights: TermWeights, kind: QuestionKind, passages: int = 12) -> list[Candidate]:
    """Score every usable sentence of the top ``passages`` hits."""
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
            n_words = len(sentence.split())
            if n_words < 5 or n_words > 90 or sentence.endswith(":") or _HEADING_LIKE.match(sentence):
                continue
            own = stems(sentence)
            overlap = weights.coverage(own)
            support = weights.coverage(own | context)
            score = 0.45 * overlap + 0.25 * support + 0.2 * rank_prior
            score += 0.25 if primary_match else (0.1 if section_match else 0.0)
            out.append(Candidate(hit, a, b, sentence, section_key_for(hit, sentence), score, overlap))
    return out


def near_duplicate(a: str, b: str, threshold: float = 0.6) -> bool:
    """Jaccard overlap of word stems above ``threshold``: the same point in other words."""
    sa, sb = stems(a), stems(b)
    if not sa or not sb:
        return False
    return len(sa & sb) / len(sa | sb) >= threshold
