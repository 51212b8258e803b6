"""Live evidence at ask time (PubMed E-utilities, openFDA) against a loopback server replaying the
recorded responses, with faults: timeouts, 429 + Retry-After, 500, truncated XML, zero hits, <ERROR>."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SOURCES
from online_services import Services, assert_paced

from medora.library.ingest import Ingestor
from medora.library.open import open_store
from medora.models import Source
from medora.settings import Settings
from medora.sources.online.live import FILTERS, drugs_in, gather_live_evidence
from medora.sources.readers.registry import plan_inputs

QUESTION = "Does occupational pesticide exposure cause subclinical hypothyroidism?"
PMID = "28775130"  # the one record with an abstract in recorded/eutils/pubmed5.xml


@pytest.fixture(scope="module")
def base_library(tmp_path_factory) -> Path:
    """The five DailyMed SPL labels (Lipitor among them): a small real library."""
    path = tmp_path_factory.mktemp("live") / "base.db"
    with open_store(str(path), create=True) as store:
        Ingestor(store, Source(name="dailymed")).run(list(plan_inputs([SOURCES / "dailymed-spl"])))
    return path


@pytest.fixture
def library(tmp_path, base_library) -> Path:
    path = tmp_path / "lib.db"
    shutil.copy(base_library, path)
    return path


@pytest.fixture
def services():
    s = Services(hang_s=4.0)
    s.eutils["efetch"] = "pubmed5.xml"
    yield s
    s.close()


def _settings(library: Path, services: Services, **extra) -> Settings:
    return Settings(library=str(library), eutils_url=services.url + "/entrez/eutils", openfda_url=services.url,
                    ncbi_email="librarian@example.org", **extra)


def _counts(library: Path) -> dict[str, int]:
    with sqlite3.connect(library) as conn:
        return dict(conn.execute("SELECT s.name, COUNT(*) FROM documents d JOIN sources s ON s.id = d.source_id "
                                 "GROUP BY s.name").fetchall())


def _live_meta(library: Path, source: str) -> dict[str, dict]:
    with sqlite3.connect(library) as conn:
        rows = conn.execute("SELECT d.external_id, d.metadata FROM documents d JOIN sources s ON s.id = d.source_id "
                            "WHERE s.name = ?", (source,)).fetchall()
    return {r[0]: json.loads(r[1])["live"] for r in rows}


def test_pubmed_search_parameters_pacing_and_ingested_provenance(library, services):
    settings = _settings(library, services)
    services.eutils["esearch"] = "esearch8.xml"  # zero hits first: espell, then a second search

    def esearch_then_hits():
        services.eutils["esearch"] = "esearch5.xml"
        return services.answer("/entrez/eutils/esearch.fcgi", {})

    services.fault("/entrez/eutils/esearch.fcgi", None, esearch_then_hits)
    with open_store(str(library), create=False) as store:
        report = gather_live_evidence(QUESTION, store, settings, deadline_s=8.0)
    assert report.finished and not report.errors, report
    assert report.services == ["PubMed"] and report.documents_added == 1
    eutils = [r for r in services.log if r.path.startswith("/entrez/eutils/")]
    assert [r.path.rsplit("/", 1)[1] for r in eutils] == ["esearch.fcgi", "espell.fcgi", "esearch.fcgi",
                                                          "efetch.fcgi"]
    search = eutils[0].params
    assert search["tool"] == "medora" and search["email"] == "librarian@example.org" and "api_key" not in search
    assert search["db"] == "pubmed" and search["datetype"] == "pdat" and int(search["reldate"]) > 0
    assert search["term"] == f"(occupational pesticide exposure cause subclinical hypothyroidism) AND {FILTERS}"
    for f in ("humans[mh]", "english[la]", "guideline[pt]", "systematic review[pt]", "meta-analysis[pt]",
              "randomized controlled trial[pt]"):
        assert f in search["term"]
    assert eutils[1].params["term"] == "occupational pesticide exposure cause subclinical hypothyroidism"
    assert eutils[2].params["term"].startswith("(biopython) AND ")  # NCBI's spelling, searched again
    fetch = eutils[3].params
    assert fetch["id"] == "6540636,5830998,4460425,4466840,3443459" and fetch["retmode"] == "xml"
    assert_paced([r.at for r in eutils], per_second=3)  # without a key, by the server's own clock

    live = _live_meta(library, "pubmed-live")[PMID]
    assert live["service"] == "PubMed" and live["id"] == f"PMID {PMID}" and live["query"] == "biopython"
    assert live["url"] == f"https://pubmed.ncbi.nlm.nih.gov/{PMID}/" and live["retrieved_at"].endswith("+00:00")

    # asked again: the record is in the library, so it is not fetched a second time
    with open_store(str(library), create=False) as store:
        again = gather_live_evidence(QUESTION, store, settings, deadline_s=8.0)
    assert again.documents_added == 0 and PMID not in services.requests("/entrez/eutils/efetch.fcgi")[-1].params["id"]


def test_api_key_raises_the_rate(library, services):
    settings = _settings(library, services, ncbi_api_key="s3cret")
    with open_store(str(library), create=False) as store:
        report = gather_live_evidence(QUESTION, store, settings)
    assert report.documents_added == 1
    eutils = [r for r in services.log if r.path.startswith("/entrez/eutils/")]
    assert all(r.params["api_key"] == "s3cret" for r in eutils)
    assert "s3cret" not in json.dumps(_live_meta(library, "pubmed-live"))


def _error_element():
    body = (b'<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE eSearchResult PUBLIC "-//NLM//DTD esearch '
            b'20060628//EN" "https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20060628/esearch.dtd">\n'
            b"<eSearchResult><ERROR>Invalid query</ERROR></eSearchResult>")
    return 200, {"Content-Type": "text/xml"}, body


@pytest.mark.parametrize("path, faults, error", [
    ("efetch", ["cut"], "efetch: malformed or truncated XML"),
    ("efetch", ["500"] * 3, "failed after 3 attempts: HTTP 500"),
    ("efetch", ["truncate"] * 3, "truncated body"),
    ("esearch", [_error_element], "NCBI reported an error: Invalid query"),
])
def test_faults_leave_the_library_unchanged(library, services, path, faults, error):
    settings = _settings(library, services)
    before = _counts(library)
    services.fault(f"/entrez/eutils/{path}.fcgi", *faults)
    with open_store(str(library), create=False) as store:
        report = gather_live_evidence(QUESTION, store, settings, deadline_s=8.0)
    assert report.finished and report.documents_added == 0
    assert len(report.errors) == 1 and error in report.errors[0] and report.errors[0].startswith("NCBI E-utilities")
    assert _counts(library) == before


def test_zero_hits_add_nothing(library, services):
    services.eutils["esearch"] = "esearch8.xml"  # Count 0, PhraseNotFound: not an error
    services.eutils["espell"] = "esearch8.xml"  # (no correction offered)
    with open_store(str(library), create=False) as store:
        report = gather_live_evidence(QUESTION, store, _settings(library, services))
    assert report.finished and not report.errors and report.documents_added == 0
    assert not services.requests("/entrez/eutils/efetch.fcgi")


def test_429_retry_after_then_success(library, services):
    services.fault("/entrez/eutils/esearch.fcgi", "429")
    with open_store(str(library), create=False) as store:
        report = gather_live_evidence(QUESTION, store, _settings(library, services), deadline_s=8.0)
    assert report.documents_added == 1 and not report.errors
    first, second = services.requests("/entrez/eutils/esearch.fcgi")[:2]
    assert second.at - first.at >= 0.95  # Retry-After: 1


def test_a_hanging_service_stops_at_the_deadline(library, services):
    services.fault("/entrez/eutils/esearch.fcgi", "hang")
    before = _counts(library)
    started = time.monotonic()
    with open_store(str(library), create=False) as store:
        report = gather_live_evidence(QUESTION, store, _settings(library, services), deadline_s=1.0)
    assert time.monotonic() - started < 1.5
    assert not report.finished and report.documents_added == 0 and "did not finish" in report.summary().notices[0]
    assert _counts(library) == before


def test_openfda_label_for_a_drug_without_one(library, services):
    assert drugs_in("clopidogrel with atorvastatin and omeprazole") == ["clopidogrel", "atorvastatin", "omeprazole"]
    settings = _settings(library, services)
    with open_store(str(library), create=False) as store:
        report = gather_live_evidence("clopidogrel with atorvastatin", store, settings, pubmed=False)
    assert report.services == ["openFDA"] and report.documents_added == 1, report
    searches = [r.params["search"] for r in services.requests("/drug/label.json")]
    assert searches == ['openfda.generic_name:"clopidogrel"']  # atorvastatin has a label (Lipitor): not searched
    (live,) = _live_meta(library, "openfda-live").values()
    assert live["service"] == "openFDA" and live["query"] == searches[0] and live["id"].startswith("set_id ")


def _ask(library: Path, services: Services, *extra: str, env: dict | None = None) -> tuple[dict, float]:
    exe = str(Path(sys.executable).with_name("medora"))
    env = {**os.environ, "MEDORA_EUTILS_URL": services.url + "/entrez/eutils", "MEDORA_OPENFDA_URL": services.url,
           **(env or {})}
    started = time.monotonic()
    proc = subprocess.run([exe, "ask", QUESTION, "--library", str(library), "--format", "json", *extra],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), time.monotonic() - started


def test_ask_live_cites_the_live_record(library, services):
    answer, _ = _ask(library, services, "--live")
    assert answer["live"]["searched"] and answer["live"]["finished"] and answer["live"]["documents_added"] == 1
    assert answer["status"] == "answered", answer.get("message")
    live_refs = [r for r in answer["references"] if r["live"]]
    assert live_refs and live_refs[0]["source"] == "pubmed-live"
    assert live_refs[0]["live"]["id"] == f"PMID {PMID}" and live_refs[0]["live"]["retrieved_at"]
    cited = {c["document_id"] for s in answer["bottom_line"] for c in s["citations"]}
    assert live_refs[0]["document_id"] in cited or any(
        c["document_id"] == live_refs[0]["document_id"] for sec in answer["sections"] for s in sec["statements"]
        for c in s["citations"])
    # without --live the library alone is asked (the record fetched above is reused, nothing is searched)
    again, _ = _ask(library, services)
    assert again["live"] is None and len([r for r in services.log if "esearch" in r.path]) == 1


def test_ask_answers_within_the_deadline_when_the_service_hangs(library, services):
    services.fault("/entrez/eutils/esearch.fcgi", "hang")
    before = _counts(library)
    answer, seconds = _ask(library, services, "--live", env={"MEDORA_LIVE_DEADLINE_S": "1"})
    assert answer["live"]["finished"] is False and answer["live"]["documents_added"] == 0
    assert any("did not finish" in n for n in answer["notices"])
    assert answer["status"] in ("answered", "insufficient_evidence")
    assert answer["timings_ms"]["live"] < 1500
    assert _counts(library) == before


def test_api_live_flag_metrics_and_no_question_in_logs(library, services, caplog):
    from fastapi.testclient import TestClient
    from prometheus_client import REGISTRY

    from medora.api import ApiSettings, create_app

    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    before = (sample("medora_live_requests_total", service="NCBI E-utilities", outcome="ok"),
              sample("medora_live_searches_total", outcome="finished"),
              sample("medora_live_request_seconds_count", service="NCBI E-utilities"))
    caplog.set_level("DEBUG")
    settings = _settings(library, services)  # live is off on this server
    with TestClient(create_app(settings, ApiSettings(rate_per_second=0))) as client:
        off = client.post("/v1/ask", json={"question": QUESTION}).json()
        assert off["live"] is None and not services.log
        asked = client.post("/v1/ask", json={"question": QUESTION, "live": True})
        assert asked.status_code == 200, asked.text
        body = asked.json()
        page = client.get("/metrics").text
    assert body["live"]["finished"] and body["live"]["services"] == ["PubMed"]
    assert any(r["live"] and r["source"] == "pubmed-live" for r in body["references"])
    assert sample("medora_live_requests_total", service="NCBI E-utilities", outcome="ok") == before[0] + 2  # esearch, efetch
    assert sample("medora_live_searches_total", outcome="finished") == before[1] + 1
    assert sample("medora_live_request_seconds_count", service="NCBI E-utilities") == before[2] + 2
    assert "medora_live_requests_total{" in page
    assert "pesticide" not in caplog.text and "hypothyroidism" not in caplog.text  # no question text in logs
    assert any("esearch.fcgi" in r.getMessage() for r in caplog.records)  # the requests themselves are logged


def test_only_the_redacted_question_leaves_the_machine(library, services):
    exe = str(Path(sys.executable).with_name("medora"))
    question = ("Hi, I'm John Smith, phone 555-867-5309, email john.smith@example.com. "
                "Does occupational pesticide exposure cause subclinical hypothyroidism?")
    env = {**os.environ, "MEDORA_EUTILS_URL": services.url + "/entrez/eutils", "MEDORA_OPENFDA_URL": services.url,
           "MEDORA_LIVE": "auto"}
    proc = subprocess.run([exe, "ask", question, "--library", str(library), "--format", "json"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["live"]["searched"]  # auto: the library holds no evidence on this
    sent = " ".join(v for r in services.log for v in r.params.values()).lower()
    assert "pesticide" in sent
    for private in ("john", "smith", "555", "867", "5309", "example.com"):
        assert private not in sent


def test_auto_leaves_a_question_the_library_answers_alone(library, services):
    exe = str(Path(sys.executable).with_name("medora"))
    env = {**os.environ, "MEDORA_EUTILS_URL": services.url + "/entrez/eutils", "MEDORA_OPENFDA_URL": services.url,
           "MEDORA_LIVE": "auto"}
    proc = subprocess.run([exe, "ask", "What are the side effects of atorvastatin?", "--library", str(library),
                           "--format", "json"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert answer["status"] == "answered" and answer["live"]["searched"] is False
    assert not services.log  # nothing left the machine: the Lipitor label answers it
