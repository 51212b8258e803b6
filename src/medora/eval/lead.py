"""The lead of an answer: what a reader sees first, read from ``medora.answer/1`` JSON.

Key-fact and quote measures score only this part, so an answer that buries the fact in its
seventh statement does not pass. Working on the JSON (not the ``Answer`` model) keeps the
measures valid for any producer of the schema: Medora, the naive baseline, an older build.
"""

from __future__ import annotations

LEAD_AFTER = 3  # statements after the bottom line that still count as the lead
ANSWERED = "answered"


def bottom_line(answer: dict) -> list[str]:
    """The bottom-line statements' texts (empty when the answer abstained or has none)."""
    return [s["text"] for s in answer.get("bottom_line") or []]


def statements(answer: dict) -> list[str]:
    """Every statement's text in reading order: bottom line, then each section's statements.

    Reviewer notes are the editors' words, not the sources', and are left out.
    """
    out = bottom_line(answer)
    for section in answer.get("sections") or []:
        out.extend(s["text"] for s in section.get("statements") or [] if s.get("kind") != "reviewer_note")
    return out


def lead(answer: dict, after: int = LEAD_AFTER) -> list[str]:
    """The lead: the bottom line plus the next ``after`` statements (the first sections' first statements)."""
    return statements(answer)[:len(bottom_line(answer)) + after]


def abstained(answer: dict) -> bool:
    """True when the answer declined to answer (not enough evidence, or not a question)."""
    return answer.get("status") != ANSWERED
