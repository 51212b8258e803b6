"""Does a text quote a gold sentence? Token F1 on lower-cased words, as MedicationQA is scored.

A gold answer is split into sentences (Medora's own splitter); sentences shorter than
``MIN_WORDS`` words are dropped (too short to tell a quote from a coincidence). A statement
quotes a gold sentence when the F1 of their word multisets is at least ``F1_HIT``.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from medora.library.sentences import split_sentences

F1_HIT = 0.6
MIN_WORDS = 6
_WORD = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    """Lower-cased words (letters and digits; punctuation and hyphens split words)."""
    return _WORD.findall(text.lower())


def token_f1(a: Counter, b: Counter) -> float:
    """F1 of two word multisets (SQuAD-style: overlap counted with multiplicity)."""
    common = sum((a & b).values())
    if not common:
        return 0.0
    precision, recall = common / sum(a.values()), common / sum(b.values())
    return 2 * precision * recall / (precision + recall)


def gold_sentences(answer: str, min_words: int = MIN_WORDS) -> list[str]:
    """The gold answer's sentences of at least ``min_words`` words."""
    return [s for s in (answer[a:b] for a, b in split_sentences(answer)) if len(words(s)) >= min_words]


@dataclass(frozen=True)
class QuoteMatch:
    """The best (text, gold sentence) pair found; ``hit`` when its F1 reaches the threshold."""

    f1: float
    text: str | None = None
    gold: str | None = None
    index: int | None = None  # position of ``text`` in the texts searched

    @property
    def hit(self) -> bool:
        return self.f1 >= F1_HIT


def best_quote(texts: list[str], gold: list[str]) -> QuoteMatch:
    """The pair of one of ``texts`` and one ``gold`` sentence with the highest token F1."""
    best = QuoteMatch(0.0)
    golds = [(g, Counter(words(g))) for g in gold]
    for i, text in enumerate(texts):
        bag = Counter(words(text))
        for g, gbag in golds:
            f1 = token_f1(bag, gbag)
            if f1 > best.f1:
                best = QuoteMatch(f1, text, g, i)
    return best
