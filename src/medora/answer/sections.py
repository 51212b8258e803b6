"""Answer sections: their headings, and which sentences belong under "When to seek care"."""

from __future__ import annotations

import re

# Answer section key -> heading shown to the reader.
HEADINGS: dict[str, str] = {
    "definition": "What it is",
    "causes": "Causes and risk factors",
    "symptoms": "Symptoms",
    "diagnosis": "Diagnosis and tests",
    "treatment": "Treatment and management",
    "prevention": "Prevention and screening",
    "outlook": "Outlook",
    "genetics": "Genetics and inheritance",
    "frequency": "How common it is",
    "uses": "What it is used for",
    "dosage": "Dosage and administration",
    "side_effects": "Side effects",
    "interactions": "Interactions",
    "warnings": "Warnings and precautions",
    "contraindications": "Who should not take it",
    "populations": "Pregnancy, children and older adults",
    "findings": "What studies found",
    "seek_care": "When to seek care",
    "background": "Background",
}


_SEEK_CARE = re.compile(
    r"\b(call (your|a) (doctor|health ?care provider)|see (your|a) (doctor|health ?care provider)|"
    r"seek (immediate |emergency |prompt )?(medical|emergency) (care|help|attention)|call 911|emergency room|"
    r"contact (your|a) (doctor|health ?care provider)|get medical help)\b",
    re.IGNORECASE,
)


def is_seek_care(sentence: str) -> bool:
    """True when a sentence tells the reader when to get medical help."""
    return bool(_SEEK_CARE.search(sentence))
