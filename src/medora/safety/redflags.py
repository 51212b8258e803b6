"""Red flags: notice when a question describes someone having a medical emergency now.

Runs before retrieval, deterministically. The rules - trigger patterns per category,
exclusions for informational, hypothetical and past framings, negation handling and the
wording of the emergency notice - live in ``data/red_flags.toml`` (its header documents the
format); crisis lines live in ``data/crisis_resources.toml``. Rules are compiled once.
"""

from __future__ import annotations

import bisect
import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from medora.errors import ReaderError, UsageError

_MACRO = re.compile(r"\{([a-z_]+)\}")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'"})
#: Clause boundaries: sentence punctuation but not a decimal point ("100.4"), a comma unless
#: between digits ("1,000"), a colon unless after a digit ("8:30"), and "but", "however"...
_BOUNDARY = re.compile(r"[!?;\n]+|\.(?!\d)|(?<!\d)[:,]|,(?!\d)|\s(?:but|however|although|though)\b")


@dataclass(frozen=True)
class CrisisResource:
    """A crisis line or service to show next to a self-harm notice."""

    name: str
    contact: str
    region: str
    url: str = ""


@dataclass(frozen=True)
class RedFlagResult:
    """What ``check_red_flags`` found. ``notice`` is empty when nothing fired."""

    triggered: bool
    categories: list[str] = field(default_factory=list)
    notice: str = ""
    crisis: list[CrisisResource] = field(default_factory=list)
    matched: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Category:
    """One compiled emergency category."""

    name: str
    when: str
    advice: str
    triggers: tuple[re.Pattern[str], ...]
    combos: tuple[tuple[re.Pattern[str], ...], ...]
    exclusions: tuple[re.Pattern[str], ...]


@dataclass(frozen=True)
class RedFlagRules:
    """All rules, compiled: build with ``load_rules``."""

    categories: tuple[Category, ...]
    spelling: dict[str, str]
    negation: re.Pattern[str]
    uncertain: re.Pattern[str]
    resolved: re.Pattern[str]
    window: int
    urgency: re.Pattern[str]
    heading: str
    call: str
    closing: str
    crisis_category: str
    crisis: tuple[CrisisResource, ...]


def check_red_flags(question: str, rules: RedFlagRules | None = None) -> RedFlagResult:
    """Whether ``question`` describes an emergency happening now, and the notice to show."""
    if not isinstance(question, str):
        raise UsageError(f"question must be text, not {type(question).__name__}")
    rules = rules or default_rules()
    text = _normalize(question, rules.spelling)
    clauses = _clauses(text)
    fired: list[Category] = []
    matched: list[str] = []
    for category in rules.categories:
        hits = _category_hits(category, text, clauses, rules)
        if hits:
            fired.append(category)
            matched.extend(hits)
    if not fired:
        return RedFlagResult(triggered=False)
    names = [c.name for c in fired]
    crisis = list(rules.crisis) if rules.crisis_category in names else []
    return RedFlagResult(True, names, _notice(fired, rules), crisis, matched)


def _normalize(text: str, spelling: dict[str, str]) -> str:
    """Lower case, straight apostrophes, known misspellings and contractions fixed, single spaces."""
    lowered = text.lower().translate(_QUOTES)
    fixed = _WORD.sub(lambda m: spelling.get(m.group(), m.group()), lowered)
    return " ".join(fixed.split())


@lru_cache(maxsize=1)
def default_rules() -> RedFlagRules:
    """The rules shipped with Medora, loaded and compiled once."""
    return load_rules()


def load_rules(rules_path: Path | None = None, crisis_path: Path | None = None) -> RedFlagRules:
    """Read and compile red-flag rules; ``ReaderError`` names the file and the problem."""
    data_dir = resources.files("medora.safety") / "data"
    rules_file: Path | Traversable = rules_path or data_dir / "red_flags.toml"
    crisis_file: Path | Traversable = crisis_path or data_dir / "crisis_resources.toml"
    doc = _read_toml(rules_file)
    where = str(rules_file)
    try:
        return _build_rules(doc, where, _read_crisis(crisis_file))
    except KeyError as exc:
        raise ReaderError(where, f"invalid rules: missing key {exc}") from None
    except (TypeError, ValueError) as exc:
        raise ReaderError(where, f"invalid rules: {exc}") from None


def _read_toml(source: Path | Traversable) -> dict[str, Any]:
    try:
        return tomllib.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReaderError(str(source), f"cannot read: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ReaderError(str(source), f"not valid TOML: {exc}") from None


def _read_crisis(source: Path | Traversable) -> tuple[CrisisResource, ...]:
    entries = _read_toml(source).get("resource")
    if not isinstance(entries, list) or not entries:
        raise ReaderError(str(source), "no [[resource]] entries")
    try:
        return tuple(
            CrisisResource(str(e["name"]), str(e["contact"]), str(e["region"]), str(e.get("url", ""))) for e in entries
        )
    except (KeyError, TypeError) as exc:
        raise ReaderError(str(source), f"each [[resource]] needs name, contact and region ({exc})") from None


def _build_rules(doc: dict[str, Any], where: str, crisis: tuple[CrisisResource, ...]) -> RedFlagRules:
    macros = {str(k): str(v) for k, v in doc.get("macros", {}).items()}
    groups = {
        name: [_compile(p, macros, where, f"exclusions.{name}") for p in patterns]
        for name, patterns in doc.get("exclusions", {}).items()
    }
    categories = tuple(_build_category(c, macros, groups, where) for c in doc["category"])
    if not categories:
        raise ValueError("no [[category]] entries")
    names = [c.name for c in categories]
    if doc["crisis_category"] not in names:
        raise ValueError(f"crisis_category {doc['crisis_category']!r} is not a category")
    negation = doc["negation"]
    window = negation["window"]
    if not isinstance(window, int) or window < 1:
        raise ValueError("negation.window must be a positive integer")
    return RedFlagRules(
        categories=categories,
        spelling={str(k).lower(): str(v).lower() for k, v in doc.get("spelling", {}).items()},
        negation=_compile(negation["cues"], macros, where, "negation.cues"),
        uncertain=_compile(negation["uncertain"], macros, where, "negation.uncertain"),
        resolved=re.compile(_expand(negation["resolved"], macros, where), re.IGNORECASE),
        window=window,
        urgency=_compile(doc["urgency"]["pattern"], macros, where, "urgency"),
        heading=str(doc["heading"]),
        call=str(doc["call"]),
        closing=str(doc["closing"]),
        crisis_category=str(doc["crisis_category"]),
        crisis=crisis,
    )


def _build_category(
    entry: dict[str, Any], macros: dict[str, str], groups: dict[str, list[re.Pattern[str]]], where: str
) -> Category:
    name = str(entry["name"])
    unknown = [g for g in entry.get("exclude", []) if g not in groups]
    if unknown:
        raise ValueError(f"category {name!r} excludes unknown group(s) {unknown}")
    own = [_compile(p, macros, where, name) for p in entry.get("exclusions", [])]
    triggers = tuple(_compile(p, macros, where, name) for p in entry.get("triggers", []))
    combos = tuple(tuple(_compile(p, macros, where, name) for p in combo) for combo in entry.get("combos", []))
    if not triggers and not combos:
        raise ValueError(f"category {name!r} has neither triggers nor combos")
    if any(len(combo) < 2 for combo in combos):
        raise ValueError(f"category {name!r} has a combo of fewer than two patterns")
    return Category(
        name=name,
        when=str(entry["when"]),
        advice=str(entry.get("advice", "")),
        triggers=triggers,
        combos=combos,
        exclusions=tuple(own + [p for g in entry.get("exclude", []) for p in groups[g]]),
    )


def _expand(pattern: str, macros: dict[str, str], where: str) -> str:
    for _ in range(5):
        missing = [m for m in _MACRO.findall(pattern) if m not in macros]
        if missing:
            raise ReaderError(where, f"unknown macro {{{missing[0]}}} in pattern {pattern[:60]!r}")
        expanded = _MACRO.sub(lambda m: macros[m.group(1)], pattern)
        if expanded == pattern:
            return pattern
        pattern = expanded
    raise ReaderError(where, f"macros nest too deeply in pattern {pattern[:60]!r}")


def _compile(pattern: str, macros: dict[str, str], where: str, owner: str) -> re.Pattern[str]:
    if not isinstance(pattern, str) or not pattern.strip():
        raise ReaderError(where, f"{owner}: empty or non-text pattern")
    try:
        return re.compile(rf"\b(?:{_expand(pattern, macros, where)})\b", re.IGNORECASE)
    except re.error as exc:
        raise ReaderError(where, f"{owner}: bad pattern {pattern[:60]!r}: {exc}") from None


def _clauses(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for boundary in _BOUNDARY.finditer(text):
        spans.append((start, boundary.start()))
        start = boundary.end()
    spans.append((start, len(text)))
    return spans


def _clause_at(clauses: list[tuple[int, int]], pos: int) -> tuple[int, int]:
    index = bisect.bisect_right([end for _, end in clauses], pos)
    return clauses[min(index, len(clauses) - 1)]


def _counts(
    match: re.Match[str], text: str, clauses: list[tuple[int, int]], category: Category, rules: RedFlagRules
) -> bool:
    """A match counts unless its clause excludes it, negates it or says it has passed."""
    start, end = _clause_at(clauses, match.start())
    clause = text[start:end]
    if not rules.urgency.search(clause) and any(x.search(clause) for x in category.exclusions):
        return False
    before = rules.uncertain.sub(" ", text[start : max(start, match.start())]).split()
    if rules.negation.search(" ".join(before[-rules.window :])):
        return False
    return not rules.resolved.match(text[match.end() : end])


def _first_counted(
    pattern: re.Pattern[str], text: str, clauses: list[tuple[int, int]], category: Category, rules: RedFlagRules
) -> str | None:
    for match in pattern.finditer(text):
        if _counts(match, text, clauses, category, rules):
            return match.group()
    return None


def _category_hits(category: Category, text: str, clauses: list[tuple[int, int]], rules: RedFlagRules) -> list[str]:
    hits = [hit for p in category.triggers if (hit := _first_counted(p, text, clauses, category, rules)) is not None]
    for combo in category.combos:
        parts = [_first_counted(p, text, clauses, category, rules) for p in combo]
        if all(part is not None for part in parts):
            hits.append(" + ".join(part for part in parts if part is not None))
    return hits


def _notice(fired: list[Category], rules: RedFlagRules) -> str:
    parts = [rules.heading, f"{rules.call} {'; or if '.join(c.when for c in fired)}."]
    for category in fired:
        if category.advice:
            parts.append(category.advice)
        if category.name == rules.crisis_category:
            parts.append("; ".join(f"{r.name}: {r.contact} ({r.region})" for r in rules.crisis) + ".")
    parts.append(rules.closing)
    return " ".join(parts)
