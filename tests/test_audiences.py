"""Audiences over the real shared library: patients and caregivers get plainer quotes and their own
framing, students get precise terms defined with "what it is" first, clinicians keep precise terms."""

from __future__ import annotations

import sqlite3
import statistics

import pytest

from medora.answer import compose
from medora.answer.audience import (
    TextCounts,
    answer_grade,
    glossary_for,
    profile,
    reading_grade,
    text_counts,
)
from medora.answer.compose import answer_question
from medora.answer.evidence import PLAIN_TARGET_GRADE, readability_penalty, too_hard
from medora.library.sqlite_store import SQLiteStore
from medora.models import Citation, Reference, Statement
from medora.settings import Settings

# (2026-12-06: "How is Graves disease treated?" left the set: its routed evidence is one page's treatment section,
# quoted alike for every reader, so it no longer tests audience fitting; "What is Graves disease?" took its place.)
QUESTIONS = ["What is Graves disease?", "What are the symptoms of meningitis?", "How is asthma treated?",
             "What is high blood pressure?", "How can I help my mother with Alzheimer's disease?"]


@pytest.fixture(scope="module")
def answers(full_library):
    store = SQLiteStore(full_library["path"], create=False)
    settings = Settings(library=full_library["path"])
    out = {(q, a): answer_question(store, q, settings, audience=a)
           for q in QUESTIONS for a in ("patient", "caregiver", "student", "clinician")}
    yield out
    store.close()


def _texts(answer) -> set[str]:
    return {s.text for s in answer.statements()}


# Patient answers that read above grade 8 as first selected, and can be brought to 8 (re-picked on 2026-12-06
# twice: for the frame-anchored composer, then for fitted selection and quotable lists, which made the hepatitis C
# and allopurinol answers read plainer as first selected; now 8.72, 9.52 and 11.38 before fitting).
ABOVE_8 = ["What is celiac disease?", "How is endometriosis treated?", "What are the symptoms of epilepsy?"]
OUT_OF_REACH = "What is metformin?"  # its (combination) labels' routed sentences all read above grade 8 (15.3)


@pytest.fixture(scope="module")
def fitted_and_not(full_library):
    """Answers with the grade fitting and, for comparison, as first selected (fitting switched off)."""
    store = SQLiteStore(full_library["path"], create=False)
    settings = Settings(library=full_library["path"])
    cases = [(q, a) for q in ABOVE_8 for a in ("patient", "caregiver", "clinician")] + [(OUT_OF_REACH, "patient")]
    fitted = {case: answer_question(store, case[0], settings, audience=case[1]) for case in cases}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(compose, "fit_reading_grade", lambda bottom, sections, spare: (bottom, sections))
        selected = {case: answer_question(store, case[0], settings, audience=case[1]) for case in cases}
    yield fitted, selected
    store.close()


def test_patient_answers_read_at_grade_8_and_stay_quotes(answers, full_library):
    patient = [answers[(q, "patient")] for q in QUESTIONS]
    clinician = [answers[(q, "clinician")] for q in QUESTIONS]
    assert all(a.status == "answered" for a in patient + clinician)
    assert statistics.median(a.scores["reading_grade"] for a in patient) <= 8.0
    assert all(p.scores["reading_grade"] < c.scores["reading_grade"] for p, c in zip(patient, clinician))
    con = sqlite3.connect(full_library["path"])
    for answer in patient:
        for s in answer.statements():
            c = s.citations[0]
            (text,) = con.execute("SELECT text FROM passages WHERE id = ?", (c.passage_id,)).fetchone()
            assert c.quote == text[c.start:c.end] == s.text
    con.close()


def test_plain_answers_are_fitted_to_grade_8_without_losing_their_lead(fitted_and_not, full_library):
    fitted, selected = fitted_and_not
    con = sqlite3.connect(full_library["path"])
    for q in ABOVE_8:
        before, after = selected[(q, "patient")], fitted[(q, "patient")]
        assert before.scores["reading_grade"] > PLAIN_TARGET_GRADE >= after.scores["reading_grade"]
        assert after.status == "answered" and after.bottom_line[0].text == before.bottom_line[0].text
        assert after.scores["reading_grade"] == round(answer_grade([s.text for s in after.statements()]), 2)
        for s in after.statements():  # still exact quotes of the cited passages
            c = s.citations[0]
            (text,) = con.execute("SELECT text FROM passages WHERE id = ?", (c.passage_id,)).fetchone()
            assert c.quote == text[c.start:c.end] == s.text
        assert fitted[(q, "caregiver")].scores["reading_grade"] <= PLAIN_TARGET_GRADE
        assert _texts(fitted[(q, "clinician")]) == _texts(selected[(q, "clinician")])  # precise readers: untouched
    con.close()


def test_nothing_is_given_up_when_grade_8_is_out_of_reach(fitted_and_not):
    fitted, selected = fitted_and_not
    after, before = fitted[(OUT_OF_REACH, "patient")], selected[(OUT_OF_REACH, "patient")]
    assert after.scores["reading_grade"] > PLAIN_TARGET_GRADE
    assert [s.text for s in after.statements()] == [s.text for s in before.statements()]


def test_what_we_write_for_plain_readers_reads_at_grade_8():
    for name in ("patient", "caregiver"):
        prof = profile(name)
        assert reading_grade(prof.disclaimer) <= PLAIN_TARGET_GRADE
        assert not prof.emergency_note or reading_grade(prof.emergency_note) <= PLAIN_TARGET_GRADE
        assert all(reading_grade(h + ".") <= PLAIN_TARGET_GRADE for h in prof.headings.values())


def test_answer_grade_reads_each_statement_as_its_own_sentence():
    items = ["Your doctor will check how your kidneys work", "Bring a list of the medicines you take",
             "Ask when the results will be ready."]
    joined = reading_grade(" ".join(items))
    assert answer_grade(items) == reading_grade("Your doctor will check how your kidneys work. Bring a list of "
                                                "the medicines you take. Ask when the results will be ready.")
    assert answer_grade(items) < joined  # run together, the list items would read as one long sentence
    counts = sum((text_counts(t) for t in items), TextCounts(0, 0, 0))
    assert counts.grade == pytest.approx(answer_grade(items))  # the counts add up to textstat's grade
    assert answer_grade([]) == 0.0


# Questions whose caregiver answers had a "symptoms" section on 2026-12-06 (none of QUESTIONS has one: their
# symptoms go to the bottom line), so the caregiver's symptoms heading is really checked.
WITH_SYMPTOMS = ["What is meningitis?", "What is gout?", "What is Lyme disease?", "What is asthma?"]


def test_caregiver_answers_are_framed_for_someone_caring_for_another(answers, full_library):
    store = SQLiteStore(full_library["path"], create=False)
    settings = Settings(library=full_library["path"])
    extra = {(q, a): answer_question(store, q, settings, audience=a)
             for q in WITH_SYMPTOMS for a in ("patient", "caregiver")}
    store.close()
    framed = {"symptoms": "person you care for", "seek_care": "person you care for", "treatment": "how you can help"}
    checked = {key: 0 for key in framed}
    for q in QUESTIONS + WITH_SYMPTOMS:
        patient, caregiver = (answers | extra)[(q, "patient")], (answers | extra)[(q, "caregiver")]
        assert "person you care for" in caregiver.disclaimer and "person you care for" not in patient.disclaimer
        plain = {s.key: s.heading for s in patient.sections}
        for section in caregiver.sections:
            if section.key in framed:
                assert framed[section.key] in section.heading, (q, section.key, section.heading)
                assert plain.get(section.key) != section.heading  # the patient variant is worded for the reader
                checked[section.key] += 1
    assert all(checked.values()), checked  # every caregiver heading was really reached
    differing = [q for q in QUESTIONS if _texts(answers[(q, "patient")]) != _texts(answers[(q, "caregiver")])]
    assert len(differing) >= 2  # caregivers get sentences about helping someone where the sources have them


def test_students_get_what_it_is_first_and_precise_definitions(answers):
    student, clinician = answers[("How is asthma treated?", "student")], \
        answers[("How is asthma treated?", "clinician")]
    assert student.sections[0].key == "definition" and clinician.sections[0].key == "treatment"
    defined = {g.term: g.explanation for g in answers[("What is Graves disease?", "student")].glossary}
    assert "autoimmune" in defined and "antigen" in defined["autoimmune"]  # the technical sense
    assert clinician.glossary == [] and "health professionals" in clinician.disclaimer
    assert "learning" in student.disclaimer


def test_patients_get_plain_explanations_and_other_names_from_the_sources(answers):
    patient = answers[("What is Graves disease?", "patient")]
    entries = {g.term.lower(): g for g in patient.glossary}
    assert entries["hyperthyroidism"].explanation == "an overactive thyroid gland"
    named = [g for g in patient.glossary if g.source == "medquad"]
    assert named and all(g.explanation.startswith("also called ") for g in named)


def test_readability_penalty_and_ceiling():
    easy = "Asthma is a long-term disease that has no cure."
    hard = ("Available treatments mainly focus on alleviating symptoms and may include corticosteroids, "
            "intravenous immunoglobulin, plasmapheresis, immunosuppressive medications, rituximab, "
            "cyclophosphamide, azathioprine, mycophenolate mofetil, methotrexate and tacrolimus therapy.")
    assert readability_penalty(easy) == 0.0 < readability_penalty(hard)
    assert too_hard(hard) and not too_hard(easy)
    assert reading_grade(hard) > reading_grade(easy)


def test_glossary_takes_explanations_the_quoted_source_gives():
    text = "Symptoms may include development of cataracts (clouding of the eye lens) and steroids (such as prednisone)."
    st = Statement(text=text, citations=[Citation(ref=1, passage_id=1, document_id=7, quote=text, start=0,
                                                  end=len(text))])
    ref = Reference(number=1, document_id=7, source="medquad", title="Some syndrome", evidence_label="x",
                    doc_type="patient information")
    entries = glossary_for([st], "plain", [ref], {7: ["Other name"]})
    by_term = {g.term: g for g in entries}
    assert by_term["cataracts"].explanation == "clouding of the eye lens" and by_term["cataracts"].source == "medquad"
    # "(such as prednisone)" gives examples, not a meaning: steroids keeps our own plain explanation, and a
    # term our glossary lacks gets none from its examples
    assert (by_term["steroids"].explanation, by_term["steroids"].source) == (
        "medicines that calm swelling and the immune system", "medora-glossary")
    assert all("prednisone" not in g.explanation for g in entries)
    text2 = "Seizures are treated with anticonvulsants (such as phenytoin or valproate) in most people."
    st2 = Statement(text=text2, citations=[Citation(ref=1, passage_id=2, document_id=7, quote=text2, start=0,
                                                    end=len(text2))])
    assert "anticonvulsants" not in {g.term for g in glossary_for([st2], "plain", [ref])}
    assert by_term["Some syndrome"].explanation == "also called Other name"
    assert glossary_for([st], profile("clinician").glossary) == []


def test_emergency_notice_is_framed_for_each_reader(full_library):
    store = SQLiteStore(full_library["path"], create=False)
    settings = Settings(library=full_library["path"])
    question = "My father has crushing chest pain and is sweating, what should I do?"
    notices = {a: answer_question(store, question, settings, audience=a).emergency.notice for a in
               ("patient", "caregiver", "student", "clinician")}
    store.close()
    assert all(n.startswith("This may be an emergency.") for n in notices.values())
    assert "person you care for" in notices["caregiver"] and "protocol" in notices["clinician"]
    assert "supervising clinician" in notices["student"] and len(set(notices.values())) == 4
