"""Reader for MedQuAD (Ben Abacha & Demner-Fushman 2019): NIH question-answer pairs in XML.

Accepts the release tarball (read as a stream, never unpacked to disk), an unpacked
checkout (folders such as ``1_CancerGov_QA``) or a single MedQuAD ``.xml`` file. Each XML
file becomes one ParsedDocument titled by its focus (the disease, drug or test); each
answered question-answer pair becomes one section whose path is the question and whose
section type comes from the pair's ``qtype``. Pairs whose answers MedQuAD removed for
copyright (the three MedlinePlus folders) are counted and reported as ``Skipped``.

``metadata["qa_ids"]`` lists, in section order, the pair ids as the BEIR export of MedQuAD
writes them: ``"{source}_{qid}"``, with ``_dupN`` added to the N-th repeat of an id (a few
CancerGov files share a document id).
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Iterator

from lxml import etree

from medora.errors import ReaderError
from medora.sources.readers.base import (
    tar_members,
    MAX_FILE_BYTES,
    ParsedDocument,
    ParsedSection,
    Skipped,
    check_file,
    clean_text,
)

#: Every qtype in the MedQuAD release, mapped to a section type (None: unknown qtype).
QTYPE_SECTION: dict[str, str] = {
    # disease collections (answers present)
    "information": "definition",
    "causes": "causes",
    "susceptibility": "causes",
    "symptoms": "symptoms",
    "exams and tests": "diagnosis",
    "stages": "diagnosis",
    "treatment": "treatment",
    "prevention": "prevention",
    "outlook": "outlook",
    "complications": "outlook",
    "genetic changes": "genetics",
    "inheritance": "inheritance",
    "frequency": "frequency",
    "research": "research",
    "considerations": "other",
    "support groups": "other",
    "how can i learn more": "other",
    "when to contact a medical professional": "patient counseling",
    # MedlinePlus drug and herb collections (answers removed upstream)
    "indication": "indications",
    "how effective is it": "indications",
    "usage": "dosage",
    "dose": "dosage",
    "forget a dose": "dosage",
    "contraindication": "contraindications",
    "important warning": "warnings",
    "precautions": "warnings",
    "emergency or overdose": "warnings",
    "side effects": "adverse reactions",
    "severe reaction": "adverse reactions",
    "dietary": "interactions",
    "interactions with foods": "interactions",
    "interactions with herbs and supplements": "interactions",
    "interactions with medications": "interactions",
    "why get vaccinated": "prevention",
    "how does it work": "other",
    "storage and disposal": "other",
    "other information": "other",
    "brand names": "other",
    "brand names of combination products": "other",
}

#: The ``source`` attribute of a document -> the organisation that published the answers.
PUBLISHERS: dict[str, str] = {
    "CancerGov": "National Cancer Institute",
    "GARD": "Genetic and Rare Diseases Information Center (GARD)",
    "GHR": "Genetics Home Reference (NLM)",
    "MPlusHealthTopics": "MedlinePlus",
    "ADAM": "MedlinePlus",
    "MPlusDrugs": "MedlinePlus",
    "MPlusHerbsSupplements": "MedlinePlus",
    "NIDDK": "National Institute of Diabetes and Digestive and Kidney Diseases",
    "NINDS": "National Institute of Neurological Disorders and Stroke",
    "NIHSeniorHealth": "NIHSeniorHealth (National Institutes of Health)",
    "NHLBI": "National Heart, Lung, and Blood Institute",
    "CDC": "Centers for Disease Control and Prevention",
}

#: Collections whose answers MedQuAD removed to respect the MedlinePlus copyright.
REMOVED_SOURCES = frozenset({"ADAM", "MPlusDrugs", "MPlusHerbsSupplements"})
REMOVED_REASON = "answer removed upstream (MedQuAD licence)"
EMPTY_REASON = "empty answer in source"
NO_PAIRS_REASON = "document without question-answer pairs"

# Tag and attribute names: the usual layout first, then the older layout of four NINDS files.
_ROOTS = ("Document", "DiseaseFile", "doc")
_ID_ATTRS = ("id", "fid", "docid")
_SOURCE_ATTRS = ("source", "corpus")
_FOCUS = ("Focus", "doctitle-focus")
_PAIR = ("QAPair", "pair")
_QUESTION = ("Question", "question")
_ANSWER = ("Answer", "answer")

_QA_FOLDER = re.compile(r"^\d+_[A-Za-z][\w-]*_QA(?:_XML)?$")
_TAR_MEMBER = re.compile(r"^(?:[^/]+/)?\d+_[A-Za-z][\w-]*_QA(?:_XML)?/")
_TAR_BLOCK = 512
_XML_ROOT = re.compile(rb"<(?:Document|DiseaseFile|doc)\b")
_XML_PAIRS = re.compile(rb"<(?:QAPairs|qaPairs)\b")

# Answer layout: runs of 3+ spaces stand for lost line breaks; " - " starts a list item.
_LOST_BREAK = re.compile(r" {3,}(?=[^a-z\s])")
_BULLET = re.compile(r"(?m)^ *- +| {2,}- +|(?<=\S) - +(?=[A-Z])")
_LETTER = re.compile(r"[A-Za-z]")
# GARD flattens its Human Phenotype Ontology table into "Signs and Symptoms Approximate number
# of patients (when available) Malabsorption 90% Ataxia 50% ...": one row per line instead.
_HPO_HEADER = "Approximate number of patients (when available)"
_HPO_ROW = re.compile(r"(?<=%) (?=[A-Z])")
_QUESTION_END = re.compile(r"\s*\?[\s?]*$")

_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, huge_tree=False, recover=False, load_dtd=False
)


def clean_answer(text: str) -> str:
    """Plain text of a MedQuAD answer: one paragraph, sentence run or list item per line."""
    text = text.replace("\r", "\n").replace("\t", "    ")
    text = _LOST_BREAK.sub("\n", text)
    text = _split_hpo_table(_BULLET.sub("\n", text))
    lines = (line for line in text.split("\n") if _LETTER.search(line))
    return clean_text("\n".join(lines))


def _split_hpo_table(text: str) -> str:
    head, header, table = text.partition(_HPO_HEADER)
    if not header:
        return text
    return head + header + "\n" + _HPO_ROW.sub("\n", table)


def clean_question(text: str) -> str:
    """A question on one line, ending in a single '?' ("Who is at risk for X? ?" -> "...X?")."""
    question = " ".join(text.split())
    return _QUESTION_END.sub("?", question) if "?" in question else question


class MedQuadReader:
    """MedQuAD tarball, unpacked folder or single XML file -> one document per XML file."""

    name = "medquad"

    def sniff(self, path: Path, head: bytes) -> bool:
        if path.is_dir():
            return _is_checkout(path)
        name = path.name.lower()
        if name.endswith(".xml"):
            return bool(_XML_ROOT.search(head) and _XML_PAIRS.search(head))
        if name.endswith((".tar.gz", ".tgz", ".tar")):
            return name.startswith("medquad") or bool(_TAR_MEMBER.match(_first_tar_member(head)))
        return False

    def read(self, path: Path) -> Iterator[ParsedDocument | Skipped]:
        if not path.is_dir():
            check_file(path)
        tally = _Tally()
        for member, data in _members(path):
            yield from tally.parse(member, data)
        yield from tally.skipped()


class _Tally:
    """Parses members one by one, keeping the counts that span the whole collection."""

    def __init__(self) -> None:
        self.skips: Counter[str] = Counter()
        self.qa_seen: Counter[str] = Counter()

    def parse(self, member: str, data: bytes) -> Iterator[ParsedDocument | Skipped]:
        try:
            root = etree.fromstring(data, _PARSER)
        except etree.XMLSyntaxError as exc:
            yield Skipped(f"{member}: malformed XML (line {exc.lineno})")
            return
        source = _attr(root, _SOURCE_ATTRS)
        doc_id = _attr(root, _ID_ATTRS)
        if root.tag not in _ROOTS or not source or not doc_id:
            yield Skipped(f"{member}: not a MedQuAD document (no <Document id= source=>)")
            return
        document = self._document(root, source, doc_id, member)
        if document is not None:
            yield document

    def skipped(self) -> Iterator[Skipped]:
        for reason, count in self.skips.items():
            yield Skipped(reason, count)

    def _document(self, root: etree._Element, source: str, doc_id: str, member: str) -> ParsedDocument | None:
        pairs = list(root.iter(*_PAIR))
        if not pairs:
            self.skips[NO_PAIRS_REASON] += 1
            return None
        sections: list[ParsedSection] = []
        qa_ids: list[str] = []
        qtypes: list[str] = []
        for position, pair in enumerate(pairs, start=1):
            answer = clean_answer(_text(pair, _ANSWER))
            if not answer:
                self.skips[REMOVED_REASON if source in REMOVED_SOURCES else EMPTY_REASON] += 1
                continue
            question = _child(pair, _QUESTION)
            qtype = question.get("qtype", "") if question is not None else ""
            heading = clean_question(question.text or "") if question is not None else ""
            qid = (question.get("qid") if question is not None else None) or f"{doc_id}-{position}"
            sections.append(ParsedSection([heading or qtype or "Answer"], answer, QTYPE_SECTION.get(qtype.lower())))
            qa_ids.append(self._qa_id(f"{source}_{qid}"))
            qtypes.append(qtype)
        if not sections:
            return None
        focus = " ".join(_text(root, _FOCUS).split())
        return ParsedDocument(
            external_id=_external_id(source, doc_id, member),
            title=focus or f"{source} document {doc_id}",
            sections=sections,
            url=root.get("url") or None,
            publisher=PUBLISHERS.get(source, source),
            doc_type="patient information",
            license="CC BY 4.0",
            metadata=_annotations(root)
            | {"source": source, "focus": focus, "member": member, "qa_ids": qa_ids, "qtypes": qtypes},
        )

    def _qa_id(self, key: str) -> str:
        """``key``, or ``key_dupN`` for its N-th repeat in the collection (as the BEIR export numbers them)."""
        repeat = self.qa_seen[key]
        self.qa_seen[key] += 1
        return f"{key}_dup{repeat}" if repeat else key


def _external_id(source: str, doc_id: str, member: str) -> str:
    """``{source}_{id}``; files that upstream split out of one document (id_1, id_2...) keep their file stem."""
    stem = PurePosixPath(member).stem
    return f"{source}_{stem if stem.startswith(doc_id + '_') else doc_id}"


def _annotations(root: etree._Element) -> dict[str, object]:
    """UMLS CUIs, semantic types and group, synonyms and category of the document's focus."""
    return {
        "cuis": _texts(root, "CUI", "cui"),
        "semantic_types": _texts(root, "SemanticType", "semanticType"),
        "semantic_group": _text(root, ("SemanticGroup", "semanticGroup")) or None,
        "synonyms": _texts(root, "Synonym"),
        "category": _text(root, ("Category",)) or None,
    }


def _attr(el: etree._Element, names: tuple[str, ...]) -> str:
    values = ((el.get(name) or "").strip() for name in names)
    return next((value for value in values if value), "")


def _child(el: etree._Element, tags: tuple[str, ...]) -> etree._Element | None:
    return next(iter(el.iter(*tags)), None)


def _text(el: etree._Element, tags: tuple[str, ...]) -> str:
    child = _child(el, tags)
    return (child.text or "").strip() if child is not None else ""


def _texts(el: etree._Element, *tags: str) -> list[str]:
    return [t for t in (" ".join((c.text or "").split()) for c in el.iter(*tags)) if t]


# ---------------------------------------------------------------- where the XML files come from


def _members(path: Path) -> Iterator[tuple[str, bytes]]:
    """(member name, bytes) for every XML file, in sorted path order (the tarball's own order)."""
    if path.is_dir():
        yield from _folder_members(path)
    elif path.name.lower().endswith(".xml"):
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ReaderError(str(path), f"cannot open: {exc.strerror or exc}") from None
        yield path.name, data
    else:
        yield from tar_members(path, ".xml")


def _folder_members(folder: Path) -> Iterator[tuple[str, bytes]]:
    files = {f.relative_to(folder).as_posix(): f for f in folder.rglob("*.xml") if f.is_file()}
    for name in sorted(files):
        if any(part.startswith(".") for part in PurePosixPath(name).parts):
            continue
        try:
            data = files[name].read_bytes()
        except OSError as exc:
            raise ReaderError(str(files[name]), f"cannot open: {exc.strerror or exc}") from None
        yield name, data


def _first_tar_member(head: bytes) -> str:
    """Name of the first file or folder in a (gzipped) tar archive, from its first bytes; '' if unknown.

    Pax headers (GitHub archives start with ``pax_global_header``) are stepped over.
    """
    raw = head
    if head[:2] == b"\x1f\x8b":
        try:
            raw = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 16 * _TAR_BLOCK)
        except zlib.error:
            return ""
    offset = 0
    while offset + _TAR_BLOCK <= len(raw):
        block = raw[offset : offset + _TAR_BLOCK]
        if block[156:157] not in (b"g", b"x"):
            return block[:100].split(b"\0", 1)[0].decode("utf-8", "replace")
        try:
            size = int(block[124:136].split(b"\0", 1)[0].strip() or b"0", 8)
        except ValueError:
            return ""
        offset += _TAR_BLOCK * (1 + -(-size // _TAR_BLOCK))
    return ""


def _is_checkout(folder: Path) -> bool:
    """An unpacked MedQuAD: a folder with ``N_Name_QA`` subfolders, or one such folder itself."""
    if _QA_FOLDER.match(folder.name):
        return True
    try:
        return any(child.is_dir() and _QA_FOLDER.match(child.name) for child in folder.iterdir())
    except OSError:
        return False
