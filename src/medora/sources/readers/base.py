"""What every reader produces: a ParsedDocument made of ParsedSections.

A reader turns one file (or one archive member, or one JSON record) into documents with
plain-text sections. It knows nothing about the library, chunking or SQL. Readers raise
``ReaderError`` with a one-line reason for a file they cannot read.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Protocol

from lxml import etree

from medora.errors import ReaderError

#: Document types, in the order of evidence authority used by the answer layer (first = strongest).
DOC_TYPES = (
    "guideline",
    "systematic review",
    "meta-analysis",
    "trial",
    "cohort",
    "case-control",
    "case report",
    "review",
    "drug label",
    "patient information",
    "article",
    "other",
)

#: Section types: what a passage is about, so a question type can be matched to it.
SECTION_TYPES = (
    "definition",
    "causes",
    "symptoms",
    "diagnosis",
    "treatment",
    "prevention",
    "screening",
    "outlook",
    "genetics",
    "inheritance",
    "frequency",
    "research",
    "indications",
    "dosage",
    "contraindications",
    "warnings",
    "adverse reactions",
    "interactions",
    "specific populations",
    "patient counseling",
    "recommendation",
    "background",
    "methods",
    "results",
    "conclusions",
    "other",
)

MAX_FILE_BYTES = 100 * 1024 * 1024
"""Files larger than this are refused by readers (one clear line; the batch goes on)."""


@dataclass
class ParsedSection:
    """A run of plain text under a heading path such as ("Warnings and precautions", "Liver")."""

    path: list[str]
    text: str
    section_type: str | None = None  # one of SECTION_TYPES, when the source says it


@dataclass
class ParsedDocument:
    """One document as a reader produced it, before chunking.

    ``external_id`` is unique within its source and stable across versions of the source
    (a PMID, a MedQuAD document id, a set id), so a changed document replaces its old self.
    """

    external_id: str
    title: str
    sections: list[ParsedSection]
    url: str | None = None
    publisher: str | None = None
    year: int | None = None
    doc_type: str = "other"
    grade: str | None = None
    license: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def content_hash(self) -> str:
        """A hash of everything stored for this document: equal hash means nothing to re-ingest."""
        payload = {
            "id": self.external_id,
            "title": self.title,
            "url": self.url,
            "publisher": self.publisher,
            "year": self.year,
            "doc_type": self.doc_type,
            "grade": self.grade,
            "license": self.license,
            "metadata": self.metadata,
            "sections": [[s.path, s.text, s.section_type] for s in self.sections],
        }
        raw = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()


@dataclass
class Skipped:
    """Something a reader passed over on purpose (not an error), e.g. a MedQuAD pair whose answer was removed."""

    reason: str
    count: int = 1

    def __post_init__(self) -> None:
        self.reason = " ".join(str(self.reason).split())  # one line in reports, whatever the source held


class Reader(Protocol):
    """A reader for one format. ``sniff`` decides cheaply whether it applies; ``read`` parses.

    A reader may declare ``version`` (an int class attribute; :func:`reader_version` reads it, 1
    when absent). Whoever changes what a reader produces from the same file bumps it: ingestion
    keys a file's "already read" record by file digest, reader name and version, so a library
    re-reads the files of a changed reader (documents whose content did not change stay as they are).
    """

    name: str

    def sniff(self, path: Path, head: bytes) -> bool:
        """True when ``path`` (whose first bytes are ``head``) is in this reader's format."""
        ...

    def read(self, path: Path) -> Iterator[ParsedDocument | Skipped]:
        """Yield documents (and Skipped markers). Raise ReaderError for an unreadable file."""
        ...


DEFAULT_READER_VERSION = 1


def reader_version(reader: object) -> int:
    """The version of what ``reader`` produces: its ``version`` attribute, or 1 when it declares none."""
    version = getattr(reader, "version", DEFAULT_READER_VERSION)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise TypeError(f"reader {getattr(reader, 'name', reader)!r} has version {version!r}; a reader version is "
                        "a positive int")
    return version


# ---------------------------------------------------------------- shared helpers for readers

_WS = re.compile(r"[ \t\r\f\v\u00a0]+")
_MANY_NL = re.compile(r"\n\s*\n+")


def clean_text(text: str) -> str:
    """Collapse runs of spaces, keep paragraph/line breaks as single newlines, strip each line."""
    if not text:
        return ""
    text = html.unescape(text)
    text = text.replace("\x00", "")
    lines = [_WS.sub(" ", line).strip() for line in text.split("\n")]
    out = "\n".join(line for line in lines if line)
    return _MANY_NL.sub("\n", out).strip()


_TAG = re.compile(r"<[^>]+>")
_BLOCK = re.compile(r"</?(p|div|br|li|ul|ol|h[1-6]|tr|table|section|blockquote)\b[^>]*>", re.I)


def html_to_text(fragment: str) -> str:
    """Plain text from an HTML fragment: block tags become line breaks, other tags vanish."""
    if not fragment:
        return ""
    text = _BLOCK.sub("\n", fragment)
    text = _TAG.sub("", text)
    return clean_text(text)


def check_file(path: Path, max_bytes: int = MAX_FILE_BYTES) -> None:
    """Raise ReaderError for a missing, empty or oversized file."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ReaderError(str(path), f"cannot open: {exc.strerror or exc}") from None
    if size == 0:
        raise ReaderError(str(path), "empty file")
    if size > max_bytes:
        raise ReaderError(
            str(path), f"file is {size / 1e6:.0f} MB, over the {max_bytes / 1e6:.0f} MB limit for one file"
        )


def decode_text(path: Path, data: bytes) -> str:
    """Decode bytes as UTF-8 (BOM allowed); refuse binary data and other encodings clearly."""
    if b"\x00" in data[:8192]:
        raise ReaderError(str(path), "binary file (contains NUL bytes), not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReaderError(
            str(path), f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); convert it to UTF-8"
        ) from None


def as_list(value: Any) -> list:
    """``value`` if it is a list, else [] (JSON sources sometimes hold a scalar where a list belongs)."""
    return value if isinstance(value, list) else []


def year_from(value: Any) -> int | None:
    """First plausible 4-digit year (1800-2100) in a value, or None."""
    if value is None:
        return None
    m = re.search(r"\b(1[89]\d\d|20\d\d|2100)\b", str(value))
    return int(m.group(1)) if m else None


# ---------------------------------------------------------------- XML

_FIRST_TAG = re.compile(rb"<([A-Za-z_][\w.:-]*)")
_COMMENT = re.compile(rb"<!--.*?-->", re.S)
_POSITION_SUFFIX = re.compile(r",? line \d+, column \d+$")


def xml_root_tag(head: bytes) -> str | None:
    """Name of the first element in the first bytes of an XML file, or None for non-XML."""
    body = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not body.startswith(b"<"):
        return None
    match = _FIRST_TAG.search(_COMMENT.sub(b"", body))
    return match.group(1).decode("ascii", "replace") if match else None


def parse_xml(path: Path) -> etree._Element:
    """Parse an XML file safely (no DTD, no network, no entity expansion); ReaderError if malformed."""
    check_file(path)
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        recover=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        return etree.fromstring(path.read_bytes(), parser)
    except etree.XMLSyntaxError as exc:
        line, column = exc.position
        reason = _POSITION_SUFFIX.sub("", exc.msg or "syntax error")
        raise ReaderError(str(path), f"malformed XML at line {line}, column {column}: {reason}") from None
    except OSError as exc:
        raise ReaderError(str(path), f"cannot open: {exc.strerror or exc}") from None


def tar_members(path: Path, suffix: str) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of every file member of a tarball whose name ends in ``suffix``, streamed in archive
    order (never unpacked to disk); a member over ``MAX_FILE_BYTES`` or a corrupt archive is a ReaderError."""
    try:
        with tarfile.open(path, "r|*") as archive:
            for member in archive:
                if not member.isfile() or not member.name.lower().endswith(suffix):
                    continue
                if member.size > MAX_FILE_BYTES:
                    raise ReaderError(str(path), f"{member.name}: member of {member.size} bytes is too large")
                handle = archive.extractfile(member)
                if handle is not None:
                    yield member.name, handle.read()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise ReaderError(str(path), f"corrupt or truncated tar archive ({exc})") from None
