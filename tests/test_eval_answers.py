"""`medora eval answers`: the statement matcher, its calibration on physicians' labels, and a small real run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from medora.errors import ReaderError
from medora.eval.answers import Integrity, evaluate_answers
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
                            pubmedqa_limit=20, progress=lambda m: None)


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
        citation = answer.statements()[0].citations[0]
        citation.start += 1
        tampered = Integrity()
        tampered.check(answer, store)
    assert tampered.failures == {"quote differs from passage text at its offsets": 1}


def test_cli_json_and_bad_folder(small_library, shared_eval, tmp_path):
    runner = CliRunner()
    args = ["--library", str(small_library), "--kqa-limit", "2", "--pubmedqa-limit", "3", "--audiences", "patient",
            "--matcher", "lexical"]
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
