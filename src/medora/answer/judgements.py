"""Judgements Medora draws from the statements it cites: the yes/no direction of a bottom line,
the overall strength of the evidence, and where sources differ. Each is read from cited text
and document labels; none adds a claim of its own.
"""

from __future__ import annotations

import re

from medora.answer.anchor import names_focus
from medora.models import Difference, Reference, Statement
from medora.retrieve.query import stems

# A conclusion that denies the question's claim: negated verbs, "no <effect>", "not <associated>",
# and words that say a thing is not needed, not useful or failed.
_NEGATIVE = re.compile(
    r"\b(did not|does not|do not|was not|were not|is not|are not|has not|have not|had not|could not|cannot|can not|"
    r"no (statistically )?significant|not (statistically )?significant(ly)?|"
    r"no (evidence|benefit|difference|differences|effect|improvement|association|correlation|relationship|relation|"
    r"impact|influence|advantage|need|role|place|added value|value|increase|reduction|change|superiority)|"
    r"not (associated|related|correlated|predictive|necessary|needed|required|useful|reliable|justified|warranted|"
    r"recommended|superior|effective|beneficial|influenced|affected|improve|reduce|increase|supported|"
    r"a (predictor|risk factor|reliable|useful|good))|"
    r"unnecessary|little (need|benefit|value|effect|impact|evidence)|lack of|lacks?|absence of|failed to|fails to|"
    r"neither|no longer|ineffective|unlikely|insufficient to|recommends? against|should not|cannot be recommended|"
    r"no better|poor (predictor|correlation|agreement)|weak(ly)? (correlat\w+|associat\w+)|remains? low|"
    r"independent of|no data|inadequate|unable to (show|find|demonstrate|detect|identify|confirm|predict)|"
    r"little (or no )?(awareness|knowledge|use|role|difference|correlation)|"
    r"not (accurate|adequate|sufficient|indicated|feasible|possible|appropriate)|"
    r"(calls?|called|places?|placed|puts?)\b[^.]{0,60}\b(in|into) question)\b",
    re.IGNORECASE,
)
# A conclusion that leaves the question open.
_UNCERTAIN = re.compile(
    r"\b(unclear|uncertain|inconclusive|insufficient evidence|evidence is insufficient|inadequate evidence|"
    r"remains? (controversial|unknown|unclear|to be (determined|established|elucidated|seen))|may or may not|"
    r"conflicting|not clear|could not be determined|limited evidence|controversial|"
    r"not (yet )?(been )?(established|conclusive|clear))\b",
    re.IGNORECASE,
)


def polarity(text: str) -> str:
    """'no', 'unclear' or 'yes' for a conclusion, by its negation and hedging cues."""
    if _UNCERTAIN.search(text):
        return "unclear"
    if _NEGATIVE.search(text):
        return "no"
    return "yes"


def verdict(bottom_line: list[Statement]) -> str:
    """The direction of a yes/no answer, read from the whole bottom line (a study's conclusion):
    any hedge makes it unclear, any denial of the claim makes it no."""
    if not bottom_line:
        return "unclear"
    return polarity(" ".join(s.text for s in bottom_line))


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


def differences(statements: list[Statement], topic_overlap: float = 0.4,
                focus: tuple[str, ...] = ()) -> list[Difference]:
    """Pairs of statements from different sources that make opposite claims on one proposition: both
    take a stance (a denial or hedge against a plain claim), both name the focus when the question has
    one (``focus``: lower-case names), and they share at least ``topic_overlap`` of their word stems."""
    out: list[Difference] = []
    seen_refs: set[tuple[int, int]] = set()
    info = [(i, s, stems(s.text), polarity(s.text), s.citations[0].ref) for i, s in enumerate(statements)
            if s.citations and (not focus or names_focus(s.text, focus))]
    for a in range(len(info)):
        for b in range(a + 1, len(info)):
            i, _, st1, p1, r1 = info[a]
            j, _, st2, p2, r2 = info[b]
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

