"""Statement matcher for answer evaluation: does an answer statement support a reference claim?

A claim (a K-QA must-have statement) is *covered* by an answer statement when the two are
close in meaning (embedding cosine, when an embedder is given) and in words (share of the
claim's content stems found in the statement), and they agree on numbers (every number in
the claim appears in the statement) and on negation (clause by clause: both negated or
neither). A claim is
*contradicted* (a proxy) when a statement passes the same closeness gates, shares at least
half of the claim's words, and flips its negation or states different numbers.

The two thresholds are chosen on physicians' entailment labels (K-QA
``nli_physician_labels.csv``) by grouped cross-validation; ``calibrate`` reports the matcher's
out-of-fold agreement with the physicians.
"""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from medora.errors import ReaderError
from medora.library.sentences import split_sentences
from medora.retrieve.query import STOPWORDS, light_stem, tokenize

if TYPE_CHECKING:
    import numpy as np

    from medora.retrieve.embeddings import Embedder

_NEGATION = re.compile(r"\b(?:not|no|never|none|neither|nor|cannot)\b|n't\b", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![\w.])\d+(?:,\d{3})*(?:\.\d+)?")
#: Clause boundaries inside a sentence: punctuation (not a decimal or thousands separator) and
#: conjunctions that open a clause of their own polarity ("..., but no study showed harm").
_CLAUSE = re.compile(r"[;:]|,(?!\d)|\.\s|\s(?:but|although|though|whereas|while|however|which|except)\b",
                     re.IGNORECASE)

SIMILARITY_GRID = tuple(round(0.30 + 0.025 * i, 3) for i in range(25))  # 0.30 .. 0.90
LEXICAL_GRID = tuple(round(0.05 * i, 2) for i in range(17))  # 0.00 .. 0.80
FOLDS = 5
NLI_COLUMNS = ("Question", "answer", "claim", "majority_label")
#: A contradiction needs high topical overlap as well: at least half of the claim's content words.
CONTRADICTION_LEXICAL = 0.5


def numbers(text: str) -> frozenset[str]:
    """Numbers written in digits, normalised: "1,000" -> "1000", "2.50" -> "2.5"."""
    out = set()
    for raw in _NUMBER.findall(text):
        value = raw.replace(",", "")
        if "." in value:
            value = value.rstrip("0").rstrip(".")
        out.add(value)
    return frozenset(out)


def negated(text: str) -> bool:
    """Whether the text carries an explicit negation (not, no, never, cannot, -n't...)."""
    return bool(_NEGATION.search(text.replace("\u2019", "'")))


def content_stems(text: str) -> frozenset[str]:
    """Light stems of the text's non-stopword words."""
    out = set()
    for token in tokenize(text):
        for part in re.split(r"[-']", token):
            if part and part not in STOPWORDS:
                out.add(light_stem(part))
    return frozenset(out)


@dataclass(frozen=True)
class Clause:
    stems: frozenset[str]
    negated: bool


@dataclass(frozen=True)
class Text:
    """A claim or statement with the features the matcher compares."""

    text: str
    stems: frozenset[str]
    numbers: frozenset[str]
    clauses: tuple[Clause, ...]

    @classmethod
    def of(cls, text: str) -> Text:
        clauses = tuple(Clause(content_stems(part), negated(part)) for part in _CLAUSE.split(text) if part.strip())
        return cls(text, content_stems(text), numbers(text), clauses)


def negation_agrees(claim: Text, statement: Text) -> bool:
    """Each clause of the claim has the same polarity as the statement clause that shares most of its words.

    Clause by clause, so that "..., but no study showed harm" does not flip a sentence whose
    first clause says what the claim says.
    """
    for cc in claim.clauses:
        if not cc.stems or not statement.clauses:
            continue
        overlap = [len(cc.stems & sc.stems) for sc in statement.clauses]
        best = max(overlap)
        if not any(sc.negated == cc.negated for sc, n in zip(statement.clauses, overlap) if n == best):
            return False
    return True


@dataclass(frozen=True)
class PairFeatures:
    similarity: float  # embedding cosine; 1.0 when matching lexically only
    lexical: float  # share of the claim's content stems found in the statement
    numbers_agree: bool  # every number of the claim is in the statement
    numbers_conflict: bool  # both state numbers and the claim's are not all in the statement
    negation_agree: bool


def pair_features(claim: Text, statement: Text, similarity: float) -> PairFeatures:
    lexical = len(claim.stems & statement.stems) / len(claim.stems) if claim.stems else 0.0
    agree = claim.numbers <= statement.numbers
    return PairFeatures(similarity, lexical, agree, bool(statement.numbers) and not agree,
                        negation_agrees(claim, statement))


@dataclass(frozen=True)
class Thresholds:
    similarity: float | None  # None: lexical only
    lexical: float

    def close(self, f: PairFeatures) -> bool:
        """The topical gate shared by coverage and contradiction."""
        return (self.similarity is None or f.similarity >= self.similarity) and f.lexical >= self.lexical

    def supports(self, f: PairFeatures) -> bool:
        return self.close(f) and f.numbers_agree and f.negation_agree

    def contradicts(self, f: PairFeatures) -> bool:
        return (self.close(f) and f.lexical >= CONTRADICTION_LEXICAL
                and (not f.negation_agree or f.numbers_conflict))


@dataclass
class Judgement:
    """What the matcher decided for one claim against a list of statements."""

    claim: str
    covered: bool
    contradicted: bool
    covered_by: int | None = None  # index of the first supporting statement
    contradicted_by: int | None = None


class Matcher:
    """Compares claims with statements; embeddings are cached by text."""

    def __init__(self, embedder: Embedder | None, thresholds: Thresholds | None = None):
        self.embedder = embedder
        self.thresholds = thresholds
        self._vectors: dict[str, np.ndarray] = {}

    @property
    def mode(self) -> str:
        return f"embedding ({self.embedder.model_id}) + lexical" if self.embedder else "lexical only"

    def features(self, claims: list[str], statements: list[str]) -> list[list[PairFeatures]]:
        """Features of every (claim, statement) pair: one row per claim."""
        sims = self._similarities(claims, statements)
        c_texts, s_texts = [Text.of(c) for c in claims], [Text.of(s) for s in statements]
        return [[pair_features(c, s, sims[i][j]) for j, s in enumerate(s_texts)] for i, c in enumerate(c_texts)]

    def judge(self, claims: list[str], statements: list[str]) -> list[Judgement]:
        if self.thresholds is None:
            raise ValueError("the matcher has no thresholds yet: calibrate it first")
        out = []
        for claim, row in zip(claims, self.features(claims, statements)):
            support = next((j for j, f in enumerate(row) if self.thresholds.supports(f)), None)
            against = next((j for j, f in enumerate(row) if self.thresholds.contradicts(f)), None)
            out.append(Judgement(claim, support is not None, against is not None, support, against))
        return out

    def _similarities(self, claims: list[str], statements: list[str]) -> list[list[float]]:
        if self.embedder is None or not claims or not statements:
            return [[1.0] * len(statements) for _ in claims]
        missing = list(dict.fromkeys(t for t in claims + statements if t not in self._vectors))
        if missing:
            self._vectors.update(zip(missing, self.embedder.embed_passages(missing)))
        return [[float(self._vectors[c] @ self._vectors[s]) for s in statements] for c in claims]


# --------------------------------------------------------------------------------- calibration


@dataclass(frozen=True)
class LabelledPair:
    """One physician-labelled (answer, claim) pair."""

    question: str
    answer: str
    claim: str
    label: str  # "entailment" | "neutral" | "contradiction" (the physicians' majority)


@dataclass
class Agreement:
    """Binary agreement with the physicians on one label (positive class)."""

    pairs: int
    accuracy: float
    precision: float
    recall: float
    predicted: int
    actual: int

    @classmethod
    def of(cls, predicted: list[bool], actual: list[bool]) -> Agreement:
        tp = sum(p and a for p, a in zip(predicted, actual))
        correct = sum(p == a for p, a in zip(predicted, actual))
        n_pred, n_act = sum(predicted), sum(actual)
        return cls(len(actual), _ratio(correct, len(actual)), _ratio(tp, n_pred), _ratio(tp, n_act), n_pred, n_act)


@dataclass
class Calibration:
    """Chosen thresholds and how well the matcher then agrees with the physicians."""

    mode: str
    thresholds: Thresholds
    cross_validated: Agreement  # out-of-fold predictions, thresholds chosen on the other folds
    fitted: Agreement  # thresholds chosen on all pairs, scored on the same pairs (optimistic)
    contradiction: Agreement  # the contradiction proxy against the physicians' contradiction label
    physicians: float  # mean pairwise agreement between the three physicians on "entailment"
    fold_thresholds: list[Thresholds] = field(default_factory=list)


def load_nli_labels(path: Path) -> tuple[list[LabelledPair], float]:
    """The labelled pairs of K-QA's nli_physician_labels.csv, and the physicians' mutual agreement."""
    try:
        with Path(path).open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ReaderError(path, f"cannot read the labels ({exc})") from None
    if not rows or any(col not in rows[0] for col in NLI_COLUMNS):
        raise ReaderError(path, f"expected CSV columns {', '.join(NLI_COLUMNS)}")
    pairs = [LabelledPair(r["Question"], r["answer"], r["claim"].strip(), r["majority_label"].strip().lower())
             for r in rows]
    raters = [k for k in rows[0] if k.startswith("label_")]
    agreements = [sum((r[a] == "Entailment") == (r[b] == "Entailment") for r in rows) / len(rows)
                  for i, a in enumerate(raters) for b in raters[i + 1:]]
    return pairs, round(sum(agreements) / len(agreements), 4) if agreements else float("nan")


def calibrate(pairs: list[LabelledPair], matcher: Matcher, physicians: float = float("nan")) -> Calibration:
    """Choose (similarity, lexical) thresholds by accuracy on "entailment"; cross-validate by question.

    Each answer is split into sentences (Medora's statements are sentences); a claim is
    predicted entailed when some sentence supports it. Ties go to the strictest thresholds.
    """
    import numpy as np

    sim_grid = SIMILARITY_GRID if matcher.embedder else (None,)
    rows = [matcher.features([p.claim], _sentences(p.answer))[0] for p in pairs]
    supports = np.array([_grid_supports(row, sim_grid) for row in rows])
    truth = np.array([p.label == "entailment" for p in pairs])
    folds = question_folds(pairs)
    out_of_fold = np.zeros(len(pairs), dtype=bool)
    chosen = []
    for k in range(FOLDS):
        train = folds != k
        i, j = _best(supports[train], truth[train])
        chosen.append(Thresholds(sim_grid[i], LEXICAL_GRID[j]))
        out_of_fold[~train] = supports[~train, i, j]
    i, j = _best(supports, truth)
    final = Thresholds(sim_grid[i], LEXICAL_GRID[j])
    contradicted = [any(final.contradicts(f) for f in row) for row in rows]
    return Calibration(
        mode=matcher.mode,
        thresholds=final,
        cross_validated=Agreement.of(out_of_fold.tolist(), truth.tolist()),
        fitted=Agreement.of(supports[:, i, j].tolist(), truth.tolist()),
        contradiction=Agreement.of(contradicted, [p.label == "contradiction" for p in pairs]),
        physicians=physicians,
        fold_thresholds=chosen,
    )


def _grid_supports(row: list[PairFeatures], sim_grid: tuple) -> np.ndarray:
    """(similarity, lexical) grid of whether some statement of ``row`` supports the claim."""
    import numpy as np

    sims = np.array([[-np.inf if s is None else s for s in sim_grid]])
    lex = np.array([LEXICAL_GRID])
    out = np.zeros((len(sim_grid), len(LEXICAL_GRID)), dtype=bool)
    for f in row:
        if f.numbers_agree and f.negation_agree:
            out |= (f.similarity >= sims.T) & (f.lexical >= lex)
    return out


def _best(supports: np.ndarray, truth: np.ndarray) -> tuple[int, int]:
    """Grid indexes of the most accurate thresholds; the strictest among equals."""
    import numpy as np

    accuracy = (supports == truth[:, None, None]).mean(axis=0)
    best = np.argwhere(accuracy == accuracy.max())
    i, j = max(map(tuple, best))  # highest similarity, then highest lexical threshold
    return int(i), int(j)


def question_folds(pairs: list[LabelledPair]) -> np.ndarray:
    """Fold of each pair: all pairs of one question share a fold (assigned by a hash, deterministic)."""
    import numpy as np

    questions = sorted({p.question for p in pairs}, key=lambda q: hashlib.sha256(q.encode()).hexdigest())
    fold_of = {q: n % FOLDS for n, q in enumerate(questions)}
    return np.array([fold_of[p.question] for p in pairs])


def _sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text)]


def _ratio(a: int, b: int) -> float:
    return round(a / b, 4) if b else 0.0
