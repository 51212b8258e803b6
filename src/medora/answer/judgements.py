"""Judgements Medora draws from the statements it cites: the yes/no direction of a bottom line,
the overall strength of the evidence, and where sources differ. Each is read from cited text
and document labels; none adds a claim of its own.
"""

from __future__ import annotations

import re

from medora.models import Difference, Reference, Statement
from medora.retrieve.query import stems

_NEGATIVE = re.compile(
    r"\b(did not|does not|do not|was not|were not|is not|are not|no significant|not significantly|"
    r"not associated|no association|no evidence|no benefit|no difference|no effect|no improvement|"
    r"not recommended|recommends against|ineffective|unlikely|failed to|neither|cannot be recommended|"
    r"not supported|no role|not improve|not reduce|not increase|did not find|insufficient to|"
    r"(calls?|called|places?|placed|puts?)\b[^.]{0,60}\b(in|into) question|not superior|no better|"
    r"does not support|not justified|should not be)\b",
    re.IGNORECASE,
)
_UNCERTAIN = re.compile(
    r"\b(unclear|uncertain|inconclusive|insufficient evidence|evidence is insufficient|inadequate evidence|"
    r"further (studies|research|trials) (are|is) (needed|required|warranted)|remains? (controversial|unknown)|"
    r"may or may not|conflicting|not clear|could not be determined|limited evidence)\b",
    re.IGNORECASE,
)


def polarity(text: str) -> str:
    """'no', 'unclear' or 'yes' for one sentence, by its negation and hedging cues."""
    if _UNCERTAIN.search(text):
        return "unclear"
    if _NEGATIVE.search(text):
        return "no"
    return "yes"


def verdict(bottom_line: list[Statement]) -> str:
    """The direction of a yes/no answer: the first bottom-line sentence decides; disagreement -> unclear."""
    if not bottom_line:
        return "unclear"
    votes = [polarity(s.text) for s in bottom_line]
    if votes[0] == "unclear" or len(set(votes)) > 1 and "unclear" in votes:
        return "unclear"
    return votes[0]


def evidence_strength(references: list[Reference]) -> str:
    """The strongest kind of evidence cited, in words, with what it rests on."""
    types = {r.doc_type for r in references}
    grades = {r.grade for r in references if r.doc_type == "guideline" and r.grade}
    if grades & {"A", "B"}:
        return "High: a graded guideline recommendation (USPSTF grade " + "/".join(sorted(grades & {"A", "B"})) + ")."
    if grades & {"I"} and not grades - {"I"}:
        return "Insufficient: the guideline panel found the evidence insufficient (USPSTF grade I)."
    if types & {"guideline", "systematic review", "meta-analysis"}:
        return "Moderate to high: guideline or systematic review evidence."
    if "trial" in types:
        return "Moderate: evidence from clinical trials."
    if types & {"cohort", "case-control", "drug label"}:
        return "Low to moderate: observational studies or official drug labeling."
    return "Low: background sources (patient information, reviews or single studies), not graded evidence."


def differences(statements: list[Statement], topic_overlap: float = 0.3) -> list[Difference]:
    """Pairs of statements from different sources on the same topic whose directions disagree."""
    out: list[Difference] = []
    seen_refs: set[tuple[int, int]] = set()
    info = [(i, s, stems(s.text), polarity(s.text), s.citations[0].ref) for i, s in enumerate(statements)
            if s.citations]
    for a in range(len(info)):
        for b in range(a + 1, len(info)):
            i, s1, st1, p1, r1 = info[a]
            j, s2, st2, p2, r2 = info[b]
            if r1 == r2 or p1 == p2 or (min(r1, r2), max(r1, r2)) in seen_refs:
                continue
            shared = st1 & st2
            if not st1 or not st2 or len(shared) / len(st1 | st2) < topic_overlap:
                continue
            seen_refs.add((min(r1, r2), max(r1, r2)))
            topic = " ".join(sorted(shared, key=len, reverse=True)[:4])
            out.append(Difference(
                topic=topic, statements=[i, j],
                note=f"Source [{r1}] reads as '{p1}' and source [{r2}] as '{p2}' on this point; "
                     "read both before relying on either."))
    return out
