"""Reader for MedlinePlus health topic summaries as JSON Lines (``id``, ``title``, ``url``, ``text``).

Each line is one topic. Its text carries its own question headings on lines of their own
("What is gout?", "What causes gout?", "How is gout diagnosed?"); each becomes a section typed
as MedQuAD types the same question (``medquad.QTYPE_SECTION``), text before the first heading
is the topic's "definition", and the trailing contributing-institute line ("NIH: National
Institute of ...") is kept as metadata, not as a statement. A line that cannot be used is
reported with its line number and reading goes on.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

from medora.errors import ReaderError
from medora.sources.readers.base import ParsedDocument, ParsedSection, Skipped, check_file, clean_text, decode_text
from medora.sources.readers.medquad import QTYPE_SECTION

PUBLISHER = "MedlinePlus, U.S. National Library of Medicine"
LICENSE = "Public domain (U.S. National Library of Medicine)"
CREDIT = "Courtesy of MedlinePlus from the National Library of Medicine"

#: Question heading -> MedQuAD qtype (first match wins), whose section type the heading gets.
HEADING_QTYPES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p, re.I), qtype)
    for p, qtype in [
        (r"\b(symptoms?|signs?)\b", "symptoms"),
        (r"\b(diagnos\w*|tests?|testing|screen\w*|exams?)\b", "exams and tests"),
        (r"\b(treat\w*|therap\w*|manag\w*|cured?)\b", "treatment"),
        (r"\bprevent\w*|\breduce (my|the|your) risk", "prevention"),
        (r"\b(causes?|caused)\b|\bwhy do\b", "causes"),
        (r"\b(who is|who are)\b.*\b(risk|likely|get|develop)|\brisk factors?\b", "susceptibility"),
        (r"\b(outlook|prognosis)\b", "outlook"),
        (r"\bcomplications?\b|\bproblems? can\b", "complications"),
        (r"\b(genetic|genes?)\b", "genetic changes"),
        (r"\binherit\w*", "inheritance"),
        (r"\bhow common\b|\bhow many people\b", "frequency"),
        (r"\bresearch\b|\bclinical trials?\b", "research"),
        (r"\bwhen (should|to) (i )?(call|see|contact)\b", "when to contact a medical professional"),
        (r"^(what is|what are|what's)\b", "information"),
    ]
]

_HEADING = re.compile(
    r"^(What|How|Who|Why|When|Where|Which|Can|Could|Are|Is|Do|Does|Should|Will|If|Am|Have|Did)\b[^.!?]{3,150}\?$"
)
_CONTRIBUTOR = re.compile(
    r"^(NIH:|National |Centers for|Dept\.|Department of|United States Department|Food and Drug|Agency for|"
    r"Environmental Protection|Federal Emergency|Bureau of|Health Resources|Centers for Medicare|Office of)"
)


def heading_type(heading: str) -> str:
    """The section type for a question heading ("What causes gout?" -> "causes"); "other" when none fits."""
    for pattern, qtype in HEADING_QTYPES:
        if pattern.search(heading):
            return QTYPE_SECTION[qtype]
    return "other"


def _split_contributor(lines: list[str]) -> tuple[list[str], str | None]:
    """(lines without the trailing institute line(s), the institute) — "...and Skin \\nDiseases" is one line."""
    if not lines:
        return lines, None
    last = lines[-1]
    ends_sentence = last.endswith((".", "?", ":"))
    if len(lines) >= 2 and len(last.split()) <= 2 and not ends_sentence and _CONTRIBUTOR.match(lines[-2]):
        return lines[:-2], f"{lines[-2]} {last}"
    if _CONTRIBUTOR.match(last) and not ends_sentence and len(last.split()) <= 16:
        return lines[:-1], last
    return lines, None


def topic_sections(text: str) -> tuple[list[ParsedSection], str | None]:
    """Sections of one topic summary and its contributing institute."""
    lines = [line for line in clean_text(text.replace("\t", " ")).split("\n") if line.strip()]
    lines, contributor = _split_contributor(lines)
    sections: list[ParsedSection] = []
    heading: str | None = None
    body: list[str] = []

    def flush() -> None:
        if body:
            path = [heading] if heading else ["Summary"]
            sections.append(ParsedSection(path, "\n".join(body), heading_type(heading) if heading else "definition"))

    for line in lines:
        if _HEADING.match(line) and len(line.split()) <= 20:
            flush()
            heading, body = line, []
        else:
            body.append(line)
    flush()
    return sections, contributor


class MedlinePlusReader:
    """MedlinePlus health topics JSONL -> one patient-information document per topic."""

    name = "medlineplus"

    def sniff(self, path: Path, head: bytes) -> bool:
        if path.is_dir() or path.suffix.lower() not in (".jsonl", ".ndjson"):
            return False
        first = head.split(b"\n", 1)[0]
        return b'"medlineplus:' in first or (b"medlineplus.gov" in first and b'"text"' in first)

    def read(self, path: Path) -> Iterator[ParsedDocument | Skipped]:
        check_file(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ReaderError(str(path), f"cannot open: {exc.strerror or exc}") from None
        seen: set[str] = set()
        for number, line in enumerate(decode_text(path, raw).split("\n"), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                yield Skipped(f"{path.name} line {number}: not valid JSON ({exc.msg})")
                continue
            problem = _problem(record, seen)
            if problem:
                yield Skipped(f"{path.name} line {number}: {problem}")
                continue
            doc = topic_document(record)
            if doc is None:
                yield Skipped(f"{path.name} line {number}: MedlinePlus topic without summary text")
                continue
            seen.add(doc.external_id)
            yield doc


def _problem(record: Any, seen: set[str]) -> str | None:
    if not isinstance(record, dict):
        return f"a JSON {type(record).__name__}, not an object"
    if not isinstance(record.get("text"), str) or not record["text"].strip():
        return "no text (a MedlinePlus topic needs 'text')"
    if not str(record.get("id") or record.get("url") or "").strip():
        return "no id or url"
    if _external_id(record) in seen:
        return f"repeated id {_external_id(record)!r}"
    return None


def _external_id(record: dict[str, Any]) -> str:
    value = str(record.get("id") or record.get("url")).strip()
    return value.removeprefix("medlineplus:")


def topic_document(record: dict[str, Any]) -> ParsedDocument | None:
    """One JSONL record -> a patient-information document (None when no section text is left)."""
    sections, contributor = topic_sections(record["text"])
    if not sections:
        return None
    external_id = _external_id(record)
    title = " ".join(str(record.get("title") or external_id).split())
    return ParsedDocument(
        external_id=external_id,
        title=title,
        sections=sections,
        url=str(record.get("url") or "") or None,
        publisher=PUBLISHER,
        doc_type="patient information",
        license=LICENSE,
        metadata={"contributor": contributor, "language": record.get("language"), "topic": title,
                  "attribution": CREDIT},
    )
