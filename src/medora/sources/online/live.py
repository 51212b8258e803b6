"""Live evidence at ask time: PubMed (NCBI E-utilities) and openFDA labels, searched, ingested, cited.

``gather_live_evidence`` takes the cleaned, PHI-redacted search query (never the question as
written) and, within one total deadline (default 8 s):

* PubMed: ``esearch`` for the query's content words filtered to humans, English, the strongest
  publication types (guideline, systematic review, meta-analysis, randomized controlled trial) and
  recent years (``reldate``); on zero hits, ``espell`` and one more search with the corrected
  words; then ``efetch`` of the top records not already in the library, read by the PubMed XML
  reader. Requests carry ``tool``, ``email`` and ``api_key``; at most 3 requests/s without a key,
  10 with (one limiter per host for the process, ``http.limiter_for``).
* openFDA ``/drug/label`` for each named drug that has no label in the library.

Each service runs in its own thread; whatever finished by the deadline is ingested (sources
``pubmed-live`` / ``openfda-live``), each document carrying ``metadata["live"]``: service, query,
time retrieved, PMID or set_id and URL (an answer's references show it). A service that failed or
did not finish adds nothing, and never turns the answer into an error: the report says so.
``live_retrieval`` is the one step the answer pipeline calls (``answer/compose.py``).
"""

from __future__ import annotations

import re
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from lxml import etree
from prometheus_client import Counter

from medora.errors import MedoraError
from medora.library.store import LibraryStore
from medora.models import LiveSearch, Source
from medora.retrieve.query import content_terms, fts_match
from medora.sources.online import openfda
from medora.sources.online.http import BadResponse, Deadline, HttpClient, ServiceError
from medora.sources.readers.base import ParsedDocument

EUTILS = "NCBI E-utilities"
TOOL = "medora"
MAX_RECORDS = 5  # PubMed records fetched per question
MAX_TERMS = 8  # content words of the query sent to PubMed
MAX_DRUGS = 2  # drugs looked up on openFDA per question
LABELS_PER_DRUG = 2
RECENT_DAYS = 10 * 365
PUBLICATION_TYPES = ("guideline[pt]", "practice guideline[pt]", "systematic review[pt]", "meta-analysis[pt]",
                     "randomized controlled trial[pt]")
FILTERS = f"humans[mh] AND english[la] AND ({' OR '.join(PUBLICATION_TYPES)})"

SEARCHES = Counter("medora_live_searches", "Live evidence searches at ask time, by outcome "
                   "(finished, unfinished, failed)", ["outcome"])

PUBMED_LIVE = Source(name="pubmed-live", publisher="U.S. National Library of Medicine (PubMed)",
                     license="NLM records; abstracts are the publishers'", url="https://pubmed.ncbi.nlm.nih.gov/",
                     version="live", attribution="Searched live in PubMed through NCBI E-utilities.")
OPENFDA_LIVE = Source(name="openfda-live", publisher=openfda.SOURCE.publisher, license=openfda.SOURCE.license,
                      url=openfda.SOURCE.url, version="live", attribution=openfda.SOURCE.attribution)

#: USAN stems that end generic drug names (a fallback when the question's drug names are not known).
_DRUG_STEMS = re.compile(
    r"(pril|sartan|olol|statin|prazole|azole|cillin|mycin|cycline|floxacin|dipine|tidine|triptan|gliptin|gliflozin"
    r"|glitazone|parin|xaban|gatran|grel|umab|ximab|zumab|tinib|ciclovir|navir|setron|azepam|azolam|oxetine"
    r"|pramine|triptyline|profen|semide|thiazide|dronate|tropium|terol|sone|olone|asone|vastatin)$")
_NOT_DRUGS = {"person", "reason", "season", "poison", "lesson", "hormone", "cortisone"}


@dataclass
class LiveReport:
    """What one live search did: documents added (ids), services asked, whether all finished, errors."""

    documents_added: int = 0  # new or changed documents ingested
    document_ids: list[int] = field(default_factory=list)  # every document the live search returned
    services: list[str] = field(default_factory=list)
    finished: bool = True
    errors: list[str] = field(default_factory=list)
    queries: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self, searched: bool = True) -> LiveSearch:
        notices = []
        if not self.finished:
            notices.append("The live search of outside sources did not finish in time; this answer uses what "
                           "was found before the deadline.")
        elif self.errors:
            notices.append("A live search of outside sources failed; this answer uses the library and what "
                           "the other sources returned.")
        return LiveSearch(searched=searched, finished=self.finished, services=self.services,
                          documents_added=self.documents_added, errors=self.errors,
                          seconds=round(self.seconds, 3), notices=notices)


# ------------------------------------------------------------------------------ PubMed


def pubmed_term(query: str) -> str:
    """The esearch term for a cleaned query: its content words (PubMed maps them to MeSH) and the filters."""
    words = [w for w in content_terms(query) if w.isalnum()][:MAX_TERMS]
    return " ".join(words)


def eutils_client(settings) -> HttpClient:
    return HttpClient(EUTILS, per_second=10.0 if settings.ncbi_api_key else 3.0, timeout_s=10.0, attempts=3)


def _eutils_params(settings, **params: Any) -> dict[str, Any]:
    return {"db": "pubmed", **params, "tool": TOOL, "email": settings.ncbi_email, "api_key": settings.ncbi_api_key}


def _xml(body: bytes, what: str) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, recover=False)
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as exc:
        raise BadResponse(EUTILS, f"{what}: malformed or truncated XML ({exc.msg})") from None
    error = root.find("ERROR")
    if error is not None and (error.text or "").strip():
        raise BadResponse(EUTILS, f"{what}: NCBI reported an error: {(error.text or '').strip()[:200]}")
    return root


def esearch(http: HttpClient, settings, words: str, deadline: Deadline) -> list[str]:
    """PMIDs for ``words`` under the filters, best match first."""
    params = _eutils_params(settings, term=f"({words}) AND {FILTERS}", retmax=MAX_RECORDS * 2, sort="relevance",
                            datetype="pdat", reldate=RECENT_DAYS)
    root = _xml(http.get(f"{settings.eutils_url.rstrip('/')}/esearch.fcgi", params, deadline=deadline).body,
                "esearch")
    if root.tag != "eSearchResult":
        raise BadResponse(EUTILS, f"esearch: expected <eSearchResult>, got <{root.tag}>")
    return [i.text.strip() for i in root.iterfind("IdList/Id") if i.text and i.text.strip()]


def espell(http: HttpClient, settings, words: str, deadline: Deadline) -> str | None:
    """NCBI's spelling of ``words``, when it differs."""
    root = _xml(http.get(f"{settings.eutils_url.rstrip('/')}/espell.fcgi", _eutils_params(settings, term=words),
                         deadline=deadline).body, "espell")
    corrected = (root.findtext("CorrectedQuery") or "").strip()
    return corrected if corrected and corrected.lower() != words.lower() else None


def efetch(http: HttpClient, settings, pmids: list[str], deadline: Deadline) -> list[ParsedDocument]:
    """The records ``pmids`` as documents, read by the PubMed XML reader (all of them, or BadResponse)."""
    from medora.sources.readers.pubmed import PubMedXmlReader

    body = http.get(f"{settings.eutils_url.rstrip('/')}/efetch.fcgi",
                    _eutils_params(settings, id=",".join(pmids), retmode="xml"), deadline=deadline).body
    root = _xml(body, "efetch")
    if root.tag != "PubmedArticleSet":
        raise BadResponse(EUTILS, f"efetch: expected <PubmedArticleSet>, got <{root.tag}>")
    with tempfile.TemporaryDirectory(prefix="medora-efetch-") as folder:
        path = Path(folder) / "efetch.xml"
        path.write_bytes(body)
        try:
            return [d for d in PubMedXmlReader().read(path) if isinstance(d, ParsedDocument)]
        except MedoraError as exc:
            raise BadResponse(EUTILS, f"efetch: {exc}") from None


def search_pubmed(settings, query: str, deadline: Deadline, known: frozenset[str] | set[str] = frozenset(),
                  http: HttpClient | None = None) -> tuple[str, list[ParsedDocument]]:
    """(words searched, new documents) for ``query``; PMIDs in ``known`` (already in the library) are not fetched."""
    http = http or eutils_client(settings)
    words = pubmed_term(query)
    if not words:
        return "", []
    pmids = esearch(http, settings, words, deadline)
    if not pmids:
        corrected = espell(http, settings, words, deadline)
        if corrected:
            words = corrected
            pmids = esearch(http, settings, words, deadline)
    new = [p for p in pmids if p not in known][:MAX_RECORDS]
    if not new:
        return words, []
    docs = efetch(http, settings, new, deadline)
    retrieved = openfda.now_iso()
    for doc in docs:
        doc.metadata = {**doc.metadata, "live": {"service": "PubMed", "query": words, "retrieved_at": retrieved,
                                                 "id": f"PMID {doc.external_id}", "url": doc.url}}
    return words, docs


# ------------------------------------------------------------------------------ openFDA


def drugs_in(query: str) -> list[str]:
    """Words of ``query`` that end like generic drug names (USAN stems)."""
    return [w for w in dict.fromkeys(content_terms(query)) if len(w) > 5 and w not in _NOT_DRUGS
            and _DRUG_STEMS.search(w)]


def has_label(store: LibraryStore, drug: str) -> bool:
    """True when the library holds a drug label whose title or names mention ``drug``."""
    from medora.retrieve.lexical import hydrate

    match = fts_match(content_terms(drug))
    if not match:
        return False
    name = drug.lower()
    for hit in hydrate(store, store.lexical_search(match, 50), "bm25"):
        doc = hit.document
        names = " ".join(str(x) for k in ("generic_names", "brand_names", "substance_names")
                         for x in (doc.metadata.get(k) or []))
        if doc.doc_type == "drug label" and (name in doc.title.lower() or name in names.lower()):
            return True
    return False


def search_openfda(settings, drugs: list[str], deadline: Deadline,
                   http: HttpClient | None = None) -> tuple[str, list[ParsedDocument]]:
    http = http or openfda.client(settings, timeout_s=10.0, attempts=3)
    docs: list[ParsedDocument] = []
    searches = []
    for drug in drugs:
        result = openfda.search_labels(http, settings.openfda_url, drug, api_key=settings.openfda_api_key,
                                       max_labels=LABELS_PER_DRUG, deadline=deadline)
        searches.append(result.search or drug)
        if result.labels:
            provenance = {"service": "openFDA", "query": result.search, "retrieved_at": openfda.now_iso(),
                          "url": result.url}
            found, _ = openfda.label_documents(result.labels, provenance, key="live")
            for doc in found:
                doc.metadata["live"]["id"] = f"set_id {doc.external_id}"
            docs.extend(found)
    return "; ".join(searches), docs


# ------------------------------------------------------------------------------ together


def gather_live_evidence(query: str, store: LibraryStore, settings, *, drugs: tuple[str, ...] | list[str] = (),
                         deadline_s: float | None = None, pubmed: bool = True) -> LiveReport:
    """Search PubMed for ``query`` (cleaned and redacted: it leaves the machine) and openFDA for those of
    ``drugs`` (plus drug-like words of the query) without a label in the library; ingest what finished
    within ``deadline_s`` (default ``settings.live_deadline_s``). Never raises for a service's failure."""
    started = time.perf_counter()
    deadline = Deadline(deadline_s if deadline_s is not None else settings.live_deadline_s)
    report = LiveReport()
    wanted = [d.lower() for d in dict.fromkeys([*drugs, *drugs_in(query)])]
    unlabelled = [d for d in wanted if not has_label(store, d)][:MAX_DRUGS]
    tasks: dict[str, Callable[[], tuple[str, list[ParsedDocument]]]] = {}
    if pubmed:  # the store is only read here, on this thread; the service threads never touch it
        known = set(store.document_states(store.upsert_source(PUBMED_LIVE)))
        tasks["PubMed"] = lambda: search_pubmed(settings, query, deadline, known)
    if unlabelled:
        tasks["openFDA"] = lambda: search_openfda(settings, unlabelled, deadline)
    results: dict[str, tuple[str, list[ParsedDocument]] | BaseException] = {}
    threads = [threading.Thread(target=_run, args=(name, task, results), daemon=True, name=f"live-{name}")
               for name, task in tasks.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline.remaining()))
    for name in tasks:
        report.services.append(name)
        outcome = results.get(name)
        if outcome is None:
            report.finished = False
            report.errors.append(f"{name}: did not finish within {deadline.seconds:g} s")
        elif isinstance(outcome, BaseException):
            report.errors.append(str(outcome) if isinstance(outcome, MedoraError) else
                                 f"{name}: {type(outcome).__name__}")
            if isinstance(outcome, ServiceError) and "deadline" in outcome.reason:
                report.finished = False
        else:
            report.queries[name] = outcome[0]
            if outcome[1]:
                try:
                    added, ids = _ingest(store, PUBMED_LIVE if name == "PubMed" else OPENFDA_LIVE, outcome[1], name)
                except Exception as exc:  # noqa: BLE001 - a locked or read-only library: answer from what it holds
                    why = str(exc) if isinstance(exc, MedoraError) else type(exc).__name__
                    report.errors.append(f"{name}: results not stored ({why})")
                    continue
                report.documents_added += added
                report.document_ids.extend(ids)
    report.seconds = time.perf_counter() - started
    SEARCHES.labels("failed" if report.errors and report.finished else
                    "finished" if report.finished else "unfinished").inc()
    return report


def _run(name: str, task: Callable, results: dict) -> None:
    try:
        results[name] = task()
    except BaseException as exc:  # noqa: BLE001 - reported, never raised into the answer
        results[name] = exc


def _ingest(store: LibraryStore, source: Source, docs: list[ParsedDocument], service: str) -> tuple[int, list[int]]:
    """Ingest one service's documents: (how many were new or changed, the ids of all of them)."""
    from medora.library.ingest import Ingestor

    docs = openfda.StoredProvenance(store, source, "live").apply(docs)
    ingestor = Ingestor(store, source)
    report = ingestor.run_documents([(f"live:{service}", docs)])
    states = store.document_states(ingestor.source_id)
    return report.added + report.updated, [states[d.external_id].id for d in docs if d.external_id in states]


# ------------------------------------------------------------------------------ the answer step


def live_retrieval(store: LibraryStore, retriever, query: str, retrieval, settings,
                   preference: dict[str, float] | None = None):
    """The answer pipeline's live step: (retrieval, LiveSearch). With ``live = "auto"`` it searches only when
    the evidence is insufficient or a named drug has no label; when documents were added, it searches again."""
    from medora.answer.evidence import evidence_coverage

    drugs = list((retrieval.question.drugs or {}).values()) if retrieval.question is not None else []
    insufficient = not retrieval.hits or evidence_coverage(retrieval.hits, retrieval.weights) < settings.min_evidence
    unlabelled = [d for d in dict.fromkeys([*drugs, *drugs_in(query)]) if not has_label(store, d)]
    if settings.live == "auto" and not insufficient and not unlabelled:
        return retrieval, LiveReport(finished=True).summary(searched=False)
    report = gather_live_evidence(query, store, settings, drugs=drugs,
                                  pubmed=settings.live == "on" or insufficient)
    if report.documents_added:
        retrieval = retriever.search(query, k=settings.top_k, preference=preference)
    return retrieval, report.summary()
