"""Candidate sentences and what every composer shares about them.

A ``Candidate`` is a sentence of a passage that could become a statement (``answer/select.py``
scores them for the question frame); ``usable_statement`` says whether a sentence can stand alone,
``evidence_coverage`` whether search found enough of the question at all. For patients and
caregivers the composed answer is then fitted, as a whole, to Flesch-Kincaid grade 8
(``fit_reading_grade``) by swapping or dropping quotes, never by rewriting one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from medora.answer.audience import TextCounts, reading_grade, text_counts
from medora.answer.sections import is_seek_care
from medora.models import SearchHit
from medora.retrieve.query import stems
from medora.retrieve.terms import TermWeights
from medora.retrieve.understand import SECTION_TYPE_TO_KEY

# Plain-language selection for patients and caregivers (see bench/RESULTS.md, answer quality).
PLAIN_GRADE = 6.0
PLAIN_WORDS = 20
GRADE_WEIGHT = 0.08
WORD_WEIGHT = 0.01
PENALTY_CAP = 0.6
PLAIN_MAX_GRADE = 14.0
PLAIN_MAX_WORDS = 40
# Whole plain answers (issue #4: Flesch-Kincaid grade 8 or lower), never cut below this many statements.
PLAIN_TARGET_GRADE = 8.0
MIN_PLAIN_STATEMENTS = 3

Sections = list[tuple[str, list["Candidate"]]]


@dataclass
class Candidate:
    """A sentence that could become a statement."""

    hit: SearchHit
    start: int
    end: int
    text: str
    section_key: str
    score: float
    overlap: float  # share of the question's weighted terms in the sentence itself
    support: float  # ... in the sentence plus its document title and section headings
    tier: int | None = None  # route tier of its section for the question's aspect (answer/anchor.py)
    cue: bool = False  # carries what the aspect needs (answer/select.py ASPECT_CUES)
    meaning: float | None = None  # cosine similarity to the question, when scored by meaning
    features: dict[str, float] = field(default_factory=dict)  # what the score was made of (answer/select.py)

    @property
    def passage_id(self) -> int:
        return self.hit.passage.id

    @property
    def place(self) -> tuple[int, int]:
        """Where the sentence is: its passage and start offset."""
        return self.hit.passage.id, self.start


# A list marker, or a step number glued to its sentence ("2.Put the cream on").
_BULLET = re.compile(r"^(?:(?:[-•*▪◦·]|\(?\d{1,2}[.)]|[a-z][.)])\s+|\d{1,2}\.(?=[A-Z][a-z]))")
# The tail of a heading split off before the sentence it headed ("≥ 50 mL/minute The usual dose of …"):
# a comparison and its quantity, then a capitalised word that starts the sentence.
_HEADING_TAIL = re.compile(r"^[≥≤<>]\s?[\d.,]+\s?[A-Za-z/%²]*(?:\s(?:to|or|and)\s[<>]?[\d.,]+\s?[A-Za-z/%²]*)?\s+"
                           r"(?=[A-Z][a-z]+\s)")
_HEADING_LIKE = re.compile(r"^[A-Z][A-Za-z ,/&-]{0,60}$")
# A statement must read as a sentence: capital or digit first, terminal punctuation last.
_STARTS_WELL = re.compile(r"^[\"'“(\[]?[A-Z0-9]")
_ENDS_WELL = re.compile(r"[.!][\"'”)\]]*$|\)\.?$")
_DANGLING = re.compile(r"\b(such as|include|includes|including|following|are|is|of|and|or)\W*$", re.IGNORECASE)
# Sentences about the page rather than the medicine.
_META = re.compile(
    r"^(see |click |call 1-|you may report|check the list|this summary|these are not all|for more information|"
    r"gene ?review|genetic testing registry|the human phenotype ontology|the following|read the |"
    r"more detailed information|other names for this|here (are|is) |find out |learn (how|about|more) )|"
    r"\b(listed below|the following list|this section)\b|"
    r", see [A-Z]|https?://|\bwww\.|\b[\w-]+\.(com|org|gov|net)\b|\bwebsite\.",
    re.IGNORECASE,
)


_OPEN_REFERENCE = re.compile(r"\(\s*\d{1,2}(?:\.\d{1,2})*\.?\s*$")  # a heading glued on with its number: "… (2.1."


def usable_statement(sentence: str) -> bool:
    """Whether a source sentence can stand alone as a statement in an article."""
    n_words = len(sentence.split())
    return (
        4 <= n_words <= 90
        and bool(_STARTS_WELL.match(sentence))
        and bool(_ENDS_WELL.search(sentence))
        and not _DANGLING.search(sentence.rstrip(".!"))
        and not _META.search(sentence)
        and "|" not in sentence
        and not _HEADING_LIKE.match(sentence)
        and not _title_case(sentence)
        and not flattened_table(sentence)
        and not _OPEN_REFERENCE.search(sentence)
    )


_NUMERIC_TOKEN = re.compile(r"[(\[]?[<>≥≤~±]?\d[\d.,/%–-]*\)?[\],;:]?%?$")
_TABLE_HEADER = re.compile(r"\([Nn]\s*=\s*[\d,]+\)\s*(n\s*)?\(?%|\bn \(%\)")


def flattened_table(sentence: str) -> bool:
    """Table cells run together into one "sentence": cells split by semicolons ("MI; 275 (2.9%); 333 (3.5%)"),
    a column header ("Placebo (N=1023) %", "n (%)"), mostly numbers, or capitalised heads among numbers
    ("INDICATION Dosing Regimen Maximum Dose DPN Pain 3 divided doses per day 300 mg/day")."""
    tokens = sentence.split()
    numeric = sum(bool(_NUMERIC_TOKEN.match(t)) for t in tokens)
    capitals = {t for t in tokens[1:] if len(t) >= 3 and t.isupper() and t.isalpha()}  # column heads, row labels
    return (len(re.findall(r";\s*[\d(]", sentence)) >= 2 or _TABLE_HEADER.search(sentence) is not None
            or (len(tokens) >= 8 and numeric > 0.4 * len(tokens)) or (len(capitals) >= 3 and numeric >= 3))


_LIST_LEAD = re.compile(r"(such as|include|includes|including|following|are|:)\s*$", re.I)
_LIST_ITEM = re.compile(r"^[a-z(\"'“][^.!?]*$")  # a list line: lower-case start, no sentence of its own
MAX_LIST_ITEMS = 12


def list_spans(text: str, sentences: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Lists written as a lead-in line and item lines ("…common symptoms of hyperthyroidism such as" /
    "nervousness or irritability" / "heat intolerance" …): the splitter cuts them into fragments no statement
    may use, so each list is offered whole, as one quotable span from its lead-in to its last item."""
    spans = []
    for i, (a, b) in enumerate(sentences):
        lead = text[a:b]
        if not (_STARTS_WELL.match(lead) and _LIST_LEAD.search(lead)):
            continue
        items = []
        for c, d in sentences[i + 1 : i + 1 + MAX_LIST_ITEMS]:
            if not _LIST_ITEM.match(text[c:d]) or len(text[c:d].split()) > 25:
                break
            items.append((c, d))
        if len(items) >= 2 and len(text[a : items[-1][1]].split()) <= 90:
            spans.append((a, items[-1][1]))
    return spans


# An OTC label's "Directions" run together without sentence ends ("Directions do not take more than directed adults
# and children 12 years and over: take 1 tablet every 4 to 6 hours …"): each instruction starts at a bullet, an age
# group, or a "do not"/"if …" clause.
_DIRECTIONS = re.compile(r"^Directions\b")
_INSTRUCTION_START = re.compile(
    r"[■•▪]\s*|\b\d+-day course of treatment\s*|\brepeated \d+-day courses?(?: \(if needed\))?\s*|"
    r"\b(?<!and )(?=children (?:under|\d+ (?:to|years|months)))|"
    r"\b(?=(?:for )?adults\b|consumers with|do not (?:take|use|give|exceed|crush|chew)|not more than|"
    r"if (?:needed|pain|fever|pregnant)|drink a full glass|may be taken|you may repeat|this product is to be used)",
    re.I)
_AGE_GROUP = re.compile(r"^(?:for )?(?:adults|children)\b[^:;]{0,50}\b(?:of age|and over|and older|years)\s*:?$", re.I)
MAX_INSTRUCTION_WORDS = 40


def directions_spans(text: str, directions: bool = False) -> list[tuple[int, int]]:
    """The instructions of an OTC label's unpunctuated "Directions" text (``directions``: the passage is known to
    be some of it, e.g. its second chunk), each a quotable span ("adults and children 12 years and over: take 1
    tablet every 4 to 6 hours while symptoms persist"); [] for other text."""
    if not (directions or _DIRECTIONS.match(text)):
        return []
    markers = [(m.start(), m.end()) for m in _INSTRUCTION_START.finditer(text)] + [(len(text), len(text))]
    segments = []
    for (_, a), (b, _) in zip(markers, markers[1:]):  # from one marker's end to the next one's start
        segment = text[a:b]
        a += len(segment) - len(segment.lstrip(" ■•▪"))
        b -= len(segment) - len(segment.rstrip(" ;,■•▪"))
        if segments and _AGE_GROUP.match(text[segments[-1][0]:segments[-1][1]]):
            segments[-1] = (segments[-1][0], b)  # "adults 18 years of age and older" + what they take
        elif a < b:
            segments.append((a, b))
    return [(a, b) for a, b in segments
            if 4 <= len(text[a:b].split()) <= MAX_INSTRUCTION_WORDS and "." not in text[a:b].rstrip(".")
            and not _title_case(text[a:b]) and not _AGE_GROUP.match(text[a:b])]


def _title_case(sentence: str) -> bool:
    """A heading or document title that ended up as a line ("Childhood Leukemia Treatment.")."""
    words = [w for w in sentence.split() if w[:1].isalpha()]
    return len(words) <= 12 and sum(w[0].isupper() for w in words) >= 0.7 * len(words)


def trim_sentence(text: str, start: int, end: int) -> tuple[int, int]:
    """Drop a leading list marker or heading tail from text[start:end]; returns new offsets (light trimming only)."""
    for pattern in (_BULLET, _HEADING_TAIL):
        m = pattern.match(text[start:end])
        if m:
            start += m.end()
    return start, end


def evidence_coverage(hits: list[SearchHit], weights: TermWeights, top: int = 3) -> float:
    """Share of the question's focus-term weight found in the best single passage among the top few (of the
    fused ranking, and of the word search's own ranking: in hybrid search a rare name only BM25 matches may
    sit low in the fused list).

    Only the most specific known terms count (long consumer questions carry many incidental
    words), and the share of the question made of words the library lacks entirely scales it
    down: "the capital of Mongolia" is not answered by a passage that mentions a capital.
    """
    focus = weights.focus()
    total = sum(focus.values()) or 1.0
    best = 0.0
    by_words = sorted((h for h in hits if "bm25" in h.scores), key=lambda h: -h.scores["bm25"])[:top]
    for hit in hits[:top] + by_words:
        present = stems(hit.document.title + " " + " ".join(hit.passage.section_path) + " " + hit.passage.text)
        best = max(best, sum(w for s, w in focus.items() if s in present) / total)
    return best * (1.0 - weights.unknown_share())


def section_key_for(hit: SearchHit, sentence: str) -> str:
    if is_seek_care(sentence):
        return "seek_care"
    key = SECTION_TYPE_TO_KEY.get(hit.passage.section_type or "")
    if key:
        return key
    if hit.document.doc_type in ("trial", "meta-analysis", "systematic review", "cohort", "article"):
        return "findings"
    return "background"


def too_hard(sentence: str) -> bool:
    """A sentence no plain-language answer should quote: a run-on list or a grade far above 8."""
    if "\n" in sentence:  # a list span: its lead-in's grade (a grade of three-word items means nothing)
        lead, *items = sentence.split("\n")
        return too_hard(lead) or any(len(item.split()) > PLAIN_MAX_WORDS for item in items)
    return reading_grade(sentence) > PLAIN_MAX_GRADE or len(sentence.split()) > PLAIN_MAX_WORDS


def readability_penalty(sentence: str) -> float:
    """How much harder than plain language a sentence reads: its Flesch-Kincaid grade above
    ``PLAIN_GRADE`` and its length above ``PLAIN_WORDS`` words, capped so relevance still counts."""
    if "\n" in sentence:  # a list span: its lead-in
        return readability_penalty(sentence.split("\n")[0])
    over_grade = max(0.0, reading_grade(sentence) - PLAIN_GRADE)
    over_words = max(0, len(sentence.split()) - PLAIN_WORDS)
    return min(PENALTY_CAP, GRADE_WEIGHT * over_grade + WORD_WEIGHT * over_words)


def near_duplicate(a: str, b: str, threshold: float = 0.6, containment: float = 0.8) -> bool:
    """The same point in other words: word-stem Jaccard above ``threshold``, or one sentence's
    stems nearly all inside the other's (a short restatement of a longer sentence)."""
    sa, sb = stems(a), stems(b)
    if not sa or not sb:
        return False
    shared = len(sa & sb)
    return shared / len(sa | sb) >= threshold or shared / min(len(sa), len(sb)) >= containment


def fit_reading_grade(bottom: list[Candidate], sections: Sections, spare: list[Candidate],
                      target: float = PLAIN_TARGET_GRADE,
                      keep: int = MIN_PLAIN_STATEMENTS) -> tuple[list[Candidate], Sections]:
    """Bring a plain answer to reading grade ``target`` or below; returns (bottom line, sections).

    While the whole answer (``audience.answer_grade``) reads above ``target``, make the move that
    gives up the least selection score among those that lower the grade: swap a section statement
    for an unused ``spare`` candidate of the same section that shares as much of the question
    (``overlap``) and is no near-duplicate of what stays, or, while more than ``keep`` statements
    remain, drop a section statement or the bottom line's second sentence unless it speaks to the
    question more than every other statement. The bottom line's first sentence is never touched,
    no quote is changed, and what leaves never comes back. When no sequence of moves reaches
    ``target``, the answer is returned as selected.
    """
    first = bottom[:1]
    groups = [("", bottom[1:])] + [(key, list(picked)) for key, picked in sections]  # "": only dropped
    while _counts(first + _flat(groups)).grade > target:
        move = _cheapest_move(first, groups, spare, keep)
        if move is None:  # out of reach: give up nothing for a grade that stays above the target
            return bottom, sections
        i, j, replacement = move
        spare = [r for r in spare if r.place != groups[i][1][j].place]
        if replacement is None:
            del groups[i][1][j]
        else:
            groups[i][1][j] = replacement
    return first + groups[0][1], [(key, picked) for key, picked in groups[1:] if picked]


def _flat(groups: Sections) -> list[Candidate]:
    return [c for _, picked in groups for c in picked]


def _counts(chosen: list[Candidate]) -> TextCounts:
    return sum((text_counts(c.text) for c in chosen), TextCounts(0, 0, 0))


def _cheapest_move(first: list[Candidate], groups: Sections, spare: list[Candidate],
                   keep: int) -> tuple[int, int, Candidate | None] | None:
    """(group index, statement index, replacement or None to drop) of the cheapest move that
    lowers the answer's grade, or None when no move does."""
    chosen = first + _flat(groups)
    total = _counts(chosen)
    places = {c.place for c in chosen}
    moves: list[tuple[float, float, int, int, Candidate | None]] = []
    for i, (key, picked) in enumerate(groups):
        for j, c in enumerate(picked):
            without = total - text_counts(c.text)
            if len(chosen) > keep and c.overlap <= max((d.overlap for d in chosen if d is not c), default=0.0):
                moves.append((c.score, without.grade, i, j, None))
            moves.extend((c.score - r.score, (without + text_counts(r.text)).grade, i, j, r) for r in spare
                         if r.section_key == key and r.place not in places and r.overlap >= c.overlap)
    for _, _, i, j, r in sorted((m for m in moves if m[1] < total.grade), key=lambda m: m[:2]):
        stays = [d for d in chosen if d is not groups[i][1][j]]
        if r is None or not any(near_duplicate(r.text, d.text) for d in stays):
            return i, j, r
    return None
