"""What an article shows comes from the library, never from the client that saved it.

A client saving an answer (``POST /v1/articles``, new versions, variants) sends a whole ``Answer``.
Before it is stored, ``check_canonical`` rebuilds what readers trust from the server's own data and
refuses (``InvalidInput``: 422 problem+json naming the field) any value that differs:

* each statement's ``text`` is the text its first citation quotes (verified against the passage;
  further citations are supporting quotes), so a sentence cannot say something its [1] does not;
* each reference (title, source, publisher, year, link, type, grade, quoted section and the
  evidence label) is the library document's, numbered in order of first citation; a reference
  no statement cites is refused;
* the ``disclaimer`` is the audience's fixed text, the ``title`` the question.

Refusing (rather than silently replacing) keeps the saved version byte-for-byte what the editor
sent and reviewed. A reviewer's own words exist only as labelled notes (``edits.add_note``).
Generated prose (statements whose text is not their quote) cannot be published.
"""

from __future__ import annotations

from medora.answer.audience import PROFILES
from medora.answer.compose import reference
from medora.models import Document, Passage
from medora.publish.articles import question_key
from medora.publish.content import BOTTOM_LINE, ArticleAnswer
from medora.publish.errors import InvalidInput

_REFERENCE_FIELDS = ("document_id", "source", "title", "publisher", "year", "url", "doc_type", "grade", "section",
                     "evidence_label")


def _squeeze(text: str) -> str:
    return " ".join(text.split())


def statement_fields(answer: ArticleAnswer) -> list[tuple[str, object]]:
    """(field path as the client sent it, statement) in reading order: ``bottom_line[0]``, ``sections[1].statements[2]``."""
    out: list[tuple[str, object]] = [(f"{BOTTOM_LINE}[{i}]", s) for i, s in enumerate(answer.bottom_line)]
    for j, section in enumerate(answer.sections):
        out += [(f"sections[{j}].statements[{i}]", s) for i, s in enumerate(section.statements)]
    return out


def check_canonical(answer: ArticleAnswer, passages: dict[int, Passage], documents: dict[int, Document]) -> None:
    """Refuse ``answer`` (already quote-verified) unless its shown text, references and disclaimer are the library's."""
    fixed = PROFILES.get(answer.audience)
    if fixed is not None and answer.disclaimer != fixed.disclaimer:
        raise InvalidInput("disclaimer: differs from the fixed text for the audience "
                           f"{answer.audience!r}; the server sets it (send it unchanged or as /v1/ask gave it)")
    if question_key(answer.title) != question_key(answer.question):
        raise InvalidInput("title: must be the question itself; the server does not publish another title")
    first_section: dict[int, list[str]] = {}
    for where, statement in statement_fields(answer):
        citations = statement.citations  # type: ignore[attr-defined]
        if citations and _squeeze(statement.text) != _squeeze(citations[0].quote):  # type: ignore[attr-defined]
            raise InvalidInput(f"{where}.text: differs from the source text it cites; a statement's text is "
                               "its verified quote (reviewers add their own words as labelled notes)")
        for c in citations:
            first_section.setdefault(c.document_id, passages[c.passage_id].section_path)
    cited = set(first_section)
    for i, ref in enumerate(answer.references):
        if ref.document_id not in cited:
            raise InvalidInput(f"references[{i}]: document {ref.document_id} is cited by no statement")
        document = documents.get(ref.document_id)
        if document is None:
            raise InvalidInput(f"references[{i}]: the library holds no document {ref.document_id}")
        expected = reference(document, ref.number, first_section[ref.document_id])
        for name in _REFERENCE_FIELDS:
            if getattr(ref, name) != getattr(expected, name):
                raise InvalidInput(f"references[{i}].{name}: differs from the library's record of document "
                                   f"{ref.document_id}; references and evidence labels come from the library")
