"""Find the library's concepts (drugs, conditions) named in a question: exact names, then misspelt drugs.

``resolve_concepts(store, text)`` looks every n-gram of the question (up to ``MAX_WORDS`` words)
up in the library's concept names, normalized as the index normalizes them (case, punctuation,
simple plurals: ``library.concepts.normalize_name``), and keeps the longest non-overlapping
matches. A word that no English word list knows and that matched nothing exactly is compared with
the drug names (brand, generic, substance) by Jaro-Winkler similarity (rapidfuzz): "Coumadine" ->
Coumadin (warfarin), "amoxcicilin" -> amoxicillin. Brand names and synonyms made only of common
English words ("Pain Relief", "Night Time") are never matched. The name index is built once per
library version (``store.concepts_version()``, an O(1) read) and kept for the process.
"""

from __future__ import annotations

import re
import threading
import weakref
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable

from medora.library.concepts import normalize_name
from medora.library.store import LibraryStore
from medora.retrieve.normalize import WORD_LISTS, word_list
from medora.retrieve.query import STOPWORDS

MAX_WORDS = 8  # longest name looked up, in words
FUZZY_CUTOFF = 0.90  # Jaro-Winkler similarity a misspelt drug name needs (bench/concept_coverage.py --sweep)
FUZZY_MIN_CHARS = 6  # shorter words are never matched fuzzily ("tabet" is not Tabrecta)
_TOKEN = re.compile(r"[^\W_]+(?:['\u2019]s\b)?")
# Debian's American/British lists with their case: a lower-case entry is a common word, "Coumadin" is not.
COMMON_WORD_LISTS = tuple(p for p in WORD_LISTS if p.parent.name == "dict")


@dataclass(frozen=True)
class ConceptMatch:
    """A concept named in a question: where (``span`` into the text), as which library name, how sure."""

    concept_id: int
    kind: str
    preferred: str
    matched_text: str  # as written in the question
    span: tuple[int, int]
    score: float  # 1.0 for an exact (normalized) name, else the misspelling's similarity
    doc_ids: tuple[int, ...]
    name: str = ""  # the library's name it matched ("Coumadin")
    name_kind: str = ""  # preferred, brand, generic, substance, synonym
    fuzzy: bool = False

    def as_dict(self) -> dict:
        return {"concept_id": self.concept_id, "kind": self.kind, "preferred": self.preferred,
                "matched_text": self.matched_text, "span": list(self.span), "score": round(self.score, 4),
                "name": self.name, "name_kind": self.name_kind, "fuzzy": self.fuzzy, "doc_ids": list(self.doc_ids)}


@lru_cache(maxsize=2)
def common_words(paths: tuple[Path, ...] = COMMON_WORD_LISTS) -> frozenset[str]:
    """Lower-case entries of the English word lists (proper nouns and brands are capitalized there),
    normalized like names; only the stopwords when no list is installed."""
    words = set(STOPWORDS)
    for path in paths:
        if path.is_file():
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                word = line.split("/", 1)[0].strip()
                if word.isalpha() and word.islower():
                    words.add(normalize_name(word))
    return frozenset(words)


@dataclass
class ConceptIndex:
    """The library's concept names in memory: {normalized name: [(concept, name, name kind)]} and drug names."""

    concepts: dict[int, tuple[str, str]] = field(default_factory=dict)  # id -> (kind, preferred)
    names: dict[str, list[tuple[int, str, str]]] = field(default_factory=dict)
    documents: dict[int, tuple[int, ...]] = field(default_factory=dict)
    drug_words: dict[str, list[str]] = field(default_factory=dict)  # one-word drug names by first letter
    drug_stems: dict[str, str] = field(default_factory=dict)  # Porter stem -> one-word drug name ("coumadin")
    longest: int = 1

    @classmethod
    def from_store(cls, store: LibraryStore) -> ConceptIndex:
        index = cls()
        common = common_words()
        links: dict[int, list[int]] = {}
        for concept_id, doc_id in store.concept_links():
            links.setdefault(concept_id, []).append(doc_id)
        index.documents = {c: tuple(d) for c, d in links.items()}
        seen: set[tuple[int, str]] = set()
        drug_words: set[str] = set()  # one-word drug names, for misspellings
        for concept_id, kind, preferred, norm, name, name_kind in store.concept_names():
            index.concepts[concept_id] = (kind, preferred)
            words = norm.split()
            if not words or len(words) > MAX_WORDS or norm in STOPWORDS:
                continue
            if name_kind in ("brand", "synonym") and all(w in common for w in words):
                continue  # "Pain Relief", "Sure", "Night Time": English, not a name
            if (concept_id, norm) in seen:
                continue
            seen.add((concept_id, norm))
            index.names.setdefault(norm, []).append((concept_id, name, name_kind))
            index.longest = max(index.longest, len(words))
            if kind == "drug" and len(words) == 1 and len(norm) >= FUZZY_MIN_CHARS and norm.isalpha():
                drug_words.add(norm)
        stem = _stemmer()
        for word in sorted(drug_words):
            index.drug_words.setdefault(word[0], []).append(word)
            index.drug_stems.setdefault(stem(word), word)
        return index

    def resolve(self, text: str, *, fuzzy: bool = True, cutoff: float = FUZZY_CUTOFF,
                in_library: Callable[[str], bool] | None = None) -> list[ConceptMatch]:
        """Concepts named in ``text``, in text order (longest non-overlapping spans; every concept of a span).

        A word is compared with drug names only when no word list knows it; ``in_library(word)``
        (the library's own vocabulary) keeps words the library's text uses from being compared, except
        one whose stem is a drug name's ("Coumadine" is Coumadin)."""
        tokens = [(m.start(), m.end(), normalize_name(m.group())) for m in _TOKEN.finditer(text)]
        tokens = [t for t in tokens if t[2]]
        found: list[tuple[int, int, str, float, bool]] = []  # (first token, last token + 1, norm, score, fuzzy)
        for i in range(len(tokens)):
            for n in range(min(self.longest, len(tokens) - i), 0, -1):
                norm = " ".join(t[2] for t in tokens[i:i + n])
                if norm in self.names:
                    found.append((i, i + n, norm, 1.0, False))
        if fuzzy and self.drug_words:
            covered = {k for a, b, *_ in found for k in range(a, b)}
            for i, (start, end, norm) in enumerate(tokens):
                if i not in covered and self._may_be_misspelt(text[start:end], norm):
                    near = self._nearest_drug(norm, cutoff, in_library)
                    if near:
                        found.append((i, i + 1, near[0], near[1], True))
        chosen: list[tuple[int, int, str, float, bool]] = []
        taken: set[int] = set()
        for a, b, norm, score, is_fuzzy in sorted(found, key=lambda f: (-(f[1] - f[0]), -f[3], f[0])):
            if taken.isdisjoint(range(a, b)):
                chosen.append((a, b, norm, score, is_fuzzy))
                taken.update(range(a, b))
        out: list[ConceptMatch] = []
        for a, b, norm, score, is_fuzzy in sorted(chosen):
            start, end = tokens[a][0], tokens[b - 1][1]
            entries = self.names[norm]
            if any(kind == "preferred" for _, _, kind in entries):  # "Charcot-Marie-Tooth disease" is itself a
                entries = [e for e in entries if e[2] != "synonym"]  # concept: not every subtype naming it
            for concept_id, name, name_kind in entries:
                kind, preferred = self.concepts[concept_id]
                out.append(ConceptMatch(concept_id, kind, preferred, text[start:end], (start, end), score,
                                        self.documents.get(concept_id, ()), name, name_kind, is_fuzzy))
        return out

    @staticmethod
    def _may_be_misspelt(word: str, norm: str) -> bool:
        """A word worth comparing with drug names: long, letters only, in no English word list."""
        if len(norm) < FUZZY_MIN_CHARS or not norm.isalpha() or word.isupper() or norm in STOPWORDS:
            return False
        known = word_list()
        return known is None or (word.lower() not in known and norm not in known)

    def _nearest_drug(self, norm: str, cutoff: float,
                      in_library: Callable[[str], bool] | None) -> tuple[str, float] | None:
        from rapidfuzz import process
        from rapidfuzz.distance import JaroWinkler

        same_stem = self.drug_stems.get(_stemmer()(norm))
        if same_stem:
            return same_stem, float(JaroWinkler.similarity(norm, same_stem))
        if in_library is not None and in_library(norm):
            return None  # a word of the library's own text ("tablets", "clonidine") is not a misspelling
        # (a first letter is rarely mistyped: comparing only names that share it is also 20x faster)
        best = process.extractOne(norm, self.drug_words.get(norm[0], []), scorer=JaroWinkler.similarity,
                                  score_cutoff=cutoff)
        return (best[0], float(best[1])) if best else None


@lru_cache(maxsize=1)
def _stemmer() -> Callable[[str], str]:
    import Stemmer

    return Stemmer.Stemmer("porter").stemWord


_INDEXES: weakref.WeakKeyDictionary[object, tuple[object, ConceptIndex]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def concept_index(store: LibraryStore) -> ConceptIndex:
    """The store's concept index, rebuilt only when the library's concept version has moved."""
    version = store.concepts_version()
    cached = _INDEXES.get(store)
    if cached is not None and cached[0] == version:
        return cached[1]
    with _LOCK:
        index = ConceptIndex.from_store(store)
        _INDEXES[store] = (version, index)
    return index


def resolve_concepts(store: LibraryStore, text: str, *, fuzzy: bool = True,
                     cutoff: float = FUZZY_CUTOFF) -> list[ConceptMatch]:
    """The concepts named in ``text`` (see the module docstring), in text order; [] for a library without any."""
    return concept_index(store).resolve(text, fuzzy=fuzzy, cutoff=cutoff, in_library=lambda w: library_has(store, w))


def library_has(store: LibraryStore, word: str) -> bool:
    """Whether the library's indexed text uses ``word`` (its stem, as the index stems)."""
    return store.term_frequencies([word])[1].get(word, 0) > 0


def searched_names(text: str, matches: list[ConceptMatch]) -> tuple[str, dict[str, str]]:
    """``text`` with each drug named by a brand, a synonym or a misspelling followed by (or replaced with) its
    generic name, so that search finds its label: "Coumadine" -> "Coumadin (warfarin)", "amoxcicilin" ->
    "amoxicillin"; and {as written: name searched}. Conditions are left as written."""
    best: dict[tuple[int, int], ConceptMatch] = {}
    for m in matches:
        if m.kind == "drug" and (m.span not in best or len(m.doc_ids) > len(best[m.span].doc_ids)):
            best[m.span] = m
    lowered = normalize_name(text)
    changes: dict[str, str] = {}
    for (start, end), m in sorted(best.items(), reverse=True):
        preferred = normalize_name(m.preferred)
        written = normalize_name(m.matched_text)
        if written == preferred or (not m.fuzzy and f" {preferred} " in f" {lowered} "):
            continue
        if m.fuzzy and normalize_name(m.name) == preferred:
            replacement = m.preferred
        elif m.fuzzy:
            replacement = f"{m.name} ({m.preferred})"
        else:
            replacement = f"{m.matched_text} ({m.preferred})"
        text = text[:start] + replacement + text[end:]
        changes[m.matched_text] = m.preferred
    return text, dict(reversed(list(changes.items())))
