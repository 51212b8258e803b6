"""Shared set-up for the REST API tests (imported by the other test_api_* files), and tests of the
pieces every endpoint relies on: problem types, redaction of secrets in logs, token buckets.

The test library holds three FDA drug labels (copied, so a test can change one and ingest it again)
and one PubMed record, with a user and an API token for each role.
"""

from __future__ import annotations

import io
import logging
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from html import escape
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient

from medora.api import ApiSettings, create_app
from medora.api.logs import REDACTED, RedactSecrets, uvicorn_log_config
from medora.api.problems import PROBLEM_TYPES
from medora.api.ratelimit import TokenBuckets
from medora.library.ingest import Ingestor, IngestReport
from medora.library.sqlite_store import SQLiteStore
from medora.models import Source
from medora.publish import SYSTEM, Accounts, mark_stale_for_documents
from medora.publish.users import ROLE_SCOPES
from medora.settings import Settings
from medora.sources.readers.registry import make_reader

LABELS = ("lipitor-orig.xml", "viagra.xml", "cough.xml")
PUBMED = "pubmed-29768149.xml"
QUESTION = "What are the side effects of atorvastatin?"
PASSWORD = "correct horse battery staple"
ROLES = ("reader", "reviewer", "editor", "admin")
LIST_SENTENCE = "Ask your doctor or pharmacist for a complete list."


@dataclass(frozen=True)
class ApiLibrary:
    """A test library: its file, editable copies of its label files, and an API token per role."""

    path: Path
    sources: Path
    tokens: dict[str, str]

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def reingest_labels(self, *names: str) -> IngestReport:
        """Ingest label copies again, sending articles citing changed documents back to review (as cli.py does)."""
        with SQLiteStore(self.path) as store:
            ingestor = Ingestor(store, Source(name="dailymed"),
                                on_change=lambda ids, reason: mark_stale_for_documents(store, ids, reason))
            return ingestor.run([(self.sources / n, make_reader("spl")) for n in names or LABELS])


def build_library(directory: Path, shared_sources: Path) -> ApiLibrary:
    sources = directory / "sources"
    sources.mkdir(parents=True)
    for name in LABELS:
        shutil.copy(shared_sources / "dailymed-spl" / name, sources / name)
    library = ApiLibrary(directory / "library.db", sources, {})
    assert library.reingest_labels().added == len(LABELS)
    with SQLiteStore(library.path) as store:
        report = Ingestor(store, Source(name="pubmed")).run([(shared_sources / "pubmed" / PUBMED,
                                                             make_reader("pubmed-xml"))])
        assert report.added == 1
        accounts = Accounts(store)
        for role in ROLES:
            user = accounts.create_user(SYSTEM, f"{role}1", f"Test {role}", role, PASSWORD)
            library.tokens[role] = accounts.create_token(SYSTEM, user.id, "tests", sorted(ROLE_SCOPES[role])).secret
    return library


def copy_library(template: ApiLibrary, directory: Path) -> ApiLibrary:
    shutil.copytree(template.sources, directory / "sources")
    with sqlite3.connect(template.path) as source, sqlite3.connect(directory / "library.db") as target:
        source.backup(target)
    return replace(template, path=directory / "library.db", sources=directory / "sources")


@pytest.fixture(scope="session")
def template_library(tmp_path_factory, shared_sources) -> ApiLibrary:
    return build_library(tmp_path_factory.mktemp("api-template"), shared_sources)


@pytest.fixture
def api_library(template_library, tmp_path) -> ApiLibrary:
    """A fresh copy of the test library for one test."""
    return copy_library(template_library, tmp_path)


def make_client(library: ApiLibrary, **api: object) -> TestClient:
    """A TestClient (use it in ``with``) on the library; ``api`` overrides ApiSettings (no rate limit by default)."""
    settings = ApiSettings(**{"rate_per_second": 0, **api})
    return TestClient(create_app(Settings(library=library.path), settings), raise_server_exceptions=False)


def assert_problem(response, status: int, slug: str) -> dict:
    """The response is an RFC 9457 problem of kind ``slug``; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert (body["type"], body["status"], body["title"]) == (f"/problems/{slug}", status, PROBLEM_TYPES[slug][1])
    return body


# ------------------------------------------------------------------------------ tests


def test_every_problem_type_is_described_at_its_type_uri(api_library):
    with make_client(api_library) as client:
        for slug, (status, title, meaning) in PROBLEM_TYPES.items():
            page = client.get(f"/problems/{slug}")
            assert page.status_code == 200 and f"<h1>{status} {escape(title)}</h1>" in page.text
            assert escape(meaning) in page.text
        assert_problem(client.get("/problems/no-such-kind"), 404, "not-found")


def test_redaction_scrubs_tokens_from_messages_arguments_and_tracebacks():
    api_token, login_token = "mdr_" + "A1b2-C3d4_" * 4, "mds_eyJ1Ijo0fQ.c2lnbmF0dXJl-_x"
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecrets())
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("medora.tests.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("token %s used", api_token)
        logger.warning('%s - "%s %s HTTP/1.1" %d', "127.0.0.1:5000", "GET", f"/v1/articles?key={login_token}", 200)
        logger.warning("header was Authorization: Bearer %s", "opaque-secret-value")
        try:
            raise ValueError(f"bad token {api_token}")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert api_token not in text and login_token not in text and "opaque-secret-value" not in text
    assert text.count(REDACTED) == 4 and "200" in text and "ValueError" in text  # the rest survives


def test_uvicorn_log_config_filters_every_handler():
    config = uvicorn_log_config("debug")
    assert all(h["filters"] == ["redact_secrets"] for h in config["handlers"].values())
    assert config["loggers"]["medora"]["level"] == "DEBUG"


def test_token_buckets_allow_a_burst_then_the_rate():
    now = [100.0]
    buckets = TokenBuckets(rate=2.0, burst=3, max_clients=2, clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)  # empty: one request refills in 1/rate seconds
    assert buckets.take("b") == 0.0  # another client has its own bucket
    now[0] += 0.5
    assert buckets.take("a") == 0.0 and buckets.take("a") > 0
    buckets.take("c")  # a third client evicts the least recently used ("b"), which starts full again
    assert [buckets.take("b") for _ in range(3)] == [0.0, 0.0, 0.0]


@contextmanager
def serving(app: object, **config: object) -> Iterator[str]:
    """Run ``app`` on a real uvicorn server on loopback (any free port) in a thread; yields its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", **config))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
