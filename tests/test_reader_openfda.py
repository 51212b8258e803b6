"""openFDA label readers on the real shared files: 363 /drug/label responses and 88 openfda-common extracts."""

from __future__ import annotations

import io
import json
import re
import tarfile
from collections import Counter
from pathlib import Path

import pytest

from medora.errors import ReaderError
from medora.library.chunking import chunk_document
from medora.sources.readers.base import SECTION_TYPES, ParsedDocument, Skipped
from medora.sources.readers.openfda import (
    IMAGE_TABLE_REASON,
    LAYOUT_TABLE_REASON,
    NO_NAMES_REASON,
    NO_RESULTS_REASON,
    NOT_LABEL_REASON,
    TABLE_REASON,
    OpenFdaCommonReader,
    OpenFdaReader,
    label_document,
    strip_references,
)
from medora.sources.readers.registry import detect_reader
from conftest import run_cli

LABELS_TAR = "openfda-labels/openfda-labels-pharmgkb-2024-01-15.tar.gz"
COMMON_TAR = "openfda-common/openfda-common-88-2026.tar.gz"
CELEXA_MEMBER = "openfda-labels-pharmgkb-2024-01-15/NDA020822.json"
METADATA_KEYS = {"set_id", "label_id", "effective_date", "label_version", "brand_names", "generic_names",
                 "substance_names", "routes", "manufacturer", "product_type", "rxcui"}

# What must never reach a quoted statement: openFDA's spaced link "( 2.1 )", "(5.2, 5.3)" after a word,
# "[see Warnings and Precautions (5.1)]", and a sentence that starts with a section number ("2.1 Recommended").
SPACED_REF = re.compile(r"\( \d{1,2}(\.\d{1,2})*(\s*,\s*\d{1,2}(\.\d{1,2})*)* \)")
WORD_REF = re.compile(r"[a-z] \((?:1[0-7]|[1-9])\.[1-9]\d?(, ?(?:1[0-7]|[1-9])(\.[1-9]\d?)?)*\)")
SEE_REF = re.compile(r"[\[(]\s*see [^\[\]()]*\(\s*\d{1,2}(\.\d{1,2})*\s*\)", re.I)
LEADING_NUMBER = re.compile(r"^(?:1[0-7]|[1-9])(\.\s?[1-9]\d?)+\.?\s+[A-Z][a-z]")


def _read(reader, path: Path) -> tuple[list[ParsedDocument], Counter]:
    docs, skips = [], Counter()
    for item in reader.read(path):
        if isinstance(item, Skipped):
            skips[item.reason] += item.count
        else:
            docs.append(item)
    return docs, skips


@pytest.fixture(scope="module")
def labels(shared_sources: Path) -> tuple[list[ParsedDocument], Counter]:
    return _read(OpenFdaReader(), shared_sources / LABELS_TAR)


@pytest.fixture(scope="module")
def common(shared_sources: Path) -> tuple[list[ParsedDocument], Counter]:
    return _read(OpenFdaCommonReader(), shared_sources / COMMON_TAR)


@pytest.fixture(scope="module")
def celexa_response(shared_sources: Path) -> dict:
    with tarfile.open(shared_sources / LABELS_TAR) as archive:
        return json.load(archive.extractfile(CELEXA_MEMBER))


def _by_generic(docs: list[ParsedDocument], generic: str) -> ParsedDocument:
    return next(d for d in docs if [g.lower() for g in d.metadata["generic_names"]] == [generic])


def test_every_label_in_the_tarball_is_one_document_with_counted_skips(labels) -> None:
    docs, skips = labels
    assert len(docs) == 363
    assert len({d.external_id for d in docs}) == 363
    assert sum(len(d.sections) for d in docs) == 25128  # un-numbered sub-headings are sections (reader version 2)
    # timestamp.json is not a label; image-only and layout tables are skipped with their reason counted
    assert skips == {NOT_LABEL_REASON: 1, IMAGE_TABLE_REASON: 52, LAYOUT_TABLE_REASON: 532, TABLE_REASON: 16}
    for doc in docs:
        assert doc.doc_type == "drug label" and doc.title.endswith(" — FDA label")
        assert re.fullmatch(r"[0-9a-f-]{36}", doc.external_id)
        assert doc.url == f"https://dailymed.nlm.nih.gov/dailymed/lookup.cfm?setid={doc.external_id}"
        assert METADATA_KEYS <= doc.metadata.keys()
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", doc.metadata["effective_date"])
        assert {s.section_type for s in doc.sections} <= set(SECTION_TYPES)
        assert any(s.section_type == "dosage" for s in doc.sections), doc.title
        assert all(s.text.strip() for s in doc.sections)


def test_citalopram_label_identity_sections_and_metadata(labels) -> None:
    celexa = _by_generic(labels[0], "citalopram")
    assert celexa.title == "Celexa (citalopram) — FDA label"
    assert celexa.external_id == "4259d9b1-de34-43a4-85a8-41dd214e9177"
    assert celexa.year == 2023
    meta = celexa.metadata
    assert (meta["label_id"], meta["effective_date"], meta["label_version"]) == (
        "a6e5794d-438d-4fb9-8303-6a57d7b64da6", "2023-10-09", 37)
    assert meta["brand_names"] == ["Celexa"] and meta["substance_names"] == ["CITALOPRAM HYDROBROMIDE"]
    assert (meta["routes"], meta["manufacturer"], meta["product_type"]) == (
        ["ORAL"], "Allergan, Inc.", "HUMAN PRESCRIPTION DRUG")
    sections = {}
    for section in celexa.sections:
        sections.setdefault(tuple(section.path), section)
    dose = sections[("Dosage and administration", "Recommended Dosage")]
    assert dose.section_type == "dosage"
    assert dose.text.startswith("Administer CELEXA once daily")
    assert "maximum dosage of 40 mg once daily" in dose.text
    assert "Dosages above 40 mg once daily are not recommended due to the risk of QT prolongation." in dose.text
    assert sections[("Boxed warning",)].section_type == "warnings"
    assert sections[("Contraindications",)].section_type == "contraindications"
    assert sections[("Drug interactions",)].section_type == "interactions"
    assert sections[("Warnings and precautions", "Serotonin Syndrome")].section_type == "warnings"
    assert sections[("Patient counseling information",)].section_type == "patient counseling"
    # pregnancy, printed both inside "Use in specific populations" and as its own field, is kept once
    pregnancy = [s for s in celexa.sections if "There is a pregnancy exposure registry that monitors" in s.text]
    assert [s.path for s in pregnancy] == [["Use in specific populations", "Pregnancy", "Pregnancy Exposure Registry"]]
    assert pregnancy[0].section_type == "specific populations"


def test_tables_become_rows_of_cells(labels) -> None:
    celexa = _by_generic(labels[0], "citalopram")
    table = next(s for s in celexa.sections if s.path[-1].startswith("Table 5: Clinically Important Drug Interactions"))
    assert table.section_type == "interactions" and table.path[0] == "Drug interactions"
    assert "Clinical Impact; Concomitant use of SSRIs, including CELEXA, and MAOIs increases" in table.text
    adverse = next(s for s in celexa.sections if s.path[-1].startswith("Table 3: Adverse Reactions"))
    assert "Nausea; 21; 14" in adverse.text.split("\n")


def test_no_cross_reference_or_section_number_reaches_a_passage(labels, common) -> None:
    checked = 0
    for doc in labels[0] + common[0]:
        for chunk in chunk_document(doc):
            for pattern in (SPACED_REF, WORD_REF, SEE_REF):
                assert not pattern.search(chunk.text), (doc.title, pattern.search(chunk.text))
            assert "[see " not in chunk.text.lower(), (doc.title, chunk.text)
            for start, end in chunk.sentences:
                assert not LEADING_NUMBER.match(chunk.text[start:end]), (doc.title, chunk.text[start:end][:80])
            checked += 1
    assert checked > 30000


def test_reference_stripping_keeps_numbers_that_are_data() -> None:
    text = ("Initial dosage is 20 mg once daily ( 2.1 ). Avoid use [see Warnings and Precautions ( 5.2 ) ] . "
            "Monitor (5.2, 5.3). HR 0.63, 95% CI (0.48, 0.83); mean 1.4 (1.1, 1.9); 15 ( 5) patients. "
            "Reactions occurred [see Adverse Reactions ( 6.1 ), Clinical Studies ( 14 ). Done.")
    assert strip_references(text) == ("Initial dosage is 20 mg once daily. Avoid use. Monitor. HR 0.63, 95% CI "
                                      "(0.48, 0.83); mean 1.4 (1.1, 1.9); 15 ( 5) patients. Reactions occurred. Done.")


def test_common_extracts_are_drug_labels_with_their_own_provenance(common, labels) -> None:
    docs, skips = common
    assert len(docs) == 88 and not skips
    assert sum(len(d.sections) for d in docs) == 3014
    by_id = {d.external_id: d for d in docs}
    assert {"ibuprofen", "metformin", "lisinopril", "sertraline", "amoxicillin", "gabapentin"} <= by_id.keys()
    for doc in docs:
        assert doc.doc_type == "drug label" and METADATA_KEYS <= doc.metadata.keys()
        assert "PharmaGraphRAG" in doc.metadata["derived_from"] and doc.metadata["set_id"] is None
        assert {s.section_type for s in doc.sections} <= set(SECTION_TYPES)
    sertraline = by_id["sertraline"]
    assert sertraline.title == "Sertraline Hydrochloride — FDA label"
    dose = next(s for s in sertraline.sections if s.path == ["Dosage and administration"])
    assert dose.section_type == "dosage" and "50 mg once daily" in dose.text
    assert by_id["ibuprofen"].metadata["product_type"] == "HUMAN OTC DRUG"
    # a drug in both sources keeps both labels, each its own document
    warfarin_labels = [d for d in labels[0] if "warfarin" in " ".join(d.metadata["generic_names"]).lower()]
    assert warfarin_labels and by_id["warfarin"].external_id not in {d.external_id for d in warfarin_labels}


def test_label_document_merges_provenance_for_the_online_client(celexa_response) -> None:
    label = celexa_response["results"][0]
    doc = label_document(label, provenance={"retrieved_from": "https://api.fda.gov/drug/label.json", "fetched": "x"})
    assert doc.metadata["retrieved_from"] == "https://api.fda.gov/drug/label.json"
    assert doc.metadata["set_id"] == doc.external_id == label["set_id"]


def test_sniffing_routes_files_and_tarballs_to_the_right_reader(shared_sources, tmp_path, celexa_response) -> None:
    assert detect_reader(shared_sources / LABELS_TAR).name == "openfda"
    assert detect_reader(shared_sources / COMMON_TAR).name == "openfda-common"
    response = tmp_path / "celexa.json"
    response.write_text(json.dumps(celexa_response))
    bare = tmp_path / "bare-label.json"
    bare.write_text(json.dumps(celexa_response["results"][0]))
    assert detect_reader(response).name == "openfda" and detect_reader(bare).name == "openfda"
    docs, _ = _read(OpenFdaReader(), bare)
    assert [d.external_id for d in docs] == ["4259d9b1-de34-43a4-85a8-41dd214e9177"]


def test_ingest_reads_a_single_openfda_response(tmp_path, celexa_response) -> None:
    response = tmp_path / "celexa.json"
    response.write_text(json.dumps(celexa_response))
    proc = run_cli("ingest", str(response), "--library", str(tmp_path / "lib.db"), "--format", "json", "-q")
    report = json.loads(proc.stdout)
    assert report["documents"]["added"] == 1 and report["passages_written"] > 50


# ---------------------------------------------------------------- bad input: one clear line, the rest goes on


def _tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(f"openfda-labels-x/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_empty_results_and_broken_members_are_one_line_each(tmp_path, celexa_response) -> None:
    empty = {"meta": celexa_response["meta"], "results": []}
    nameless = json.loads(json.dumps(celexa_response))
    del nameless["results"][0]["openfda"]
    broken_table = json.loads(json.dumps(celexa_response))
    broken_table["results"][0]["adverse_reactions_table"] = ["<table><tr>not a table row</table>", 42]
    tar = _tar(tmp_path / "openfda-labels-test.tar.gz", {
        "EMPTY.json": json.dumps(empty).encode(),
        "TRUNCATED.json": json.dumps(celexa_response).encode()[:5000],
        "NONAMES.json": json.dumps(nameless).encode(),
        "TABLE.json": json.dumps(broken_table).encode(),
    })
    items = list(OpenFdaReader().read(tar))
    docs = [i for i in items if isinstance(i, ParsedDocument)]
    lines = [i.reason for i in items if isinstance(i, Skipped)]
    assert all("\n" not in line for line in lines)
    assert f"openfda-labels-x/EMPTY.json: {NO_RESULTS_REASON}" in lines
    assert any(line.startswith("openfda-labels-x/TRUNCATED.json: not valid JSON") for line in lines), lines
    assert len(docs) == 2
    nameless_doc, table_doc = docs
    # a label without openfda names is still read, titled from its package label, and the warning counted
    assert nameless_doc.title == "Celexa citalopram Tablets – 10 mg — FDA label"
    assert nameless_doc.metadata["brand_names"] == [] and nameless_doc.sections
    counts = {i.reason: i.count for i in items if isinstance(i, Skipped)}
    assert counts[NO_NAMES_REASON] == 1
    assert counts[TABLE_REASON] == 2  # the unparseable table and the non-string one; the label is still read
    assert any(s.path[0] == "Adverse reactions" for s in table_doc.sections)


def test_a_single_file_with_no_results_is_rejected_in_one_line(tmp_path, celexa_response) -> None:
    path = tmp_path / "empty.json"
    path.write_text(json.dumps({"meta": celexa_response["meta"], "results": []}))
    with pytest.raises(ReaderError) as err:
        list(OpenFdaReader().read(path))
    assert str(err.value) == f"{path}: {NO_RESULTS_REASON}"
    not_json = tmp_path / "bad.json"
    not_json.write_text('{"results": [')
    with pytest.raises(ReaderError, match="not valid JSON"):
        list(OpenFdaReader().read(not_json))
    with pytest.raises(ReaderError, match="without set_id"):
        label_document({"openfda": {}, "indications_and_usage": ["Used for pain."]})
