"""Statement-level difference between two article versions.

Statements are paired in passes, each over what earlier passes left unpaired:
1. same text and same citations (document and quote): unchanged;
2. same text, other citations: ``re_cited``;
3. a cited passage in common, other text: ``changed``;
4. a cited document in common and similar wording (the source was re-worded): ``changed``.
Within a pass the most similar pairs are taken first. What is left is ``removed`` (old) or
``added`` (new). Where a statement sits does not count.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel

from medora.publish.content import ArticleAnswer, ArticleStatement
from medora.retrieve.query import stems

SIMILAR_WORDING = 0.5  # least Jaccard overlap of word stems for pass 4

Change = Literal["added", "removed", "changed", "re_cited"]


class DiffEntry(BaseModel):
    change: Change
    section: str = ""  # where the new statement is (the old one, for ``removed``)
    old: ArticleStatement | None = None
    new: ArticleStatement | None = None


class StatementDiff(BaseModel):
    old_version: int
    new_version: int
    audience: str
    unchanged: int
    entries: list[DiffEntry]

    def of(self, change: Change) -> list[DiffEntry]:
        return [e for e in self.entries if e.change == change]


_Located = tuple[int, str, ArticleStatement]  # (reading position, section key, statement)


def _text(s: ArticleStatement) -> str:
    return " ".join(s.text.split())


def _citations(s: ArticleStatement) -> frozenset[tuple[int, str]]:
    return frozenset((c.document_id, " ".join(c.quote.split())) for c in s.citations)


def _similarity(a: ArticleStatement, b: ArticleStatement) -> float:
    sa, sb = stems(a.text), stems(b.text)
    return len(sa & sb) / len(sa | sb) if sa | sb else 1.0


def _passages(s: ArticleStatement) -> set[int]:
    return {c.passage_id for c in s.citations}


def _documents(s: ArticleStatement) -> set[int]:
    return {c.document_id for c in s.citations}


_PASSES: list[tuple[Change | None, Callable[[ArticleStatement, ArticleStatement], bool]]] = [
    (None, lambda a, b: _text(a) == _text(b) and _citations(a) == _citations(b)),
    ("re_cited", lambda a, b: _text(a) == _text(b)),
    ("changed", lambda a, b: bool(_passages(a) & _passages(b))),
    ("changed", lambda a, b: bool(_documents(a) & _documents(b)) and _similarity(a, b) >= SIMILAR_WORDING),
]


def _located(answer: ArticleAnswer) -> list[_Located]:
    pairs = [(key, s) for key in answer.section_keys() for s in answer.section_statements(key)]
    return [(i, key, s) for i, (key, s) in enumerate(pairs)]


def diff_answers(old: ArticleAnswer, new: ArticleAnswer) -> tuple[list[DiffEntry], int]:
    """(entries in reading order of the new answer, then removals in the old one's; number unchanged)."""
    olds, news = _located(old), _located(new)
    found: list[tuple[tuple[int, int], DiffEntry]] = []
    unchanged = 0
    for change, same in _PASSES:
        pairs = sorted(((o, n) for o in olds for n in news if same(o[2], n[2])),
                       key=lambda p: (-_similarity(p[0][2], p[1][2]), p[1][0], p[0][0]))
        for o, n in pairs:
            if o not in olds or n not in news:
                continue
            olds.remove(o)
            news.remove(n)
            if change is None:
                unchanged += 1
            else:
                found.append(((0, n[0]), DiffEntry(change=change, section=n[1], old=o[2], new=n[2])))
    found += [((0, n[0]), DiffEntry(change="added", section=n[1], new=n[2])) for n in news]
    found += [((1, o[0]), DiffEntry(change="removed", section=o[1], old=o[2])) for o in olds]
    return [entry for _, entry in sorted(found, key=lambda pair: pair[0])], unchanged
