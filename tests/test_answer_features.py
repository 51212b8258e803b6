"""Answers fitted to the reader and framed for safety: audiences, emergencies first, personal details
removed, yes/no verdicts, evidence strength, differences between sources, follow-ups and threads."""

from __future__ import annotations

import json
import sqlite3

import pytest
from conftest import run_cli

from medora.answer.judgements import differences, evidence_strength, polarity, verdict
from medora.models import Citation, Reference, Statement


def ask(db, question, *extra):
    return json.loads(run_cli("ask", question, "--library", str(db), "--format", "json", *extra).stdout)


def _statement(text: str, ref: int) -> Statement:
    return Statement(text=text, citations=[Citation(ref=ref, passage_id=ref, document_id=ref, quote=text,
                                                    start=0, end=len(text))])


def test_polarity_and_verdict_read_the_cited_conclusion():
    assert polarity("Statins reduced the risk of stroke in adults.") == "yes"
    assert polarity("Screening did not reduce mortality.") == "no"
    assert polarity("Whether screening helps older adults remains unclear.") == "unclear"
    assert verdict([_statement("The drug did not improve survival.", 1)]) == "no"
    assert verdict([]) == "unclear"


@pytest.mark.parametrize("conclusion, expected", [
    ("Sonography has no place in the diagnosis of undescended testis.", "no"),
    ("These results suggest little need to use peak concentration in drug monitoring.", "no"),
    ("PPM after AVR does not affect survival in patients aged at least 75 years.", "no"),
    ("The score was not predictive of mortality.", "no"),
    ("Early mobilisation was associated with shorter hospital stay.", "yes"),
    ("Whether the benefit persists remains to be determined.", "unclear"),
    ("The role of the marker has not been established.", "unclear"),
])
def test_polarity_reads_general_conclusion_cues(conclusion, expected):
    assert polarity(conclusion) == expected


def test_verdict_reads_the_whole_bottom_line():
    bottom = [_statement("Completion of the programme improved knowledge.", 1),
              _statement("No alteration in practice was detected; the programme failed to change care.", 1)]
    assert verdict(bottom) == "no"


def test_evidence_strength_follows_the_strongest_label():
    def ref(doc_type, grade=None):
        return Reference(number=1, document_id=1, source="s", title="t", doc_type=doc_type, grade=grade,
                         evidence_label="x")
    assert evidence_strength([ref("guideline", "A"), ref("patient information")]).startswith("High")
    assert evidence_strength([ref("guideline", "I")]).startswith("Insufficient")
    assert evidence_strength([ref("trial")]).startswith("Moderate")
    assert evidence_strength([ref("patient information")]).startswith("Low")


def test_differences_pair_opposite_statements_from_different_sources():
    found = differences([
        _statement("Aspirin reduced the risk of heart attack in older adults.", 1),
        _statement("Aspirin did not reduce the risk of heart attack in older adults.", 2),
        _statement("Aspirin can cause stomach bleeding.", 2),
    ])
    assert len(found) == 1 and found[0].statements == [0, 1]
    assert not differences([_statement("A reduced B in adults.", 1), _statement("A did not reduce B in adults.", 1)])


def test_patient_and_clinician_get_different_framing(full_library):
    db = full_library["path"]
    q = "What are the side effects of atorvastatin?"
    patient, clinician = ask(db, q, "--audience", "patient"), ask(db, q, "--audience", "clinician")
    assert patient["audience"] == "patient" and clinician["audience"] == "clinician"
    assert "talk to your doctor" in patient["disclaimer"].lower()
    assert "health professionals" in clinician["disclaimer"].lower()
    # measured 5.49 (patient) vs 8.44 (clinician): the patient answer is plainer, by more than a grade, and at
    # most grade 8; an answer chosen without the reader in mind (same sentences for both) fails here
    assert patient["scores"]["reading_grade"] <= 8.0
    assert patient["scores"]["reading_grade"] < clinician["scores"]["reading_grade"] - 1.0
    for answer in (patient, clinician):
        assert answer["status"] == "answered" and answer["evidence_strength"]


def test_patient_answer_explains_terms_from_our_glossary(full_library):
    answer = ask(full_library["path"], "What is Graves disease?", "--audience", "patient")
    terms = {g["term"] for g in answer["glossary"]}
    assert terms & {"autoimmune", "thyroid", "hyperthyroidism"}
    ours = [g for g in answer["glossary"] if g["term"] in {"autoimmune", "thyroid", "hyperthyroidism"}]
    assert ours and all(g["source"] == "medora-glossary" for g in ours)
    assert all(g["source"] in ("medora-glossary", "medquad") for g in answer["glossary"])


def test_emergency_notice_comes_first_and_answer_still_follows(full_library):
    answer = ask(full_library["path"], "My father has crushing chest pain and is sweating, what should I do?")
    assert answer["emergency"] and "chest pain" in answer["emergency"]["categories"]
    md = run_cli("ask", "My father has crushing chest pain and is sweating, what should I do?",
                 "--library", str(full_library["path"]), "--format", "markdown").stdout
    assert md.index("Emergency") < md.index("Closest sources" if "Closest sources" in md else "References")
    crisis = ask(full_library["path"], "I want to kill myself tonight")
    assert crisis["emergency"] and any("988" in c["contact"] for c in crisis["emergency"]["crisis"])


def test_informational_question_raises_no_alarm(full_library):
    assert ask(full_library["path"], "What are the symptoms of a stroke?")["emergency"] is None


def test_personal_details_are_removed_before_anything_is_stored(full_library):
    db = full_library["path"]
    answer = ask(db, "My name is Jane Doe, phone 555-123-4567. What are the symptoms of Graves disease?",
                 "--thread", "new")
    assert "Jane" not in answer["question"] and "555-123-4567" not in answer["question"]
    assert answer["notices"] and answer["status"] == "answered"
    con = sqlite3.connect(db)
    stored = " ".join(q for (q,) in con.execute("SELECT question FROM thread_turns"))
    con.close()
    assert "Graves" in stored and "Jane" not in stored and "555-123-4567" not in stored


def test_follow_up_in_a_thread_uses_the_earlier_question(full_library):
    db = full_library["path"]
    first = ask(db, "What is Graves disease?", "--thread", "new")
    follow = ask(db, "How is it treated?", "--thread", first["thread_id"])
    assert follow["thread_id"] == first["thread_id"]
    assert follow["status"] == "answered"
    assert any("graves" in r["title"].lower() for r in follow["references"])
    alone = ask(db, "How is it treated?")
    assert not any("graves" in r["title"].lower() for r in alone.get("references", []) + alone["closest_sources"])


def test_unknown_thread_is_a_clear_error(full_library):
    proc = run_cli("ask", "How is it treated?", "--library", str(full_library["path"]), "--thread", "nope",
                   check=False)
    assert proc.returncode == 2 and "no thread 'nope'" in proc.stderr


def test_follow_up_suggestions_are_questions_the_answer_did_not_cover(full_library):
    answer = ask(full_library["path"], "What are the symptoms of Graves disease?")
    assert 1 <= len(answer["follow_ups"]) <= 3
    assert all(q.endswith("?") for q in answer["follow_ups"])
    assert "What are the symptoms of Graves disease?" not in answer["follow_ups"]


@pytest.fixture(scope="module")
def full_store(full_library):
    from medora.library.sqlite_store import SQLiteStore

    with SQLiteStore(full_library["path"], create=False) as store:
        yield store


def _answer(full_library, store, question):
    from medora.answer.compose import answer_question
    from medora.settings import load_settings

    return answer_question(store, question, load_settings(library=full_library["path"]))


# PubMedQA items whose final_decision is yes or no, each answered from its own abstract's conclusion
# (verdicts correct on the 2026-12 library; a verdict that turns "unclear" or flips fails here).
PUBMEDQA_KNOWN = [
    ("21645374", "Do mitochondria play a role in remodelling lace plant leaves during programmed cell death?", "yes"),
    ("23831910", "Double balloon enteroscopy: is it efficacious and safe in a community setting?", "yes"),
    ("24866606", "Do emergency ultrasound fellowship programs impact emergency medicine residents' ultrasound "
                 "education?", "yes"),
    ("26852225", "Is adjustment for reporting heterogeneity necessary in sleep disorders?", "no"),
    ("22186742", "Does a colonoscopy after acute diverticulitis affect its management?", "no"),
    ("27989969", "Does the Simultaneous Use of a Neuroendoscope Influence the Incidence of Ventriculoperitoneal "
                 "Shunt Infection?", "no"),
    ("23177368", "Does immediate breast reconstruction compromise the delivery of adjuvant chemotherapy?", "no"),
]


@pytest.mark.parametrize("pmid, question, expected", PUBMEDQA_KNOWN, ids=[p[0] for p in PUBMEDQA_KNOWN])
def test_pubmedqa_questions_get_their_known_verdict(full_library, full_store, pmid, question, expected, shared_eval):
    gold = {row["_id"]: row["final_decision"] for row in map(json.loads, open(shared_eval / "pubmedqa-1k" /
                                                                               "queries.jsonl"))}
    assert gold[pmid] == expected  # the label is PubMedQA's own
    answer = _answer(full_library, full_store, question)
    assert answer.status == "answered" and answer.verdict == expected
    own = full_store.db.execute("SELECT id FROM documents WHERE external_id = ?", (pmid,)).fetchone()[0]
    assert answer.bottom_line[0].citations[0].document_id == own  # read from its own abstract


# USPSTF: grade D recommends against (-> "no"), grade A recommends for (-> "yes"); the answer cites that grade.
USPSTF_KNOWN = [
    ("Should adults be screened for thyroid cancer?", "no", "D"),
    ("Should asymptomatic women be screened for ovarian cancer?", "no", "D"),
    ("Should men 70 years and older be screened for prostate cancer?", "no", "D"),
    ("Should asymptomatic adults be screened for COPD?", "no", "D"),
    ("Is screening for colorectal cancer recommended for adults aged 50 to 75?", "yes", "A"),
    ("Should pregnant women be screened for syphilis?", "yes", "A"),
    ("Should adolescents and adults aged 15 to 65 years be screened for HIV?", "yes", "A"),
    ("Should women aged 21 to 65 be screened for cervical cancer?", "yes", "A"),
]


@pytest.mark.parametrize("question, expected, grade", USPSTF_KNOWN, ids=[q[0][:45] for q in USPSTF_KNOWN])
def test_uspstf_graded_recommendations_give_the_right_verdict(full_library, full_store, question, expected, grade):
    answer = _answer(full_library, full_store, question)
    assert answer.status == "answered" and answer.verdict == expected, [s.text for s in answer.bottom_line]
    assert grade in {r.grade for r in answer.references if r.source == "uspstf"}


def test_extractive_statements_are_their_quotes_with_only_list_markers_trimmed(tmp_path):
    """The one documented trim (answer/evidence.trim_sentence): a leading list marker is left out of both
    the statement and its quote; nothing else of the sentence is. Mutation guarded: a statement that drops
    a clause, or a trim that eats words after the marker."""
    from pathlib import Path

    from medora.answer.compose import answer_question
    from medora.answer.evidence import trim_sentence
    from medora.library.ingest import Ingestor
    from medora.library.sqlite_store import SQLiteStore
    from medora.models import Source
    from medora.settings import Settings
    from medora.sources.readers.base import ParsedDocument, ParsedSection

    assert trim_sentence("- Fever is common.", 0, 18) == (2, 18)
    assert trim_sentence("x • Fever is common.", 2, 20) == (4, 20)
    assert trim_sentence("2) Fever is common.", 0, 19) == (3, 19)
    assert trim_sentence("Fever - and chills.", 0, 19) == (0, 19)  # a dash inside a sentence stays

    body = ("Meningitis symptoms in adults come on quickly.\n- Sudden high fever with chills is common in "
            "meningitis.\n- A stiff neck that makes bending the head hard is a meningitis symptom.\n")

    class OneDoc:
        name = "list"

        def sniff(self, path, head):
            return True

        def read(self, path):
            yield ParsedDocument(external_id="m", title="Meningitis", doc_type="patient information",
                                 sections=[ParsedSection(["Symptoms"], body, "symptoms")])

    path = tmp_path / "lib.db"
    with SQLiteStore(path) as store:
        Ingestor(store, Source(name="test")).run([(Path("mem"), OneDoc())])
        answer = answer_question(store, "What are the symptoms of meningitis?", Settings(library=path))
        passages = store.passages([c.passage_id for s in answer.statements() for c in s.citations])
    assert answer.status == "answered"
    trimmed = []
    for s in answer.statements():
        [c] = s.citations
        passage = passages[c.passage_id]
        assert s.text == c.quote == passage.text[c.start:c.end]
        [(a, b)] = [(a, b) for a, b in passage.sentences if a <= c.start < b]
        assert c.end == b  # nothing is cut from the end of a sentence
        if c.start != a:
            assert passage.text[a:c.start] == "- "  # only the list marker was left out
            trimmed.append(s.text)
    assert sorted(trimmed) == ["A stiff neck that makes bending the head hard is a meningitis symptom.",
                               "Sudden high fever with chills is common in meningitis."]
