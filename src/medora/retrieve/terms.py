"""How much each word of a question matters in this library: IDF weights, focus terms, unknown words."""

from __future__ import annotations

import math
from dataclasses import dataclass

from medora.library.store import LibraryStore
from medora.retrieve.query import light_stem

FOCUS_TERMS = 6


@dataclass
class TermWeights:
    """IDF weights of the question's content terms in this library (stemmed keys)."""

    weights: dict[str, float]
    by_term: dict[str, float]

    unknown: dict[str, float] = None  # stems of terms the library never contains, with their weights

    @classmethod
    def build(cls, store: LibraryStore, terms: list[str]) -> "TermWeights":
        total, counts = store.term_frequencies(terms)
        by_term = {t: math.log((total + 1) / (counts.get(t, 0) + 0.5)) for t in terms}
        weights: dict[str, float] = {}
        unknown: dict[str, float] = {}
        for t, w in by_term.items():
            key = light_stem(t)
            target = weights if counts.get(t, 0) else unknown
            target[key] = max(target.get(key, 0.0), w)
        for key in list(unknown):
            if key in weights:  # another surface form of it is in the library
                del unknown[key]
        return cls(weights, by_term, unknown)

    @property
    def total(self) -> float:
        return sum(self.weights.values()) or 1.0

    def coverage(self, present: set[str]) -> float:
        return sum(w for s, w in self.weights.items() if s in present) / self.total

    def focus(self, n: int = FOCUS_TERMS) -> dict[str, float]:
        """The ``n`` most specific known terms: what the question is about."""
        return dict(sorted(self.weights.items(), key=lambda kv: -kv[1])[:n])

    def top_terms(self, n: int) -> list[str]:
        """The ``n`` most specific question words (as written) that the library contains."""
        known = [t for t in self.by_term if light_stem(t) in self.weights]
        return sorted(known, key=lambda t: -self.by_term[t])[:n]

    def rarest(self, n: int) -> list[str]:
        """The ``n`` question words (as written) with the highest IDF: what lexical search matches on."""
        return sorted(self.by_term, key=lambda t: -self.by_term[t])[:n]

    def unknown_share(self) -> float:
        """Share of the question's weight carried by words the library does not contain at all."""
        unknown = sum(self.unknown.values())
        return unknown / ((sum(self.weights.values()) + unknown) or 1.0)
