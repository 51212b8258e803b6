"""Question words read as the right concept: clinical abbreviations written out before search (a table of
sourced entries, several-word keys such as "hep B", several forms such as electrocardiogram/-graphy) and
acronyms matched to the library's concepts as written ("HDL" is not "HDLS"), with questions typed in
capitals still resolving as typed in lower case. Real library: MedlinePlus topics, the USPSTF file and
MedQuAD GARD documents (HDLS among them), read from the shared sources at test time."""

from __future__ import annotations

import json
import sqlite3
import tarfile
import tomllib
from pathlib import Path

import pytest

from medora.library.ingest import Ingestor
from medora.library.open import open_store
from medora.models import Source
from medora.retrieve.concepts import resolve_concepts
from medora.retrieve.normalize import ABBREVIATIONS, expand_abbreviations, expansion_of, normalize_question
from medora.retrieve.search import Retriever
from medora.sources.readers.registry import detect_reader

MEDLINEPLUS_TOPICS = ("Hepatitis B", "Hepatitis C", "Cholesterol", 'HDL: The "Good" Cholesterol',
                      "Heart Health Tests", "Atrial Fibrillation", "Migraine", "Gout", "Urinary Tract Infections",
                      "Kidney Stones")
MEDQUAD_DOCS = 40  # the first GARD documents, as tests/test_concepts.py takes them
HDLS_DOC = "2_GARD_QA/0002821.xml"  # Hereditary diffuse leukoencephalopathy with spheroids (synonym "HDLS")
HDLS = "Hereditary diffuse leukoencephalopathy with spheroids"


@pytest.fixture(scope="module")
def library(tmp_path_factory, shared_sources):
    root = tmp_path_factory.mktemp("abbreviations")
    topics = root / "medlineplus"
    topics.mkdir()
    source = next((shared_sources / "medlineplus").glob("*.jsonl"))
    kept = [line for line in source.read_text(encoding="utf-8").splitlines()
            if line.strip() and json.loads(line)["title"] in MEDLINEPLUS_TOPICS]
    assert len(kept) == len(MEDLINEPLUS_TOPICS)
    (topics / "topics.jsonl").write_text("\n".join(kept) + "\n", encoding="utf-8")
    medquad = root / "medquad"
    medquad.mkdir()
    with tarfile.open(next((shared_sources / "medquad").glob("*.tar.gz"))) as tar:
        taken = 0
        for member in tar:
            if member.isfile() and member.name.startswith("2_GARD_QA/") and member.name.endswith(".xml") and (
                    taken < MEDQUAD_DOCS or member.name == HDLS_DOC):
                (medquad / Path(member.name).name).write_bytes(tar.extractfile(member).read())
                taken += 1
    assert (medquad / Path(HDLS_DOC).name).is_file()
    store = open_store(str(root / "library.db"), create=True)
    for name, path in (("medlineplus", topics), ("medquad", medquad),
                       ("uspstf", next((shared_sources / "uspstf").glob("*.json")))):
        inputs = sorted(path.iterdir()) if path.is_dir() else [path]
        report = Ingestor(store, Source(name=name)).run((p, detect_reader(p)) for p in inputs)
        assert report.added and not report.rejected
    yield store
    store.close()


def preferred(store, question: str) -> set[str]:
    return {m.preferred for m in resolve_concepts(store, question)}


# ---------------------------------------------------------------- the table


def test_the_table_is_well_formed_and_its_sourced_entries_name_their_source():
    data = tomllib.loads(ABBREVIATIONS.read_text(encoding="utf-8"))
    assert set(data) == {"any_case", "uppercase"}
    for section in data.values():
        for key, value in section.items():
            assert key.strip() and (isinstance(value, str) or (isinstance(value, list) and value)), key
            assert expansion_of(key if key.isupper() else key.lower()), key
    sourced = ABBREVIATIONS.read_text(encoding="utf-8").split("# ---- sourced", 1)[1].split("[uppercase]")[0]
    comment, entries, after_entry = "", 0, False
    for line in sourced.splitlines()[1:]:
        if line.startswith("#"):
            comment = line if after_entry else comment + line
            after_entry = False
        elif "=" in line:  # every sourced entry follows a comment that names its public source
            assert any(s in comment for s in ("medlineplus.gov", "USPSTF", "cdc.gov")), line
            entries, after_entry = entries + 1, True
    assert entries >= 10


def test_several_word_keys_and_several_forms_are_written_out_as_whole_words():
    text, found = expand_abbreviations("When should a pregnant woman be tested for hep B?")
    assert text == "When should a pregnant woman be tested for hep B (hepatitis B)?"
    assert found == {"hep B": "hepatitis B"}
    assert expand_abbreviations("HEP  b or hepb?")[1] == {"HEP b": "hepatitis B", "hepb": "hepatitis B"}
    assert expand_abbreviations("Is hep B the same as hepatitis B?")[1] == {}  # already written out
    assert expand_abbreviations("a hep bee, shep B, hep")[1] == {}  # whole words only
    text, found = expand_abbreviations("Do I need an EKG?")
    assert text == "Do I need an EKG (electrocardiogram, electrocardiography)?"
    assert found == {"EKG": "electrocardiogram, electrocardiography"}
    assert expand_abbreviations("An electrocardiography (ECG) study")[1] == {}  # one of its forms is there
    assert expand_abbreviations("the EKG's trace")[1] == {}  # part of a word as the old word-by-word rule had it
    # a several-word abbreviation is never "corrected" by the speller
    assert expansion_of("hep  B") == "hepatitis B" and expansion_of("HDL") == "high-density lipoprotein"


# ---------------------------------------------------------------- search finds what the abbreviation names


def titles(retrieval) -> list[str]:
    return [h.document.title for h in retrieval.hits]


def test_an_abbreviated_test_is_searched_in_the_form_the_guideline_writes_it(library):
    question = "Should a healthy adult with no heart risk factors get a routine EKG at their yearly physical?"
    expected = "Cardiovascular Disease Risk: Screening With Electrocardiography"
    found = Retriever(library, mode="lexical").search(question, k=5)
    assert found.question.expansions == {"EKG": "electrocardiogram, electrocardiography"}
    assert any(t.startswith(expected) for t in titles(found)), titles(found)
    unexpanded = Retriever(library, mode="lexical", normalize=frozenset({"chatter", "concepts", "speller"}))
    assert not any(t.startswith(expected) for t in titles(unexpanded.search(question, k=5)))  # what the table adds


def test_hep_b_resolves_to_hepatitis_b(library):
    question = "When should a pregnant woman be tested for hep B?"
    concepts = lambda text: resolve_concepts(library, text)  # noqa: E731
    out = normalize_question(question, None, concepts=concepts)
    assert out.expansions == {"hep B": "hepatitis B"}
    assert "Hepatitis B" in {m.preferred for m in out.matches}
    bare = normalize_question(question, None, frozenset({"chatter", "concepts"}), concepts=concepts)
    assert not {m.preferred for m in bare.matches} & {"Hepatitis B", "Hepatitis B Virus Infection"}
    found = Retriever(library, mode="lexical").search(question, k=3)
    assert all(t.startswith("Hepatitis B Virus Infection in Pregnant Women") for t in titles(found)), titles(found)


# ---------------------------------------------------------------- acronyms as written


def test_an_acronym_matches_only_the_concept_whose_acronym_it_is(library):
    assert HDLS in preferred(library, "What is HDLS?")
    assert HDLS in preferred(library, "what is hdls")  # lower case: not an English word
    for question in ("What should a woman's HDL (good cholesterol) number be?", "Are HDLs good for you?",
                     "what is my hdl", "WHAT SHOULD A WOMAN'S HDL NUMBER BE?"):
        assert HDLS not in preferred(library, question), question  # a shorter acronym never meets a longer one
    hdl = resolve_concepts(library, "What should a woman's HDL (good cholesterol) number be?")
    assert all(m.matched_text != "HDL" or m.name == "HDL" for m in hdl)  # only a concept's own "HDL"


@pytest.mark.parametrize("question", [
    "What are the symptoms of migraines?", "What causes gout?", "What is HDLS?", "What causes kidney stones?",
    "Is hepatitis B virus infection screened in pregnant women?", "How are urinary tract infections treated?",
])
def test_a_question_typed_in_capitals_resolves_as_typed_in_lower_case(library, question):
    typed = preferred(library, question)  # (the reverted rule kept "STONES" plural: no "Kidney Stones")
    assert typed and preferred(library, question.upper()) == typed


def test_the_index_keys_names_as_questions_are_keyed_whatever_the_library_stored(library, tmp_path):
    """A library written by another version of the key function (the reverted acronym rule stored "hdls"
    for HDLS and "migraines" for MIGRAINES) still resolves: the index keys names from their written form."""
    copy = tmp_path / "stale.db"
    with sqlite3.connect(copy) as target:
        library.db.backup(target)
    with sqlite3.connect(copy) as db:
        assert db.execute("UPDATE concept_names SET norm = 'stale ' || norm").rowcount > 100
    with open_store(str(copy), create=False) as stale:
        assert HDLS in preferred(stale, "What is HDLS?")
        assert "Migraine" in preferred(stale, "WHAT ARE THE SYMPTOMS OF MIGRAINES?")
