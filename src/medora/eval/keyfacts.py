"""Key facts: does the answer's lead state what the question asks, with the right verdict?

A question (``keyfacts-dev/questions.jsonl``) passes when

- every fact group matches somewhere in the lead (``eval/lead.py``); a group is a list of
  regular expressions, any of which may match (case-insensitive),
- the verdict equals the expected one, where one is given (``verdict`` yes/no),
- no ``must_not`` phrase (case-insensitive regular expression) occurs in the bottom line,
- an out-of-scope question (``"abstain": true``) abstains, and an in-scope one does not.

Each failure is kept with its reasons, in words a person tuning the composer can act on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from medora.errors import ReaderError
from medora.eval.lead import abstained, bottom_line, lead


@dataclass(frozen=True)
class KeyFactQuestion:
    id: str
    question: str
    facts: tuple[tuple[str, ...], ...]  # groups of regex alternatives; every group must match
    verdict: str | None = None
    must_not: tuple[str, ...] = ()
    abstain: bool = False
    source: str | None = None

    @classmethod
    def of(cls, row: dict, path: Path | str = "keyfacts") -> KeyFactQuestion:
        try:
            facts = tuple(tuple(str(x) for x in ([g] if isinstance(g, str) else g)) for g in row.get("facts") or [])
            q = cls(str(row["id"]), str(row["question"]), facts, row.get("verdict"),
                    tuple(str(x) for x in row.get("must_not") or []), bool(row.get("abstain")), row.get("source"))
            for pattern in (*(p for g in q.facts for p in g), *q.must_not):
                re.compile(pattern)
        except (KeyError, TypeError) as exc:
            raise ReaderError(path, f"question {row.get('id')!r}: expected id, question, facts ({exc})") from None
        except re.error as exc:
            raise ReaderError(path, f"question {row.get('id')!r}: bad regular expression ({exc})") from None
        if q.verdict not in (None, "yes", "no", "unclear"):
            raise ReaderError(path, f"question {q.id}: verdict {q.verdict!r} is not yes, no, unclear or null")
        return q


@dataclass
class KeyFactResult:
    """One question judged: ``reasons`` is empty exactly when it passed."""

    id: str
    reasons: list[str] = field(default_factory=list)
    missed_groups: list[int] = field(default_factory=list)  # 1-based fact-group numbers
    verdict: str | None = None
    status: str | None = None

    @property
    def passed(self) -> bool:
        return not self.reasons


def judge(q: KeyFactQuestion, answer: dict) -> KeyFactResult:
    """Judge one ``medora.answer/1`` answer against one key-fact question."""
    result = KeyFactResult(q.id, verdict=answer.get("verdict"), status=answer.get("status"))
    if q.abstain:
        if not abstained(answer):
            result.reasons.append(f"out of scope but answered (status {answer.get('status')})")
        return result
    if abstained(answer):
        result.reasons.append(f"abstained (status {answer.get('status')})")
    text = "\n".join(lead(answer))
    for n, group in enumerate(q.facts, 1):
        if not any(re.search(p, text, re.IGNORECASE) for p in group):
            result.missed_groups.append(n)
            result.reasons.append(f"fact {n} missing from lead: {' | '.join(group)}")
    if q.verdict is not None and result.verdict != q.verdict:
        result.reasons.append(f"verdict {result.verdict or 'missing'}, expected {q.verdict}")
    bottom = "\n".join(bottom_line(answer))
    for phrase in q.must_not:
        if re.search(phrase, bottom, re.IGNORECASE):
            result.reasons.append(f"bottom line contains {phrase!r}")
    return result


def reason_kinds(results: list[KeyFactResult]) -> dict[str, int]:
    """How many questions failed for each kind of reason (a question can count under several)."""
    kinds: dict[str, int] = {}
    for r in results:
        for kind in sorted({_kind(reason) for reason in r.reasons}):
            kinds[kind] = kinds.get(kind, 0) + 1
    return dict(sorted(kinds.items(), key=lambda kv: -kv[1]))


def _kind(reason: str) -> str:
    if reason.startswith("fact "):
        return "fact missing from lead"
    if reason.startswith("verdict missing"):
        return "verdict missing"
    if reason.startswith("verdict "):
        return "verdict wrong"
    if reason.startswith("bottom line contains"):
        return "must_not in bottom line"
    if reason.startswith("out of scope"):
        return "no abstention"
    return "abstained"


def run_keyfacts(questions: list[KeyFactQuestion], ask: Callable[[str], dict], naive: Callable[[str], dict], *,
                 progress: Callable[[str], None] = lambda m: None, rows: list[dict] | None = None) -> dict:
    """Judge Medora (``ask``) and the baseline (``naive``) on every question; ``rows`` gets one dict each."""
    results: list[KeyFactResult] = []
    naive_results: list[KeyFactResult] = []
    for n, q in enumerate(questions, 1):
        answer = ask(q.question)
        result, baseline = judge(q, answer), judge(q, naive(q.question))
        results.append(result)
        naive_results.append(baseline)
        if rows is not None:
            rows.append({"set": "keyfacts", "id": q.id, "question": q.question, "passed": result.passed,
                         "reasons": result.reasons, "missed_groups": result.missed_groups,
                         "verdict": result.verdict, "expected_verdict": q.verdict, "status": result.status,
                         "abstain_expected": q.abstain, "lead": lead(answer), "source": q.source,
                         "references": [f"{r.get('source')}: {r.get('title')}"
                                        for r in answer.get("references") or []],
                         "naive": {"passed": baseline.passed, "reasons": baseline.reasons}})
        if n % 10 == 0 or n == len(questions):
            progress(f"key facts {n}/{len(questions)}: {sum(r.passed for r in results)} pass")
    passed = sum(r.passed for r in results)
    return {
        "questions": len(questions), "passed": passed, "pass_rate": _ratio(passed, len(questions)),
        "failure_kinds": reason_kinds(results),
        "failures": [{"id": r.id, "question": q.question, "reasons": r.reasons}
                     for q, r in zip(questions, results) if not r.passed],
        "naive": {"passed": sum(r.passed for r in naive_results),
                  "pass_rate": _ratio(sum(r.passed for r in naive_results), len(questions)),
                  "failure_kinds": reason_kinds(naive_results)},
    }


def load_keyfacts(path: Path) -> list[KeyFactQuestion]:
    from medora.eval.answers import read_jsonl

    return [KeyFactQuestion.of(row, path) for row in read_jsonl(path, ("id", "question", "facts"))]


def _ratio(a: int, b: int) -> float:
    return round(a / b, 4) if b else 0.0
