"""Safety layer: red-flag emergency detection and PHI redaction, on a written test set and real questions."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from medora.errors import ReaderError, UsageError
from medora.safety.phi import PhiResult, redact_phi, user_notice
from medora.safety.redflags import check_red_flags, default_rules, load_rules

RED_FLAG_SET = Path(__file__).parent / "data" / "red_flag_questions.jsonl"

#: Real questions that fire and were checked by hand to describe an emergency happening now.
#: Empty today: none of the 149 K-QA and LiveQA questions does.
REVIEWED_REAL_EMERGENCIES: set[str] = set()


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


@pytest.fixture(scope="module")
def written_set() -> list[dict]:
    return _jsonl(RED_FLAG_SET)


@pytest.fixture(scope="module")
def real_questions(shared_eval: Path) -> list[str]:
    kqa = [row["Question"] for row in _jsonl(shared_eval / "kqa-dev" / "questions.jsonl")]
    liveqa = [row["text"] for row in _jsonl(shared_eval / "liveqa-med-dev" / "queries.jsonl")]
    assert len(kqa) + len(liveqa) == 149
    return kqa + liveqa


@pytest.fixture(scope="module")
def informational_questions(shared_eval: Path) -> list[str]:
    """2,000 more real questions that ask for information only (MedQuAD and PubMedQA)."""
    return [
        row["text"] for name in ("medquad-qa-1k", "pubmedqa-1k") for row in _jsonl(shared_eval / name / "queries.jsonl")
    ]


# --- red flags: the written test set -------------------------------------------------------------


def test_written_set_is_large_and_covers_every_category(written_set):
    positives = [row for row in written_set if row["emergency"]]
    negatives = [row for row in written_set if not row["emergency"]]
    assert len(written_set) >= 120 and len(positives) >= 60 and len(negatives) >= 60
    names = {c.name for c in default_rules().categories}
    assert {row["category"] for row in positives} == names
    assert all(sum(row.get("category") == name for row in positives) >= 5 for name in names)
    assert len({row["question"] for row in written_set}) == len(written_set), "no duplicates"


def test_recall_is_complete_on_written_emergencies(written_set):
    missed = []
    for row in (r for r in written_set if r["emergency"]):
        result = check_red_flags(row["question"])
        if row["category"] not in result.categories:
            missed.append((row["category"], row["question"], result.categories))
    assert not missed, f"missed {len(missed)}: {missed}"


def test_no_false_alarm_on_written_near_misses(written_set):
    fired = [
        (row["question"], check_red_flags(row["question"]).matched)
        for row in written_set
        if not row["emergency"] and check_red_flags(row["question"]).triggered
    ]
    assert not fired, f"false alarms: {fired}"


# --- red flags: real questions --------------------------------------------------------------------


def test_false_alarm_rate_on_real_kqa_and_liveqa_questions(real_questions):
    fired = [(q, check_red_flags(q).matched) for q in real_questions if check_red_flags(q).triggered]
    for question, matched in fired:
        print(f"fires: {matched} <- {question[:120]!r}")
    rate = len(fired) / len(real_questions)
    print(f"red flags fire on {len(fired)}/{len(real_questions)} real questions ({rate:.1%})")
    assert rate < 0.05
    unreviewed = [q for q, _ in fired if q not in REVIEWED_REAL_EMERGENCIES]
    assert not unreviewed, f"check these by hand and list the real emergencies: {unreviewed}"


def test_no_alarm_on_two_thousand_informational_questions(informational_questions):
    fired = [q for q in informational_questions if check_red_flags(q).triggered]
    assert not fired, fired[:10]


@pytest.mark.parametrize("filler", ["i think ", "my dad is ", "just ", "fever 100.4 ", "sugar is "])
def test_long_repetitive_input_stays_linear(filler):
    """A guard against catastrophic regex backtracking (minutes), with a bound loose enough for loaded CI."""
    started = time.perf_counter()
    check_red_flags(filler * (8000 // len(filler)))
    assert time.perf_counter() - started < 15.0


# --- red flags: behaviour -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "question",
    [
        "I have no chest pain, just a cough",
        "My dad does not have chest pain but he is tired",
        "She is not having a seizure, she is just shivering",
        "I have chest pain that went away after resting",
        "I don't want to die, I want to get better",
        "I have never been suicidal",
        "He is not gasping for air, just coughing",
        "There is no blood gushing out of the cut",
        "she denies chest pain spreading to her jaw",
    ],
)
def test_negation_and_resolution_silence_a_trigger(question):
    assert not check_red_flags(question).triggered


@pytest.mark.parametrize(
    "question, category",
    [
        ("I'm not sure, but I think my dad is having a heart attack", "chest pain"),
        ("No idea what is going on, my son is having a seizure", "seizure"),
        ("how do I know if he is having a stroke right now", "stroke"),
        ("my hart atack feels like it is happening, I have crushing chset pain", "chest pain"),
    ],
)
def test_uncertainty_urgency_and_typos_still_fire(question, category):
    assert category in check_red_flags(question).categories


def test_emergency_notice_is_plain_and_actionable():
    result = check_red_flags("my dad's face is drooping and his speech is slurred")
    assert result.triggered and result.categories == ["stroke"]
    assert result.notice.startswith("This may be an emergency. Call your local emergency number (911 in the US) now if")
    assert "drooping face" in result.notice and "not an emergency service" in result.notice
    assert result.crisis == []
    assert result.matched and all(m in "my dad's face is drooping and his speech is slurred" for m in result.matched)


def test_self_harm_brings_crisis_resources():
    result = check_red_flags("I want to kill myself tonight")
    assert result.categories == ["suicide or self-harm"]
    contacts = " ".join(r.contact for r in result.crisis)
    assert "988" in contacts and "741741" in contacts and "local emergency number" in contacts
    assert "988" in result.notice and "741741" in result.notice


def test_poisoning_notice_names_poison_help():
    result = check_red_flags("my toddler swallowed bleach")
    assert "1-800-222-1222" in result.notice and result.crisis == []


def test_several_categories_share_one_notice():
    result = check_red_flags("He hit his head, now he is having a seizure and not breathing")
    assert {"seizure", "breathing difficulty"} <= set(result.categories)
    assert result.notice.count("Call your local emergency number") == 1


def test_quiet_result_and_bad_input():
    result = check_red_flags("What are the symptoms of a stroke?")
    assert (result.triggered, result.categories, result.notice, result.crisis, result.matched) == (
        False,
        [],
        "",
        [],
        [],
    )
    assert not check_red_flags("").triggered
    with pytest.raises(UsageError):
        check_red_flags(None)  # type: ignore[arg-type]


def test_rules_are_compiled_once():
    assert default_rules() is default_rules()


# --- red flags: the rule engine on a small rules file ----------------------------------------------

MINI_RULES = """
heading = "Emergency."
call = "Call now if"
closing = "Bye."
crisis_category = "self"
[spelling]
"cant" = "cannot"
[macros]
who = '''(?:i|he|my \\w+)'''
[negation]
cues = '''\\b(?:no|not)\\b'''
uncertain = '''\\bnot sure\\b'''
resolved = '''^(?: (?:that|it)){0,2} went away\\b'''
window = 3
[urgency]
pattern = '''\\bright now\\b'''
[exclusions]
past = ['''\\byears ago\\b''']
[[category]]
name = "pain"
when = "someone has pain"
exclude = ["past"]
triggers = ['''{who} (?:has|have) pain''', '''cannot walk''']
[[category]]
name = "self"
when = "someone may hurt themselves"
advice = "Help is here:"
triggers = ['''hurt myself''']
combos = [['''fever''', '''stiff neck''']]
"""
MINI_CRISIS = """
[[resource]]
name = "Line"
contact = "Call 000"
region = "Here"
"""


@pytest.fixture()
def mini(tmp_path: Path):
    def build(rules: str = MINI_RULES, crisis: str = MINI_CRISIS):
        (tmp_path / "rules.toml").write_text(rules, encoding="utf-8")
        (tmp_path / "crisis.toml").write_text(crisis, encoding="utf-8")
        return load_rules(tmp_path / "rules.toml", tmp_path / "crisis.toml")

    return build


@pytest.mark.parametrize(
    "question, categories",
    [
        ("my dad has pain", ["pain"]),
        ("My dad has pain since the fall years ago", []),
        ("years ago, my dad has pain", ["pain"]),
        ("years ago my dad has pain right now", ["pain"]),
        ("he does not have pain", []),
        ("not sure if he has pain", ["pain"]),
        ("he has pain that went away", []),
        ("I cant walk", ["pain"]),
        ("fever. Also a stiff neck", ["self"]),
        ("fever but no stiff neck", []),
    ],
)
def test_engine_scopes_exclusions_negation_and_combos(mini, question, categories):
    assert check_red_flags(question, mini()).categories == categories


def test_engine_builds_notice_with_advice_and_crisis(mini):
    result = check_red_flags("I might hurt myself", mini())
    assert (
        result.notice == "Emergency. Call now if someone may hurt themselves. Help is here: Line: Call 000 (Here). Bye."
    )
    assert [r.name for r in result.crisis] == ["Line"]


@pytest.mark.parametrize(
    "broken, message",
    [
        (MINI_RULES.replace("window = 3", "window = [3"), "not valid TOML"),
        (MINI_RULES.replace("hurt myself", "hurt (myself"), "bad pattern"),
        (MINI_RULES.replace("{who} (?:has", "{whom} (?:has"), "unknown macro"),
        (MINI_RULES.replace('exclude = ["past"]', 'exclude = ["future"]'), "unknown group"),
        (MINI_RULES.replace('crisis_category = "self"', 'crisis_category = "other"'), "is not a category"),
        (MINI_RULES.replace("window = 3", "window = 0"), "positive integer"),
        (MINI_RULES.replace('heading = "Emergency."', ""), "invalid rules"),
    ],
)
def test_broken_rules_file_is_reported_with_its_path(mini, tmp_path, broken, message):
    with pytest.raises(ReaderError) as error:
        mini(rules=broken)
    assert str(tmp_path / "rules.toml") in str(error.value) and message in str(error.value)
    assert "\n" not in str(error.value)


def test_broken_or_missing_crisis_file_is_reported(mini, tmp_path):
    with pytest.raises(ReaderError, match="needs name, contact and region"):
        mini(crisis='[[resource]]\nname = "x"\n')
    with pytest.raises(ReaderError, match="no \\[\\[resource\\]\\] entries"):
        mini(crisis="")
    with pytest.raises(ReaderError, match="cannot read"):
        load_rules(tmp_path / "missing.toml")


# --- PHI redaction ---------------------------------------------------------------------------------

REDACTIONS = [
    ("My name is Jane Doe and I have asthma.", "My name is [name] and I have asthma."),
    ("my name is john and i take metformin 500 mg", "my name is [name] and i take metformin 500 mg"),
    ("I am John Smith, 45, with type 2 diabetes", "I am [name], 45, with type 2 diabetes"),
    (
        "Patient: Maria Lopez, DOB 01/02/1980, on lisinopril 20 mg daily",
        "Patient: [name], DOB [date of birth], on lisinopril 20 mg daily",
    ),
    (
        "I was born on March 3, 1975 and take 5 mg/kg of prednisone",
        "I was born on [date of birth] and take 5 mg/kg of prednisone",
    ),
    ("DOB: 1980-02-14, allergic to penicillin", "DOB: [date of birth], allergic to penicillin"),
    ("born in March 1975", "born in [date of birth]"),
    ("Call me at (555) 123-4567 or 555.987.6543", "Call me at [phone] or [phone]"),
    ("my cell is +44 20 7946 0958", "my cell is [phone]"),
    ("Phone: +91 98765 43210", "Phone: [phone]"),
    ("Text me at 555-123-4567.", "Text me at [phone]."),
    ("email me: jane.doe@example.com about my INR", "email me: [email] about my INR"),
    ("SSN 123-45-6789", "SSN [SSN]"),
    ("social security number 123456789", "social security number [SSN]"),
    ("MRN 12345678 - creatinine 1.3 mg/dL", "MRN [record number] - creatinine 1.3 mg/dL"),
    ("medical record # 44-5566", "medical record # [record number]"),
    ("patient ID: A1234567", "patient ID: [record number]"),
    ("account number 9876543210", "account number [record number]"),
    ("I live at 123 Main St, Apt 4B, Springfield, IL 62704 and have gout", "I live at [address] and have gout"),
    ("we are at 42 West Elm Avenue", "we are at [address]"),
    ("i live at 12 oak street", "i live at [address]"),
    ("P.O. Box 1234", "[address]"),
    ("zip code 90210", "zip code [address]"),
    ("see https://example.com/portal?id=55 for my chart.", "see [URL] for my chart."),
    ("my IP is 192.168.1.20", "my IP is [IP address]"),
    ("ip fe80::1ff:fe23:4567:890a", "ip [IP address]"),
    ("Dr. Patel prescribed 20 mg atorvastatin", "Dr. [name] prescribed 20 mg atorvastatin"),
    ("Doctor Alvarez said my INR is 2.5", "Doctor [name] said my INR is 2.5"),
    ("Nurse Kim gave me 0.5 mg of Ativan", "Nurse [name] gave me 0.5 mg of Ativan"),
    ("my son Jake has a fever of 101", "my son [name] has a fever of 101"),
    ("Is my rash shingles?\nThanks,\nMary Jones", "Is my rash shingles?\nThanks,\n[name]"),
    # Name cues, dates of birth next to names, look-alike separators (issue 13).
    ("Pt. John Smith 03/14/1975 has chest pain", "Pt. [name] [date of birth] has chest pain"),
    ("Patient Maria Gonzalez, DOB 02/03/1980, takes metformin", "Patient [name], DOB [date of birth], takes metformin"),
    ("my patient Ann Lee (March 3, 1975) has gout", "my patient [name] ([date of birth]) has gout"),
    ("pt John Smith, 1975-03-14, on warfarin", "pt [name], [date of birth], on warfarin"),
    ("Mrs. Lopez and Mr Smith take lisinopril", "Mrs. [name] and Mr [name] take lisinopril"),
    ("Maria Gonzalez DOB 1/2/1980 asks about asthma", "[name] DOB [date of birth] asks about asthma"),
    ("email jane\uff20example\uff0ecom about my INR", "email [email] about my INR"),
    ("mail: jane.doe\ufe6bmail\u3002com", "mail: [email]"),
    ("call 555\u2013123\u20134567 tonight", "call [phone] tonight"),
    ("phone \uff15\uff15\uff15-\uff11\uff12\uff13-\uff14\uff15\uff16\uff17", "phone [phone]"),
]

UNTOUCHED = [
    "I'm 45 and take 20 mg of atorvastatin",
    "Is 5 mg/kg of ibuprofen safe for a child?",
    "My HbA1c was 7.2% in 2019",
    "I was born in 1975",
    "Swan NDC 0869-0871-43 hydrogen peroxide",
    "creatinine 1.3 mg/dL, eGFR 55, potassium 4.1 mmol/L",
    "BP 120/80, pulse 72, temp 98.6",
    "I found 4 cases of expired (04/2010) Hydrogen Peroxide",
    "I am a 33 years old female",
    "I am Caucasian",
    "Carvedilol 25 mg to Hydralazine 50 mg",
    "My granddaughter was born with Klippel-Trenaunay Syndrome",
    "I take Lipitor 40 mg and Metformin 1000 mg",
    "My heart rate fluctuates from 254 to 21",
    "Janumet XR 50mg/1000mg once daily",
    "Is Parkinson's disease hereditary?",
    "his pedi. Dr. Does not has any concerns",
    "My Son Has A Fever Of 102",
    "I Am Having Chest Pain",
    "pH 7.35 to 7.45",
    "white cell count 4.5 5.0 5.5 6.0",
    "Take 2 tablets 3 times a day for 10 days",
    "Vitamin D 50,000 IU weekly",
    "my platelets are 150000 and hemoglobin 13.5",
    "pectin methylesterase (EC 3.1.1.11) activity",
    "Research Nurse. Both Investigators agreed",
    "Will We Miss Cancers Following Updated Guidelines?",
    "Is the Patient Health Questionnaire valid in teenagers?",
    "Patient Information about asthma",
    "Is the patient education guide useful?",
    "Pt. education for atorvastatin 20 mg",
]


@pytest.mark.parametrize("text, expected", REDACTIONS)
def test_redacts_identifiers(text, expected):
    result = redact_phi(text)
    assert result.text == expected and result.changed
    _assert_offsets_rebuild(text, result)


@pytest.mark.parametrize("text", UNTOUCHED)
def test_leaves_medical_content_alone(text):
    assert redact_phi(text) == PhiResult(text=text, found=[], changed=False)


def _assert_offsets_rebuild(original: str, result: PhiResult) -> None:
    """Putting each placeholder back over its (start, end) in the original gives the redacted text."""
    rebuilt, last = [], 0
    for kind, start, end in result.found:
        assert 0 <= last <= start < end <= len(original)
        rebuilt += [original[last:start], f"[{kind}]"]
        last = end
    assert "".join(rebuilt) + original[last:] == result.text


def test_real_questions_are_not_redacted(real_questions):
    changed = [(q, redact_phi(q).found) for q in real_questions if redact_phi(q).changed]
    assert not changed, changed


def test_real_questions_keep_every_word_when_identifiers_are_added(real_questions):
    prefix = "My name is Jane Doe, DOB 01/02/1980, phone 555-123-4567, email jane@example.com, MRN 88812345. "
    redacted_prefix = "My name is [name], DOB [date of birth], phone [phone], email [email], MRN [record number]. "
    for question in real_questions:
        result = redact_phi(prefix + question + "\nRegards,\nJohn Smith")
        assert result.text == redacted_prefix + question + "\nRegards,\n[name]"
        assert [kind for kind, _, _ in result.found] == [
            "name",
            "date of birth",
            "phone",
            "email",
            "record number",
            "name",
        ]


def test_numbers_in_a_thousand_abstracts_survive(shared_eval: Path):
    """PubMedQA abstracts are full of doses, p-values, CIs, dates and codes; none is an identifier."""
    abstracts = [row["text"] for row in _jsonl(shared_eval / "pubmedqa-1k" / "corpus.jsonl")]
    changed = [text[:80] for text in abstracts if redact_phi(text).changed]
    assert not changed, changed


def test_finds_real_phone_numbers_and_web_addresses_in_nih_answers(shared_eval: Path):
    answers = [row["text"] for row in _jsonl(shared_eval / "liveqa-med-dev" / "corpus.jsonl")]
    found = [(kind, text[start:end]) for text in answers for kind, start, end in redact_phi(text).found]
    phones = {value for kind, value in found if kind == "phone"}
    assert "1-800-222-1222" in phones and all(re.fullmatch(r"[\d() -]{12,14}", p) for p in phones)
    assert sum(kind == "URL" for kind, _ in found) > 50
    assert {value for kind, value in found if kind == "name"} <= {"James Cheek", "Bruce Tempest"}  # after "Dr."
    assert {kind for kind, _ in found} <= {"phone", "URL", "name"}


def test_user_notice_names_what_was_removed():
    assert user_notice(redact_phi("What is gout?")) is None
    notice = user_notice(redact_phi("Call 555-123-4567, DOB 1/2/1980"))
    assert notice == (
        "We removed personal details (a phone number, a date of birth) from your question before searching. "
        "Medora never stores them: only the question as shown here, without them, is kept, in a follow-up thread "
        "(deleted after the server's retention period) or in a saved article."
    )
    assert "phone numbers" in user_notice(redact_phi("555-123-4567 or 555-765-4321"))  # type: ignore[operator]


def test_redact_rejects_non_text():
    with pytest.raises(UsageError):
        redact_phi(b"bytes")  # type: ignore[arg-type]


@pytest.mark.parametrize("filler", ["12-", "Dr. Aa ", "1.1.", "+1 ", "123 Main "])
def test_redaction_stays_fast_on_long_repetitive_input(filler):
    """A guard against catastrophic regex backtracking (which takes minutes), not a speed benchmark:
    the bound is loose enough for a loaded CI machine (measured ~0.05 s idle)."""
    started = time.perf_counter()
    redact_phi(filler * (20000 // len(filler)))
    assert time.perf_counter() - started < 15.0
