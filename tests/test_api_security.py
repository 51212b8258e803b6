"""Security: nothing unpublished reaches anonymous users or readers, SQL-looking input is inert,
and tokens and passwords never reach the server's logs (a real ``medora serve`` subprocess)."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
from test_api_common import (
    PASSWORD,
    QUESTION,
    assert_problem,
    make_client,
)

pytest_plugins = ("test_api_common",)  # its fixtures: template_library, api_library

UNPUBLISHED = {"draft": "What is the dose of sildenafil?", "submitted": "What are the warnings for Triaminic?",
               "under_review": "What is sildenafil used for?"}
NO_SUCH = "no-such-article"
INJECTIONS = ["' OR '1'='1", "x'; DROP TABLE articles; --", '" OR 1=1 --', "1; DELETE FROM users",
              "a%' UNION SELECT token_hash FROM api_tokens --", "NEAR(sildenafil* OR \"x\")", "\\'; --"]


def _fill(path: str, slug: str) -> str:
    return path.replace("{slug}", slug).replace("{doc_id}", "1")


def _counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        return {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in ("articles", "users", "api_tokens", "passages", "documents", "audit_log")}


def test_no_endpoint_shows_unpublished_articles_or_the_queue_to_anonymous_users_or_readers(api_library):
    lib = api_library
    editor, reviewer = lib.auth("editor"), lib.auth("reviewer")
    with make_client(lib) as client:
        slugs = {}
        for state, question in UNPUBLISHED.items():
            article = client.post("/v1/articles", json={"question": question}, headers=editor).json()
            for action, who in (("submit", editor), ("claim", reviewer)):
                if article["state"] != state:
                    article = client.post(f"/v1/articles/{article['slug']}/review", headers=who,
                                          json={"action": action, "expected_revision": article["revision"]}).json()
            assert article["state"] == state
            slugs[state] = article["slug"]
        # An approved article whose newer version is a draft: the public sees version 1 only.
        article = client.post("/v1/articles", json={"question": QUESTION}, headers=editor).json()
        published = article["slug"]
        for action, who in (("submit", editor), ("claim", reviewer), ("approve", reviewer)):
            article = client.post(f"/v1/articles/{published}/review", headers=who,
                                  json={"action": action, "expected_revision": article["revision"]}).json()
        article = client.post(f"/v1/articles/{published}/versions", headers=editor,
                              json={"expected_revision": article["revision"]}).json()
        assert (article["state"], article["current_version"], article["approved_version"]) == ("draft", 2, 1)

        schema = client.get("/openapi.json").json()
        gets = [p for p, ops in schema["paths"].items() if "get" in ops and p.startswith("/v1/")]
        checked = 0
        for role, headers, refused in (("anonymous", {}, 401), ("reader", lib.auth("reader"), 403)):
            for path in gets:
                params = {"from": 1, "to": 2} if path.endswith("/diff") else None
                nothing = client.get(_fill(path, NO_SUCH), headers=headers, params=params)
                for slug in slugs.values():  # an unpublished article looks exactly like none at all
                    response = client.get(_fill(path, slug), headers=headers, params=params)
                    assert response.status_code in (200, 404, refused), (role, path, response.text)
                    assert (response.status_code, response.text.replace(slug, NO_SUCH)) == \
                        (nothing.status_code, nothing.text), (role, path)
                    assert not any(s in response.text.replace(slug, "") for s in slugs.values()), (role, path)
                    checked += 1
                    for state in ("draft", "submitted"):
                        assert client.get("/v1/articles", params={"state": state}, headers=headers).status_code == \
                            refused
            view = client.get(f"/v1/articles/{published}", headers=headers).json()
            assert (view["version"]["version"], view["state"], view["review"]) == (1, "draft", None)
            assert_problem(client.get(f"/v1/articles/{published}", params={"version": 2}, headers=headers), 404,
                           "not-found")
            listing = client.get("/v1/articles", headers=headers).json()
            assert [i["slug"] for i in listing["items"]] == [published] and listing["total"] == 1
            for slug in slugs.values():
                acted = client.post(f"/v1/articles/{slug}/review", headers=headers,
                                    json={"action": "comment", "expected_revision": 1, "body": "hello"})
                assert acted.status_code == refused
        assert checked >= 2 * 3 * 7
        staff_queue = client.get("/v1/review/queue", headers=reviewer).json()
        assert {i["slug"] for i in staff_queue["items"]} == {slugs["submitted"], slugs["under_review"]}


def test_sql_injection_strings_are_refused_cleanly_or_stored_verbatim(api_library):
    lib = api_library
    before = _counts(lib.path)
    with make_client(lib) as client:
        article = client.post("/v1/articles", json={"question": QUESTION}, headers=lib.auth("editor")).json()
        revision = article["revision"]
        for text in INJECTIONS:
            assert_problem(client.get(f"/v1/articles/{text}"), 404, "not-found")
            assert_problem(client.get("/v1/articles", params={"state": text}, headers=lib.auth("editor")), 422,
                           "validation")
            assert_problem(client.post("/v1/auth/login", json={"username": text, "password": text + PASSWORD}),
                           401, "unauthenticated")
            assert_problem(client.post("/v1/ask", json={"question": QUESTION, "audience": text}), 422, "validation")
            assert_problem(client.get("/v1/auth/me", headers={"Authorization": f"Bearer {text}"}), 401,
                           "unauthenticated")
            asked = client.post("/v1/ask", json={"question": f"atorvastatin {text}"})
            assert asked.status_code == 200 and asked.json()["status"] in ("answered", "insufficient_evidence")
            commented = client.post(f"/v1/articles/{article['slug']}/review", headers=lib.auth("editor"),
                                    json={"action": "comment", "expected_revision": revision, "body": text})
            assert commented.status_code == 200, commented.text
            revision = commented.json()["revision"]
        comments = client.get(f"/v1/articles/{article['slug']}/comments", headers=lib.auth("editor")).json()
        assert [c["body"] for c in comments] == [t.strip() for t in INJECTIONS]
    after = _counts(lib.path)
    assert after["articles"] == before["articles"] + 1
    assert {k: after[k] for k in ("users", "api_tokens", "passages", "documents")} == \
        {k: before[k] for k in ("users", "api_tokens", "passages", "documents")}
    with sqlite3.connect(lib.path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _start_server(library: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """``medora serve --port 0`` as a subprocess (stdout and stderr to ``log``); returns it and its base URL."""
    code = "from medora.cli_admin import serve; serve()"
    out = log.open("wb")
    proc = subprocess.Popen([sys.executable, "-c", code, "--port", "0", "--library", str(library), "--log-level",
                             "debug", "--rate", "0"], stdout=out, stderr=subprocess.STDOUT,
                            env={**os.environ, "NO_COLOR": "1"})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = re.search(r"Uvicorn running on (http://127\.0\.0\.1:\d+)", log.read_text(errors="replace"))
        if found:
            return proc, found.group(1)
        assert proc.poll() is None, log.read_text(errors="replace")
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("medora serve did not start:\n" + log.read_text(errors="replace"))


def test_tokens_and_passwords_never_reach_the_logs_of_a_real_server(api_library, tmp_path):
    lib = api_library
    proc, base = _start_server(lib.path, tmp_path / "server.log")
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            login = client.post("/v1/auth/login", json={"username": "reviewer1", "password": PASSWORD})
            session = login.json()["token"]
            secrets = [session, *lib.tokens.values()]
            for secret in secrets:
                assert client.get("/v1/auth/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
                assert client.get("/v1/articles", params={"access_token": secret}).status_code == 200
                assert client.get(f"/v1/articles/{secret}").status_code == 404
            assert client.get("/v1/auth/me", headers={"Authorization": "Bearer mdr_not-a-real-token"}).status_code \
                == 401
            assert client.post("/v1/auth/login", json={"username": "reviewer1", "password": "wrong " + PASSWORD}) \
                .status_code == 401
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    log = (tmp_path / "server.log").read_text(errors="replace")
    assert "GET /v1/auth/me" in log and "Shutting down" in log  # the access log was written
    assert log.count("[redacted]") >= 2 * len(secrets)  # the query-string and path tokens
    for secret in [*secrets, "mdr_not-a-real-token", PASSWORD]:
        assert secret not in log
