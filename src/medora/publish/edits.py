"""Edits to an article version that keep every statement traceable to its source.

A reviewer may remove a statement, move one within its section, add a note marked as a
reviewer's note (the one statement kind without a citation), or add a statement that quotes an
existing library passage exactly. Each function returns an edited copy and the detail the audit
log keeps; the answer passed in is left untouched. ``verify_answer`` checks a whole new version.
"""

from __future__ import annotations

from typing import Any

from medora.answer.compose import reference
from medora.models import Citation, Document, Passage
from medora.publish.content import (
    BOTTOM_LINE,
    REVIEWER_NOTE,
    ArticleAnswer,
    ArticleStatement,
)
from medora.publish.errors import InvalidInput

MAX_NOTE_CHARS = 2000

Edit = tuple[ArticleAnswer, dict[str, Any]]


def remove_statement(answer: ArticleAnswer, statement_id: str) -> Edit:
    edited = answer.model_copy(deep=True)
    key, index = edited.locate(statement_id)
    removed = edited.section_statements(key).pop(index)
    edited.sections = [s for s in edited.sections if s.statements]
    return edited, {"section": key, "index": index, "statement": removed.model_dump()}


def move_statement(answer: ArticleAnswer, statement_id: str, position: int) -> Edit:
    edited = answer.model_copy(deep=True)
    key, index = edited.locate(statement_id)
    statements = edited.section_statements(key)
    _check_position(position, len(statements) - 1)
    statements.insert(position, statements.pop(index))
    return edited, {"section": key, "statement_id": statement_id, "from_index": index, "to_index": position}


def add_note(answer: ArticleAnswer, section: str, position: int, text: str, author: str) -> Edit:
    text = " ".join((text or "").split())
    if not text or len(text) > MAX_NOTE_CHARS:
        raise InvalidInput(f"a reviewer's note needs 1 to {MAX_NOTE_CHARS} characters")
    edited = answer.model_copy(deep=True)
    note = ArticleStatement(id=edited.next_id(), text=text, citations=[], kind=REVIEWER_NOTE, added_by=author)
    return _insert(edited, section, position, note)


def add_cited_statement(answer: ArticleAnswer, section: str, position: int, passage: Passage, document: Document,
                        start: int, end: int, quote: str, author: str) -> Edit:
    """Add ``quote`` as a statement citing ``passage``; the quote must be exactly ``passage.text[start:end]``."""
    verify_quote(passage, start, end, quote)
    if not quote.strip():
        raise InvalidInput("the quote is empty")
    if document.status != "active":
        raise InvalidInput(f"document {document.id} is retired; cite a current source")
    edited = answer.model_copy(deep=True)
    citation = Citation(ref=_reference_number(edited, document, passage), passage_id=passage.id,
                        document_id=document.id, quote=quote, start=start, end=end)
    statement = ArticleStatement(id=edited.next_id(), text=quote.strip(), citations=[citation],
                                 kind="sentence" if section == BOTTOM_LINE else "bullet", added_by=author)
    return _insert(edited, section, position, statement)


def verify_quote(passage: Passage, start: int, end: int, quote: str) -> None:
    if not (0 <= start <= end <= len(passage.text)) or passage.text[start:end] != quote:
        raise InvalidInput(f"the quote is not the text of passage {passage.id} at [{start}:{end}]")


def verify_answer(answer: ArticleAnswer, passages: dict[int, Passage]) -> None:
    """Refuse a new version unless it answers the question and every citation quotes a library passage exactly
    and names the reference of its document."""
    if answer.status != "answered":
        raise InvalidInput(f"only an answered question can become an article (this answer is {answer.status})")
    references = {r.number: r.document_id for r in answer.references}
    for statement in answer.statements():
        if statement.kind == REVIEWER_NOTE:
            raise InvalidInput("reviewer's notes are added during review, not with a new version")
        if not statement.citations:
            raise InvalidInput(f"statement {statement.id} cites no source")
        for c in statement.citations:
            passage = passages.get(c.passage_id)
            if passage is None or passage.document_id != c.document_id:
                raise InvalidInput(f"statement {statement.id} cites passage {c.passage_id}, which the library "
                                   f"does not hold for document {c.document_id}")
            verify_quote(passage, c.start, c.end, c.quote)
            if references.get(c.ref) != c.document_id:
                raise InvalidInput(f"statement {statement.id} cites reference {c.ref}, which is not document "
                                   f"{c.document_id} in the reference list")


def _insert(edited: ArticleAnswer, section: str, position: int, statement: ArticleStatement) -> Edit:
    statements = edited.section_statements(section)
    _check_position(position, len(statements))
    statements.insert(position, statement)
    return edited, {"section": section, "index": position, "statement": statement.model_dump()}


def _check_position(position: int, last: int) -> None:
    if not 0 <= position <= last:
        raise InvalidInput(f"position {position} is outside this section (0 to {last})")


def _reference_number(answer: ArticleAnswer, document: Document, passage: Passage) -> int:
    for ref in answer.references:
        if ref.document_id == document.id:
            return ref.number
    number = max((r.number for r in answer.references), default=0) + 1
    answer.references.append(reference(document, number, passage.section_path))
    return number
