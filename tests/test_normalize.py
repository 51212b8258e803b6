"""Consumer-question normalisation: chatter, abbreviations, spelling against the library, drug names."""

from __future__ import annotations

from pathlib import Path

import pytest

from medora.answer.compose import answer_question
from medora.errors import UsageError
from medora.library.ingest import Ingestor
from medora.library.pg_store import PgStore
from medora.library.sqlite_store import SQLiteStore
from medora.models import Source
from medora.retrieve.normalize import (
    WORD_LISTS,
    LibrarySpeller,
    Vocabulary,
    expand_abbreviations,
    normalize_question,
    strip_chatter,
)
from medora.retrieve.search import Retriever
from medora.settings import Settings
from medora.sources.fetch import resolve_files
from medora.sources.readers.registry import make_reader
from medora.sources.registry import get_source

pytest_plugins = ("pg_fixtures",)

ZOLMITRIPTAN = ("Re:NDC# 0115-0672-50 Zolmitriptan tabkets 5mg. I have celiac disease & need to know "
                "if these contain gluten")
HAS_WORD_LISTS = all(p.is_file() for p in WORD_LISTS)


def add_sources(store, shared_sources: Path, names: tuple[str, ...], cache: Path) -> None:
    for name in names:
        known = get_source(name)
        files = resolve_files(known, sources_dir=shared_sources, cache_dir=cache)
        report = Ingestor(store, Source(name=name)).run([(f, make_reader(known.format)) for f in files])
        assert report.added and not report.rejected


@pytest.fixture(scope="module")
def library(tmp_path_factory, shared_sources):
    """A real library: the shared DailyMed labels and USPSTF recommendations."""
    tmp = tmp_path_factory.mktemp("normalize")
    store = SQLiteStore(tmp / "lib.db")
    add_sources(store, shared_sources, ("dailymed", "uspstf"), tmp)
    yield store
    store.close()


@pytest.fixture(scope="module")
def vocabulary(library) -> Vocabulary:
    return Vocabulary.from_store(library)


def test_issue_example_loses_chatter_and_gets_spelling_fixed(vocabulary):
    out = normalize_question(ZOLMITRIPTAN, vocabulary)
    assert "0115" not in out.text and "NDC" not in out.text and not out.text.lower().startswith("re")
    assert ("NDC number", "NDC# 0115-0672-50") in out.removed
    assert out.corrections == {"tabkets": "tablets"} and out.expansions == {}
    assert "Zolmitriptan tablets 5mg" in out.text and "celiac disease" in out.text and "gluten" in out.text


def test_drug_names_found_and_brands_given_generic_names(vocabulary):
    pytest.importorskip("drug_named_entity_recognition")
    out = normalize_question(ZOLMITRIPTAN + " Is Zomig the same?", vocabulary, {"chatter", "speller", "drugs"})
    assert out.drugs == {"Zolmitriptan": "zolmitriptan", "Zomig": "zolmitriptan"}
    assert out.corrections == {"tabkets": "tablets"}  # the speller leaves drug names alone
    assert "Zomig" in out.text and "Zomig (zolmitriptan)" not in out.text  # generic already in the question
    assert "Tylenol (acetaminophen)" in normalize_question("Can I take Tylenol?", None, {"drugs"}).text


def test_words_the_library_knows_are_never_corrected(library, vocabulary):
    question = "Should adults be screened for hypertension while taking tablets?"
    counts = library.term_frequencies(["screened", "hypertension", "tablets"])[1]
    assert all(counts.values())
    out = normalize_question(question, vocabulary)
    assert out.corrections == {} and out.text == question


def test_short_words_numbers_and_units_are_left_alone(vocabulary):
    for word in ("5mg", "mg", "mcg", "kg", "0115", "b12", "qd", "tid", "ml", "iv"):
        assert vocabulary.correct(word) is None, word
    out = normalize_question("Take 2 tabs bid 250mg 10ml?", vocabulary, {"speller"})
    assert out.corrections == {}
    # Capitals and words joined to digits are acronyms and gene symbols, not misspellings.
    out = normalize_question("Do MECP2 or CHST14 variants matter, and is NAFLD related?", vocabulary, {"speller"})
    assert out.corrections == {}
    # A capital inside a word marks a brand name ("HypoKit" is not "hypoxia"), even one a letter
    # away from a library word; a capital first letter alone does not.
    assert normalize_question("Is VitaMn safe?", vocabulary, {"speller"}).corrections == {}
    assert normalize_question("Vitamn safe?", vocabulary, {"speller"}).corrections == {"Vitamn": "vitamin"}


def test_misspellings_become_library_words(vocabulary):
    assert vocabulary.correct("vitamn") == "vitamin"
    assert vocabulary.correct("Xyzzyqwv") is None  # nothing near it
    if HAS_WORD_LISTS:  # two edits need the word lists
        assert vocabulary.correct("hypertenson") == "hypertension"
        assert vocabulary.correct("screning") == "screening"


@pytest.mark.skipif(not HAS_WORD_LISTS, reason="Debian word lists not installed")
def test_real_words_the_library_lacks_are_not_corrected(vocabulary):
    # Valid English and medical words absent from these labels stay as written.
    for word in ("curious", "replying", "celiac", "fibromyalgia", "healthier", "decisional", "normalised"):
        assert vocabulary.correct(word) is None, word


def test_speller_degrades_without_word_lists(library, tmp_path, caplog):
    bare = Vocabulary.from_store(library, word_lists=(tmp_path / "missing.dic",))
    assert bare.words is None and bare.max_distance == 1 and "wamerican-huge" in bare.note
    assert "wamerican-huge" in caplog.text  # the user is told, once per vocabulary
    assert bare.correct("hypertention") == "hypertension"  # one edit: still corrected
    assert bare.correct("hypertenson") is None  # two edits: only with the word lists
    out = normalize_question("hypertention suplements", bare)
    assert out.corrections == {"hypertention": "hypertension", "suplements": "supplements"}
    assert any("wamerican-huge" in note for note in out.notes)


def test_abbreviations_expanded_by_case_rules():
    text, found = expand_abbreviations("Can copd or a DVT raise BP? My ms is fine.")
    assert text == ("Can copd (chronic obstructive pulmonary disease) or a DVT (deep vein thrombosis) raise "
                    "BP (blood pressure)? My ms is fine.")
    assert found == {"copd": "chronic obstructive pulmonary disease", "DVT": "deep vein thrombosis",
                     "BP": "blood pressure"}
    assert expand_abbreviations("Is MS multiple sclerosis?")[1] == {}  # already written out
    assert expand_abbreviations("hearing aids and AIDS")[1] == {"AIDS": "acquired immunodeficiency syndrome"}


def test_chatter_kinds_removed_and_content_kept():
    message = ("Fwd: RE: Hello Dr. Smith, Lot # AB1234 of my metformin, call 555-123-4567 or mail me at "
               "jo.doe@example.org, see https://example.org/x. Does it cause lactic acidosis? "
               "Thank you very much in advance! Sincerely, Jo Doe")
    text, removed = strip_chatter(message)
    assert text == "of my metformin, call or mail me at, see Does it cause lactic acidosis?"
    kinds = {k for k, _ in removed}
    assert kinds == {"reply prefix", "greeting", "lot number", "phone number", "e-mail address", "URL", "thanks",
                     "signature"}
    assert ("greeting", "Hello Dr. Smith,") in removed and ("signature", "Sincerely, Jo Doe") in removed
    # "a lot of" and "thanks to" are not chatter; a closing "thanks, Name" is a signature.
    assert strip_chatter("I have a lot of pain, thanks to my knee.") == ("I have a lot of pain, thanks to my knee.", [])
    assert strip_chatter("Hi, is 20 mg of lisinopril too much? thanks, Bob") == (
        "is 20 mg of lisinopril too much?", [("greeting", "Hi,"), ("signature", "thanks, Bob")])


def test_all_chatter_message_is_searched_as_written():
    assert normalize_question("Thank you!", None).text == "Thank you!"


def test_misspelled_question_retrieves_what_the_correct_one_does(library):
    retriever = Retriever(library, mode="lexical")
    right = retriever.search("What are the side effects of vitamin D supplements for older adults?", k=5)
    wrong = retriever.search("Hi! What are the side efects of vitamn D suplements for older adults? thanks", k=5)
    assert wrong.question.corrections == {"efects": "effects", "vitamn": "vitamin", "suplements": "supplements"}
    assert wrong.question.removed == [("greeting", "Hi!"), ("thanks", "thanks")]
    assert wrong.hits[0].document.id == right.hits[0].document.id
    raw = Retriever(library, mode="lexical", normalize=frozenset()).search(wrong.question.original, k=5)
    assert raw.question.corrections == {} and raw.question.text == wrong.question.original


def test_pg_store_index_terms_feed_the_speller(pg_url, shared_sources, tmp_path):
    with PgStore(pg_url) as store:
        add_sources(store, shared_sources, ("dailymed",), tmp_path)
        algorithm, counts = store.index_terms()
        assert algorithm == "english" and counts["tablet"] > 1
        assert LibrarySpeller(store).correct("tabkets") == "tablets"
        assert LibrarySpeller(store).correct("tablets") is None


def test_unknown_step_is_a_clear_error():
    with pytest.raises(UsageError, match="unknown question normalisation step.*spelling"):
        normalize_question("What is gout?", None, {"spelling"})


def test_answer_view_names_removed_chatter_without_repeating_it(vocabulary):
    view = normalize_question("Hi! Call me at 555-123-4567. Is metformin safe? Thanks", vocabulary).as_dict()
    assert view["removed"] == ["greeting", "phone number", "thanks"] and "555" not in str(view)
    assert view["text"] == "Call me at. Is metformin safe?"


def test_answer_says_what_was_searched_and_settings_can_turn_steps_off(library):
    question = "Hi! What are the side efects of vitamn D suplements for older adults?"
    answer = answer_question(library, question, Settings(library=library.path, retrieval="lexical"))
    assert answer.searched_as.corrections == {"efects": "effects", "vitamn": "vitamin", "suplements": "supplements"}
    assert answer.searched_as.removed == ["greeting"] and "Hi!" not in answer.searched_as.model_dump_json()
    assert any(n.startswith("Spelling: searched “effects” for “efects”") for n in answer.notices)
    plain = answer_question(library, question, Settings(library=library.path, retrieval="lexical", question_steps=""))
    assert plain.searched_as.corrections == {} and not any(n.startswith("Spelling") for n in plain.notices)
