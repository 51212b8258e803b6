"""Train the question-aspect classifier shipped in ``src/medora/answer/data/aspect_model.npz``.

Data: MedQuAD's typed questions (every folder, including the three whose answers were removed
upstream: their questions and types are still there), the same condition types in plain wordings
around MedQuAD's foci (``PLAIN_WORDINGS``), and medicationqa-dev's typed consumer questions, each type mapped onto Medora's aspect taxonomy (``answer/aspect.py``). Features are
the default embedder's question vectors; the model is a softmax regression fitted here with
numpy (class-balanced, L2). MedicationQA is split by a hash of the question id: two thirds train,
one third is held out and reported, as is a held-out fifth of the MedQuAD sample.

    python bench/train_aspect.py [--shared ../shared/data] [--per-class 150] [--out PATH]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from lxml import etree

from medora.answer.aspect import ASPECTS
from medora.retrieve.embeddings import get_embedder
from medora.sources.readers.medquad import _members

DRUG_FOLDERS = ("11_MPlusDrugs_QA", "12_MPlusHerbsSupplements_QA")
MEDQUAD_TYPES = {
    "causes": "cause", "genetic changes": "cause", "complications": "outlook", "considerations": "treatment",
    "exams and tests": "diagnosis", "outlook": "outlook", "prevention": "prevention", "stages": "diagnosis",
    "susceptibility": "risk", "symptoms": "symptoms", "treatment": "treatment", "inheritance": "inheritance",
    "frequency": "frequency", "contraindication": "contraindication", "dietary": "how_to_take", "dose": "dose",
    "emergency or overdose": "overdose", "forget a dose": "how_to_take", "important warning": "warnings",
    "indication": "indication", "precautions": "warnings", "severe reaction": "side_effects",
    "side effects": "side_effects", "storage and disposal": "storage", "usage": "how_to_take",
    "how does it work": "mechanism", "interactions with medications": "interaction",
    "interactions with foods": "interaction", "interactions with herbs and supplements": "interaction",
}
MEDICATIONQA_TYPES = {
    "Information": "information", "Dose": "dose", "Indication": "indication", "Side effects": "side_effects",
    "Usage": "how_to_take", "Appearance": "appearance", "Interaction": "interaction", "Action": "mechanism",
    "Ingredient": "ingredients", "Usage/time": "how_to_take", "Stopping/tapering": "stopping",
    "Action/time": "mechanism", "Storage and disposal": "storage", "Comparison": "comparison",
    "Alternatives": "indication", "Overdose": "overdose", "Contraindication": "contraindication",
    "Usage/duration": "how_to_take", "Dose/time": "dose", "Side effects/time": "side_effects",
    "Stopping/side effects": "stopping", "Dose/Potency": "dose",
}


def medquad_questions(tarball: Path) -> list[tuple[str, str]]:
    out = []
    for member, data in _members(tarball):
        if not member.endswith(".xml"):
            continue
        drug = member.split("/")[0] in DRUG_FOLDERS
        root = etree.fromstring(data)
        for q in root.iter("Question"):
            qtype = (q.get("qtype") or "").lower()
            text = " ".join((q.text or "").split()).rstrip(" ?") + "?"
            aspect = ("information" if drug else "definition") if qtype == "information" else MEDQUAD_TYPES.get(qtype)
            if aspect:
                out.append((text, aspect))
    return out


# Plain wordings of the condition question types, so the model does not learn MedQuAD's templates alone
# ("How to diagnose X ?") and miss how people write them ("How is X diagnosed?"); filled with MedQuAD foci.
PLAIN_WORDINGS = {
    "diagnosis": ("How is {x} diagnosed?", "What tests are used to diagnose {x}?"),
    "treatment": ("How is {x} treated?", "What is the treatment for {x}?"),
    "symptoms": ("What are the signs of {x}?", "How do I know if I have {x}?"),
    "cause": ("Why do people get {x}?", "What is the cause of {x}?"),
    "outlook": ("What is the prognosis of {x}?", "Can you recover from {x}?"),
    "definition": ("What is {x}?", "Can you explain {x}?"),
    "prevention": ("Can {x} be prevented?", "How do I avoid getting {x}?"),
    "inheritance": ("Is {x} hereditary?", "Can {x} be passed from parent to child?"),
    "risk": ("Who gets {x}?", "Am I at risk of {x}?"),
    "frequency": ("How common is {x}?", "How many people have {x}?"),
}


def plain_wordings(tarball: Path, per_aspect: int, rng: random.Random) -> list[tuple[str, str]]:
    foci = sorted({" ".join((f.text or "").split()) for member, data in _members(tarball) if member.endswith(".xml")
                   and member.split("/")[0] not in DRUG_FOLDERS for f in etree.fromstring(data).iter("Focus")} - {""})
    out = []
    for aspect, templates in PLAIN_WORDINGS.items():
        for focus in rng.sample(foci, per_aspect):
            out.append((rng.choice(templates).format(x=focus), aspect))
    return out


def held_out(key: str, share: float) -> bool:
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < share


def fit(X: np.ndarray, y: np.ndarray, weights: np.ndarray, n_labels: int, l2: float = 1e-4,
        steps: int = 3000, lr: float = 30.0) -> tuple[np.ndarray, np.ndarray]:
    """Class-weighted softmax regression by full-batch gradient descent (``weights`` sum to 1, so the
    step is large; unit-length inputs need large weights before the probabilities mean anything)."""
    W = np.zeros((n_labels, X.shape[1]), dtype=np.float64)
    b = np.zeros(n_labels)
    Y = np.eye(n_labels)[y]
    w = weights / weights.sum()
    for _ in range(steps):
        logits = X @ W.T + b
        logits -= logits.max(axis=1, keepdims=True)
        P = np.exp(logits)
        P /= P.sum(axis=1, keepdims=True)
        G = (P - Y) * w[:, None]
        W -= lr * (G.T @ X + l2 * W)
        b -= lr * G.sum(axis=0)
    return W.astype(np.float32), b.astype(np.float32)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
    ap.add_argument("--per-class", type=int, default=150)
    ap.add_argument("--out", type=Path,
                    default=Path(__file__).resolve().parents[1] / "src/medora/answer/data/aspect_model.npz")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--plain-per-aspect", type=int, default=40, help="plain-worded questions per condition aspect")
    ap.add_argument("--lr", type=float, default=30.0)
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "medora" / "bench",
                    help="question vectors are kept here between runs")
    args = ap.parse_args()
    rng = random.Random(13)
    t0 = time.time()
    by_aspect: dict[str, list[str]] = {}
    for text, aspect in medquad_questions(args.shared / "sources/medquad/MedQuAD-577bd37.tar.gz"):
        by_aspect.setdefault(aspect, []).append(text)
    medquad = []
    for aspect, texts in sorted(by_aspect.items()):
        texts = sorted(set(texts))
        rng.shuffle(texts)
        medquad += [(t, aspect) for t in texts[: args.per_class]]
    mqa = []
    for line in (args.shared / "eval/medicationqa-dev/questions.jsonl").open(encoding="utf-8"):
        row = json.loads(line)
        aspect = MEDICATIONQA_TYPES.get(row["question_type"])
        if aspect:
            mqa.append((row["id"], row["question"], aspect))
    medquad += plain_wordings(args.shared / "sources/medquad/MedQuAD-577bd37.tar.gz", args.plain_per_aspect, rng)
    mq_train = [(t, a) for i, t, a in mqa if not held_out(i, 1 / 3)]
    mq_test = [(t, a) for i, t, a in mqa if held_out(i, 1 / 3)]
    mdq_test = [(t, a) for t, a in medquad if held_out(t, 0.2)]
    mdq_train = [(t, a) for t, a in medquad if not held_out(t, 0.2)]
    labels = [a for a in ASPECTS if any(a == x for _, x in mdq_train + mq_train)]
    index = {a: i for i, a in enumerate(labels)}
    embedder = get_embedder("minilm")
    print(f"embedding {len(medquad) + len(mqa)} questions with {embedder.model_id} …", file=sys.stderr)

    cache: dict[str, np.ndarray] = {}
    cache_path = args.cache / f"aspect-questions-{embedder.model_id.replace('/', '_').replace(':', '_')}.npz"
    if cache_path.is_file():
        with np.load(cache_path) as data:
            cache = dict(zip([str(t) for t in data["texts"]], data["vectors"]))

    def embed(rows):
        for t, _ in rows:
            if t not in cache:
                cache[t] = embedder.embed_query(t)
        return np.stack([cache[t] for t, _ in rows]).astype(np.float64)

    X_mdq, X_mq = embed(mdq_train), embed(mq_train)
    X = np.vstack([X_mdq, X_mq])
    y = np.array([index[a] for _, a in mdq_train + mq_train])
    source_weight = np.array([1.0] * len(mdq_train) + [4.0] * len(mq_train))  # real questions count more
    counts = Counter(y.tolist())
    weights = source_weight / np.array([counts[v] for v in y])
    W, b = fit(X, y, weights, len(labels), steps=args.steps, lr=args.lr)
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(cache_path, texts=np.array(list(cache)), vectors=np.stack(list(cache.values())))

    def accuracy(rows):
        if not rows:
            return float("nan"), 0
        P = embed(rows) @ W.T + b
        pred = [labels[i] for i in P.argmax(axis=1)]
        return sum(p == a for p, (_, a) in zip(pred, rows)) / len(rows), len(rows)

    acc_mq, n_mq = accuracy(mq_test)
    P_mq = embed(mq_test) @ W.T + b
    P_mq = np.exp(P_mq - P_mq.max(axis=1, keepdims=True))
    mean_top = float((P_mq / P_mq.sum(axis=1, keepdims=True)).max(axis=1).mean())
    acc_mdq, n_mdq = accuracy(mdq_test)
    majority = Counter(a for _, a in mq_test).most_common(1)[0][1] / max(1, len(mq_test))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, W=W, b=b, labels=np.array(labels), model_id=np.array(embedder.model_id))
    print(json.dumps({
        "labels": len(labels), "train": {"medquad": len(mdq_train), "medicationqa": len(mq_train)},
        "held_out_accuracy": {"medicationqa_dev_third": round(acc_mq, 3), "n": n_mq,
                              "majority_class_baseline": round(majority, 3),
                              "medquad_fifth": round(acc_mdq, 3), "n_medquad": n_mdq,
                              "mean_top_probability_medicationqa": round(mean_top, 3)},
        "seconds": round(time.time() - t0, 1), "out": str(args.out),
    }, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
