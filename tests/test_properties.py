"""Property-based robustness tests: hostile input never crashes Medora.

Arbitrary Unicode, FTS5 syntax, quotes, NUL bytes, emoji and 100 KB strings go to ``medora ask``
and ``medora search`` through the real CLI, against a small library built once from the real
SPL labels and PubMed record. Arbitrary bytes, arbitrary text, truncated real files and
structurally mutated real files go to every reader and through the generic ingestion path.
The only acceptable failure is a one-line MedoraError that names the file.
"""

from __future__ import annotations

import copy
import io
import json
import tarfile
import traceback
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import pypdf
import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from lxml import etree

from medora.cli import main
from medora.errors import MedoraError
from medora.library.chunking import chunk_document
from medora.library.ingest import Ingestor
from medora.library.sqlite_store import SQLiteStore
from medora.models import Source
from medora.sources.readers.base import (
    DOC_TYPES,
    SECTION_TYPES,
    ParsedDocument,
    Skipped,
)
from medora.sources.readers.registry import READERS, make_reader, plan_inputs

PROPERTY = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
FEW = settings(PROPERTY, max_examples=20)

# ------------------------------------------------------------------------ strategies: questions

CHARS = st.characters(exclude_categories=("Cs",))  # any code point a str can carry through UTF-8
UNICODE = st.text(CHARS, max_size=200)
EMOJI = st.text(st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF), min_size=1, max_size=8)
FTS_SYNTAX = [
    "AND", "OR", "NOT", "NEAR", "NEAR(", "NEAR(a b, 2)", "^", "*", ":", '"', "'", '""', "''", "(", ")",
    "title:", "section:", "body:", "title:x", "{title body}:", "- body:", "+", ",", "\x00", "\\", "%", "_",
    "'; DROP TABLE passages; --", "rank MATCH 'x'", "\u200b", "\ufeff", "İ", "ß", "👩‍⚕️", "💊",
]
WORDS = [
    "atorvastatin", "LIPITOR", "liver", "side", "effects", "adalimumab", "Humira", "sildenafil", "cough",
    "tuberculosis", "dose", "pregnancy", "what", "are", "the", "of", "can", "I", "take", "with",
]
REAL_QUESTIONS = [
    "What are the side effects of atorvastatin?",
    "Can I take sildenafil with nitrates?",
    "What is the dose of Humira?",
    "Who should not take LIPITOR?",
]
PIECES = st.one_of(st.sampled_from(FTS_SYNTAX + WORDS), EMOJI, st.text(CHARS, max_size=8))
SEPARATORS = st.sampled_from(["", " ", "\u00a0", "\t", "\n", "\x00"])
HOSTILE = st.lists(st.tuples(PIECES, SEPARATORS), max_size=30).map(lambda parts: "".join(p + s for p, s in parts))
QUESTIONS = st.one_of(
    UNICODE,
    HOSTILE,
    st.tuples(st.sampled_from(REAL_QUESTIONS), HOSTILE).map(" ".join),
)
NASTY = ['"', "'", '""', "title:x", "body:liver OR title:*", "NEAR(atorvastatin liver, 2)", "^liver*", "AND OR NOT",
         "(", "\x00", "liver\x00damage", "💊💊💊", "'; DROP TABLE passages; --", "", "  ", "-", "--help",
         "NONE"]  # matched passages without one sentence that answers it: must not be an empty "answered"
STATUSES = {"answered", "insufficient_evidence", "invalid_question"}
TOO_LONG = 100_000


def _nasty_examples(name: str, **fixed: Any) -> Callable[[Callable], Callable]:
    """Adds each NASTY string as an explicit example for the argument ``name``."""

    def decorate(test: Callable) -> Callable:
        for text in NASTY:
            test = example(**{name: text}, **fixed)(test)
        return test

    return decorate


# ------------------------------------------------------------------------ the CLI and its library

RUNNER = CliRunner()


def _cli(*args: str) -> Result:
    """Run ``medora ARGS`` in-process; fail with the traceback when anything but SystemExit escapes."""
    result = RUNNER.invoke(main, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        pytest.fail("".join(traceback.format_exception(*result.exc_info)))
    assert "Traceback" not in result.stdout + result.stderr
    return result


def _ask(library: Path, question: str, fmt: str = "json") -> Result:
    return _cli("ask", "--library", str(library), "--format", fmt, "--", question)


def _search(library: Path, query: str, fmt: str = "json", limit: int = 5) -> Result:
    return _cli("search", "--library", str(library), "--format", fmt, "--limit", str(limit), "--", query)


def _fingerprint(library: Path) -> tuple[dict[str, Any], list[tuple[int, int, str]]]:
    """The library's stats() and every passage row: equal fingerprints, unchanged library."""
    with SQLiteStore(library, create=False) as store:
        rows = store.db.execute("SELECT id, document_id, text FROM passages ORDER BY id").fetchall()
        return store.stats(), rows


class Library(NamedTuple):
    path: Path
    fingerprint: tuple[dict[str, Any], list[tuple[int, int, str]]]


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, shared_sources: Path) -> Library:
    """A library of the 5 real SPL labels and the PubMed record, and its fingerprint when built."""
    path = tmp_path_factory.mktemp("ask") / "library.db"
    files = sorted((shared_sources / "dailymed-spl").glob("*.xml"))
    files.append(shared_sources / "pubmed" / "pubmed-29768149.xml")
    result = _cli("ingest", *map(str, files), "--library", str(path), "-q")
    assert result.exit_code == 0, result.output
    built = Library(path, _fingerprint(path))
    assert built.fingerprint[0]["documents"] == 6 and built.fingerprint[0]["passages"] > 100
    return built


def _statements(answer: dict[str, Any]) -> list[dict[str, Any]]:
    return answer["bottom_line"] + [s for section in answer["sections"] for s in section["statements"]]


def _check_citations(library: Path, answer: dict[str, Any]) -> None:
    """Every citation quotes its stored passage exactly at its offsets, and (extractive mode) every
    statement is exactly its quote: a statement that drops a clause of its sentence fails here."""
    for statement in _statements(answer):
        assert [c["quote"] for c in statement["citations"]] == [statement["text"]]
    citations = [c for statement in _statements(answer) for c in statement["citations"]]
    assert citations, "an answered question cites something"
    with SQLiteStore(library, create=False) as store:
        passages = store.passages([c["passage_id"] for c in citations])
    refs = {r["number"]: r["document_id"] for r in answer["references"]}
    for c in citations:
        passage = passages[c["passage_id"]]
        assert passage.text[c["start"] : c["end"]] == c["quote"]
        assert passage.document_id == c["document_id"] == refs[c["ref"]]


def _check_json_answer(library: Path, question: str) -> dict[str, Any]:
    result = _ask(library, question)
    assert result.exit_code in (0, 2), result.output
    answer = json.loads(result.stdout)
    assert answer["status"] in STATUSES
    assert (result.exit_code == 2) == (answer["status"] == "invalid_question"), answer["status"]
    if answer["status"] == "answered":
        _check_citations(library, answer)
    return answer


# ------------------------------------------------------------------------ (a) ask and search


@PROPERTY
@given(question=QUESTIONS)
@_nasty_examples("question")
def test_ask_json_always_parses_and_quotes_exactly(library: Library, question: str) -> None:
    event(_check_json_answer(library.path, question)["status"])


@pytest.mark.parametrize(
    "question",
    [
        'What are the "side effects" of (atorvastatin)* AND ^ 💊 :\x00',
        "Can I take sildenafil with nitrates?'); -- OR {NOT}",
        'What is the dose of "Humira"?\x01 ^*',
    ],
)
def test_hostile_decoration_keeps_a_real_question_answerable(library: Library, question: str) -> None:
    """Guards the citation property above against being vacuous: decorated questions still get answers."""
    assert _check_json_answer(library.path, question)["status"] == "answered"


@FEW
@given(question=QUESTIONS, fmt=st.sampled_from(["terminal", "markdown", "html"]))
@example(question="", fmt="terminal")
@example(question="[bold]atorvastatin[/bold] <script>liver</script>", fmt="html")
def test_ask_other_formats_never_crash(library: Library, question: str, fmt: str) -> None:
    result = _ask(library.path, question, fmt)
    assert result.exit_code in (0, 2), result.output
    assert result.stdout.strip()


@PROPERTY
@given(query=QUESTIONS, fmt=st.sampled_from(["json", "table"]))
@_nasty_examples("query", fmt="json")
def test_search_never_crashes_and_returns_stored_passages(library: Library, query: str, fmt: str) -> None:
    result = _search(library.path, query, fmt)
    assert result.exit_code == 0, result.output
    if fmt == "table":
        return
    hits = json.loads(result.stdout)
    assert [h["rank"] for h in hits] == list(range(1, len(hits) + 1)) and len(hits) <= 5
    with SQLiteStore(library.path, create=False) as store:
        stored = store.passages([h["passage_id"] for h in hits])
    assert [stored[h["passage_id"]].text for h in hits] == [h["text"] for h in hits]


LONG_PIECES = st.one_of(st.sampled_from(FTS_SYNTAX + WORDS), HOSTILE, EMOJI).filter(
    lambda piece: piece.replace("\x00", " ").strip()
)


@FEW
@given(piece=LONG_PIECES, fmt=st.sampled_from(["json", "terminal", "markdown", "html"]))
def test_100kb_question_is_refused_in_one_line(library: Library, piece: str, fmt: str) -> None:
    question = (piece * (TOO_LONG // len(piece) + 1))[:TOO_LONG]
    result = _ask(library.path, question, fmt)
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "question is too long" in lines[0], result.stderr
    search = _search(library.path, question)
    assert search.exit_code == 0, search.output
    assert isinstance(json.loads(search.stdout), list)


def test_library_is_unchanged_by_questions(library: Library) -> None:
    """Runs after the properties above (file order) and once more over the nasty inputs itself."""
    for question in NASTY + ["x" * TOO_LONG]:
        _ask(library.path, question)
        _search(library.path, question)
    assert _fingerprint(library.path) == library.fingerprint


# ------------------------------------------------------------------------ (b) readers

SUFFIX = {
    "medquad": ".xml",
    "uspstf": ".json",
    "pubmedqa": ".json",
    "pubmed-xml": ".xml",
    "jats": ".nxml",
    "spl": ".xml",
    "beir": ".jsonl",
    "jsonl": ".jsonl",
    "pdf": ".pdf",
    "html": ".html",
    "markdown": ".md",
    "text": ".txt",
    "openfda": ".json",
    "openfda-common": ".json",
    "medlineplus": ".jsonl",
    "medpix": ".json",
}
SPL = ("cough.xml", "no-title.xml", "viagra.xml", "lipitor-orig.xml", "humira.xml")
PMC = ("1471-2180-11-174.nxml", "1472-6831-8-11.nxml", "pntd.0002065.nxml", "pone.0000217.nxml", "pone.0046493.nxml")
# Real files (relative to the shared data folder) for each reader, to truncate and mutate. The shared data
# has no HTML, Markdown or PDF: the HTML reader gets an SPL label (XHTML-like markup), Markdown and text get
# licence texts, PDF a one-page PDF made here. "medquad-member" is the first answered XML file in the tarball.
REAL = {
    "medquad": ("sources/medquad/MedQuAD-577bd37.tar.gz", "medquad-member"),
    "uspstf": ("sources/uspstf/prevention-taskforce-api-2024-05-02.json",),
    "pubmedqa": ("sources/pubmedqa/ori_pqal.json",),
    "pubmed-xml": ("sources/pubmed/pubmed-29768149.xml",),
    "jats": tuple(f"sources/pmc/{name}" for name in PMC),
    "spl": tuple(f"sources/dailymed-spl/{name}" for name in SPL),
    "beir": ("eval/liveqa-med-dev/corpus.jsonl",),
    "jsonl": ("eval/kqa-dev/questions.jsonl",),
    "pdf": ("generated.pdf",),
    "html": ("sources/dailymed-spl/cough.xml",),
    "markdown": ("sources/medquad/LICENSE.txt",),
    "text": ("sources/dailymed-spl/COPYING.txt",),
    "openfda": ("sources/openfda-labels/openfda-labels-pharmgkb-2024-01-15.tar.gz",),
    "openfda-common": ("sources/openfda-common/openfda-common-88-2026.tar.gz",),
    "medlineplus": ("sources/medlineplus/medlineplus-health-topics-2024-06.jsonl",),
    "medpix": ("sources/medpix/medpix-2.0-case-topic.json",),
}
TARBALL_PREFIX = 300_000  # reading the whole MedQuAD tarball takes too long for a property
MAGIC = [
    b'<?xml version="1.0"?>\n<PubmedArticleSet><PubmedArticle>',
    b'<document xmlns="urn:hl7-org:v3"><setId root="x"/>',
    b'<article xmlns:xlink="http://www.w3.org/1999/xlink" article-type="research-article"><front>',
    b'<Document id="0000001" source="GARD"><QAPairs><QAPair pid="1">',
    b'{"specificRecommendations": [], "generalRecommendations": {',
    b'{"1": {"QUESTION": "q", "CONTEXTS": [',
    b'{"_id": "1", "title": "t", "text": ',
    b"%PDF-1.4\n",
    b"<html><body><h1>",
    b"---\ntitle: x\n---\n# ",
    b"\xef\xbb\xbf",
    b"\x1f\x8b\x08",
]
GARBAGE = st.one_of(
    st.binary(max_size=2048),
    UNICODE.map(str.encode),
    st.tuples(st.sampled_from(MAGIC), st.one_of(st.binary(max_size=512), HOSTILE.map(str.encode))).map(b"".join),
)

XML_CHARS = st.characters(exclude_categories=("Cs", "Cc"), exclude_characters="\ufffe\uffff")
XML_TEXT = st.one_of(st.text(XML_CHARS, max_size=40), st.sampled_from(["", " ", "\n", "0", "-1", "99999999999"]))
FINITE = st.floats(allow_nan=False, allow_infinity=False)
JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), FINITE, st.text(CHARS, max_size=9))
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(CHARS, max_size=8), inner, max_size=3),
    max_leaves=8,
)


def _pdf() -> bytes:
    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=612, height=792)
    writer.add_metadata({"/Title": "Statins and the liver"})
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _medquad_member(tarball: Path) -> bytes:
    with tarfile.open(tarball, "r:gz") as archive:
        for member in archive:
            handle = archive.extractfile(member) if member.name.endswith(".xml") else None
            data = handle.read() if handle else b""
            if b"</Answer>" in data:
                return data
    raise AssertionError(f"no answered XML member in {tarball}")


@cache
def _real(shared: Path, key: str) -> bytes:
    if key == "generated.pdf":
        return _pdf()
    if key == "medquad-member":
        return _medquad_member(shared / REAL["medquad"][0])
    return (shared / key).read_bytes()


def _suffix(reader: str, key: str) -> str:
    return ".tar.gz" if key.endswith(".tar.gz") else SUFFIX[reader]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("readers")


@pytest.fixture(scope="module")
def shared(shared_sources: Path) -> Path:
    return shared_sources.parent


def _check_items(items: list[Any]) -> None:
    """What a reader yields keeps the reader contract and survives chunking."""
    for item in items:
        assert isinstance(item, (ParsedDocument, Skipped)), item
        if isinstance(item, Skipped):
            assert item.reason.splitlines() == [item.reason] and item.count > 0, item
        if isinstance(item, ParsedDocument):
            assert isinstance(item.external_id, str) and item.external_id.strip()
            assert isinstance(item.title, str)
            assert item.doc_type in DOC_TYPES
            assert all(s.section_type is None or s.section_type in SECTION_TYPES for s in item.sections)
            chunk_document(item)


def _read_or_refuse(reader: str, path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` and read it: the reader yields valid items or refuses in one line naming the file."""
    path.write_bytes(data)
    try:
        items = list(make_reader(reader).read(path))
    except MedoraError as exc:
        message = str(exc)
        assert str(path) in message, message
        assert message.splitlines() == [message], message
        event("refused")
        return
    _check_items(items)
    event("read")


def test_every_reader_is_covered() -> None:
    assert set(SUFFIX) == set(READERS) == set(REAL)


XML_OPERATIONS = ("drop", "empty", "duplicate", "text", "attributes", "attribute")
XML_EDITS = st.lists(
    st.tuples(st.integers(0, 10**6), st.sampled_from(XML_OPERATIONS), XML_TEXT), min_size=1, max_size=5
)
JSON_EDITS = st.lists(st.tuples(st.lists(st.integers(0, 10**6), max_size=5), JSON_VALUES), min_size=1, max_size=3)
SPLICES = st.lists(st.tuples(st.integers(0, 10**7), st.integers(0, 64), st.binary(max_size=16)), min_size=1, max_size=5)


def _mutated_xml(blob: bytes, edits: list[tuple[int, str, str]]) -> bytes:
    """The XML with the elements picked by index dropped, emptied, duplicated, re-texted or stripped of attributes."""
    root = etree.fromstring(blob, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))
    elements = list(root.iter(etree.Element))
    for index, operation, text in edits:
        element = elements[index % len(elements)]
        parent = element.getparent()
        if operation == "drop" and parent is not None:
            parent.remove(element)
        elif operation == "duplicate" and parent is not None:
            parent.append(copy.deepcopy(element))
        elif operation == "empty":
            element[:] = []
        elif operation == "text":
            element.text = text
        elif operation == "attributes":
            element.attrib.clear()
        elif operation == "attribute" and element.attrib:
            element.set(sorted(element.attrib)[index % len(element.attrib)], text)
    return etree.tostring(root, encoding="utf-8", xml_declaration=True)


def _replaced(value: Any, steps: list[int], new: Any) -> Any:
    """``value`` with the node that ``steps`` lead to (n-th key or item, modulo) replaced by ``new``; copy on write."""
    if not steps or not isinstance(value, (dict, list)) or not value:
        return new
    keys = list(value) if isinstance(value, dict) else list(range(len(value)))
    key = keys[steps[0] % len(keys)]
    changed = dict(value) if isinstance(value, dict) else list(value)
    changed[key] = _replaced(value[key], steps[1:], new)
    return changed


@cache
def _parsed_json(shared: Path, key: str) -> Any:
    """A slice of the real JSON: 20 JSON Lines records, 20 PubMedQA PMIDs, 20 MedPix cases, 8 USPSTF
    recommendations and their topics."""
    blob = _real(shared, key)
    if key.endswith(".jsonl"):
        return [json.loads(line) for line in blob.splitlines()[:20]]
    data = json.loads(blob)
    if key.endswith("ori_pqal.json"):
        return dict(list(data.items())[:20])
    if isinstance(data, list):  # MedPix: a list of cases
        return data[:20]
    specific = data["specificRecommendations"][:8]
    topics = {str(rec["general"]) for rec in specific}
    general = {k: v for k, v in data["generalRecommendations"].items() if k in topics}
    return data | {"specificRecommendations": specific, "generalRecommendations": general}


def _mutated_json(shared: Path, key: str, edits: list[tuple[list[int], Any]]) -> bytes:
    value = _parsed_json(shared, key)
    for steps, new in edits:
        value = _replaced(value, steps, new)
    lines = value if key.endswith(".jsonl") and isinstance(value, list) else [value]
    return "\n".join(json.dumps(line, ensure_ascii=False) for line in lines).encode()


def _spliced(blob: bytes, splices: list[tuple[int, int, bytes]]) -> bytes:
    for start, length, insert in splices:
        start %= len(blob) + 1
        blob = blob[:start] + insert + blob[start + length :]
    return blob


def _kind(key: str) -> str:
    if key.endswith(".tar.gz"):
        return "tarball"
    if key.endswith((".xml", ".nxml")) or key == "medquad-member":
        return "xml"
    return "json" if key.endswith((".json", ".jsonl")) else "bytes"


def _files(kind: str) -> list[tuple[str, str]]:
    """(reader, real file) for every real file of ``kind`` ("xml", "json", "bytes")."""
    return [(reader, key) for reader, keys in REAL.items() for key in keys if _kind(key) == kind]


@pytest.mark.parametrize(
    "reader", list(READERS)
)
@FEW
@given(data=GARBAGE)
@example(data=b"")
@example(data=b"<\x00")
def test_reader_refuses_garbage_in_one_line(scratch: Path, reader: str, data: bytes) -> None:
    _read_or_refuse(reader, scratch / f"garbage-{reader}{SUFFIX[reader]}", data)


@pytest.mark.parametrize("reader", list(READERS))
@FEW
@given(choice=st.data())
def test_reader_refuses_truncated_real_file_in_one_line(scratch: Path, shared: Path, reader: str, choice: Any) -> None:
    key = choice.draw(st.sampled_from(REAL[reader]), label="file")
    blob = _real(shared, key)
    limit = TARBALL_PREFIX if key.endswith(".tar.gz") else len(blob)
    size = choice.draw(st.integers(0, limit), label="prefix length")
    _read_or_refuse(reader, scratch / f"truncated-{reader}{_suffix(reader, key)}", blob[:size])


@pytest.mark.parametrize("reader, key", _files("xml"))
@FEW
@given(edits=XML_EDITS)
def test_reader_survives_mutated_real_xml(scratch: Path, shared: Path, reader: str, key: str, edits: Any) -> None:
    _read_or_refuse(reader, scratch / f"mutated-{reader}{SUFFIX[reader]}", _mutated_xml(_real(shared, key), edits))


@pytest.mark.parametrize(
    "reader, key", _files("json")
)
@FEW
@given(edits=JSON_EDITS)
@example(edits=[([0, 2], True)])  # PubMedQA: the first record's LABELS (its 3rd key) becomes true
@example(edits=[([3, 0, 10], 5)])  # USPSTF: the first specific recommendation's "risk" (11th key) becomes 5
def test_reader_survives_mutated_real_json(scratch: Path, shared: Path, reader: str, key: str, edits: Any) -> None:
    _read_or_refuse(reader, scratch / f"mutated-{reader}{SUFFIX[reader]}", _mutated_json(shared, key, edits))


@pytest.mark.parametrize("reader, key", _files("bytes"))
@FEW
@given(splices=SPLICES)
def test_reader_survives_spliced_real_file(scratch: Path, shared: Path, reader: str, key: str, splices: Any) -> None:
    data = _spliced(_real(shared, key), splices)
    _read_or_refuse(reader, scratch / f"spliced-{reader}{_suffix(reader, key)}", data)


# ------------------------------------------------------------------------ (b) generic ingestion

TRUSTED = ("sources/dailymed-spl/cough.xml", "sources/dailymed-spl/no-title.xml", "sources/pubmed/pubmed-29768149.xml")
EXTRA_SUFFIXES = sorted(set(SUFFIX.values())) + [".bin", ".tar.gz", ""]


@pytest.fixture(scope="module")
def trusted(tmp_path_factory: pytest.TempPathFactory, shared: Path) -> Iterator[tuple[SQLiteStore, Path]]:
    """A library holding three real documents ingested from files in a folder the properties then spoil."""
    folder = tmp_path_factory.mktemp("trusted")
    for key in TRUSTED:
        (folder / Path(key).name).write_bytes(_real(shared, key))
    store = SQLiteStore(folder.parent / f"{folder.name}.db")
    report = Ingestor(store, Source(name="trusted")).run(plan_inputs([folder]))
    assert report.added == 3 and not report.rejected
    yield store, folder
    store.close()


def _readable(plan: list[tuple[Path, Any]]) -> tuple[set[str], set[str]]:
    """(paths a reader refuses or none recognises, external ids the readable files hold)."""
    bad, ids = set(), set()
    for path, reader in plan:
        try:
            items = list(reader.read(path)) if reader else None
        except MedoraError:
            items = None
        if items is None:
            bad.add(str(path))
        else:
            ids |= {item.external_id for item in items if isinstance(item, ParsedDocument)}
    return bad, ids


@FEW
@given(
    spoiled=st.lists(GARBAGE, min_size=len(TRUSTED), max_size=len(TRUSTED)),
    extra=st.lists(st.tuples(st.sampled_from(EXTRA_SUFFIXES), GARBAGE), max_size=3),
)
@example(spoiled=[b"", b"<\x00", b"{}"], extra=[(".txt", b"Statins can raise liver enzymes."), (".bin", b"\x00")])
def test_ingest_rejects_each_bad_file_and_keeps_stored_documents(
    trusted: tuple[SQLiteStore, Path], spoiled: list[bytes], extra: list[tuple[str, bytes]]
) -> None:
    store, folder = trusted
    for stale in folder.iterdir():
        if stale.name not in {Path(key).name for key in TRUSTED}:
            stale.unlink()
    for key, data in zip(TRUSTED, spoiled):
        (folder / Path(key).name).write_bytes(data)
    for n, (suffix, data) in enumerate(extra):
        (folder / f"extra-{n}{suffix}").write_bytes(data)
    source = Source(name="trusted")
    before = store.document_states(store.upsert_source(source))
    plan = list(plan_inputs([folder]))
    bad, reread = _readable(plan)

    report = Ingestor(store, source).run(plan, prune=True)

    rejected = dict(report.rejected)
    assert bad <= rejected.keys()
    assert all(reason.strip() for reason in rejected.values()), rejected
    if report.rejected:  # a failed run retires nothing: what was stored stays, unless read again
        after = store.document_states(store.upsert_source(source))
        kept = {ext: state for ext, state in before.items() if state.status == "active" and ext not in reread}
        assert {ext: (after[ext].status, after[ext].content_hash) for ext in kept} == {
            ext: ("active", state.content_hash) for ext, state in kept.items()
        }


def test_ingest_rejects_a_file_whose_reader_fails_unexpectedly(tmp_path: Path, shared: Path) -> None:
    """A reader bug (here a TypeError on a record of the wrong shape) rejects that file; the run goes on."""

    class Broken:
        name = "broken"

        def sniff(self, path: Path, head: bytes) -> bool:
            return True

        def read(self, path: Path):
            raise TypeError("'bool' object is not iterable")

    pmid, record = next(iter(_parsed_json(shared, "sources/pubmedqa/ori_pqal.json").items()))
    good = tmp_path / "ori_pqal.json"
    good.write_text(json.dumps({pmid: record | {"LABELS": True}}), encoding="utf-8")
    bad = tmp_path / "bad.json"
    bad.write_text("{}", encoding="utf-8")
    with SQLiteStore(tmp_path / "library.db") as store:
        report = Ingestor(store, Source(name="pubmedqa")).run([(bad, Broken()), (good, make_reader("pubmedqa"))])
    assert [path for path, _ in report.rejected] == [str(bad)]
    assert "TypeError" in report.rejected[0][1]
    assert report.added == 1  # a scalar where a list belongs is tolerated by the real reader


# ------------------------------------------------------------------------ CLI error lines

def test_missing_library_error_is_one_line(tmp_path: Path) -> None:
    result = _cli("ask", "--library", str(tmp_path / "missing.db"), "--", "side effects of atorvastatin")
    assert result.exit_code == 1
    assert len(result.stderr.splitlines()) == 1 and "no library at" in result.stderr, result.stderr
