"""JATS reader on the five PubMed Central articles in shared/data, and on small handmade files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import etree

from medora.errors import ReaderError
from medora.sources.readers.base import SECTION_TYPES, ParsedDocument, Skipped
from medora.sources.readers.jats import JatsReader

MARKUP = re.compile(r"<[A-Za-z/!?][^>]*>")
NUMERIC_CITATION = re.compile(r"(^|\s)\[\d{1,3}([,\u2013-]\s*\d{1,3})*\]")  # "(1)" enumerates, "[1]" cites
CAPTION_LINE = re.compile(r"^(Figure|Fig\.|Table)\s*S?\d+[A-Za-z]?\s*[.:|]", re.M)
LEFTOVER = re.compile(r"\(\s*\)|\[\s*\]|\s,|\ue000")


def _head(path: Path) -> bytes:
    with path.open("rb") as fh:
        return fh.read(8192)


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def pmc_files(shared_sources: Path) -> list[Path]:
    files = sorted((shared_sources / "pmc").glob("*.nxml"))
    assert len(files) == 5
    return files


@pytest.fixture(scope="module")
def docs(pmc_files: list[Path]) -> dict[str, ParsedDocument]:
    parsed = {}
    for path in pmc_files:
        [doc] = list(JatsReader().read(path))
        assert isinstance(doc, ParsedDocument), path
        parsed[path.stem] = doc
    return parsed


def _source_texts(path: Path, xpath: str) -> list[str]:
    """Normalised texts of the elements ``xpath`` selects in the source file (at least 30 chars)."""
    root = etree.parse(str(path), etree.XMLParser(load_dtd=False, no_network=True, resolve_entities=False))
    texts = (_flat("".join(el.itertext())) for el in root.xpath(xpath))
    return [text for text in texts if len(text) >= 30]


# ---------------------------------------------------------------- the real articles


def test_every_article_parses_with_front_matter(docs: dict[str, ParsedDocument]) -> None:
    for name, doc in docs.items():
        assert doc.title, name
        assert len(doc.sections) >= 3, name
        assert doc.license, name
        assert doc.year and 2007 <= doc.year <= 2013, name
        assert doc.external_id == doc.metadata["pmcid"] and doc.external_id.startswith("PMC"), name
        assert doc.url == f"https://pmc.ncbi.nlm.nih.gov/articles/{doc.external_id}/"
        assert doc.metadata["pmid"].isdigit() and doc.metadata["doi"].startswith("10.")
        assert doc.doc_type == "article"
        assert doc.publisher and doc.metadata["journal"] == doc.publisher
        assert all(s.section_type is None or s.section_type in SECTION_TYPES for s in doc.sections)
        assert {"background", "methods", "results", "conclusions"} & {s.section_type for s in doc.sections}


def test_bmc_article_metadata_and_section_paths(docs: dict[str, ParsedDocument]) -> None:
    doc = docs["1471-2180-11-174"]
    assert doc.title == "Factors influencing lysis time stochasticity in bacteriophage λ"
    assert (doc.external_id, doc.metadata["pmid"], doc.metadata["doi"]) == (
        "PMC3166277",
        "21810267",
        "10.1186/1471-2180-11-174",
    )
    assert doc.year == 2011
    assert doc.publisher == "BMC Microbiology"
    assert doc.license == "http://creativecommons.org/licenses/by/2.0"
    assert doc.metadata["authors"] == ["John J Dennehy", "Ing-Nang Wang"]
    typed = {tuple(s.path): s.section_type for s in doc.sections}
    assert typed[("Abstract", "Background")] == "background"
    assert typed[("Abstract", "Conclusions")] == "conclusions"
    assert typed[("Results", "Effects of KCN Addition")] == "results"
    assert typed[("Discussion", "Manipulation of holin production rate")] == "conclusions"
    assert typed[("Methods", "Statistical analysis")] == "methods"
    top = {s.path[0] for s in doc.sections}
    assert not top & {"Competing interests", "Authors' contributions", "Supplementary Material", "Acknowledgements"}


def test_license_from_text_and_copyright_statement(docs: dict[str, ParsedDocument]) -> None:
    assert docs["pntd.0002065"].license.startswith("This is an open-access article distributed under the terms")
    # pone.0000217 has no <license>: its copyright statement states the licence
    assert "Creative Commons Attribution License" in docs["pone.0000217"].license


def test_author_summary_is_kept(docs: dict[str, ParsedDocument]) -> None:
    paths = [s.path for s in docs["pntd.0002065"].sections]
    assert paths[:2] == [["Abstract"], ["Author Summary"]]


def test_no_markup_captions_references_or_citation_markers(
    docs: dict[str, ParsedDocument], pmc_files: list[Path]
) -> None:
    for path in pmc_files:
        doc = docs[path.stem]
        text = "\n".join(s.text for s in doc.sections)
        flat = _flat(text)
        assert not MARKUP.search(text), path.name
        assert not CAPTION_LINE.search(text), path.name
        assert not NUMERIC_CITATION.search(text), (path.name, NUMERIC_CITATION.search(text))
        assert not LEFTOVER.search(text), (path.name, LEFTOVER.search(text))
        hidden = _source_texts(path, "//fig//caption | //table-wrap//caption")
        hidden += _source_texts(path, "//ref-list//article-title | //back/ack | //supplementary-material")
        assert hidden, path.name
        for piece in hidden:
            assert piece[:60] not in flat, (path.name, piece[:60])


def test_citation_markers_are_removed_with_their_brackets(docs: dict[str, ParsedDocument]) -> None:
    bmc = "\n".join(s.text for s in docs["1471-2180-11-174"].sections)
    # source: "... despite identical environments and genotypes [<xref>1</xref>-<xref>9</xref>]."
    assert "despite identical environments and genotypes. Population heterogeneity" in bmc
    # source: "... different units [[<xref>56</xref>], pp. 57-59.]."
    assert "measurements using different units. In our study" in bmc
    assert "F[1,12] = 8.42" in bmc  # statistics in brackets are not citations
    plos = "\n".join(s.text for s in docs["pone.0000217"].sections)
    # source: "... conflicting conclusions <xref>[2]</xref>, <xref>[3]</xref>."
    assert "quickly lead to conflicting conclusions." in plos
    # a dropped display formula leaves a space, not glued words
    assert "could be written in which" in plos


def test_malformed_file_names_file_and_line(pmc_files: list[Path], tmp_path: Path) -> None:
    broken = tmp_path / "truncated.nxml"
    broken.write_bytes(pmc_files[-1].read_bytes()[:30000])
    with pytest.raises(ReaderError) as info:
        list(JatsReader().read(broken))
    assert str(broken) in str(info.value)
    assert re.search(r"malformed XML at line \d+", info.value.reason)


# ---------------------------------------------------------------- sniffing


def test_sniff_accepts_jats_and_refuses_other_xml(pmc_files: list[Path], shared_sources: Path, tmp_path: Path) -> None:
    reader = JatsReader()
    for path in pmc_files:
        assert reader.sniff(path, _head(path)), path.name
    docbook = tmp_path / "docbook.xml"
    docbook.write_text(
        '<?xml version="1.0"?>\n<article xmlns="http://docbook.org/ns/docbook" version="5.0">'
        "<info><title>Not journal XML</title></info><para>Hello.</para></article>",
        encoding="utf-8",
    )
    others = [
        docbook,
        shared_sources / "pubmed" / "pubmed-29768149.xml",
        shared_sources / "dailymed-spl" / "humira.xml",
        shared_sources / "pubmedqa" / "ori_pqal.json",
    ]
    for path in others:
        assert not reader.sniff(path, _head(path)), path.name


def test_read_refuses_a_pubmed_file(shared_sources: Path) -> None:
    with pytest.raises(ReaderError, match="not JATS"):
        list(JatsReader().read(shared_sources / "pubmed" / "pubmed-29768149.xml"))


# ---------------------------------------------------------------- handmade files

ARTICLE = """<?xml version="1.0"?>
<!DOCTYPE article PUBLIC "-//NLM//DTD JATS (Z39.96) Journal Archiving and Interchange DTD v1.2 20190208//EN"
 "JATS-archivearticle1.dtd">
<article xmlns:xlink="http://www.w3.org/1999/xlink" article-type="{article_type}">
<front><journal-meta><journal-title-group><journal-title>J Test</journal-title></journal-title-group></journal-meta>
<article-meta>{ids}
<article-categories><subj-group subj-group-type="heading"><subject>{heading}</subject></subj-group></article-categories>
<title-group><article-title>A test article</article-title></title-group>
<pub-date pub-type="epub"><year>2019</year></pub-date><pub-date pub-type="ppub"><year>2020</year></pub-date>
</article-meta></front>
<body><p>As shown by <xref ref-type="bibr" rid="b1">Smith et al. (2001)</xref>, drug X works
 (<xref ref-type="bibr" rid="b3">3</xref>, <xref ref-type="bibr" rid="b4">4</xref>).</p>
<sec><title>Methods</title><p>We did things (see <xref ref-type="bibr" rid="b5">5</xref>).</p>
<fig id="f1"><label>Figure 1</label><caption><p>A caption.</p></caption></fig></sec></body>
</article>"""


def _article(tmp_path: Path, name: str = "handmade.nxml", **fields: str) -> Path:
    values = {"article_type": "research-article", "ids": "", "heading": "Research Article", **fields}
    path = tmp_path / name
    path.write_text(ARTICLE.format(**values), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("article_type", "heading", "expected"),
    [
        ("research-article", "Research Article", "article"),
        ("review-article", "Review", "review"),
        ("review-article", "Systematic Review", "systematic review"),
        ("case-report", "Case Report", "case report"),
    ],
)
def test_doc_type_from_article_type(tmp_path: Path, article_type: str, heading: str, expected: str) -> None:
    [doc] = list(JatsReader().read(_article(tmp_path, article_type=article_type, heading=heading)))
    assert doc.doc_type == expected


def test_handmade_article_text_ids_and_year(tmp_path: Path) -> None:
    [doc] = list(JatsReader().read(_article(tmp_path)))
    assert doc.external_id == "handmade"  # no PMCID, no DOI: the file stem
    assert doc.url is None and doc.license is None
    assert doc.year == 2020  # the print date, as cited
    assert [(s.path, s.text, s.section_type) for s in doc.sections] == [
        (["Main text"], "As shown by Smith et al. (2001), drug X works.", None),
        (["Methods"], "We did things.", "methods"),
    ]
    doi_only = _article(tmp_path, "doi.nxml", ids='<article-id pub-id-type="doi">10.1/abc</article-id>')
    [doc] = list(JatsReader().read(doi_only))
    assert (doc.external_id, doc.url) == ("10.1/abc", "https://doi.org/10.1/abc")


def test_article_without_text_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "empty.nxml"
    path.write_text(
        '<article article-type="correction"><front><article-meta><title-group><article-title>Erratum'
        "</article-title></title-group></article-meta></front></article>",
        encoding="utf-8",
    )
    [item] = list(JatsReader().read(path))
    assert isinstance(item, Skipped) and "empty.nxml" in item.reason


def test_bookshelf_book_part(tmp_path: Path) -> None:
    path = tmp_path / "NBK0001.nxml"
    path.write_text(
        """<?xml version="1.0"?>
<!DOCTYPE book-part-wrapper PUBLIC "-//NLM//DTD BITS Book Interchange DTD v2.0 20151225//EN" "BITS-book2.dtd">
<book-part-wrapper xmlns:xlink="http://www.w3.org/1999/xlink">
 <book-meta><book-title-group><book-title>Handbook of Tests</book-title></book-title-group></book-meta>
 <book-part book-part-type="chapter">
  <book-part-meta>
   <book-part-id book-part-id-type="doi">10.9/ch1</book-part-id>
   <title-group><title>Test Disease</title></title-group>
   <pub-date><year>2021</year></pub-date>
   <permissions><license xlink:href="https://creativecommons.org/licenses/by/4.0/"/></permissions>
  </book-part-meta>
  <body>
   <sec><title>Introduction</title><p>Test disease is rare <xref ref-type="bibr" rid="r1">[1]</xref>.</p></sec>
   <sec><title>Management</title>
    <sec><title>Drug therapy</title><p>Give drug X.</p>
     <table-wrap><caption><p>Table 1. Doses</p></caption><table><tr><td>5 mg</td></tr></table></table-wrap>
     <list><list-item><p>First line.</p></list-item><list-item><p>Second line.</p></list-item></list>
    </sec>
   </sec>
  </body>
  <back><ref-list><ref id="r1"><mixed-citation>A reference.</mixed-citation></ref></ref-list></back>
 </book-part>
</book-part-wrapper>""",
        encoding="utf-8",
    )
    assert JatsReader().sniff(path, _head(path))
    [doc] = list(JatsReader().read(path))
    assert (doc.title, doc.publisher, doc.year) == ("Test Disease", "Handbook of Tests", 2021)
    assert doc.external_id == doc.metadata["doi"] == "10.9/ch1"
    assert doc.license == "https://creativecommons.org/licenses/by/4.0/"
    assert [(s.path, s.text, s.section_type) for s in doc.sections] == [
        (["Introduction"], "Test disease is rare.", "background"),
        (["Management", "Drug therapy"], "Give drug X.\nFirst line.\nSecond line.", None),
    ]
