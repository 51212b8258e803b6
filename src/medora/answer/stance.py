"""The verdict of a yes/no question, read from a sentence that takes a stance on what was asked.

Authority decides: a guideline recommendation for the asked population first (USPSTF grade A/B
"recommends" → yes, grade D "recommends against" → no, C and I → it depends / unclear), then the
focus drug's label (contraindicated, do not use, not recommended, avoid → no; a directive such as
"screen for … before starting" → yes), then a study's own conclusion. A sentence counts only when
it is about the frame: the label of the drug asked about, naming the other drug or the population
the question names. When no sentence takes a stance, the verdict says that the sources do not
answer directly — never a yes or no read off a sentence that does not address the question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from medora.answer.anchor import LEAD_TIER, STUDY_TYPES, names_focus
from medora.answer.frame import QuestionFrame
from medora.answer.evidence import Candidate
from medora.answer.judgements import polarity
from medora.answer.semantic import question_vector, similarities
from medora.retrieve.query import stems
from medora.retrieve.terms import TermWeights

NOT_DIRECT = "The sources do not answer this yes-or-no question directly."
CLOSE_IN_MEANING = 0.6  # a label sentence this close to the question speaks to it without sharing its rare words

_LABEL_NO = re.compile(
    r"\b(contraindicated|do not (use|take|start|give|breast-?feed)|should not (be )?(used|taken|given|use|take|"
    r"breast-?feed)|is not recommended|are not recommended|not recommended (for|in|during|while)|"
    r"breast-?feeding is not recommended|avoid (use|using|concomitant|coadministration|breast-?feeding)|"
    r"must not|not to (use|take)|should not be (used|taken)|can cause (fetal harm|birth defects|major congenital malformations)|"
    r"(cause|causes) (fetal harm|birth defects|neural tube defects|major congenital malformations))\b", re.I)
_LABEL_YES = re.compile(
    r"\b(screen (for|patients)|test (for|patients)|should be (screened|tested)|prior to (initiating|starting)|"
    r"before (initiating|starting)|is recommended|are recommended|may be used (in|during|while)|"
    r"(is|are) (generally )?(considered )?(safe|compatible))\b", re.I)
_INHERIT_YES = re.compile(r"\b(inherited in an?|autosomal (dominant|recessive)|x-linked|mitochondrial (pattern|"
                          r"inheritance)|maternal inheritance|passed (down|on) (from|through))\b", re.I)
_INHERIT_NO = re.compile(r"\b(is not inherited|are not inherited|not passed (down|on)|usually not inherited|"
                         r"not (an )?inherited)\b", re.I)
_POPULATION_WORDS = {
    "pregnancy": r"pregnan\w*|fetal|fetus|birth defects?|neural tube|malformations?|reproductive potential",
    "breastfeeding": r"breast-?feed\w*|lactation|breast ?milk|nursing",
    "children": r"pediatric|children|infants?|neonates?|newborns?|months of age|years of age|premature",
    "older adults": r"geriatric|elderly|older|65 years",
}
_AGE = re.compile(r"\b(?:i'?m|i am|aged?|age)\s*(\d{1,3})\b|\b(\d{1,3})[- ](?:year|yr)s?[- ]old\b", re.I)
_INFANT_AGE = re.compile(r"\b\d{1,2}[- ](?:week|day|month)s?[- ]old\b", re.I)


@dataclass
class Stance:
    verdict: str  # "yes", "no", "unclear"
    candidate: Candidate | None  # the sentence that takes it (leads the bottom line)
    basis: str  # what the verdict rests on, in words

    @property
    def note(self) -> str | None:
        return NOT_DIRECT if self.candidate is None else None


def question_age(frame: QuestionFrame) -> int | None:
    """The age the question is about, when it says: "I'm 42", "my 15-year-old", "older adults" → 65."""
    if _INFANT_AGE.search(frame.question):
        return 0
    m = _AGE.search(frame.question)
    if m:
        return int(m.group(1) or m.group(2))
    if "older adults" in frame.population:
        return 65
    return None


def fits_population(c: Candidate, frame: QuestionFrame, age: int | None) -> bool:
    """A guideline recommendation applies to the asked population (age range, pregnancy)."""
    meta = c.hit.document.metadata
    rng = meta.get("age_range")
    if age is not None and isinstance(rng, list) and len(rng) == 2 and all(isinstance(x, (int, float)) for x in rng):
        if not rng[0] <= age <= rng[1]:
            return False
    pop = str(meta.get("population") or "").lower()
    if re.search(r"\b(pregnant|postpartum|perinatal)\b", pop):  # a recommendation for pregnancy fits only it
        return "pregnancy" in frame.population or bool(re.search(r"pregnan|postpartum|prenatal", frame.question, re.I))
    return True


def _guideline(pool: list[Candidate], frame: QuestionFrame) -> Stance | None:
    age = question_age(frame)
    recs = [c for c in pool if c.hit.document.doc_type == "guideline" and c.hit.document.grade
            and c.hit.passage.section_type == "recommendation" and re.search(r"\brecommends?\b", c.text, re.I)]
    fitting = [c for c in recs if fits_population(c, frame, age)]
    if not fitting:
        return None
    # The one about the question: closest in meaning, sharing most of its words with the topic's title.
    c = max(fitting, key=lambda c: ((c.meaning or 0.0) + 0.25 * c.support, c.score))
    grade = c.hit.document.grade
    against = re.search(r"recommends? against|does not recommend", c.text, re.I)
    if grade in ("A", "B") and not against:
        return Stance("yes", c, f"guideline recommendation (USPSTF grade {grade})")
    if grade == "D" or against:
        return Stance("no", c, f"guideline recommendation against (USPSTF grade {grade})")
    return Stance("unclear", c, f"guideline: individual decision or insufficient evidence (USPSTF grade {grade})")


def about_population(text: str, frame: QuestionFrame) -> bool:
    """The text names the population a population question asks about (true when it asks about none)."""
    return all(re.search(_POPULATION_WORDS[g], text, re.I) for g in frame.population if g in _POPULATION_WORDS
               and frame.aspect in _POPULATION_ASPECTS)


_POPULATION_ASPECTS = ("pregnancy", "breastfeeding", "children", "older_adults")


def _about_frame(c: Candidate, frame: QuestionFrame, other_names: tuple[str, ...]) -> bool:
    """A label sentence speaks to this question: it names the other drug of a two-drug question, or
    the population asked about."""
    if other_names:
        return names_focus(c.text, other_names)
    for group in frame.population:
        if group in _POPULATION_WORDS and not re.search(_POPULATION_WORDS[group], c.text, re.I):
            return False
    return True


# A contraindication every drug has (allergy to it or its ingredients) answers no question that does
# not ask about allergy.
_GENERIC_CONTRAINDICATION = re.compile(r"\b(hypersensitivity|allerg\w*|anaphyla\w*)\b", re.I)


def specific_terms(weights: TermWeights | None, exclude: set[str], share: float = 0.5) -> set[str]:
    """The question's rarest terms in this library (IDF at least ``share`` of the rarest one's), ``exclude``
    left out."""
    if weights is None or not weights.weights:
        return set()
    top = max(weights.weights.values())
    return {t for t, w in weights.weights.items() if w >= share * top and t not in exclude}


def _label(pool: list[Candidate], frame: QuestionFrame, names_by_concept: dict[int, tuple[str, ...]],
           weights: TermWeights | None = None) -> Stance | None:
    """The label sentence that best addresses the asked proposition (closest in meaning, then score) among
    those that take a stance, are in a section routed for the aspect, and speak to this question."""
    drugs = frame.drugs
    if not drugs:
        return None
    allergy_asked = _GENERIC_CONTRAINDICATION.search(frame.question) is not None
    focus_words = set().union(*(stems(n) for ns in names_by_concept.values() for n in ns)) if names_by_concept else set()
    asked = specific_terms(weights, focus_words)  # "apomorphine", "nitroglycerin"
    found: list[tuple[float, Stance]] = []
    for c in pool:
        if c.hit.document.doc_type != "drug label" or c.tier is None or c.tier >= LEAD_TIER:
            continue
        others = tuple(n for d in drugs if c.hit.document.id not in d.doc_ids for n in names_by_concept.get(d.concept_id, ()))
        if len(drugs) > 1 and not others:
            continue  # the label of neither drug
        if not _about_frame(c, frame, others):
            continue
        if asked and not others and not frame.population and not (asked & stems(c.text)) \
                and (c.meaning is None or c.meaning < CLOSE_IN_MEANING):
            continue  # "grapefruit": a stance on something the question did not ask about
        if _GENERIC_CONTRAINDICATION.search(c.text) and not allergy_asked and not (asked & stems(c.text)):
            continue  # allergy to the drug itself, unless the sentence also names what was asked about
        closeness = (c.meaning if c.meaning is not None else 0.0) + 0.5 * c.overlap - 0.1 * c.tier
        if _LABEL_NO.search(c.text):  # the label says it in words: preferred to a sentence that only sits there
            found.append((closeness + 0.15, Stance("no", c, "drug label: " + _LABEL_NO.search(c.text).group(0).lower())))
        elif c.hit.passage.section_type == "contraindications":  # the label lists it under Contraindications
            found.append((closeness, Stance("no", c, "drug label: listed under contraindications")))
        elif _LABEL_YES.search(c.text) and not re.search(r"\bnot\b", c.text, re.I):
            found.append((closeness, Stance("yes", c, "drug label: " + _LABEL_YES.search(c.text).group(0).lower())))
    if not found:
        return None
    # Sentences outside the meaning shortlist are scored now: the closest in meaning must win fairly.
    unscored = [st.candidate for _, st in found if st.candidate.meaning is None]
    if unscored:
        for c, sim in zip(unscored, similarities(question_vector(frame.question), [c.text for c in unscored])):
            c.meaning = sim
        found = [(closeness + (st.candidate.meaning if st.candidate in unscored else 0.0), st) for closeness, st in found]
    return max(found, key=lambda f: f[0])[1]


def _inheritance(pool: list[Candidate], frame: QuestionFrame) -> Stance | None:
    if frame.aspect not in ("inheritance", "cause", "risk"):
        return None
    for c in pool[:12]:
        if _INHERIT_NO.search(c.text):
            return Stance("no", c, "the source says it is not inherited")
        if _INHERIT_YES.search(c.text):
            return Stance("yes", c, "the source gives its inheritance pattern")
    return None


def _conclusion(pool: list[Candidate], search_rank: dict[int, int]) -> Stance | None:
    """A study answering its own research question: the direction of its conclusion, read from the
    conclusion's sentences (search ranked the study in its top 3)."""
    conclusions = [c for c in pool if c.hit.passage.section_type == "conclusions"
                   and search_rank.get(c.hit.passage.id, 99) <= 3]
    if not conclusions:
        return None
    first = conclusions[0]
    same = [c for c in conclusions if c.hit.passage.id == first.hit.passage.id][:2]
    return Stance(polarity(" ".join(c.text for c in same)), first, "the study's conclusion")


def take_stance(pool: list[Candidate], frame: QuestionFrame, names_by_concept: dict[int, tuple[str, ...]],
                weights: TermWeights | None = None, search_rank: dict[int, int] | None = None) -> Stance:
    """The verdict and the sentence it rests on (see the module docstring for the order)."""
    ranks = search_rank or {}
    first = min(pool, key=lambda c: ranks.get(c.hit.passage.id, 99), default=None)
    if (not frame.drugs and first is not None and ranks.get(first.hit.passage.id, 99) <= 3
            and first.hit.document.doc_type in STUDY_TYPES):
        found = _conclusion(pool, ranks)  # a research question, answered by the study search ranks first
        if found:
            return found
    if frame.aspect in ("screening", "prevention") or not frame.drugs:
        found = _guideline(pool, frame)
        if found:
            return found
    for step in (lambda: _label(pool, frame, names_by_concept, weights), lambda: _inheritance(pool, frame),
                 lambda: _guideline(pool, frame), lambda: _conclusion(pool, search_rank or {})):
        found = step()
        if found:
            return found
    return Stance("unclear", None, "no source sentence takes a stance on the question")
