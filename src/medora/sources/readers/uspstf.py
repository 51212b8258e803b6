"""Reader for U.S. Preventive Services Task Force recommendations (AHRQ Prevention TaskForce API JSON).

The API file holds ``generalRecommendations`` (one per topic, e.g. "Cervical Cancer:
Screening", with HTML rationale, clinical considerations, other considerations and
discussion) and ``specificRecommendations`` (one graded statement per population, tied to
its topic by ``general``). Each topic becomes a guideline document whose sections follow
the HTML headings; each specific recommendation becomes a short guideline document whose
first section is the recommendation statement itself, graded A/B/C/D/I.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

import lxml.html
from lxml import etree

from medora.errors import ReaderError
from medora.sources.readers.base import (
    ParsedDocument,
    ParsedSection,
    Skipped,
    as_list,
    check_file,
    clean_text,
    decode_text,
    year_from,
)

BASE_URL = "https://www.uspreventiveservicestaskforce.org/uspstf/recommendation/"
PUBLISHER = "U.S. Preventive Services Task Force"
LICENSE = "Public domain (U.S. federal government work)"
GRADES = frozenset("ABCDI")

#: Topic fields in reading order -> (section label, section type when no heading says better).
TOPIC_FIELDS: dict[str, tuple[str | None, str]] = {
    "rationale": ("Rationale", "recommendation"),
    "clinical": ("Clinical Considerations", "recommendation"),
    "pathwayToBenefit": ("Pathway to Benefit", "recommendation"),
    "other": (None, "background"),  # its own <h2> headings name it ("Recommendations of Others"...)
    "discussion": ("Discussion", "background"),
}

#: Specific-recommendation fields -> section label (all of section type "recommendation").
SPECIFIC_FIELDS = {"text": "Recommendation", "servFreq": "Service frequency", "riskText": "Risk assessment"}

#: Heading wording -> section type; the deepest heading that matches decides, first rule first.
HEADING_TYPES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.I), section_type)
    for pattern, section_type in (
        (r"\bharms?\b|benefit", "recommendation"),
        (r"research needs", "research"),
        (r"definition", "definition"),
        (r"screening (test|interval|strateg)|detection|accuracy", "screening"),
        (r"\brisk", "causes"),
        (r"treatment|intervention", "treatment"),
        (r"prevention", "prevention"),
        (
            r"burden of disease|importance|scope of review|biological understanding|public comment"
            r"|recommendations of others|supporting evidence|previous|reaffirmation|related uspstf",
            "background",
        ),
        (r"population|suggestions for practice|implementation|assessment|rationale|considerations", "recommendation"),
    )
)

_HEADING_LEVEL = {"h2": 0, "h3": 1, "h4": 2}
_BLOCK_TAGS = frozenset(
    "p div br li ul ol tr td th dl dt dd blockquote section caption h1 h5 h6".split()
)
_DROP_TAGS = ("sup", "table", "img", "figure", "script", "style")  # reference marks, tables, figures
_TABLE_OR_FIGURE = re.compile(r"^(Table|Figure)\b")
# Reference numbers typed as plain text after a word ("or older.2 Rates", "adults,2 persons").
_REFERENCE_MARK = re.compile(r"(?<=[a-z)][.,])\d+(?:[,\u2013-]\d+)*(?=\s|$)")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


class UspstfReader:
    """USPSTF Prevention TaskForce API JSON -> topic documents and graded recommendation documents."""

    name = "uspstf"

    def sniff(self, path: Path, head: bytes) -> bool:
        return path.suffix.lower() == ".json" and (
            b'"specificRecommendations"' in head or b'"generalRecommendations"' in head
        )

    def read(self, path: Path) -> Iterator[ParsedDocument | Skipped]:
        data = _load(path)
        topics: dict[str, Any] = data["generalRecommendations"]
        grades, risks, categories = (_table(data, key) for key in ("grades", "risks", "categories"))
        for key, topic in topics.items():
            if not isinstance(topic, dict) or not topic.get("title"):
                yield Skipped(f"topic {key}: no title")
                continue
            yield _topic_document(key, topic, categories)
        for rec in data["specificRecommendations"]:
            if not isinstance(rec, dict) or not rec.get("id") or not rec.get("text"):
                yield Skipped("specific recommendation without id or text")
                continue
            topic_key = str(rec.get("general") or "")
            yield _specific_document(rec, topic_key, topics.get(topic_key) or {}, grades, risks)


def _load(path: Path) -> dict[str, Any]:
    """The parsed API file; ReaderError for invalid JSON or JSON of another shape."""
    check_file(path)
    try:
        data = json.loads(decode_text(path, path.read_bytes()))
    except json.JSONDecodeError as exc:
        raise ReaderError(str(path), f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except OSError as exc:
        raise ReaderError(str(path), f"cannot open: {exc.strerror or exc}") from None
    if not (
        isinstance(data, dict)
        and isinstance(data.get("generalRecommendations"), dict)
        and isinstance(data.get("specificRecommendations"), list)
    ):
        raise ReaderError(
            str(path),
            "not a USPSTF Prevention TaskForce API file "
            "(needs a generalRecommendations object and a specificRecommendations list)",
        )
    return data


def _table(data: dict[str, Any], key: str) -> dict[str, Any]:
    table = data.get(key)
    return table if isinstance(table, dict) else {}


def _html(record: dict[str, Any], field: str) -> str:
    value = record.get(field)
    return value if isinstance(value, str) else ""


def _topic_document(key: str, topic: dict[str, Any], categories: dict[str, Any]) -> ParsedDocument:
    sections: list[ParsedSection] = []
    for field, (label, default_type) in TOPIC_FIELDS.items():
        for path, text in html_sections(_html(topic, field)):
            if label and (not path or path[0].casefold() != label.casefold()):
                path = [label, *path]
            path = path or ["Other"]
            if not any(_TABLE_OR_FIGURE.match(part) for part in path):
                sections.append(ParsedSection(path, text, _section_type(path, default_type)))
    metadata = {
        "kind": "topic",
        "topic_id": key,
        "topic_type": topic.get("topicType"),
        "alias": topic.get("uspstfAlias"),
        "pub_date": topic.get("pubDate"),
        "keywords": [k for k in str(topic.get("keywords") or "").split("|") if k],
        "categories": [_name(c, categories) for c in as_list(topic.get("categories"))],
        "specific_ids": [str(s) for s in as_list(topic.get("specific"))],
    }
    return ParsedDocument(
        external_id=f"topic-{key}",
        title=clean_text(str(topic["title"])),
        sections=sections,
        url=_topic_url(topic),
        publisher=PUBLISHER,
        year=year_from(topic.get("topicYear")),
        doc_type="guideline",
        license=LICENSE,
        metadata=metadata,
    )


def _specific_document(
    rec: dict[str, Any], topic_key: str, topic: dict[str, Any], grades: dict[str, Any], risks: dict[str, Any]
) -> ParsedDocument:
    sections: list[ParsedSection] = []
    for field, label in SPECIFIC_FIELDS.items():
        for path, text in html_sections(_html(rec, field)):
            if field == "text":
                text = _without_cross_references(text)
            if text:
                sections.append(ParsedSection([label, *path], text, "recommendation"))
    grade = str(rec.get("grade") or "").strip().upper()
    metadata = {
        "kind": "specific recommendation",
        "recommendation_id": str(rec["id"]),
        "population": _population(str(rec.get("title") or "")),
        "sex": rec.get("sex"),
        "gender": rec.get("gender"),
        "age_range": rec.get("ageRange"),
        "bmi": rec.get("bmi"),
        "risk_name": rec.get("riskName") or None,
        "risks": [_name(r, risks) for r in as_list(rec.get("risk"))],
        "grade_meaning": _grade_meaning(grade, rec.get("gradeVer"), grades),
        "topic_id": topic_key,
        "topic_external_id": f"topic-{topic_key}",
        "topic_title": clean_text(str(topic.get("title") or "")) or None,
    }
    return ParsedDocument(
        external_id=f"rec-{rec['id']}",
        title=clean_text(str(rec.get("title") or topic.get("title") or f"Recommendation {rec['id']}")),
        sections=sections,
        url=_topic_url(topic),
        publisher=PUBLISHER,
        year=year_from(topic.get("topicYear")),
        doc_type="guideline",
        grade=grade if grade in GRADES else None,
        license=LICENSE,
        metadata=metadata,
    )


def html_sections(fragment: str) -> list[tuple[list[str], str]]:
    """(heading path, plain text) runs of an HTML fragment, split at its <h2>/<h3>/<h4> headings.

    Reference marks (<sup>), tables, images and figures are dropped; entities are decoded.
    """
    if not fragment.strip():
        return []
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (etree.ParserError, ValueError):
        return []
    for element in list(root.iter(*_DROP_TAGS)):
        element.drop_tree()
    runs: list[tuple[list[str], str]] = []
    path: list[str] = []
    parts: list[str] = []
    for event in _events(root):
        if isinstance(event, str):
            parts.append(event)
            continue
        _flush(runs, path, parts)
        level, heading = event
        if heading:
            path = [*path[:level], heading]
    _flush(runs, path, parts)
    return runs


def _events(element: Any) -> Iterator[str | tuple[int, str]]:
    """Text pieces and (level, heading) markers of an element, in document order."""
    tag = element.tag if isinstance(element.tag, str) else ""  # comments have a non-string tag
    if tag in _HEADING_LEVEL:
        yield _HEADING_LEVEL[tag], " ".join(element.text_content().split())
    elif tag:
        block = tag in _BLOCK_TAGS
        if block:
            yield "\n"
        if element.text:
            yield element.text
        for child in element:
            yield from _events(child)
        if block:
            yield "\n"
    if element.tail:
        yield element.tail


def _flush(runs: list[tuple[list[str], str]], path: list[str], parts: list[str]) -> None:
    text = _REFERENCE_MARK.sub("", clean_text("".join(parts)))
    if text:
        runs.append((list(path), text))
    parts.clear()


def _section_type(path: list[str], default: str) -> str:
    for heading in reversed(path):
        for pattern, section_type in HEADING_TYPES:
            if pattern.search(heading):
                return section_type
    return default


def _without_cross_references(text: str) -> str:
    """Drop "See the Clinical Considerations section..." sentences: they point nowhere in a citation."""
    lines = (
        " ".join(s for s in _SENTENCE_END.split(line) if not s.startswith("See "))
        for line in text.split("\n")
    )
    return "\n".join(line for line in lines if line)


def _grade_meaning(grade: str, version: Any, grades: dict[str, Any]) -> str | None:
    """What the grade means, from the file's own ``grades`` table (one wording per grade version)."""
    meanings = grades.get(grade)
    if not isinstance(meanings, list) or not meanings:
        return None
    index = version if isinstance(version, int) and 0 <= version < len(meanings) else -1
    return clean_text(str(meanings[index]))


def _name(key: Any, table: dict[str, Any]) -> str:
    """The ``name`` of an entry of the file's ``categories`` or ``risks`` table (the key if absent)."""
    entry = table.get(str(key))
    return str(entry.get("name") or key) if isinstance(entry, dict) else str(key)


def _population(title: str) -> str | None:
    """The population a recommendation is for: the part of its title after " -- "."""
    _, sep, population = title.partition(" -- ")
    return clean_text(population) if sep else None


def _topic_url(topic: dict[str, Any]) -> str | None:
    alias = str(topic.get("uspstfAlias") or "").strip()
    return BASE_URL + alias if alias else None
