"""Reader for PDF files with a text layer (via pypdf): one section per page.

Scanned PDFs (no text layer), password-protected and damaged files are refused with a
one-line reason; OCR is out of scope.
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path
from typing import Any, Iterator

import pypdf
from pypdf.errors import DependencyError, PyPdfError

from medora.errors import ReaderError
from medora.sources.readers.base import (
    ParsedDocument,
    ParsedSection,
    Skipped,
    check_file,
    clean_text,
)
from medora.sources.readers.text import MAX_TITLE_CHARS, reflow

# pypdf reports a damaged file through its own errors but also through plain Python ones.
_PDF_ERRORS = (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError, zlib.error)
_JUNK_TITLE = re.compile(r"^(untitled|document\d*|.*\.(docx?|pdf|indd|tex|rtf|pptx?))$", re.I)


def _open(path: Path) -> pypdf.PdfReader:
    try:
        reader = pypdf.PdfReader(str(path))
    except _PDF_ERRORS as exc:
        raise ReaderError(str(path), f"damaged or not a PDF ({exc})") from None
    if reader.is_encrypted:
        try:
            opened = reader.decrypt("")
        except DependencyError:
            raise ReaderError(str(path), "encrypted PDF; decrypting it needs the 'cryptography' package") from None
        except _PDF_ERRORS as exc:
            raise ReaderError(str(path), f"encrypted PDF that cannot be opened ({exc})") from None
        if not opened:
            raise ReaderError(str(path), "encrypted PDF (password-protected); remove the password first")
    return reader


def _page_texts(path: Path, reader: pypdf.PdfReader) -> list[str]:
    try:
        raw = [page.extract_text() or "" for page in reader.pages]
    except _PDF_ERRORS as exc:
        raise ReaderError(str(path), f"damaged PDF, cannot extract its text ({exc})") from None
    return [clean_text("\n".join(reflow(text.splitlines(), dehyphenate=True))) for text in raw]


def _info(reader: pypdf.PdfReader) -> dict[str, str]:
    """The document information dictionary as plain strings ({} when missing or unreadable)."""
    try:
        info = reader.metadata
        return {str(k): str(v) for k, v in (info or {}).items() if v is not None}
    except _PDF_ERRORS:
        return {}


def _title(info: dict[str, str], pages: list[str], path: Path) -> str:
    title = re.sub(r"^Microsoft (Word|PowerPoint) - ", "", info.get("/Title", "")).strip()
    if title and not _JUNK_TITLE.match(title):
        return title
    first = next((p.split("\n", 1)[0] for p in pages if p), "")
    return first if 0 < len(first) < MAX_TITLE_CHARS else path.stem


class PdfReader:
    """A PDF with a text layer: one document per file, one section per page ("Page 3")."""

    name = "pdf"

    def sniff(self, path: Path, head: bytes) -> bool:
        if path.is_dir():
            return False
        return path.suffix.lower() == ".pdf" or b"%PDF-" in head[:1024]

    def read(self, path: Path) -> Iterator[ParsedDocument | Skipped]:
        check_file(path)
        reader = _open(path)
        pages = _page_texts(path, reader)
        sections = [ParsedSection(path=[f"Page {n}"], text=text) for n, text in enumerate(pages, start=1) if text]
        if not sections:
            raise ReaderError(str(path), "no text layer (scanned PDF?); run OCR first")
        info = _info(reader)
        created = re.search(r"(1[89]\d\d|20\d\d)", info.get("/CreationDate", ""))
        metadata: dict[str, Any] = {"pages": len(pages)}
        if info.get("/Author", "").strip():
            metadata["author"] = info["/Author"].strip()
        yield ParsedDocument(
            external_id=path.name,
            title=_title(info, pages, path),
            sections=sections,
            year=int(created.group(1)) if created else None,
            metadata=metadata,
        )
