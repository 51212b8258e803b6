"""Fit the sentence-selection weights (``answer/select.py``) on data instead of by hand.

Each training question runs through the answer chain's own steps (safety, retrieve, frame,
anchor, candidates) on a library; every candidate sentence keeps its feature vector, and its label
says whether it answers the question:

- MedQuAD (``medquad-qa-1k``): the sentence is one of that question's own answer (token F1 >= 0.8
  with a sentence of it); the other candidates (the same document's other answers, other pages) are
  the negatives.
- MedicationQA (``medicationqa-dev``): the sentence quotes the pharmacist's gold answer (token F1
  >= 0.6, the eval's definition); only questions with at least one such candidate count.

The model is a conditional logit over each question's candidates (softmax of w·x, the chance mass
on the positives maximised, the two sets weighing the same, L2, w >= 0 so that scores stay positive for the relative thresholds of
the bottom line), fitted with plain gradient steps in numpy. Meaning (cosine to the question) is
computed for the ``MEANING_TOP`` candidates with the best score before meaning, the way ``ask``
shortlists, and only those enter a group. Held out: a fifth of MedQuAD and a third of
MedicationQA, split by a hash of the question id (as ``train_aspect.py`` splits). Reported: P@1
(the top-scored candidate is a positive) and MRR for the hand weights and the fitted ones.

    python bench/fit_selection.py --library ~/medora-eval/library.db [--medquad 400] [--write]

``--write`` stores the weights in src/medora/answer/data/selection_weights.json, which
``SelectionWeights`` reads. Features are cached in ~/.cache/medora/bench/ by library and question.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from medora.answer.audience import profile
from medora.answer.compose import anchor_evidence, check_safety, frame_question
from medora.answer.select import FEATURES, HAND_WEIGHTS, frame_candidates
from medora.answer.semantic import question_vector, similarities
from medora.eval.quotes import gold_sentences, token_f1, words
from medora.library.open import open_store
from medora.retrieve.search import Retriever
from medora.settings import Settings

sys.path.insert(0, str(Path(__file__).parent))
from train_aspect import held_out  # noqa: E402  (the same split as the aspect model)

EVAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "eval"
OUT = Path(__file__).resolve().parents[1] / "src" / "medora" / "answer" / "data" / "selection_weights.json"
CACHE = Path.home() / ".cache" / "medora" / "bench"
MEANING_TOP = 48
OWN_F1 = 0.8  # a MedQuAD candidate is its question's own answer sentence
GOLD_F1 = 0.6  # a MedicationQA candidate quotes the gold answer (the eval's threshold)


def medquad_questions(limit: int) -> list[dict]:
    answers = {}
    with (EVAL / "medquad-qa-1k" / "corpus.jsonl").open() as fh:
        for line in fh:
            row = json.loads(line)
            answers[row["_id"]] = row["text"]
    out = []
    with (EVAL / "medquad-qa-1k" / "queries.jsonl").open() as fh:
        for line in fh:
            row = json.loads(line)
            if row["_id"] in answers:
                out.append({"id": row["_id"], "set": "medquad", "question": row["text"],
                            "gold": gold_sentences(answers[row["_id"]]), "threshold": OWN_F1})
    return out[:limit]


def medicationqa_questions() -> list[dict]:
    out = []
    with (EVAL / "medicationqa-dev" / "questions.jsonl").open() as fh:
        for line in fh:
            row = json.loads(line)
            gold = gold_sentences(row.get("answer") or "")
            if gold:
                out.append({"id": row["id"], "set": "medicationqa", "question": row["question"], "gold": gold,
                            "threshold": GOLD_F1})
    return out


def candidate_rows(store, retriever, settings, q: dict) -> tuple[np.ndarray, np.ndarray]:
    """(features, labels) of one question's shortlisted candidates, through the chain's own steps."""
    prof = profile("clinician")
    asked = check_safety(q["question"], prof)
    retrieval = retriever.search(asked.search_text, k=settings.top_k, preference=prof.source_preference)
    frame = frame_question(store, asked.search_text, retrieval.question)
    evidence = anchor_evidence(store, retriever, frame, asked.search_text, retrieval.hits, settings, prof)
    pool = frame_candidates(evidence, frame, retrieval.weights, None)[:MEANING_TOP]  # before meaning
    if not pool:
        return np.zeros((0, len(FEATURES))), np.zeros(0)
    qv = question_vector(asked.search_text)
    for c, sim in zip(pool, similarities(qv, [c.text for c in pool])):
        c.features["meaning"] = sim
    golds = [Counter(words(g)) for g in q["gold"]]
    labels = [max(token_f1(Counter(words(c.text)), g) for g in golds) >= q["threshold"] for c in pool]
    return (np.array([[c.features.get(f, 0.0) for f in FEATURES] for c in pool], dtype=np.float64),
            np.array(labels, dtype=np.float64))


def collect(library: str, questions: list[dict]) -> list[dict]:
    key = hashlib.sha256((Path(library).resolve().as_posix() + str(Path(library).stat().st_mtime)
                          + ",".join(FEATURES) + str(MEANING_TOP)).encode()).hexdigest()[:12]
    cache_file = CACHE / f"selection-features-{key}.json"
    cache = json.loads(cache_file.read_text()) if cache_file.exists() else {}
    store = open_store(library, create=False)
    settings = Settings(library=library)
    retriever = Retriever(store, mode=settings.retrieval, embedder_spec=settings.embedder,
                          normalize=settings.question_step_set)
    started = time.perf_counter()
    groups = []
    for i, q in enumerate(questions, 1):
        if q["id"] not in cache:
            X, y = candidate_rows(store, retriever, settings, q)
            cache[q["id"]] = {"X": X.tolist(), "y": y.tolist()}
        row = cache[q["id"]]
        groups.append({**q, "X": np.array(row["X"]).reshape(-1, len(FEATURES)), "y": np.array(row["y"])})
        if i % 25 == 0:
            print(f"  {i}/{len(questions)} questions, {time.perf_counter() - started:.0f} s", file=sys.stderr)
            CACHE.mkdir(parents=True, exist_ok=True)
            cache_file.write_text(json.dumps(cache))
    CACHE.mkdir(parents=True, exist_ok=True)
    cache_file.write_text(json.dumps(cache))
    return groups


def fit(groups: list[dict], l2: float = 1e-3, steps: int = 3000, lr: float = 0.5) -> np.ndarray:
    """Conditional logit with w >= 0: maximise the softmax mass on each group's positives."""
    w = np.array([HAND_WEIGHTS[f] for f in FEATURES])
    per_set = Counter(g["set"] for g in groups)  # each set weighs the same, however many questions it has
    share = {name: 1.0 / (len(per_set) * n) for name, n in per_set.items()}
    for _ in range(steps):
        grad = l2 * w
        for g in groups:
            s = g["X"] @ w
            p = np.exp(s - s.max())
            p /= p.sum()
            pos = g["y"] > 0
            q = p * pos / (p[pos].sum())
            grad -= share[g["set"]] * ((q - p) @ g["X"])
        w = np.maximum(w - lr * grad, 0.0)
    return w


def ranking(groups: list[dict], w: np.ndarray) -> dict:
    p1 = mrr = 0.0
    for g in groups:
        order = np.argsort(-(g["X"] @ w), kind="stable")
        first = next(i for i, j in enumerate(order) if g["y"][j] > 0)
        p1 += first == 0
        mrr += 1.0 / (first + 1)
    n = len(groups)
    return {"n": n, "p_at_1": round(p1 / n, 3) if n else None, "mrr": round(mrr / n, 3) if n else None}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--library", required=True)
    ap.add_argument("--medquad", type=int, default=400, help="MedQuAD questions to use (default 400)")
    ap.add_argument("--write", action="store_true", help="store the fitted weights for SelectionWeights")
    args = ap.parse_args()
    questions = medquad_questions(args.medquad) + medicationqa_questions()
    groups = [g for g in collect(args.library, questions) if g["y"].any() and not g["y"].all()]
    test = [g for g in groups if held_out(g["id"], 0.2 if g["set"] == "medquad" else 1 / 3)]
    train = [g for g in groups if g not in test]
    hand = np.array([HAND_WEIGHTS[f] for f in FEATURES])
    fitted = fit(train)
    fitted *= hand.sum() / max(fitted.sum(), 1e-9)  # the hand weights' scale, for the audience terms beside them
    report = {"features": list(FEATURES), "fitted": dict(zip(FEATURES, np.round(fitted, 3).tolist())),
              "hand": dict(zip(FEATURES, hand.tolist())), "library": Path(args.library).name,
              "questions": {"train": Counter(g["set"] for g in train), "held_out": Counter(g["set"] for g in test)},
              "date": time.strftime("%Y-%m-%d"), "meaning_top": MEANING_TOP}
    for name, rows in (("train", train), ("held_out", test)):
        for subset in ("medquad", "medicationqa"):
            part = [g for g in rows if g["set"] == subset]
            report[f"{name}.{subset}"] = {"hand": ranking(part, hand), "fitted": ranking(part, fitted)}
    print(json.dumps(report, indent=1, default=dict))
    if args.write:
        OUT.write_text(json.dumps({k: report[k] for k in report}, indent=1, default=dict) + "\n")
        print(f"wrote {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
