"""Reader for full-text articles in JATS XML, as PubMed Central serves them (``.nxml``), and for
NCBI Bookshelf chapters in BITS (``<book-part>``, the book flavour of JATS).

One document per file: title, journal, year, ids and licence from the front matter; the abstract
and the body as sections whose path is the nested ``<sec><title>`` headings. Figures, tables,
formulas, supplementary material, the reference list and numeric citation markers are left out.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from lxml import etree

from medora.errors import ReaderError
from medora.sources.readers.base import (
    ParsedDocument,
    ParsedSection,
    Skipped,
    clean_text,
    parse_xml,
    xml_root_tag,
    year_from,
)
from medora.sources.readers.pubmed import (
    doc_type_from_publication_types,
    section_type_from_heading,
)

PMC_URL = "https://pmc.ncbi.nlm.nih.gov/articles/{pmcid}/"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"

_ROOTS = ("article", "book-part-wrapper", "book-part")
_JATS_HINTS = (
    b"-//NLM//DTD", b"//DTD JATS", b"//DTD BITS", b"<front>", b"<article-meta", b"<book-part-meta", b"<book-meta",
)  # fmt: skip

#: Elements left out with everything inside them (their tail text stays).
_DROP = {
    "fig", "fig-group", "table-wrap", "table-wrap-group", "table", "disp-formula", "disp-formula-group",
    "chem-struct-wrap", "supplementary-material", "media", "graphic", "inline-graphic", "tex-math",
    "annotation", "annotation-xml", "ref-list", "fn-group", "label", "caption", "object-id", "sec-meta",
}  # fmt: skip
#: Elements whose content is a paragraph or list item of its own.
_BLOCKS = {
    "p", "list", "list-item", "def-list", "def-item", "disp-quote", "statement", "boxed-text", "title",
    "speech", "verse-group", "verse-line", "sec", "glossary",
}  # fmt: skip
#: Cross-references that are footnote or affiliation markers, never words of the sentence.
_MARKER_XREFS = {"fn", "table-fn", "aff", "corresp"}
#: Sections that are about the paper, not about medicine.
_SKIP_HEADING = re.compile(
    r"^(supplementary|supporting information|additional files?|competing interests?|conflicts? of interest"
    r"|authors?'? contributions?|acknowledge?ments?|funding|pre-?publication history|abbreviations"
    r"|availability of data|data availability|declarations?)",
    re.I,
)
_SKIP_SEC_TYPES = {"supplementary-material", "display-objects", "coi-statement", "author-contributions"}
_SKIP_ABSTRACT_TYPES = {"graphical", "toc", "teaser"}
#: Preference among <pub-date> kinds for the year: the print/issue date as cited, then online.
_DATE_RANK = {"ppub": 0, "print": 0, "collection": 1, "epub-ppub": 2, "epub": 3, "electronic": 3}

# A numeric citation marker is replaced by _CITE while text is gathered, then removed with the
# brackets, separators and space around it: "genotypes [1-9]." -> "genotypes."
_CITE = "\ue000"
_CITE_TEXT = re.compile(r"[\[(]?\s*(\d{1,3}[a-z]?(\s*[,\u2013\u2014-]\s*\d{1,3}[a-z]?)*)?\s*[\])]?")
_CITE_RUN = f"{_CITE}(?:\\s*(?:[,;\u2013\u2014-]|and)\\s*{_CITE})*"
_CITE_GROUP = re.compile(rf"[ \t]*(?:\[\s*{_CITE_RUN}\s*\]|\(\s*{_CITE_RUN}\s*\)|{_CITE_RUN})")
_LEFTOVER = (
    (re.compile(r"[ \t]*\[\s*[,;][^\[\]]{0,40}\]"), ""),  # "[<cite>, pp. 57-59]" less the citation
    (re.compile(r"[ \t]*\(\s*(?:see|e\.g\.,?|cf\.?|refs?\.?|reviewed in)?\s*[,;]?\s*\)", re.I), ""),
    (re.compile(r"[ \t]*\[\s*[,;]?\s*\]"), ""),
    (re.compile(r"\(\s*[,;]\s*"), "("),
    (re.compile(r"\s*[,;]\s*\)"), ")"),
)
_SPACES = re.compile(r"\s+")


class JatsReader:
    """One document per JATS article (or BITS book part) file."""

    name = "jats"

    def sniff(self, path: Path, head: bytes) -> bool:
        root = xml_root_tag(head)
        if root not in _ROOTS:
            return False
        return path.suffix.lower() == ".nxml" or any(hint in head for hint in _JATS_HINTS)

    def read(self, path: Path) -> Iterator[ParsedDocument | Skipped]:
        root = parse_xml(path)
        if _local(root) not in _ROOTS:
            raise ReaderError(str(path), f"not JATS: root element is <{_local(root)}>, not <article> or <book-part>")
        yield _document(path, root)


@dataclass
class _Parts:
    """Where the pieces of a document sit: article front matter, or a book part and its book."""

    meta: etree._Element | None
    body: etree._Element | None
    container_title: str
    kind: str
    categories: list[str] = field(default_factory=list)


def _parts(root: etree._Element) -> _Parts:
    if _local(root) == "article":
        front = root.find("front")
        container = _text(root.find("front/journal-meta//journal-title"))
        headings = [
            _text(subject)
            for group in root.iterfind("front/article-meta/article-categories/subj-group[@subj-group-type='heading']")
            for subject in group.iterfind("subject")
        ]
        return _Parts(
            meta=front.find("article-meta") if front is not None else None,
            body=root.find("body"),
            container_title=container,
            kind=root.get("article-type") or "",
            categories=headings,
        )
    part = root if _local(root) == "book-part" else root.find("book-part")
    if part is None:
        return _Parts(meta=None, body=None, container_title="", kind="")
    return _Parts(
        meta=part.find("book-part-meta"),
        body=part.find("body"),
        container_title=_text(root.find("book-meta/book-title-group/book-title")),
        kind=part.get("book-part-type") or "",
    )


def _document(path: Path, root: etree._Element) -> ParsedDocument | Skipped:
    parts = _parts(root)
    if parts.meta is None:
        raise ReaderError(str(path), "JATS file without <article-meta> or <book-part-meta>")
    ids = _ids(parts.meta)
    sections = _abstract_sections(parts.meta)
    if parts.body is not None:
        sections += _walk(parts.body, [], None)
    if not sections:
        return Skipped(f"{path.name}: no abstract or body text")
    external_id = ids.get("pmcid") or ids.get("doi") or path.stem
    metadata: dict[str, Any] = {
        **ids,
        "journal": parts.container_title or None,
        "article_type": parts.kind or None,
        "authors": _authors(parts.meta),
    }
    return ParsedDocument(
        external_id=external_id,
        title=_title(parts.meta) or path.stem,
        sections=sections,
        url=_url(ids),
        publisher=parts.container_title or None,
        year=_year(parts.meta),
        doc_type=doc_type_from_publication_types([parts.kind, *parts.categories]),
        license=_license(parts.meta),
        metadata={key: value for key, value in metadata.items() if value},
    )


# ---------------------------------------------------------------- front matter


def _ids(meta: etree._Element) -> dict[str, str]:
    """PMCID ("PMC123"), PMID and DOI from <article-id> / <book-part-id>."""
    ids: dict[str, str] = {}
    for el in meta:
        if _local(el) not in ("article-id", "book-part-id"):
            continue
        kind = (el.get("pub-id-type") or el.get("book-part-id-type") or "").lower()
        value = _text(el)
        if not value:
            continue
        if kind in ("pmc", "pmcid"):
            ids.setdefault("pmcid", value if value.upper().startswith("PMC") else f"PMC{value}")
        elif kind in ("pmid", "doi"):
            ids.setdefault(kind, value)
    return ids


def _title(meta: etree._Element) -> str:
    group = meta.find("title-group")
    if group is None:
        return ""
    title = _text(group.find("article-title")) or _text(group.find("title"))
    subtitle = _text(group.find("subtitle"))
    return f"{title}: {subtitle}" if title and subtitle else title


def _year(meta: etree._Element) -> int | None:
    dated = []
    for el in meta.iterfind("pub-date"):
        year = year_from(el.findtext("year"))
        kind = el.get("pub-type") or el.get("publication-format") or el.get("date-type") or ""
        if year:
            dated.append((_DATE_RANK.get(kind, 4), year))
    return min(dated)[1] if dated else None


def _license(meta: etree._Element) -> str | None:
    """The licence URL, else its text; else a copyright statement that states the licence."""
    license_el = meta.find("permissions/license")
    if license_el is not None:
        href = license_el.get(XLINK_HREF) or license_el.get("href")
        return (href or "").strip() or _text(license_el) or None
    statement = _text(meta.find("permissions/copyright-statement")) or _text(meta.find("copyright-statement"))
    return statement if re.search(r"licen[cs]e|creative commons|public domain", statement, re.I) else None


def _authors(meta: etree._Element) -> list[str]:
    names = []
    for contrib in meta.iterfind("contrib-group/contrib"):
        if contrib.get("contrib-type", "author") != "author":
            continue
        collab = _text(contrib.find("collab"))
        person = " ".join(filter(None, (_text(contrib.find("name/given-names")), _text(contrib.find("name/surname")))))
        if collab or person:
            names.append(collab or person)
    return names


def _url(ids: dict[str, str]) -> str | None:
    if "pmcid" in ids:
        return PMC_URL.format(pmcid=ids["pmcid"])
    if "doi" in ids:
        return f"https://doi.org/{ids['doi']}"
    return None


# ---------------------------------------------------------------- sections


def _abstract_sections(meta: etree._Element) -> list[ParsedSection]:
    sections: list[ParsedSection] = []
    for abstract in meta.iterfind("abstract"):
        kind = abstract.get("abstract-type")
        if kind in _SKIP_ABSTRACT_TYPES:
            continue
        default = kind.replace("-", " ").capitalize() if kind else "Abstract"
        sections += _walk(abstract, [], None, default_heading=default)
    return sections


def _walk(
    el: etree._Element, parent: list[str], parent_type: str | None, default_heading: str | None = None
) -> list[ParsedSection]:
    """Sections of a <sec> (or <body>/<abstract>): its own text, then its subsections, in order.

    The section type comes from the outermost heading that names one ("Methods" > "Study area").
    """
    heading = _text(el.find("title")) or default_heading
    if (heading and _SKIP_HEADING.match(heading)) or (el.get("sec-type") or "").lower() in _SKIP_SEC_TYPES:
        return []
    path = [*parent, heading] if heading else parent
    section_type = parent_type or section_type_from_heading(heading) or section_type_from_heading(el.get("sec-type"))
    sections: list[ParsedSection] = []
    pending: list[etree._Element] = []
    for child in el:
        if isinstance(child.tag, str) and _local(child) == "sec":
            sections += _flush(pending, path, section_type)
            sections += _walk(child, path, section_type)
        elif not (isinstance(child.tag, str) and _local(child) == "title"):
            pending.append(child)
    return sections + _flush(pending, path, section_type)


def _flush(pending: list[etree._Element], path: list[str], section_type: str | None) -> list[ParsedSection]:
    """The gathered paragraphs as one section (and empty the list), or nothing if they hold no text."""
    text = clean_text(_gather(pending))
    pending.clear()
    return [ParsedSection(path=path or ["Main text"], text=text, section_type=section_type)] if text else []


# ---------------------------------------------------------------- text


def _text(el: etree._Element | None) -> str:
    """An element's inline text (a title, a name) on one line."""
    if el is None:
        return ""
    return _SPACES.sub(" ", clean_text(_tidy("".join(_inner(el))))).strip()


def _gather(nodes: Iterable[etree._Element]) -> str:
    """Plain text of sibling nodes, paragraphs on their own lines, citation markers removed."""
    pieces: list[str] = []
    for node in nodes:
        pieces += _outer(node)
    return _tidy("".join(pieces))


def _outer(node: etree._Element) -> list[str]:
    """Text pieces of a node and of the text that follows it (its tail)."""
    pieces = _inner(node)
    if node.tail:
        pieces.append(_SPACES.sub(" ", node.tail))
    return pieces


def _inner(node: etree._Element) -> list[str]:
    if isinstance(node, etree._Entity):
        return [html.unescape(node.text or "")]
    if not isinstance(node.tag, str):
        return []
    name = _local(node)
    if name in _DROP:
        return [" "]  # keeps "written <formula> in which" from becoming "writtenin which"
    if name == "xref":
        marker = _xref_marker(node)
        if marker is not None:
            return [marker]
    pieces = [_SPACES.sub(" ", node.text)] if node.text else []
    for child in node:
        pieces += _outer(child)
    return ["\n", *pieces, "\n"] if name in _BLOCKS else pieces


def _xref_marker(xref: etree._Element) -> str | None:
    """What stands for a cross-reference: _CITE for a numeric citation, "" for a footnote or
    affiliation marker, None when its words belong to the sentence ("Figure 2", "Smith 2001")."""
    kind = xref.get("ref-type")
    if kind in _MARKER_XREFS:
        return ""
    if kind == "bibr" and _CITE_TEXT.fullmatch("".join(xref.itertext()).strip()):
        return _CITE
    return None


def _tidy(text: str) -> str:
    """Remove citation markers with their brackets, then the empty brackets and stray spaces left."""
    if _CITE not in text:
        return text
    text = _CITE_GROUP.sub("", text)
    for pattern, replacement in _LEFTOVER:
        text = pattern.sub(replacement, text)
    return text.replace(_CITE, "")


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""
