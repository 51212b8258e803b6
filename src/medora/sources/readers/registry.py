"""Which reader reads a given path: by explicit name, or by sniffing the first bytes.

Each reader module exposes one or more reader classes; they are listed here in sniffing
order (most specific first). Directories are offered to readers too (a MedQuAD checkout is
a folder); a folder no reader claims is walked file by file.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Iterator

from medora.errors import ReaderError, UsageError
from medora.sources.readers.base import Reader

# name -> "module:Class". Order matters for sniffing: specific formats before generic ones.
READERS: dict[str, str] = {
    "medquad": "medora.sources.readers.medquad:MedQuadReader",
    "openfda": "medora.sources.readers.openfda:OpenFdaReader",
    "openfda-common": "medora.sources.readers.openfda:OpenFdaCommonReader",
    "medlineplus": "medora.sources.readers.medlineplus:MedlinePlusReader",
    "medpix": "medora.sources.readers.medpix:MedPixReader",
    "uspstf": "medora.sources.readers.uspstf:UspstfReader",
    "pubmedqa": "medora.sources.readers.pubmed:PubMedQAReader",
    "pubmed-xml": "medora.sources.readers.pubmed:PubMedXmlReader",
    "jats": "medora.sources.readers.jats:JatsReader",
    "spl": "medora.sources.readers.spl:SplReader",
    "beir": "medora.sources.readers.jsonl:BeirReader",
    "jsonl": "medora.sources.readers.jsonl:JsonlReader",
    "pdf": "medora.sources.readers.pdf:PdfReader",
    "html": "medora.sources.readers.text:HtmlReader",
    "markdown": "medora.sources.readers.text:MarkdownReader",
    "text": "medora.sources.readers.text:PlainTextReader",
}

SNIFF_BYTES = 8192


def reader_names() -> list[str]:
    return list(READERS)


def make_reader(name: str, **options: Any) -> Reader:
    """Instantiate the reader called ``name`` (options go to its constructor)."""
    target = READERS.get(name)
    if target is None:
        raise UsageError(f"unknown format {name!r}; known formats: {', '.join(READERS)}")
    module_name, cls_name = target.split(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    return cls(**options) if options else cls()


def _head(path: Path) -> bytes:
    if path.is_dir():
        return b""
    try:
        with path.open("rb") as fh:
            return fh.read(SNIFF_BYTES)
    except OSError as exc:
        raise ReaderError(str(path), f"cannot open: {exc.strerror or exc}") from None


def detect_reader(path: Path) -> Reader | None:
    """The first reader whose ``sniff`` accepts ``path``, or None."""
    head = _head(path)
    for name in READERS:
        reader = make_reader(name)
        if reader.sniff(path, head):
            return reader
    return None


def plan_inputs(paths: list[Path], fmt: str | None = None, **options: Any) -> Iterator[tuple[Path, Reader | None]]:
    """Pair every input file with its reader (None = no reader recognises it).

    A directory that a reader claims as a whole (e.g. an unpacked MedQuAD folder) is read
    whole; any other directory is walked in sorted order, skipping hidden files.
    """
    forced = make_reader(fmt, **options) if fmt else None
    for path in paths:
        if not path.exists():
            yield path, None
            continue
        if path.is_dir():
            reader = forced if forced and forced.sniff(path, b"") else (None if forced else detect_reader(path))
            if reader is not None:
                yield path, reader
                continue
            for child in sorted(path.rglob("*")):
                if child.is_file() and not any(part.startswith(".") for part in child.relative_to(path).parts):
                    yield child, forced or detect_reader(child)
        else:
            yield path, forced or detect_reader(path)
