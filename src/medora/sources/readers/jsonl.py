"""Readers for JSON Lines corpora: BEIR ``corpus.jsonl`` files and generic JSONL with a field mapping.

Each line is one JSON object and becomes one document with a single section. A line that
cannot be used (not JSON, no id or text, a repeated id) is reported as Skipped with its line
number, and reading goes on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from medora.errors import ReaderError
from medora.sources.readers.base import (
    SECTION_TYPES,
    ParsedDocument,
    ParsedSection,
    Skipped,
    check_file,
    clean_text,
    year_from,
)

JSONL_SUFFIXES = (".jsonl", ".ndjson")
MAX_TITLE_CHARS = 120
_FIRST_LINE_LIMIT = 1024 * 1024

#: Aspect labels some corpora attach to a passage (e.g. MedQuAD's qtype) -> section type.
ASPECT_TYPES = {
    "information": "definition",
    "genetic changes": "genetics",
    "exams and tests": "diagnosis",
    "susceptibility": "causes",
    "complications": "outlook",
    "side effects": "adverse reactions",
}
_ASPECT_FIELDS = ("section_type", "qtype")


def _first_record(path: Path, head: bytes) -> Any:
    """The first line of a file parsed as JSON, or None (reads past the head only for a long first line)."""
    if b"\n" not in head and len(head) >= 8192:
        try:
            with path.open("rb") as fh:
                head = fh.readline(_FIRST_LINE_LIMIT)
        except OSError:
            return None
    line = head.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0]
    try:
        return json.loads(line)
    except ValueError:
        return None


def _section_type(record: dict[str, Any]) -> str | None:
    for key in _ASPECT_FIELDS:
        value = record.get(key)
        if isinstance(value, str):
            aspect = value.strip().lower()
            if aspect in SECTION_TYPES:
                return aspect
            if aspect in ASPECT_TYPES:
                return ASPECT_TYPES[aspect]
    return None


def _short_title(text: str) -> str:
    """A title made from the start of the text: its first sentence, cut at a word near 120 characters."""
    first = text.split("\n", 1)[0]
    sentence = first.split(". ", 1)[0].rstrip(".")
    if len(sentence) <= MAX_TITLE_CHARS:
        return sentence
    return sentence[:MAX_TITLE_CHARS].rsplit(" ", 1)[0] + "…"


def _as_str(value: Any) -> str:
    """A string or number field as text; anything else (missing, null, a list) as ""."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return ""


class JsonlReader:
    """Generic JSONL: one document per line, fields named by the mapping given to the constructor."""

    name = "jsonl"

    def __init__(
        self,
        id_field: str = "id",
        title_field: str = "title",
        text_field: str = "text",
        url_field: str | None = None,
        year_field: str | None = None,
    ) -> None:
        self.id_field = id_field
        self.title_field = title_field
        self.text_field = text_field
        self.url_field = url_field
        self.year_field = year_field

    def sniff(self, path: Path, head: bytes) -> bool:
        return path.suffix.lower() in JSONL_SUFFIXES and path.is_file() and isinstance(_first_record(path, head), dict)

    def read(self, path: Path) -> Iterator[ParsedDocument | Skipped]:
        check_file(path)
        seen: set[str] = set()
        try:
            with path.open("rb") as fh:
                for n, raw in enumerate(fh, start=1):
                    if n == 1 and b"\x00" in raw:
                        raise ReaderError(str(path), "binary file (contains NUL bytes), not JSON Lines")
                    if raw.strip():
                        yield self._line(n, raw, seen)
        except OSError as exc:
            raise ReaderError(str(path), f"cannot read: {exc.strerror or exc}") from None

    def _line(self, n: int, raw: bytes, seen: set[str]) -> ParsedDocument | Skipped:
        try:
            record = json.loads(raw.decode("utf-8-sig"))
        except UnicodeDecodeError:
            return Skipped(f"line {n}: not valid UTF-8")
        except ValueError as exc:
            return Skipped(f"line {n}: not valid JSON ({exc})")
        if not isinstance(record, dict):
            return Skipped(f"line {n}: not a JSON object")
        doc_id = _as_str(record.get(self.id_field))
        text = clean_text(_as_str(record.get(self.text_field)))
        if not doc_id:
            return Skipped(f"line {n}: no {self.id_field!r} field")
        if not text:
            return Skipped(f"line {n}: no text in {self.text_field!r}")
        if doc_id in seen:
            return Skipped(f"line {n}: repeated id {doc_id!r}")
        seen.add(doc_id)
        return self._document(record, doc_id, text)

    def _document(self, record: dict[str, Any], doc_id: str, text: str) -> ParsedDocument:
        title = clean_text(_as_str(record.get(self.title_field)))
        url = _as_str(record.get(self.url_field)) if self.url_field else ""
        year = year_from(record.get(self.year_field)) if self.year_field else None
        used = {self.id_field, self.title_field, self.text_field, self.url_field, self.year_field}
        metadata = {k: v for k, v in record.items() if k not in used and v not in (None, "", [], {})}
        section = ParsedSection(path=[title] if title else [], text=text, section_type=_section_type(record))
        return ParsedDocument(
            external_id=doc_id,
            title=title or _short_title(text),
            sections=[section],
            url=url or None,
            year=year,
            metadata=metadata,
        )


class BeirReader(JsonlReader):
    """A BEIR ``corpus.jsonl``: ``_id``, ``title``, ``text``; ``url`` and ``year`` if present; the rest is metadata."""

    name = "beir"

    def __init__(self) -> None:
        super().__init__(id_field="_id", title_field="title", text_field="text", url_field="url", year_field="year")

    def sniff(self, path: Path, head: bytes) -> bool:
        if path.suffix.lower() not in JSONL_SUFFIXES or not path.is_file():
            return False
        record = _first_record(path, head)  # a BEIR queries.jsonl has no "title": it is not a corpus
        return isinstance(record, dict) and {"_id", "title", "text"} <= record.keys()
