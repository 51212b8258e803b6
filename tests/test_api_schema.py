"""Property-based tests of the whole API against its own OpenAPI document (Schemathesis, in-process).

Every operation gets generated requests, valid and invalid, anonymous and with an admin token; no
response may be a server error, and every response must match the document: a documented status,
content type and headers, and a body valid against its schema. Examples are bounded (derandomized,
a few per operation) so the file runs in about half a minute.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from test_api_common import QUESTION, build_library, make_client

from medora.api import ApiSettings, create_app
from medora.library.sqlite_store import SQLiteStore
from medora.settings import Settings

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
SLOW = ("/v1/auth/login",)  # each login verifies an argon2 hash: a few examples are enough


@pytest.fixture(scope="module")
def library(tmp_path_factory, shared_sources):
    lib = build_library(tmp_path_factory.mktemp("schema"), shared_sources)
    with make_client(lib) as client:  # one published article and one draft, so reads find something
        for question, publish in ((QUESTION, True), ("What is sildenafil used for?", False)):
            article = client.post("/v1/articles", json={"question": question}, headers=lib.auth("editor")).json()
            for action, role in (("submit", "editor"), ("claim", "reviewer"), ("approve", "reviewer")):
                if publish:
                    article = client.post(f"/v1/articles/{article['slug']}/review", headers=lib.auth(role),
                                          json={"action": action, "expected_revision": article["revision"]}).json()
    return lib


@pytest.fixture(scope="module")
def app(library):
    return create_app(Settings(library=library.path), ApiSettings(rate_per_second=0))


def _document_app():
    """An app over an empty library, only to read the OpenAPI document at collection time (the document
    does not depend on the library; Schemathesis's fixture-based loader does not run on pytest 9)."""
    path = Path(_DOCUMENT_DIR.name) / "empty.db"
    SQLiteStore(path).close()
    return create_app(Settings(library=path))


_DOCUMENT_DIR = tempfile.TemporaryDirectory(prefix="medora-openapi-")
schema = schemathesis.openapi.from_asgi("/openapi.json", _document_app())


def _check(case, app, library) -> None:
    case.call_and_validate(app=app, checks=CHECKS)
    case.call_and_validate(app=app, checks=CHECKS, headers=library.auth("admin"))


@schema.exclude(path=list(SLOW)).parametrize()
@settings(max_examples=8, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_operation_conforms_to_the_openapi_document(case, app, library):
    _check(case, app, library)


@schema.include(path=list(SLOW)).parametrize()
@settings(max_examples=3, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
def test_login_conforms_to_the_openapi_document(case, app, library):
    _check(case, app, library)
