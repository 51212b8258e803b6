"""Exports of an answer: Markdown, and RIS of its references for reference managers (Zotero, EndNote, Mendeley).

RIS: one record per reference: type, title, publisher, year, link, and a note with its evidence
label, the section that was quoted and the question the answer was to.

Both neutralise markup, since their readers render it: ``<`` and ``>`` become ``‹``/``›`` in RIS
(whose notes Zotero shows as HTML); in Markdown (``to_markdown``, the renderer's output of a copy)
every text a person or a source wrote is escaped (HTML tags, links, images, emphasis), and a
reviewer's note is labelled with its author ("Reviewer's note (ada):"), as on every page.
"""

from __future__ import annotations

import re

from medora.answer.render import to_markdown as render_markdown
from medora.models import Answer, Reference

REVIEWER_NOTE = "reviewer_note"
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]!~])")  # inline syntax: code, emphasis, links, images


def inert_markdown(text: str) -> str:
    """``text`` shown as itself in Markdown: HTML characters as entities, Markdown syntax backslash-escaped."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def note_label(author: str | None) -> str:
    return f"Reviewer's note ({author})" if author else "Reviewer's note"


def to_markdown(answer: Answer) -> str:
    """The answer as Markdown with every text made inert and reviewer's notes labelled with their author."""
    safe = answer.model_copy(deep=True)
    safe.title = inert_markdown(safe.title)
    safe.question = inert_markdown(safe.question)
    for statement in safe.statements():
        text = inert_markdown(statement.text)
        if statement.kind == REVIEWER_NOTE:
            text = f"**{note_label(getattr(statement, 'added_by', None))}:** {text}"
        statement.text = text
    for reference in safe.references:
        reference.title = inert_markdown(reference.title)
    return render_markdown(safe)

_JOURNAL_TYPES = {"trial", "systematic review", "meta-analysis", "cohort", "review", "case report", "article"}
_OTHER_TYPES = {"guideline": "RPRT", "drug label": "GOVDOC"}  # FDA labels are government documents


def _ris_type(reference: Reference) -> str:
    if reference.doc_type in _JOURNAL_TYPES:
        return "JOUR"
    return _OTHER_TYPES.get(reference.doc_type, "ELEC" if reference.url else "GEN")


def _field(tag: str, value: object) -> str:
    text = " ".join(str(value).split()).replace("<", "‹").replace(">", "›")  # one line per field, no markup
    return f"{tag}  - {text}"


def _record(reference: Reference, question: str) -> list[str]:
    lines = [_field("TY", _ris_type(reference)), _field("TI", reference.title)]
    if reference.publisher:
        lines.append(_field("PB", reference.publisher))
    if reference.year:
        lines.append(_field("PY", reference.year))
    if reference.url:
        lines.append(_field("UR", reference.url))
    note = f"Evidence: {reference.evidence_label}."
    if reference.section:
        note += f" Quoted section: {reference.section}."
    lines += [_field("N1", f"{note} Cited by Medora for: {question}"), "ER  - ", ""]
    return lines


def to_ris(answer: Answer) -> str:
    """The answer's references as RIS (CRLF line ends, as the format's readers expect)."""
    lines = [line for reference in answer.references for line in _record(reference, answer.question)]
    return "\r\n".join(lines)
