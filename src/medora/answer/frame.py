"""The question frame: what is asked about what, for whom, in which form.

``build_frame`` reads a (redacted, cleaned) question into a :class:`QuestionFrame`: the focus
concepts the library knows (drugs and conditions, through the concept index: brands, synonyms
and misspellings resolve to one concept), the aspect asked (``answer/aspect.py``), the
population the question names, and its form (yes/no, how much, when, which, how, compare, what).
Every later step of an answer reads the frame: which documents and sections may be quoted, what
the bottom line must say, and whether a verdict is owed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Callable

from medora.answer.aspect import (
    ASPECT_LABELS,
    AspectGuess,
    also_asked,
    classify_aspect,
    population_of,
)
from medora.library.concepts import SALT_WORDS, normalize_name
from medora.library.store import LibraryStore
from medora.retrieve.concepts import ConceptMatch, common_words, concept_index, library_has, resolve_concepts
from medora.retrieve.normalize import name_list
from medora.retrieve.query import STOPWORDS, light_stem, stems
from medora.retrieve.understand import is_yes_no

_FORMS: list[tuple[str, re.Pattern[str]]] = [
    ("compare", re.compile(r"\b(vs\.?|versus|difference between|better than|compared (to|with))\b", re.I)),
    ("how_much", re.compile(r"\b(how (much|many)|what dose|dosage|max(imum)?|how often|what (level|number|amount))\b", re.I)),
    ("when", re.compile(r"\b(when|what age|at what age|how long|how far along|how soon|what time)\b", re.I)),
    ("which", re.compile(r"\b(which|who should|who needs|what (kind|type)s? of)\b", re.I)),
    ("how", re.compile(r"\b(how (do|does|is|are|can|should|to)|in what way)\b", re.I)),
    ("what", re.compile(r"\b(what|define|meaning)\b", re.I)),
]
# A concept is a drug when the index says so; these words mark a question about a medicine even when
# the drug is unknown to the library (then the frame has an aspect but no anchored focus).
DRUG_WORDS = re.compile(r"\b(dose|dosage|mg|tablets?|pills?|capsules?|injections?|medicines?|medications?|drugs?|"
                        r"creams?|ointments?|lotions?|inhalers?|suppositor\w+|syrups?|"
                        r"prescri\w+|side[- ]?effects?|take|taking|took)\b", re.I)
# With a named drug and a condition, these also make it a question about the drug ("stopping an MAOI
# antidepressant before I can start Cymbalta", "ok to give ondansetron").
_DRUG_ACTIONS = re.compile(r"\b(start(ing)?|stop(ping)?|switch\w*|give|given|safe|ok|okay|allowed)\b", re.I)
# A drug and a condition joined by these ask whether the drug causes the condition: a side effect.
_CAUSES = re.compile(r"\b(caus(e|es|ed|ing)|lead(s)? to|led to|give[sn]? (you|me|him|her|them)|make[s]? (you|me|him|her)|"
                     r"result(s)? in|linked to|trigger\w*|side[- ]?effects?)\b", re.I)


@dataclass(frozen=True)
class QuestionFrame:
    """What a question asks. ``concepts`` are in question order, drugs and conditions alike."""

    question: str
    concepts: tuple[ConceptMatch, ...]
    aspect: str
    aspect_source: str
    aspect_confidence: float
    population: tuple[str, ...]
    form: str
    yes_no: bool
    focus_kind: str | None = None  # "drug", "condition" or None when nothing known is named
    also: tuple[str, ...] = ()  # other aspects the same question asks ("and do I take it with food?")
    effects: tuple[str, ...] = ()  # a side-effect question's effect, as names ("does Lexapro cause hypotension?")
    details: tuple[str, ...] = ()  # what else the question names beyond its focus, as written ("expiration", "bananas")
    unknown_names: tuple[str, ...] = ()  # names the library has no concept for, as written ("Zoloft")
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def drugs(self) -> tuple[ConceptMatch, ...]:
        return tuple(c for c in self.concepts if c.kind == "drug")

    @property
    def conditions(self) -> tuple[ConceptMatch, ...]:
        return tuple(c for c in self.concepts if c.kind != "drug")

    def names_effect(self, text: str) -> bool:
        """Whether ``text`` names the effect a side-effect question asks about (by word stems: "gaining weight"
        names "weight gain")."""
        if not self.effects:
            return False
        own = stems(text)
        return any(stems(e) <= own for e in self.effects)

    def names_details(self, text: str, all_but: int | None = None) -> bool:
        """Whether ``text`` names the question's details: one of one or two, else at least half of them (with
        ``all_but``: all of them but that many)."""
        if not self.details:
            return False
        own = stems(text)
        found = sum(light_stem(d) in own for d in self.details)
        need = len(self.details) - all_but if all_but is not None else (len(self.details) + 1) // 2
        return found >= max(1, need)

    @property
    def focus(self) -> tuple[ConceptMatch, ...]:
        """The concepts the answer is about: the drugs of a drug question, else every named concept."""
        return self.drugs if self.focus_kind == "drug" else self.concepts

    def label(self) -> str:
        """"citalopram · maximum dose" — what the answer says it is answering."""
        names = " + ".join(dict.fromkeys(c.preferred for c in self.focus)) or "your question"
        parts = [names, " and ".join(ASPECT_LABELS.get(a, a) for a in (self.aspect, *self.also))]
        shown = [p for p in self.population if p.replace(" ", "_") != self.aspect and p != ASPECT_LABELS.get(self.aspect)]
        if shown:
            parts.append(", ".join(shown))
        return " · ".join(parts)

    def as_dict(self) -> dict:
        return {
            "label": self.label(),
            "concepts": [{"name": c.preferred, "kind": c.kind, "as_written": c.matched_text,
                          "matched": c.name or c.preferred, "fuzzy": c.fuzzy, "documents": len(c.doc_ids)}
                         for c in self.concepts],
            "focus_kind": self.focus_kind,
            "aspect": self.aspect,
            "aspect_source": self.aspect_source,
            "aspect_confidence": self.aspect_confidence,
            "population": list(self.population),
            "form": self.form,
            "yes_no": self.yes_no,
            "details": list(self.details),
            "unknown_names": list(self.unknown_names),
        }


def form_of(question: str) -> str:
    if is_yes_no(question):
        return "yes_no"
    for name, pattern in _FORMS:
        if pattern.search(question):
            return name
    return "open"


def _focus_kind(question: str, concepts: list[ConceptMatch]) -> str | None:
    kinds = {c.kind for c in concepts}
    if "drug" in kinds and not (kinds - {"drug"}):
        return "drug"
    if "drug" in kinds:
        # A drug and a condition: a drug question when it asks about taking, doses or effects of the drug
        # ("can I take ibuprofen with high blood pressure"), else a question about the condition.
        return "drug" if DRUG_WORDS.search(question) or _DRUG_ACTIONS.search(question) or _CAUSES.search(question) \
            or len([c for c in concepts if c.kind == "drug"]) > 1 else "condition"
    if kinds:
        return "condition"
    return "drug" if DRUG_WORDS.search(question) else None


_NAME_WORD = re.compile(r"(?<![\w'-])[A-Za-z][a-z]{3,}(?![\w'-])")


def unknown_names(store: LibraryStore, question: str, concepts: list[ConceptMatch]) -> tuple[str, ...]:
    """Words of ``question`` outside every concept it names that read as names the library has no concept
    for: a word English word lists know only capitalised (a brand: "Xanax", "Zoloft", "Buspar"), or one
    written capitalised mid-question that no list knows and the library never uses ("Saxenda"). Words of
    the library's concept names ("Parkinson") are not unknown."""
    common, names = common_words(), name_list()
    spans = [c.span for c in concepts]
    name_words = concept_index(store).name_words
    out: dict[str, str] = {}
    for m in _NAME_WORD.finditer(question):
        word = m.group().lower()
        if (any(a <= m.start() < b for a, b in spans) or word in STOPWORDS or normalize_name(word) in common
                or light_stem(word) in _ASKING or word in name_words or word in out):
            continue
        brand = word in names
        capitalised = m.group()[0].isupper() and question[:m.start()].strip() != ""
        if brand or (capitalised and not library_has(store, word)):
            out[word] = m.group()
    return tuple(out.values())


def _generic(c: ConceptMatch) -> bool:
    """A topic named by the word a question uses for any medicine ("Medicines" for "a good medicine")."""
    return c.kind != "drug" and DRUG_WORDS.fullmatch(c.matched_text.strip()) is not None


MAX_PAGES_READ = 5  # a generic topic's documents read to see whether they name the unknown medicine


def _pages_use(store: LibraryStore, c: ConceptMatch, words: tuple[str, ...]) -> bool:
    """Whether the concept's own pages use any of ``words`` (by stem)."""
    wanted = {light_stem(w.lower()) for w in words}
    return any(wanted & stems(p.text) for doc_id in c.doc_ids[:MAX_PAGES_READ] for p in store.document_passages(doc_id))


def part_of_a_name(store: LibraryStore, question: str, c: ConceptMatch) -> bool:
    """Whether a one-word concept is the first word of a longer term the question writes, one that other
    concepts' names use: "blood" of "a normal blood pressure reading" ("High Blood Pressure") is not "Blood"."""
    if " " in c.matched_text.strip():
        return False
    following = re.match(r"\W*([A-Za-z][\w'-]*)", question[c.span[1]:])
    if not following:
        return False
    bigram = f"{normalize_name(c.matched_text)} {normalize_name(following.group(1))}"
    own = f" {normalize_name(c.preferred)} {normalize_name(c.name or '')} "
    return bigram in concept_index(store).name_bigrams and f" {bigram} " not in own  # "HDL (good …)" is HDL's own


def specific_concepts(store: LibraryStore, question: str, concepts: list[ConceptMatch],
                      unknown: tuple[str, ...]) -> list[ConceptMatch]:
    """``concepts`` without a one-word concept that begins a longer term (``part_of_a_name``), and without the
    topic named by a word for any medicine ("Medicines") in a question that names a medicine the library has no
    concept for, unless that topic's pages name it: "Is Buspar a good medicine to take with the Zoloft?" is
    about Buspar and Zoloft, not the "Medicines" page. (Dropping any everyday-word
    topic a rare word qualifies — "pneumococcal vaccine" — was tried: it also dropped "standard urinalysis" and
    "neck pain", so it is not done.)"""
    concepts = [c for c in concepts if c.kind == "drug" or not part_of_a_name(store, question, c)]
    if not unknown:
        return list(concepts)
    return [c for c in concepts if not (_generic(c) and not _pages_use(store, c, unknown))]


def build_frame(store: LibraryStore, question: str, embed: Callable[[str], object] | None = None,
                concepts: list[ConceptMatch] | None = None) -> QuestionFrame:
    """The frame of ``question`` against this library's concepts (``embed`` gives the question's vector
    for the learned aspect classifier; without it the rules and a default aspect decide). ``concepts``:
    matches already found by question cleaning, else they are resolved here."""
    found = concepts if concepts is not None else resolve_concepts(store, question)
    unknown = unknown_names(store, question, found)
    concepts = primary_first(question, specific_concepts(store, question, _distinct(found), unknown))
    kind = _focus_kind(question, concepts)
    guess: AspectGuess = classify_aspect(question, kind, embed)
    drugs = [c for c in concepts if c.kind == "drug"]
    if kind == "drug" and len(drugs) > 1 and guess.aspect not in ("comparison", "interaction"):
        guess = AspectGuess("interaction", "rule", 1.0)  # "X with Y", "on X - ok to give Y?"
    effects = effects_asked(question, concepts) if kind == "drug" and len(drugs) == 1 else ()
    if effects:
        guess = AspectGuess("side_effects", "rule", 1.0)  # "does Lexapro cause hypotension?"
    form = form_of(question)
    return QuestionFrame(
        question=question,
        concepts=tuple(concepts),
        aspect=guess.aspect,
        aspect_source=guess.source,
        aspect_confidence=guess.confidence,
        population=population_of(question),
        form=form,
        yes_no=form == "yes_no",
        focus_kind=kind,
        also=also_asked(question, guess.aspect) if kind == "drug" else (),
        effects=effects,
        details=_rare(store, details_asked(question, concepts, kind or "condition")) if not effects else (),
        unknown_names=unknown,
    )


DETAIL_MAX_SHARE = 0.03  # a detail is a word in at most this share of the library's passages


def _rare(store: LibraryStore, words: tuple[str, ...]) -> tuple[str, ...]:
    """The ``words`` that few passages contain ("expiration", "bronchitis", not "food" or "age"): a common
    word is named by any passage and tells none apart; a word no passage contains is most often a typo."""
    if not words:
        return ()
    total, counts = store.term_frequencies(list(words))
    return tuple(w for w in words if 0 < counts.get(w, 0) <= DETAIL_MAX_SHARE * max(total, 1))


# The words of a drug question that say what is asked rather than what about: question words, the
# aspects' everyday vocabulary, people and time. What is left ("expiration date", "bronchitis",
# "infusion", "skin test") must be named by a passage that answers this question and not just its aspect.
_ASKING = frozenset(light_stem(w) for w in """
    what whats which when where why how who whom whose does did doing done can could should would will shall may might
    must much many long often soon take takes taking took taken use used using uses dose doses dosage dosages dosing mg
    milligram milligrams mcg tablet tablets pill pills capsule capsules medicine medicines medication medications drug
    drugs side effect effects safe safely okay ok help helps work works good bad best better normal usual usually
    lowest highest maximum max minimum min most least amount strength strengths daily day days week weeks month months
    year years time times hour hours night morning first start starting stop stopping quit get getting give given
    have having need needs needed want know tell mean means happen happens cause causes make makes person people
    patient patients adult adults child children kid kids someone body doctor prescribed prescription generic brand
    name called type kind class thing things also still ever like just really please thanks thank anyone anything
    something else other another same different together instead alright true right wrong question
    way ways more less enough too very yes show explain list action actions affect meds med dont cant wont
    wean weaning supplied classed combine combined compare compared pronounce yesterday today tomorrow now ago
    talking free contain contains containing option options confused confusing standard expect expecting
    recommend recommended worried worry concern concerned sure possible possibly likely going read reading heard
    hear told said says think thought feel feeling felt seem seems look looks looking wonder wondering online
    internet google article website doing went getting trying tried supposed actually maybe anyway count counts
    counted considered play plays role roles
""".split()) | SALT_WORDS


def details_asked(question: str, concepts: list[ConceptMatch], kind: str = "drug") -> tuple[str, ...]:
    """The content words of ``question`` (lower case) outside the focus names — the drugs of a drug question,
    every concept of a condition question — and the asking vocabulary, in question order; empty for most
    questions ("what is the dose of X?" names nothing else)."""
    text = question.lower()
    focus = [c for c in concepts if c.kind == "drug" or kind != "drug"]
    for c in sorted(focus, key=lambda c: -c.span[0]):
        text = text[: c.span[0]] + " " + text[c.span[1]:]
    named = set().union(*(stems(f"{c.preferred} {c.name or ''} {c.matched_text}") for c in focus))  # "(escitalopram)"
    out: dict[str, str] = {}  # stem -> word
    for word in re.findall(r"[a-z][a-z'-]{3,}", text):
        word = word.strip("'-")
        stem = light_stem(word)
        if word in STOPWORDS or stem in _ASKING or word in _ASKING or stem in out or stem in named:
            continue
        out[stem] = word
    return tuple(out.values())[:4]


_EFFECT_WORDS = re.compile(r"[a-z][a-z'-]+", re.I)
_NOT_EFFECT = {"a", "an", "the", "any", "some", "my", "your", "his", "her", "their", "me", "you", "him", "them",
               "and", "or", "in", "of", "to", "if", "when", "while", "after", "problems", "issues", "symptoms"}


def effects_asked(question: str, concepts: list[ConceptMatch]) -> tuple[str, ...]:
    """What a "does X cause Y?" question asks about, as lower-case names: the conditions it names, else the
    words after the causal verb ("weight gain"). Empty when the question does not ask what the drug causes."""
    drugs = [c for c in concepts if c.kind == "drug"]
    after = min((c.span[1] for c in drugs), default=0)  # the drug comes first: "does X cause Y", not "why give me X"
    m = _CAUSES.search(question, after)
    if m is None or m.group(0).lower().startswith("side"):
        return ()
    names = {n.lower() for c in concepts if c.kind != "drug" for n in (c.matched_text, c.preferred, c.name or "")}
    if not names:
        words = [w.lower() for w in _EFFECT_WORDS.findall(question[m.end():].split("?")[0])[:5]]
        words = [w for w in words if w not in _NOT_EFFECT][:3]
        names = {" ".join(words)} if words else set()
    return tuple(sorted((n for n in names if len(n) >= 4), key=len, reverse=True))


_HEAD_BEFORE = re.compile(r"\b(of|for|about|treat\w*|with|has|have|had|on|take|taking|is|are)\W+(\w+\W+){0,2}$", re.I)


def primary_first(question: str, concepts: list[ConceptMatch]) -> list[ConceptMatch]:
    """Concepts with the one the question is about first: a name that is more than one everyday word
    ("Lyme disease" before "Medicines"), then one that follows "of / for / about / treat" ("signs of
    Lyme disease after a tick bite"), then question order."""
    from medora.retrieve.concepts import common_words

    common = common_words()

    def key(c: ConceptMatch) -> tuple[int, int, int]:
        everyday = all(w in common for w in c.preferred.lower().split()) and len(c.preferred.split()) == 1
        head = bool(_HEAD_BEFORE.search(question[: c.span[0]]))
        return (everyday, not head, c.span[0])

    return sorted(concepts, key=key)


def _distinct(matches: list[ConceptMatch]) -> list[ConceptMatch]:
    """One match per concept (its first mention), concepts with no document left out, and one drug per
    ingredient: "clopidogrel bisulfate" is clopidogrel when both are named by the same words."""
    seen: set[int] = set()
    out: list[ConceptMatch] = []
    for m in matches:
        if m.concept_id in seen or not m.doc_ids:
            continue
        seen.add(m.concept_id)
        same = next((o for o in out if o.kind == m.kind == "drug" and o.span == m.span), None)
        if same is not None:  # one mention, two concepts (a salt's own label): keep both labels under one name
            out[out.index(same)] = replace(same, doc_ids=tuple(dict.fromkeys(same.doc_ids + m.doc_ids)))
            continue
        out.append(m)
    return out
