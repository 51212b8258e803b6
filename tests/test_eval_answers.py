"""`medora eval answers`: the statement matcher, its calibration on physicians' labels, and a small real run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from medora.errors import ReaderError
from medora.eval.answers import Integrity, evaluate_answers, read_jsonl
from medora.eval.answers_cli import eval_answers
from medora.eval.matcher import (
    FOLDS,
    LEXICAL_GRID,
    SIMILARITY_GRID,
    Agreement,
    Matcher,
    Thresholds,
    calibrate,
    load_nli_labels,
    negated,
    numbers,
    question_folds,
)
from medora.library.ingest import Ingestor
from medora.library.sqlite_store import SQLiteStore
from medora.models import Source
from medora.settings import load_settings
from medora.sources.readers.registry import make_reader

RED_FLAGS = Path(__file__).parent / "data" / "red_flag_questions.jsonl"
LEXICAL = Thresholds(similarity=None, lexical=0.5)


# ---------------------------------------------------------------------------- matcher units


def test_numbers_and_negation_are_read_from_the_text():
    assert numbers("Take 1,000 mg or 2.50 ml for 12 weeks") == {"1000", "2.5", "12"}
    assert numbers("IL-6 levels") == {"6"} and numbers("no digits here") == frozenset()
    assert negated("It is not contagious") and negated("There is no cure") and negated("It doesn't spread")
    assert not negated("Antibiotics cure most cases")


def test_number_disagreement_is_not_covered_and_is_a_contradiction():
    m = Matcher(None, LEXICAL)
    claim = "Lexapro is not approved for children younger than 12 years"
    [same] = m.judge([claim], ["Lexapro is not approved for children younger than 12 years of age."])
    [other] = m.judge([claim], ["Lexapro is not approved for children younger than 18 years."])
    [silent] = m.judge([claim], ["Lexapro is not approved for children."])
    assert same.covered and not same.contradicted
    assert not other.covered and other.contradicted
    assert not silent.covered and not silent.contradicted  # a missing number cannot support, nor contradict


def test_negation_disagreement_is_not_covered_and_is_a_contradiction():
    m = Matcher(None, LEXICAL)
    [flipped] = m.judge(["Cold sores are contagious"], ["Cold sores are not contagious."])
    [agreeing] = m.judge(["Cold sores are contagious"], ["Cold sores are very contagious."])
    assert not flipped.covered and flipped.contradicted and flipped.contradicted_by == 0
    assert agreeing.covered and agreeing.covered_by == 0 and not agreeing.contradicted


def test_negation_is_compared_clause_by_clause():
    m = Matcher(None, LEXICAL)
    claim = "Studies of DHA found mixed results on improvement of vision."
    [j] = m.judge([claim], ["Studies of DHA found mixed results on improvement of vision, but no study showed harm."])
    assert j.covered and not j.contradicted
    [k] = m.judge([claim], ["Studies of DHA found no improvement of vision."])
    assert not k.covered and k.contradicted


def test_unrelated_statements_neither_cover_nor_contradict():
    m = Matcher(None, LEXICAL)
    [j] = m.judge(["Ivermectin is an oral treatment for scabies"], ["The sky is not blue today."])
    assert not j.covered and not j.contradicted


def test_embedding_gate_needs_meaning_as_well_as_words():
    from medora.retrieve.embeddings import get_embedder

    m = Matcher(get_embedder("minilm"), Thresholds(similarity=0.7, lexical=0.3))
    claim = "Most cases of Lyme disease are successfully treated with antibiotics."
    [paraphrase] = m.judge([claim], ["Antibiotics can cure most cases of Lyme disease."])
    [off_topic] = m.judge([claim], ["Lyme disease is spread by tick bites in wooded areas."])
    assert paraphrase.covered and not off_topic.covered
    assert m.mode.startswith("embedding (minilm")


def test_agreement_counts():
    a = Agreement.of([True, True, False, False], [True, False, True, False])
    assert (a.accuracy, a.precision, a.recall, a.predicted, a.actual) == (0.5, 0.5, 0.5, 2, 2)


# ------------------------------------------------------------------------------ calibration


def test_calibration_on_physician_labels_is_grouped_and_deterministic(shared_eval):
    pairs, physicians = load_nli_labels(shared_eval / "kqa-dev" / "nli_physician_labels.csv")
    assert len(pairs) == 206 and {p.label for p in pairs} == {"entailment", "neutral", "contradiction"}
    assert 0.8 < physicians < 0.95  # the three physicians agree on "entailment" 0.88 of the time
    folds = question_folds(pairs)
    assert set(folds.tolist()) == set(range(FOLDS))
    fold_of: dict[str, int] = {}
    for p, f in zip(pairs, folds):
        assert fold_of.setdefault(p.question, f) == f  # one question never spans two folds
    first = calibrate(pairs, Matcher(None), physicians)
    again = calibrate(pairs, Matcher(None), physicians)
    assert first.thresholds == again.thresholds and first.cross_validated == again.cross_validated
    assert first.thresholds.similarity is None and first.thresholds.lexical in LEXICAL_GRID
    cv = first.cross_validated
    assert cv.pairs == 206 and cv.actual == 70 and 0.5 < cv.accuracy < 0.9
    assert len(first.fold_thresholds) == FOLDS
    # fitted on all pairs can only be as good or better than out-of-fold
    assert first.fitted.accuracy >= cv.accuracy


def test_calibration_with_embeddings_picks_a_similarity_threshold(shared_eval):
    from medora.retrieve.embeddings import get_embedder

    pairs, _ = load_nli_labels(shared_eval / "kqa-dev" / "nli_physician_labels.csv")
    c = calibrate(pairs[:50], Matcher(get_embedder("minilm")))
    assert c.thresholds.similarity in SIMILARITY_GRID and c.thresholds.lexical in LEXICAL_GRID
    assert c.mode.startswith("embedding (minilm") and c.cross_validated.pairs == 50


def test_bad_label_file_is_a_one_line_error(tmp_path):
    bad = tmp_path / "labels.csv"
    bad.write_text("Question,answer\nq,a\n", encoding="utf-8")
    with pytest.raises(ReaderError, match="expected CSV columns"):
        load_nli_labels(bad)


# --------------------------------------------------------------------------- a small real run


@pytest.fixture(scope="module")
def small_library(tmp_path_factory, shared_sources) -> Path:
    """PubMedQA abstracts and the five DailyMed labels, ingested as `library add` would."""
    path = tmp_path_factory.mktemp("answers") / "library.db"
    with SQLiteStore(path) as store:
        Ingestor(store, Source(name="pubmedqa")).run(
            [(shared_sources / "pubmedqa" / "ori_pqal.json", make_reader("pubmedqa"))])
        spl = make_reader("spl")
        Ingestor(store, Source(name="dailymed")).run(
            [(p, spl) for p in sorted((shared_sources / "dailymed-spl").glob("*.xml"))])
    return path


@pytest.fixture(scope="module")
def small_report(small_library, shared_eval) -> dict:
    settings = load_settings(library=small_library, retrieval="lexical")
    # lexical matcher here for speed; the embedding matcher is tested above
    return evaluate_answers(shared_eval, settings, red_flags=RED_FLAGS, matcher="lexical", kqa_limit=5,
                            pubmedqa_limit=20, sets=("kqa", "pubmedqa", "redflags"), progress=lambda m: None)


def test_small_run_structure_and_integrity(small_report):
    r = small_report
    assert r["schema"] == "medora.eval.answers/1"
    assert set(r["library"]["sources"]) == {"pubmedqa", "dailymed"}
    assert set(r["kqa"]) == {"patient", "caregiver", "student", "clinician"}
    for name, run in r["kqa"].items():
        assert run["questions"] == 5 and sum(run["status"].values()) == 5
        assert run["must_have"] == 25 and 0.0 <= run["coverage"] <= 1.0
        answered = run["status"].get("answered", 0)
        assert run["statements_per_answer"]["n"] == answered
        assert set(run["identical_answers"]) == set(r["kqa"]) - {name}
        assert all(0 <= n <= answered for n in run["identical_answers"].values())
    kqa = r["kqa"]
    assert kqa["patient"]["identical_answers"]["caregiver"] == kqa["caregiver"]["identical_answers"]["patient"]
    ref = r["kqa_physician_answers"]  # the physicians' own answers: the matcher's ceiling
    assert ref["must_have"] == 25 and ref["coverage"] > 0.4
    assert r["integrity"]["answers"] == 4 * 5 + 20
    assert r["integrity"]["citations"] > 0 and r["integrity"]["failures"] == {} and r["integrity"]["rate"] == 1.0


def test_identical_answers_counts_questions_answered_alike():
    from medora.eval.answers import AudienceRun, identical_answers

    a, b = AudienceRun("patient"), AudienceRun("caregiver")
    a.texts = [("x", "y"), (), ("z",)]
    b.texts = [("x", "y"), (), ("w",)]
    assert identical_answers(a, b) == 1  # an unanswered question is not "identical"


def test_small_run_pubmedqa_reads_its_own_abstracts(small_report):
    p = small_report["pubmedqa"]
    assert p["questions"] == 20 and sum(sum(row.values()) for row in p["confusion"].values()) == 20
    assert p["evidence_in_library"] == 20
    assert p["cites_own_abstract"] >= 18  # measured 20/20: each question is its abstract's title
    correct = sum(p["confusion"][g][g] for g in ("yes", "no", "unclear"))
    assert p["accuracy"] == round(correct / 20, 4)
    # A floor: measured 0.75 (15/20; 12 of 13 "yes", 3 of 6 "no") before the frame-anchored composer, 0.70
    # (14/20; 10 of 13 "yes", 3 of 6 "no") with it (2026-12-06; 0.720 -> 0.695 on all 1,000), 0.80 (16/20; 11 of
    # 13 "yes", 5 of 6 "no") since the conclusion is read as a stance on the asked proposition (0.781 on all
    # 1,000, bench/RESULTS.md). The floor is one question below, with both classes required: answering "yes" to
    # everything (the majority class here, 0.65) has no right "no"; "unclear" everywhere scores 0.05.
    assert p["majority_class_here"] == 0.65
    assert p["accuracy"] >= 0.75 and p["confusion"]["no"]["no"] >= 4 and p["confusion"]["yes"]["yes"] >= 10


def test_small_run_red_flags(small_report):
    flags = small_report["red_flags"]
    assert flags["labelled"]["emergencies"] == 133 and flags["labelled"]["recall"] >= 0.9  # measured 1.0
    assert flags["real_questions"]["questions"] == 98 + 51
    assert flags["real_questions"]["false_alarms"] == len(flags["real_questions"]["flagged"])


def test_integrity_check_catches_a_tampered_quote(small_library):
    from medora.answer.compose import answer_question

    settings = load_settings(library=small_library, retrieval="lexical")
    with SQLiteStore(small_library, create=False) as store:
        answer = answer_question(store, "What are the side effects of atorvastatin?", settings)
        assert answer.status == "answered"
        clean = Integrity()
        clean.check(answer, store)
        assert clean.failures == {} and clean.statements == len(answer.statements())
        assert all(s.text == s.citations[0].quote for s in answer.statements())
        # a statement that silently drops the end of its sentence, while the quote stays exact
        shortened = answer.statements()[1]
        shortened.text = shortened.text.rsplit(" ", 2)[0] + "."
        citation = answer.statements()[0].citations[0]
        citation.start += 1
        tampered = Integrity()
        tampered.check(answer, store)
    assert tampered.failures == {"quote differs from passage text at its offsets": 1,
                                 "statement differs from its quote": 1}


def test_cli_json_and_bad_folder(small_library, shared_eval, tmp_path):
    runner = CliRunner()
    args = ["--library", str(small_library), "--kqa-limit", "2", "--pubmedqa-limit", "3", "--audiences", "patient",
            "--matcher", "lexical", "--sets", "kqa,pubmedqa,redflags"]
    result = runner.invoke(eval_answers, [str(shared_eval), *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert list(report["kqa"]) == ["patient"] and report["pubmedqa"]["questions"] == 3
    assert report["matcher"]["mode"] == "lexical only" and "labelled" not in report["red_flags"]
    table = runner.invoke(eval_answers, [str(shared_eval), *args])
    assert table.exit_code == 0 and "PubMedQA verdicts" in table.stdout
    assert "Citation integrity: 100.00%" in table.stdout
    bad = runner.invoke(eval_answers, [str(tmp_path), *args])
    assert bad.exit_code == 2 and "is not an evaluation folder" in bad.output


# ------------------------------------------------------------------- key facts, quotes, baseline


def _answer(bottom: list[str], rest: list[str] = (), *, verdict: str | None = None,
            status: str = "answered") -> dict:
    """A medora.answer/1-shaped dict with the given statements (bottom line, then one section)."""
    statement = lambda text: {"text": text, "citations": [], "kind": "bullet"}  # noqa: E731
    return {"schema": "medora.answer/1", "status": status, "verdict": verdict,
            "bottom_line": [statement(t) for t in bottom],
            "sections": [{"key": "treatment", "heading": "Treatment", "statements": [statement(t) for t in rest]}]}


@pytest.fixture(scope="module")
def keyfact_questions(shared_eval) -> dict:
    from medora.eval.keyfacts import load_keyfacts

    questions = load_keyfacts(shared_eval / "keyfacts-dev" / "questions.jsonl")
    assert len(questions) == 45 and sum(q.abstain for q in questions) == 2
    return {q.id: q for q in questions}


def test_lead_is_the_bottom_line_and_the_next_three_statements():
    from medora.eval.lead import abstained, lead, statements

    a = _answer(["b1", "b2"], ["s1", "s2", "s3", "s4"])
    assert lead(a) == ["b1", "b2", "s1", "s2", "s3"] and statements(a)[-1] == "s4"
    assert lead(_answer([], ["s1", "s2", "s3", "s4"])) == ["s1", "s2", "s3"]  # no bottom line: first 3
    assert not abstained(a) and abstained(_answer([], status="insufficient_evidence"))


def test_keyfacts_pass_and_every_kind_of_failure(keyfact_questions):
    from medora.eval.keyfacts import judge, reason_kinds

    viagra = keyfact_questions["kd03"]  # verdict no; facts: contraindicated + nitrates
    label = ("Administration in patients who use nitric oxide donors such as organic nitrates in any form "
             "is therefore contraindicated.")
    assert judge(viagra, _answer([label], verdict="no")).passed
    assert judge(viagra, _answer(["Talk to your doctor."], ["Ask first.", "Maybe.", label], verdict="no")).passed
    buried = judge(viagra, _answer(["Talk to your doctor."], ["a", "b", "c", label], verdict="no"))
    assert buried.missed_groups == [1, 2]  # the fact is in the 5th statement: outside the lead
    assert judge(viagra, _answer([label], verdict="yes")).reasons == ["verdict yes, expected no"]
    assert judge(viagra, _answer([label])).reasons == ["verdict missing, expected no"]
    half = judge(viagra, _answer(["Nitrates lower blood pressure."], verdict="no"))
    assert half.missed_groups == [1] and half.reasons[0].startswith("fact 1 missing from lead: contraindicated")
    refused = judge(viagra, _answer([], status="insufficient_evidence"))
    assert refused.reasons[0] == "abstained (status insufficient_evidence)" and refused.missed_groups == [1, 2]

    diarrhea = keyfact_questions["kd35"]  # must_not: call 911, get medical help right away (bottom line only)
    assert diarrhea.must_not == ("call 911", "get medical help right away")
    fluids = "Drink plenty of fluids to prevent dehydration."
    assert judge(diarrhea, _answer([fluids], ["Call 911 if you faint."])).passed  # outside the bottom line
    alarm = judge(diarrhea, _answer(["CALL 911 now.", fluids]))
    assert alarm.reasons == ["bottom line contains 'call 911'"]

    folate = keyfact_questions["kd20"]  # one group of four alternatives
    assert judge(folate, _answer(["Take a daily supplement containing 400 mcg of folic acid."])).passed

    wine = keyfact_questions["kd44"]  # out of scope: must abstain
    assert judge(wine, _answer([], status="insufficient_evidence")).passed
    assert judge(wine, _answer(["Blot the stain."])).reasons == ["out of scope but answered (status answered)"]
    kinds = reason_kinds([buried, alarm, refused, judge(wine, _answer(["x"])), judge(viagra, _answer([label]))])
    assert kinds == {"fact missing from lead": 2, "must_not in bottom line": 1, "abstained": 1,
                     "no abstention": 1, "verdict missing": 2}


def test_a_bad_keyfact_regex_is_a_reader_error(tmp_path):
    from medora.eval.keyfacts import load_keyfacts

    bad = tmp_path / "q.jsonl"
    bad.write_text('{"id": "x", "question": "q", "facts": [["(unclosed"]]}\n', encoding="utf-8")
    with pytest.raises(ReaderError, match="bad regular expression"):
        load_keyfacts(bad)


def test_token_f1_on_known_pairs(shared_eval):
    from collections import Counter

    from medora.eval.quotes import best_quote, gold_sentences, token_f1, words

    assert words("Dose-dependent: 300 mg/day!") == ["dose", "dependent", "300", "mg", "day"]
    # "the cat sat" in "the cat sat on the mat": precision 3/3, recall 3/6 -> F1 2/3
    assert token_f1(Counter(words("the cat sat")), Counter(words("The cat sat on the mat."))) == pytest.approx(2 / 3)
    assert token_f1(Counter(["a"]), Counter(["b"])) == 0.0
    rows = {r["id"]: r for r in read_jsonl(shared_eval / "medicationqa-dev" / "questions.jsonl", ("id", "answer"))}
    gold = gold_sentences(rows["mqa-dev-002"]["answer"])  # pregabalin: "... doses above 300 mg/day is not ..."
    assert len(gold) == 1
    # the statement repeats 10 of the 18 gold words and adds 2: P 10/12, R 10/18 -> F1 0.667 >= 0.6
    near = best_quote(["Other text.", "Treatment with doses above 300 mg/day is not recommended for you."], gold)
    assert near.hit and near.index == 1 and near.f1 == pytest.approx(2 * 10 / 30)
    far = best_quote(["Doses above 300 mg/day are not recommended."], gold)  # 7 of 8 words, of 18: F1 0.54
    assert not far.hit and far.f1 == pytest.approx(2 * 7 / 26)
    assert gold_sentences("Yes. Take it with food. It is absorbed better when taken with a meal.") == [
        "It is absorbed better when taken with a meal."]  # sentences under 6 words are not gold


def test_answerable_subset_on_a_tiny_library(small_library, tmp_path):
    import shutil

    from medora.eval.answerable import answerable, library_fingerprint

    copy = tmp_path / "library.db"
    shutil.copy(small_library, copy)
    with SQLiteStore(copy, create=False) as store:
        lipitor = next(d for d in store.documents(list(range(1, 2000))).values() if "LIPITOR" in d.title.upper())
        passage = next(p for p in store.document_passages(lipitor.id)
                       if any(len(s.split()) >= 14 for s in p.sentence_texts()))
        sentence = next(s for s in passage.sentence_texts() if len(s.split()) >= 14)
        quoted = " ".join(sentence.split()[:-2]) + "."  # the pharmacist quoted it, less its last two words
        questions = [{"id": "quoted", "answer": f"Short one. {quoted}", "focus_drug": "Lipitor"},
                     {"id": "elsewhere", "answer": "Blot a red wine stain on a wool carpet with cold water quickly."},
                     {"id": "no-gold", "answer": "Yes. Ask your doctor."},
                     {"id": "other-drug", "answer": quoted, "focus_drug": "sildenafil"}]
        messages: list[str] = []
        found = answerable(store, questions, cache_dir=tmp_path / "cache", progress=messages.append)
        assert found["quoted"].answerable and found["quoted"].f1 > 0.85 and found["quoted"].sentence == sentence
        assert found["quoted"].document.startswith("dailymed: ") and "LIPITOR" in found["quoted"].document.upper()
        assert not found["elsewhere"].answerable and 0 < found["elsewhere"].f1 < 0.6
        assert found["no-gold"].f1 == 0.0 and found["no-gold"].sentence is None
        # the focus drug's own label quotes it; a question about another drug (Viagra's label is in the
        # library) is answerable only by coincidence, not from its focus drug's documents
        assert found["quoted"].answerable_from_focus and "LIPITOR" in found["quoted"].focus_document.upper()
        assert found["other-drug"].answerable and not found["other-drug"].answerable_from_focus
        assert 0 < found["other-drug"].focus_f1 < 0.6 and "VIAGRA" in found["other-drug"].focus_document.upper()
        assert messages[-1] == ("answerable subset: 2 of 4 questions, 1 from their focus drug's documents "
                                "(4 searched, 0 from cache)")
        again = answerable(store, questions, cache_dir=tmp_path / "cache", progress=messages.append)
        assert again == found and messages[-1].endswith("(0 searched, 4 from cache)")
        before = library_fingerprint(store)
        store.retire([lipitor.id])  # a changed library is searched afresh, and the label is gone
        assert library_fingerprint(store) != before
        after = answerable(store, questions, cache_dir=tmp_path / "cache", progress=messages.append)
        assert messages[-1].endswith("(4 searched, 0 from cache)") and not after["quoted"].answerable
        assert not after["quoted"].answerable_from_focus


def test_naive_baseline_is_the_first_sentences_of_the_top_passages(small_library):
    from medora.eval.lead import bottom_line, statements
    from medora.eval.naive import PASSAGES, SENTENCES, NaiveBaseline

    with SQLiteStore(small_library, create=False) as store:
        naive = NaiveBaseline(store)
        answer = naive.answer("What are the side effects of atorvastatin (Lipitor)?")
        top = store.passages(answer["passages"])
        assert naive.passages == store.stats()["passages"]
    assert answer["status"] == "answered" and answer["verdict"] is None and len(answer["passages"]) == PASSAGES
    expected = [s for pid in answer["passages"] for s in top[pid].sentence_texts()][:SENTENCES]
    assert statements(answer) == expected and bottom_line(answer) == expected[:1]
    assert any("LIPITOR" in t.upper() or "atorvastatin" in t.lower() for t in expected)
    assert naive.answer("zzzz qqqq")["status"] == "insufficient_evidence"


def test_small_run_of_keyfacts_and_medicationqa_beside_the_baseline(small_library, shared_eval, tmp_path):
    settings = load_settings(library=small_library, retrieval="lexical")
    rows: list[dict] = []
    r = evaluate_answers(shared_eval, settings, sets=("keyfacts", "medicationqa"), limit=6, rows=rows,
                         cache_dir=tmp_path, progress=lambda m: None)
    assert r["sets"] == ["keyfacts", "medicationqa"] and "kqa" not in r and "pubmedqa" not in r
    k, mq = r["keyfacts"], r["medicationqa"]
    kf_rows = [x for x in rows if x["set"] == "keyfacts"]
    assert k["questions"] == 6 and [x["id"] for x in kf_rows] == [f"kd0{i}" for i in range(1, 7)]
    assert k["passed"] == sum(x["passed"] for x in kf_rows)
    assert len(k["failures"]) == 6 - k["passed"]
    assert all(x["reasons"] for x in kf_rows if not x["passed"])
    assert all(x["references"] for x in kf_rows if x["status"] == "answered")  # what the lead was drawn from
    mq_rows = [x for x in rows if x["set"] == "medicationqa"]
    assert mq["questions"] == len(mq_rows) == 6
    assert mq["answerable_from_focus"] == sum(x["answerable_from_focus"] for x in mq_rows) <= mq["answerable"]
    for who in ("medora", "naive"):
        assert mq[who]["overall"]["hits"] == sum(x[who]["hit"] for x in mq_rows)
        assert mq[who]["answerable"]["questions"] == mq["answerable"] == sum(x["answerable"] for x in mq_rows)
        assert all(x[who]["hit"] or not x[who]["bottom_line_hit"] for x in mq_rows)  # bottom line is a statement
    assert r["integrity"]["answers"] == 12 and r["integrity"]["failures"] == {}
    assert r["naive"]["passages"] > 0 and r["run"]["seconds"]["total"] > 0


def test_cli_sets_limit_and_report(small_library, shared_eval, tmp_path):
    out = tmp_path / "rows.jsonl"
    args = [str(shared_eval), "--library", str(small_library), "--sets", "keyfacts", "--limit", "3",
            "--report", str(out)]
    result = CliRunner().invoke(eval_answers, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["keyfacts"]["questions"] == 3 and "medicationqa" not in report and "red_flags" not in report
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [row["id"] for row in rows] == ["kd01", "kd02", "kd03"]
    table = CliRunner().invoke(eval_answers, args)
    assert table.exit_code == 0 and "Key facts (clinician): " in table.stdout
    for failure in report["keyfacts"]["failures"]:  # every failure listed with its reasons
        assert f"  {failure['id']}  " in table.stdout and all(r in table.stdout for r in failure["reasons"])
    bad = CliRunner().invoke(eval_answers, [str(shared_eval), "--library", str(small_library), "--sets", "nope"])
    assert bad.exit_code == 2 and "unknown set 'nope'" in bad.output
