"""Find the library's concepts (drugs, conditions) named in a question: exact names, then misspelt drugs.

``resolve_concepts(store, text)`` looks every n-gram of the question (up to ``MAX_WORDS`` words)
up in the library's concept names, normalized as the index normalizes them (case, punctuation,
simple plurals: ``library.concepts.normalize_name``), and keeps the longest non-overlapping
matches. A word that no English word list knows and that matched nothing exactly is compared with
the drug names (brand, generic, substance) by Jaro-Winkler similarity (rapidfuzz): "Coumadine" ->
Coumadin (warfarin), "amoxcicilin" -> amoxicillin. Brand names and synonyms made only of common
English words ("Pain Relief", "Night Time") are never matched. The name index is built once per
library version (``store.concepts_version()``, an O(1) read) and kept for the process.

Acronyms are matched as written. A word of a MedQuAD/MedlinePlus/USPSTF name written in capitals ("HDLS",
"HIV/AIDS"; not a label's brand, which labels print in capitals) is the concept's acronym, and the key's
plural rule does not apply to it: the question must write that whole word, in capitals ("HDL" is not "HDLS",
"HDLS" is not "HDL"), with a lower-case plural "s" ("UTIs"), or in lower case when the words matched are not
all everyday English ("hdls", "hiv/aids"; "sad" is not "SAD"). A question typed in capitals writes every
acronym in capitals, so it keeps matching; a name typed in capitals throughout ("CHARCOT-MARIE-TOOTH DISEASE")
is shouted, not abbreviated: only its words that are no English word count as acronyms there.
"""

from __future__ import annotations

import re
import threading
import weakref
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Callable

from medora.library.concepts import name_words, normalize_name
from medora.library.store import LibraryStore
from medora.retrieve.normalize import WORD_LISTS, word_list
from medora.retrieve.query import STOPWORDS

MAX_WORDS = 8  # longest name looked up, in words
FUZZY_CUTOFF = 0.90  # Jaro-Winkler similarity a misspelt drug name needs (bench/concept_coverage.py --sweep)
FUZZY_MIN_CHARS = 6  # shorter words are never matched fuzzily ("tabet" is not Tabrecta)
_TOKEN = re.compile(r"[^\W_]+(?:['\u2019]s\b)?")
_ACRONYM = re.compile(r"(?=(?:[0-9]*[A-Z]){2})[A-Z0-9]{2,6}")  # two to six capitals and digits, two capitals at least
ACRONYM_NAME_KINDS = ("preferred", "synonym")  # labels print brand and substance names in capitals
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


Acronyms = tuple[tuple[int, str], ...]  # (word position in the name, the acronym as written)


def name_acronyms(name: str, name_kind: str, common: frozenset[str]) -> Acronyms:
    """The words of a library name that are acronyms (see the module docstring), with their positions."""
    if name_kind not in ACRONYM_NAME_KINDS:
        return ()
    words = name_words(name)
    shouted = len(words) > 1 and not any(c.islower() for c in name)
    return tuple((i, w) for i, w in enumerate(words) if _ACRONYM.fullmatch(w)
                 and not (shouted and (w.lower() in common or normalize_name(w) in common)))


def acronyms_agree(acronyms: Acronyms, written: list[str], common: frozenset[str]) -> bool:
    """Whether the question's words (as written, aligned with the name's words) write each acronym:
    whole, in capitals or with a lower-case plural "s", or in lower case among words not all everyday English."""
    if not acronyms:
        return True
    if len(written) <= max(i for i, _ in acronyms):
        return False
    uncommon = any(w.lower() not in common and normalize_name(w) not in common for w in written)
    return all(q == a or q == a + "s" or (uncommon and q.lower() == a.lower() and not any(c.isupper() for c in q[1:]))
               for q, a in ((written[i], a) for i, a in acronyms))


@dataclass
class ConceptIndex:
    """The library's concept names in memory: {normalized name: [(concept, name, name kind, acronyms)]} and
    drug names."""

    concepts: dict[int, tuple[str, str]] = field(default_factory=dict)  # id -> (kind, preferred)
    names: dict[str, list[tuple[int, str, str, Acronyms]]] = field(default_factory=dict)
    documents: dict[int, tuple[int, ...]] = field(default_factory=dict)
    drug_words: dict[str, list[str]] = field(default_factory=dict)  # one-word drug names by first letter
    drug_stems: dict[str, str] = field(default_factory=dict)  # Porter stem -> one-word drug name ("coumadin")
    longest: int = 1

    @cached_property
    def name_words(self) -> frozenset[str]:
        """Every word of the library's concept names, normalized."""
        return frozenset(w for name in self.names for w in name.split())

    @cached_property
    def name_bigrams(self) -> frozenset[str]:
        """Every two consecutive words of the library's concept names ("blood pressure" of "high blood pressure")."""
        return frozenset(f"{a} {b}" for name in self.names for a, b in zip(name.split(), name.split()[1:]))

    @classmethod
    def from_store(cls, store: LibraryStore) -> ConceptIndex:
        index = cls()
        common = common_words()
        links: dict[int, list[int]] = {}
        for concept_id, doc_id in store.concept_links():
            links.setdefault(concept_id, []).append(doc_id)
        index.documents = {c: tuple(d) for c, d in links.items()}
        seen: set[tuple[int, str, Acronyms]] = set()
        drug_words: set[str] = set()  # one-word drug names, for misspellings
        for concept_id, kind, preferred, _, name, name_kind in store.concept_names():
            index.concepts[concept_id] = (kind, preferred)
            norm = normalize_name(name)  # the key as the question's words get it (a library's stored key may
            words = norm.split()  # come from another version of normalize_name)
            if not words or len(words) > MAX_WORDS or norm in STOPWORDS:
                continue
            if name_kind in ("brand", "synonym") and all(w in common for w in words):
                continue  # "Pain Relief", "Sure", "Night Time": English, not a name
            acronyms = name_acronyms(name, name_kind, common)
            if (concept_id, norm, acronyms) in seen:
                continue
            seen.add((concept_id, norm, acronyms))
            index.names.setdefault(norm, []).append((concept_id, name, name_kind, acronyms))
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
        common = common_words()
        tokens = [(m.start(), m.end(), normalize_name(m.group()), name_words(m.group()))
                  for m in _TOKEN.finditer(text)]
        tokens = [t for t in tokens if t[2]]
        Found = tuple[int, int, str, float, bool, list]  # (first token, last token + 1, norm, score, fuzzy, entries)
        found: list[Found] = []

        def agreeing(norm: str, a: int, b: int) -> list:
            """The names of ``norm`` whose acronyms the question's words a..b write as the name does."""
            written = [w for t in tokens[a:b] for w in t[3]]
            return [e for e in self.names[norm] if acronyms_agree(e[3], written, common)]
        for i in range(len(tokens)):
            for n in range(min(self.longest, len(tokens) - i), 0, -1):
                norm = " ".join(t[2] for t in tokens[i:i + n])
                if norm in self.names and (entries := agreeing(norm, i, i + n)):
                    found.append((i, i + n, norm, 1.0, False, entries))
        if fuzzy and self.drug_words:
            covered = {k for a, b, *_ in found for k in range(a, b)}
            for i, (start, end, norm, _) in enumerate(tokens):
                if i not in covered and self._may_be_misspelt(text[start:end], norm):
                    near = self._nearest_drug(norm, cutoff, in_library)
                    if near and (entries := [e for e in self.names[near[0]] if not e[3]]):  # never an acronym
                        found.append((i, i + 1, near[0], near[1], True, entries))
        chosen: list[Found] = []
        taken: set[int] = set()
        for f in sorted(found, key=lambda f: (-(f[1] - f[0]), -f[3], f[0])):
            if taken.isdisjoint(range(f[0], f[1])):
                chosen.append(f)
                taken.update(range(f[0], f[1]))
        out: list[ConceptMatch] = []
        for a, b, norm, score, is_fuzzy, entries in sorted(chosen, key=lambda f: f[:2]):
            start, end = tokens[a][0], tokens[b - 1][1]
            if any(kind == "preferred" for _, _, kind, _ in entries):  # "Charcot-Marie-Tooth disease" is itself a
                entries = [e for e in entries if e[2] != "synonym"]  # concept: not every subtype naming it
            listed: set[int] = set()  # a concept once per span (its names may differ only in their acronyms)
            for concept_id, name, name_kind, _ in entries:
                if concept_id in listed:
                    continue
                listed.add(concept_id)
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
