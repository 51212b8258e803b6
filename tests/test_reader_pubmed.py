"""PubMed efetch XML and PubMedQA readers, on the real files in shared/data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medora.errors import ReaderError
from medora.sources.readers.base import SECTION_TYPES, ParsedDocument, Skipped
from medora.sources.readers.pubmed import (
    PubMedQAReader,
    PubMedXmlReader,
    doc_type_from_publication_types,
    section_type_from_heading,
)


def _head(path: Path) -> bytes:
    with path.open("rb") as fh:
        return fh.read(8192)


@pytest.fixture(scope="module")
def pubmed_xml(shared_sources: Path) -> Path:
    return shared_sources / "pubmed" / "pubmed-29768149.xml"


@pytest.fixture(scope="module")
def pqal(shared_sources: Path) -> Path:
    return shared_sources / "pubmedqa" / "ori_pqal.json"


@pytest.fixture(scope="module")
def pubmedqa_docs(pqal: Path) -> dict[str, ParsedDocument]:
    docs = list(PubMedQAReader().read(pqal))
    assert all(isinstance(d, ParsedDocument) for d in docs)
    return {d.external_id: d for d in docs}


# ---------------------------------------------------------------- mappings


@pytest.mark.parametrize(
    ("types", "expected"),
    [
        (["Journal Article"], "article"),
        ([], "article"),
        (["Clinical Trial, Phase III", "Journal Article", "Randomized Controlled Trial"], "trial"),
        (["Clinical Trial Protocol"], "article"),
        (["Meta-Analysis", "Randomized Controlled Trial"], "meta-analysis"),
        (["Review", "Systematic Review", "Meta-Analysis"], "systematic review"),
        (["Practice Guideline", "Review"], "guideline"),
        (["Observational Study"], "cohort"),
        (["Case Reports", "Review"], "case report"),
        (["Review"], "review"),
        (["review-article"], "review"),
        (["case-report"], "case report"),
        (["research-article"], "article"),
    ],
)
def test_doc_type_from_publication_types(types: list[str], expected: str) -> None:
    assert doc_type_from_publication_types(types) == expected


@pytest.mark.parametrize(
    ("heading", "expected"),
    [
        ("BACKGROUND", "background"),
        ("OBJECTIVE", "background"),
        ("Introduction", "background"),
        ("MATERIALS AND METHODS", "methods"),
        ("DESIGN, SETTING, AND PARTICIPANTS", "methods"),
        ("MAIN OUTCOME MEASURES", "methods"),
        ("METHODS AND RESULTS", "results"),
        ("PRINCIPAL FINDINGS", "results"),
        ("CONCLUSIONS", "conclusions"),
        ("Conclusions/Significance", "conclusions"),
        ("Discussion", "conclusions"),
        ("UNLABELLED", None),
        ("", None),
    ],
)
def test_section_type_from_heading(heading: str, expected: str | None) -> None:
    assert section_type_from_heading(heading) == expected


# ---------------------------------------------------------------- PubMed XML


def test_pubmed_record(pubmed_xml: Path) -> None:
    [doc] = list(PubMedXmlReader().read(pubmed_xml))
    assert isinstance(doc, ParsedDocument)
    assert doc.external_id == "29768149"
    assert doc.metadata["pmid"] == "29768149"
    assert doc.title == "Inhaled Combined Budesonide-Formoterol as Needed in Mild Asthma."
    assert doc.year == 2018
    assert doc.doc_type == "trial"
    assert doc.url == "https://pubmed.ncbi.nlm.nih.gov/29768149/"
    assert doc.publisher == doc.metadata["journal"] == "The New England journal of medicine"
    assert doc.metadata["doi"] == "10.1056/NEJMoa1715274"
    assert {"Asthma", "Budesonide", "Formoterol Fumarate"} <= set(doc.metadata["mesh"])
    assert doc.metadata["authors"][0] == "Paul M O'Byrne"
    assert "Randomized Controlled Trial" in doc.metadata["publication_types"]
    assert [s.path for s in doc.sections] == [["Background"], ["Methods"], ["Results"], ["Conclusions"]]
    assert [s.section_type for s in doc.sections] == ["background", "methods", "results", "conclusions"]
    background = doc.sections[0].text
    # "β<sub>2</sub>" spans a source line break: one paragraph, no markup, no line break inside
    assert "\n" not in background and "<" not in background
    assert background.startswith("In patients with mild asthma, as-needed use of an inhaled glucocorticoid")
    assert "NCT02149199" in doc.sections[3].text


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_pubmed_unlabeled_abstract_medline_date_and_missing_abstract(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "set.xml",
        """<?xml version="1.0"?>
<PubmedArticleSet>
 <PubmedArticle><MedlineCitation><PMID Version="1">111</PMID><Article>
  <Journal><JournalIssue><PubDate><MedlineDate>1998 Dec-1999 Jan</MedlineDate></PubDate></JournalIssue>
   <Title>Some Journal</Title></Journal>
  <ArticleTitle>A review of <i>things</i>.</ArticleTitle>
  <Abstract><AbstractText>One plain paragraph.</AbstractText></Abstract>
  <PublicationTypeList><PublicationType>Journal Article</PublicationType>
   <PublicationType>Review</PublicationType></PublicationTypeList>
 </Article></MedlineCitation></PubmedArticle>
 <PubmedArticle><MedlineCitation><PMID Version="1">222</PMID><Article>
  <ArticleTitle>Title only.</ArticleTitle></Article></MedlineCitation></PubmedArticle>
</PubmedArticleSet>""",
    )
    first, second = list(PubMedXmlReader().read(path))
    assert isinstance(first, ParsedDocument)
    assert first.title == "A review of things."
    assert first.year == 1998
    assert first.doc_type == "review"
    assert [(s.path, s.text, s.section_type) for s in first.sections] == [(["Abstract"], "One plain paragraph.", None)]
    assert "doi" not in first.metadata
    assert isinstance(second, Skipped) and "222" in second.reason


def test_pubmed_malformed_xml_names_file_and_line(pubmed_xml: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.xml"
    broken.write_bytes(pubmed_xml.read_bytes()[:5000])
    with pytest.raises(ReaderError) as info:
        list(PubMedXmlReader().read(broken))
    assert str(broken) in str(info.value)
    assert "malformed XML at line" in info.value.reason


def test_pubmed_sniff(pubmed_xml: Path, pqal: Path, shared_sources: Path) -> None:
    reader = PubMedXmlReader()
    assert reader.sniff(pubmed_xml, _head(pubmed_xml))
    for other in (
        shared_sources / "pmc" / "pone.0046493.nxml",
        shared_sources / "dailymed-spl" / "humira.xml",
        pqal,
    ):
        assert not reader.sniff(other, _head(other)), other


def test_pubmed_reader_refuses_other_xml(shared_sources: Path) -> None:
    with pytest.raises(ReaderError, match="not PubMed XML"):
        list(PubMedXmlReader().read(shared_sources / "dailymed-spl" / "humira.xml"))


# ---------------------------------------------------------------- PubMedQA


def test_pubmedqa_reads_every_pmid_of_the_eval_corpus(
    pubmedqa_docs: dict[str, ParsedDocument], shared_eval: Path
) -> None:
    assert len(pubmedqa_docs) == 1000
    with (shared_eval / "pubmedqa-1k" / "corpus.jsonl").open(encoding="utf-8") as fh:
        corpus_ids = {json.loads(line)["_id"] for line in fh}
    assert set(pubmedqa_docs) == corpus_ids


def test_pubmedqa_documents_are_complete(pubmedqa_docs: dict[str, ParsedDocument]) -> None:
    for doc in pubmedqa_docs.values():
        assert doc.metadata["final_decision"] in ("yes", "no", "maybe")
        assert doc.title and doc.title == doc.metadata["question"]
        assert doc.publisher == "PubMed"
        assert doc.url == f"https://pubmed.ncbi.nlm.nih.gov/{doc.external_id}/"
        assert doc.sections[-1].path == ["Conclusions"] and doc.sections[-1].section_type == "conclusions"
        assert any(s.section_type for s in doc.sections[:-1]), doc.external_id
        assert all(s.section_type is None or s.section_type in SECTION_TYPES for s in doc.sections)
    types = {s.section_type for d in pubmedqa_docs.values() for s in d.sections[:-1]}
    assert {"background", "methods", "results", "conclusions"} <= types
    assert sum(d.year is not None for d in pubmedqa_docs.values()) == 942  # 58 records have no YEAR


def test_pubmedqa_one_record(pubmedqa_docs: dict[str, ParsedDocument]) -> None:
    doc = pubmedqa_docs["21645374"]
    assert doc.title == "Do mitochondria play a role in remodelling lace plant leaves during programmed cell death?"
    assert doc.year == 2011
    assert doc.doc_type == "article"
    assert doc.metadata["final_decision"] == "yes"
    assert "Mitochondria" in doc.metadata["mesh"]
    assert [s.path for s in doc.sections] == [["Background"], ["Results"], ["Conclusions"]]
    assert [s.section_type for s in doc.sections] == ["background", "results", "conclusions"]
    assert doc.sections[0].text.startswith("Programmed cell death (PCD) is the regulated death of cells")
    assert doc.sections[2].text.startswith("Results depicted mitochondrial dynamics in vivo")


def test_pubmedqa_doc_type_from_abstract_labels(pubmedqa_docs: dict[str, ParsedDocument]) -> None:
    assert pubmedqa_docs["9488747"].doc_type == "case report"  # labels BACKGROUND, CASE REPORTS
    assert pubmedqa_docs["10223070"].doc_type == "systematic review"  # DATA SOURCES, STUDY SELECTION, ...
    assert pubmedqa_docs["17610439"].doc_type == "article"  # DATA SOURCES without STUDY SELECTION


def test_pubmedqa_sniff(pqal: Path, pubmed_xml: Path, shared_eval: Path) -> None:
    reader = PubMedQAReader()
    assert reader.sniff(pqal, _head(pqal))
    corpus = shared_eval / "pubmedqa-1k" / "corpus.jsonl"
    assert not reader.sniff(corpus, _head(corpus))
    assert not reader.sniff(pubmed_xml, _head(pubmed_xml))


def test_pubmedqa_bad_json_and_bad_records(tmp_path: Path) -> None:
    broken = _write(tmp_path, "pq.json", '{"1": {"QUESTION": "q?",\n "CONTEXTS": [}')
    with pytest.raises(ReaderError, match=r"invalid JSON at line 2"):
        list(PubMedQAReader().read(broken))
    listed = _write(tmp_path, "list.json", "[]")
    with pytest.raises(ReaderError, match="keyed by PMID"):
        list(PubMedQAReader().read(listed))
    odd = _write(tmp_path, "odd.json", json.dumps({"5": "not a record", "6": {"QUESTION": "q?", "CONTEXTS": ["c"]}}))
    skipped, doc = list(PubMedQAReader().read(odd))
    assert isinstance(skipped, Skipped) and "5" in skipped.reason
    assert isinstance(doc, ParsedDocument) and [s.path for s in doc.sections] == [["Abstract"]]
