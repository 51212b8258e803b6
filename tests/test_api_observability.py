"""Observability in one process: request ids, access records, JSON log lines, Prometheus metrics,
readiness, the shared (library-backed) rate-limit buckets and the worker factory's hand-over.

The multi-process behaviour of the same pieces is tested on a real server in ``test_api_workers``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager

import pytest
from prometheus_client import REGISTRY
from test_api_common import PASSWORD, QUESTION, assert_problem, make_client

from medora.api import ApiSettings
from medora.api.factory import (
    CONFIG_ENV,
    SESSION_SECRET_ENV,
    app_from_environment,
    serve_environment,
)
from medora.api.logs import (
    REDACTED,
    REQUEST_ID,
    JsonFormatter,
    RedactSecrets,
    uvicorn_log_config,
)
from medora.api.ratelimit import SharedBuckets, TokenBuckets
from medora.api.metrics import WORKER_ID
from medora.api.routes_meta import newest_migration
from medora.errors import UsageError
from medora.library.open import open_store
from medora.library.sqlite_store import SQLiteStore
from medora.publish.database import transaction
from medora.settings import Settings

pytest_plugins = ("test_api_common", "pg_fixtures")  # api_library; pg_url: a real PostgreSQL database

NO_EVIDENCE = "What is the airspeed velocity of an unladen swallow?"


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]{64})"', html).group(1)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.addFilter(RedactSecrets())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def captured(*names: str) -> Iterator[list[logging.LogRecord]]:
    """The records logged on ``names`` (at INFO and above) while the block runs, passed through the redaction."""
    handler, loggers = _Records(), [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        yield handler.records
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_request_ids_are_echoed_when_well_formed_and_made_otherwise(api_library):
    with make_client(api_library) as client:
        echoed = client.get("/v1/health", headers={"X-Request-ID": "edge-42.a:b"})
        replaced = client.get("/v1/health", headers={"X-Request-ID": "x" * 65})
        made = client.get("/v1/nothing-here")
    assert echoed.headers["x-request-id"] == "edge-42.a:b"
    assert len(replaced.headers["x-request-id"]) == 32 and replaced.headers["x-request-id"] != "x" * 65
    assert made.status_code == 404 and len(made.headers["x-request-id"]) == 32
    assert {r.headers["x-medora-worker"] for r in (echoed, replaced, made)} == {WORKER_ID}  # opaque, not a pid
    assert str(os.getpid()) not in WORKER_ID


def test_access_records_carry_the_request_and_never_tokens_query_values_or_questions(api_library):
    token = api_library.tokens["reader"]
    with captured("medora.access", "medora.api") as records, make_client(api_library) as client:
        client.get("/v1/articles", params={"access_token": token, "q": "my HIV status"},
                   headers={"X-Request-ID": "req-1"})
        assert client.post("/v1/ask", json={"question": QUESTION}).status_code == 200
    access = [r for r in records if r.name == "medora.access"]
    first = access[0]
    assert (first.method, first.path, first.status) == ("GET", f"/v1/articles?access_token={REDACTED}&q={REDACTED}",
                                                         200)
    assert first.duration_ms > 0
    lines = [JsonFormatter().format(r) for r in records]
    assert json.loads(lines[0])["path"] == first.path
    said = [r.getMessage() for r in records if r.name == "medora.api"]
    assert len(said) == 1 and said[0].startswith(f"answer answered for clinician: question of {len(QUESTION)} ")
    for secret in (token, "HIV", QUESTION, "atorvastatin"):
        assert not any(secret in line for line in lines)


def test_json_lines_hold_time_level_logger_message_request_id_and_a_redacted_traceback():
    record = logging.LogRecord("medora.api", logging.ERROR, __file__, 1, "failed for %s", ("Bearer mds_abc.def",),
                               None)
    try:
        raise RuntimeError("token mdr_secret123 leaked")
    except RuntimeError:
        record.exc_info = sys.exc_info()
    RedactSecrets().filter(record)
    marker = REQUEST_ID.set("req-9")
    try:
        data = json.loads(JsonFormatter().format(record))
    finally:
        REQUEST_ID.reset(marker)
    assert {k: data[k] for k in ("level", "logger", "message", "request_id")} == \
        {"level": "error", "logger": "medora.api", "message": f"failed for {REDACTED}", "request_id": "req-9"}
    assert data["time"].endswith("+00:00") and "RuntimeError" in data["exception"]
    assert "mdr_secret123" not in json.dumps(data) and "mds_abc" not in json.dumps(data)
    config = uvicorn_log_config("info", "json")
    assert {f["()"] for f in config["formatters"].values()} == {JsonFormatter}
    assert all(h["filters"] == ["redact_secrets"] for h in config["handlers"].values())


def test_metrics_count_answers_and_abstentions_by_audience_stages_and_route_templates(api_library):
    before = {
        "patient": sample("medora_answers_total", audience="patient", status="answered"),
        "abstained": sample("medora_abstentions_total", audience="clinician"),
        "web": sample("medora_answers_total", audience="caregiver", status="answered"),
        "retrieve": sample("medora_answer_stage_seconds_count", stage="retrieve"),
        "slug": sample("medora_http_request_duration_seconds_count", method="GET", route="/v1/articles/{slug}",
                       status="404"),
    }
    with make_client(api_library) as client:
        assert client.post("/v1/ask", json={"question": QUESTION, "audience": "patient"}).json()["status"] == \
            "answered"
        streamed = client.post("/v1/ask/stream", json={"question": NO_EVIDENCE})
        assert "insufficient_evidence" in streamed.text
        form = {"csrf": csrf_of(client.get("/").text), "question": QUESTION, "audience": "caregiver"}
        assert client.post("/ask", data=form).status_code == 200  # the web page's ask
        for slug in ("one-slug", "another-slug"):
            assert client.get(f"/v1/articles/{slug}").status_code == 404
        page = client.get("/metrics")
    assert page.headers["content-type"].startswith("text/plain")
    assert sample("medora_answers_total", audience="patient", status="answered") == before["patient"] + 1
    assert sample("medora_abstentions_total", audience="clinician") == before["abstained"] + 1
    assert sample("medora_answers_total", audience="caregiver", status="answered") == before["web"] + 1
    assert sample("medora_answer_stage_seconds_count", stage="retrieve") == before["retrieve"] + 3
    assert sample("medora_http_request_duration_seconds_count", method="GET", route="/v1/articles/{slug}",
                  status="404") == before["slug"] + 2
    assert "medora_answers_total{" in page.text and "one-slug" not in page.text


def test_ready_is_200_on_a_current_library_and_503_when_behind_or_unreadable(api_library, tmp_path):
    with make_client(api_library) as client:
        newest = newest_migration("migrations")
        assert client.get("/v1/ready").json() == {"status": "ready", "schema_version": newest, "worker": WORKER_ID}
        with closing(sqlite3.connect(api_library.path)) as db, db:
            db.execute("DELETE FROM schema_migrations WHERE version = ?", (newest,))
        behind = assert_problem(client.get("/v1/ready"), 503, "unavailable")
        assert f"schema ({newest - 1}) is older than this server's ({newest})" in behind["detail"]
        api_library.path.write_bytes(b"not a database at all" * 100)
        unreadable = assert_problem(client.get("/v1/ready"), 503, "unavailable")
        assert "cannot be read" in unreadable["detail"] and str(tmp_path) not in unreadable["detail"]
        assert client.get("/v1/health").status_code == 200  # liveness does not depend on the library


@pytest.fixture(params=["sqlite", "postgresql"])
def library_location(request, api_library) -> str:
    """The test library's file, or a fresh PostgreSQL library."""
    if request.param == "sqlite":
        return str(api_library.path)
    url = request.getfixturevalue("pg_url")
    open_store(url, create=True).close()
    return url


def test_shared_buckets_enforce_one_limit_across_connections_to_one_library(library_location):
    now = [1_000.0]
    with closing(open_store(library_location, create=False)) as one, \
            closing(open_store(library_location, create=False)) as two:  # as two workers would
        first, second = (SharedBuckets(lambda s=s: s, rate=2.0, burst=3, clock=lambda: now[0], prune_every=5)
                         for s in (one, two))
        assert [first.take("a"), second.take("a"), first.take("a")] == [0.0, 0.0, 0.0]
        assert second.take("a") == pytest.approx(0.5) and first.take("a") == pytest.approx(0.5)
        assert second.take("b") == 0.0  # another client, another bucket
        now[0] += 0.5
        assert first.take("a") == 0.0 and second.take("a") > 0
        now[0] += 10  # every bucket full again: the prune on an instance's 5th take drops their rows
        assert first.take("c") == 0.0
        with transaction(two, write=False) as db:
            assert [tuple(row) for row in db.execute("SELECT key FROM rate_limits ORDER BY key")] == [("c",)]


def test_racing_connections_never_spend_one_bucket_twice(library_location):
    """Six connections (six workers) take from one bucket at once: exactly ``burst`` requests get through."""
    burst, per_thread = 10, 5
    stores = [open_store(library_location, create=False) for _ in range(6)]
    start = threading.Barrier(len(stores))

    def hammer(store) -> list[float]:
        buckets = SharedBuckets(lambda: store, rate=0.001, burst=burst)  # no refill during the test
        start.wait()
        return [buckets.take("race") for _ in range(per_thread)]

    try:
        with ThreadPoolExecutor(len(stores)) as pool:
            waits = [w for result in pool.map(hammer, stores) for w in result]
    finally:
        for store in stores:
            store.close()
    assert len(waits) == 30 and sum(w == 0.0 for w in waits) == burst


def test_in_memory_and_shared_buckets_agree(api_library):
    now = [50.0]
    memory = TokenBuckets(rate=1.0, burst=4, clock=lambda: now[0])
    with SQLiteStore(api_library.path) as store:
        shared = SharedBuckets(lambda: store, rate=1.0, burst=4, clock=lambda: now[0])
        for step in (0.0, 0.0, 0.3, 0.0, 0.0, 0.0, 1.2, 0.0, 5.0, 0.0):
            now[0] += step
            assert shared.take("k") == pytest.approx(memory.take("k"))


def test_several_workers_keep_rate_limits_in_the_library(api_library):
    with make_client(api_library, rate_per_second=0.01, rate_burst=2, workers=2) as client:
        statuses = [client.get("/v1/articles").status_code for _ in range(4)]
    assert statuses == [200, 200, 429, 429]
    with closing(sqlite3.connect(api_library.path)) as db:
        assert db.execute("SELECT key, tokens < 1 FROM rate_limits").fetchall() == [("ip:testclient", 1)]


def test_workers_rebuild_the_app_from_the_environment_with_one_login_key(api_library, monkeypatch):
    settings = Settings(library=api_library.path, top_k=7)
    environment = serve_environment(settings, ApiSettings(rate_per_second=0, workers=2, session_minutes=5))
    assert environment[SESSION_SECRET_ENV] not in environment[CONFIG_ENV]
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    apps = [app_from_environment(), app_from_environment()]  # as two worker processes would
    assert apps[0].state.medora.settings.top_k == 7 and apps[0].state.medora.api.workers == 2
    from fastapi.testclient import TestClient

    with TestClient(apps[0]) as one, TestClient(apps[1]) as two:
        token = one.post("/v1/auth/login", json={"username": "editor1", "password": PASSWORD}).json()["token"]
        assert two.get("/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).json()["role"] == "editor"
    monkeypatch.delenv(CONFIG_ENV)
    with pytest.raises(UsageError, match="medora serve"):
        app_from_environment()
