"""Fitting an answer to its reader: "Which best describes you?" — patient, caregiver, student, clinician.

The audience changes which sources are preferred, which sentences are chosen (plainer ones for
patients and caregivers, ones about helping someone for caregivers), the order and headings of
the sections, the glossary (plain explanations or precise definitions) and the disclaimer. It
never changes what a statement says: statements stay quotes of their sources.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from medora.errors import UsageError
from medora.models import GlossaryEntry, Reference, Statement

AUDIENCES = ("patient", "caregiver", "student", "clinician")


@dataclass(frozen=True)
class AudienceProfile:
    name: str
    plain: bool  # prefer plain-language sentences and patient information
    disclaimer: str
    source_preference: dict[str, float]  # document type -> bonus added to the ranking policy
    glossary: str = "none"  # "plain": explain terms in everyday words; "technical": define them precisely
    lead_sections: tuple[str, ...] = ()  # sections shown first, before the question's own plan
    headings: dict[str, str] = field(default_factory=dict)  # section key -> heading in this reader's words
    cue: re.Pattern[str] | None = None  # sentences this reader needs most (scored up a little)
    emergency_note: str = ""  # added to an emergency notice, in this reader's situation


PROFESSIONAL_PREFERENCE = {"guideline": 0.15, "systematic review": 0.12, "meta-analysis": 0.12, "trial": 0.08,
                           "drug label": 0.06}
LEARNER_PREFERENCE = {"systematic review": 0.08, "meta-analysis": 0.08, "guideline": 0.08,
                      "patient information": 0.06}
PLAIN_PREFERENCE = {"patient information": 0.2, "guideline": 0.08, "drug label": 0.04}

# Sentences spoken to the reader about their own care.
_TO_YOU = re.compile(r"\b(you|your)\b", re.IGNORECASE)
# Sentences about looking after someone: family, help at home, watching for signs, getting help.
_CARING = re.compile(
    r"\b(caregivers?|carers?|family members?|families|loved ones?|parents?|at home|help (him|her|them|your child)|"
    r"support|watch for|keep track|emergency|call (911|your|a|their)|get (medical )?help)\b",
    re.IGNORECASE,
)

PROFILES = {
    "clinician": AudienceProfile(
        "clinician", False,
        "For health professionals, for education and decision support only. Every statement quotes the cited "
        "source; check the source and use clinical judgment before acting.",
        PROFESSIONAL_PREFERENCE,
        headings={"seek_care": "Referral and urgent care"},
        emergency_note="If this describes a patient in your care now, follow your local emergency protocol."),
    "student": AudienceProfile(
        "student", False,
        "For learning only, not for the care of a patient. Every statement quotes the cited source; read the "
        "sources themselves to understand the evidence behind them.",
        LEARNER_PREFERENCE, glossary="technical", lead_sections=("definition", "causes"),
        headings={"definition": "What it is", "causes": "Causes and mechanism"},
        emergency_note="If this describes a real person now, call your local emergency number or alert a "
                       "supervising clinician."),
    "patient": AudienceProfile(
        "patient", True,
        "These are general facts, not medical advice for you. Talk to your doctor, nurse or pharmacist before you "
        "change anything. If you think you need urgent help, call your local emergency number now.",
        PLAIN_PREFERENCE, glossary="plain", cue=_TO_YOU,
        headings={"seek_care": "When to call your doctor", "treatment": "Treatment and what you can do"}),
    "caregiver": AudienceProfile(
        "caregiver", True,
        "These are general facts, not medical advice for the person you care for. Talk to their doctor, nurse "
        "or pharmacist before you change anything. If you think they need urgent help, call your local emergency "
        "number now and stay with them.",
        PLAIN_PREFERENCE, glossary="plain", cue=_CARING,
        headings={"seek_care": "When to get help for the person you care for",
                  "symptoms": "Signs to watch for in the person you care for",
                  "treatment": "Treatment and how you can help"},
        emergency_note="If this is happening to the person you care for, stay with them until help comes. Tell "
                       "the emergency team which conditions they have and which medicines they take."),
}


def profile(audience: str) -> AudienceProfile:
    if audience not in PROFILES:
        raise UsageError(f"unknown audience {audience!r}; choose one of {', '.join(AUDIENCES)}")
    return PROFILES[audience]


def reading_grade(text: str) -> float:
    """Flesch-Kincaid grade level (textstat) of a text."""
    import textstat

    return float(textstat.flesch_kincaid_grade(text)) if text.strip() else 0.0


# A statement ends a sentence: full stop, question or exclamation mark, then closing quotes or brackets.
_ENDS_SENTENCE = re.compile(r"[.!?][\"'”’)\]]*$")


def as_read(statement: str) -> str:
    """A statement as the reader meets it, on a line of its own: a quote that ends without a full
    stop (a list item such as "Its appearance (whether it is clear or cloudy)") still ends there."""
    statement = statement.strip()
    return statement if _ENDS_SENTENCE.search(statement) else statement + "."


def answer_grade(statements: list[str]) -> float:
    """Flesch-Kincaid grade (textstat) of an answer: its statements, each read as its own sentence.

    Headings, the disclaimer and the glossary are our own framing, not the answer, so they are not
    scored (plain boilerplate would only pull the grade down)."""
    return reading_grade(" ".join(as_read(s) for s in statements))


@dataclass(frozen=True)
class TextCounts:
    """The counts Flesch-Kincaid is made of; they add up over statements, so the grade of a set of
    statements can be compared for many sets without scoring each joined text again."""

    words: int
    sentences: int
    syllables: int

    def __add__(self, other: TextCounts) -> TextCounts:
        return TextCounts(self.words + other.words, self.sentences + other.sentences,
                          self.syllables + other.syllables)

    def __sub__(self, other: TextCounts) -> TextCounts:
        return TextCounts(self.words - other.words, self.sentences - other.sentences,
                          self.syllables - other.syllables)

    @property
    def grade(self) -> float:
        """Flesch-Kincaid grade, as textstat computes it from the same counts."""
        if not self.words or not self.sentences:
            return 0.0
        return 0.39 * self.words / self.sentences + 11.8 * self.syllables / self.words - 15.59


@lru_cache(maxsize=8192)
def text_counts(statement: str) -> TextCounts:
    """Words, sentences and syllables (textstat) of one statement as the reader meets it."""
    import textstat

    text = as_read(statement)
    return TextCounts(textstat.lexicon_count(text), textstat.sentence_count(text), textstat.syllable_count(text))


@lru_cache(maxsize=1)
def _glossaries() -> dict[str, dict[str, str]]:
    raw = resources.files("medora.answer").joinpath("data", "glossary.toml").read_text(encoding="utf-8")
    data = tomllib.loads(raw)
    return {kind: {term.lower(): text for term, text in data[table].items()}
            for kind, table in (("plain", "terms"), ("technical", "technical"))}


# "word (a plain explanation)": a source explaining its own term in the sentence we quote.
_EXPLAINED = re.compile(
    r"\b([A-Za-z][a-z-]{5,})\s+\((?!(?:such as|including|for|e\.g|i\.e|see|also|or|and|with|in|from|as)\b)"
    r"([a-z][a-z ,'-]{6,60})\)")


def glossary_for(statements: list[Statement], style: str = "plain", references: list[Reference] | None = None,
                 synonyms: dict[int, list[str]] | None = None, limit: int = 8) -> list[GlossaryEntry]:
    """Terms the statements use, explained: our glossary (``style`` "plain" or "technical", which
    falls back to the plain wording), explanations the quoted sources give in parentheses, and
    other names the cited documents list (``synonyms``: document id -> names, e.g. MedQuAD's)."""
    if style == "none":
        return []
    text = " ".join(s.text for s in statements).lower()
    ours = {**_glossaries()["plain"], **(_glossaries()["technical"] if style == "technical" else {})}
    found = [GlossaryEntry(term=term, explanation=explanation) for term, explanation in ours.items()
             if re.search(rf"\b{re.escape(term)}\b", text)]
    found.sort(key=lambda g: text.find(g.term))
    known = {g.term for g in found}
    from_sources = _explained_in_text(statements, references or [], known) + _other_names(references or [],
                                                                                          synonyms or {})
    return found[:limit] + from_sources[: max(2, limit - len(found))]


def _explained_in_text(statements: list[Statement], references: list[Reference], known: set[str]) -> list[GlossaryEntry]:
    source_of = {r.number: r.source for r in references}
    out: list[GlossaryEntry] = []
    for s in statements:
        for m in _EXPLAINED.finditer(s.text):
            term = m.group(1).lower()
            if term not in known:
                known.add(term)
                out.append(GlossaryEntry(term=term, explanation=m.group(2),
                                         source=source_of.get(s.citations[0].ref, "cited source")))
    return out


def _other_names(references: list[Reference], synonyms: dict[int, list[str]], most: int = 4) -> list[GlossaryEntry]:
    out, seen = [], set()
    for r in references:
        names = [n for n in synonyms.get(r.document_id, []) if n.lower() != r.title.lower()][:most]
        key = re.sub(r"\W", "", r.title.lower())
        if names and key not in seen:
            seen.add(key)
            out.append(GlossaryEntry(term=r.title, explanation="also called " + "; ".join(names), source=r.source))
    return out
