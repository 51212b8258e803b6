"""SplReader on the five real DailyMed/openFDA drug labels in shared/data/sources/dailymed-spl."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from medora.errors import ReaderError
from medora.sources.readers.base import SECTION_TYPES, ParsedDocument, ParsedSection
from medora.sources.readers.spl import SplReader

LABELS = ("cough", "humira", "lipitor-orig", "no-title", "viagra")
PRESCRIPTION = ("humira", "lipitor-orig", "viagra")


@pytest.fixture(scope="module")
def spl_dir(shared_sources: Path) -> Path:
    return shared_sources / "dailymed-spl"


@pytest.fixture(scope="module")
def labels(spl_dir: Path) -> dict[str, ParsedDocument]:
    docs = {}
    for name in LABELS:
        items = list(SplReader().read(spl_dir / f"{name}.xml"))
        assert len(items) == 1 and isinstance(items[0], ParsedDocument)
        docs[name] = items[0]
    return docs


def _types(doc: ParsedDocument) -> set[str | None]:
    return {s.section_type for s in doc.sections}


def _by_path(doc: ParsedDocument, *path: str) -> ParsedSection:
    matches = [s for s in doc.sections if s.path == list(path)]
    assert matches, f"no section {path} in {[s.path for s in doc.sections]}"
    return matches[0]


def test_every_label_parses_with_identity_and_provenance(labels: dict[str, ParsedDocument]) -> None:
    for name, doc in labels.items():
        assert re.fullmatch(r"[0-9a-f-]{36}", doc.external_id), name
        assert doc.url == f"https://dailymed.nlm.nih.gov/dailymed/lookup.cfm?setid={doc.external_id}"
        assert doc.doc_type == "drug label"
        assert doc.publisher == "U.S. Food and Drug Administration (DailyMed)"
        assert doc.year is not None and 2009 <= doc.year <= 2018
        assert isinstance(doc.metadata["label_version"], int)
        assert doc.sections and all(s.text for s in doc.sections)
        assert _types(doc) <= set(SECTION_TYPES)
    humira = labels["humira"]
    # the setId (stable across versions), not the id of this version of the document
    assert humira.external_id == "608d4f0d-b19f-46d3-749a-7159aa5f933d"
    assert humira.metadata["document_id"] == "2c9fb32d-4b1b-b5da-4bdf-6b06908ba8b3"
    assert humira.year == 2013
    assert (humira.metadata["label_version"], humira.metadata["effective_date"]) == (1560, "2013-09-30")


def test_prescription_labels_have_the_sections_questions_need(labels: dict[str, ParsedDocument]) -> None:
    needed = {"indications", "dosage", "contraindications", "warnings", "adverse reactions", "interactions",
              "specific populations", "patient counseling"}  # fmt: skip
    for name in PRESCRIPTION:
        assert needed <= _types(labels[name]), (name, needed - _types(labels[name]))


def test_section_paths_are_clean_nested_titles(labels: dict[str, ParsedDocument]) -> None:
    humira = labels["humira"]
    assert _by_path(humira, "Warnings and precautions", "Serious Infections").section_type == "warnings"
    assert _by_path(humira, "Drug interactions", "Methotrexate").section_type == "interactions"
    assert _by_path(humira, "Use in specific populations", "Pregnancy").section_type == "specific populations"
    assert _by_path(humira, "Clinical studies", "Rheumatoid Arthritis").section_type == "results"
    for doc in labels.values():
        for section in doc.sections:
            assert not any(re.match(r"\d+(\.\d+)*\s", part) for part in section.path), section.path


def test_adverse_reaction_tables_become_readable_rows(labels: dict[str, ParsedDocument]) -> None:
    section = _by_path(labels["lipitor-orig"], "Adverse reactions", "Clinical Trial Adverse Experiences")
    assert section.section_type == "adverse reactions"
    row = next(line for line in section.text.split("\n") if line.startswith("Nasopharyngitis"))
    assert row.count(" | ") == 6


def test_interactions_cite_the_interacting_drug(labels: dict[str, ParsedDocument]) -> None:
    viagra = labels["viagra"]
    nitrates = _by_path(viagra, "Drug interactions", "Nitrates")
    assert nitrates.section_type == "interactions" and "nitr" in nitrates.text.lower()
    assert _by_path(labels["lipitor-orig"], "Drug interactions", "Grapefruit Juice").section_type == "interactions"


def test_contraindications_include_title_only_items_and_nested_populations(labels: dict[str, ParsedDocument]) -> None:
    lipitor = labels["lipitor-orig"]
    contra = [s for s in lipitor.sections if s.path[0] == "Contraindications"]
    assert {s.section_type for s in contra} == {"contraindications"}
    assert any(s.text.startswith("Active liver disease") for s in contra)  # 4.1 is only a title
    assert ["Contraindications", "Pregnancy"] in [s.path for s in contra]
    assert _by_path(labels["humira"], "Contraindications").text == "None."


def test_otc_drug_facts_sections(labels: dict[str, ParsedDocument]) -> None:
    cough = labels["cough"]
    expected = {
        ("Purpose",): "indications",
        ("Uses",): "indications",
        ("Warnings", "Do not use"): "contraindications",
        ("Warnings", "Ask a doctor before use if the child has"): "warnings",
        ("Warnings", "Ask a doctor or pharmacist before use if the child is"): "interactions",
        ("Warnings", "When using this product"): "adverse reactions",
        ("Warnings", "Stop use and ask a doctor if"): "warnings",
        ("Directions",): "dosage",
        ("Inactive ingredients",): "other",
    }
    for path, section_type in expected.items():
        assert _by_path(cough, *path).section_type == section_type, path
    assert "marked drowsiness may occur" in _by_path(cough, "Warnings", "When using this product").text


def test_patient_leaflets_split_at_their_questions(labels: dict[str, ParsedDocument]) -> None:
    humira = labels["humira"]
    side_effects = _by_path(humira, "Medication guide", "What are the possible side effects of HUMIRA?")
    assert side_effects.section_type == "adverse reactions"
    assert _by_path(humira, "Medication guide", "How should I take HUMIRA?").section_type == "dosage"
    viagra = labels["viagra"]
    assert _by_path(viagra, "Patient Information", "Who should not take VIAGRA?").section_type == "contraindications"


def test_titles_from_the_label_or_built_from_product_names(labels: dict[str, ParsedDocument]) -> None:
    assert labels["humira"].title == "HUMIRA (adalimumab) injection, for subcutaneous use"
    assert labels["lipitor-orig"].title.startswith("LIPITOR® (atorvastatin calcium)")
    assert labels["no-title"].title == "Haloperidol drug label"
    assert labels["cough"].title == (
        "TRIAMINIC Childrens Night Time Cold and Cough (Diphenhydramine HCl, Phenylephrine HCl) drug label"
    )
    for doc in labels.values():
        assert "highlights do not include" not in doc.title.lower()


def test_product_metadata(labels: dict[str, ParsedDocument]) -> None:
    humira = labels["humira"].metadata
    assert humira["brand_names"] == ["Humira"]
    assert humira["generic_names"] == ["Adalimumab"]
    assert humira["active_ingredients"] == [{"name": "ADALIMUMAB", "unii": "FYS6T7F842"}]
    assert humira["manufacturer"] == "AbbVie Inc."
    assert labels["lipitor-orig"].metadata["manufacturer"] == "Parke-Davis Div of Pfizer Inc"
    cough = labels["cough"].metadata
    assert cough["label_type"] == "human otc drug label"
    assert [a["unii"] for a in cough["active_ingredients"]] == ["TC2D6JAD40", "04JA59TNSJ"]


def test_no_markup_images_or_noise_sections(labels: dict[str, ParsedDocument]) -> None:
    noise = re.compile(r"<[a-z/]|renderMultiMedia|\.jpg|highlights do not include", re.I)
    for name, doc in labels.items():
        for section in doc.sections:
            assert not noise.search(section.text), (name, section.path)
            assert not re.fullmatch(r"LAB-[\d.-]+", section.text), (name, section.path)  # stray print codes
            joined = " ".join(section.path).lower()
            assert "principal display panel" not in joined and "data elements" not in joined
            assert "recent major changes" not in joined and "references" not in joined


def test_boxed_text_nested_in_dosage_keeps_the_dosage_type(labels: dict[str, ParsedDocument]) -> None:
    haloperidol = labels["no-title"]
    adults = _by_path(haloperidol, "Dosage and administration", "Inital Dosage Range", "Adults")
    assert adults.section_type == "dosage" and "Moderate Symptomatology" in adults.text
    assert _by_path(haloperidol, "Boxed warning").section_type == "warnings"


def test_reading_is_deterministic(spl_dir: Path, labels: dict[str, ParsedDocument]) -> None:
    again = next(iter(SplReader().read(spl_dir / "viagra.xml")))
    assert isinstance(again, ParsedDocument)
    assert again.content_hash() == labels["viagra"].content_hash()


def test_sniff(spl_dir: Path, shared_sources: Path) -> None:
    reader = SplReader()
    for name in LABELS:
        path = spl_dir / f"{name}.xml"
        assert reader.sniff(path, path.read_bytes()[:8192])
    pubmed = shared_sources / "pubmed" / "pubmed-29768149.xml"
    assert not reader.sniff(pubmed, pubmed.read_bytes()[:8192])


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b'<document xmlns="urn:hl7-org:v3"><title>x</title>', "malformed XML"),
        (b'<?xml version="1.0"?><PubmedArticleSet/>', "not an SPL drug label"),
        (b'<document xmlns="urn:hl7-org:v3"><setId root="abc"/></document>', "no section text"),
    ],
)
def test_bad_files_raise_reader_error(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "label.xml"
    path.write_bytes(content)
    with pytest.raises(ReaderError, match=reason):
        list(SplReader().read(path))
