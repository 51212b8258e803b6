"""openFDA drug labels online: the ``/drug/label`` search API and the bulk download.

``search_labels`` finds a drug's current labels (``openfda.generic_name`` first, then
``openfda.brand_name``), paging with ``skip``/``limit`` until ``meta.results.total``; openFDA's
404 "No matches found" is an empty result, not an error. ``bulk_parts`` reads the download index
(``/download.json``: ``results.drug.label.partitions``, each part a zipped JSON file with its size
in MB) and ``fetch_part`` downloads one part through a temporary file, keeping it only when its
size matches the listed one and it unzips and parses as a label file. Labels become documents with
the openFDA label reader (``readers/openfda.label_document``), carrying their provenance (query,
time retrieved, URL); ``add_drugs``/``add_bulk`` ingest them as source ``openfda``, one drug or one
complete part at a time, so a failure never leaves half a drug or half a part in the library.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

from medora.errors import ReaderError, UsageError
from medora.library.ingest import IngestReport
from medora.library.store import LibraryStore
from medora.models import Source
from medora.sources.online.http import BadResponse, Deadline, HttpClient, with_query
from medora.sources.readers.base import ParsedDocument, Skipped

SERVICE = "openFDA"
PAGE = 100  # labels per request (the API allows up to 1000)
MAX_SKIP = 25000  # the API refuses larger skips
PROVENANCE = "provenance"  # metadata key of a library-added label's provenance

SOURCE = Source(
    name="openfda",
    publisher="U.S. Food and Drug Administration (openFDA)",
    license="Public domain (openFDA data; FDA label text is U.S. government work)",
    url="https://open.fda.gov/apis/drug/label/",
    version="current (online)",
    attribution="Drug labels from openFDA (open.fda.gov), U.S. FDA. Do not rely on openFDA to make decisions "
    "regarding medical care.",
)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def client(settings, *, timeout_s: float = 30.0, attempts: int = 4) -> HttpClient:
    """An openFDA client: 240 requests/minute without a key (4/s, used as 3/s), 10/s with one."""
    return HttpClient(SERVICE, per_second=10.0 if settings.openfda_api_key else 3.0, timeout_s=timeout_s,
                      attempts=attempts)


def _quoted(name: str) -> str:
    cleaned = " ".join(name.replace('"', " ").replace("\\", " ").split())
    if not cleaned:
        raise UsageError(f"drug name {name!r} is empty once quotes are removed")
    return f'"{cleaned}"'


@dataclass
class LabelSearch:
    """The labels one search returned, with the search expression and the URL of its first page."""

    drug: str
    search: str | None = None
    url: str | None = None
    labels: list[dict] = field(default_factory=list)
    total: int = 0


def search_labels(http: HttpClient, base_url: str, drug: str, *, api_key: str | None = None,
                  max_labels: int = 1000, deadline: Deadline | None = None, page_size: int = PAGE) -> LabelSearch:
    """Every label of ``drug`` (generic name first, else brand name), all pages, up to ``max_labels``."""
    url = f"{base_url.rstrip('/')}/drug/label.json"
    for field_name in ("openfda.generic_name", "openfda.brand_name"):
        search = f"{field_name}:{_quoted(drug)}"
        found = LabelSearch(drug, search, with_query(url, {"search": search}))
        skip = 0
        while True:
            limit = min(page_size, max_labels - len(found.labels))
            params = {"search": search, "limit": limit, "skip": skip or None, "api_key": api_key}
            response = http.get(url, params, deadline=deadline, accept=(404,))
            if response.status == 404:
                _no_matches(response)
                break
            page = _json(response.body, "label search")
            results = page.get("results")
            total = (((page.get("meta") or {}).get("results") or {}).get("total"))
            if not isinstance(results, list) or not isinstance(total, int):
                raise BadResponse(SERVICE, "label search answer lacks results or meta.results.total")
            found.total = total
            found.labels.extend(r for r in results if isinstance(r, dict))
            skip += len(results)
            if not results or skip >= total or len(found.labels) >= max_labels or skip >= MAX_SKIP:
                break
        if found.labels:
            return found
    return LabelSearch(drug)


def _no_matches(response) -> None:
    """Accept openFDA's 404 "No matches found!"; any other 404 (a wrong base URL) is an error."""
    try:
        error = (json.loads(response.body) or {}).get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    if error.get("code") != "NOT_FOUND":
        raise BadResponse(SERVICE, f"HTTP 404 from {urlsplit(response.url).netloc} that is not openFDA's "
                          "'No matches found' (is openfda_url right?)")


def _json(body: bytes, what: str) -> dict:
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise BadResponse(SERVICE, f"{what}: malformed or truncated JSON ({exc.msg} at byte {exc.pos})") from None
    if not isinstance(data, dict):
        raise BadResponse(SERVICE, f"{what}: expected a JSON object")
    return data


def label_documents(labels: list[dict], provenance: dict[str, Any], *, key: str = PROVENANCE,
                    ) -> tuple[list[ParsedDocument], list[str]]:
    """Documents for ``labels`` (first of each set_id), each with ``provenance`` under metadata ``key``;
    plus one line per label the reader refused."""
    from medora.sources.readers.openfda import label_document

    docs, problems, seen = [], [], set()
    for label in labels:
        try:
            doc = label_document(label)
        except ReaderError as exc:
            problems.append(exc.reason)
            continue
        if isinstance(doc, Skipped) or doc is None or doc.external_id in seen:
            continue
        seen.add(doc.external_id)
        doc.metadata = {**doc.metadata, key: {**provenance, "set_id": label.get("set_id")}}
        docs.append(doc)
    return docs, problems


class StoredProvenance:
    """Keeps a document's stored provenance when nothing but its provenance changed, so fetching an
    unchanged record again counts as "unchanged", not as a new version (the library's states are read once)."""

    def __init__(self, store: LibraryStore, source: Source, key: str):
        self.store, self.key = store, key
        self.states = store.document_states(store.upsert_source(source))

    def apply(self, docs: list[ParsedDocument]) -> list[ParsedDocument]:
        ids = {d.external_id: self.states[d.external_id].id for d in docs if d.external_id in self.states}
        stored = self.store.documents(list(ids.values())) if ids else {}
        out = []
        for doc in docs:
            old = stored.get(ids.get(doc.external_id, -1))
            if old is not None and self.key in old.metadata:
                trial = replace(doc, metadata={**doc.metadata, self.key: old.metadata[self.key]})
                if trial.content_hash() == self.states[doc.external_id].content_hash:
                    doc = trial
            out.append(doc)
        return out


def add_drugs(store: LibraryStore, settings, drugs: list[str], ingestor: Callable[[Source], Any], *,
              max_labels: int = 1000, http: HttpClient | None = None) -> tuple[IngestReport, dict[str, int]]:
    """Fetch and ingest the labels of ``drugs`` as source ``openfda``, one drug at a time (all its pages,
    or nothing of it: a later drug's failure keeps the earlier drugs). ``ingestor(source)`` makes an
    Ingestor. Returns the combined ingestion report and the number of labels found per drug."""
    http = http or client(settings)
    found: dict[str, int] = {}
    total = IngestReport()
    seen: set[str] = set()
    for drug in drugs:
        result = search_labels(http, settings.openfda_url, drug, api_key=settings.openfda_api_key,
                               max_labels=max_labels)
        found[drug] = len(result.labels)
        if not result.labels:
            continue
        provenance = {"query": result.search, "retrieved_at": now_iso(), "url": result.url}
        docs, problems = label_documents(result.labels, provenance)
        docs = StoredProvenance(store, SOURCE, PROVENANCE).apply([d for d in docs if d.external_id not in seen])
        seen.update(d.external_id for d in docs)
        report = ingestor(SOURCE).run_documents([(result.url, docs)])
        report.skipped.update({f"label not read: {p}": 1 for p in problems})
        merge_reports(total, report)
    return total, found


def merge_reports(total: IngestReport, report: IngestReport) -> IngestReport:
    """Add ``report``'s counts to ``total`` (several ingestion runs reported as one)."""
    for name in ("added", "updated", "unchanged", "retired", "passages_written", "files", "seconds"):
        setattr(total, name, getattr(total, name) + getattr(report, name))
    total.rejected.extend(report.rejected)
    total.skipped.update(report.skipped)
    total.changed_document_ids.extend(report.changed_document_ids)
    total.retired_document_ids.extend(report.retired_document_ids)
    return total


# ---------------------------------------------------------------------------------- bulk download


@dataclass(frozen=True)
class BulkPart:
    """One ``drug-label-NNNN-of-NNNN.json.zip`` part listed in openFDA's download index."""

    url: str
    size_mb: float
    records: int | None = None

    @property
    def name(self) -> str:
        return PurePosixPath(urlsplit(self.url).path).name


def bulk_parts(http: HttpClient, base_url: str, *, deadline: Deadline | None = None) -> tuple[str | None, list[BulkPart]]:
    """(export date, parts) of the drug label bulk download, from ``/download.json``."""
    index = _json(http.get(f"{base_url.rstrip('/')}/download.json", deadline=deadline).body, "download index")
    label = (((index.get("results") or {}).get("drug") or {}).get("label") or {})
    parts = []
    for p in label.get("partitions") or []:
        try:
            parts.append(BulkPart(str(p["file"]), float(p["size_mb"]), p.get("records")))
        except (KeyError, TypeError, ValueError):
            raise BadResponse(SERVICE, "download index: a drug label partition lacks file or size_mb") from None
    if not parts:
        raise BadResponse(SERVICE, "download index lists no drug label partitions (results.drug.label.partitions)")
    return label.get("export_date"), parts


def size_matches(size: int, size_mb: float) -> bool:
    """True when ``size`` bytes is the index's ``size_mb`` (two decimals; MB or MiB, as openFDA rounds)."""
    return any(abs(size / unit - size_mb) <= 0.0051 for unit in (1e6, 1024 * 1024))


def verify_part(path: Path, part: BulkPart, size: int | None = None) -> None:
    """Raise BadResponse unless ``path`` has the part's listed size, unzips (CRC checked) and parses."""
    size = path.stat().st_size if size is None else size
    if not size_matches(size, part.size_mb):
        raise BadResponse(SERVICE, f"{part.name}: {size:,} bytes, but the index lists {part.size_mb} MB "
                          "(incomplete or changed download)")
    for _ in _part_labels(path, part.name):
        pass


def _part_labels(path: Path, name: str) -> Iterator[dict]:
    """The labels of a part file; BadResponse for a broken zip or JSON."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.namelist() if m.endswith(".json")]
            if len(members) != 1:
                raise BadResponse(SERVICE, f"{name}: expected one .json file inside, found {len(members)}")
            data = json.loads(archive.read(members[0]))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as exc:
        raise BadResponse(SERVICE, f"{name}: not a complete zip file ({exc})") from None
    except ValueError as exc:
        raise BadResponse(SERVICE, f"{name}: malformed JSON inside ({exc})") from None
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list):
        raise BadResponse(SERVICE, f"{name}: no results list")
    yield from (r for r in results if isinstance(r, dict))


class BulkPartReader:
    """Reads one verified bulk part: a document per label, with the part's provenance."""

    name = "openfda-bulk"
    BATCH = 500

    def __init__(self, provenance: dict[str, Any], keeper: StoredProvenance):
        self.provenance, self.keeper = provenance, keeper

    def sniff(self, path: Path, head: bytes) -> bool:
        return False

    def read(self, path: Path) -> Iterator[ParsedDocument | Skipped]:
        batch: list[dict] = []
        for label in _part_labels(path, path.name):
            batch.append(label)
            if len(batch) >= self.BATCH:
                yield from self._documents(batch)
                batch = []
        yield from self._documents(batch)

    def _documents(self, labels: list[dict]) -> Iterator[ParsedDocument | Skipped]:
        docs, problems = label_documents(labels, self.provenance)
        yield from self.keeper.apply(docs)
        yield from (Skipped(f"label not read: {p}") for p in problems)


def add_bulk(store: LibraryStore, settings, ingestor: Callable[[Source], Any], *, http: HttpClient | None = None,
             on_part: Callable[[BulkPart, str], None] | None = None) -> tuple[IngestReport, list[BulkPart]]:
    """Download every drug label part (resuming: a verified part already in the cache is not fetched again)
    and ingest each once it is complete and verified; a part already ingested unchanged is skipped. A failed
    part raises after the parts before it are in; nothing of it is ingested. Retires labels no longer listed
    only when every part went in."""
    http = http or client(settings, timeout_s=60.0)
    export_date, parts = bulk_parts(http, settings.openfda_url)
    folder = Path(settings.cache_dir) / "openfda" / "drug-label"
    keeper = StoredProvenance(store, SOURCE, PROVENANCE)
    on_part = on_part or (lambda part, state: None)

    def inputs():
        for part in parts:
            dest = folder / part.name
            try:
                verify_part(dest, part)
                on_part(part, "cached")
            except (BadResponse, OSError):
                on_part(part, "downloading")
                http.download(part.url, dest, check=lambda tmp, size, part=part: verify_part(tmp, part, size))
            provenance = {"query": "bulk download", "export_date": export_date, "retrieved_at": now_iso(),
                          "url": part.url}
            yield dest, BulkPartReader(provenance, keeper)

    report = ingestor(SOURCE).run(inputs(), prune=True)
    return report, parts
