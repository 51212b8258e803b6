"""The content of an article version: an ``Answer`` whose statements have stable ids and may be reviewer notes.

``ArticleAnswer`` is an ``Answer`` (renderers accept it) with two additions per statement:
``id`` ("s1", "s2"... in reading order when the version is made; statements added later take the
next free number, so ids never change within a version) and ``added_by`` (the reviewer who added
it). Kind ``reviewer_note`` marks a note a reviewer wrote; it is the one kind without citations.
The bottom line is addressed as section ``bottom_line``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from medora.models import Answer, AnswerSection, Statement
from medora.publish.errors import InvalidInput

BOTTOM_LINE = "bottom_line"
REVIEWER_NOTE = "reviewer_note"


class ArticleStatement(Statement):
    id: str = ""
    kind: Literal["bullet", "step", "sentence", "reviewer_note"] = "bullet"
    added_by: str | None = Field(None, description="Username of the reviewer who added this statement")


class ArticleSection(AnswerSection):
    statements: list[ArticleStatement]


class ArticleAnswer(Answer):
    bottom_line: list[ArticleStatement] = Field(default_factory=list)
    sections: list[ArticleSection] = Field(default_factory=list)

    @classmethod
    def from_answer(cls, answer: Answer) -> ArticleAnswer:
        """A copy of ``answer`` with statement ids numbered afresh in reading order."""
        article = cls.model_validate(answer.model_dump(by_alias=True))
        for number, statement in enumerate(article.statements(), start=1):
            statement.id = f"s{number}"
        return article

    def next_id(self) -> str:
        numbers = [int(s.id[1:]) for s in self.statements() if s.id[1:].isdigit()]
        return f"s{max(numbers, default=0) + 1}"

    def section_keys(self) -> list[str]:
        return [BOTTOM_LINE, *(s.key for s in self.sections)]

    def section_statements(self, key: str) -> list[ArticleStatement]:
        """The list (not a copy) of statements of section ``key``."""
        if key == BOTTOM_LINE:
            return self.bottom_line
        for section in self.sections:
            if section.key == key:
                return section.statements
        raise InvalidInput(f"no section {key!r} in this article; it has {', '.join(self.section_keys())}")

    def locate(self, statement_id: str) -> tuple[str, int]:
        """(section key, index in that section) of a statement."""
        for key in self.section_keys():
            for index, statement in enumerate(self.section_statements(key)):
                if statement.id == statement_id:
                    return key, index
        raise InvalidInput(f"no statement {statement_id!r} in this article version")

    def cited_document_ids(self) -> set[int]:
        return {c.document_id for s in self.statements() for c in s.citations}
