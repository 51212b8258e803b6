"""MedicationQA dev: does the answer quote the sentence an NLM pharmacist quoted?

For each real consumer medication question, a gold-sentence hit is some statement of the
answer quoting a gold sentence (``eval/quotes.py``), a bottom-line hit the same for the
bottom line alone. Many gold answers come from pages the library does not hold, so rates are
given on the answerable subset (``eval/answerable.py``), on its stricter part that the focus
drug's own documents can answer, and overall, for Medora and for the naive baseline
(``eval/naive.py``) answering the same questions in the same run.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import Callable

from medora.eval.answerable import CANDIDATES, FOCUS_DOCUMENTS, LibraryQuote
from medora.eval.lead import bottom_line, statements
from medora.eval.quotes import F1_HIT, MIN_WORDS, best_quote, gold_sentences

REQUIRED = ("id", "question", "answer")


@dataclass
class QuoteTally:
    questions: int = 0
    hits: int = 0
    bottom_line_hits: int = 0

    def add(self, hit: bool, bottom: bool) -> None:
        self.questions += 1
        self.hits += hit
        self.bottom_line_hits += bottom

    def report(self) -> dict:
        return {"questions": self.questions, "hits": self.hits, "bottom_line_hits": self.bottom_line_hits,
                "hit_rate": _ratio(self.hits, self.questions),
                "bottom_line_hit_rate": _ratio(self.bottom_line_hits, self.questions)}


def score_quotes(answer: dict, gold: list[str]) -> dict:
    """Hit and bottom-line hit of one ``medora.answer/1`` answer against the gold sentences."""
    every, bottom = best_quote(statements(answer), gold), best_quote(bottom_line(answer), gold)
    return {"status": answer.get("status"), "hit": every.hit, "bottom_line_hit": bottom.hit,
            "f1": round(every.f1, 4), "statement": every.text, "gold": every.gold,
            "statement_index": every.index, "bottom_line": bottom_line(answer)}


def run_medicationqa(questions: list[dict], library: dict[str, LibraryQuote], ask: Callable[[str], dict],
                     naive: Callable[[str], dict], *, progress: Callable[[str], None] = lambda m: None,
                     rows: list[dict] | None = None) -> dict:
    """Score Medora (``ask``) and the baseline (``naive``) on every question; ``rows`` gets one dict each."""
    tallies = {who: {"answerable": QuoteTally(), "answerable_from_focus": QuoteTally(), "overall": QuoteTally()}
               for who in ("medora", "naive")}
    status: Counter = Counter()
    by_type: dict[str, Counter] = {}
    with_gold = 0
    for n, q in enumerate(questions, 1):
        qid = str(q["id"])
        gold = gold_sentences(str(q["answer"]))
        with_gold += bool(gold)
        quote = library.get(qid, LibraryQuote(0.0))
        scored = {"medora": score_quotes(ask(q["question"]), gold), "naive": score_quotes(naive(q["question"]), gold)}
        status[scored["medora"]["status"]] += 1
        kind = by_type.setdefault(str(q.get("question_type") or "unknown"), Counter())
        kind["questions"] += 1
        for who, s in scored.items():
            tallies[who]["overall"].add(s["hit"], s["bottom_line_hit"])
            if quote.answerable:
                tallies[who]["answerable"].add(s["hit"], s["bottom_line_hit"])
                kind[f"{who}_hits"] += s["hit"]
            if quote.answerable_from_focus:
                tallies[who]["answerable_from_focus"].add(s["hit"], s["bottom_line_hit"])
        kind["answerable"] += quote.answerable
        if rows is not None:
            rows.append({"set": "medicationqa", "id": qid, "question": q["question"],
                         "question_type": q.get("question_type"), "focus_drug": q.get("focus_drug"),
                         "gold_sentences": gold, "answerable": quote.answerable,
                         "answerable_from_focus": quote.answerable_from_focus,
                         "library_best": {**asdict(quote), "f1": round(quote.f1, 4),
                                          "focus_f1": round(quote.focus_f1, 4)}, **scored})
        if n % 25 == 0 or n == len(questions):
            m = tallies["medora"]["answerable"]
            progress(f"MedicationQA {n}/{len(questions)}: Medora hits {m.hits}/{m.questions} answerable so far")
    quotes = [library.get(str(q["id"]), LibraryQuote(0.0)) for q in questions]
    answerable, from_focus = sum(x.answerable for x in quotes), sum(x.answerable_from_focus for x in quotes)
    return {
        "questions": len(questions), "with_gold_sentence": with_gold, "answerable": answerable,
        "answerable_share": _ratio(answerable, len(questions)),
        "answerable_from_focus": from_focus, "answerable_from_focus_share": _ratio(from_focus, len(questions)),
        "definition": {"f1": F1_HIT, "min_words": MIN_WORDS, "candidates_per_gold_sentence": CANDIDATES,
                       "focus_documents_searched": FOCUS_DOCUMENTS},
        "status": dict(status),
        **{who: {k: t.report() for k, t in parts.items()} for who, parts in tallies.items()},
        "by_type": {k: dict(v) for k, v in sorted(by_type.items(), key=lambda kv: -kv[1]["answerable"])},
    }


def _ratio(a: int, b: int) -> float:
    return round(a / b, 4) if b else 0.0
