"""Consumer-question clean-up before search: chatter out, abbreviations expanded, misspellings fixed.

``normalize_question`` removes what carries no meaning for search (greetings, thanks, signatures,
"Re:"/"Fwd:", NDC, lot and phone numbers, URLs, e-mail addresses), writes common clinical
abbreviations out (``data/abbreviations.toml``), corrects words that neither the library nor an
English/medical word list knows to the nearest library term (edit distance, ties to the more
frequent term), writes the generic name after a drug named by a brand or a misspelling that the
library's concept index knows (``retrieve/concepts.py``: "Coumadine" -> "Coumadin (warfarin)") and,
when the ``drug-named-entity-recognition`` package is installed, adds the generic name after a
brand name. Every change is recorded so an answer can show it.
"""

from __future__ import annotations

import logging
import re
import tomllib
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from medora.errors import UsageError
from medora.library.store import LibraryStore
from medora.retrieve.query import STOPWORDS

log = logging.getLogger(__name__)

STEPS = ("chatter", "abbreviations", "speller", "drugs", "concepts")
DEFAULT_STEPS = frozenset({"chatter", "abbreviations", "concepts", "speller"})
# Debian's word lists (wamerican-huge, wbritish-huge: every inflected form; hunspell-en-us and
# hunspell-en-med: base forms): real words the library lacks are left alone.
WORD_LISTS = (Path("/usr/share/dict/american-english-huge"), Path("/usr/share/dict/british-english-huge"),
              Path("/usr/share/hunspell/en_US.dic"), Path("/usr/share/hunspell/en_med_glut.dic"))
INSTALL_WORD_LISTS = "apt-get install wamerican-huge wbritish-huge hunspell-en-us hunspell-en-med"
# Endings that the index's stemmer strips: a correction is written as its stem plus one of them.
_ENDINGS = ("", "s", "e", "es", "ed", "ing", "er", "ers", "ion", "ions", "ation", "ations", "ive", "al", "ally", "ly",
            "ity", "ities", "ism", "ness", "ment", "ments", "ic", "ical", "ize", "ized", "ise", "ised", "ate", "ated",
            "ance", "ence", "ant", "ent", "able", "ible", "ous", "y")
ABBREVIATIONS = Path(__file__).parent / "data" / "abbreviations.toml"
MIN_WORD = 4  # shorter words, numbers and units are never corrected
MIN_TERM_PASSAGES = 2  # a correction must be a term found in at least this many passages
MAX_SPELLED_WORDS = 200  # distinct words checked per question (a pasted 100 KB text is not proof-read)
LONG_WORD = 7  # two edits are allowed from this length on (one below it)
_PREFIXES = ("re", "un", "in", "dis", "non", "pre", "over", "under", "mis")  # hunspell derives these by affix

_FLAGS = re.IGNORECASE | re.MULTILINE
_CHATTER: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("reply prefix", re.compile(r"^\s*(?:(?:re|fwd?|fw)\s*:\s*)+", _FLAGS)),
    ("NDC number", re.compile(r"\bNDC\s*(?:#|no\.?|number|code)?\s*[:#]?\s*\d[\d\s-]{4,}\d|\b\d{4,5}-\d{3,4}-\d{1,2}\b",
                              _FLAGS)),
    ("lot number", re.compile(r"\b(?:lot|batch)\s*(?:#|no\.?|number|:)\s*[:#]?\s*[A-Z0-9][A-Z0-9-]{2,}", _FLAGS)),
    ("URL", re.compile(r"\b(?:https?://|www\.)\S+", _FLAGS)),
    ("e-mail address", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", _FLAGS)),
    ("phone number", re.compile(r"(?<![\w-])(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}(?![\w-])", _FLAGS)),
    ("greeting", re.compile(r"(?:^|(?<=[.!?:]))\s*(?:hi|hello|hey|greetings|good (?:morning|afternoon|evening)"
                            r"|to whom it may concern|dear (?:sir|madam|sirs|doctor|team)(?: or madam)?|dear)"
                            r"\b(?:[\w .'-]{0,25}?[,!:]|[.!])", _FLAGS)),
    ("signature", re.compile(r"(?:\b(?:sincerely|best regards|kind regards|regards|respectfully|sent from my \w+)\b"
                             r"|\b(?:thanks|thank you)\s*,(?=(?:\s*[\w.]+){1,3}\s*$))[\s\S]{0,60}$", _FLAGS)),
    ("thanks", re.compile(r"\b(?:thank you|thanks|many thanks|thx)(?: (?:very|so) much| a lot)?(?: in advance)?"
                          r"(?: for (?:your|any|the) (?:help|time|answers?|reply|response|assistance|information))?"
                          r"(?=\s*(?:[.!,]|$))[.!,]*", _FLAGS)),
)
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_WHOLE_WORD = re.compile(r"(?<![\w-])[^\W\d_]+(?:'[^\W\d_]+)?(?![\w-])")  # not part of "MECP2" or "T-cell"


@dataclass
class NormalizedQuestion:
    """The question as searched, and every change made to it."""

    original: str
    text: str
    removed: list[tuple[str, str]] = field(default_factory=list)  # (kind of chatter, text removed)
    expansions: dict[str, str] = field(default_factory=dict)  # abbreviation -> its expansion
    corrections: dict[str, str] = field(default_factory=dict)  # word as written -> correction
    drugs: dict[str, str] = field(default_factory=dict)  # drug name as written -> generic name
    concepts: dict[str, str] = field(default_factory=dict)  # brand/misspelt drug as written -> name searched
    matches: list = field(default_factory=list)  # retrieve.concepts.ConceptMatch found in the question
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """For answers and logs: removed chatter by kind only (it may hold phone numbers or e-mail addresses)."""
        return {"text": self.text, "removed": sorted({k for k, _ in self.removed}),
                "expansions": self.expansions, "corrections": self.corrections, "drugs": self.drugs,
                "concepts": self.concepts, "notes": self.notes}


# ---------------------------------------------------------------- chatter

def strip_chatter(text: str) -> tuple[str, list[tuple[str, str]]]:
    """``text`` without greetings, thanks, signatures, reply prefixes and identifiers; what was removed."""
    removed: list[tuple[str, str]] = []
    for kind, pattern in _CHATTER:
        def drop(m: re.Match[str], kind: str = kind) -> str:
            if m.group().strip():
                removed.append((kind, m.group().strip()))
            return " "
        text = pattern.sub(drop, text)
    text = re.sub(r"\s+([.,;:!?])", r"\1", re.sub(r"[ \t]+", " ", text))
    return re.sub(r"^[\s.,;:!?#-]+", "", text).strip(), removed


# ---------------------------------------------------------------- abbreviations

@dataclass(frozen=True)
class AbbreviationTable:
    """``data/abbreviations.toml`` in memory: {key: expansion} for any case and for capitals only, and for
    each a pattern that finds its keys as whole words ("hep B" is one key of two words)."""

    any_case: dict[str, str]  # lower-case key (words joined by one space) -> expansion
    uppercase: dict[str, str]  # key in capitals -> expansion
    patterns: tuple[re.Pattern[str], ...]


def _expansion_text(key: str, value: object) -> str:
    """A table value: one expansion, or a list of the forms the library may use (its search stems words:
    "electrocardiogram" does not find "electrocardiography"), written "a, b"."""
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) and v.strip() for v in values) \
            or (len(values) > 1 and any("," in v for v in values)):
        raise ValueError(f"{ABBREVIATIONS}: {key!r} must map to a non-empty string or a list of strings without commas")
    return ", ".join(" ".join(v.split()) for v in values)


def _key_pattern(keys: Iterable[str], flags: int = 0) -> re.Pattern[str]:
    """Whole-word matches of ``keys``, longest first; a space in a key matches any run of white space.
    A letter or an apostrophe and a letter next to a match makes it part of another word ("EKG's")."""
    alternatives = [r"\s+".join(map(re.escape, k.split())) for k in sorted(keys, key=len, reverse=True)]
    return re.compile(rf"(?<![^\W\d_'])(?:{'|'.join(alternatives) or '(?!)'})(?![^\W\d_]|'[^\W\d_])", flags)


@lru_cache(maxsize=1)
def abbreviations() -> AbbreviationTable:
    """The abbreviation table (``data/abbreviations.toml``)."""
    with ABBREVIATIONS.open("rb") as fh:
        data = tomllib.load(fh)
    any_case = {" ".join(k.lower().split()): _expansion_text(k, v) for k, v in data.get("any_case", {}).items()}
    uppercase = {" ".join(k.upper().split()): _expansion_text(k, v) for k, v in data.get("uppercase", {}).items()}
    return AbbreviationTable(any_case, uppercase, (_key_pattern(any_case, re.IGNORECASE), _key_pattern(uppercase)))


def expansion_of(written: str) -> str | None:
    """The expansion of an abbreviation as written (one word, or words such as "hep B"), or None."""
    table = abbreviations()
    key = " ".join(written.split())
    return table.any_case.get(key.lower()) or (table.uppercase.get(key) if key.isupper() else None)


def expand_abbreviations(text: str) -> tuple[str, dict[str, str]]:
    """Write "DVT" as "DVT (deep vein thrombosis)" and "hep B" as "hep B (hepatitis B)" unless one of its
    expansions is already in the text; {abbreviation as written: expansion}, in text order."""
    lowered = " ".join(text.lower().split())
    spans: list[tuple[int, int, str]] = []
    for pattern in abbreviations().patterns:
        for m in pattern.finditer(text):
            full = expansion_of(m.group())
            if full and all(m.end() <= a or m.start() >= b for a, b, _ in spans) \
                    and not any(part.lower() in lowered for part in full.split(", ")):
                spans.append((m.start(), m.end(), full))
    found: dict[str, str] = {}
    out, last = [], 0
    for start, end, full in sorted(spans):
        found[" ".join(text[start:end].split())] = full
        out += [text[last:end], f" ({full})"]
        last = end
    return "".join(out) + text[last:], found


# ---------------------------------------------------------------- speller

def _stemmer(algorithm: str):
    import Stemmer

    return Stemmer.Stemmer(algorithm)


@lru_cache(maxsize=2)
def _word_lists(paths: tuple[Path, ...]) -> tuple[frozenset[str], frozenset[str]] | None:
    """(every word, lower-cased; the words written only capitalised, lower-cased) of the word lists that
    exist, or None when none does; hunspell flags are dropped."""
    present = [p for p in paths if p.is_file()]
    if not present:
        return None
    words: set[str] = set()
    lower: set[str] = set()
    for path in present:
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            word = line.split("/", 1)[0].strip()
            if word.isalpha():
                words.add(word.lower())
                if word.islower():
                    lower.add(word)
    return frozenset(words), frozenset(words - lower)


def word_list(paths: tuple[Path, ...] = WORD_LISTS) -> frozenset[str] | None:
    """Lower-case words of the word lists that exist (None when none does)."""
    lists = _word_lists(paths)
    return lists[0] if lists else None


def name_list(paths: tuple[Path, ...] = WORD_LISTS) -> frozenset[str]:
    """Words the word lists know only capitalised — names of people, places, brands ("zoloft") — lower-cased."""
    lists = _word_lists(paths)
    return lists[1] if lists else frozenset()


class Vocabulary:
    """The library's indexed terms (stemmed, with passage counts) plus real words from word lists."""

    def __init__(self, algorithm: str, counts: dict[str, int], word_lists: Iterable[Path] = WORD_LISTS):
        self.algorithm = algorithm
        self.counts = counts
        self._stem = _stemmer(algorithm).stemWord
        self._stopwords = frozenset(self._stem(w) for w in STOPWORDS)  # the nearest may be "please" itself
        self._choices = [t for t, n in counts.items() if n >= MIN_TERM_PASSAGES and t.isalpha()]
        self._choices += [w for w in self._stopwords if w not in counts and w.isalpha()]
        self.words = word_list(tuple(word_lists))
        # Without the word lists a real word the library lacks may be "corrected": allow one edit only.
        self.max_distance = 2 if self.words is not None else 1
        if self.words is None:
            log.warning(self.note)

    @classmethod
    def from_store(cls, store: LibraryStore, word_lists: Iterable[Path] = WORD_LISTS) -> Vocabulary:
        algorithm, counts = store.index_terms()
        return cls(algorithm, counts, word_lists)

    @property
    def note(self) -> str | None:
        if self.words is None:
            return ("spelling uses the library's vocabulary only (one edit at most): install the word lists "
                    f"with `{INSTALL_WORD_LISTS}` for safer corrections")
        return None

    def known(self, word: str) -> bool:
        stem = self._stem(word)
        if stem in self.counts:
            return True
        return self._spelled(word) or any(word.startswith(p) and self._spelled(word[len(p):]) for p in _PREFIXES)

    def correct(self, word: str) -> str | None:
        """The library word nearest to an unknown ``word`` (None when it is known, short or has no near term)."""
        lower = word.lower()
        if not _plain_word(lower) or self.known(lower):
            return None
        from rapidfuzz import process
        from rapidfuzz.distance import Levenshtein

        stem = self._stem(lower)
        limit = self.max_distance if len(lower) >= LONG_WORD else 1
        found = [(term, distance) for term, distance, _ in process.extract(
            stem, self._choices, scorer=Levenshtein.distance, score_cutoff=limit, limit=None) if term[0] == stem[0]]
        if not found:  # (a first letter is rarely mistyped: requiring it avoids most wrong corrections)
            return None
        target = min(found, key=lambda c: (c[1], -self.counts.get(c[0], 1_000_000)))[0]
        if target in self._stopwords:
            return None
        return self._surface(lower, stem, target, limit)

    def _surface(self, word: str, stem: str, target: str, limit: int) -> str | None:
        """The written form of ``target`` nearest to ``word`` (word-list spellings first), within ``limit`` edits."""
        from rapidfuzz.distance import Levenshtein

        ending = word[len(stem):] if word.startswith(stem) else ""
        bases = [target] + ([target[:-1] + "y"] if target.endswith("i") else [])
        forms = {b + e for b in bases for e in (ending, *_ENDINGS)} | ({target[:-1] + "ies"} if target.endswith("i") else set())
        # With word lists, a form they lack is only the library's word bare or with the user's inflection.
        plain = {target} | ({target + ending} if ending in ("s", "es", "ed", "ing") else set())
        forms = [f for f in forms if self._stem(f) == target and Levenshtein.distance(f, word) <= limit
                 and (self.words is None or f in plain or self._spelled(f))]
        if not forms:
            return None
        return min(forms, key=lambda f: (not self._spelled(f), Levenshtein.distance(f, word), len(f), f))

    def _spelled(self, word: str) -> bool:
        """In a word list, directly or as a listed base form plus a regular ending (hunspell lists base forms)."""
        if self.words is None:
            return False
        return word in self.words or any(
            word.endswith(end) and len(word) > len(end) + 2
            and (word[: -len(end)] in self.words or word[: -len(end)] + "e" in self.words)
            for end in ("s", "ing", "ed"))


def _plain_word(word: str) -> bool:
    return len(word) >= MIN_WORD and word.isalpha() and word.lower() not in STOPWORDS


class Speller(Protocol):
    note: str | None

    def correct(self, word: str) -> str | None: ...


_VOCABULARIES: weakref.WeakKeyDictionary[object, Vocabulary] = weakref.WeakKeyDictionary()


class LibrarySpeller:
    """A store's speller that reads the index vocabulary only once a question has a word the library lacks.

    The vocabulary is kept per store object for the process; words added to the library later are
    still never corrected (their passage count is looked up live) but are not offered as corrections
    until the process restarts.
    """

    def __init__(self, store: LibraryStore):
        self.store = store

    @property
    def note(self) -> str | None:
        vocabulary = _VOCABULARIES.get(self.store)
        return vocabulary.note if vocabulary else None

    def correct(self, word: str) -> str | None:
        vocabulary = _VOCABULARIES.get(self.store)
        if vocabulary is None:  # until a word is unknown, ask the index about single words
            if not _plain_word(word) or self.store.term_frequencies([word.lower()])[1].get(word.lower(), 0):
                return None
            vocabulary = _VOCABULARIES[self.store] = Vocabulary.from_store(self.store)
        return vocabulary.correct(word)


def correct_spelling(text: str, vocabulary: Speller,
                     keep: Iterable[str] = ()) -> tuple[str, dict[str, str]]:
    """Replace each unknown word with its correction. Never corrected: abbreviations, words in ``keep``,
    words in capitals (acronyms, gene symbols), capitals inside a word (brand names: "HypoKit") and
    words joined to digits or hyphens ("MECP2")."""
    seen: dict[str, str | None] = {}  # each distinct word is looked up once
    keep = {w.lower() for phrase in keep for w in _WORD.findall(phrase)}

    def fix(m: re.Match[str]) -> str:
        word = m.group()
        if word.isupper() or not word[1:].islower() or expansion_of(word) or word.lower() in keep:
            return word
        if word not in seen:
            seen[word] = vocabulary.correct(word) if len(seen) < MAX_SPELLED_WORDS else None
        return seen[word] or word
    return _WHOLE_WORD.sub(fix, text), {word: fixed for word, fixed in seen.items() if fixed}


# ---------------------------------------------------------------- drug names

@lru_cache(maxsize=1)
def _drug_finder():
    """``find_drugs`` from drug-named-entity-recognition (about 3 s and 330 MB to load), or None."""
    try:
        from drug_named_entity_recognition import find_drugs
    except ImportError:
        return None
    return find_drugs


def add_generic_names(text: str) -> tuple[str, dict[str, str] | None]:
    """Drug names found ({as written: generic}); a brand is written "Zomig (zolmitriptan)". None without the package."""
    find_drugs = _drug_finder()
    if find_drugs is None:
        return text, None
    words = list(_WORD.finditer(text))
    found: dict[str, str] = {}
    for drug, start, end in find_drugs([m.group() for m in words], is_ignore_case=True):
        generic = str(drug.get("name", "")).lower()
        if generic:
            found[" ".join(m.group() for m in words[start:end])] = generic
    for mention, generic in found.items():
        if generic not in text.lower():
            text = re.sub(rf"\b{re.escape(mention)}\b", lambda m, g=generic: f"{m.group()} ({g})", text, count=1)
    return text, found


# ---------------------------------------------------------------- the step

def normalize_question(text: str, vocabulary: Speller | None,
                       steps: Iterable[str] = DEFAULT_STEPS, concepts: Callable[[str], list] | None = None
                       ) -> NormalizedQuestion:
    """Apply the chosen ``steps`` (see ``STEPS``); drug names are found before spelling so brands stay as written."""
    steps = frozenset(steps)
    if steps - set(STEPS):
        raise UsageError(f"unknown question normalisation step(s): {', '.join(sorted(steps - set(STEPS)))}; "
                         f"known: {', '.join(STEPS)}")
    out = NormalizedQuestion(original=text, text=text)
    if "chatter" in steps:
        cleaned, out.removed = strip_chatter(text)
        out.text = cleaned or text  # a message that is all chatter is searched as written
    if "abbreviations" in steps:
        out.text, out.expansions = expand_abbreviations(out.text)
    if "drugs" in steps:
        out.text, drugs = add_generic_names(out.text)
        if drugs is None:
            out.notes.append("brand names are not mapped to generic names: `pip install drug-named-entity-recognition`")
        else:
            out.drugs = drugs
    if "concepts" in steps and concepts is not None:  # the library's concept index (retrieve/concepts.py)
        from medora.retrieve.concepts import searched_names

        out.matches = concepts(out.text)
        out.text, out.concepts = searched_names(out.text, out.matches)
    if "speller" in steps and vocabulary is not None:
        out.text, out.corrections = correct_spelling(out.text, vocabulary,
                                                     keep=[*out.drugs, *out.concepts, *out.concepts.values()])
        if vocabulary.note:
            out.notes.append(vocabulary.note)
    return out
