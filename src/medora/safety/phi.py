"""PHI redaction: remove personal identifiers from a question before it is searched.

Deterministic patterns for emails, URLs, IP addresses, SSNs, phone numbers (US and
international), record/account numbers after a label, dates of birth after a label, street
addresses (with unit, city, state and ZIP), names where the text introduces them ("my name
is ...", "I am Jane Doe", "patient: ...", "Pt. John Smith", "Mrs. Lopez", "my son Jake", a full
name before "DOB", a signature), and a full date right after such a name (a date of birth). Look-alike
characters (full-width "＠" and "．", other dots, dashes and spaces) are read as their ASCII
forms first. Each is replaced by a typed placeholder such as ``[phone]``.

Decisions: clinician names after a title ("Dr. Patel", "Nurse Kim") are redacted too and the
title is kept ("Dr. [name]"), because a named clinician identifies the patient's care team
and adds nothing to the search. Labels are kept ("MRN [record number]", "DOB [date of
birth]") so the question still reads naturally. Drug names, doses, lab values, ages, years
on their own, NDC codes, other dates and disease names are never touched. Names that are not
introduced by such a phrase are not found: this is pattern matching, not a trained
name recogniser.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from medora.errors import UsageError

Span = tuple[str, int, int]


@dataclass(frozen=True)
class PhiResult:
    """Redacted text, and what was found as (kind, start, end) offsets into the original text."""

    text: str
    found: list[Span] = field(default_factory=list)
    changed: bool = False
    searchable: str | None = None  # the text with identifiers dropped (no placeholders), for searching

    def search_text(self) -> str:
        return self.searchable if self.searchable is not None else self.text


@dataclass(frozen=True)
class _Detector:
    kind: str
    pattern: re.Pattern[str]
    group: int | str = 0
    accept: Callable[[str], bool] = lambda value: True


_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_DATE = (
    rf"(?:\d{{1,2}}[/.-]\d{{1,2}}[/.-](?:\d{{4}}|\d{{2}})|\d{{4}}-\d{{1,2}}-\d{{1,2}}"
    rf"|{_MONTH} {_DAY},? \d{{4}}|{_DAY} (?:of )?{_MONTH},? \d{{4}}|{_MONTH},? \d{{4}}|{_MONTH} {_DAY}|{_DAY} (?:of )?{_MONTH})"
)
_STREET_SUFFIX = (
    r"(?i:street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr(?!\.?\s+[A-Z][a-z])|court|ct|place|pl|way|terrace|ter"
    r"|circle|cir|parkway|pkwy|highway|hwy|square|sq|trail|trl|alley|crescent|row)\b\.?"
)
_STATES = (
    r"(?-i:A[LKZR]|C[AOT]|D[EC]|FL|GA|HI|I[DLNA]|K[SY]|LA|M[EDAINSOT]|N[EVHJMYCD]|O[HKR]|PA|RI|S[CD]|T[NX]|UT|V[TA]"
    r"|W[AVIY]|PR)"
)
_UNIT = r"(?:,?\s+(?i:apt|apartment|unit|suite|ste|floor|fl|room|rm)\.?\s*#?\s*[A-Za-z0-9-]+|,?\s+#\s*[A-Za-z0-9-]+)"
_CITY_ZIP = (
    rf"(?:,\s*[A-Z][a-z]+(?:\s[A-Z][a-z]+){{0,2}},?\s+{_STATES}(?:\s+\d{{5}}(?:-\d{{4}})?)?|,?\s+\d{{5}}(?:-\d{{4}})?)"
)
_NAME_WORD = r"[A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)?"
_FULL_NAME = rf"{_NAME_WORD}(?: [A-Z]\.)?(?: {_NAME_WORD}){{0,2}}"
_RELATIONS = (
    r"(?:son|daughter|husband|wife|partner|boyfriend|girlfriend|mother|mom|mum|father|dad|brother|sister"
    r"|grandmother|grandma|grandfather|grandpa|grandson|granddaughter|friend|baby|child|uncle|aunt|cousin"
    r"|nephew|niece|fiance|fiancee)"
)

#: Capitalised words that follow "I am", "Dr." or "my son" without being names.
_NOT_NAMES = frozenset(
    """
    a an the and or but so not no yes very really just also only still currently now here there this that
    both all any each every some my your his her our their its we you they he she it
    i im is am are was were be been have has had do does did will would can could should may might must
    taking using having getting going trying looking writing asking wondering worried concerned confused
    curious told said says prescribed recommended wants thinks thought gave gives put started stopped
    diabetic pregnant allergic asthmatic epileptic anemic hypertensive obese overweight male female
    caucasian white black asian african american hispanic latino latina european indian native mixed
    type stage grade on in at of for with from to by about after before since during because if when
    please thanks thank hello hi dear sir madam doctor dr nurse patient mr mrs ms miss who what why how
    which where whose monday tuesday wednesday thursday friday saturday sunday
    information education guide care safety portal handout history resources support center centre leaflet
    instructions advocate assistance forms guidelines guideline assessment questionnaire reported outcomes health activation
    """.split()
)

_EMAIL = _Detector("email", re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"))
_URL = _Detector("URL", re.compile(r"\b(?:https?://|www\.)[^\s<>\"'()\[\]{}]+[^\s<>\"'()\[\]{}.,;:!?]", re.IGNORECASE))
_IPV4 = _Detector(
    "IP address",
    re.compile(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\d.])"),
)
_IPV6 = _Detector(
    "IP address",
    re.compile(
        r"(?<![\w:])(?:(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}|(?=[0-9a-f:]*::)(?:[0-9a-f]{1,4}:){1,6}:"
        r"(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){0,5})?)(?![\w:])",
        re.IGNORECASE,
    ),
)
_SSN = _Detector("SSN", re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])"))
_SSN_LABELLED = _Detector(
    "SSN",
    re.compile(
        r"\b(?:ssn|social security(?: number| no\.?| #)?|soc\.? sec\.?)\s*(?:#|no\.?|number)?\s*(?:is|was)?\s*[:#]?\s*"
        r"(?P<value>\d{3}[- ]?\d{2}[- ]?\d{4})\b",
        re.IGNORECASE,
    ),
    "value",
)
_PHONE_US = _Detector(
    "phone",
    re.compile(r"(?<![\w+-])(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?![\w-])"),
)
_PHONE_INTL = _Detector(
    "phone",
    re.compile(r"(?<![\w+])(?:\+|00)\d{1,3}(?:[\s.-]?\(?\d{1,5}\)?){2,6}(?![\w-])"),
    accept=lambda value: 8 <= sum(c.isdigit() for c in value) <= 15,
)
_PHONE_TRUNK = _Detector("phone", re.compile(r"(?<![\w-])0\d{2,4}[\s-]\d{3,4}[\s-]\d{3,4}(?![\w-])"))
_PHONE_LABELLED = _Detector(
    "phone",
    re.compile(
        r"\b(?:phone|cell phone|cell number|cell|mobile|tel|telephone|call me|text me|reach me|contact me|whatsapp|fax)\b(?![ \t]+(?:count|counts|type|types))"
        r"(?:\s+(?:me|at|on|is|number|no\.?|#))*\s*[:#]?\s*(?P<value>\+?\d[\d\s().-]{5,18}\d)",
        re.IGNORECASE,
    ),
    "value",
    accept=lambda value: 7 <= sum(c.isdigit() for c in value) <= 15,
)
_RECORD = _Detector(
    "record number",
    re.compile(
        r"\b(?:mrn|medical record(?: number| no\.?| #)?|record (?:number|no\.?|#)|chart (?:number|no\.?|#)"
        r"|patient (?:id|number|no\.?|#|identifier)|account (?:number|no\.?|#)|acct\.?(?: number| no\.?| #)?"
        r"|member (?:id|number|no\.?|#)|subscriber (?:id|number)|policy (?:number|no\.?|#)"
        r"|insurance (?:id|number|no\.?|#)|medicare (?:number|no\.?|#|id)|medicaid (?:number|no\.?|#|id)"
        r"|health (?:card|insurance) (?:number|no\.?|#)|nhs (?:number|no\.?)|case (?:number|no\.?|#)"
        r"|claim (?:number|no\.?|#)|id (?:number|no\.?|#)|id(?=\s*[:#]))"
        r"\s*(?:is|was|=)?\s*[:#]?\s*(?P<value>[A-Z0-9](?:[A-Z0-9-]{2,}[A-Z0-9]))\b",
        re.IGNORECASE,
    ),
    "value",
    accept=lambda value: any(c.isdigit() for c in value),
)
_DOB = _Detector(
    "date of birth",
    re.compile(
        rf"\b(?:dob|d\.o\.b\.?|date of birth|birth ?date|birthday|born(?: on| in)?)\b\s*(?:is|was|:|-|=)?\s*(?P<value>{_DATE})"
        r"(?![\w/-])",
        re.IGNORECASE,
    ),
    "value",
)
_ADDRESS = _Detector(
    "address",
    re.compile(
        rf"\b\d{{1,6}}[A-Za-z]?\s+(?:(?:[NSEW]\.?|North|South|East|West)\s+)?(?:{_NAME_WORD}|\d{{1,3}}(?:st|nd|rd|th))"
        rf"(?:\s+{_NAME_WORD}){{0,3}}\s+{_STREET_SUFFIX}{_UNIT}?{_CITY_ZIP}?"
    ),
)
_ADDRESS_LABELLED = _Detector(
    "address",
    re.compile(
        rf"\b(?:live at|lives at|living at|reside at|resides at|staying at|located at|address is|address:)\s*"
        rf"(?P<value>\d{{1,6}}\s+(?:[a-z0-9'.-]+\s+){{1,3}}?{_STREET_SUFFIX}{_UNIT}?{_CITY_ZIP}?)",
        re.IGNORECASE,
    ),
    "value",
)
_PO_BOX = _Detector("address", re.compile(r"\bP\.?\s?O\.?\s+Box\s+\d+\b", re.IGNORECASE))
_ZIP_LABELLED = _Detector(
    "address",
    re.compile(
        r"\b(?:zip|zip code|zipcode|postal code|postcode)\s*(?:is|:)?\s*(?P<value>\d{5}(?:-\d{4})?)\b", re.IGNORECASE
    ),
    "value",
)
_CITY_STATE_ZIP = _Detector(
    "address", re.compile(rf"\b[A-Z][a-z]+(?:\s[A-Z][a-z]+)?,\s*{_STATES}\s+\d{{5}}(?:-\d{{4}})?\b")
)

_DETECTORS = (
    _EMAIL,
    _URL,
    _IPV4,
    _IPV6,
    _SSN,
    _SSN_LABELLED,
    _RECORD,
    _DOB,
    _ADDRESS,
    _ADDRESS_LABELLED,
    _PO_BOX,
    _ZIP_LABELLED,
    _CITY_STATE_ZIP,
    _PHONE_US,
    _PHONE_INTL,
    _PHONE_TRUNK,
    _PHONE_LABELLED,
)

#: Name introductions: the lead-in is matched case-insensitively, the name must be capitalised.
_NAME_INTROS = (
    re.compile(
        rf"(?i:\b(?:my name is|my name's|patient name:|full name:|patient:|pt:|call me)|(?m:^)\s*name:)\s+(?P<name>{_FULL_NAME})"
    ),
    re.compile(rf"(?i:\b(?:i am|i'm|im))\s+(?P<name>{_NAME_WORD}(?: [A-Z]\.)? {_NAME_WORD})"),
    re.compile(rf"(?i:\bmy {_RELATIONS}),?\s+(?P<name>{_FULL_NAME})"),
    re.compile(rf"\b(?:(?:Dr|Mr|Mrs|Ms|Mx|Prof)\.?|Doctor|Nurse|Professor)\s+(?P<name>{_FULL_NAME})"),
    # "Pt. John Smith", "patient Maria Gonzalez": a cue, then a first and a last name (one capitalised word
    # after "patient" is too often a heading: "Patient Information").
    # "Patient" capitalised only where a sentence starts ("the Patient Health Questionnaire" is a title).
    re.compile(rf"(?:(?:(?m:^)|(?<=[.!?] ))\s*Patient|\bpatient|\b(?i:pt)\b\.?)\s+(?:(?i:is|named|called)\s+)?"
               rf"(?P<name>{_NAME_WORD}(?: [A-Z]\.)? {_NAME_WORD})"),
    # "Maria Gonzalez, DOB ...": a full name right before a date-of-birth label.
    re.compile(rf"(?P<name>{_NAME_WORD}(?: [A-Z]\.)? {_NAME_WORD}),?\s+(?i:dob\b|d\.o\.b\.?|date of birth\b|born on\b)"),
    re.compile(
        rf"(?i:\b(?:regards|sincerely|best|cheers|thanks|thank you|signed))[,!.]?\s*\n?\s*(?P<name>{_FULL_NAME})\s*[.!]?\s*$"
    ),
)
#: A full date (with its year) right after a name is a date of birth: "Pt. John Smith 03/14/1975".
_DATE_AFTER_NAME = re.compile(
    rf"\A,?\s*\(?\s*(?P<value>\d{{1,2}}[/.-]\d{{1,2}}[/.-]\d{{4}}|\d{{4}}-\d{{1,2}}-\d{{1,2}}|{_MONTH} {_DAY},? \d{{4}}"
    rf"|{_DAY} (?:of )?{_MONTH},? \d{{4}})(?![\w/-])",
    re.IGNORECASE,
)
#: Look-alike characters folded to ASCII, one character for one (offsets stay valid), before matching:
#: full-width forms ("ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ"), small and other "at" and full-stop signs, dashes
#: and spaces, so an address or number written with them is found all the same.
_FOLD = {
    **{code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)},
    **{ord(c): "@" for c in "\uFE6B"},
    **{ord(c): "." for c in "\u3002\uFF61\u2024\uFE52\u2E3C\u00B7\u2027"},
    **{ord(c): "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\uFE58\uFE63\u30FC"},
    **{ord(c): " " for c in "\u00A0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u202F\u205F\u3000"},
    **{ord(c): "(" for c in "\uFE59"}, **{ord(c): ")" for c in "\uFE5A"},
}
#: "my name is" may be followed by a lower-case name.
_NAME_IS_LOWER = re.compile(r"\bmy name is\s+(?P<name>[a-z][a-z'-]+(?: [a-z][a-z'-]+){0,2})", re.IGNORECASE)
#: Spans never redacted: NDC product codes and enzyme (EC) numbers.
_PROTECTED = re.compile(
    r"\b(?:ndc\s*(?:#|no\.?|number|code)?\s*[:#]?\s*)?\d{4,5}-\d{3,4}-\d{1,2}\b|\bEC\s*\d+\.\d+\.\d+\.\d+\b",
    re.IGNORECASE,
)
#: What the user notice calls each kind: (one, several).
_NOUNS = {
    "name": ("a name", "names"),
    "date of birth": ("a date of birth", "dates of birth"),
    "phone": ("a phone number", "phone numbers"),
    "email": ("an email address", "email addresses"),
    "record number": ("a record number", "record numbers"),
    "address": ("an address", "addresses"),
    "SSN": ("a Social Security number", "Social Security numbers"),
    "URL": ("a web address", "web addresses"),
    "IP address": ("an IP address", "IP addresses"),
}


def redact_phi(text: str) -> PhiResult:
    """Replace each personal identifier in ``text`` by a typed placeholder such as ``[phone]``."""
    if not isinstance(text, str):
        raise UsageError(f"text to redact must be text, not {type(text).__name__}")
    folded = text.translate(_FOLD)  # same length: spans found in it are spans of ``text``
    spans = _resolve(_candidates(folded), _protected(folded))
    if not spans:
        return PhiResult(text=text)
    pieces, bare, last = [], [], 0
    for kind, start, end in spans:
        pieces += [text[last:start], f"[{kind}]"]
        bare += [text[last:start], " "]
        last = end
    pieces.append(text[last:])
    bare.append(text[last:])
    return PhiResult(text="".join(pieces), found=spans, changed=True, searchable=" ".join("".join(bare).split()))


def user_notice(phi: PhiResult) -> str | None:
    """A sentence telling the user what was removed, or None when nothing was."""
    if not phi.changed:
        return None
    counts = Counter(kind for kind, _, _ in phi.found)
    items = [_NOUNS[kind][0] if n == 1 else _NOUNS[kind][1] for kind, n in counts.items()]
    return (f"We removed personal details ({', '.join(items)}) from your question before searching. Medora never "
            "stores them: only the question as shown here, without them, is kept, in a follow-up thread (deleted "
            "after the server's retention period) or in a saved article.")


def _candidates(text: str) -> list[Span]:
    spans: list[Span] = []
    for detector in _DETECTORS:
        for match in detector.pattern.finditer(text):
            value = match.group(detector.group)
            if value and detector.accept(value):
                spans.append((detector.kind, match.start(detector.group), match.end(detector.group)))
    spans.extend(_names(text))
    return spans


def _names(text: str) -> list[Span]:
    spans = []
    for pattern in (*_NAME_INTROS, _NAME_IS_LOWER):
        for match in pattern.finditer(text):
            start, end = _trim_name(match.group("name"), match.start("name"))
            if end > start:
                spans.append(("name", start, end))
                date = _DATE_AFTER_NAME.match(text[end:end + 40])
                if date:
                    spans.append(("date of birth", end + date.start("value"), end + date.end("value")))
    return spans


def _trim_name(name: str, offset: int) -> tuple[int, int]:
    """Keep the leading words of ``name`` up to the first word that is not a name."""
    end = offset
    for word in re.finditer(r"\S+", name):
        if word.group().lower().rstrip(".") in _NOT_NAMES:
            break
        end = offset + word.end()
    return offset, end


def _protected(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _PROTECTED.finditer(text)]


def _resolve(spans: list[Span], protected: list[tuple[int, int]]) -> list[Span]:
    """Drop spans touching a protected span; of overlapping spans keep the earliest, then the longest."""
    kept: list[Span] = []
    for span in sorted(spans, key=lambda s: (s[1], -(s[2] - s[1]))):
        _, start, end = span
        if any(start < p_end and p_start < end for p_start, p_end in protected):
            continue
        if kept and start < kept[-1][2]:
            continue
        kept.append(span)
    return kept
