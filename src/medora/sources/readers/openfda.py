"""Reader for openFDA drug labels: /drug/label API responses and the openfda-common extracts.

openFDA serves each label as JSON: one list-of-strings field per label section
(``indications_and_usage``, ``dosage_and_administration``, ``boxed_warning``...), ``*_table``
fields holding the section's tables as HTML, and ``openfda`` with brand, generic and substance
names. A field is one flattened string: "2 DOSAGE AND ADMINISTRATION ... ( 2.1 ). 2.1
Recommended Dosage Administer ...". This reader cleans it before it becomes a section (the
heading and its number leave the text, cross-references such as "( 2.1 )" or "[see Warnings and
Precautions (5.1)]" are removed, numbered subsections get their own heading, and so do the
un-numbered sub-headings openFDA runs into the next sentence: "Omeprazole or Esomeprazole Avoid
concomitant use..." is the heading "Omeprazole or Esomeprazole" over "Avoid concomitant use..."), so
a quoted statement never carries them and citation offsets point into the stored text. Field -> section
name and type come from the SPL reader's LOINC table: openFDA names its fields after those codes.

Accepts one API response (``{"meta": ..., "results": [label, ...]}``), a bare label object,
a tarball of such files (read member by member, never unpacked), and the openfda-common
extracts (``{"drug_name", "generic_names", ..., "sections": {field: text}}``, a derived
format without set id). ``label_document`` is the entry point for callers holding a label dict
(the online openFDA client).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Any, Iterator
from urllib.parse import quote_plus

from lxml import etree
from lxml import html as lxml_html

from medora.errors import ReaderError
from medora.sources.readers.base import (
    tar_members,
    MAX_FILE_BYTES,
    ParsedDocument,
    ParsedSection,
    Skipped,
    check_file,
    clean_text,
    decode_text,
)
from medora.sources.readers.spl import DAILYMED_URL, SECTION_CODES

PUBLISHER = "U.S. Food and Drug Administration (openFDA)"
COMMON_PUBLISHER = "U.S. Food and Drug Administration (openFDA), label extract by the PharmaGraphRAG project"
LICENSE = "Public domain (openFDA, U.S. government work)"
DAILYMED_SEARCH_URL = "https://dailymed.nlm.nih.gov/dailymed/search.cfm?labeltype=all&query={}"

NO_NAMES_REASON = "openFDA label without openfda brand/generic names (read; title from its package label or set id)"
NO_RESULTS_REASON = "openFDA response with no results (results: [])"
NOT_LABEL_REASON = "JSON file that is not an openFDA label response"
TABLE_REASON = "openFDA HTML table that does not parse (no rows)"
IMAGE_TABLE_REASON = "openFDA table holding only an image or figure (no text)"

#: openFDA field -> LOINC section code of the SPL reader (its name and section type).
FIELD_CODES: dict[str, str] = {
    "boxed_warning": "34066-1",
    "indications_and_usage": "34067-9",
    "dosage_and_administration": "34068-7",
    "dosage_forms_and_strengths": "43678-2",
    "contraindications": "34070-3",
    "warnings_and_cautions": "43685-7",
    "warnings": "34071-1",
    "precautions": "42232-9",
    "general_precautions": "34072-9",
    "laboratory_tests": "34075-2",
    "drug_abuse_and_dependence": "42227-9",
    "controlled_substance": "34085-1",
    "abuse": "34086-9",
    "dependence": "34087-7",
    "adverse_reactions": "34084-4",
    "drug_interactions": "34073-7",
    "drug_and_or_laboratory_test_interactions": "34074-5",
    "use_in_specific_populations": "43684-0",
    "pregnancy": "42228-7",
    "teratogenic_effects": "34077-8",
    "nonteratogenic_effects": "34078-6",
    "labor_and_delivery": "34079-4",
    "nursing_mothers": "34080-2",
    "lactation": "77290-5",
    "pediatric_use": "34081-0",
    "geriatric_use": "34082-8",
    "information_for_patients": "34076-0",
    "patient_medication_information": "88436-1",
    "spl_medguide": "42231-1",
    "spl_patient_package_insert": "42230-3",
    "instructions_for_use": "59845-8",
    "clinical_studies": "34092-7",
    "overdosage": "34088-5",
    "description": "34089-3",
    "clinical_pharmacology": "34090-1",
    "mechanism_of_action": "43679-0",
    "pharmacodynamics": "43681-6",
    "pharmacokinetics": "43682-4",
    "nonclinical_toxicology": "43680-8",
    "carcinogenesis_and_mutagenesis_and_impairment_of_fertility": "34083-6",
    "animal_pharmacology_and_or_toxicology": "34091-9",
    "how_supplied": "34069-5",
    "storage_and_handling": "44425-7",
    # OTC "Drug Facts"
    "active_ingredient": "55106-9",
    "purpose": "55105-1",
    "do_not_use": "50570-1",
    "ask_doctor": "50569-3",
    "ask_doctor_or_pharmacist": "50568-5",
    "when_using": "50567-7",
    "stop_use": "50566-9",
    "pregnancy_or_breast_feeding": "53414-9",
    "keep_out_of_reach_of_children": "50565-1",
    "safe_handling_warning": "50741-8",
    "other_safety_information": "60561-8",
    "inactive_ingredient": "51727-6",
    "questions": "53413-1",
}

#: Fields with no LOINC entry above: (heading, section type).
EXTRA_FIELDS: dict[str, tuple[str, str]] = {
    "spl_unclassified_section": ("Additional information", "other"),
    "pharmacogenomics": ("Pharmacogenomics", "other"),
    "microbiology": ("Microbiology", "other"),
    "risks": ("Risks", "warnings"),
    "user_safety_warnings": ("User safety warnings", "warnings"),
    "health_claim": ("Health claim", "other"),
}

#: Not label text (product data, package panel, highlights box, bibliography) or not text at all.
SKIP_FIELDS = frozenset({
    "spl_product_data_elements", "package_label_principal_display_panel", "recent_major_changes",
    "references", "openfda", "set_id", "id", "effective_time", "version", "spl_indexing_data_elements",
})

#: Other ways labels spell a field's own heading at the start of its text.
HEADING_VARIANTS: dict[str, tuple[str, ...]] = {
    "boxed_warning": ("boxed warning",),
    "warnings_and_cautions": ("warnings and precautions",),
    "how_supplied": ("how supplied/storage and handling", "how supplied / storage and handling", "how supplied"),
    "storage_and_handling": ("storage and handling", "storage"),
    "information_for_patients": ("patient counseling information", "information for patients"),
    "spl_medguide": ("medication guide",),
    "spl_patient_package_insert": ("patient information", "patient package insert"),
    "nursing_mothers": ("nursing mothers", "lactation"),
    "drug_abuse_and_dependence": ("drug abuse and dependence",),
    "carcinogenesis_and_mutagenesis_and_impairment_of_fertility": (
        "carcinogenesis, mutagenesis, impairment of fertility",
        "carcinogenesis & mutagenesis & impairment of fertility",
    ),
    "nonclinical_toxicology": ("nonclinical toxicology",),
    "drug_and_or_laboratory_test_interactions": (
        "drug/laboratory test interactions", "drug and/or laboratory test interactions",
    ),
    "adverse_reactions": ("adverse reactions",),
    "pediatric_use": ("pediatric use",),
    "geriatric_use": ("geriatric use",),
}

# ---------------------------------------------------------------- cleaning one field's text

# A section number as labels write it: 5, 5.1, 12.3, 2.1.1 (sub-parts never start with 0, so a
# confidence interval "(0.95, 1.05)" is not one).
_NUM = r"\d{1,2}(?:\.[1-9]\d?)*"
_NUM_LIST = rf"{_NUM}(?:\s*[,;]\s*(?:and\s+)?{_NUM})*"
_NUM_REF = re.compile(rf"\(\s*{_NUM_LIST}\s*\)")
_SEE_BRACKET = re.compile(r"\[\s*s\s?ee\b[^\[\]]{0,400}\]", re.I)  # "[see Warnings and Precautions (5.1)]"
_LABEL_SECTIONS = (
    "boxed warning", "indications and usage", "dosage and administration", "dosage forms and strengths",
    "contraindications", "warnings and precautions", "warnings", "precautions", "adverse reactions",
    "drug interactions", "use in specific populations", "drug abuse and dependence", "overdosage", "description",
    "clinical pharmacology", "nonclinical toxicology", "clinical studies", "references", "how supplied",
    "storage and handling", "patient counseling information", "medication guide", "instructions for use",
)
_SECTION_NAME = "(?:" + "|".join(re.escape(n) for n in sorted(_LABEL_SECTIONS, key=len, reverse=True)) + ")"
# "[see Adverse Reactions, Clinical Studies" when the label forgot the "]" (its numbers already removed)
_SEE_UNCLOSED = re.compile(rf"\[\s*s\s?ee\s+{_SECTION_NAME}(?:\s*(?:,|and)\s*{_SECTION_NAME})*\s*\]?", re.I)
_SEE_PAREN = re.compile(  # "(see Warnings and Precautions (5.1) and Clinical Pharmacology (12.3))"
    rf"\(\s*s\s?ee\b[^()]{{0,300}}\(\s*{_NUM_LIST}\s*\)(?:[^()]{{0,300}}\(\s*{_NUM_LIST}\s*\))*[^()]{{0,100}}\)", re.I
)
_SPACE_BEFORE_PUNCT = re.compile(r" +(?=[.,;:](?:\s|$))")
_SPACES = re.compile(r"  +")
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")
_LEAD_NUMBER = re.compile(r"^\s*(\d(?: ?\d)?(?:\s?\.\s?\d{1,2})*)\.?\s+")  # "12.3", "1 2" (= 12), "2. 3"
_CAPS_WORD = re.compile(r"^[A-Z0-9][A-Z0-9/&,\-–()']*:?$")
_LEADING_NUMBER_LEFT = re.compile(r"^\d{1,2}(?:\.\s?\d{1,2})+\.?\s+")
_CONNECTORS = frozenset(
    "and or of for in with to the a an on by at from without during per de vs vs. versus via not and/or".split()
)
MAX_HEADING_WORDS = 14


def _keep_numbers(text: str, match: re.Match[str]) -> bool:
    """True when parenthesised numbers are a value after a value (a CI "1.4 (1.1, 1.9)", "15 ( 5)").

    openFDA writes a cross-reference link as "( 2.1 )", spaced inside on both sides: always removed.
    """
    inner = match.group(0)
    if inner.startswith("( ") and inner.endswith(" )"):
        return False
    before = text[:match.start()].rstrip()
    return bool(before) and (before[-1].isdigit() or before[-1] in "%=<>±≤≥" or before.endswith(("CI", "ratio")))


def strip_references(text: str) -> str:
    """Text without label cross-references: "( 2.1 )", "(5.2, 5.3)", "[see Warnings and Precautions (5.1)]"."""
    text = _SEE_BRACKET.sub("", text)
    text = _SEE_PAREN.sub("", text)
    text = _NUM_REF.sub(lambda m: m.group(0) if _keep_numbers(text, m) else "", text)
    text = _SEE_UNCLOSED.sub("", text)
    return _SPACE_BEFORE_PUNCT.sub("", _SPACES.sub(" ", text)).strip()


def _heading_variants(field: str) -> list[str]:
    name = _field_heading(field)[0]
    variants = {name.lower(), field.replace("_", " "), *HEADING_VARIANTS.get(field, ())}
    return sorted(variants, key=len, reverse=True)


def _strip_own_heading(text: str, field: str) -> tuple[str, str | None]:
    """(text without its leading "2 DOSAGE AND ADMINISTRATION"/"Warnings", the leading section number or None)."""
    number = None
    m = _LEAD_NUMBER.match(text)
    if m:
        number = re.sub(r"\s", "", m.group(1))
        text = text[m.end():]
    lowered = text.lower()
    for variant in _heading_variants(field):
        if lowered.startswith(variant) and (len(text) == len(variant) or not text[len(variant)].isalnum()):
            return text[len(variant):].lstrip(" :.-–\n"), number
    if number:  # "5 WARNINGS AND PRECAUTIONS ..." spelled another way: drop the ALL-CAPS run after the number
        words = text.split(" ")
        n = 0
        while n < len(words) and _CAPS_WORD.match(words[n]) and re.search(r"[A-Z]{2}", words[n]):
            n += 1
        if n >= 1 and n < len(words):
            return " ".join(words[n:]).lstrip(" :.-–"), number
    return text, number


def _is_title_word(word: str) -> bool:
    return word[:1].isupper() and any(c.islower() for c in word[1:])


#: Short lower-case words that are words, not the tail of a word openFDA cut in two ("Modification s").
_SHORT_WORDS = _CONNECTORS | frozenset("as is be up if no so all are was its our his her who may can use "
                                       "mg kg mcg ml dl min hr hrs day wk yr mo sec iu oz lb n g h d m x".split())


def _mended(words: list[str]) -> list[tuple[str, int]]:
    """(word, how many of ``words`` it is made of): openFDA's cut heading words mended.

    openFDA flattens labels whose markup split a word ("Modification<b>s</b>" -> "Modification s");
    inside a run of capitalised heading words, a short lower-case piece that is no word is the
    previous word's tail: "Dosage Modification s with Concomitant Use" -> "Dosage Modifications with...".
    """
    out: list[tuple[str, int]] = []
    i = 0
    while i < len(words):
        word = words[i]
        after = words[i + 1] if i + 1 < len(words) else ""
        if (out and 1 <= len(word) <= 3 and word.isalpha() and word.islower() and word not in _SHORT_WORDS
                and out[-1][0].isalpha() and _is_title_word(out[-1][0])
                and (after[:1].isupper() or after in _CONNECTORS)):
            out[-1] = (out[-1][0] + word, out[-1][1] + 1)
        elif (word + after in _CONNECTORS and word.isalpha() and word.islower() and after.islower()
              and word not in _SHORT_WORDS and after not in _SHORT_WORDS):  # "t o or f rom" -> "to or from"
            out.append((word + after, 2))
            i += 1
        else:
            out.append((word, 1))
        i += 1
    return out


def _is_brand(word: str) -> bool:
    return len(word) >= 3 and word.isalpha() and word.isupper()


def _split_heading(piece: str) -> tuple[str | None, str]:
    """("Recommended Dosage", "Administer CELEXA once daily...") from a subsection's flattened text."""
    raw = piece.split(" ")
    mended = _mended(raw)
    words = [word for word, _ in mended]
    stop = len(words)
    for i, word in enumerate(words):
        if not word:
            continue
        if word in _CONNECTORS or word.lstrip("(")[:1].isupper() or word in ("-", "–", "/", "&"):
            continue  # "(DIC)" too
        stop = i
        break
    if stop == len(words):
        return None, piece
    if words[stop].lstrip("(\"'“")[:1].isalpha():  # a lower-case word: its sentence began at the last Title-case word
        starts = [i for i in range(stop) if _is_title_word(words[i]) or words[i] == "A"]  # "A number of..."
        cut = starts[-1] if starts else 0
        brand = stop - 1  # "...Torsade de Pointes CELEXA causes": a brand in capitals opens the sentence
        while brand > 0 and _is_brand(words[brand]) and _is_brand(words[brand - 1]):
            brand -= 1
        if (brand > 0 and _is_brand(words[stop - 1]) and words[brand - 1] not in _CONNECTORS  # not "...of AST greater"
                and any(_is_title_word(w) for w in words[:brand])):
            cut = brand - 1 if words[brand - 1] in _SENTENCE_OPENERS else brand  # "Administer CELEXA once daily"
        while cut == 0 and stop > 1 and words[stop - 1].isupper():  # "Seizures CELEXA has ...": a brand starts it
            stop -= 1
            cut = stop if stop > 0 and not words[stop - 1].isupper() else 0
    else:  # a number or symbol starts the sentence ("Geriatric Use Of 4422 patients": from "Of")
        cut = stop - 1 if stop > 1 and words[stop - 1].lower() in _CONNECTORS else stop
    heading_words = words[:cut]
    while heading_words and (heading_words[-1].lower() in _CONNECTORS or not heading_words[-1]):
        heading_words.pop()
    heading = " ".join(heading_words).strip(" :.-–")
    if not heading or len(heading_words) > MAX_HEADING_WORDS:
        return None, piece
    if heading.isupper():
        heading = heading[:1] + heading[1:].lower()
    return heading, " ".join(raw[sum(count for _, count in mended[:cut]):]).strip()


# ---------------------------------------------------------------- un-numbered sub-headings

#: Capitalised words that begin a label sentence (articles, prepositions, pronouns, the imperatives of
#: counselling and dosing text, the nouns labels open statements with). After a run of heading words,
#: one of them followed by a lower-case word is where the heading ends and its first sentence begins.
_SENTENCE_OPENERS = frozenset("""
    The A An In If For When Following After Before During Based No There This These Those Although Because
    Since As At On To With Without Of Among Across Each Both Most Many Some All Any Approximately Overall
    Once While Unless Until Compared Due Given Upon Within However Other Only Not Nearly Less More Several
    It Its They Their We You Your One Two Three Four Five Six Ten
    Advise Inform Instruct Monitor Avoid Use Administer Consider Counsel Discontinue Verify Educate Evaluate
    Perform Initiate Reduce Assess Obtain Measure Check Take Do Store Keep Tell Dispose Inspect Withhold
    Interrupt Resume Titrate Dilute Reconstitute Prepare Remove Ensure Follow Give Begin Determine Treat
    Observe Correct Confirm Encourage Seek Report Call Contact Read Limit Maintain Permanently Temporarily
    Closely Carefully Periodically Regularly Immediately Routinely Caution Cases Patients Concomitant
    Coadministration Co-administration Treatment Available Limited Published Animal Clinical Serious Severe
    Fatal Reports Studies Women Pregnant Infants Neonates Children Adults Elderly Pediatric Safety Exposure
""".split())
#: The sub-headings labels use over and over (pregnancy and lactation, pharmacokinetics, overdosage, drug
#: interaction tables): after them, whatever capitalised word follows opens the sentence ("Metabolism
#: Capmatinib is metabolized..."). Matched without case, alone or in a row ("Contraception Females").
_KNOWN_SUBHEADINGS = frozenset(h.lower() for h in (
    "Risk Summary", "Clinical Considerations", "Data", "Human Data", "Animal Data", "Juvenile Animal Data",
    "Juvenile Animal Toxicity Data", "Disease-Associated Maternal and/or Embryo/Fetal Risk",
    "Maternal Adverse Reactions", "Fetal/Neonatal Adverse Reactions", "Labor or Delivery", "Labor and Delivery",
    "Pregnancy", "Pregnancy Testing", "Pregnancy Exposure Registry", "Pregnancy Registry", "Lactation",
    "Nursing Mothers", "Contraception", "Infertility", "Females", "Males", "Teratogenic Effects",
    "Nonteratogenic Effects", "Embryo-Fetal Toxicity", "Pediatric Use", "Geriatric Use", "Pediatric Patients",
    "Geriatric Patients", "Male and Female Patients", "Renal Impairment", "Hepatic Impairment",
    "Patients with Renal Impairment", "Patients with Hepatic Impairment", "Specific Populations", "Race", "Gender",
    "Sex", "Age", "Body Weight", "Absorption", "Distribution", "Metabolism", "Elimination", "Excretion",
    "Effect of Food", "Food Effect", "Drug Interaction Studies", "Cardiac Electrophysiology", "Mechanism of Action",
    "Pharmacodynamics", "Pharmacokinetics", "Carcinogenesis", "Mutagenesis", "Impairment of Fertility",
    "Carcinogenesis, Mutagenesis, Impairment of Fertility", "Carcinogenesis, Mutagenesis, and Impairment of Fertility",
    "Antimicrobial Activity", "Resistance", "Cross Resistance", "Cross-Resistance", "Susceptibility Testing",
    "Microbiology", "Clinical Presentation", "Treatment", "Management", "Management of Overdosage",
    "Laboratory Tests", "Drug Interactions", "Clinical Impact", "Intervention", "Examples", "Administration",
    "Administration Instructions", "Storage", "Storage and Handling", "Missed Dose", "Limitations of Use",
    "Information for Patients",
))
#: Openers that may be followed by a number ("In 2 studies", "Approximately 5% of").
_NUMBER_OPENERS = frozenset("In Of At After Following Approximately Over Within Among During For On To Less More Only "
                            "Nearly Since Before Until With Without Up".split())
#: Lower-case words that link the words of a heading ("Patients with IMT"), unlike "a" or "the".
_HEADING_LINKS = frozenset("with of and or for in on to without from by at".split())
#: Capitalised starts of a sentence, never of a heading ("The Kaplan-Meier Curve In ...").
_NOT_HEADING_START = frozenset("The A An This These Those If When There It However".split())
#: Words after which a capital letter belongs to a name ("Hepatitis A vaccine", "Vitamin A").
_NAMED_BY_LETTER = frozenset("vitamin hepatitis type class category group grade part phase influenza factor "
                             "protein study trial arm cohort table figure panel schedule".split())
_HEADING_TOKEN = re.compile(r"^\(?[A-Z](?:[\w'’.\-/&+]*[\w'’\-/&+])?\)?,?$|^\(?\d[\w\-/]*[A-Za-z][\w\-/]*\)?,?$|^[-–/&]$")
_SENTENCE_START = re.compile(r"(?:^|(?<=[.!?])[\"'”’)\]]*\s+)(?=[A-Z(])")
_PLLR_DATA = re.compile(r"^Data (?=(?:Human|Animal) Data\b)")  # "Data" over "Animal Data": the latter says it


def _known_subheadings(words: list[str]) -> bool:
    """True when ``words`` are one or more of the labels' usual sub-headings in a row ("Data Human Data",
    "Metabolism and Excretion")."""
    i = 0
    while i < len(words):
        if 0 < i < len(words) - 1 and words[i] in ("and", "&"):
            i += 1
            continue
        for j in range(len(words), i, -1):
            if " ".join(words[i:j]).lower().rstrip(",") in _KNOWN_SUBHEADINGS:
                i = j
                break
        else:
            return False
    return True


def _known_tail(heading: str | None) -> tuple[str | None, str | None]:
    """(heading, None), or (its first part, its last) when it is two usual sub-headings run together."""
    words = heading.split(" ") if heading else []
    if len(words) < 2 or _known_subheadings([heading]):
        return heading, None
    for i in range(1, len(words)):
        if _known_subheadings(words[:i]) and _known_subheadings(words[i:]):
            return " ".join(words[:i]), " ".join(words[i:])
    return heading, None


def _inline_heading(words: list[str]) -> int:
    """How many of a sentence's first ``words`` are a sub-heading glued onto it; 0 when none.

    "Omeprazole or Esomeprazole Avoid concomitant use of Plavix..." -> 3: heading words (capitalised,
    connectors inside), then the sentence's first word, then a lower-case word. The first word must be
    one that opens sentences ("Avoid"), unless the heading is a usual sub-heading ("Metabolism
    Capmatinib is...") or the sentence repeats a heading word ("Isoniazid Isoniazid has been..."). A
    heading ending in a colon ("Renal Impairment: Renal clearance...") is the sentence's own lead-in.
    """
    n = 0
    while n < len(words) and n <= MAX_HEADING_WORDS + 1:
        if not (_HEADING_TOKEN.match(words[n]) or (n > 0 and words[n] in _CONNECTORS)):
            break
        n += 1
    while n > 0 and words[n - 1] in _CONNECTORS:  # "Data In a dose": "a" is the sentence's, not the heading's
        n -= 1
    # words[:n] are capitalised: the sentence opens at words[n - 1] when words[n] is lower case
    if n < 2 or n >= len(words) or not (words[n][:1].islower() or words[n][:1].isdigit()):
        return 0
    cut = n - 1
    heading, opener = words[:cut], words[cut].rstrip(",")
    if words[n][:1].isdigit() and opener not in _NUMBER_OPENERS:  # "...Pediatric Patients 3 Years of Age"
        return 0
    after = words[n + 1] if n + 1 < len(words) else ""
    if words[n] in _HEADING_LINKS and after[:1].isupper():  # "...or Pediatric Patients with IMT: ..."
        return 0
    if heading[-1] in _CONNECTORS or len(heading) > MAX_HEADING_WORDS:
        return 0
    if any(w.endswith(":") for w in heading) or heading[0] in _NOT_HEADING_START:
        return 0
    if not (_is_title_word(opener) or (opener.isalpha() and opener.isupper())):
        return 0
    if _known_subheadings(heading) or opener.lower() in {w.lower().strip("(),") for w in heading}:
        return cut
    if opener not in _SENTENCE_OPENERS:
        return 0
    if len(heading) == 1 and heading[0] in _SENTENCE_OPENERS:  # an imperative and its object: "Monitor Patients for"
        return 0
    if len(opener) == 1 and heading[-1].lower() in _NAMED_BY_LETTER:
        return 0
    return cut


def split_inline_headings(text: str) -> list[tuple[str | None, str]]:
    """``text`` as (sub-heading or None, body) runs, cut where a sentence starts with a glued sub-heading.

    openFDA flattens a label section into one string, so its un-numbered sub-headings ("Risk Summary",
    "Omeprazole or Esomeprazole", "Hepatic Impairment") run into the sentence after them. Each one
    becomes the heading of the text up to the next; the text before the first keeps no sub-heading.
    """
    runs: list[tuple[str | None, str]] = []
    heading: str | None = None
    start = 0
    for match in _SENTENCE_START.finditer(text):
        at = match.end()
        if at < start:
            continue
        raw = text[at:at + 600].split(" ")
        mended = _mended(raw)
        cut = _inline_heading([word for word, _ in mended])
        if not cut:
            continue
        body = text[start:at].strip()
        if body:
            runs.append((heading, body))
        heading = _PLLR_DATA.sub("", " ".join(word for word, _ in mended[:cut])).strip(" -–,")
        if heading.isupper() and (" " in heading or len(heading) > 5):  # "WARNINGS", not "NSCLC"
            heading = heading[:1] + heading[1:].lower()
        pieces = sum(count for _, count in mended[:cut])
        start = at + sum(len(piece) + 1 for piece in raw[:pieces])
    tail = text[start:].strip()
    if tail:
        runs.append((heading, tail))
    return runs


def _subsection_pattern(number: str | None) -> re.Pattern[str]:
    """Where a numbered subsection starts inside flattened text: after a sentence end, "2.1 " + a capital."""
    own = re.escape(number.split(".")[0]) if number else None
    spaced = rf"|{own}\.\s[1-9]\d?" if own else ""  # "2. 3 Recommended Dosage" only under its own number
    return re.compile(rf"(?:(?<=[.:;!?)\]])|^)\s+(?:(?:1[0-7]|[1-9])\.[1-9]\d?(?:\.\d{{1,2}})*{spaced})\.?\s+(?=[A-Z])")


def field_sections(field: str, value: str, heading: str, section_type: str) -> list[ParsedSection]:
    """One openFDA field string -> sections under ``heading`` (numbered subsections get their own)."""
    text = clean_text(value).replace("\n", " ")
    text, number = _strip_own_heading(text, field)
    pieces = [strip_references(piece) for piece in _subsection_pattern(number).split(" " + text)]
    sections: list[ParsedSection] = []

    def add(path: list[str], body: str, first: str | None = None) -> None:
        for inline, run in split_inline_headings(body):  # un-numbered sub-headings: "Risk Summary", ...
            inline, first = inline or first, None
            sections.append(ParsedSection([*path, inline] if inline else path, run, section_type))

    first = _LEADING_NUMBER_LEFT.sub("", pieces[0].strip())
    if first:
        add([heading], first)
    for piece in pieces[1:]:
        sub, body = _split_heading(piece.strip())
        body = _LEADING_NUMBER_LEFT.sub("", body)
        if not body:
            body, sub = sub or "", None
        sub, inner = _known_tail(sub)  # "Lactation Risk Summary" = "Lactation" over "Risk Summary"
        if body:
            add([heading, sub] if sub else [heading], body, inner)
    return _merge_same_path(sections)


def _merge_same_path(sections: list[ParsedSection]) -> list[ParsedSection]:
    """Consecutive sections on one path joined; a section repeated word for word (extracts repeat some) dropped."""
    merged: list[ParsedSection] = []
    seen: set[tuple[str, ...]] = set()
    for section in sections:
        identity = (*section.path, _key(section.text))
        if identity in seen:
            continue
        seen.add(identity)
        if merged and merged[-1].path == section.path and merged[-1].section_type == section.section_type:
            merged[-1].text = f"{merged[-1].text}\n{section.text}"
        else:
            merged.append(section)
    return merged


# ---------------------------------------------------------------- tables


def table_rows(fragment: str) -> tuple[str | None, list[str]]:
    """(caption, rows as "cell; cell; cell") of one HTML table; no rows when it does not parse."""
    try:
        root = lxml_html.fragment_fromstring(fragment, create_parent="div")
    except (etree.ParserError, ValueError, TypeError):
        return None, []
    caption_el = next(root.iter("caption"), None)
    caption = " ".join(caption_el.text_content().split()) if caption_el is not None else None
    rows: list[str] = []
    if not any(True for _ in root.iter("tr")):
        return caption or None, rows
    for tr in root.iter("tr"):
        cells = [" ".join(td.text_content().split()) for td in tr if td.tag in ("td", "th")]
        cells = [c for c in cells if c]
        if cells:
            rows.append("; ".join(cells))
    return caption or None, rows


def _is_layout_table(rows: list[str], text_key: str) -> bool:
    """A table used for page layout (paragraphs in cells) whose words the section text already holds."""
    cells = [cell for row in rows for cell in row.split("; ")]
    if max(len(cell.split()) for cell in cells) < 60:
        return False
    keys = [_key(cell) for cell in cells]
    inside = sum(len(k) for k in keys if k in text_key)
    return inside >= 0.8 * sum(len(k) for k in keys)


def _table_sections(values: list[Any], heading: str, section_type: str, skips: Counter,
                    text_key: str) -> list[ParsedSection]:
    """Sections for a field's HTML tables; layout tables that only repeat ``text_key`` are skipped."""
    sections = []
    for number, fragment in enumerate(values, start=1):
        caption, rows = table_rows(fragment) if isinstance(fragment, str) else (None, [])
        if not rows:
            images = isinstance(fragment, str) and ("renderMultiMedia" in fragment or "<img" in fragment)
            skips[IMAGE_TABLE_REASON if images else TABLE_REASON] += 1
            continue
        if _is_layout_table(rows, text_key):
            skips[LAYOUT_TABLE_REASON] += 1
            continue
        caption = strip_references(_LEADING_NUMBER_LEFT.sub("", caption)) if caption else None
        text = clean_text("\n".join(strip_references(row) for row in rows))
        if text:
            sections.append(ParsedSection([heading, caption or f"Table {number}"], text, section_type))
    return sections


# ---------------------------------------------------------------- one label -> one document


def _field_heading(field: str) -> tuple[str, str]:
    if field in FIELD_CODES:
        return SECTION_CODES[FIELD_CODES[field]]
    if field in EXTRA_FIELDS:
        return EXTRA_FIELDS[field]
    name = field.replace("_", " ")
    return name[:1].upper() + name[1:], "other"


def _strings(value: Any) -> list[str]:
    """A list of non-empty strings from an openFDA value (a list, or a lone string in extracts)."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return []
    return [" ".join(v.split()) for v in value if isinstance(v, str) and v.strip()]


#: Fields that openFDA also serves inside a broader field's text ("8.1 Pregnancy" inside
#: use_in_specific_populations): the broader field's copy gives way to the named field.
PARENT_FIELDS: dict[str, str] = {
    **dict.fromkeys(("pregnancy", "labor_and_delivery", "nursing_mothers", "lactation", "pediatric_use",
                     "geriatric_use"), "use_in_specific_populations"),
    **dict.fromkeys(("teratogenic_effects", "nonteratogenic_effects"), "pregnancy"),
    **dict.fromkeys(("mechanism_of_action", "pharmacodynamics", "pharmacokinetics"), "clinical_pharmacology"),
    **dict.fromkeys(("carcinogenesis_and_mutagenesis_and_impairment_of_fertility",
                     "animal_pharmacology_and_or_toxicology"), "nonclinical_toxicology"),
    **dict.fromkeys(("controlled_substance", "abuse", "dependence"), "drug_abuse_and_dependence"),
    **dict.fromkeys(("general_precautions", "laboratory_tests", "drug_and_or_laboratory_test_interactions"),
                    "precautions"),
    "storage_and_handling": "how_supplied",
}
LAYOUT_TABLE_REASON = "openFDA layout table (paragraphs in cells) repeating its section text"


def _key(text: str) -> str:
    """Letters and digits only, lower case: equal keys = the same words, however openFDA spaced them."""
    return _NOT_ALNUM.sub("", text.lower())


def _field_text_sections(field: str, value: Any) -> list[ParsedSection]:
    heading, section_type = _field_heading(field)
    return [s for text in _strings(value) for s in field_sections(field, text, heading, section_type)]


def label_sections(label: dict[str, Any], skips: Counter | None = None) -> list[ParsedSection]:
    """The label's sections, in the label's field order; tables right after their section's text.

    A field repeated inside its broader field (pregnancy inside use in specific populations)
    appears once, under both headings: ["Use in specific populations", "Pregnancy"].
    """
    skips = skips if skips is not None else Counter()
    fields = [f for f, v in label.items()
              if f not in SKIP_FIELDS and not f.endswith("_table") and isinstance(v, (list, str))]
    by_field: dict[str, list[ParsedSection]] = {f: _field_text_sections(f, label[f]) for f in fields}
    placed: dict[str, str] = {}  # child field -> parent field it replaced sections of
    for child, parent in PARENT_FIELDS.items():
        if child not in by_field or parent not in by_field or not by_field[child]:
            continue
        child_key = _key(" ".join(s.text for s in by_field[child]))
        parent_sections = by_field[parent]
        # the parent's copy, less the words its guessed sub-heading took ("Controlled Substance CELEXA...")
        repeated = [i for i, s in enumerate(parent_sections)
                    if len(s.path) > 1 and (k := _key(s.text))[len(k) // 5:] in child_key]
        if not repeated:
            if child_key in _key(" ".join(s.text for s in parent_sections)):  # all of it already in the parent
                by_field[child] = []
            continue
        parent_heading = _field_heading(parent)[0]
        for section in by_field[child]:
            section.path = [parent_heading, *section.path]
        at = repeated[0]
        by_field[parent] = [s for i, s in enumerate(parent_sections[:at]) if i not in repeated] + by_field[child] + [
            s for i, s in enumerate(parent_sections[at:], start=at) if i not in repeated]
        placed[child] = parent
    sections: list[ParsedSection] = []
    for field in fields:
        if field in placed:
            continue
        sections.extend(by_field[field])
        heading, section_type = _field_heading(field)
        table_field = f"{field}_table"
        if table_field in label:
            # the field's own words, headings included (a layout table repeats them, sub-headings and all)
            text_key = _key(" ".join(strip_references(clean_text(v)) for v in _strings(label[field])))
            sections.extend(_table_sections(_list(label[table_field]), heading, section_type, skips, text_key))
    for field, value in label.items():  # tables of a section that has no text of its own
        base = field[: -len("_table")] if field.endswith("_table") else None
        if base and base not in label and base not in SKIP_FIELDS:
            heading, section_type = _field_heading(base)
            sections.extend(_table_sections(_list(value), heading, section_type, skips, ""))
    return _merge_same_path(sections)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _first(values: list[str]) -> str | None:
    return values[0] if values else None


def _effective_date(value: Any) -> tuple[int | None, str | None]:
    text = str(value or "")
    if not re.match(r"^\d{8}$", text):
        return None, None
    return int(text[:4]), f"{text[:4]}-{text[4:6]}-{text[6:8]}"


def _package_words(label: dict[str, Any]) -> str:
    """The first words of the package label ("Celexa citalopram Tablets 10 mg"), for a title."""
    panels = _strings(label.get("package_label_principal_display_panel"))
    if not panels:
        return ""
    text = re.sub(r"(?i)^(package label\.?)?\s*(principal display panel)?[\s:.-]*", "", panels[0])
    text = re.sub(r"\bNDC:?\s*[\d-]+\s*", "", text)
    return " ".join(text.split()[:6]).strip(" -–,.:")


def _title(brands: list[str], generics: list[str], fallback: str) -> str:
    brand = _first(brands)
    generic = _first(generics)
    generic = generic.lower() if generic else None
    if brand and generic and brand.lower() != generic:
        return f"{brand} ({generic}) — FDA label"
    if brand or generic:
        name = brand or generic or ""
        return f"{name[:1].upper()}{name[1:]} — FDA label"
    return f"{fallback} — FDA label"


def _version(value: Any) -> int | str | None:
    text = str(value).strip() if value is not None else ""
    return int(text) if text.isdigit() else (text or None)


def _names(openfda: dict[str, Any]) -> dict[str, Any]:
    """Document metadata from the ``openfda`` block (lists as openFDA keeps them)."""
    return {
        "brand_names": _strings(openfda.get("brand_name")),
        "generic_names": _strings(openfda.get("generic_name")),
        "substance_names": _strings(openfda.get("substance_name")),
        "routes": _strings(openfda.get("route")),
        "manufacturer": _first(_strings(openfda.get("manufacturer_name"))),
        "product_type": _first(_strings(openfda.get("product_type"))),
        "rxcui": _strings(openfda.get("rxcui")),
        "application_numbers": _strings(openfda.get("application_number")),
        "pharm_classes": _strings(openfda.get("pharm_class_epc")),
    }


def label_document(label: dict[str, Any], *, provenance: dict[str, Any] | None = None) -> ParsedDocument:
    """One openFDA ``/drug/label`` result -> a drug-label document (``provenance`` merged into metadata).

    Raises ``ReaderError`` for a label with neither a set id nor any section text.
    """
    where = str((provenance or {}).get("source_file") or "openFDA label")
    if not isinstance(label, dict):
        raise ReaderError(where, f"openFDA label is a JSON {type(label).__name__}, not an object")
    openfda = label.get("openfda") if isinstance(label.get("openfda"), dict) else {}
    set_id = str(label.get("set_id") or _first(_strings(openfda.get("spl_set_id"))) or "").strip()
    if not set_id:
        raise ReaderError(where, "openFDA label without set_id")
    sections = label_sections(label, (provenance or {}).get("_skips"))
    if not sections:
        raise ReaderError(where, f"openFDA label {set_id} has no section text")
    year, date = _effective_date(label.get("effective_time"))
    names = _names(openfda)
    metadata: dict[str, Any] = {
        "set_id": set_id,
        "label_id": str(label.get("id") or "") or None,
        "effective_date": date,
        "label_version": _version(label.get("version")),
        **names,
        **{k: v for k, v in (provenance or {}).items() if not k.startswith("_")},
    }
    return ParsedDocument(
        external_id=set_id,
        title=_title(names["brand_names"], names["generic_names"], _package_words(label) or f"Drug label {set_id}"),
        sections=sections,
        url=DAILYMED_URL.format(set_id),
        publisher=PUBLISHER,
        year=year,
        doc_type="drug label",
        license=LICENSE,
        metadata=metadata,
    )


def has_names(label: dict[str, Any]) -> bool:
    openfda = label.get("openfda")
    if not isinstance(openfda, dict):
        return False
    return bool(_strings(openfda.get("brand_name")) or _strings(openfda.get("generic_name")))


# ---------------------------------------------------------------- openfda-common extracts


def common_document(record: dict[str, Any], name: str, *, provenance: dict[str, Any] | None = None) -> ParsedDocument:
    """One openfda-common extract (``sections`` {field: text}) -> a drug-label document identified by ``name``."""
    where = str((provenance or {}).get("source_file") or name)
    fields = record.get("sections")
    if not isinstance(fields, dict):
        raise ReaderError(where, "openfda-common extract without a 'sections' object")
    order = {field: i for i, field in enumerate([*FIELD_CODES, *EXTRA_FIELDS])}
    ordered = sorted(fields.items(), key=lambda item: order.get(item[0], len(order)))  # the extracts are unordered
    label = {field: [text] for field, text in ordered if isinstance(text, str)}
    sections = label_sections(label, (provenance or {}).get("_skips"))
    if not sections:
        raise ReaderError(where, "openfda-common extract has no section text")
    brands, generics = _strings(record.get("brand_names")), _strings(record.get("generic_names"))
    drug = str(record.get("drug_name") or name)
    metadata: dict[str, Any] = {
        "set_id": None,
        "label_id": None,
        "effective_date": None,
        "label_version": None,
        "brand_names": brands,
        "generic_names": generics,
        "substance_names": _strings(record.get("substance_name")),
        "routes": _strings(record.get("route")),
        "manufacturer": _first(_strings(record.get("manufacturer"))),
        "product_type": _first(_strings(record.get("product_type"))),
        "rxcui": [],
        "pharm_classes": _strings(record.get("pharm_class_epc")),
        "drug_name": drug,
        **{k: v for k, v in (provenance or {}).items() if not k.startswith("_")},
    }
    return ParsedDocument(
        external_id=name,
        title=_title(brands, generics, drug.lower()),
        sections=sections,
        url=DAILYMED_SEARCH_URL.format(quote_plus(drug.lower())),
        publisher=COMMON_PUBLISHER,
        doc_type="drug label",
        license=f"{LICENSE}; extract file MIT (PharmaGraphRAG)",
        metadata=metadata,
    )


COMMON_PROVENANCE = {
    "derived_from": "openFDA /drug/label, first label returned for a search by generic (then brand) name; "
                    "extract of up to 12 sections by PharmaGraphRAG (jmponcebe/PharmaGraphRAG, data/demo/dailymed, "
                    "commit 5dd363e, MIT)",
}


# ---------------------------------------------------------------- files and tarballs


def _is_tar(path: Path) -> bool:
    return path.name.lower().endswith((".tar.gz", ".tgz", ".tar"))


def _load_json(where: str, data: bytes) -> Any:
    try:
        return json.loads(decode_text(Path(where), data))
    except json.JSONDecodeError as exc:
        raise ReaderError(where, f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None


def _first_member_name(path: Path) -> str:
    from medora.sources.readers.medquad import _first_tar_member  # the tar-header peek MedQuAD's sniff uses

    try:
        with path.open("rb") as fh:
            return _first_tar_member(fh.read(8192))
    except OSError:
        return ""


def _file_items(path: Path) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of the JSON inputs in ``path``: the file itself, or a tarball's members."""
    check_file(path)
    if _is_tar(path):
        yield from tar_members(path, ".json")
    else:
        try:
            yield path.name, path.read_bytes()
        except OSError as exc:
            raise ReaderError(str(path), f"cannot open: {exc.strerror or exc}") from None


_LABEL_KEYS = (b'"set_id"', b'"effective_time"', b'"spl_product_data_elements"', b'"indications_and_usage"',
               b'"openfda"')


class OpenFdaReader:
    """openFDA /drug/label JSON (an API response, a bare label, or a tarball of responses): one document per label."""

    name = "openfda"
    version = 2  # 2: un-numbered sub-headings split off their first sentence (issue 15)

    def sniff(self, path: Path, head: bytes) -> bool:
        if path.is_dir():
            return False
        lower = path.name.lower()
        if _is_tar(path):
            first = _first_member_name(path).lower()
            return ("openfda" in lower or "drug-label" in lower or "openfda-labels" in first) and "common" not in lower
        if not lower.endswith(".json"):
            return False
        body = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if not body.startswith(b"{"):
            return False
        if b'"results"' in head and (b"open.fda.gov" in head or b'"disclaimer"' in head):
            return True
        return sum(key in head for key in _LABEL_KEYS) >= 2

    def read(self, path: Path) -> Iterator[ParsedDocument | Skipped]:
        skips: Counter = Counter()
        whole_file = not _is_tar(path)
        for name, data in _file_items(path):
            where = str(path) if whole_file else f"{path.name}:{name}"
            try:
                payload = _load_json(where, data)
            except ReaderError as exc:
                if whole_file:
                    raise
                yield Skipped(f"{name}: {exc.reason}")
                continue
            labels = self._labels(payload)
            if labels is None:
                if whole_file:
                    raise ReaderError(str(path), NOT_LABEL_REASON)
                skips[NOT_LABEL_REASON] += 1
                continue
            if not labels:
                if whole_file:
                    raise ReaderError(str(path), NO_RESULTS_REASON)
                yield Skipped(f"{name}: {NO_RESULTS_REASON}")
                continue
            for label in labels:
                try:
                    doc = label_document(label, provenance={"source_file": where, "_skips": skips})
                except ReaderError as exc:
                    yield Skipped(f"{name}: {exc.reason}")
                    continue
                if not has_names(label):
                    skips[NO_NAMES_REASON] += 1
                doc.metadata.pop("source_file", None)
                doc.metadata["member"] = name if not whole_file else None
                yield doc
        for reason, count in skips.items():
            yield Skipped(reason, count)

    @staticmethod
    def _labels(payload: Any) -> list[Any] | None:
        """The labels of an API response or a bare label; None when it is neither."""
        if isinstance(payload, dict) and "results" in payload:
            results = payload["results"]
            return results if isinstance(results, list) else None
        if isinstance(payload, dict) and ("set_id" in payload or "openfda" in payload):
            return [payload]
        return None


class OpenFdaCommonReader:
    """openfda-common label extracts (one JSON file per drug, or their tarball): one document per drug."""

    name = "openfda-common"
    version = 2  # 2: un-numbered sub-headings split off their first sentence (issue 15)

    def sniff(self, path: Path, head: bytes) -> bool:
        if path.is_dir():
            return False
        lower = path.name.lower()
        if _is_tar(path):
            return "openfda-common" in lower or _first_member_name(path).lower().startswith("openfda-common")
        return lower.endswith(".json") and b'"drug_name"' in head and b'"sections"' in head

    def read(self, path: Path) -> Iterator[ParsedDocument | Skipped]:
        skips: Counter = Counter()
        whole_file = not _is_tar(path)
        for member, data in _file_items(path):
            stem = PurePosixPath(member).name[: -len(".json")]
            if stem.startswith("_"):  # _summary.json: counts, not a label
                continue
            where = str(path) if whole_file else f"{path.name}:{member}"
            try:
                record = _load_json(where, data)
                if not isinstance(record, dict) or "sections" not in record:
                    raise ReaderError(where, "not an openfda-common extract (no 'sections')")
                doc = common_document(record, stem.lower(), provenance={**COMMON_PROVENANCE, "_skips": skips})
            except ReaderError as exc:
                if whole_file:
                    raise
                yield Skipped(f"{member}: {exc.reason}")
                continue
            yield doc
        for reason, count in skips.items():
            yield Skipped(reason, count)
