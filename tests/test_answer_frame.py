"""The question frame and what it steers: aspect rules, population and form; section routes;
statement hygiene; stances (verdicts) that must rest on a sentence about the question asked; and
"where sources differ" only between statements about the focus."""

from __future__ import annotations

import pytest

from medora.answer.anchor import route_tier
from medora.answer.aspect import classify_aspect, population_of, rule_aspect
from medora.answer.evidence import Candidate
from medora.answer.frame import QuestionFrame, form_of
from medora.answer.judgements import differences
from medora.answer.select import ASPECT_CUES, answers_frame, bottom_line, clean_statement
from medora.answer.stance import NOT_DIRECT, question_age, take_stance
from medora.models import Citation, Document, Passage, SearchHit, Statement
from medora.retrieve.concepts import ConceptMatch


@pytest.mark.parametrize("question, aspect", [
    ("What is the maximum dose of citalopram?", "max_dose"),
    ("whats the most glipizide someone can take in a day", "max_dose"),
    ("What is the black box warning on Reglan?", "warnings"),
    ("Is Lexapro better than Zoloft?", "comparison"),
    ("Can I take codeine while breastfeeding my newborn?", "breastfeeding"),
    ("Can I stay on Depakote if I get pregnant?", "pregnancy"),
    ("When should I start getting mammograms?", "screening"),
])
def test_rules_decide_the_aspects_no_labelled_data_covers(question, aspect):
    assert rule_aspect(question) == aspect
    assert classify_aspect(question, "drug" if aspect not in ("screening",) else "condition", None).aspect == aspect


def test_population_words_move_a_generic_drug_aspect():
    assert population_of("Can a 6-week-old baby be given Bactrim?") == ("children",)
    assert "older adults" in population_of("Should older adults take aspirin?")
    guess = classify_aspect("Can a 6-week-old baby be given Bactrim for an infection?", "drug", None)
    assert guess.aspect == "children" and guess.source == "rule"
    # A pregnancy word in a screening question does not make it a drug-in-pregnancy question.
    assert classify_aspect("When should a pregnant woman be tested for hep B?", "condition", None).aspect == "screening"


def test_learned_aspect_is_used_when_no_rule_applies():
    from medora.answer.aspect import model_id
    from medora.answer.semantic import aspect_vector as question_vector

    assert model_id(), "the aspect model ships in answer/data/aspect_model.npz"
    assert classify_aspect("What are the side effects of atorvastatin?", "drug", question_vector).aspect == "side_effects"
    guess = classify_aspect("What are the symptoms of Graves disease?", "condition", question_vector)
    assert (guess.aspect, guess.source) == ("symptoms", "model")
    assert classify_aspect("How is Fabry disease treated?", "condition", question_vector).aspect == "treatment"


@pytest.mark.parametrize("question, form", [
    ("Should I get checked for diabetes?", "yes_no"),
    ("How much folic acid should I take each day?", "how_much"),
    ("At what age should kids have a vision screening?", "when"),
    ("Which women should get a bone density test?", "which"),
    ("How do doctors test for celiac disease?", "how"),
    ("What causes shingles?", "what"),
])
def test_form_of_a_question(question, form):
    assert form_of(question) == form


def _passage(pid: int, path: list[str], section_type: str | None, text: str, doc_id: int = 1) -> Passage:
    return Passage(id=pid, document_id=doc_id, ordinal=pid, section_path=path, section_type=section_type, text=text,
                   sentences=[(0, len(text))])


def test_aspects_route_to_the_sections_that_answer_them():
    dosage = _passage(1, ["Dosage and administration"], "dosage", "Take 20 mg once daily.")
    boxed = _passage(2, ["Boxed warning"], "warnings", "Fetal harm.")
    lactation = _passage(3, ["Use in specific populations", "Lactation"], "specific populations", "x")
    adverse = _passage(4, ["Adverse reactions"], "adverse reactions", "x")
    assert route_tier("max_dose", dosage) == 0 and route_tier("side_effects", dosage) is None
    assert route_tier("pregnancy", boxed) == 0 and route_tier("warnings", boxed) == 0
    assert route_tier("breastfeeding", lactation) == 0 and route_tier("pregnancy", lactation) == 1
    assert route_tier("side_effects", adverse) == 0
    assert route_tier("symptoms", _passage(5, ["What are the symptoms of gout?"], "symptoms", "x")) == 0


@pytest.mark.parametrize("sentence", [
    "Much of this information comes from Orphanet, a European rare disease database.",
    "Reduce the dose in hepatic impairment [see Warnings and Precautions (5.1)].",
    "The recommended dose is 20 mg ( 2.1 ).",
    "See Table 3 for the frequency of adverse reactions in this table.",
    # table cells flattened into one line by a label's text export
    "MI (fatal or not); 275 (2.9%); 333 (3.5%).",
    "Body System/Adverse Reaction PREVACID (N=2768) % Placebo (N=1023) % Body as a Whole Abdominal Pain 2.1 1.2.",
    "Hemoglobin decreased 90 39 0 77 6 0 Neutrophils decreased 68 17 3 70.",
    "Dosing recommendations: INDICATION Dosing Regimen Maximum Dose DPN Pain 3 divided doses per day 300 mg/day "
    "within 1 week PHN 2 or 3 divided doses per day 300 mg/day within 1 week.",
    "If the information is available, the table below includes how often the symptom is seen.",
    "Because these frequencies are based on a specific study, the fractions may be different.",
    # a split heading glued to the end of the sentence before it, with its section number
    "Use another formulation under 30 kg. Dosage in Adult Patients with Creatinine Clearance of 50 mL/minute (2.1.",
])
def test_page_furniture_and_cross_references_never_become_statements(sentence):
    assert not clean_statement(sentence)
    assert clean_statement("The maximum recommended dose is 40 mg once daily.")
    assert clean_statement("The most common adverse reactions were rash (10%), nausea (5%) and headache (3%).")


def _doc(doc_id: int, doc_type: str, grade: str | None = None, **metadata) -> Document:
    return Document(id=doc_id, source="s", external_id=str(doc_id), title=f"doc {doc_id}", url=None, publisher=None,
                    year=None, doc_type=doc_type, grade=grade, license=None, version=1, status="active",
                    metadata=metadata)


def _candidate(text: str, doc: Document, section_type: str, tier: int | None, score: float = 1.0,
               path: list[str] | None = None, pid: int = 1) -> Candidate:
    p = _passage(pid, path or ["Section"], section_type, text, doc.id)
    return Candidate(SearchHit(p, doc, score, 1), 0, len(text), text, "x", score, 0.5, 0.5, tier=tier, cue=True)


def _frame(question: str, aspect: str, concepts=(), population=(), focus_kind=None) -> QuestionFrame:
    return QuestionFrame(question=question, concepts=tuple(concepts), aspect=aspect, aspect_source="rule",
                         aspect_confidence=1.0, population=tuple(population), form="yes_no", yes_no=True,
                         focus_kind=focus_kind)


def _drug(cid: int, name: str, doc_ids: tuple[int, ...]) -> ConceptMatch:
    return ConceptMatch(concept_id=cid, kind="drug", preferred=name, matched_text=name, span=(0, 1), score=1.0,
                        doc_ids=doc_ids, name=name)


def test_a_guideline_for_the_asked_population_decides_the_verdict():
    young = _doc(1, "guideline", "C", age_range=[40, 59])
    old = _doc(2, "guideline", "D", age_range=[60, 100])
    pool = [
        _candidate("The USPSTF recommends that clinicians selectively offer aspirin to adults aged 40 to 59.",
                   young, "recommendation", 0, score=2.0, pid=1),
        _candidate("The USPSTF recommends against initiating low-dose aspirin use in adults 60 years or older.",
                   old, "recommendation", 0, score=1.0, pid=2),
    ]
    frame = _frame("Should older adults take aspirin to prevent heart attacks?", "prevention",
                   population=("older adults",))
    assert question_age(frame) == 65
    stance = take_stance(pool, frame, {})
    assert (stance.verdict, stance.candidate.hit.document.id) == ("no", 2)
    assert "grade D" in stance.basis


def test_a_label_stance_must_name_the_other_drug_of_a_two_drug_question():
    viagra = _doc(10, "drug label")
    frame = _frame("Is it safe to take Viagra with nitroglycerin?", "interaction",
                   concepts=[_drug(1, "sildenafil", (10,)), _drug(2, "nitroglycerin", (11,))], focus_kind="drug")
    unrelated = _candidate("Use is contraindicated in patients with hypersensitivity to sildenafil.", viagra,
                           "contraindications", 0, pid=1)
    assert take_stance([unrelated], frame, {1: ("sildenafil", "viagra"), 2: ("nitroglycerin",)}).verdict == "unclear"
    about = _candidate("Administration with nitroglycerin or any nitrate is contraindicated.", viagra,
                       "contraindications", 0, pid=2)
    stance = take_stance([unrelated, about], frame, {1: ("sildenafil", "viagra"), 2: ("nitroglycerin",)})
    assert stance.verdict == "no" and stance.candidate is about


def test_no_stance_means_the_sources_do_not_say_directly():
    label = _doc(20, "drug label")
    frame = _frame("Can I take citalopram while pregnant?", "pregnancy", concepts=[_drug(1, "citalopram", (20,))],
                   population=("pregnancy",), focus_kind="drug")
    # A "do not use" sentence that says nothing about pregnancy is no answer to a pregnancy question.
    pool = [_candidate("Do not use citalopram with pimozide.", label, "contraindications", 1)]
    stance = take_stance(pool, frame, {1: ("citalopram",)})
    assert (stance.verdict, stance.candidate, stance.note) == ("unclear", None, NOT_DIRECT)


def test_a_dose_question_leads_with_an_amount():
    label = _doc(30, "drug label")
    frame = _frame("What is the maximum dose of citalopram?", "max_dose", focus_kind="drug")
    pk = _candidate("Citalopram pharmacokinetics are linear and dose-proportional.", label, "dosage", 0,
                    score=3.0, pid=1)
    pk.cue = False
    limit = _candidate("Doses above 40 mg once daily are not recommended due to the risk of QT prolongation.",
                       label, "dosage", 0, score=1.0, pid=2)
    limit.cue = bool(ASPECT_CUES["dose"].search(limit.text))
    assert not answers_frame(pk, frame) and answers_frame(limit, frame)
    assert bottom_line([pk, limit], frame, None)[0] is limit


def _statement(text: str, ref: int) -> Statement:
    return Statement(text=text, citations=[Citation(ref=ref, passage_id=ref, document_id=ref, quote=text, start=0,
                                                    end=len(text))])


def test_sources_differ_only_on_the_focus():
    about = [_statement("Warfarin is effective in preventing stroke in atrial fibrillation.", 1),
             _statement("Warfarin is not effective in preventing stroke in atrial fibrillation.", 2)]
    assert differences(about, focus=("warfarin",))
    elsewhere = [_statement("Aspirin is effective in preventing stroke in atrial fibrillation.", 1),
                 _statement("Aspirin is not effective in preventing stroke in atrial fibrillation.", 2)]
    assert not differences(elsewhere, focus=("warfarin",))


def test_a_does_x_cause_y_question_names_its_effect():
    from medora.answer.frame import effects_asked

    assert effects_asked("Can sertraline cause weight gain?", []) == ("weight gain",)
    assert effects_asked("does ibuprofen give you stomach bleeding", []) == ("stomach bleeding",)
    assert effects_asked("What are the side effects of atorvastatin?", []) == ()  # the whole aspect, no one effect
    assert effects_asked("How much metformin can I take?", []) == ()


def test_a_drug_question_keeps_the_details_it_names_beyond_its_aspect():
    from medora.answer.frame import details_asked

    fluorouracil = ConceptMatch(concept_id=1, kind="drug", preferred="fluorouracil", matched_text="fluorouracil",
                                span=(12, 24), score=1.0, doc_ids=(1,), name="fluorouracil")
    question = "can you use fluorouracil past expiration date?"
    assert question[12:24] == "fluorouracil"
    assert details_asked(question, [fluorouracil]) == ("past", "expiration", "date")
    assert details_asked("What is the maximum dose of citalopram?", []) == ("citalopram",)  # unknown: not a focus
    assert details_asked("how long should i take it", []) == ()
    frame = QuestionFrame(question=question, concepts=(fluorouracil,), aspect="storage", aspect_source="rule",
                          aspect_confidence=1.0, population=(), form="yes_no", yes_no=True, focus_kind="drug",
                          details=("past", "expiration", "date"))
    assert frame.names_details("Do not use fluorouracil cream after the expiration date on the tube.")  # 2 of 3
    assert not frame.names_details("Store at 20° to 25° C (68° to 77° F).")


@pytest.mark.parametrize("question, aspect", [
    ("what class is diazepam", "drug_class"),
    ("What kind of drug is gabapentin?", "drug_class"),
    ("what is usual infusion time for cetuximab", "how_to_take"),
    ("How is tocilizumab administered?", "how_to_take"),
])
def test_drug_class_and_administration_questions(question, aspect):
    assert classify_aspect(question, "drug", None).aspect == aspect
    assert classify_aspect("What class of drugs treats gout?", "condition", None).aspect != "drug_class"


def test_a_split_heading_tail_or_a_glued_list_number_is_trimmed_from_a_statement():
    from medora.answer.evidence import trim_sentence

    for text, kept in (("≥ 50 mL/minute The usual dose is 500 mg every 24 hours.", "The usual dose"),
                       ("2.Put the cream on your face as directed.", "Put the cream"),
                       ("12.5 mg is the starting dose.", "12.5 mg"),
                       ("> 10% of patients had nausea.", "> 10%")):
        a, b = trim_sentence(text, 0, len(text))
        assert text[a:b].startswith(kept), text[a:b]


def test_a_table_row_never_leads_and_a_clearance_is_not_a_dose():
    from medora.answer.select import reads_like_table_row

    row = ("Pulmonary toxicity Acute onset or worsening pulmonary symptoms Delay infusion 1 to 2 weeks; if "
           "condition improves, continue at the dose that was being administered.")
    assert reads_like_table_row(row)
    assert not reads_like_table_row("Losartan is indicated for hypertension in patients with Left Ventricular "
                                    "Hypertrophy and for Nephropathy in Type 2 Diabetic Patients.")
    frame = _frame("What is the usual infusion time for cetuximab?", "how_to_take")
    assert not answers_frame(_candidate(row, _doc(1, "drug label"), "dosage", tier=0), frame)
    assert answers_frame(_candidate("Administer as a 120-minute intravenous infusion.", _doc(1, "drug label"),
                                    "dosage", tier=0), frame)
    assert ASPECT_CUES["dose"].search("The usual dose is 500 mg every 24 hours.")
    assert not ASPECT_CUES["dose"].search("For patients with creatinine clearance less than 50 mL/min, adjust it.")


def test_an_otc_labels_run_together_directions_are_read_one_instruction_at_a_time():
    from medora.answer.evidence import directions_spans

    # Drug Facts directions as openFDA gives them: bullets and line breaks gone, no sentence ends.
    text = ("Directions do not take more than directed adults and children 12 years and over: take 2 tablets every "
            "8 hours with water do not take more than 6 tablets in 24 hours children under 12 years: ask a doctor "
            "7-Day Course of Treatment swallow 1 tablet before breakfast")
    spans = [text[a:b] for a, b in directions_spans(text)]
    assert spans == ["do not take more than directed",
                     "adults and children 12 years and over: take 2 tablets every 8 hours with water",
                     "do not take more than 6 tablets in 24 hours",
                     "children under 12 years: ask a doctor",
                     "swallow 1 tablet before breakfast"]
    assert directions_spans("Take 2 tablets every 8 hours. Do not exceed 6 tablets a day.") == []  # punctuated
    assert directions_spans("adults 18 years and older take 1 tablet a day", directions=True) == [
        (0, len("adults 18 years and older take 1 tablet a day"))]  # a later chunk of the same directions
    assert ASPECT_CUES["dose"].search("adults and children 6 years and over 1 tablet daily")  # tablets are a dose


@pytest.mark.parametrize("question, aspect", [
    ("is losartan gluten free?", "ingredients"),
    ("Does metformin contain lactose?", "ingredients"),
    ("what are the inactive ingredients in lisinopril", "ingredients"),
])
def test_what_a_medicine_is_made_of_is_an_ingredients_question(question, aspect):
    assert classify_aspect(question, "drug", None).aspect == aspect
    assert rule_aspect("Is a gluten-free diet good for celiac disease?", "condition") != "ingredients"


def test_a_short_sentence_that_answers_is_quotable():
    from medora.answer.evidence import usable_statement

    assert usable_statement("Antibiotics can cure PID.")
    assert not usable_statement("It is rare.")  # three words stand alone too seldom


def test_a_topic_named_by_a_word_for_any_medicine_is_generic():
    from medora.answer.frame import _generic

    def concept(name: str, written: str) -> ConceptMatch:
        return ConceptMatch(concept_id=2, kind="condition", preferred=name, matched_text=written,
                            span=(0, len(written)), score=1.0, doc_ids=(), name=name)

    assert _generic(concept("Medicines", "medicine")) and _generic(concept("Medicines", "Medications"))
    assert not _generic(concept("Asthma", "asthma"))  # "Can I take Singulair for asthma?" keeps its condition
    assert not _generic(concept("Breastfeeding", "breastfeeding"))


def test_an_answer_whose_bottom_line_names_nothing_the_question_asks_about_is_not_an_answer():
    from dataclasses import replace

    from medora.answer.compose import off_question
    from medora.models import Answer

    def answer(*lead: str) -> Answer:
        cite = [Citation(ref=1, passage_id=1, document_id=1, quote="q", start=0, end=1)]
        return Answer(status="answered", question="q", title="q", audience="patient", question_type="general",
                      disclaimer="d", bottom_line=[Statement(text=t, citations=cite) for t in lead])

    frame = replace(_frame("how to pronounce chlordiazepoxide", "information", focus_kind="drug"),
                    details=("chlordiazepoxide",))
    assert off_question(frame, answer("The initial symptoms are cramps or weakness in the muscles of the big toe."))
    assert not off_question(frame, answer("Chlordiazepoxide is a benzodiazepine."))
    assert not off_question(replace(frame, details=()), answer("Anything at all."))  # nothing rare asked: not judged
    asked = _drug(1, "ibuprofen", (1,))
    assert not off_question(replace(frame, concepts=(asked,)), answer("Take it with food."))  # anchored: not judged
    two = replace(frame, details=("contagious", "respiratory"))
    assert not off_question(two, answer("People with RSV are usually contagious for 3 to 8 days."))  # one of two
    # A condition question is judged only when a word of it is very rare in the library (needs the store).
    heat = replace(frame, focus_kind=None, details=("heat", "summer"))
    assert not off_question(heat, answer("Drink plenty of fluids."))


def test_a_condition_questions_details_put_the_sentence_naming_them_first():
    from dataclasses import replace

    frame = replace(_frame("Do bananas help with diarrhea?", "outlook", focus_kind="condition"), details=("bananas",),
                    yes_no=False, form="open")
    doc = _doc(1, "patient information")
    general = _candidate("As your symptoms improve, you can eat soft, bland food.", doc, "outlook", tier=0, score=2.0)
    named = _candidate("Soft foods such as bananas and plain rice can be added to the diet.", doc, "treatment",
                       tier=None, score=1.0, pid=2)
    named.cue = False  # answers no aspect: only the detail it names puts it first
    assert bottom_line([general, named], frame, None)[0] is named
    drug_frame = replace(frame, focus_kind="drug")
    assert bottom_line([general, named], drug_frame, None)[0] is general  # a drug's aspect still decides its lead


def test_the_form_of_the_question_decides_what_leads_when_the_aspect_guess_cannot():
    from dataclasses import replace

    from medora.answer.select import answers_form, form_answers

    doc = _doc(1, "patient information")

    def candidate(text: str, names: bool = True) -> Candidate:
        c = _candidate(text, doc, "definition", tier=None)
        c.features = {"names_focus": float(names)}
        return c

    often = replace(_frame("How often should adults get a tetanus booster?", "frequency"), details=("booster",))
    assert answers_form(candidate("Adults should get a tetanus shot, or booster, every 10 years."), often)
    assert not answers_form(candidate("The child should receive a vaccine every 5 years."), often)  # not the booster
    normal = _frame("What counts as a normal blood pressure reading for an adult?", "frequency")
    low = candidate("If your blood pressure reading is 90/60 or lower, you have low blood pressure.")
    ideal = candidate("Normal blood pressure for adults is a systolic pressure below 120 mmHg.")
    assert form_answers([low, candidate("Blood pressure is measured with a cuff."), ideal], normal) == [ideal, low]
    much = _frame("How much folic acid should I take each day?", "frequency")
    assert answers_form(candidate("Take a daily supplement with 0.4 to 0.8 mg of folic acid."), much)
    assert not answers_form(candidate("Take a daily supplement with 0.4 mg of it.", names=False), much)
