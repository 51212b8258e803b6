"""MedlinePlusReader on the real 1,023 MedlinePlus health topic summaries in shared/data/sources/medlineplus."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from medora.sources.readers.base import SECTION_TYPES, ParsedDocument, Skipped
from medora.sources.readers.medlineplus import CREDIT, MedlinePlusReader, heading_type
from medora.sources.readers.registry import detect_reader

TOPICS = "medlineplus/medlineplus-health-topics-2024-06.jsonl"


@pytest.fixture(scope="module")
def topics(shared_sources: Path) -> dict[str, ParsedDocument]:
    items = list(MedlinePlusReader().read(shared_sources / TOPICS))
    assert all(isinstance(i, ParsedDocument) for i in items)
    return {doc.external_id: doc for doc in items}


def test_every_topic_is_one_patient_information_document(topics, shared_sources) -> None:
    assert len(topics) == 1023
    assert sum(len(d.sections) for d in topics.values()) == 2492
    for doc in topics.values():
        assert doc.doc_type == "patient information"
        assert doc.publisher == "MedlinePlus, U.S. National Library of Medicine"
        assert doc.url.startswith("https://medlineplus.gov/") and doc.metadata["attribution"] == CREDIT
        assert {s.section_type for s in doc.sections} <= set(SECTION_TYPES)
        assert all(s.text.strip() for s in doc.sections)
    assert detect_reader(shared_sources / TOPICS).name == "medlineplus"


def test_question_headings_become_typed_sections(topics) -> None:
    gout = topics["gout"]
    assert gout.title == "Gout"
    assert [(s.path, s.section_type) for s in gout.sections] == [
        (["What is gout?"], "definition"),
        (["What causes gout?"], "causes"),
        (["Who is more likely to develop gout?"], "causes"),
        (["What are the symptoms of gout?"], "symptoms"),
        (["How is gout diagnosed?"], "diagnosis"),
        (["What are the treatments for gout?"], "treatment"),
    ]
    assert gout.sections[2].text.split("\n")[:3] == ["Many people develop gout. You are more likely to get it if you:",
                                                    "Are male.", "Are older; it usually develops in middle age."]
    types = Counter(s.section_type for d in topics.values() for s in d.sections)
    assert types["causes"] >= 300 and types["treatment"] >= 200 and types["prevention"] >= 100


def test_text_before_the_first_heading_is_the_definition(topics) -> None:
    a1c = topics["a1c"]
    assert [(s.path, s.section_type) for s in a1c.sections] == [(["Summary"], "definition")]
    assert a1c.sections[0].text.startswith("A1C is a blood test for type 2 diabetes and prediabetes.")


def test_contributing_institute_is_metadata_not_a_statement(topics) -> None:
    assert topics["a1c"].metadata["contributor"] == "NIH: National Institute of Diabetes and Digestive and Kidney Diseases"
    # split over two lines in the source ("...and Skin \nDiseases")
    acne = topics["acne"]
    assert acne.metadata["contributor"] == "NIH: National Institute of Arthritis and Musculoskeletal and Skin Diseases"
    assert acne.sections[-1].text.endswith("Treatments for acne include medicines and creams.")
    with_contributor = [d for d in topics.values() if d.metadata["contributor"]]
    assert len(with_contributor) == 639
    for doc in with_contributor:
        lines = {line for s in doc.sections for line in s.text.split("\n")}
        assert doc.metadata["contributor"] not in lines, doc.external_id
        assert not any(line.startswith("NIH: ") for line in lines), doc.external_id


def test_heading_types_follow_the_medquad_question_types() -> None:
    assert heading_type("Can gout be prevented?") == "prevention"
    assert heading_type("How is gout diagnosed?") == "diagnosis"
    assert heading_type("What are the treatments for gout?") == "treatment"
    assert heading_type("Who is at risk for heart disease?") == "causes"
    assert heading_type("What is gout?") == "definition"


def test_bad_lines_are_one_clear_line_each_and_reading_goes_on(tmp_path) -> None:
    good = {"id": "medlineplus:gout", "title": "Gout", "url": "https://medlineplus.gov/gout.html",
            "text": "What is gout?\nGout is a type of arthritis."}
    lines = [json.dumps(good), json.dumps({"id": "medlineplus:empty", "title": "Empty", "text": ""}),
             "{not json", json.dumps(["a list"]), json.dumps(good)]
    path = tmp_path / "topics.jsonl"
    path.write_text("\n".join(lines) + "\n")
    items = list(MedlinePlusReader().read(path))
    docs = [i for i in items if isinstance(i, ParsedDocument)]
    skipped = [i.reason for i in items if isinstance(i, Skipped)]
    assert [d.external_id for d in docs] == ["gout"]
    assert skipped == [
        "topics.jsonl line 2: no text (a MedlinePlus topic needs 'text')",
        "topics.jsonl line 3: not valid JSON (Expecting property name enclosed in double quotes)",
        "topics.jsonl line 4: a JSON list, not an object",
        "topics.jsonl line 5: repeated id 'gout'",
    ]
