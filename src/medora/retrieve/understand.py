"""Question understanding: what kind of question this is, and which sections answer it.

Deterministic patterns (no model): the question kind picks a plan of answer sections, and
the plan tells ranking and evidence selection which passage section types to prefer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Passage section type (from readers) -> answer section key.
SECTION_TYPE_TO_KEY: dict[str, str] = {
    "definition": "definition",
    "causes": "causes",
    "symptoms": "symptoms",
    "diagnosis": "diagnosis",
    "treatment": "treatment",
    "prevention": "prevention",
    "screening": "prevention",
    "recommendation": "prevention",
    "outlook": "outlook",
    "genetics": "genetics",
    "inheritance": "genetics",
    "frequency": "frequency",
    "indications": "uses",
    "dosage": "dosage",
    "contraindications": "contraindications",
    "warnings": "warnings",
    "adverse reactions": "side_effects",
    "interactions": "interactions",
    "specific populations": "populations",
    "patient counseling": "warnings",
    "results": "findings",
    "conclusions": "findings",
    "background": "background",
    "research": "background",
}


@dataclass(frozen=True)
class QuestionKind:
    """The type of a question and the article sections planned for it (most important first)."""

    kind: str
    plan: tuple[str, ...]
    yes_no: bool = False

    @property
    def primary(self) -> str:
        return self.plan[0]


# (kind, pattern, plan). First match wins; order matters (specific before general).
_RULES: list[tuple[str, str, tuple[str, ...]]] = [
    ("interactions", r"\b(interact\w*|together with|take .+ (with|and|while)|mix\w* .+ with|combine\w*|along with)\b",
     ("interactions", "warnings", "contraindications", "uses")),
    ("side_effects", r"\b(side[- ]?effects?|adverse|reactions?|safe to take|risks? of taking)\b",
     ("side_effects", "warnings", "contraindications", "uses")),
    ("dosage", r"\b(dos(e|es|age|ing)|how much|how many (mg|milligrams|tablets|pills)|how often should i take)\b",
     ("dosage", "populations", "warnings", "uses")),
    ("contraindications", r"\b(contraindicat\w*|who should not take|should not (use|take)|pregnan\w*.*\btake\b)\b",
     ("contraindications", "populations", "warnings")),
    ("screening", r"\b(screen\w*|should .* be tested|check\w*-?ups?|mammogra\w*|colonoscop\w*)\b",
     ("prevention", "diagnosis", "definition")),
    ("prevention", r"\b(prevent\w*|avoid\w*|reduce the risk|lower (my|the) risk|vaccin\w*)\b",
     ("prevention", "causes", "definition")),
    ("symptoms", r"\b(symptoms?|signs?|feel like|present\w* with|manifestations?)\b",
     ("symptoms", "seek_care", "diagnosis", "definition")),
    ("causes", r"\b(causes?|caused|why do|why does|risk factors?|reasons? for|lead to|etiolog\w*|triggers?)\b",
     ("causes", "definition", "prevention")),
    ("diagnosis", r"\b(diagnos\w*|tests?|testing|exams?|imaging|work-?up|detect\w*|x-?ray|mri|ct scan|biopsy)\b",
     ("diagnosis", "symptoms", "definition")),
    ("treatment", r"\b(treat\w*|therap\w*|manag\w*|cure\w*|medications?|drugs? for|surgery|remed\w*|relie\w*)\b",
     ("treatment", "outlook", "definition", "seek_care")),
    ("outlook", r"\b(outlook|prognos\w*|life expectancy|survival|recover\w*|go away|chances?)\b",
     ("outlook", "treatment", "definition")),
    ("genetics", r"\b(inherit\w*|genetic\w*|genes?|hereditary|runs? in famil\w*|mutation\w*)\b",
     ("genetics", "causes", "definition")),
    ("frequency", r"\b(how common|how many people|prevalen\w*|incidence|frequency)\b",
     ("frequency", "definition", "causes")),
    ("uses", r"\b(used for|what is .+ for|indication\w*|what does .+ do)\b",
     ("uses", "dosage", "side_effects", "warnings")),
    ("definition", r"^\s*(what is|what are|what's|define|meaning of|what does .+ mean)\b",
     ("definition", "causes", "symptoms", "diagnosis", "treatment", "outlook")),
]

# A yes/no question starts with an auxiliary verb, also after a "Topic:" lead-in ("Aspirin: does it ...?").
_YES_NO = re.compile(
    r"(^|[:;]\s*)(is|are|does|do|did|can|could|should|will|would|was|were|has|have|may|might)\b", re.IGNORECASE
)
_WH = re.compile(r"\b(what|how|why|when|where|which|who|whom|whose)\b", re.IGNORECASE)


# A request for information phrased as a question ("would you tell me more about Lexapro?") wants an answer, not
# a yes or a no.
_REQUEST = re.compile(r"\b(would|could|can|will) you (please )?(tell|explain|describe|give|list|share|walk|help)\b|"
                      r"\b(tell|teach) me (more )?(about|what|how|why)\b|\b(any|more) (info|information) (on|about)\b",
                      re.IGNORECASE)


def is_yes_no(question: str) -> bool:
    """Auxiliary-verb questions, and title-like questions with no wh-word ("X: a new risk factor for Y?"); not a
    request for information ("could you tell me about X?")."""
    q = question.strip()
    if _REQUEST.search(q):
        return False
    return bool(_YES_NO.search(q)) or (q.endswith("?") and not _WH.search(q))

_GENERAL_PLAN = ("definition", "findings", "causes", "symptoms", "diagnosis", "treatment", "prevention", "outlook")


def classify(question: str) -> QuestionKind:
    """The question's kind and section plan. Unmatched questions get a general overview plan."""
    q = question.lower()
    yes_no = is_yes_no(q)
    for kind, pattern, plan in _RULES:
        if re.search(pattern, q):
            return QuestionKind(kind, plan, yes_no)
    if yes_no:
        return QuestionKind("yes_no", ("findings", "background", "treatment", "definition"), True)
    return QuestionKind("general", _GENERAL_PLAN, False)
