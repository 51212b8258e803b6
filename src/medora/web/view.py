"""An answer shaped for the templates: statements with their citations spelled out, exports, tooltips.

Each citation becomes a marker that names its reference number, shows the quoted passage with its
source and evidence label (a tooltip with a unique id, for ``aria-describedby``), and links to
that passage in the library's document view. Nothing here escapes text: the templates do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import count
from urllib.parse import quote

from medora.models import Answer, Citation, Reference, Statement
from medora.web.exports import to_markdown, to_ris

VERDICT_WORDS = {"yes": "Yes.", "no": "No.", "unclear": "The evidence is unclear."}


@dataclass(frozen=True)
class CiteView:
    number: int
    quote: str
    source: str
    label: str
    href: str
    tip_id: str


@dataclass(frozen=True)
class StatementView:
    id: str
    text: str
    kind: str
    cites: list[CiteView]
    added_by: str | None = None


@dataclass(frozen=True)
class SectionView:
    key: str
    heading: str
    ordered: bool
    statements: list[StatementView]


@dataclass(frozen=True)
class DifferenceView:
    note: str
    statements: list[StatementView]


@dataclass(frozen=True)
class AnswerView:
    """What the answer templates show; ``exports`` maps a label to (href, file name)."""

    answer: Answer
    verdict_word: str
    bottom_line: list[StatementView]
    sections: list[SectionView]
    differences: list[DifferenceView]
    references: list[Reference]
    exports: dict[str, tuple[str, str]] = field(default_factory=dict)


def passage_href(citation: Citation) -> str:
    return f"/library/documents/{citation.document_id}#passage-{citation.passage_id}"


class _Builder:
    """Turns statements into views, numbering tooltip ids within one page."""

    def __init__(self, answer: Answer, prefix: str):
        self.references = {r.number: r for r in answer.references}
        self.prefix = prefix
        self.ids = count(1)

    def cite(self, citation: Citation) -> CiteView:
        ref = self.references.get(citation.ref)
        return CiteView(number=citation.ref, quote=citation.quote, source=ref.title if ref else "",
                        label=ref.evidence_label if ref else "", href=passage_href(citation),
                        tip_id=f"{self.prefix}-cite-{next(self.ids)}")

    def statement(self, statement: Statement) -> StatementView:
        return StatementView(id=getattr(statement, "id", ""), text=statement.text, kind=statement.kind,
                             cites=[self.cite(c) for c in statement.citations],
                             added_by=getattr(statement, "added_by", None))


def answer_view(answer: Answer, prefix: str = "a", exports: dict[str, tuple[str, str]] | None = None) -> AnswerView:
    """The view of ``answer``; ``prefix`` keeps element ids unique when a page shows two answers."""
    build = _Builder(answer, prefix)
    bottom = [build.statement(s) for s in answer.bottom_line]
    sections = [SectionView(s.key, s.heading, any(x.kind == "step" for x in s.statements),
                            [build.statement(x) for x in s.statements]) for s in answer.sections]
    every = answer.statements()
    differences = [DifferenceView(d.note, [build.statement(every[i]) for i in d.statements if 0 <= i < len(every)])
                   for d in answer.differences]
    return AnswerView(answer=answer, verdict_word=VERDICT_WORDS.get(answer.verdict or "", ""), bottom_line=bottom,
                      sections=sections, differences=differences, references=answer.references,
                      exports=exports if exports is not None else embedded_exports(answer))


def file_stem(answer: Answer) -> str:
    words = "".join(ch if ch.isalnum() else " " for ch in answer.title.lower()).split()
    return "-".join(words[:8]) or "answer"


def embedded_exports(answer: Answer) -> dict[str, tuple[str, str]]:
    """Exports of an answer that is not stored anywhere: the files themselves, as data: links."""
    if answer.status != "answered":
        return {}
    stem = file_stem(answer)
    return {
        "Markdown": ("data:text/markdown;charset=utf-8," + quote(to_markdown(answer)), f"{stem}.md"),
        "References (RIS)": ("data:application/x-research-info-systems;charset=utf-8," + quote(to_ris(answer)),
                             f"{stem}.ris"),
    }
