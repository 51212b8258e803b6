"""Section-aware chunking: sections of a parsed document become passages of ~60-250 words.

Passages never cross a section boundary and never cut a sentence (a single sentence longer
than the hard limit is the only exception, cut at word boundaries). Each passage keeps its
section path and type and the offsets of its sentences.
"""

from __future__ import annotations

from dataclasses import dataclass

from medora.library.sentences import split_sentences
from medora.sources.readers.base import ParsedDocument

MIN_WORDS = 60
MAX_WORDS = 250
HARD_MAX_WORDS = 600  # a "sentence" longer than this (a dumped table, garbage) is cut at words


@dataclass
class Chunk:
    """A passage before it is stored."""

    section_path: list[str]
    section_type: str | None
    text: str
    sentences: list[tuple[int, int]]


def _words(text: str) -> int:
    return len(text.split())


def _cut_long(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Cut an over-long span into spans of at most HARD_MAX_WORDS words, at whitespace."""
    spans, count, span_start, i = [], 0, start, start
    in_word = False
    while i < end:
        if text[i].isspace():
            if in_word:
                count += 1
                in_word = False
                if count >= HARD_MAX_WORDS:
                    spans.append((span_start, i))
                    span_start, count = i + 1, 0
        else:
            in_word = True
        i += 1
    if span_start < end and text[span_start:end].strip():
        spans.append((span_start, end))
    return spans


def chunk_section(path: list[str], section_type: str | None, text: str) -> list[Chunk]:
    """Pack the sentences of one section into chunks of at most MAX_WORDS words."""
    sentences: list[tuple[int, int]] = []
    for a, b in split_sentences(text):
        if _words(text[a:b]) > HARD_MAX_WORDS:
            sentences.extend(_cut_long(text, a, b))
        else:
            sentences.append((a, b))
    groups: list[list[tuple[int, int]]] = []
    current: list[tuple[int, int]] = []
    current_words = 0
    for a, b in sentences:
        n = _words(text[a:b])
        if current and current_words + n > MAX_WORDS:
            groups.append(current)
            current, current_words = [], 0
        current.append((a, b))
        current_words += n
    if current:
        # A short tail joins the previous chunk when the result stays reasonable.
        if groups and current_words < MIN_WORDS and _span_words(text, groups[-1]) + current_words <= MAX_WORDS + MIN_WORDS:
            groups[-1].extend(current)
        else:
            groups.append(current)
    chunks = []
    for group in groups:
        base = group[0][0]
        chunk_text = text[base : group[-1][1]]
        chunks.append(Chunk(list(path), section_type, chunk_text, [(a - base, b - base) for a, b in group]))
    return chunks


def _span_words(text: str, group: list[tuple[int, int]]) -> int:
    return sum(_words(text[a:b]) for a, b in group)


def embedding_input(title: str, section_path: list[str], text: str) -> str:
    """What a dense model reads for a passage: the passage does not repeat its document's topic,
    so the title and headings go first. Its sha256 is the passage's ``content_hash``."""
    return f"{title}\n{' > '.join(section_path)}\n{text}"


def chunk_document(doc: ParsedDocument) -> list[Chunk]:
    """All chunks of a document, in reading order."""
    chunks: list[Chunk] = []
    for section in doc.sections:
        if section.text and section.text.strip():
            chunks.extend(chunk_section(section.path, section.section_type, section.text))
    return chunks
