"""Acceptance: the four label, topic and case sources added by name from ../shared/data/sources, twice."""

from __future__ import annotations

import json
import sqlite3

import pytest
from conftest import run_cli

NEW_SOURCES = ("openfda-labels", "openfda-common", "medlineplus", "medpix")
DOCUMENTS = {"openfda-labels": 363, "openfda-common": 88, "medlineplus": 1023, "medpix": 671}
SECTION_TYPES_PRESENT = {
    "openfda-labels": {"dosage", "contraindications", "warnings", "adverse reactions", "interactions",
                       "specific populations", "indications", "patient counseling"},
    "medlineplus": {"definition", "causes", "symptoms", "diagnosis", "treatment", "prevention"},
    "medpix": {"symptoms", "diagnosis", "definition"},
}


@pytest.fixture(scope="module")
def added(tmp_path_factory, shared_sources):
    db = tmp_path_factory.mktemp("new-sources") / "library.db"
    proc = run_cli("library", "add", *NEW_SOURCES, "--from", str(shared_sources), "--library", str(db),
                   "--format", "json", "-q", "--no-embed")
    return db, json.loads(proc.stdout), proc.stderr


def test_named_sources_add_with_checked_counts(added) -> None:
    db, report, stderr = added
    assert set(report) == set(NEW_SOURCES)
    for name, expected in DOCUMENTS.items():
        assert report[name]["documents"]["added"] == expected, name
        assert report[name]["documents"]["rejected_files"] == 0, name
    assert report["openfda-labels"]["skipped"]["JSON file that is not an openFDA label response"] == 1
    # the opt-in source says why it is opt-in
    assert "note: medpix: MedPix states no licence" in stderr
    con = sqlite3.connect(db)
    try:
        rows = con.execute(
            "SELECT s.name, d.doc_type, COUNT(DISTINCT d.id), COUNT(p.id) FROM documents d "
            "JOIN sources s ON s.id = d.source_id JOIN passages p ON p.document_id = d.id GROUP BY s.name, d.doc_type"
        ).fetchall()
        types = {}
        for name, section_type in con.execute(
            "SELECT DISTINCT s.name, p.section_type FROM passages p JOIN documents d ON d.id = p.document_id "
            "JOIN sources s ON s.id = d.source_id"
        ):
            types.setdefault(name, set()).add(section_type)
        leftovers = con.execute(
            "SELECT COUNT(*) FROM passages p JOIN documents d ON d.id = p.document_id JOIN sources s "
            "ON s.id = d.source_id WHERE s.name LIKE 'openfda%' AND (p.text LIKE '%( 2.1 )%' OR p.text LIKE '%[see %')"
        ).fetchone()[0]
    finally:
        con.close()
    by_source = {name: (doc_type, docs, passages) for name, doc_type, docs, passages in rows}
    assert by_source["openfda-labels"][:2] == ("drug label", 363) and by_source["openfda-labels"][2] > 25000
    assert by_source["openfda-common"][:2] == ("drug label", 88) and by_source["openfda-common"][2] > 3000
    assert by_source["medlineplus"][:2] == ("patient information", 1023) and by_source["medlineplus"][2] > 2400
    assert by_source["medpix"][:2] == ("case report", 671) and by_source["medpix"][2] > 4600
    for name, wanted in SECTION_TYPES_PRESENT.items():
        assert wanted <= types[name], (name, wanted - types[name])
    assert leftovers == 0


def test_second_run_is_all_unchanged(added, shared_sources) -> None:
    db, _, _ = added
    proc = run_cli("library", "add", *NEW_SOURCES, "--from", str(shared_sources), "--library", str(db),
                   "--format", "json", "-q", "--no-embed")
    report = json.loads(proc.stdout)
    for name, expected in DOCUMENTS.items():
        docs = report[name]["documents"]
        assert (docs["added"], docs["updated"], docs["unchanged"], docs["retired"]) == (0, 0, expected, 0), name
        assert report[name]["passages_written"] == 0


def test_known_lists_the_new_sources_with_licence(added) -> None:
    known = {s["name"]: s for s in json.loads(run_cli("library", "known", "--format", "json").stdout)}
    assert set(NEW_SOURCES) <= known.keys()
    assert known["medpix"]["opt_in"] and not known["medlineplus"]["opt_in"]
    assert "Courtesy of MedlinePlus" in known["medlineplus"]["attribution"]
    sources = {s["name"]: s for s in json.loads(
        run_cli("library", "sources", "--library", str(added[0]), "--format", "json").stdout)}
    assert sources["openfda-labels"]["documents"] == 363 and "Public domain" in sources["openfda-labels"]["license"]
