"""Acceptance for the core: all shared sources in one command, idempotence, crash safety, cited answers."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import run_cli

from medora.library.sqlite_store import SQLiteStore

EXPECTED_DOCUMENTS = {"medquad": 5490, "uspstf": 233, "pubmedqa": 1000, "dailymed": 5, "pubmed": 1, "pmc": 5,
                      "openfda-labels": 363, "openfda-common": 88, "medlineplus": 1023}  # medpix is opt-in


def _count(db: Path, sql: str, *args):
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, args).fetchone()[0]
    finally:
        con.close()


def test_one_command_adds_every_shared_source_with_expected_counts(full_library, shared_eval):
    report, db = full_library["report"], full_library["path"]
    assert "medpix" not in report  # --all leaves the opt-in source out
    for name, expected in EXPECTED_DOCUMENTS.items():
        assert report[name]["documents"]["added"] == expected, name
        assert report[name]["documents"]["rejected_files"] == 0, name
    # MedQuAD: every answered pair is a section; 16,407 in the standard layout (exactly the eval corpus ids)
    # plus 16 from four NINDS files in MedQuAD's older tag layout.
    qa_ids = set()
    con = sqlite3.connect(db)
    for (meta,) in con.execute(
        "SELECT d.metadata FROM documents d JOIN sources s ON s.id = d.source_id WHERE s.name = 'medquad'"
    ):
        qa_ids.update(json.loads(meta)["qa_ids"])
    con.close()
    assert len(qa_ids) == 16423
    corpus_ids = {json.loads(line)["_id"] for line in open(shared_eval / "medquad-qa-1k" / "corpus.jsonl")}
    assert len(corpus_ids) == 16407 and corpus_ids <= qa_ids
    assert report["medquad"]["skipped"]["answer removed upstream (MedQuAD licence)"] == 31029
    # USPSTF: 90 topics and 143 graded specific recommendations.
    assert _count(db, "SELECT COUNT(*) FROM documents d JOIN sources s ON s.id=d.source_id "
                      "WHERE s.name='uspstf' AND d.grade IN ('A','B','C','D','I')") == 143
    with SQLiteStore(db, create=False) as store:
        stats = store.stats()
        assert stats["documents"] == sum(EXPECTED_DOCUMENTS.values())
        assert store.integrity_check() == "ok"
        licences = {s["name"]: s for s in store.sources()}
    assert "CC BY 4.0" in licences["medquad"]["license"]
    assert "Ben Abacha" in licences["medquad"]["attribution"]


def test_second_run_reports_everything_unchanged_quickly(full_library, shared_sources):
    started = time.perf_counter()
    proc = run_cli("library", "add", "--all", "--from", str(shared_sources), "--library", str(full_library["path"]),
                   "--format", "json", "-q")
    seconds = time.perf_counter() - started
    report = json.loads(proc.stdout)
    for name, expected in EXPECTED_DOCUMENTS.items():
        docs = report[name]["documents"]
        assert (docs["added"], docs["updated"], docs["unchanged"]) == (0, 0, expected), name
    assert seconds < 0.25 * full_library["seconds"], (seconds, full_library["seconds"])


def test_sigkill_mid_ingestion_leaves_a_sound_library_that_resumes(tmp_path, shared_sources):
    db = tmp_path / "killed.db"
    exe = Path(sys.executable).with_name("medora")
    cmd = [str(exe), "library", "add", "medquad", "--from", str(shared_sources), "--library", str(db), "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    stored = 0
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
        try:
            stored = _count(db, "SELECT COUNT(*) FROM documents")
        except sqlite3.Error:
            continue
        if stored >= 1000:
            break
    assert proc.poll() is None, "ingestion finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 0 < stored < EXPECTED_DOCUMENTS["medquad"]
    with SQLiteStore(db, create=False) as store:
        assert store.integrity_check() == "ok"
        partial = store.stats()["documents"]
    report = json.loads(run_cli("library", "add", "medquad", "--from", str(shared_sources), "--library", str(db),
                                "--format", "json", "-q").stdout)["medquad"]["documents"]
    assert report["unchanged"] == partial and report["added"] == EXPECTED_DOCUMENTS["medquad"] - partial
    with SQLiteStore(db, create=False) as store:
        assert store.stats()["documents"] == EXPECTED_DOCUMENTS["medquad"]
        assert store.integrity_check() == "ok"


# (question, words the cited document title must contain, section type one citation must have or None)
QUESTIONS = [
    ("What are the symptoms of Graves disease?", ["graves"], "symptoms"),
    ("What causes Tourette syndrome?", ["tourette"], "causes"),
    ("What are the treatments for Catecholaminergic polymorphic ventricular tachycardia?",
     ["catecholaminergic"], "treatment"),
    ("Is Graves disease inherited?", ["graves"], "inheritance"),
    ("How is Paget's disease of bone diagnosed?", ["paget"], "diagnosis"),
    ("What is the outlook for adult acute lymphoblastic leukemia?", ["adult", "lymphoblastic"], "outlook"),
    ("Should adults aged 50 to 75 be screened for colorectal cancer?", ["colorectal cancer", "50 to 75"],
     "recommendation"),
    ("Should adults be screened for high blood pressure?", ["hypertension", "screening"], None),
    ("What are the side effects of atorvastatin?", ["lipitor"], "adverse reactions"),
    ("What are the side effects of Humira?", ["humira"], "adverse reactions"),
    ("Can I take sildenafil with nitrates?", ["viagra"], None),
    ("What is the dose of adalimumab for rheumatoid arthritis?", ["humira"], "dosage"),
    ("Do mitochondria play a role in remodelling lace plant leaves during programmed cell death?",
     ["mitochondria", "lace plant"], None),
]


def _ask_json(db: Path, question: str) -> dict:
    return json.loads(run_cli("ask", question, "--library", str(db), "--format", "json").stdout)


@pytest.mark.parametrize("question,title_words,section_type", QUESTIONS, ids=[q[0][:40] for q in QUESTIONS])
def test_ask_cites_passages_that_say_each_statement(full_library, question, title_words, section_type):
    db = full_library["path"]
    answer = _ask_json(db, question)
    assert answer["schema"] == "medora.answer/1"
    assert answer["status"] == "answered", answer.get("message")
    statements = answer["bottom_line"] + [s for sec in answer["sections"] for s in sec["statements"]]
    assert answer["bottom_line"] and len(statements) >= 3
    refs = {r["number"]: r for r in answer["references"]}
    assert sorted(refs) == list(range(1, len(refs) + 1))
    with SQLiteStore(db, create=False) as store:
        passages = store.passages([c["passage_id"] for s in statements for c in s["citations"]])
        cited_types = set()
        for st in statements:
            assert st["citations"], st
            for c in st["citations"]:
                assert c["ref"] in refs and refs[c["ref"]]["document_id"] == c["document_id"]
                p = passages[c["passage_id"]]
                assert p.document_id == c["document_id"]
                assert p.text[c["start"]:c["end"]] == c["quote"]
                assert st["text"] == c["quote"]  # extractive: the statement IS its quote
                cited_types.add((refs[c["ref"]]["title"].lower(), p.section_type))
    titles = [t for t, _ in cited_types]
    assert any(all(w in t for w in title_words) for t in titles), titles
    if section_type:
        assert any(all(w in t for w in title_words) and st == section_type for t, st in cited_types), cited_types
    assert answer["timings_ms"]["total"] > 0 and "retrieve" in answer["timings_ms"]


@pytest.mark.parametrize("question", [
    "How do I replace the timing belt on a 2004 Honda Civic?",
    "What is the capital of Mongolia?",
])
def test_question_outside_the_library_gets_not_enough_evidence(full_library, question):
    answer = _ask_json(full_library["path"], question)
    assert answer["status"] == "insufficient_evidence"
    assert answer["bottom_line"] == [] and answer["sections"] == [] and answer["references"] == []
    assert "not hold enough evidence" in answer["message"]
