"""What the drug labels say about this patient's orders: sentences quoted exactly, with their strength.

Only the label sections that carry prescribing cautions are read: boxed warning, contraindications,
warnings and precautions, drug interactions. A sentence concerns another drug when it names it (a
generic, brand or substance name, as a whole word); a condition when it names the condition (pregnancy:
"pregnant", "pregnancy"...). Its strength: a contraindication (the contraindications section, or the
word "contraindicated") is critical; "avoid", "do not", "should not", "not recommended" a warning; any
other mention in those sections information. Boxed warnings of an ordered drug are critical.
Nothing is inferred beyond the words: a drug class ("CYP2C19 inhibitors", "NSAIDs") is not expanded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from medora.cds.context import Condition
from medora.cds.drugs import LabelDrug
from medora.models import Passage

INDICATORS = ("info", "warning", "critical")
SECTION_ORDER = {"interactions": 0, "contraindications": 1, "boxed warning": 2, "warnings": 3}
QUOTES_PER_LABEL = 2
BOXED_QUOTES = 3
TITLE_CHARS = 100  # a boxed warning's heading on a card summary
LONG_QUOTE = 400  # characters: a run-on "sentence" (a highlights list) is quoted only when nothing shorter says it
_CONTRAINDICATED = re.compile(r"\bcontraindicated\b", re.I)
_AVOID = re.compile(r"\b(?:avoid|do not|should not|must not|not recommended)\b", re.I)


@dataclass(frozen=True)
class Quote:
    """One sentence of a label passage: ``passage.text[start:end]``."""

    drug: LabelDrug  # whose label it is
    passage: Passage
    start: int
    end: int
    section: str  # one of SECTION_ORDER
    strength: int  # index into INDICATORS

    @property
    def text(self) -> str:
        return self.passage.text[self.start:self.end]


@dataclass
class Finding:
    """Something a card reports: ``kind`` interaction, condition or boxed warning, for ``drug``."""

    kind: str
    drug: LabelDrug
    quotes: list[Quote]
    other_drug: LabelDrug | None = None
    condition: Condition | None = None
    strength: int = field(init=False)

    def __post_init__(self) -> None:
        self.strength = max(q.strength for q in self.quotes) if self.kind != "boxed warning" else 2

    @property
    def indicator(self) -> str:
        return INDICATORS[self.strength]


def _section(passage: Passage) -> str | None:
    if any("boxed warning" in part.lower() for part in passage.section_path):
        return "boxed warning"
    return passage.section_type if passage.section_type in SECTION_ORDER else None


def _strength(sentence: str, section: str) -> int:
    if section == "contraindications" or _CONTRAINDICATED.search(sentence):
        return 2
    return 1 if _AVOID.search(sentence) else 0


class LabelReader:
    """The caution sentences of labels, read once per request."""

    def __init__(self, store: object):
        self.store = store
        self._cache: dict[int, list[tuple[Passage, int, int, str]]] = {}

    def sentences(self, drug: LabelDrug) -> list[tuple[Passage, int, int, str]]:
        doc_id = drug.label.id
        if doc_id not in self._cache:
            rows = []
            for passage in self.store.document_passages(doc_id):  # type: ignore[attr-defined]
                section = _section(passage)
                if section:
                    rows += [(passage, a, b, section) for a, b in passage.sentences]
            self._cache[doc_id] = rows
        return self._cache[doc_id]

    def about(self, drug: LabelDrug, mentions: LabelDrug | Condition) -> list[Quote]:
        """Sentences of ``drug``'s label that name ``mentions`` (another drug, or a condition)."""
        out = []
        for passage, a, b, section in self.sentences(drug):
            sentence = passage.text[a:b]
            named = mentions.mentioned_in(sentence) if isinstance(mentions, LabelDrug) else mentions.named_in(sentence)
            if named:
                out.append(Quote(drug, passage, a, b, section, _strength(sentence, section)))
        return out


def _best(quotes: list[Quote], per_label: int = QUOTES_PER_LABEL) -> list[Quote]:
    """The strongest quotes of each label (interactions section first), without repeating a sentence, and
    without run-on sentences where the label says it in a shorter one."""
    chosen: list[Quote] = []
    seen: set[str] = set()
    counts: dict[int, int] = {}
    concise = {q.drug.label.id for q in quotes if len(q.text) <= LONG_QUOTE}
    quotes = [q for q in quotes if len(q.text) <= LONG_QUOTE or q.drug.label.id not in concise]
    for q in sorted(quotes, key=lambda q: (-q.strength, SECTION_ORDER[q.section], q.passage.ordinal, q.start)):
        key = " ".join(q.text.lower().split())
        if key in seen or counts.get(q.drug.label.id, 0) >= per_label:
            continue
        seen.add(key)
        counts[q.drug.label.id] = counts.get(q.drug.label.id, 0) + 1
        chosen.append(q)
    return chosen


def interaction(reader: LabelReader, drug: LabelDrug, other: LabelDrug) -> Finding | None:
    """What either label says about taking the two together."""
    if drug.label.id == other.label.id or set(drug.names) & set(other.names):
        return None
    quotes = reader.about(drug, other) + reader.about(other, drug)
    return Finding("interaction", drug, _best(quotes), other_drug=other) if quotes else None


def condition_caution(reader: LabelReader, drug: LabelDrug, condition: Condition) -> Finding | None:
    """A contraindication or a warning of the drug's label that names the condition (a bare mention is not enough)."""
    quotes = [q for q in reader.about(drug, condition) if q.strength > 0 or q.section == "contraindications"]
    return Finding("condition", drug, _best(quotes, 3), condition=condition) if quotes else None


def boxed_warning(reader: LabelReader, drug: LabelDrug) -> Finding | None:
    rows = [r for r in reader.sentences(drug) if r[3] == "boxed warning"]
    quotes = [Quote(drug, p, a, b, s, 2) for p, a, b, s in rows]
    unique = _best(quotes, BOXED_QUOTES) if quotes else []
    unique.sort(key=lambda q: (q.passage.ordinal, q.start))
    return Finding("boxed warning", drug, unique) if unique else None


def boxed_title(finding: Finding) -> str:
    """The boxed warning's heading in sentence case ("WARNING: BLEEDING RISK" -> "Bleeding risk"; gene and
    enzyme names such as CYP2C19 as written), or ""."""
    first = finding.quotes[0].passage.text
    match = re.search(r"\bWARNINGS?\s*:\s*", first)
    if not match:
        return ""
    words = []
    for word in first[match.end():].split():
        if word.startswith("WARNING") or word in ("•", "-", "–") or not (word.isupper() or not word.isalpha()):
            break
        words.append(word)
    if len(words) > 1 and words[-1].isalpha() and words[-1] == (finding.drug.brand or "").upper():
        words.pop()  # "BLEEDING RISK COUMADIN can cause": the brand starts the next sentence
    words = [w if any(c.isdigit() for c in w) else w.lower() for w in words]  # "CYP2C19" stays as it is
    title = " ".join(words).rstrip(",;:")
    if len(title) > TITLE_CHARS:
        title = title[:TITLE_CHARS].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return title[:1].upper() + title[1:]
