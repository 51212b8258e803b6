"""MedPixReader on the real 671 MedPix 2.0 teaching cases in shared/data/sources/medpix."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from medora.errors import ReaderError
from medora.sources.readers.base import SECTION_TYPES, ParsedDocument, Skipped
from medora.sources.readers.medpix import MedPixReader
from medora.sources.readers.registry import detect_reader
from medora.sources.registry import get_source, select_sources

CASES = "medpix/medpix-2.0-case-topic.json"


@pytest.fixture(scope="module")
def cases(shared_sources: Path) -> dict[str, ParsedDocument]:
    items = list(MedPixReader().read(shared_sources / CASES))
    assert all(isinstance(i, ParsedDocument) for i in items)
    return {doc.external_id: doc for doc in items}


def test_every_case_is_one_case_report(cases, shared_sources) -> None:
    assert len(cases) == 671
    assert sum(len(d.sections) for d in cases.values()) == 4680
    headings = Counter(s.path[0] for d in cases.values() for s in d.sections)
    assert headings["Case diagnosis"] == headings["Disease discussion"] == 671
    assert headings["History"] == 663 and headings["Findings"] == 654 and headings["Differential diagnosis"] == 633
    for doc in cases.values():
        assert doc.doc_type == "case report" and doc.publisher == "MedPix, U.S. National Library of Medicine"
        assert {"acr_code", "category", "topic_title", "case_title"} <= doc.metadata.keys()
        assert {s.section_type for s in doc.sections} <= set(SECTION_TYPES)
        for section in doc.sections:  # placeholders and reference lists are not statements
            assert section.text.strip().upper() not in ("N/A", "NA", "")
            assert "\nRef:" not in section.text and not section.text.startswith("Ref:")
    assert detect_reader(shared_sources / CASES).name == "medpix"


def test_a_known_case(cases) -> None:
    case = cases["MPX1009"]
    assert case.title == "Bladder Diverticulum (MedPix teaching case MPX1009)"
    assert [(s.path, s.section_type) for s in case.sections] == [
        (["History"], "symptoms"),
        (["Findings"], "diagnosis"),
        (["Differential diagnosis"], "diagnosis"),
        (["Case diagnosis"], "diagnosis"),
        (["Disease discussion", "Bladder Diverticulum"], "definition"),
    ]
    assert case.sections[0].text == "73-year-old male with hematuria and numerous white blood cells found on UA"
    discussion = case.sections[-1].text
    assert discussion.startswith("Bladder diverticula most often occur as a result of outlet obstruction.")
    assert discussion.endswith("Bladder diverticula can be evaluated with excretory urography, ultrasound, CT and cystoscopy.")
    assert (case.metadata["topic_title"], case.metadata["case_title"]) == ("Bladder Diverticulum",) * 2
    assert (case.metadata["acr_code"], case.metadata["category"]) == ("8.9", "Diverticulum")
    assert case.metadata["image_ids"] == ["MPX1009_synpic46283", "MPX1009_synpic46295"]


def test_bad_cases_are_one_clear_line_each_and_reading_goes_on(tmp_path) -> None:
    good = {"U_id": "MPX1", "Case": {"Title": "Gout", "History": "Painful toe."}, "Topic": {"Title": "Gout"}}
    path = tmp_path / "cases.json"
    path.write_text(json.dumps([good, "text", {"Case": {"History": "x"}},
                                {"U_id": "MPX2", "Case": {"History": "N/A"}, "Topic": {}}, good]))
    items = list(MedPixReader().read(path))
    assert [i.external_id for i in items if isinstance(i, ParsedDocument)] == ["MPX1"]
    assert [i.reason for i in items if isinstance(i, Skipped)] == [
        "cases.json case 2: a JSON str, not an object",
        "cases.json case 3: no U_id",
        "cases.json case 4: case without any text",
        "cases.json case 5: repeated U_id MPX1",
    ]
    path.write_text(json.dumps({"U_id": "MPX1"}))
    with pytest.raises(ReaderError, match="expected a JSON list of cases"):
        list(MedPixReader().read(path))


def test_medpix_is_opt_in() -> None:
    medpix = get_source("medpix")
    assert medpix.opt_in and "no licence" in medpix.licence_note
    assert "medpix" not in [s.name for s in select_sources((), add_all=True)]
    assert [s.name for s in select_sources((), add_all=True)][-3:] == ["openfda-labels", "openfda-common", "medlineplus"]
    assert "medpix" in [s.name for s in select_sources(("medpix",), add_all=True)]
    assert "medpix" in [s.name for s in select_sources((), add_all=True, include_opt_in=True)]
    assert [s.name for s in select_sources(("medpix",))] == ["medpix"]
