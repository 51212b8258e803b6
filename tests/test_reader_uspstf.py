"""USPSTF reader, on the real Prevention TaskForce API file in shared/data."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from medora.errors import ReaderError
from medora.sources.readers.base import SECTION_TYPES, ParsedDocument
from medora.sources.readers.uspstf import UspstfReader, html_sections

MARKUP = re.compile(r"<[A-Za-z/!][^>]*>|&[A-Za-z]+;|&#x?[0-9A-Fa-f]+;")


@pytest.fixture(scope="module")
def api_file(shared_sources: Path) -> Path:
    return shared_sources / "uspstf" / "prevention-taskforce-api-2024-05-02.json"


@pytest.fixture(scope="module")
def docs(api_file: Path) -> list[ParsedDocument]:
    output = list(UspstfReader().read(api_file))
    assert all(isinstance(d, ParsedDocument) for d in output), "nothing in the real file is skipped"
    return output  # type: ignore[return-value]


@pytest.fixture(scope="module")
def topics(docs: list[ParsedDocument]) -> dict[str, ParsedDocument]:
    return {d.metadata["topic_id"]: d for d in docs if d.metadata["kind"] == "topic"}


@pytest.fixture(scope="module")
def recs(docs: list[ParsedDocument]) -> dict[str, ParsedDocument]:
    return {d.metadata["recommendation_id"]: d for d in docs if d.metadata["kind"] == "specific recommendation"}


def test_counts(docs: list[ParsedDocument], topics: dict[str, ParsedDocument], recs: dict[str, ParsedDocument]) -> None:
    assert (len(topics), len(recs), len(docs)) == (90, 143, 233)
    assert len({d.external_id for d in docs}) == 233
    assert sum(len(t.sections) for t in topics.values()) > 1500


def test_every_recommendation_is_graded(recs: dict[str, ParsedDocument]) -> None:
    assert Counter(r.grade for r in recs.values()) == {"I": 58, "B": 40, "D": 23, "A": 14, "C": 8}
    for rec in recs.values():
        assert rec.metadata["grade_meaning"].startswith("The USPSTF")
        assert (rec.doc_type, rec.publisher) == ("guideline", "U.S. Preventive Services Task Force")
    assert recs["426"].metadata["grade_meaning"] == (
        "The USPSTF recommends the service. There is high certainty that the net benefit is substantial."
    )


def test_recommendations_tie_to_their_topics(
    topics: dict[str, ParsedDocument], recs: dict[str, ParsedDocument]
) -> None:
    listed = [rec_id for t in topics.values() for rec_id in t.metadata["specific_ids"]]
    assert sorted(listed) == sorted(recs)
    for rec_id, rec in recs.items():
        topic = topics[rec.metadata["topic_id"]]
        assert rec_id in topic.metadata["specific_ids"]
        assert rec.metadata["topic_external_id"] == topic.external_id
        assert rec.metadata["topic_title"] == topic.title
        assert (rec.year, rec.url) == (topic.year, topic.url)
        assert rec.year is not None and rec.url


def test_recommendation_statement_reads_as_a_citation(recs: dict[str, ParsedDocument]) -> None:
    for rec in recs.values():
        statement = rec.sections[0]
        assert (statement.path, statement.section_type) == (["Recommendation"], "recommendation")
        assert "See the" not in statement.text  # cross-references to other page sections are dropped
    assert sum(r.sections[0].text.startswith("The USPSTF") for r in recs.values()) >= 140
    cervical = recs["426"]
    assert cervical.title == "Cervical Cancer: Screening -- Women aged 21 to 65 years"
    assert cervical.sections[0].text.startswith("The USPSTF recommends screening for cervical cancer every 3 years")
    assert cervical.metadata["population"] == "Women aged 21 to 65 years"
    assert (cervical.metadata["sex"], cervical.metadata["age_range"]) == ("female", [21, 65])
    assert [s.path[0] for s in cervical.sections] == ["Recommendation", "Service frequency", "Risk assessment"]
    assert recs["2020"].metadata["risks"] == ["Pregnant"]


def test_topic_document(topics: dict[str, ParsedDocument]) -> None:
    topic = topics["389"]
    assert topic.title == "Cervical Cancer: Screening"
    assert topic.url == "https://www.uspreventiveservicestaskforce.org/uspstf/recommendation/cervical-cancer-screening"
    assert (topic.year, topic.doc_type, topic.grade) == (2018, "guideline", None)
    assert topic.metadata["categories"] == ["Cancer"]
    by_path = {tuple(s.path): s for s in topic.sections}
    assert by_path[("Clinical Considerations", "Screening Tests")].section_type == "screening"
    assert by_path[("Clinical Considerations", "Assessment of Risk")].section_type == "causes"
    assert by_path[("Rationale", "USPSTF Assessment")].section_type == "recommendation"
    assert by_path[("Discussion", "Burden of Disease")].section_type == "background"
    assert ("Recommendations of Others",) in by_path


def test_section_text_is_plain(docs: list[ParsedDocument]) -> None:
    for doc in docs:
        assert not MARKUP.search(doc.title)
        for section in doc.sections:
            assert section.section_type in SECTION_TYPES
            assert section.text and not MARKUP.search(section.text), (doc.external_id, section.path)
            assert not any(p.startswith(("Table", "Figure")) for p in section.path)


def test_reference_numbers_are_dropped(recs: dict[str, ParsedDocument]) -> None:
    risk = recs["1928"].sections[-1].text
    assert "45 years or older. Rates of colorectal cancer" in risk
    assert "Alaskan Native adults, persons with a family history" in risk


def test_html_sections() -> None:
    fragment = (
        "<h2>Rationale</h2><p>Intro&nbsp;text.<sup>1,2</sup></p>"
        "<h3>Detection</h3><p>Tests find it.</p><table><tr><td>9</td></tr></table>"
        "<ul><li>One</li><li>Two &ndash; more</li></ul><h3>Harms</h3><!-- note --><p>Few.</p>"
    )
    assert html_sections(fragment) == [
        (["Rationale"], "Intro text."),
        (["Rationale", "Detection"], "Tests find it.\nOne\nTwo \u2013 more"),
        (["Rationale", "Harms"], "Few."),
    ]
    assert html_sections("   ") == []


def test_sniff(api_file: Path, tmp_path: Path) -> None:
    reader = UspstfReader()
    assert reader.sniff(api_file, api_file.read_bytes()[:8192])
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"recommendations": [{"id": 1, "grade": "A"}]}))
    assert not reader.sniff(other, other.read_bytes())
    with pytest.raises(ReaderError, match="not a USPSTF Prevention TaskForce API file"):
        list(reader.read(other))


def test_bad_json_raises(tmp_path: Path) -> None:
    bad = tmp_path / "uspstf.json"
    bad.write_text('{"specificRecommendations": [\n  {"id": 1,}\n]}')
    with pytest.raises(ReaderError, match=r"invalid JSON at line 2, column 12"):
        list(UspstfReader().read(bad))
