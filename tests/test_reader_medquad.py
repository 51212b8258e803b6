"""MedQuAD reader, on the real release tarball in shared/data and small archives built from it."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from medora.errors import ReaderError
from medora.sources.readers.base import SECTION_TYPES, ParsedDocument, Skipped
from medora.sources.readers.medquad import (
    QTYPE_SECTION,
    REMOVED_REASON,
    MedQuadReader,
    clean_answer,
    clean_question,
)

# The four NINDS files in the older <doc>/<pair> layout: counted in MedQuAD's own 47,457
# pairs, but absent from the BEIR export (eval/medquad-qa-1k) and its 16,407 passages.
LEGACY_NINDS = {"NINDS_0000007", "NINDS_0000018", "NINDS_0000182", "NINDS_0000244"}


@pytest.fixture(scope="module")
def tarball(shared_sources: Path) -> Path:
    return shared_sources / "medquad" / "MedQuAD-577bd37.tar.gz"


@pytest.fixture(scope="module")
def output(tarball: Path) -> list[ParsedDocument | Skipped]:
    return list(MedQuadReader().read(tarball))


@pytest.fixture(scope="module")
def docs(output: list[ParsedDocument | Skipped]) -> dict[str, ParsedDocument]:
    return {d.external_id: d for d in output if isinstance(d, ParsedDocument)}


@pytest.fixture(scope="module")
def corpus_ids(shared_eval: Path) -> set[str]:
    with (shared_eval / "medquad-qa-1k" / "corpus.jsonl").open(encoding="utf-8") as fh:
        return {json.loads(line)["_id"] for line in fh}


def _skipped(output: list[ParsedDocument | Skipped]) -> dict[str, int]:
    return {s.reason: s.count for s in output if isinstance(s, Skipped)}


def _member(tarball: Path, name: str) -> bytes:
    with tarfile.open(tarball, "r:gz") as archive:
        handle = archive.extractfile(name)
        assert handle is not None
        return handle.read()


def _write_tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


# ---------------------------------------------------------------- the whole release


def test_every_answered_pair_becomes_a_section(
    output: list[ParsedDocument | Skipped], docs: dict[str, ParsedDocument], corpus_ids: set[str]
) -> None:
    assert len(docs) == sum(isinstance(d, ParsedDocument) for d in output), "external ids must be unique"
    qa_ids = [q for d in docs.values() for q in d.metadata["qa_ids"]]
    assert len(qa_ids) == sum(len(d.sections) for d in docs.values())
    assert len(set(qa_ids)) == len(qa_ids)
    # The 16,407 answered pairs of the usual layout are exactly the eval corpus passages...
    standard = {q for q in qa_ids if q.split("-")[0] not in LEGACY_NINDS}
    assert len(standard) == 16407
    assert standard == corpus_ids
    # ... and the 4 legacy-layout NINDS files add their 16 answered pairs.
    assert len(qa_ids) == 16407 + 16
    assert {d for d in docs if d in LEGACY_NINDS} == LEGACY_NINDS


def test_removed_and_empty_answers_are_counted(output: list[ParsedDocument | Skipped]) -> None:
    assert _skipped(output) == {
        REMOVED_REASON: 17348 + 12889 + 792,  # 10_MPlus_ADAM_QA, 11_MPlusDrugs_QA, 12_MPlusHerbsSupplements_QA
        "empty answer in source": 5,  # five GARD pairs
        "document without question-answer pairs": 6,  # six NIDDK files
    }


def test_no_document_from_the_removed_collections(docs: dict[str, ParsedDocument]) -> None:
    sources = {d.metadata["source"] for d in docs.values()}
    assert sources == {
        "CancerGov", "GARD", "GHR", "MPlusHealthTopics", "NIDDK", "NINDS", "NIHSeniorHealth", "NHLBI", "CDC",
    }  # fmt: skip
    assert all(d.publisher and d.publisher != d.metadata["source"] for d in docs.values())


def test_known_document(docs: dict[str, ParsedDocument]) -> None:
    doc = docs["CancerGov_0000001_1"]
    assert doc.title == "Adult Acute Lymphoblastic Leukemia"
    assert doc.url == "https://www.cancer.gov/types/leukemia/patient/adult-all-treatment-pdq"
    assert doc.publisher == "National Cancer Institute"
    assert (doc.doc_type, doc.license) == ("patient information", "CC BY 4.0")
    assert doc.metadata["cuis"] == ["C0751606"]
    assert doc.metadata["semantic_types"] == ["T191"]
    assert doc.metadata["semantic_group"] == "Disorders"
    assert doc.metadata["qa_ids"][:2] == ["CancerGov_0000001_1-1", "CancerGov_0000001_1-2"]
    by_type = {s.section_type: s for s in doc.sections}
    symptoms = by_type["symptoms"]
    assert symptoms.path == ["What are the symptoms of Adult Acute Lymphoblastic Leukemia?"]
    assert "Fever or night sweats." in symptoms.text.split("\n")  # an inline " - " bullet, now its own line
    assert {"definition", "diagnosis", "outlook", "causes", "treatment"} <= set(by_type)


def test_synonyms_and_category_are_kept(docs: dict[str, ParsedDocument]) -> None:
    ghr = docs["GHR_0000001"]
    assert ghr.title == "Aarskog-Scott syndrome"
    assert "Faciogenital dysplasia" in ghr.metadata["synonyms"]
    assert docs["MPlusHealthTopics_0000001"].metadata["category"] == "Other"


def test_documents_split_upstream_keep_distinct_ids(docs: dict[str, ParsedDocument]) -> None:
    # Seven CancerGov files share the document id 0000013_2; the eval export numbers their repeats.
    first, second = docs["CancerGov_0000013_2"], docs["CancerGov_0000013_2_1"]
    assert second.title == "Polycythemia Vera"
    assert first.metadata["qa_ids"][0] == "CancerGov_0000013_2-1"
    assert second.metadata["qa_ids"][0] == "CancerGov_0000013_2-1_dup1"


def test_section_types_follow_qtypes(docs: dict[str, ParsedDocument]) -> None:
    assert set(QTYPE_SECTION.values()) <= set(SECTION_TYPES)
    for doc in docs.values():
        for section, qtype in zip(doc.sections, doc.metadata["qtypes"], strict=True):
            assert section.section_type == QTYPE_SECTION[qtype]
            assert section.text and section.path[0]


def test_answer_text_is_clean(docs: dict[str, ParsedDocument]) -> None:
    for doc in docs.values():
        for section in doc.sections:
            assert "  " not in section.text and "\t" not in section.text
            assert not any(line.startswith("- ") for line in section.text.split("\n"))


def test_clean_answer_and_question() -> None:
    raw = "Key Points\n      - First point.    - Second point.\n\n   Prose here.  Next sentence.   Heading    Body text."
    assert clean_answer(raw) == "Key Points\nFirst point.\nSecond point.\nProse here. Next sentence.\nHeading\nBody text."
    assert clean_answer("Lists: Ataxia - Coma - Seizures") == "Lists: Ataxia\nComa\nSeizures"
    assert clean_answer("standard - or low-dose therapy") == "standard - or low-dose therapy"
    assert clean_question("Who is at risk for Gout? ?") == "Who is at risk for Gout?"
    assert clean_question("What is (are)  Gout ?") == "What is (are) Gout?"


# ---------------------------------------------------------------- inputs and errors


def test_sniff(tarball: Path, tmp_path: Path) -> None:
    reader = MedQuadReader()
    assert reader.sniff(tarball, tarball.read_bytes()[:8192])
    renamed = tmp_path / "nih-qa.tar.gz"  # recognised by its first member, not its name
    renamed.write_bytes(tarball.read_bytes())
    assert reader.sniff(renamed, renamed.read_bytes()[:8192])
    (tmp_path / "checkout" / "3_GHR_QA").mkdir(parents=True)
    assert reader.sniff(tmp_path / "checkout", b"")
    assert not reader.sniff(tmp_path, b"")
    ghr = _member(tarball, "3_GHR_QA/0000001.xml")
    assert reader.sniff(tmp_path / "0000001.xml", ghr[:8192])
    other = _write_tar(tmp_path / "other.tar.gz", {"notes/readme.xml": b"<Document/>"})
    assert not reader.sniff(other, other.read_bytes()[:8192])
    assert not reader.sniff(tmp_path / "x.xml", b"<?xml version='1.0'?><Document><body/></Document>")


def test_single_xml_file(tarball: Path, tmp_path: Path) -> None:
    path = tmp_path / "0000001.xml"
    path.write_bytes(_member(tarball, "3_GHR_QA/0000001.xml"))
    (doc,) = MedQuadReader().read(path)
    assert isinstance(doc, ParsedDocument)
    assert doc.external_id == "GHR_0000001"
    assert doc.metadata["qa_ids"][0] == "GHR_0000001-1"
    assert {s.section_type for s in doc.sections} >= {"definition", "frequency", "genetics", "inheritance"}


def test_folder_reads_like_tarball(tarball: Path, tmp_path: Path) -> None:
    names = [
        "1_CancerGov_QA/0000013_2.xml",
        "1_CancerGov_QA/0000013_2_1.xml",
        "6_NINDS_QA/0000007.xml",
        "11_MPlusDrugs_QA/0000001.xml",
    ]
    members = {name: _member(tarball, name) for name in names}
    folder = tmp_path / "MedQuAD"
    for name, data in members.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    packed = _write_tar(tmp_path / "MedQuAD-small.tar.gz", members)

    from_folder = list(MedQuadReader().read(folder))
    from_tar = list(MedQuadReader().read(packed))
    assert from_folder == from_tar
    documents = [d for d in from_folder if isinstance(d, ParsedDocument)]
    assert [d.external_id for d in documents] == ["CancerGov_0000013_2", "CancerGov_0000013_2_1", "NINDS_0000007"]
    assert documents[1].metadata["qa_ids"][0] == "CancerGov_0000013_2-1_dup1"
    assert documents[2].title == "Holmes-Adie" and len(documents[2].sections) == 4
    assert _skipped(from_folder) == {REMOVED_REASON: 12}


def test_malformed_member_is_reported_and_skipped(tarball: Path, tmp_path: Path) -> None:
    good = _member(tarball, "3_GHR_QA/0000001.xml")
    bad = b'<?xml version="1.0"?>\n<Document id="9" source="GHR">\n<QAPairs>\n</Document>\n'
    packed = _write_tar(tmp_path / "MedQuAD-bad.tar.gz", {"3_GHR_QA/0000001.xml": good, "3_GHR_QA/0000009.xml": bad})
    output = list(MedQuadReader().read(packed))
    assert [d.external_id for d in output if isinstance(d, ParsedDocument)] == ["GHR_0000001"]
    assert _skipped(output) == {"3_GHR_QA/0000009.xml: malformed XML (line 4)": 1}


def test_truncated_tarball_raises(tarball: Path, tmp_path: Path) -> None:
    packed = _write_tar(tmp_path / "full.tar.gz", {"3_GHR_QA/0000001.xml": _member(tarball, "3_GHR_QA/0000001.xml")})
    truncated = tmp_path / "MedQuAD-truncated.tar.gz"
    truncated.write_bytes(packed.read_bytes()[: packed.stat().st_size // 2])
    with pytest.raises(ReaderError, match="corrupt or truncated tar archive"):
        list(MedQuadReader().read(truncated))
    with pytest.raises(ReaderError, match="empty file"):
        (tmp_path / "MedQuAD-empty.tar.gz").touch()
        list(MedQuadReader().read(tmp_path / "MedQuAD-empty.tar.gz"))
