"""Readers for loose documents: HTML pages, Markdown files and plain text.

Each file becomes one document (external_id = the file name) whose sections follow the
file's headings; a heading that names a topic ("Symptoms", "Side effects") sets the
section type. Text must be UTF-8 (an HTML page may declare another charset).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from lxml import etree
from lxml import html as lxml_html

from medora.errors import ReaderError
from medora.sources.readers.base import (
    ParsedDocument,
    ParsedSection,
    Skipped,
    check_file,
    clean_text,
    decode_text,
    year_from,
)

MAX_TITLE_CHARS = 120
#: Data files that are text but not prose: the plain-text reader leaves them alone unless named .txt.
DATA_SUFFIXES = {".csv", ".tsv", ".json", ".jsonl", ".ndjson", ".xml", ".yaml", ".yml"}

# ---------------------------------------------------------------- shared building blocks


class LineBuffer:
    """Collects inline text pieces into lines; whitespace inside a line collapses to one space."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._parts: list[str] = []

    def add(self, text: str | None) -> None:
        if text:
            self._parts.append(text)

    def end_line(self) -> None:
        line = " ".join("".join(self._parts).split())
        self._parts.clear()
        if line:
            self.lines.append(line)

    def extend(self, lines: list[str]) -> None:
        """End the current line and append whole lines (e.g. preformatted text)."""
        self.end_line()
        self.lines.extend(lines)

    def finish(self) -> list[str]:
        self.end_line()
        return self.lines


# Checked in order against a heading (lower-cased); the first match names the section type.
_HEADING_TYPES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p), t)
    for p, t in [
        (r"\b(side effects?|adverse (reactions?|effects?|events?))\b", "adverse reactions"),
        (r"\binteractions?\b", "interactions"),
        (r"\bcontraindications?\b", "contraindications"),
        (r"\b(warnings?|precautions?)\b", "warnings"),
        (r"\b(dosage|dosing|doses?|administration|how to (take|use))\b", "dosage"),
        (r"\b(indications?|uses|used for)\b", "indications"),
        (r"\b(symptoms?|signs)\b", "symptoms"),
        (r"\b(causes?|risk factors?|etiology|aetiology)\b", "causes"),
        (r"\bscreening\b", "screening"),
        (r"\b(diagnos\w*|tests?|exams?)\b", "diagnosis"),
        (r"\b(treatments?|treating|management|therapy|therapies)\b", "treatment"),
        (r"\b(prevention|preventing|prevent)\b", "prevention"),
        (r"\b(prognosis|outlook|complications?)\b", "outlook"),
        (r"\b(genetic\w*|genes?)\b", "genetics"),
        (r"\binherit\w*\b", "inheritance"),
        (r"\b(frequency|prevalence|incidence|epidemiology|how common)\b", "frequency"),
        (r"\b(research|clinical trials?)\b", "research"),
        (r"\brecommendations?\b", "recommendation"),
        (r"\b(background|introduction)\b", "background"),
        (r"\b(methods?|methodology)\b", "methods"),
        (r"\b(results?|findings)\b", "results"),
        (r"\bconclusions?\b", "conclusions"),
        (r"\b(definition|overview|summary|what is)\b", "definition"),
    ]
]


def heading_section_type(path: list[str]) -> str | None:
    """The section type named by the innermost heading of ``path`` that names one."""
    for heading in reversed(path):
        lowered = heading.lower()
        for pattern, section_type in _HEADING_TYPES:
            if pattern.search(lowered):
                return section_type
    return None


class _Outline:
    """Builds sections from a stream of headings and text lines."""

    def __init__(self) -> None:
        self.sections: list[ParsedSection] = []
        self._stack: list[tuple[int, str]] = []
        self._lines: list[str] = []

    def heading(self, level: int, text: str) -> None:
        self._flush()
        self._stack = [(lvl, h) for lvl, h in self._stack if lvl < level] + [(level, text)]

    def lines(self, lines: list[str]) -> None:
        self._lines.extend(lines)

    def finish(self) -> list[ParsedSection]:
        self._flush()
        return self.sections

    def _flush(self) -> None:
        text = clean_text("\n".join(self._lines))
        self._lines = []
        if text:
            path = [h for _, h in self._stack]
            self.sections.append(ParsedSection(path=path, text=text, section_type=heading_section_type(path)))


def _read_text(path: Path) -> str:
    check_file(path)
    return decode_text(path, path.read_bytes())


def _no_text(path: Path) -> ReaderError:
    return ReaderError(str(path), "no text found in the file")


_LIST_MARKER = re.compile(r"^\s*([-*+•▪◦]|\d{1,3}[.)])\s+")
_SENTENCE_END = re.compile(r"[.!?:;]['\")\]]?$")


def reflow(lines: list[str], dehyphenate: bool = False) -> list[str]:
    """Join hard-wrapped lines back into paragraphs.

    A line continues the previous one only when that one ran near the full width of the text
    and did not end a sentence, and the line is not a list item; a blank line always breaks.
    """
    stripped = [line.strip() for line in lines]
    full_width = 0.6 * max([60, *(len(line) for line in stripped)])  # text is not wrapped narrower than 60
    out: list[str] = []
    joinable = False
    for line in stripped:
        if not line:
            joinable = False
            continue
        if joinable and not _LIST_MARKER.match(line):
            prev = out[-1]
            if dehyphenate and re.search(r"[a-z]-$", prev) and line[:1].islower():
                out[-1] = prev[:-1] + line
            else:
                out[-1] = f"{prev} {line}"
        else:
            out.append(line)
        joinable = len(line) >= full_width and not _SENTENCE_END.search(line)
    return out


# ---------------------------------------------------------------- plain text

_SMALL_WORDS = {"a", "an", "and", "as", "at", "by", "for", "from", "in", "of", "on", "or", "the", "to", "vs", "with"}


def _is_title_case(line: str) -> bool:
    words = [w for w in re.findall(r"[^\W\d_][\w'’-]*", line) if w.lower() not in _SMALL_WORDS]
    return bool(words) and all(w[0].isupper() for w in words)


def _is_all_caps(line: str) -> bool:
    letters = [c for c in line if c.isalpha()]
    return len(letters) >= 2 and all(c.isupper() for c in letters)


def _is_text_heading(line: str, prev_blank: bool, next_blank: bool) -> bool:
    """A short line that stands apart and does not end like a sentence: ALL CAPS (a blank line
    before or after), Title Case (a blank line after) or a label ending in ':' (a blank line before).
    """
    if not line or len(line) > 80 or len(line.split()) > 10 or re.search(r"[.,;!?]$", line):
        return False
    if line.endswith(":"):
        return prev_blank and len(line.split()) <= 6
    if _is_all_caps(line):
        return prev_blank or next_blank
    return next_blank and _is_title_case(line)


def text_outline(lines: list[str], dehyphenate: bool = False) -> list[ParsedSection]:
    """Sections of plain-text lines, split at lines that look like headings.

    Plain text does not say how headings nest, so each heading starts a top-level section.
    """
    outline = _Outline()
    body: list[str] = []
    for i, raw in enumerate(lines):
        line = raw.strip()
        prev_blank = i == 0 or not lines[i - 1].strip()
        next_blank = i + 1 == len(lines) or not lines[i + 1].strip()
        if not _is_text_heading(line, prev_blank, next_blank):
            body.append(line)
            continue
        outline.lines(reflow(body, dehyphenate))
        body = []
        outline.heading(1, line.rstrip(":").strip())
    outline.lines(reflow(body, dehyphenate))
    return outline.finish()


class PlainTextReader:
    """Any UTF-8 text file: title from a short first line, headings from ALL CAPS / Title Case lines."""

    name = "text"

    def sniff(self, path: Path, head: bytes) -> bool:
        if path.is_dir():
            return False
        if path.suffix.lower() == ".txt":
            return True
        if not head or b"\x00" in head or path.suffix.lower() in DATA_SUFFIXES:
            return False
        stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if stripped[:1] in (b"<", b"{", b"["):  # markup or JSON that no specific reader claimed
            return False
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:  # a character cut at the end of the head is fine
            return exc.reason == "unexpected end of data"
        return True

    def read(self, path: Path) -> Iterator[ParsedDocument | Skipped]:
        lines = _read_text(path).splitlines()
        start = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
        first = lines[start].strip() if start < len(lines) else ""
        title = first if 0 < len(first) < MAX_TITLE_CHARS else path.stem
        if title == first and not _SENTENCE_END.search(first):
            lines = lines[start + 1 :]  # a heading-like first line is the title, not body text
        sections = text_outline(lines)
        if not sections:
            raise _no_text(path)
        yield ParsedDocument(external_id=path.name, title=title, sections=sections)


# ---------------------------------------------------------------- Markdown

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:\s+(.*?))?\s*#*\s*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)\s*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_HR = re.compile(r"^ {0,3}([-*_])(\s*\1){2,}\s*$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_REF_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*\S+")
_MD_INLINE: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"!\[[^\]]*\](\([^)]*\)|\[[^\]]*\])"), ""),  # images
    (re.compile(r"\[([^\]]+)\](\([^)]*\)|\[[^\]]*\])"), r"\1"),  # links keep their text
    (re.compile(r"<(https?://[^>\s]+)>"), r"\1"),  # autolinks
    (re.compile(r"</?[A-Za-z][^>]*>"), ""),  # inline HTML tags
    (re.compile(r"`+([^`]+?)`+"), r"\1"),  # code spans
    (re.compile(r"(\*\*|__)(\S(?:.*?\S)?)\1"), r"\2"),  # strong
    (re.compile(r"(?<![\w*])\*(\S(?:.*?\S)?)\*(?![\w*])"), r"\1"),  # emphasis
    (re.compile(r"(?<!\w)_(\S(?:.*?\S)?)_(?!\w)"), r"\1"),
    (re.compile(r"~~(.+?)~~"), r"\1"),
]
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!>~|<])")
_ESCAPED_BASE = 0xF0000  # escaped characters hide in a private-use plane while the syntax is stripped


def markdown_inline(text: str) -> str:
    """Markdown inline syntax removed: link text kept, images dropped, emphasis unwrapped, escapes resolved."""
    text = _MD_ESCAPE.sub(lambda m: chr(_ESCAPED_BASE + ord(m.group(1))), text)
    for pattern, repl in _MD_INLINE:
        text = pattern.sub(repl, text)
    text = re.sub("[\U000f0000-\U000f00ff]", lambda m: chr(ord(m.group(0)) - _ESCAPED_BASE), text)
    return text.strip()


def _front_matter(lines: list[str]) -> tuple[str | None, list[str]]:
    """Split off YAML front matter; return its title (if any) and the remaining lines."""
    if not lines or lines[0].strip() != "---":
        return None, lines
    for end in range(1, len(lines)):
        if lines[end].strip() in ("---", "..."):
            title = next(
                (m.group(1).strip().strip("\"'") for ln in lines[1:end] if (m := re.match(r"title:\s*(.+)", ln))),
                None,
            )
            return title, lines[end + 1 :]
    return None, lines


class _MarkdownParser:
    """Walks Markdown lines: headings feed the outline, paragraphs are re-joined into single lines."""

    def __init__(self) -> None:
        self.outline = _Outline()
        self.first_h1: str | None = None
        self._para: list[str] = []

    def parse(self, lines: list[str]) -> None:
        fence: str | None = None
        i = 0
        while i < len(lines):
            line = lines[i]
            nxt = lines[i + 1] if i + 1 < len(lines) else ""
            if fence is not None:
                if line.strip().startswith(fence):
                    fence = None
                else:
                    self.outline.lines([line])
            elif m := _FENCE.match(line):
                self._end_para()
                fence = m.group(1)
            elif m := _ATX.match(line):
                self._heading(len(m.group(1)), m.group(2) or "")
            elif line.strip() and not self._para and _SETEXT.match(nxt) and not _LIST_MARKER.match(line):
                self._heading(1 if nxt.strip()[0] == "=" else 2, line)
                i += 1
            else:
                self._body_line(line)
            i += 1
        self._end_para()

    def _heading(self, level: int, raw: str) -> None:
        self._end_para()
        text = markdown_inline(raw)
        if level == 1 and self.first_h1 is None and text:
            self.first_h1 = text
        self.outline.heading(level, text)

    def _body_line(self, line: str) -> None:
        stripped = re.sub(r"^\s{0,3}(>\s?)+", "", line).strip()  # blockquote markers
        if not stripped or _HR.match(stripped) or _REF_DEF.match(stripped):
            self._end_para()
        elif _TABLE_RULE.match(stripped):
            return
        elif stripped.startswith("|"):
            self._end_para()
            cells = [markdown_inline(c) for c in stripped.strip("|").split("|")]
            self.outline.lines([" | ".join(c for c in cells if c)])
        elif _LIST_MARKER.match(stripped):
            self._end_para()
            self._para.append(re.sub(r"^[-*+]\s+", "", stripped))
        else:
            self._para.append(stripped)

    def _end_para(self) -> None:
        if self._para:
            self.outline.lines([markdown_inline(" ".join(self._para))])
            self._para = []


class MarkdownReader:
    """A Markdown file (.md, .markdown): ATX and setext headings become the section path."""

    name = "markdown"

    def sniff(self, path: Path, head: bytes) -> bool:
        return path.is_file() and path.suffix.lower() in (".md", ".markdown")

    def read(self, path: Path) -> Iterator[ParsedDocument | Skipped]:
        text = re.sub(r"<!--.*?-->", "", _read_text(path), flags=re.S)
        fm_title, lines = _front_matter(text.splitlines())
        parser = _MarkdownParser()
        parser.parse(lines)
        sections = parser.outline.finish()
        if not sections:
            raise _no_text(path)
        title = parser.first_h1 or fm_title or path.stem
        yield ParsedDocument(external_id=path.name, title=title, sections=sections)


# ---------------------------------------------------------------- HTML

_DROP_TAGS = ("script", "style", "nav", "header", "footer", "aside", "form", "noscript", "template", "svg", "iframe")
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_HTML_BLOCKS = {
    "address", "article", "blockquote", "body", "caption", "dd", "div", "dl", "dt", "figcaption", "figure",
    "li", "main", "ol", "p", "section", "table", "tbody", "tfoot", "thead", "ul",
}  # fmt: skip
_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.I)
_YEAR_META = ("citation_publication_date", "citation_date", "dc.date", "dcterms.date", "article:published_time")


def _decode_html(path: Path, data: bytes) -> str:
    """UTF-8 unless the page declares another charset in a <meta> tag."""
    m = _CHARSET.search(data[:4096])
    charset = m.group(1).decode("ascii").lower() if m else "utf-8"
    if charset.replace("_", "-") in ("utf-8", "utf8"):
        return decode_text(path, data)
    try:
        return data.decode(codecs.lookup(charset).name)
    except LookupError:
        raise ReaderError(str(path), f"unknown charset {charset!r} declared in <meta>") from None
    except UnicodeDecodeError as exc:
        raise ReaderError(str(path), f"not valid {charset} text as the page declares (offset {exc.start})") from None


def _parse_html(path: Path) -> lxml_html.HtmlElement:
    check_file(path)
    text = _decode_html(path, path.read_bytes())
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)  # lxml refuses a str with an encoding declaration
    try:
        return lxml_html.document_fromstring(text)
    except (etree.ParserError, ValueError) as exc:
        raise ReaderError(str(path), f"cannot parse HTML: {exc}") from None


def _drop_noise(root: lxml_html.HtmlElement) -> None:
    noise = list(root.iter(*_DROP_TAGS))
    noise += list(root.iter(etree.Comment, etree.ProcessingInstruction))
    noise += root.xpath("//*[@hidden or @aria-hidden='true']")
    for el in noise:
        if el.getparent() is not None:
            el.drop_tree()


def _inline(el: etree._Element) -> str:
    return " ".join("".join(el.itertext()).split())


@dataclass
class _HtmlWalker:
    """Walks the body in document order: headings feed the outline, blocks end lines."""

    outline: _Outline = field(default_factory=_Outline)
    buffer: LineBuffer = field(default_factory=LineBuffer)
    first_h1: str | None = None

    def walk(self, el: etree._Element) -> None:
        tag = el.tag.lower() if isinstance(el.tag, str) else ""
        if tag in _HEADINGS:
            self._heading(_HEADINGS[tag], _inline(el))
        elif tag == "br":
            self.buffer.end_line()
        elif tag == "tr":
            self.buffer.end_line()
            self.buffer.add(" | ".join(c for c in (_inline(td) for td in el if td.tag in ("td", "th")) if c))
            self.buffer.end_line()
        elif tag == "pre":
            self.buffer.extend("".join(el.itertext()).splitlines())
        elif tag in _HTML_BLOCKS:
            self.buffer.end_line()
            self._children(el)
            self.buffer.end_line()
        else:
            self._children(el)
        self.buffer.add(el.tail)

    def finish(self) -> list[ParsedSection]:
        self.outline.lines(self.buffer.finish())
        return self.outline.finish()

    def _children(self, el: etree._Element) -> None:
        self.buffer.add(el.text)
        for child in el:
            self.walk(child)

    def _heading(self, level: int, text: str) -> None:
        self.outline.lines(self.buffer.finish())
        self.buffer = LineBuffer()
        if level == 1 and self.first_h1 is None and text:
            self.first_h1 = text
        self.outline.heading(level, text)


def _html_url(root: etree._Element) -> str | None:
    hrefs = [str(h).strip() for h in root.xpath("//link[@rel='canonical']/@href | //meta[@property='og:url']/@content")]
    return next((h for h in hrefs if h), None)


def _html_year(root: etree._Element) -> int | None:
    for meta in root.iter("meta"):
        key = (meta.get("name") or meta.get("property") or "").lower()
        if key in _YEAR_META:
            return year_from(meta.get("content"))
    return None


class HtmlReader:
    """An HTML page: page chrome (scripts, navigation, headers, footers, forms) dropped, h1-h6 as the path."""

    name = "html"

    def sniff(self, path: Path, head: bytes) -> bool:
        if path.is_dir():
            return False
        if path.suffix.lower() in (".html", ".htm", ".xhtml"):
            return True
        start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:64].lower()
        return start.startswith((b"<!doctype html", b"<html"))

    def read(self, path: Path) -> Iterator[ParsedDocument | Skipped]:
        root = _parse_html(path)
        head_title = next((_inline(t) for t in root.xpath("//head/title")), "")
        url, year = _html_url(root), _html_year(root)
        _drop_noise(root)
        walker = _HtmlWalker()
        body = root.find("body")
        walker.walk(body if body is not None else root)
        sections = walker.finish()
        if not sections:
            raise _no_text(path)
        title = clean_text(head_title) or walker.first_h1 or path.stem
        yield ParsedDocument(external_id=path.name, title=title, sections=sections, url=url, year=year)
