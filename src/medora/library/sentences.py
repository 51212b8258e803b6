"""Sentence boundaries as character offsets, so an answer can quote an exact sentence.

A rule-based splitter tuned for clinical text: it does not split after common abbreviations
(e.g., Dr., mg., vs.), inside decimals (2.5 mg), or after initials, and it always splits at
line breaks (readers put list items and paragraphs on their own lines).
"""

from __future__ import annotations

import re

_ABBREVIATIONS = frozenset(
    """
    e.g i.e etc vs v dr mr mrs ms prof st no nos fig figs al approx ca cf dept est inc ltd co corp
    jan feb mar apr jun jul aug sep sept oct nov dec mg mcg kg ml dl mmol mol min max hr hrs wk wks
    yr yrs mo mos sec resp dx tx rx hx sx ref refs vol pp ed eds b.i.d t.i.d q.i.d p.o i.v i.m s.c
    u.s u.k a.m p.m sr jr ph.d m.d
    """.split()
)

# A candidate boundary: terminal punctuation, optional closing quotes/brackets, whitespace, then
# something that can start a sentence.
_BOUNDARY = re.compile(r"""([.!?])["'\u201d\u2019)\]]*\s+(?=["'\u201c\u2018(\[]?[A-Z0-9\u00C0-\u024F])""")
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]*)$")


def _is_abbreviation(text: str, dot_index: int) -> bool:
    m = _WORD_BEFORE.search(text, max(0, dot_index - 64), dot_index)  # only the word before the dot
    if not m:
        return False
    word = m.group(1).lower().rstrip(".")
    if word in _ABBREVIATIONS:
        return True
    # Single capital initial ("J. Smith") or dotted acronym ("U.S.")
    return len(word) == 1 or ("." in word and len(word) <= 6)


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Return (start, end) offsets of the sentences in ``text``, whitespace trimmed, in order."""
    spans: list[tuple[int, int]] = []
    line_start = 0
    for line in text.split("\n"):
        _split_line(text, line_start, line_start + len(line), spans)
        line_start += len(line) + 1
    return spans


def _split_line(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    segment_start = start
    for m in _BOUNDARY.finditer(text, start, end):
        if m.group(1) == "." and _is_abbreviation(text, m.start(1)):
            continue
        _append(text, segment_start, m.end(), spans)
        segment_start = m.end()
    _append(text, segment_start, end, spans)


def _append(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))
