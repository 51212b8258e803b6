"""The HTTP contract: problem+json for every error status, pagination, limits, authentication,
the published OpenAPI document, and the service endpoints (health, policy, library)."""

from __future__ import annotations

import time

import httpx
import pytest
from test_api_common import (
    PASSWORD,
    PUBMED,
    QUESTION,
    assert_problem,
    make_client,
    serving,
)

from medora.api import ApiSettings, create_app
from medora.api import auth as api_auth
from medora.library.sqlite_store import SQLiteStore
from medora.publish import SYSTEM, Accounts
from medora.settings import Settings

pytest_plugins = ("test_api_common",)  # its fixtures: template_library, api_library


def test_routing_and_validation_errors_are_problems(api_library):
    with make_client(api_library) as client:
        assert assert_problem(client.get("/v2/nothing"), 404, "not-found")["detail"] == "no resource at /v2/nothing"
        not_allowed = client.delete("/v1/articles")
        assert assert_problem(not_allowed, 405, "method-not-allowed")
        assert set(not_allowed.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}
        body = assert_problem(client.post("/v1/ask", json={"question": ""}), 422, "validation")
        assert body["errors"][0]["location"] == ["body", "question"]
        malformed = client.post("/v1/ask", content=b'{"question": ', headers={"Content-Type": "application/json"})
        assert assert_problem(malformed, 422, "validation")["errors"][0]["location"][0] == "body"
        bad_query = client.get("/v1/articles", params={"limit": 0})
        assert assert_problem(bad_query, 422, "validation")["errors"][0]["location"] == ["query", "limit"]
        unknown_action = client.post("/v1/articles/x/review", json={"action": "publish", "expected_revision": 1},
                                     headers=api_library.auth("reviewer"))
        assert_problem(unknown_action, 422, "validation")


def test_unexpected_errors_are_500_problems_that_reveal_nothing(api_library, monkeypatch, caplog):
    from medora.api import routes_library

    def broken(*args, **kwargs):
        raise RuntimeError("internal detail: /secret/path")

    monkeypatch.setattr(routes_library.NotFound, "__init__", broken)  # any unexpected exception will do
    with make_client(api_library) as client:
        response = client.get("/v1/library/documents/999999")
    body = assert_problem(response, 500, "server-error")
    assert "detail" not in body and "secret" not in response.text
    assert "internal detail: /secret/path" in caplog.text  # but the log has it, for the operator


def test_bodies_over_the_limit_are_refused_before_they_are_read(api_library):
    with make_client(api_library, max_body_bytes=4096) as client:
        big = {"question": QUESTION, "audience": "clinician", "padding": "x" * 5000}
        declared = client.post("/v1/articles", json=big, headers=api_library.auth("editor"))
        assert "4,096 bytes" in assert_problem(declared, 413, "content-too-large")["detail"]

        def chunks():  # no Content-Length: counted as it arrives
            for _ in range(10):
                yield b" " * 1000

        streamed = client.post("/v1/ask", content=chunks(), headers={"Content-Type": "application/json"})
        assert_problem(streamed, 413, "content-too-large")
        assert client.get("/v1/articles", headers=api_library.auth("editor")).json()["total"] == 0


def test_chunked_bodies_over_the_limit_are_cut_off_by_a_real_server(api_library):
    app = create_app(Settings(library=api_library.path), ApiSettings(rate_per_second=0, max_body_bytes=2048))
    sent = []

    def slow_chunks():
        for _ in range(200):  # 200 KB offered; the server answers long before
            sent.append(1)
            yield b" " * 1024

    with serving(app) as base, httpx.Client(base_url=base, timeout=10) as client:
        response = client.post("/v1/ask", content=slow_chunks(), headers={"Content-Type": "application/json"})
        assert_problem(response, 413, "content-too-large")
        assert client.get("/v1/health").status_code == 200  # and the server carries on


def test_rate_limit_answers_429_with_retry_after_per_client(api_library):
    with make_client(api_library, rate_per_second=0.5, rate_burst=3) as client:
        assert [client.get("/v1/library/sources").status_code for _ in range(3)] == [200, 200, 200]
        limited = client.get("/v1/library/sources")
        assert_problem(limited, 429, "rate-limited")
        assert int(limited.headers["retry-after"]) == 2
        assert client.get("/v1/library/sources", headers=api_library.auth("reader")).status_code == 200  # another client
        # probes answer whatever the client's bucket holds (load balancers poll them from one address)
        assert [client.get(path).status_code for path in ("/v1/health", "/v1/ready", "/metrics")] == [200, 200, 200]


def test_pagination_gives_totals_and_the_next_offset(api_library):
    editor = api_library.auth("editor")
    questions = [QUESTION, "What is the dose of sildenafil?", "What are the warnings for Triaminic?",
                 "What are the contraindications of atorvastatin?", "What is sildenafil used for?"]
    with make_client(api_library) as client:
        for q in questions:
            assert client.post("/v1/articles", json={"question": q}, headers=editor).status_code == 201
        pages = [client.get("/v1/articles", params={"limit": 2, "offset": o}, headers=editor).json()
                 for o in (0, 2, 4)]
        assert [p["total"] for p in pages] == [5, 5, 5]
        assert [p["next_offset"] for p in pages] == [2, 4, None]
        assert [len(p["items"]) for p in pages] == [2, 2, 1]
        assert len({i["slug"] for p in pages for i in p["items"]}) == 5
        past = client.get("/v1/articles", params={"offset": 50}, headers=editor).json()
        assert (past["items"], past["total"], past["next_offset"]) == ([], 5, None)
        drafts = client.get("/v1/articles", params={"state": "draft", "limit": 100}, headers=editor).json()
        assert drafts["total"] == 5 and {i["state"] for i in drafts["items"]} == {"draft"}
        assert client.get("/v1/articles", params={"state": "approved"}, headers=editor).json()["total"] == 0
        assert_problem(client.get("/v1/articles", params={"limit": 101}), 422, "validation")


def test_tokens_are_checked_for_validity_scope_revocation_and_disabled_users(api_library):
    with SQLiteStore(api_library.path) as store:
        accounts = Accounts(store)
        reviewer = next(u for u in accounts.users() if u.username == "reviewer1")
        read_only = accounts.create_token(SYSTEM, reviewer.id, "read only", ["read"])
        revoked = accounts.create_token(SYSTEM, reviewer.id, "revoked", ["read", "review"])
        accounts.revoke_token(SYSTEM, revoked.token.id)
    with make_client(api_library) as client:
        queue = "/v1/review/queue"
        assert client.get(queue, headers=api_library.auth("reviewer")).status_code == 200
        for headers in ({"Authorization": f"Bearer {revoked.secret}"}, {"Authorization": "Bearer mdr_made-up"},
                        {"Authorization": "Basic cmV2aWV3ZXIxOnB3"}, {"Authorization": "Bearer "}):
            response = client.get(queue, headers=headers)
            assert_problem(response, 401, "unauthenticated")
            assert response.headers["www-authenticate"] == "Bearer"
        assert_problem(client.get(queue, headers={"Authorization": f"Bearer {read_only.secret}"}), 403, "forbidden")
        assert_problem(client.get(queue, headers=api_library.auth("reader")), 403, "forbidden")
        me = client.get("/v1/auth/me", headers={"Authorization": f"Bearer {read_only.secret}"}).json()
        assert (me["user"]["username"], me["role"], me["scopes"]) == ("reviewer1", "reviewer", ["read"])
        assert client.get("/v1/auth/me").json() == {"user": None, "role": "anonymous", "scopes": ["ask", "read"]}

        with SQLiteStore(api_library.path) as store:
            Accounts(store).set_disabled(SYSTEM, reviewer.id, True)
        assert_problem(client.get(queue, headers=api_library.auth("reviewer")), 401, "unauthenticated")


def test_login_tokens_expire_cannot_be_forged_and_end_when_the_user_is_disabled(api_library, monkeypatch):
    with make_client(api_library, session_minutes=1) as client:
        failures = [client.post("/v1/auth/login", json={"username": u, "password": p})
                    for u, p in (("editor1", PASSWORD + "!"), ("nobody", PASSWORD))]
        assert len({assert_problem(f, 401, "unauthenticated")["detail"] for f in failures}) == 1
        token = client.post("/v1/auth/login", json={"username": "Editor1", "password": PASSWORD}).json()["token"]
        assert token.startswith("mds_")
        me = client.get("/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
        assert (me["role"], me["scopes"]) == ("editor", ["ask", "read", "review"])

        payload, signature = token.removeprefix("mds_").split(".")
        other_user = api_auth._b64(api_auth._unb64(payload).replace(b"3.", b"4.", 1))  # claim to be the admin
        for forged in (f"mds_{other_user}.{signature}", token[:-2] + "xx", "mds_", "mds_..."):
            assert_problem(client.get("/v1/auth/me", headers={"Authorization": f"Bearer {forged}"}), 401,
                           "unauthenticated")

        later = time.time() + 61
        monkeypatch.setattr(api_auth.time, "time", lambda: later)
        assert_problem(client.get("/v1/auth/me", headers={"Authorization": f"Bearer {token}"}), 401, "unauthenticated")
        monkeypatch.undo()
        with SQLiteStore(api_library.path) as store:
            accounts = Accounts(store)
            accounts.set_disabled(SYSTEM, next(u.id for u in accounts.users() if u.username == "editor1"), True)
        assert_problem(client.get("/v1/auth/me", headers={"Authorization": f"Bearer {token}"}), 401, "unauthenticated")


def test_anonymous_asking_can_be_switched_off(api_library):
    with make_client(api_library, anonymous_ask=False) as client:
        assert_problem(client.post("/v1/ask", json={"question": QUESTION}), 401, "unauthenticated")
        assert client.post("/v1/ask", json={"question": QUESTION}, headers=api_library.auth("reader")).json()[
            "status"] == "answered"
        assert client.get("/v1/articles").status_code == 200  # reading stays open


def test_service_endpoints_and_the_published_openapi(api_library, shared_sources):
    with make_client(api_library) as client:
        health = client.get("/v1/health").json()
        assert health["status"] == "ok" and health["schema_version"] >= 5

        html = client.get("/editorial-policy")
        assert html.headers["content-type"].startswith("text/html")
        assert "<h1>Medora editorial policy</h1>" in html.text and "<table>" in html.text
        markdown = client.get("/editorial-policy", headers={"Accept": "text/markdown"})
        assert markdown.text.startswith("# Medora editorial policy") and "| role |" in markdown.text

        sources = {s["name"]: s for s in client.get("/v1/library/sources").json()}
        assert (sources["dailymed"]["documents"], sources["pubmed"]["documents"]) == (3, 1)
        pubmed_id = next(d for d in range(1, 5) if client.get(f"/v1/library/documents/{d}").json()[
            "document"]["source"] == "pubmed")
        document = client.get(f"/v1/library/documents/{pubmed_id}").json()
        assert document["document"]["external_id"] == PUBMED.removeprefix("pubmed-").removesuffix(".xml")
        assert document["passages"] and all(p["document_id"] == pubmed_id for p in document["passages"])
        assert_problem(client.get("/v1/library/documents/99999"), 404, "not-found")

        schema = client.get("/openapi.json").json()
        assert {"/v1/ask", "/v1/ask/stream", "/v1/articles", "/v1/articles/{slug}", "/v1/articles/{slug}/review",
                "/v1/articles/{slug}/diff", "/v1/review/queue", "/v1/library/sources",
                "/v1/library/documents/{doc_id}", "/v1/health", "/v1/auth/login", "/editorial-policy"} <= \
            set(schema["paths"])
        for path, operations in schema["paths"].items():
            for method, operation in operations.items():
                for status, response in operation["responses"].items():
                    if status[0] in "45":
                        assert list(response["content"]) == ["application/problem+json"], (path, method, status)
        ask = schema["paths"]["/v1/ask"]["post"]["responses"]["200"]["content"]
        assert set(ask) == {"application/json", "text/event-stream"}


@pytest.mark.parametrize("field", ["question", "audience"])
def test_ask_validates_its_fields(api_library, field):
    bad = {"question": "x" * 2001} if field == "question" else {"question": QUESTION, "audience": "martian"}
    with make_client(api_library) as client:
        body = assert_problem(client.post("/v1/ask", json=bad), 422, "validation")
        assert body["errors"][0]["location"] == ["body", field]
