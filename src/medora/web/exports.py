"""RIS export of an answer's references, for reference managers (Zotero, EndNote, Mendeley).

One record per reference: type, title, publisher, year, link, and a note with its evidence label,
the section that was quoted and the question the answer was to. Markdown export is
``medora.answer.render.to_markdown``.
"""

from __future__ import annotations

from medora.models import Answer, Reference

_JOURNAL_TYPES = {"trial", "systematic review", "meta-analysis", "cohort", "review", "case report", "article"}
_OTHER_TYPES = {"guideline": "RPRT", "drug label": "GOVDOC"}  # FDA labels are government documents


def _ris_type(reference: Reference) -> str:
    if reference.doc_type in _JOURNAL_TYPES:
        return "JOUR"
    return _OTHER_TYPES.get(reference.doc_type, "ELEC" if reference.url else "GEN")


def _field(tag: str, value: object) -> str:
    text = " ".join(str(value).split())  # one line per field
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
