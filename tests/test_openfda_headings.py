"""openFDA label text keeps its sub-headings out of quoted sentences (real shared label files).

openFDA serves each label section as one flattened string, so an un-numbered sub-heading runs into
the sentence after it: "Omeprazole or Esomeprazole Avoid concomitant use of Plavix with omeprazole
or esomeprazole." The reader makes such headings section headings. Measured over all 451 labels of
the two shared tarballs with the library's own sentence splitter: sentences that open with a
Title-Case heading run went from 13,149 (reader version 1) to about 4,200, most of what is left being
sentences that open with a name ("DETROL Tablets were evaluated..."), table rows and "Body system
Term; term" lists, which are not headings.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from medora.library.sentences import split_sentences
from medora.sources.readers.base import ParsedDocument, clean_text
from medora.sources.readers.openfda import (
    OpenFdaCommonReader,
    OpenFdaReader,
    field_sections,
    split_inline_headings,
)

LABELS_TAR = "openfda-labels/openfda-labels-pharmgkb-2024-01-15.tar.gz"
COMMON_TAR = "openfda-common/openfda-common-88-2026.tar.gz"
GLUED_BEFORE = 13149  # sentences opening with a glued heading run, reader version 1 (the metric below)

_CONNECTORS = set("and or of for in with to the a an on by at from without during per de vs versus via not".split())
_CAPITALISED = re.compile(r"^\(?[A-Z][\w'’.\-/&+]*\)?,?:?$")
_SENTENCE_STARTS = {"The", "A", "An", "This", "These", "Those", "If", "When", "There", "It", "However", "In", "For"}


def glued_heading(sentence: str) -> str | None:
    """The capitalised run before a sentence's real first word ("Omeprazole or Esomeprazole" before
    "Avoid concomitant..."), or None. Deliberately broader than the reader's rule: a run of capitalised
    words (connectors inside), then a Title-case word, then a lower-case word; a run ending in a colon
    is a lead-in ("Renal Impairment: ...") and does not count."""
    words = sentence.split()
    n = 0
    while n < len(words) and (_CAPITALISED.match(words[n]) or (n > 0 and words[n] in _CONNECTORS)):
        n += 1
    while n > 0 and words[n - 1] in _CONNECTORS:
        n -= 1
    if n < 2 or n >= len(words) or not words[n][:1].islower():
        return None
    opener, head = words[n - 1], words[:n - 1]
    if not (opener[:1].isupper() and any(c.islower() for c in opener)) or head[-1] in _CONNECTORS:
        return None
    if head[0] in _SENTENCE_STARTS or any(w.endswith(":") for w in head):
        return None
    return " ".join(head)


def _docs(reader, path: Path) -> list[ParsedDocument]:
    return [item for item in reader.read(path) if isinstance(item, ParsedDocument)]


@pytest.fixture(scope="module")
def labels(shared_sources: Path) -> list[ParsedDocument]:
    return _docs(OpenFdaReader(), shared_sources / LABELS_TAR) + _docs(OpenFdaCommonReader(), shared_sources / COMMON_TAR)


def _label(labels: list[ParsedDocument], title: str) -> ParsedDocument:
    return next(d for d in labels if d.title == title and d.metadata.get("set_id"))


def _sentences(doc: ParsedDocument) -> list[str]:
    return [s.text[a:b] for s in doc.sections for a, b in split_sentences(s.text)]


def test_plavix_omeprazole_heading_is_a_heading_not_part_of_the_statement(labels) -> None:
    plavix = _label(labels, "Plavix (clopidogrel) — FDA label")
    section = next(s for s in plavix.sections if s.path[-1] == "Omeprazole or Esomeprazole")
    assert section.path == ["Drug interactions", "CYP2C19 Inhibitors", "Omeprazole or Esomeprazole"]
    assert section.section_type == "interactions"
    assert section.text.startswith("Avoid concomitant use of Plavix with omeprazole or esomeprazole.")
    assert not [s for s in _sentences(plavix) if s.startswith("Omeprazole or Esomeprazole Avoid")]


def test_celexa_cut_words_are_mended_in_headings(labels) -> None:
    celexa = _label(labels, "Celexa (citalopram) — FDA label")
    section = next(s for s in celexa.sections
                   if s.path == ["Dosage and administration", "Dosage Modifications with Concomitant Use of CYP2C19 Inhibitors"])
    assert section.text.startswith("The maximum recommended dosage of CELEXA when used concomitantly with a CYP2C19 "
                                   "inhibitor is 20 mg once daily.")
    assert not any("Modification s" in s.text or "Modification s" in " ".join(s.path) for s in celexa.sections)
    switching = next(s for s in celexa.sections if s.path[-1].startswith("Switching Patients"))
    assert switching.path[-1] == "Switching Patients to or from a Monoamine Oxidase Inhibitor Antidepressant"
    assert switching.text.startswith("At least 14 days must elapse")
    # the labels' usual sub-headings of pregnancy and lactation become headings under their subsection
    risk = next(s for s in celexa.sections if s.path[1:] == ["Lactation", "Risk Summary"])
    assert risk.text.startswith("Data from the published literature report the presence of citalopram in human milk")


def test_glued_headings_across_all_labels_are_cut_by_two_thirds(labels) -> None:
    sentences = [s for doc in labels for s in _sentences(doc)]
    glued = [s for s in sentences if glued_heading(s)]
    assert len(labels) == 451 and len(sentences) > 200_000
    assert len(glued) < GLUED_BEFORE / 3, len(glued)
    usual = re.compile(r"^(Risk Summary|Data Animal Data|Animal Data|Human Data|Absorption|Distribution|Elimination|"
                       r"Excretion|Metabolism|Pregnancy Testing) [A-Z][a-z]+ [a-z]")
    assert [s for s in sentences if usual.match(s) and glued_heading(s)] == []


@pytest.mark.parametrize("text", [
    "New Zealand White rabbits were given oral doses.",
    "Hepatitis A vaccine may be given. Vitamin A supplementation is not needed.",
    "Monitor Patients for signs of bleeding.",
    "Renal Impairment: Renal clearance accounts for 30% of total clearance.",
    "The Kaplan-Meier Curve In the trial showed benefit.",
    "Gentamicin Sulfate in 0.9% Sodium Chloride Injection is ready to use.",
    "Discontinue Herceptin treatment in patients with heart failure.",
    "See Figure A. Use drinking water only.",
])
def test_sentences_that_open_with_capitalised_words_are_left_whole(text) -> None:
    assert split_inline_headings(text) == [(None, text)]


def test_inline_splitting_loses_no_word_of_any_real_label_field(shared_sources) -> None:
    """Headings and bodies put back together hold every letter and digit of the field, in order."""
    import json
    import tarfile

    key = lambda text: re.sub(r"[^0-9a-z]+", "", re.sub(r"\bData\b", "", text).lower())  # noqa: E731
    checked = split = 0
    with tarfile.open(shared_sources / LABELS_TAR) as archive:
        for member in archive:
            if not member.isfile() or not member.name.endswith(".json"):
                continue
            payload = json.load(archive.extractfile(member))
            for label in payload.get("results", []) if isinstance(payload, dict) else []:
                for field in ("drug_interactions", "pregnancy", "clinical_pharmacology", "warnings_and_cautions"):
                    for value in label.get(field, []):
                        text = clean_text(value).replace("\n", " ")
                        runs = split_inline_headings(text)
                        rebuilt = " ".join(f"{heading or ''} {body}" for heading, body in runs)
                        assert key(rebuilt) == key(text), (member.name, field)
                        checked += 1
                        split += len(runs) > 1
    assert checked > 500 and split > 200


def test_a_field_becomes_sections_under_its_sub_headings() -> None:
    value = ("8 USE IN SPECIFIC POPULATIONS 8.1 Pregnancy Risk Summary Prolonged experience with the drug has not shown a risk. Data Animal Data "
             "In a study in rats, no harm was seen. 8.2 Lactation Risk Summary There are no data. Clinical "
             "Considerations Monitor breastfed infants.")
    sections = field_sections("use_in_specific_populations", value, "Use in specific populations",
                              "specific populations")
    assert [(s.path, s.text) for s in sections] == [
        (["Use in specific populations", "Pregnancy", "Risk Summary"],
         "Prolonged experience with the drug has not shown a risk."),
        (["Use in specific populations", "Pregnancy", "Animal Data"], "In a study in rats, no harm was seen."),
        (["Use in specific populations", "Lactation", "Risk Summary"], "There are no data."),
        (["Use in specific populations", "Lactation", "Clinical Considerations"], "Monitor breastfed infants."),
    ]
