"""What a question asks about its focus: the aspect (dose, side effects, symptoms, screening…).

A fixed taxonomy covers MedQuAD's question types and MedicationQA's drug-question types.
Where labelled questions exist the aspect is learned: a softmax classifier over the question's
vector from the default embedder (trained by ``bench/train_aspect.py`` on MedQuAD's typed
questions and part of medicationqa-dev; weights in ``answer/data/aspect_model.npz``, held-out
accuracy in bench/RESULTS.md). Rules decide only what no data labels: maximum dose, boxed
warnings, screening, comparisons and the population aspects (pregnancy, breastfeeding,
children, older adults), which refine the learned aspect.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Callable

DRUG_ASPECTS = (
    "information", "dose", "max_dose", "how_to_take", "side_effects", "interaction", "contraindication",
    "warnings", "pregnancy", "breastfeeding", "children", "older_adults", "stopping", "overdose", "storage",
    "appearance", "ingredients", "mechanism", "drug_class", "indication", "comparison",
    "prevention",  # "should I take aspirin to prevent …": a preventive medicine, where a guideline leads
)
CONDITION_ASPECTS = (
    "definition", "cause", "symptoms", "diagnosis", "treatment", "prevention", "screening", "outlook",
    "inheritance", "risk", "frequency",
)
ASPECTS = DRUG_ASPECTS + tuple(a for a in CONDITION_ASPECTS if a not in DRUG_ASPECTS)

#: How the aspect reads to a person ("Answering: citalopram · maximum dose").
ASPECT_LABELS = {
    "information": "overview", "dose": "dose", "max_dose": "maximum dose", "how_to_take": "how to take it",
    "side_effects": "side effects", "interaction": "interactions", "contraindication": "who should not take it",
    "warnings": "warnings", "pregnancy": "pregnancy", "breastfeeding": "breastfeeding", "children": "children",
    "older_adults": "older adults", "stopping": "stopping it", "overdose": "overdose", "storage": "storage",
    "appearance": "appearance", "ingredients": "ingredients", "mechanism": "how it works",
    "drug_class": "drug class",
    "indication": "what it is used for", "comparison": "comparison", "definition": "what it is",
    "cause": "causes", "symptoms": "symptoms", "diagnosis": "diagnosis and tests", "treatment": "treatment",
    "prevention": "prevention", "screening": "screening", "outlook": "outlook", "inheritance": "inheritance",
    "risk": "who is at risk", "frequency": "how common it is",
}

_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("warnings", re.compile(r"\b(black[- ]?box|boxed) warning", re.I)),
    ("max_dose", re.compile(r"\b(max(imum)?|most|highest|upper limit|too much|safe limit)\b.{0,40}\b(dose|dosage|mg|"
                            r"take|taken|have|per day|a day|daily)\b|\bhow (much|many) .{0,40}\b(too much|at most|max)", re.I)),
    ("comparison", re.compile(r"\b(vs\.?|versus|difference between|better than|compared (to|with)|same as)\b", re.I)),
    ("breastfeeding", re.compile(r"\b(breast-?feed\w*|nursing (my|a|the)|lactat\w*|breast ?milk)\b", re.I)),
    ("pregnancy", re.compile(r"\b(pregnan\w*|trying to conceive|get pregnant|expecting a baby)\b", re.I)),
    ("prevention", re.compile(r"\bto (keep from|avoid|prevent|lower (my|the|your) risk|reduce (my|the|your) risk)\b"
                              r".{0,40}\b(getting|having|developing|disease|risk|\w+)\b", re.I)),
    # A drug's class is what its label's description and mechanism sections open with ("Diazepam is a
    # benzodiazepine"); MedicationQA files these questions under "Information", which would read as an overview.
    ("drug_class", re.compile(r"\bwhat (drug |medication |medicine |therapeutic |pharmacologic )?class\b|"
                             r"\b(drug|medication|therapeutic|pharmacologic) class\b|"
                             r"\bwhat (kind|type|sort) of (a )?(drug|medicine|medication)\b|"
                             r"\b\w+[- ]type (drug|medicine|medication)\b", re.I)),  # "a cortisone type medication"
    ("appearance", re.compile(r"\bhow (is it |are they |is \w+ |are \w+ )?supplied\b", re.I)),
    # How a medicine given by a nurse is given: learned questions about it are mostly tablets ("how do I take").
    ("how_to_take", re.compile(r"\b(infusion (time|rate)|how long (is|does) (the |an? )?infusion|"
                               r"how (is|are|do you|do i|should i|to) (\w+ ){0,3}"
                               r"(administered|given|injected|infused|inhaled))\b", re.I)),
    # "is losartan gluten free", "does it contain lactose": the label's description lists what it is made of.
    ("ingredients", re.compile(r"\b(gluten|lactose|latex|dyes?|sugar|alcohol|dairy|gelatin|pork|peanuts?|soy|"
                               r"sulfites?|preservatives?)[- ]free\b|\b(contains?|made (with|from)|any) (\w+ )?"
                               r"(gluten|lactose|latex|dyes?|gelatin|pork|peanuts?|soy|sulfites?|preservatives?)\b"
                               r"|\binactive ingredients?\b", re.I)),
    ("overdose", re.compile(r"\b(overdos\w*|took too (much|many)|double dose)\b", re.I)),
    ("stopping", re.compile(r"\b(stop(ping)?|quit(ting)?|come off|taper\w*|wean\w*|withdraw\w*|discontinu\w*)\b"
                            r".{0,60}\b(taking|it|medication|medicine|drug|before|after)\b", re.I)),
    ("screening", re.compile(r"\b(screen\w*|mammogra\w*|colonoscop\w*)\b|"
                             r"\broutine (\w+ ){0,2}(tests?|exams?|ekgs?|ecgs?|x-?rays?|scans?|ultrasounds?|checks?)\b|"
                             r"\b(yearly|annual) (physical|exam|check-?up)\b|"
                             r"\b(when|how often|what ages?|should (i|we|my|a|an|everyone|adults?|women|men)|do i need|"
                             r"even if|feel fine|no symptoms|asymptomatic)\b.{0,60}\b((checked|tested|test(ing)?|check) for|"
                             r"(get|have|need) (a|an) [\w-]+ (test|screening|exam))\b|"
                             r"\b(checked|tested) for\b.{0,40}\b(even if|feel fine|no symptoms)\b", re.I)),
]
_CHILD = re.compile(r"\b(\d{1,2}[- ](month|week|day)s?[- ]old|\d{1,2}[- ]year[- ]old (son|daughter|child|kid|boy|girl)|"
                    r"infants?|newborns?|babies|baby|toddlers?|my (son|daughter|kid|child)|children|child|kids?|"
                    r"pediatric|paediatric|adolescents?|teen\w*)\b", re.I)
_OLDER = re.compile(r"\b(older adults?|elderly|seniors?|geriatric|aged (6[5-9]|[7-9]\d)|(6[5-9]|[7-9]\d)[- ]year[- ]old|"
                    r"over (6[05]|70|75|80))\b", re.I)


@dataclass(frozen=True)
class AspectGuess:
    aspect: str
    source: str  # "rule" or "model" (or "default" with no model)
    confidence: float


# A second thing asked in the same question ("…dose, and do I take it with food?").
_ALSO: list[tuple[str, re.Pattern[str]]] = [
    ("how_to_take", re.compile(r"\b(with (or without )?food|empty stomach|with meals?|before (or after )?meals?|"
                               r"what time of day|at night or in the morning|(when|how) (should|do) i take)\b", re.I)),
    ("side_effects", re.compile(r"\bside[- ]?effects?\b", re.I)),
    ("interaction", re.compile(r"\b(interact\w*|together with|at the same time as)\b", re.I)),
]


def also_asked(question: str, aspect: str) -> tuple[str, ...]:
    """Aspects asked besides ``aspect`` (each answered by the bottom line's second sentence)."""
    return tuple(a for a, pattern in _ALSO if a != aspect and pattern.search(question))


def population_of(question: str) -> tuple[str, ...]:
    """Who the question is about, as far as it says: pregnancy, breastfeeding, children, older adults."""
    out = []
    if re.search(r"\bpregnan\w*|trying to conceive|get pregnant\b", question, re.I):
        out.append("pregnancy")
    if re.search(r"\bbreast-?feed\w*|nursing (my|a|the)|lactat\w*|breast ?milk\b", question, re.I):
        out.append("breastfeeding")
    if _CHILD.search(question):
        out.append("children")
    if _OLDER.search(question):
        out.append("older adults")
    return tuple(out)


@lru_cache(maxsize=1)
def _model():
    """(weights, bias, labels, model id) of the shipped classifier, or None when it is absent."""
    import numpy as np

    ref = resources.files("medora.answer").joinpath("data/aspect_model.npz")
    if not ref.is_file():
        return None
    with ref.open("rb") as fh:
        data = np.load(fh, allow_pickle=False)
        return data["W"], data["b"], [str(x) for x in data["labels"]], str(data["model_id"])


def model_id() -> str | None:
    m = _model()
    return m[3] if m else None


def learned_aspect(vector, allowed: tuple[str, ...]) -> AspectGuess | None:
    """The classifier's best aspect among ``allowed`` for a question vector, with its probability."""
    import numpy as np

    m = _model()
    if m is None or vector is None:
        return None
    W, b, labels, _ = m
    logits = W @ np.asarray(vector, dtype=np.float32) + b
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    ranked = [(float(probs[i]), labels[i]) for i in np.argsort(-probs) if labels[i] in allowed]
    if not ranked:
        return None
    p, label = ranked[0]
    return AspectGuess(label, "model", round(p, 3))


# Rules that only make sense for one kind of focus.
_DRUG_ONLY = {"pregnancy", "breastfeeding", "max_dose", "overdose", "warnings", "drug_class", "ingredients"}
_CONDITION_ONLY = {"screening"}


def rule_aspect(question: str, focus_kind: str | None = None) -> str | None:
    """The aspect a rule reads off the wording, for aspects no labelled data covers ("screening in
    pregnancy" is about screening: drug-only rules are skipped for a condition, and back)."""
    for aspect, pattern in _RULES:
        if (focus_kind == "condition" and aspect in _DRUG_ONLY) or (focus_kind == "drug" and aspect in _CONDITION_ONLY):
            continue
        if focus_kind == "condition" and aspect == "stopping":
            continue
        if pattern.search(question):
            return aspect
    return None


def classify_aspect(question: str, focus_kind: str | None, embed: Callable[[str], object] | None) -> AspectGuess:
    """The question's aspect, for a focus of ``focus_kind`` ("drug", "condition" or None).

    Rules for unlabelled aspects first; otherwise the learned classifier over the aspects that fit
    the focus kind; population words then refine a drug question's generic aspect ("can a baby be
    given X" asks about children).
    """
    # A question naming nothing the library knows, and no medicine (``frame.DRUG_WORDS`` would make it a drug
    # question), asks about a condition: "Am I contagious with respiratory infection?" is not "how to take it".
    allowed = DRUG_ASPECTS if focus_kind == "drug" else CONDITION_ASPECTS
    # A question naming nothing the library knows reads like a condition question unless it speaks of medicines.
    ruled = rule_aspect(question, focus_kind or "condition")
    if ruled in allowed:
        return AspectGuess(ruled, "rule", 1.0)
    guess = learned_aspect(embed(question) if embed else None, allowed)
    if guess is None:
        guess = AspectGuess("information" if focus_kind == "drug" else "definition", "default", 0.0)
    if focus_kind == "drug" and guess.aspect in ("information", "contraindication", "indication", "side_effects",
                                                 "how_to_take"):
        pop = population_of(question)
        for group, aspect in (("children", "children"), ("older adults", "older_adults")):
            if group in pop:
                return AspectGuess(aspect, "rule", 1.0)
    return guess
