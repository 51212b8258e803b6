"""Generic readers: BEIR and mapped JSONL, Markdown, HTML, plain text and PDF."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pypdf
import pytest

from medora.errors import ReaderError
from medora.sources.readers.base import ParsedDocument, Reader, Skipped
from medora.sources.readers.jsonl import BeirReader, JsonlReader
from medora.sources.readers.pdf import PdfReader
from medora.sources.readers.text import HtmlReader, MarkdownReader, PlainTextReader


def _split(items: list) -> tuple[list[ParsedDocument], list[Skipped]]:
    docs = [i for i in items if isinstance(i, ParsedDocument)]
    skipped = [i for i in items if isinstance(i, Skipped)]
    assert len(docs) + len(skipped) == len(items)
    return docs, skipped


def _only(items: list) -> ParsedDocument:
    docs, skipped = _split(items)
    assert len(docs) == 1 and not skipped
    return docs[0]


def _head_lines(path: Path, n: int) -> list[str]:
    with path.open(encoding="utf-8") as fh:
        return [next(fh) for _ in range(n)]


# ---------------------------------------------------------------- BEIR / JSONL


def test_beir_corpus_lines_become_documents(shared_eval: Path, tmp_path: Path) -> None:
    lines = _head_lines(shared_eval / "pubmedqa-1k" / "corpus.jsonl", 5)
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(lines) + "{not json\n" + json.dumps({"_id": "x1", "title": "t"}) + "\n", encoding="utf-8")
    assert BeirReader().sniff(corpus, corpus.read_bytes()[:8192])
    queries = shared_eval / "pubmedqa-1k" / "queries.jsonl"
    assert not BeirReader().sniff(queries, queries.read_bytes()[:8192])
    docs, skipped = _split(list(BeirReader().read(corpus)))
    records = [json.loads(line) for line in lines]
    assert [d.external_id for d in docs] == [r["_id"] for r in records]
    for doc, record in zip(docs, records):
        assert doc.year == int(record["year"])
        assert doc.metadata["meshes"] == record["meshes"]
        assert len(doc.sections) == 1 and doc.sections[0].text.startswith(record["text"][:40])
        assert 0 < len(doc.title) <= 121  # PubMedQA passages have no title: one is made from the text
    assert [s.reason.split(":")[0] for s in skipped] == ["line 6", "line 7"]
    assert "not valid JSON" in skipped[0].reason and "no text" in skipped[1].reason


def test_beir_aspect_labels_become_section_types(shared_eval: Path, tmp_path: Path) -> None:
    lines = _head_lines(shared_eval / "medquad-qa-1k" / "corpus.jsonl", 3)
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(lines), encoding="utf-8")
    docs = [d for d in BeirReader().read(corpus) if isinstance(d, ParsedDocument)]
    records = [json.loads(line) for line in lines]
    assert docs[0].sections[0].section_type == "definition"  # qtype "information"
    assert [d.url for d in docs] == [r["url"] for r in records]
    assert [d.sections[0].path for d in docs] == [[r["title"]] for r in records]


def test_jsonl_field_mapping_and_bad_lines(tmp_path: Path) -> None:
    rows = [
        json.dumps({"pmid": 123, "headline": "Aspirin &amp; stroke", "body": "Aspirin lowers risk.",
                    "link": "https://x.org/1", "date": "2019-05-01", "journal": "BMJ"}),
        "",
        "[1, 2]",
        json.dumps({"headline": "no id", "body": "text"}),
        json.dumps({"pmid": "124", "headline": "no body"}),
        json.dumps({"pmid": "123", "body": "repeated id"}),
        json.dumps({"pmid": "125", "body": "Second document."}),
    ]  # fmt: skip
    path = tmp_path / "articles.ndjson"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    reader = JsonlReader(
        id_field="pmid", title_field="headline", text_field="body", url_field="link", year_field="date"
    )
    assert reader.sniff(path, path.read_bytes()[:8192]) and not BeirReader().sniff(path, path.read_bytes()[:8192])
    docs, skipped = _split(list(reader.read(path)))
    assert [d.external_id for d in docs] == ["123", "125"]
    first = docs[0]
    assert (first.title, first.url, first.year) == ("Aspirin & stroke", "https://x.org/1", 2019)
    assert first.metadata == {"journal": "BMJ"}
    assert docs[1].title == "Second document"
    assert [s.reason for s in skipped] == [
        "line 3: not a JSON object",
        "line 4: no 'pmid' field",
        "line 5: no text in 'body'",
        "line 6: repeated id '123'",
    ]


def test_jsonl_binary_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\n")
    with pytest.raises(ReaderError, match="binary file"):
        list(JsonlReader().read(path))


# ---------------------------------------------------------------- Markdown

MARKDOWN = """\
# Type 2 Diabetes

Type 2 diabetes is a **chronic** condition in which the body
does not use *insulin* well. See [the NIDDK page](https://www.niddk.nih.gov).

![diagram](img/diabetes.png)

## Symptoms

- increased thirst
- frequent urination

Living With It
--------------

Escaped \\*stars\\* and snake_case stay.

```
dose = 5 mg
# not a heading
```

### Treatment

| Drug | Dose |
|------|------|
| metformin | 500 mg |
"""


def test_markdown_headings_and_inline_syntax(tmp_path: Path) -> None:
    path = tmp_path / "diabetes.md"
    path.write_text(MARKDOWN, encoding="utf-8")
    doc = _only(list(MarkdownReader().read(path)))
    assert doc.title == "Type 2 Diabetes" and doc.external_id == "diabetes.md"
    paths = [s.path for s in doc.sections]
    assert paths == [
        ["Type 2 Diabetes"],
        ["Type 2 Diabetes", "Symptoms"],
        ["Type 2 Diabetes", "Living With It"],
        ["Type 2 Diabetes", "Living With It", "Treatment"],
    ]
    intro, symptoms, living, treatment = doc.sections
    assert intro.text == (
        "Type 2 diabetes is a chronic condition in which the body does not use insulin well. See the NIDDK page."
    )
    assert symptoms.text == "increased thirst\nfrequent urination" and symptoms.section_type == "symptoms"
    assert living.text == "Escaped *stars* and snake_case stay.\ndose = 5 mg\n# not a heading"
    assert treatment.text == "Drug | Dose\nmetformin | 500 mg" and treatment.section_type == "treatment"


def test_markdown_without_h1_is_titled_by_file_stem(tmp_path: Path) -> None:
    path = tmp_path / "notes.markdown"
    path.write_text("## Dosage\n\nTake 5 mg daily.\n", encoding="utf-8")
    doc = _only(list(MarkdownReader().read(path)))
    assert doc.title == "notes" and doc.sections[0].section_type == "dosage"


# ---------------------------------------------------------------- HTML

HTML = """<!DOCTYPE html>
<html><head><title>Aspirin &amp; You</title><meta charset="utf-8">
<link rel="canonical" href="https://example.org/aspirin">
<style>p { color: red }</style><script>var s = "<p>script text</p>";</script></head>
<body><header>Site header</header><nav><a href="/">Home menu</a></nav>
<main><h1>Aspirin</h1>
<p>Aspirin &lt;b&gt;acetylsalicylic acid&lt;/b&gt; relieves pain &amp; fever.&nbsp;Take   it
with food.</p><!-- editorial comment -->
<h2>Side effects</h2><ul><li>Stomach upset</li><li>Bleeding</li></ul>
<table><tr><th>Dose</th><th>Age</th></tr><tr><td>325 mg</td><td>adults</td></tr></table>
<div hidden>hidden text</div><form><label>Search the site</label></form><noscript>Enable JS</noscript>
</main><aside>Related links</aside><footer>Copyright notice</footer></body></html>
"""


def test_html_noise_removed_entities_decoded_headings_as_path(tmp_path: Path) -> None:
    path = tmp_path / "aspirin.html"
    path.write_text(HTML, encoding="utf-8")
    doc = _only(list(HtmlReader().read(path)))
    assert doc.title == "Aspirin & You" and doc.url == "https://example.org/aspirin"
    assert [s.path for s in doc.sections] == [["Aspirin"], ["Aspirin", "Side effects"]]
    intro, side_effects = doc.sections
    assert intro.text == "Aspirin <b>acetylsalicylic acid</b> relieves pain & fever. Take it with food."
    assert side_effects.section_type == "adverse reactions"
    assert side_effects.text == "Stomach upset\nBleeding\nDose | Age\n325 mg | adults"
    everything = " ".join(s.text for s in doc.sections)
    for noise in ("script text", "color", "Site header", "Home menu", "editorial", "hidden text", "Search the site",
                  "Enable JS", "Related links", "Copyright"):  # fmt: skip
        assert noise not in everything


def test_html_title_falls_back_to_h1_and_honours_declared_charset(tmp_path: Path) -> None:
    path = tmp_path / "page.htm"
    path.write_bytes(
        b'<html><head><meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"></head>'
        b"<body><h1>Caf\xe9 au lait spots</h1><p>Flat patches of skin.</p></body></html>"
    )
    doc = _only(list(HtmlReader().read(path)))
    assert doc.title == "Café au lait spots" and doc.sections[0].text == "Flat patches of skin."


def test_html_sniff_by_content(tmp_path: Path) -> None:
    path = tmp_path / "page"
    assert HtmlReader().sniff(path, b"\n  <!DOCTYPE HTML><html>")
    assert not HtmlReader().sniff(path, b"<?xml version='1.0'?><document/>")


# ---------------------------------------------------------------- plain text

TEXT = """ASTHMA CARE GUIDE

Asthma is a chronic lung disease that inflames and narrows the
airways of the lungs, making breathing hard.

SYMPTOMS

Wheezing, coughing and chest tightness are common.
Symptoms are often worse at night.

Treatment Options

- inhaled corticosteroids
- quick-relief inhalers

When to call:
Call 911 if lips turn blue.
"""


def test_plain_text_title_headings_and_wrapped_paragraphs(tmp_path: Path) -> None:
    path = tmp_path / "asthma.txt"
    path.write_text(TEXT, encoding="utf-8")
    doc = _only(list(PlainTextReader().read(path)))
    assert doc.title == "ASTHMA CARE GUIDE"
    assert [(s.path, s.section_type) for s in doc.sections] == [
        ([], None),
        (["SYMPTOMS"], "symptoms"),
        (["Treatment Options"], "treatment"),
        (["When to call"], None),
    ]
    intro, symptoms, treatment, _ = doc.sections
    assert intro.text == (
        "Asthma is a chronic lung disease that inflames and narrows the airways of the lungs, making breathing hard."
    )
    assert symptoms.text == "Wheezing, coughing and chest tightness are common.\nSymptoms are often worse at night."
    assert treatment.text == "- inhaled corticosteroids\n- quick-relief inhalers"


def test_plain_text_long_first_line_is_body_not_title(tmp_path: Path) -> None:
    path = tmp_path / "note.txt"
    sentence = "This note explains how often adults should have their blood pressure checked by a clinician. " * 2
    path.write_text(sentence + "\n", encoding="utf-8")
    doc = _only(list(PlainTextReader().read(path)))
    assert doc.title == "note" and doc.sections[0].text == sentence.strip()


def test_text_sniff_refuses_binary_and_markup(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    reader = PlainTextReader()
    assert reader.sniff(path, "plain words, café".encode())
    assert not reader.sniff(path, b"\x00\x01binary")
    assert not reader.sniff(path, b"caf\xe9 latin-1")
    assert not reader.sniff(path, b'{"json": true}')
    assert not reader.sniff(tmp_path / "qrels.tsv", b"query-id\tcorpus-id\tscore\n")


# ---------------------------------------------------------------- PDF


def _pdf(pages: list[list[str]], title: str | None = None) -> bytes:
    """A minimal valid PDF whose pages show ``pages`` lines in Helvetica (pypdf cannot write text)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>"
        % (b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(len(pages))), len(pages)),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, lines in enumerate(pages):
        shown = [b"(%s) Tj T*" % line.replace("(", r"\(").replace(")", r"\)").encode("latin-1") for line in lines]
        stream = b"\n".join([b"BT /F1 12 Tf 14 TL 72 720 Td", *shown, b"ET"])
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (5 + 2 * i)
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    if title:
        objects.append(b"<< /Title (%s) /CreationDate (D:20210304000000) >>" % title.encode("latin-1"))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    info = b" /Info %d 0 R" % len(objects) if title else b""
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, info, xref)
    return bytes(out)


def test_pdf_text_layer_one_section_per_page(tmp_path: Path) -> None:
    path = tmp_path / "statins.pdf"
    path.write_bytes(
        _pdf(
            [
                ["Statins and Muscle Pain", "Myalgia is the most common adverse effect of statin ther-",
                 "apy and usually resolves after the drug is stopped."],
                ["Rhabdomyolysis is rare."],
            ],
            title="Statin safety",
        )
    )  # fmt: skip
    assert PdfReader().sniff(path, path.read_bytes()[:8192])
    doc = _only(list(PdfReader().read(path)))
    assert (doc.title, doc.year, doc.metadata["pages"]) == ("Statin safety", 2021, 2)
    assert [s.path for s in doc.sections] == [["Page 1"], ["Page 2"]]
    assert doc.sections[0].text == (
        "Statins and Muscle Pain\n"
        "Myalgia is the most common adverse effect of statin therapy and usually resolves after the drug is stopped."
    )
    assert doc.sections[1].text == "Rhabdomyolysis is rare."


def test_pdf_title_falls_back_to_first_line(tmp_path: Path) -> None:
    path = tmp_path / "leaflet.pdf"
    path.write_bytes(_pdf([["Blood Pressure Basics", "Check it yearly."]]))
    assert _only(list(PdfReader().read(path))).title == "Blood Pressure Basics"


def test_pdf_without_text_layer(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    path.write_bytes(_pdf([[]]))
    with pytest.raises(ReaderError, match=r"no text layer \(scanned PDF\?\); run OCR first"):
        list(PdfReader().read(path))


def test_pdf_damaged_or_encrypted(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.pdf"
    damaged.write_bytes(b"%PDF-1.4\nthis is not a PDF body\n%%EOF\n")
    with pytest.raises(ReaderError, match="damaged"):
        list(PdfReader().read(damaged))
    writer = pypdf.PdfWriter()
    writer.add_blank_page(200, 200)
    writer.encrypt("secret", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    locked = tmp_path / "locked.pdf"
    locked.write_bytes(buffer.getvalue())
    with pytest.raises(ReaderError, match="password"):
        list(PdfReader().read(locked))


# ---------------------------------------------------------------- files no reader can use


@pytest.mark.parametrize(
    ("reader", "name", "content", "reason"),
    [
        (PlainTextReader(), "empty.txt", b"", "empty file"),
        (MarkdownReader(), "empty.md", b"", "empty file"),
        (HtmlReader(), "empty.html", b"", "empty file"),
        (PdfReader(), "empty.pdf", b"", "empty file"),
        (BeirReader(), "corpus.jsonl", b"", "empty file"),
        (PlainTextReader(), "image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
        (MarkdownReader(), "old.md", "# Caf\u00e9\n\nna\u00efve\n".encode("latin-1"), "not valid UTF-8"),
        (PlainTextReader(), "old.txt", "r\u00e9sum\u00e9\n".encode("latin-1"), r"not valid UTF-8 \(byte 0xe9"),
        (HtmlReader(), "old.html", "<p>caf\u00e9</p>".encode("latin-1"), "not valid UTF-8"),
        (PlainTextReader(), "blank.txt", b"\n   \n\n", "no text"),
    ],
)
def test_unusable_files_raise_clear_reader_errors(
    tmp_path: Path, reader: Reader, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ReaderError, match=reason) as info:
        list(reader.read(path))
    assert info.value.path == str(path)
