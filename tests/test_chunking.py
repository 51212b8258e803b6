"""Sentence splitting and section-aware chunking."""

from medora.library.chunking import MAX_WORDS, chunk_document, chunk_section
from medora.library.sentences import split_sentences
from medora.sources.readers.base import ParsedDocument, ParsedSection


def texts(t):
    return [t[a:b] for a, b in split_sentences(t)]


def test_sentences_respect_abbreviations_decimals_and_lines():
    t = "Take 2.5 mg daily, e.g. with food. Dr. Smith agreed! Is it safe? Yes.\n- item one\nU.S. data (n=5). End"
    assert texts(t) == [
        "Take 2.5 mg daily, e.g. with food.",
        "Dr. Smith agreed!",
        "Is it safe?",
        "Yes.",
        "- item one",
        "U.S. data (n=5).",
        "End",
    ]


def test_sentence_offsets_index_the_original_text():
    t = "  First one.   Second one?\n\n Third "
    spans = split_sentences(t)
    assert [t[a:b] for a, b in spans] == ["First one.", "Second one?", "Third"]


def _sentence(i: int, words: int = 20) -> str:
    return f"Word{i} " + " ".join(["w"] * (words - 2)) + f" end{i}."


def test_chunks_stay_within_limits_and_never_cut_sentences():
    text = " ".join(_sentence(i) for i in range(40))  # 800 words
    chunks = chunk_section(["Treatment"], "treatment", text)
    assert len(chunks) >= 3
    rebuilt = []
    for c in chunks:
        assert len(c.text.split()) <= MAX_WORDS + 60
        assert c.section_path == ["Treatment"] and c.section_type == "treatment"
        for a, b in c.sentences:
            s = c.text[a:b]
            assert s.startswith("Word") and s.endswith(".")
            rebuilt.append(s)
    assert rebuilt == [_sentence(i) for i in range(40)]


def test_short_tail_joins_previous_chunk():
    text = " ".join(_sentence(i) for i in range(13))  # 12 full + 1 short tail of 20 words
    chunks = chunk_section([], None, text)
    assert all(len(c.text.split()) >= 60 for c in chunks)


def test_sections_are_not_merged_and_empty_sections_dropped():
    doc = ParsedDocument(
        external_id="x",
        title="T",
        sections=[
            ParsedSection(["A"], "Alpha is short."),
            ParsedSection(["B"], "   "),
            ParsedSection(["C"], "Gamma is short too."),
        ],
    )
    chunks = chunk_document(doc)
    assert [c.section_path for c in chunks] == [["A"], ["C"]]


def test_overlong_sentence_is_cut_at_words():
    text = " ".join(["w"] * 2000)
    chunks = chunk_section([], None, text)
    total = sum(len(c.text.split()) for c in chunks)
    assert total == 2000
    assert all(len(c.text[a:b].split()) <= 600 for c in chunks for a, b in c.sentences)
