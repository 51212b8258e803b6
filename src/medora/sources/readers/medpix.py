"""Reader for MedPix radiology teaching cases (the MedPix 2.0 ``Case_topic.json`` list).

Each case becomes one "case report" document: the case's history, exam, findings,
differential diagnosis, case diagnosis, treatment and discussion, then its topic's disease
discussion (the teaching text shared by cases of one topic). Placeholders ("N/A") and the
topic's reference list are not statements. Images are not part of the data set's text; their
ids are kept in metadata. A case that cannot be used is reported with its position and
reading goes on.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

from medora.errors import ReaderError
from medora.sources.readers.base import ParsedDocument, ParsedSection, Skipped, check_file, clean_text, decode_text

PUBLISHER = "MedPix, U.S. National Library of Medicine"
LICENSE = "Not stated upstream; educational and research use with attribution"

#: Case field -> (heading, section type).
CASE_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("History", "History", "symptoms"),
    ("Exam", "Exam", "symptoms"),
    ("Findings", "Findings", "diagnosis"),
    ("Differential Diagnosis", "Differential diagnosis", "diagnosis"),
    ("Case Diagnosis", "Case diagnosis", "diagnosis"),
    ("Treatment & Follow Up", "Treatment and follow-up", "treatment"),
    ("Discussion", "Case discussion", "other"),
)
_PLACEHOLDER = re.compile(r"^(n/?a|none|not available|unknown|-+|\.)$", re.I)
_REFERENCES = re.compile(r"(?im)^\s*(refs?|references?|sources?)\s*:?.*$")


def _text(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    text = clean_text(value)
    return "" if _PLACEHOLDER.match(text) else text


def _without_references(text: str) -> str:
    """Disease discussion text up to its "Ref:" / "References" block."""
    match = _REFERENCES.search(text)
    return text[: match.start()].rstrip() if match and match.start() > 0 else text


def case_document(case: Any) -> ParsedDocument:
    """One MedPix case -> a case-report document; ReaderError (with the reason) for an unusable one."""
    if not isinstance(case, dict):
        raise ReaderError("case", f"a JSON {type(case).__name__}, not an object")
    case_id = str(case.get("U_id") or "").strip()
    if not case_id:
        raise ReaderError("case", "no U_id")
    info = case.get("Case") if isinstance(case.get("Case"), dict) else {}
    topic = case.get("Topic") if isinstance(case.get("Topic"), dict) else {}
    sections = [ParsedSection([heading], text, section_type)
                for key, heading, section_type in CASE_FIELDS if (text := _text(info.get(key)))]
    discussion = _without_references(_text(topic.get("Disease Discussion")))
    topic_title = " ".join(str(topic.get("Title") or "").split())
    if discussion:
        sections.append(ParsedSection(["Disease discussion", topic_title] if topic_title else ["Disease discussion"],
                                      discussion, "definition"))
    if not sections:
        raise ReaderError(case_id, "case without any text")
    case_title = " ".join(str(info.get("Title") or "").split()) or topic_title or case_id
    return ParsedDocument(
        external_id=case_id,
        title=f"{case_title} (MedPix teaching case {case_id})",
        sections=sections,
        url=None,
        publisher=PUBLISHER,
        doc_type="case report",
        license=LICENSE,
        metadata={
            "case_title": case_title,
            "topic_title": topic_title or None,
            "acr_code": str(topic.get("ACR Code") or "").strip() or None,
            "category": str(topic.get("Category") or "").strip() or None,
            "keywords": _text(topic.get("Keywords")) or None,
            "diagnosis_by": _text(info.get("Diagnosis By")) or None,
            "image_ids": [str(i) for key in ("TAC", "MRI") for i in _list(case.get(key)) if isinstance(i, str)],
            "teaching_case": True,
        },
    )


def _list(value: object) -> list:
    """``value`` when it is a list, else nothing (an edited or damaged record must not stop the file)."""
    return value if isinstance(value, list) else []


class MedPixReader:
    """MedPix 2.0 case-topic JSON (a list of cases) -> one case-report document per case."""

    name = "medpix"

    def sniff(self, path: Path, head: bytes) -> bool:
        if path.is_dir() or path.suffix.lower() != ".json":
            return False
        return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"[") and b'"U_id"' in head and b'"Case"' in head

    def read(self, path: Path) -> Iterator[ParsedDocument | Skipped]:
        check_file(path)
        try:
            cases = json.loads(decode_text(path, path.read_bytes()))
        except json.JSONDecodeError as exc:
            raise ReaderError(str(path), f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
        except OSError as exc:
            raise ReaderError(str(path), f"cannot open: {exc.strerror or exc}") from None
        if not isinstance(cases, list):
            raise ReaderError(str(path), "not a MedPix case list (expected a JSON list of cases)")
        seen: set[str] = set()
        for position, case in enumerate(cases, start=1):
            try:
                doc = case_document(case)
            except ReaderError as exc:
                yield Skipped(f"{path.name} case {position}: {exc.reason}")
                continue
            if doc.external_id in seen:
                yield Skipped(f"{path.name} case {position}: repeated U_id {doc.external_id}")
                continue
            seen.add(doc.external_id)
            yield doc
