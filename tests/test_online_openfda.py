"""openFDA online: `library add openfda --drug` and `--all` against a loopback server replaying the
recorded label responses (API shape, paging, "No matches found", 429, 500, truncated bodies, bulk parts)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from online_services import Services, assert_paced, labels_named

from medora.library.ingest import Ingestor
from medora.library.open import open_store
from medora.settings import Settings
from medora.sources.online import openfda
from medora.sources.online.http import BadResponse, HttpClient, ServiceError, ServiceUnavailable


@pytest.fixture
def services():
    s = Services(parts=3, bulk_labels=9)
    yield s
    s.close()


def _settings(tmp_path: Path, services: Services, **extra) -> Settings:
    return Settings(library=str(tmp_path / "lib.db"), cache_dir=tmp_path / "cache", openfda_url=services.url, **extra)


def _fast(**kw) -> HttpClient:
    return HttpClient(openfda.SERVICE, per_second=50.0, timeout_s=2.0, backoff_s=0.05, **kw)


def _docs(store, source: str = "openfda") -> dict[str, dict]:
    """Active documents of ``source``: external id -> metadata (read through a second connection)."""
    with sqlite3.connect(store.path) as conn:
        rows = conn.execute(
            "SELECT d.external_id, d.metadata FROM documents d JOIN sources s ON s.id = d.source_id "
            "WHERE s.name = ? AND d.status = 'active'", (source,)).fetchall()
    return {r[0]: json.loads(r[1]) for r in rows}


def test_drug_labels_paged_ingested_with_provenance(tmp_path, services):
    settings = _settings(tmp_path, services)
    http = HttpClient(openfda.SERVICE, per_second=3.0, timeout_s=2.0)
    found = openfda.search_labels(http, services.url, "meloxicam", page_size=1)
    assert len(found.labels) == 3 == found.total
    pages = services.requests("/drug/label.json")
    assert [(p.params.get("skip"), p.params["limit"]) for p in pages] == [(None, "1"), ("1", "1"), ("2", "1")]
    assert all(p.params["search"] == 'openfda.generic_name:"meloxicam"' for p in pages)
    assert all(p.headers["User-Agent"].startswith("medora/") for p in pages)
    assert_paced([r.at for r in pages], per_second=3)  # without a key, by the server's own clock

    with open_store(settings.library, create=True) as store:
        report, counts = openfda.add_drugs(store, settings, ["meloxicam", "Plavix", "nosuchdrug"],
                                           lambda src: Ingestor(store, src), http=_fast())
        assert counts == {"meloxicam": 3, "Plavix": 1, "nosuchdrug": 0}
        assert report.added == 4 and not report.rejected
        docs = _docs(store)
        plavix = labels_named("Plavix", "brand_name")[0]
        meta = docs[plavix["set_id"]]
        assert meta["brand_names"] == ["Plavix"]
        prov = meta["provenance"]
        assert prov["query"] == 'openfda.brand_name:"Plavix"' and prov["set_id"] == plavix["set_id"]
        assert prov["url"].startswith(services.url + "/drug/label.json?search=") and prov["retrieved_at"]
        # brand name tried after the generic name found nothing (openFDA's 404 "No matches found!")
        searches = [r.params["search"] for r in services.requests("/drug/label.json")][3:]
        assert searches[1:3] == ['openfda.generic_name:"Plavix"', 'openfda.brand_name:"Plavix"']

        # fetched again later: unchanged labels stay unchanged (their first provenance is kept)
        again, _ = openfda.add_drugs(store, settings, ["meloxicam"], lambda src: Ingestor(store, src), http=_fast())
        assert (again.added, again.updated, again.unchanged) == (0, 0, 3)
        assert _docs(store)[plavix["set_id"]]["provenance"] == prov


def test_api_key_is_sent_and_kept_out_of_provenance(tmp_path, services):
    settings = _settings(tmp_path, services, openfda_api_key="k3y")
    with open_store(settings.library, create=True) as store:
        openfda.add_drugs(store, settings, ["warfarin"], lambda src: Ingestor(store, src), http=_fast())
        assert services.requests("/drug/label.json")[0].params["api_key"] == "k3y"
        assert "k3y" not in json.dumps(_docs(store))


def test_429_retry_after_is_honoured(tmp_path, services):
    services.fault("/drug/label.json", "429")
    found = openfda.search_labels(_fast(), services.url, "warfarin")
    assert len(found.labels) == 1
    first, second = services.requests("/drug/label.json")
    assert second.at - first.at >= 0.95  # Retry-After: 1, longer than the client's own backoff


@pytest.mark.parametrize("fault", ["truncate", "500", "cut"])
def test_faults_leave_the_library_unchanged(tmp_path, services, fault):
    settings = _settings(tmp_path, services)
    with open_store(settings.library, create=True) as store:
        openfda.add_drugs(store, settings, ["meloxicam"], lambda src: Ingestor(store, src), http=_fast())
        before = _docs(store)
        services.fault("/drug/label.json", *[fault] * 3)
        with pytest.raises(ServiceError) as caught:
            openfda.add_drugs(store, settings, ["warfarin"], lambda src: Ingestor(store, src),
                              http=_fast(attempts=3))
        message = str(caught.value)
        assert "\n" not in message and message.startswith("openFDA: ")
        expected = {"truncate": (ServiceUnavailable, "truncated"), "500": (ServiceUnavailable, "HTTP 500"),
                    "cut": (BadResponse, "malformed or truncated JSON")}[fault]
        assert isinstance(caught.value, expected[0]) and expected[1] in message
        assert _docs(store) == before


def test_bulk_download_verified_part_by_part_and_resumed(tmp_path, services):
    settings = _settings(tmp_path, services)
    names = list(services.parts)
    services.fault("/parts/" + names[1], "cut")  # part 2 arrives short (with a matching length): refused
    with open_store(settings.library, create=True) as store:
        with pytest.raises(BadResponse, match=f"{names[1]}: .* bytes, but the index lists"):
            openfda.add_bulk(store, settings, lambda src: Ingestor(store, src), http=_fast(attempts=2))
        assert len(_docs(store)) == 3  # part 1 only: nothing of part 2 went in
        cached = sorted(p.name for p in (tmp_path / "cache" / "openfda" / "drug-label").iterdir())
        assert cached == [names[0]]  # no partial file kept under a part's name

        report, parts = openfda.add_bulk(store, settings, lambda src: Ingestor(store, src), http=_fast())
        assert [p.name for p in parts] == names
        assert (report.added, report.unchanged) == (6, 3) and len(_docs(store)) == 9
        assert len(services.requests("/parts/" + names[0])) == 1  # resumed: part 1 was not fetched again
        meta = next(iter(_docs(store).values()))
        assert meta["provenance"]["query"] == "bulk download" and meta["provenance"]["export_date"] == "2024-01-15"


def test_bulk_part_size_check():
    assert openfda.size_matches(1_234_567, 1.23) and openfda.size_matches(1_234_567, 1.18)  # MB or MiB
    assert not openfda.size_matches(1_200_000, 1.23)


def test_cli_library_add_openfda(tmp_path, services):
    env = {**os.environ, "MEDORA_OPENFDA_URL": services.url, "MEDORA_CACHE_DIR": str(tmp_path / "cache")}
    exe = str(Path(sys.executable).with_name("medora"))
    lib = str(tmp_path / "lib.db")
    proc = subprocess.run([exe, "library", "add", "openfda", "--drug", "Coumadin", "--library", lib,
                           "--format", "json", "-q"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)["openfda"]
    assert out["labels_found"] == {"Coumadin": 1} and out["documents"]["added"] == 1
    bad = subprocess.run([exe, "library", "add", "openfda", "medquad", "--drug", "x", "--library", lib],
                         capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 2 and "library add openfda --drug NAME" in bad.stderr
