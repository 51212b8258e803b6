"""Readers for PubMed records: efetch XML (``PubmedArticleSet``) and the PubMedQA JSON file.

This module also holds what the JATS reader shares with them: the mapping from publication
types to ``doc_type``, the mapping from abstract labels and section headings to
``section_type``, and a safe XML parse that reports malformed files with a line number.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterable, Iterator

from lxml import etree

from medora.errors import ReaderError
from medora.sources.readers.base import (
    DOC_TYPES,
    ParsedDocument,
    ParsedSection,
    Skipped,
    as_list,
    check_file,
    clean_text,
    decode_text,
    parse_xml,
    xml_root_tag,
    year_from,
)

PUBMED_URL = "https://pubmed.ncbi.nlm.nih.gov/{pmid}/"

# ---------------------------------------------------------------- shared mappings

#: Publication-type patterns (lower case, hyphens read as spaces) and the doc_type each implies.
_PUBLICATION_TYPE_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bguideline|\bconsensus development conference"), "guideline"),
    (re.compile(r"\bsystematic review"), "systematic review"),
    (re.compile(r"\bmeta analys[ie]s"), "meta-analysis"),
    (re.compile(r"\btrial\b(?!.*\bprotocol)"), "trial"),  # a trial protocol reports no results
    (re.compile(r"\bobservational study|\bcohort"), "cohort"),
    (re.compile(r"\bcase control"), "case-control"),
    (re.compile(r"\bcase reports?\b"), "case report"),
    (re.compile(r"\breview\b"), "review"),
)


def doc_type_from_publication_types(types: Iterable[str]) -> str:
    """The strongest doc_type that any of ``types`` implies (PubMed publication types or JATS
    article types such as "review-article"); "article" when none says more."""
    found = {
        doc_type
        for raw in types
        if raw
        for pattern, doc_type in _PUBLICATION_TYPE_RULES
        if pattern.search(raw.lower().replace("-", " "))
    }
    return min(found, key=DOC_TYPES.index) if found else "article"


#: Heading words and the section type they signal, in priority order: a combined heading such
#: as "METHODS AND RESULTS" or "Results and Discussion" takes the first type that matches.
_HEADING_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"\b(results?\b|findings|observations|data synthesis|case (reports?|presentation|description))"),
        "results",
    ),
    (re.compile(r"\b(conclusions?|discussion|interpretation|implications|limitations|significance)\b"), "conclusions"),
    (
        re.compile(
            r"\b(method|material|design|settings?\b|patients?\b|participants?\b|subjects?\b|probands|population"
            r"|sample|interventions?\b|measure|data (sources?|extraction|collection)|study selection|collection"
            r"|location|end ?points?\b|variables|registration|procedures?\b|experimental|statistical|ethic)"
        ),
        "methods",
    ),
    (re.compile(r"\b(background|intro|object|purpose|aims?\b|context|rationale|hypothes[ie]s|goals?\b)"), "background"),
)


def section_type_from_heading(heading: str | None) -> str | None:
    """The section type an abstract label or section heading names ("MATERIALS AND METHODS" ->
    "methods", "Conclusions/Significance" -> "conclusions"), or None when it names none."""
    if not heading:
        return None
    text = heading.lower()
    for pattern, section_type in _HEADING_RULES:
        if pattern.search(text):
            return section_type
    return None


# ---------------------------------------------------------------- shared XML helpers

def _inline_text(el: etree._Element | None) -> str:
    """The text of an element as one paragraph: tags dropped, all whitespace runs made one space."""
    if el is None:
        return ""
    return clean_text(re.sub(r"\s+", " ", "".join(el.itertext())))


def _heading_label(label: str) -> str:
    """An abstract label as a heading: "MATERIALS AND METHODS" -> "Materials and methods"."""
    label = " ".join(label.split())
    return label.capitalize() if label.isupper() else label


# ---------------------------------------------------------------- PubMed efetch XML


class PubMedXmlReader:
    """One document per ``PubmedArticle`` in a PubMed efetch XML file."""

    name = "pubmed-xml"

    def sniff(self, path: Path, head: bytes) -> bool:
        return xml_root_tag(head) in ("PubmedArticleSet", "PubmedArticle")

    def read(self, path: Path) -> Iterator[ParsedDocument | Skipped]:
        root = parse_xml(path)
        if root.tag == "PubmedArticle":
            yield _pubmed_article(root)
            return
        if root.tag != "PubmedArticleSet":
            raise ReaderError(str(path), f"not PubMed XML: root element is <{root.tag}>, not <PubmedArticleSet>")
        for el in root:
            if el.tag == "PubmedArticle":
                yield _pubmed_article(el)
            elif el.tag == "PubmedBookArticle":
                yield Skipped("PubmedBookArticle (NCBI Bookshelf record) is not read")


def _pubmed_article(el: etree._Element) -> ParsedDocument | Skipped:
    citation = el.find("MedlineCitation")
    article = citation.find("Article") if citation is not None else None
    pmid = (citation.findtext("PMID") or "").strip() if citation is not None else ""
    if article is None or not pmid:
        return Skipped("PubmedArticle without a PMID or an Article")
    sections = _abstract_sections(article.find("Abstract"))
    if not sections:
        return Skipped(f"PMID {pmid}: no abstract")
    journal = _inline_text(article.find("Journal/Title")) or None
    publication_types = [_inline_text(t) for t in article.iterfind("PublicationTypeList/PublicationType")]
    metadata: dict[str, Any] = {
        "pmid": pmid,
        "journal": journal,
        "doi": _pubmed_doi(el),
        "authors": _pubmed_authors(article),
        "mesh": [_inline_text(d) for d in citation.iterfind("MeshHeadingList/MeshHeading/DescriptorName")],
        "publication_types": publication_types,
    }
    return ParsedDocument(
        external_id=pmid,
        title=_inline_text(article.find("ArticleTitle")) or _inline_text(article.find("VernacularTitle")),
        sections=sections,
        url=PUBMED_URL.format(pmid=pmid),
        publisher=journal,
        year=_pubmed_year(article),
        doc_type=doc_type_from_publication_types(publication_types),
        metadata={key: value for key, value in metadata.items() if value},
    )


def _abstract_sections(abstract: etree._Element | None) -> list[ParsedSection]:
    """Abstract paragraphs; labeled ones (structured abstracts) get their label as heading and type."""
    if abstract is None:
        return []
    sections = []
    for part in abstract.iterfind("AbstractText"):
        text = _inline_text(part)
        if not text:
            continue
        label = part.get("Label") or ""
        category = part.get("NlmCategory")
        if not label:
            sections.append(ParsedSection(path=["Abstract"], text=text))
            continue
        section_type = section_type_from_heading(category if category != "UNASSIGNED" else None)
        sections.append(
            ParsedSection(
                path=[_heading_label(label)],
                text=text,
                section_type=section_type or section_type_from_heading(label),
            )
        )
    return sections


def _pubmed_year(article: etree._Element) -> int | None:
    """Year of the journal issue (as PubMed cites it), else of the electronic publication."""
    for xpath in ("Journal/JournalIssue/PubDate/Year", "Journal/JournalIssue/PubDate/MedlineDate", "ArticleDate/Year"):
        year = year_from(article.findtext(xpath))
        if year:
            return year
    return None


def _pubmed_doi(el: etree._Element) -> str | None:
    for xpath in (
        "MedlineCitation/Article/ELocationID[@EIdType='doi']",
        "PubmedData/ArticleIdList/ArticleId[@IdType='doi']",
    ):
        doi = (el.findtext(xpath) or "").strip()
        if doi:
            return doi
    return None


def _pubmed_authors(article: etree._Element) -> list[str]:
    names = []
    for author in article.iterfind("AuthorList/Author"):
        collective = _inline_text(author.find("CollectiveName"))
        personal = " ".join(filter(None, (author.findtext("ForeName"), author.findtext("LastName"))))
        name = collective or clean_text(personal)
        if name:
            names.append(name)
    return names


# ---------------------------------------------------------------- PubMedQA JSON

#: Structured-abstract labels that tell what kind of study a PubMedQA abstract reports.
_CASE_REPORT_LABELS = {"CASE REPORT", "CASE REPORTS", "CASE PRESENTATION", "CASE DESCRIPTION"}
_SYSTEMATIC_REVIEW_LABELS = {"DATA SOURCES", "STUDY SELECTION"}  # the PRISMA-style abstract headings


class PubMedQAReader:
    """One document per PMID in a PubMedQA file (``ori_pqal.json``: PMID -> record)."""

    name = "pubmedqa"

    def sniff(self, path: Path, head: bytes) -> bool:
        return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") and b'"QUESTION"' in head and b'"CONTEXTS"' in head

    def read(self, path: Path) -> Iterator[ParsedDocument | Skipped]:
        check_file(path)
        text = decode_text(path, path.read_bytes())
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ReaderError(str(path), f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
        if not isinstance(data, dict):
            raise ReaderError(str(path), "not PubMedQA: expected a JSON object keyed by PMID")
        for pmid, record in data.items():
            yield _pubmedqa_document(str(pmid).strip(), record)


def _pubmedqa_document(pmid: str, record: Any) -> ParsedDocument | Skipped:
    if not isinstance(record, dict) or not isinstance(record.get("CONTEXTS"), list) or not record.get("QUESTION"):
        return Skipped(f"PubMedQA entry {pmid}: no QUESTION or CONTEXTS")
    labels = [str(label) for label in as_list(record.get("LABELS"))]
    sections = []
    for index, context in enumerate(record["CONTEXTS"]):
        label = labels[index] if index < len(labels) else ""
        text = clean_text(str(context))
        if text:
            sections.append(
                ParsedSection(
                    path=[_heading_label(label) if label else "Abstract"],
                    text=text,
                    section_type=section_type_from_heading(label),
                )
            )
    long_answer = clean_text(str(record.get("LONG_ANSWER") or ""))
    if long_answer:
        sections.append(ParsedSection(path=["Conclusions"], text=long_answer, section_type="conclusions"))
    if not sections:
        return Skipped(f"PubMedQA entry {pmid}: empty abstract")
    question = clean_text(str(record["QUESTION"]))
    metadata: dict[str, Any] = {
        "pmid": pmid,
        "question": question,
        "final_decision": record.get("final_decision"),
        "mesh": [str(term) for term in as_list(record.get("MESHES"))],
    }
    return ParsedDocument(
        external_id=pmid,
        title=question,
        sections=sections,
        url=PUBMED_URL.format(pmid=pmid),
        publisher="PubMed",
        year=year_from(record.get("YEAR")),
        doc_type=_pubmedqa_doc_type(labels),
        metadata={key: value for key, value in metadata.items() if value},
    )


def _pubmedqa_doc_type(labels: list[str]) -> str:
    """PubMedQA has no publication types; a case-report or systematic-review abstract shows in its labels."""
    present = {label.upper() for label in labels}
    if present & _CASE_REPORT_LABELS:
        return doc_type_from_publication_types(["Case Reports"])
    if _SYSTEMATIC_REVIEW_LABELS <= present:
        return doc_type_from_publication_types(["Systematic Review"])
    return "article"
