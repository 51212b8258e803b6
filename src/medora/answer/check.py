"""The claim checker for generated mode: keep a generated sentence only if a passage it cites says it.

For each statement and each passage it cites, every window of one or two adjacent sentences
of the passage is tested:

* lexical support — the share of the statement's content words found in the window (the
  document title and section headings may name the subject), and a minimum share in the window alone;
* embedding support (when an embedder is given) — cosine similarity rescues paraphrases whose
  wording drifts, never a failed hard check;
* hard checks — every number in the statement appears in the window with the same unit, and
  each clause of the statement agrees with the window's clause that shares most of its words on
  negation ("not recommended" vs "recommended", "no increase" vs "increase") and on
  increase/decrease wording;
* sentences that read as instructions to an AI model never count as support.

A statement with no citation, with a citation number that was not offered, or with no
supporting window in any cited passage is dropped with a reason. Kept statements carry, per
supporting passage, the best window as an exact quote with offsets. Deterministic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from medora.answer.generate import GeneratedStatement, NumberedPassage, instruction_like
from medora.models import Citation, GenerationReport, SearchHit
from medora.retrieve.query import STOPWORDS, light_stem

if TYPE_CHECKING:
    import numpy as np

    from medora.retrieve.embeddings import Embedder

LEXICAL_MIN = 0.7  # share of content words in window + title/headings, for lexical support alone
WINDOW_MIN = 0.5  # share that must be in the quoted window itself
SEMANTIC_LEXICAL_MIN = 0.5  # with an embedder, a paraphrase needs this much lexical support ...
SEMANTIC_MIN = 0.75  # ... and this cosine similarity
MIN_CONTENT_WORDS = 3
CLAUSE_OVERLAP_MIN = 2  # shared content words that make a source clause the counterpart of a claim clause
DUPLICATE_JACCARD = 0.8

# ------------------------------------------------------------------------------ text features

_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*|[,;:.!?()]")
_CLAUSE_BREAK = frozenset(", ; . ! ? ( ) but however although though whereas while except unless".split())
_NEGATION = frozenset("not no never without none neither nor cannot non avoid".split())
_UP_WORDS = frozenset("higher greater more above exceed exceeds exceeded".split())
_DOWN_WORDS = frozenset("lower less fewer smaller below".split())
_UP_PREFIXES = ("increas", "rais", "elevat", "rise", "rising", "rose", "boost")
_DOWN_PREFIXES = ("decreas", "reduc", "lowers", "lowered", "lowering", "declin", "drop", "fall", "fell", "diminish")
_EXACT_WORDS = frozenset("once twice thrice single double half daily weekly monthly hourly nightly".split())
_NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
_TENS = "thirty forty fifty sixty seventy eighty ninety".split()
_NUMBER_WORDS.update({w: str(10 * i) for i, w in enumerate(_TENS, 3)})

_N = r"\d+(?:,\d{3})*(?:\.\d+)?"
_UNIT_FORMS = {
    "%": "%", "percent": "%", "per cent": "%",
    "mg/dl": "mg/dl", "mg/kg": "mg/kg", "mmol/l": "mmol/l", "ml/min": "ml/min", "mg/day": "mg/day",
    "mcg": "mcg", "µg": "mcg", "μg": "mcg", "micrograms": "mcg", "microgram": "mcg",
    "mg": "mg", "milligrams": "mg", "milligram": "mg", "g": "g", "grams": "g", "gram": "g", "kg": "kg",
    "ml": "ml", "l": "l", "iu": "iu", "units": "unit", "unit": "unit",
    "hours": "h", "hour": "h", "hrs": "h", "hr": "h", "h": "h", "minutes": "min", "minute": "min", "min": "min",
    "days": "day", "day": "day", "weeks": "week", "week": "week", "months": "month", "month": "month",
    "years": "year", "year": "year", "times": "times", "tablets": "tablet", "tablet": "tablet",
    "capsules": "capsule", "capsule": "capsule", "doses": "dose", "dose": "dose",
}
_UNITS = "|".join(re.escape(u) for u in sorted(_UNIT_FORMS, key=len, reverse=True))
_QUANTITY = re.compile(
    rf"(?<![\w.,])(?P<a>{_N})(?:\s*(?:-|–|to)\s*(?P<b>{_N}))?(?:\s*(?P<unit>{_UNITS})(?![^\W\d_]))?(?![^\W_])",
    re.IGNORECASE,
)


def _tokens(text: str) -> list[str]:
    return [t.lower().replace("’", "'") for t in _TOKEN.findall(text)]


def _norm(token: str) -> str:
    """light_stem plus a final e/y strip, so increase/increased and therapy/therapies meet."""
    s = light_stem(token)
    return s[:-1] if len(s) > 4 and s[-1] in "ey" else s


def _is_content(token: str) -> bool:
    return (len(token) > 1 and token[0].isalnum() and not token.replace(".", "").isdigit()
            and token not in STOPWORDS and token not in _NEGATION and not token.endswith("n't"))


def content_stems(text: str) -> set[str]:
    return {_norm(t) for t in _tokens(text) if _is_content(t)}


@dataclass(frozen=True)
class Clause:
    """A clause's content stems, whether a negation cue governs it, and its increase/decrease wording."""

    stems: frozenset[str]
    negated: bool
    directions: frozenset[str]
    text: str


def clauses(text: str) -> list[Clause]:
    """Split at clause breaks (punctuation, but/however/although...) and read each clause's features."""
    out: list[Clause] = []
    current: list[str] = []
    for t in _tokens(text.replace("\n", " . ")) + ["."]:
        if t not in _CLAUSE_BREAK:
            current.append(t)
            continue
        if current:
            out.append(Clause(frozenset(_norm(w) for w in current if _is_content(w)),
                              any(w in _NEGATION or w.endswith("n't") for w in current),
                              frozenset(d for w in current if (d := _direction(w))), " ".join(current)))
        current = []
    return out


def _direction(token: str) -> str | None:
    if token in _UP_WORDS or token.startswith(_UP_PREFIXES):
        return "up"
    if token in _DOWN_WORDS or token.startswith(_DOWN_PREFIXES):
        return "down"
    return None


def _counterparts(clause: Clause, window: list[Clause]) -> list[Clause]:
    """The window clauses sharing the most content words (at least CLAUSE_OVERLAP_MIN) with ``clause``."""
    overlaps = [(len(clause.stems & w.stems), w) for w in window]
    best = max((n for n, _ in overlaps), default=0)
    return [w for n, w in overlaps if n == best] if best >= CLAUSE_OVERLAP_MIN else []


def _number_value(text: str) -> str:
    return format(float(text.replace(",", "")), "g")


def quantities(text: str) -> set[tuple[str, str | None]]:
    """(value, unit) pairs; a range "10 to 80 mg" gives the unit to both ends; spelled numbers count."""
    words = re.sub(r"\b(" + "|".join(_NUMBER_WORDS) + r")\b", lambda m: _NUMBER_WORDS[m.group(1).lower()],
                   text, flags=re.IGNORECASE)
    out: set[tuple[str, str | None]] = set()
    for m in _QUANTITY.finditer(words):
        unit = _UNIT_FORMS[m.group("unit").lower()] if m.group("unit") else None
        for value in (m.group("a"), m.group("b")):
            if value:
                out.add((_number_value(value), unit))
    return out


# ------------------------------------------------------------------------------ results


@dataclass(frozen=True)
class Support:
    """The best window of one cited passage for a statement: an exact quote (``text`` == passage.text[start:end]).

    Has ``hit``, ``text``, ``start`` and ``end`` like an extractive Candidate, so compose can cite it the same way.
    """

    number: int
    hit: SearchHit
    start: int
    end: int
    text: str
    lexical: float
    semantic: float | None = None

    def citation(self, ref: int) -> Citation:
        return Citation(ref=ref, passage_id=self.hit.passage.id, document_id=self.hit.document.id,
                        quote=self.text, start=self.start, end=self.end)


@dataclass(frozen=True)
class KeptStatement:
    statement: GeneratedStatement
    supports: list[Support]  # one per cited passage that supports it, in the order cited
    unsupported: tuple[int, ...] = ()  # cited passage numbers that did not support it (citation removed)

    @property
    def text(self) -> str:
        return self.statement.text


@dataclass(frozen=True)
class DroppedStatement:
    statement: GeneratedStatement
    reason: str  # no_citation | unknown_citation | no_content | duplicate | numbers | negation | direction
    #              | instruction_text | unsupported
    detail: str

    def as_dict(self) -> dict:
        return {"text": self.statement.text, "cited": list(self.statement.cited), "reason": self.reason,
                "detail": self.detail}


@dataclass
class CheckResult:
    kept: list[KeptStatement] = field(default_factory=list)
    dropped: list[DroppedStatement] = field(default_factory=list)

    def report(self, model: str) -> GenerationReport:
        return GenerationReport(model=model, statements_generated=len(self.kept) + len(self.dropped),
                                statements_kept=len(self.kept), dropped=[d.as_dict() for d in self.dropped])


@dataclass(frozen=True)
class _Verdict:
    ok: bool
    reason: str
    detail: str
    lexical: float
    semantic: float | None = None


# ------------------------------------------------------------------------------ checking


class _Claim:
    """The features of one statement, computed once."""

    def __init__(self, text: str):
        self.text = text
        self.stems = content_stems(text)
        self.clauses = clauses(text)
        self.quantities = quantities(text)
        self.exact = {t for t in _tokens(text) if t in _EXACT_WORDS}


def _hard_checks(claim: _Claim, window: str, passage_clauses: list[Clause]) -> tuple[str, str] | None:
    """The first failed hard check as (reason, detail), or None.

    Negation and direction are checked against the window and against the whole passage: a
    clause whose closest counterpart anywhere in the passage says the opposite is contradicted,
    even if some other window could be stitched into apparent support.
    """
    found = quantities(window)
    values = {v for v, _ in found}
    for value, unit in sorted(claim.quantities, key=str):
        present = (value, unit) in found if unit else value in values
        if not present:
            return "numbers", f"'{value}{' ' + unit if unit else ''}' is not in the cited text"
    words = set(_tokens(window))
    missing = sorted(claim.exact - words)
    if missing:
        return "numbers", f"'{missing[0]}' is not in the cited text"
    return _clause_conflict(claim, clauses(window)) or _clause_conflict(claim, passage_clauses)


def _clause_conflict(claim: _Claim, source: list[Clause]) -> tuple[str, str] | None:
    """A claim clause whose closest source clauses all differ from it on negation or direction."""
    for clause in claim.clauses:
        counterparts = _counterparts(clause, source)
        if not counterparts:
            continue
        if clause.negated not in {w.negated for w in counterparts}:
            state = "negates" if clause.negated else "does not negate"
            return "negation", f"'{clause.text}' {state} what the cited text says"
        said = frozenset().union(*(w.directions for w in counterparts))
        if not clause.directions <= said:
            return "direction", f"'{clause.text}': increase/decrease wording differs from the cited text"
    return None


def _lexical(claim: _Claim, window: str, context: set[str]) -> tuple[float, float]:
    """(share of content words in window + context, share in the window alone)."""
    own = content_stems(window)
    n = len(claim.stems)
    return len(claim.stems & (own | context)) / n, len(claim.stems & own) / n


def _windows(hit: SearchHit) -> list[tuple[int, int, bool]]:
    """(start, end, instruction-like) for every sentence and every pair of adjacent sentences."""
    p = hit.passage
    spans = p.sentences or [(0, len(p.text))]
    flags = [instruction_like(p.text[a:b]) for a, b in spans]
    out = [(a, b, flags[i]) for i, (a, b) in enumerate(spans)]
    out += [(spans[i][0], spans[i + 1][1], flags[i] or flags[i + 1]) for i in range(len(spans) - 1)]
    return out


class _Semantic:
    """Cosine similarity with a cache, so each text is embedded once per check."""

    def __init__(self, embedder: Embedder | None):
        self.embedder = embedder
        self.cache: dict[str, np.ndarray] = {}

    def similarity(self, a: str, b: str) -> float | None:
        if self.embedder is None:
            return None
        todo = [t for t in (a, b) if t not in self.cache]
        if todo:
            for text, vector in zip(todo, self.embedder.embed_passages(todo)):
                self.cache[text] = vector
        return float(self.cache[a] @ self.cache[b])


def _judge(claim: _Claim, window: str, context: set[str], passage_clauses: list[Clause],
           semantic: _Semantic) -> _Verdict:
    """Whether ``window`` supports the claim: enough shared words, every hard check, then lexical or semantic."""
    lexical, in_window = _lexical(claim, window, context)
    if in_window < WINDOW_MIN or lexical < SEMANTIC_LEXICAL_MIN:
        return _Verdict(False, "unsupported", _unsupported_detail(lexical, None), lexical)
    failed = _hard_checks(claim, window, passage_clauses)
    if failed:
        return _Verdict(False, *failed, lexical)
    cosine = semantic.similarity(claim.text, window)
    if lexical >= LEXICAL_MIN or (cosine is not None and cosine >= SEMANTIC_MIN):
        return _Verdict(True, "", "", lexical, cosine)
    return _Verdict(False, "unsupported", _unsupported_detail(lexical, cosine), lexical, cosine)


def _priority(verdict: _Verdict) -> tuple[bool, float]:
    """Which failure explains a drop: support found only in AI-addressed text first, then the closest window."""
    return verdict.reason == "instruction_text", verdict.lexical


def _unsupported_detail(lexical: float, cosine: float | None) -> str:
    detail = f"only {lexical:.0%} of its content words are in the best cited sentence"
    return detail + (f" (similarity {cosine:.2f})" if cosine is not None else "")


def _support(claim: _Claim, ev: NumberedPassage, semantic: _Semantic) -> Support | _Verdict:
    """The best supporting window of ``ev``, or the verdict explaining why none supports the claim."""
    p = ev.passage
    context = content_stems(ev.document.title + " " + " ".join(p.section_path))
    passage_clauses = clauses(p.text)
    best: tuple[tuple, Support] | None = None
    failures: list[_Verdict] = []
    for a, b, injected in _windows(ev.hit):
        window = p.text[a:b]
        verdict = _judge(claim, window, context, passage_clauses, semantic)
        if verdict.ok and injected:
            verdict = _Verdict(False, "instruction_text", "its only support is text addressed to an AI model",
                               verdict.lexical)
        if not verdict.ok:
            failures.append(verdict)
            continue
        key = (round(verdict.lexical + (verdict.semantic or 0.0), 6), -(b - a))
        if best is None or key > best[0]:
            best = (key, Support(ev.number, ev.hit, a, b, window, round(verdict.lexical, 4),
                                 None if verdict.semantic is None else round(verdict.semantic, 4)))
    if best:
        return best[1]
    if not failures:
        return _Verdict(False, "unsupported", "the cited passage has no text", 0.0)
    return max(failures, key=_priority)


def check_statements(statements: list[GeneratedStatement], evidence: list[NumberedPassage],
                     embedder: Embedder | None = None) -> CheckResult:
    """Keep each statement that a passage it cites supports; drop the rest with a reason."""
    by_number = {ev.number: ev for ev in evidence}
    semantic = _Semantic(embedder)
    result = CheckResult()
    for statement in statements:
        outcome = _check_one(statement, by_number, semantic, result.kept)
        (result.kept if isinstance(outcome, KeptStatement) else result.dropped).append(outcome)
    return result


def _repeats(claim: _Claim, earlier: _Claim) -> bool:
    """Same content words (Jaccard >= DUPLICATE_JACCARD) and the same negation: a repeated statement."""
    if any(c.negated for c in claim.clauses) != any(c.negated for c in earlier.clauses):
        return False
    return len(claim.stems & earlier.stems) / len(claim.stems | earlier.stems) >= DUPLICATE_JACCARD


def _check_one(statement: GeneratedStatement, by_number: dict[int, NumberedPassage], semantic: _Semantic,
               kept: list[KeptStatement]) -> KeptStatement | DroppedStatement:
    if not statement.cited:
        return DroppedStatement(statement, "no_citation", "the statement cites no passage")
    unknown = [n for n in statement.cited if n not in by_number]
    if unknown:
        return DroppedStatement(statement, "unknown_citation",
                                f"cites [{unknown[0]}], but only [1]..[{len(by_number)}] were given")
    claim = _Claim(statement.text)
    if len(claim.stems) < MIN_CONTENT_WORDS:
        return DroppedStatement(statement, "no_content", "fewer than 3 content words")
    if any(_repeats(claim, _Claim(k.text)) for k in kept):
        return DroppedStatement(statement, "duplicate", "repeats an earlier statement")
    supports: list[Support] = []
    failures: list[_Verdict] = []
    for number in statement.cited:
        found = _support(claim, by_number[number], semantic)
        (supports if isinstance(found, Support) else failures).append(found)
    if not supports:
        closest = max(failures, key=_priority)
        return DroppedStatement(statement, closest.reason, closest.detail)
    unsupported = tuple(n for n in statement.cited if n not in {s.number for s in supports})
    return KeptStatement(statement, supports, unsupported)
