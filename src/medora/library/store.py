"""The storage interface the rest of Medora talks to, independent of the database engine.

SQLite (``sqlite_store.SQLiteStore``) is the embedded default; a PostgreSQL backend will
implement the same protocol. Ingestion writes through ``write_batch`` (one transaction per
batch); retrieval reads through ``lexical_search`` and the ``passages``/``documents`` lookups.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Protocol

from medora.library.chunking import Chunk
from medora.models import Document, Passage, Source
from medora.sources.readers.base import ParsedDocument


@dataclass(frozen=True)
class DocState:
    """What the library holds for one (source, external_id): enough to decide skip / update."""

    id: int
    content_hash: str
    version: int
    status: str
    origin: str | None = None


@dataclass
class DocWrite:
    """A document to add (``existing`` is None) or to replace (its passages are rewritten, version + 1)."""

    source_id: int
    doc: ParsedDocument
    content_hash: str
    chunks: list[Chunk]
    existing: DocState | None = None
    origin: str | None = None  # the file it came from (for the unchanged-file fast path)


class LibraryStore(Protocol):
    path: str

    def upsert_source(self, source: Source) -> int: ...

    def mark_ingested(self, source_id: int, when: str) -> None: ...

    def document_states(self, source_id: int) -> dict[str, DocState]: ...

    def write_batch(self, writes: list[DocWrite]) -> None: ...

    def file_record(self, source_id: int, path: str) -> tuple[str, dict[str, int]] | None: ...

    def set_origin(self, doc_ids: list[int], origin: str) -> None: ...

    def record_file(self, source_id: int, path: str, sha256: str, documents: int, skipped: dict[str, int]) -> None: ...

    def retire(self, doc_ids: list[int]) -> int: ...

    def lexical_search(self, match: str, limit: int) -> list[tuple[int, float]]: ...

    def term_frequencies(self, terms: list[str]) -> tuple[int, dict[str, int]]: ...

    def index_terms(self) -> tuple[str, dict[str, int]]:
        """(the index's stemmer as a PyStemmer algorithm name, {indexed term: passages containing it})."""
        ...

    def missing_embeddings(self, model_id: str, limit: int) -> list[tuple[str, str]]: ...

    def put_embeddings(self, model_id: str, dim: int, rows: list[tuple[str, bytes]]) -> None: ...

    def has_embeddings(self) -> bool: ...

    def embedding_coverage(self, model_id: str) -> tuple[int, int]: ...

    def embedding_rows(self, model_id: str) -> Iterable[tuple[int, bytes]]: ...

    def passages(self, ids: list[int]) -> dict[int, Passage]: ...

    def documents(self, ids: list[int]) -> dict[int, Document]: ...

    def document_passages(self, doc_id: int) -> list[Passage]: ...

    def sources(self) -> list[dict[str, Any]]: ...

    # the concept index (library/concepts.py), kept in step by write_batch and retire
    def concepts_version(self) -> Any: ...

    def concept_names(self) -> list[tuple[int, str, str, str, str, str]]: ...

    def concept_links(self) -> list[tuple[int, int]]: ...

    def rebuild_concepts(self) -> dict[str, int]: ...

    def concept_counts(self) -> dict[str, int]: ...

    def stats(self) -> dict[str, Any]: ...

    def close(self) -> None: ...
