"""Safe query terms: user text becomes quoted FTS5 terms, never FTS5 syntax.

Any quote, operator, bracket, NUL byte, emoji or 100 KB paste is reduced to a bounded list of
plain word tokens, each wrapped in double quotes and OR-ed, so no user input can raise an SQL
or FTS5 error.
"""

from __future__ import annotations

import re

MAX_TERMS = 48
MAX_TERM_CHARS = 40

STOPWORDS = frozenset(
    """
    a about above after again against all am an and any are aren as at be because been before being below
    between both but by can cannot could couldn did didn do does doesn doing don down during each few for from
    further had hadn has hasn have haven having he her here hers herself him himself his how i if in into is
    isn it its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should shouldn so some such than that the their theirs them themselves
    then there these they this those through to too under until up very was wasn we were weren what when
    where which while who whom why will with won would wouldn you your yours yourself yourselves
    ll re ve s t d m y o
    please thanks thank hi hello dear regards question questions tell know need want like get got
    name phone email dob mrn
    """.split()
)

_TOKEN = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*", re.UNICODE)


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens of ``text`` (letters and digits; inner hyphens/apostrophes kept)."""
    if not text:
        return []
    text = text.replace("\x00", " ")[:100_000]
    return [t.lower() for t in _TOKEN.findall(text) if len(t) <= MAX_TERM_CHARS]


def content_terms(text: str) -> list[str]:
    """Distinct non-stopword tokens in order of first appearance (at most MAX_TERMS)."""
    seen: dict[str, None] = {}
    for token in tokenize(text):
        for part in re.split(r"[-']", token):
            if part and part not in STOPWORDS and part not in seen:
                seen[part] = None
    return list(seen)[:MAX_TERMS]


def fts_match(terms: list[str]) -> str:
    """An FTS5 MATCH expression OR-ing the quoted terms ('' when there are none)."""
    quoted = ['"' + t.replace('"', "") + '"' for t in terms if t]
    return " OR ".join(quoted)


_SUFFIXES = ("ational", "ization", "fulness", "iveness", "ations", "ation", "ments", "ment", "ness", "ings",
             "ing", "ies", "ied", "ers", "er", "ed", "es", "ly", "s")


def light_stem(word: str) -> str:
    """A small suffix stripper so 'symptoms' meets 'symptom' and 'treated' meets 'treat'."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def stems(text: str) -> set[str]:
    """Light stems of the words of ``text``; hyphenated and possessive words count by their parts."""
    out = set()
    for token in tokenize(text):
        for part in re.split(r"[-']", token):
            if part:
                out.add(light_stem(part))
    return out
