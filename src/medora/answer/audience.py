"""Fitting an answer to its reader: "Which best describes you?" — patient, caregiver, student, clinician.

The audience changes which sources are preferred, which sentences are chosen (plainer ones for
patients and caregivers), the glossary shown, and the disclaimer. It never changes what a
statement says: statements stay quotes of their sources.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from medora.errors import UsageError
from medora.models import GlossaryEntry, Statement

AUDIENCES = ("patient", "caregiver", "student", "clinician")


@dataclass(frozen=True)
class AudienceProfile:
    name: str
    plain: bool  # prefer plain-language sentences and patient information
    disclaimer: str
    source_preference: dict[str, float]  # document type -> bonus added to the ranking policy


PROFESSIONAL_PREFERENCE = {"guideline": 0.15, "systematic review": 0.12, "meta-analysis": 0.12, "trial": 0.08,
                           "drug label": 0.06}
PLAIN_PREFERENCE = {"patient information": 0.2, "guideline": 0.08, "drug label": 0.04}

PROFILES = {
    "clinician": AudienceProfile(
        "clinician", False,
        "For health professionals, for education and decision support only. Every statement quotes the cited "
        "source; check the source and use clinical judgment before acting.",
        PROFESSIONAL_PREFERENCE),
    "student": AudienceProfile(
        "student", False,
        "For learning only, not for the care of a patient. Every statement quotes the cited source; read the "
        "sources themselves to understand the evidence behind them.",
        PROFESSIONAL_PREFERENCE),
    "patient": AudienceProfile(
        "patient", True,
        "This is general information, not medical advice for you. Talk to your doctor, nurse or pharmacist "
        "about your own health before you change anything. If you think you have an emergency, call your local "
        "emergency number now.",
        PLAIN_PREFERENCE),
    "caregiver": AudienceProfile(
        "caregiver", True,
        "This is general information, not medical advice for the person you care for. Talk to their doctor, "
        "nurse or pharmacist before you change anything. If you think they have an emergency, call your local "
        "emergency number now.",
        PLAIN_PREFERENCE),
}


def profile(audience: str) -> AudienceProfile:
    if audience not in PROFILES:
        raise UsageError(f"unknown audience {audience!r}; choose one of {', '.join(AUDIENCES)}")
    return PROFILES[audience]


def reading_grade(text: str) -> float:
    """Flesch-Kincaid grade level (textstat) of a text."""
    import textstat

    return float(textstat.flesch_kincaid_grade(text)) if text.strip() else 0.0


@lru_cache(maxsize=1)
def _glossary() -> dict[str, str]:
    raw = resources.files("medora.answer").joinpath("data", "glossary.toml").read_text(encoding="utf-8")
    return {term.lower(): text for term, text in tomllib.loads(raw)["terms"].items()}


def glossary_for(statements: list[Statement], limit: int = 8) -> list[GlossaryEntry]:
    """Plain explanations of the medical terms these statements use (our own glossary)."""
    text = " ".join(s.text for s in statements).lower()
    found = []
    for term, explanation in _glossary().items():
        if re.search(rf"\b{re.escape(term)}\b", text):
            found.append(GlossaryEntry(term=term, explanation=explanation))
    found.sort(key=lambda g: text.find(g.term))
    return found[:limit]
