"""Issue 13, attack by attack, over HTTP against a real ``medora serve`` subprocess: each attack the
adversarial review reproduced now does no harm (see docs/SECURITY.md)."""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from conftest import run_cli
from test_api_common import PASSWORD, QUESTION, ApiLibrary, copy_library

pytest_plugins = ("test_api_common",)  # its fixtures: template_library


@contextmanager
def medora_serve(library: Path, log: Path, *options: str) -> Iterator[str]:
    """``medora serve --port 0`` on loopback with ``options``; yields its base URL, stops it after."""
    code = "from medora.cli_admin import serve; serve()"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", code, "--port", "0", "--library", str(library), *options],
                                stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "NO_COLOR": "1"})
    try:
        deadline = time.monotonic() + 60
        while True:
            found = re.search(r"Uvicorn running on (http://127\.0\.0\.1:\d+)", log.read_text(errors="replace"))
            if found:
                break
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.1)
        yield found.group(1)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def lib(template_library, tmp_path_factory) -> ApiLibrary:
    return copy_library(template_library, tmp_path_factory.mktemp("hardening"))


@pytest.fixture(scope="module")
def server(lib, tmp_path_factory) -> Iterator[httpx.Client]:
    """One server without rate limits for the tests that do not measure them."""
    log = tmp_path_factory.mktemp("hardening-log") / "server.log"
    with medora_serve(lib.path, log, "--rate", "0") as base, httpx.Client(base_url=base, timeout=30) as client:
        yield client


def _review(client: httpx.Client, slug: str, headers: dict, action: str, revision: int, **extra) -> httpx.Response:
    return client.post(f"/v1/articles/{slug}/review", headers=headers,
                       json={"action": action, "expected_revision": revision, **extra})


# ------------------------------------------------------------------ 1. statements are their quotes


def test_1_an_article_shows_only_what_its_sources_say(server, lib):
    editor = lib.auth("editor")
    answer = server.post("/v1/ask", json={"question": "What is sildenafil used for?"}).json()
    assert answer["status"] == "answered"
    false = "Diabetes is never serious and needs no treatment."
    forgeries = {
        "bottom_line[0].text": lambda a: a["bottom_line"][0].update(text=false),
        "references[0].title": lambda a: a["references"][0].update(title="Official FDA guidance"),
        "references[0].evidence_label": lambda a: a["references"][0].update(evidence_label="Guideline · Grade A"),
        "references[0].grade": lambda a: a["references"][0].update(grade="A"),
        "disclaimer": lambda a: a.update(disclaimer="Approved by the FDA."),
        "title": lambda a: a.update(title=false),
    }
    for field, forge in forgeries.items():
        forged = {**answer, "bottom_line": [dict(s) for s in answer["bottom_line"]],
                  "references": [dict(r) for r in answer["references"]]}
        forge(forged)
        refused = server.post("/v1/articles", json={"answer": forged}, headers=editor)
        assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json", field
        assert refused.json()["detail"].startswith(field + ":"), refused.json()
    staff = server.get("/v1/articles", headers=editor).json()
    assert staff["total"] == 0  # nothing forged was saved
    saved = server.post("/v1/articles", json={"answer": answer}, headers=editor)
    assert saved.status_code == 201, saved.text  # the honest answer, as /v1/ask gave it, is accepted
    assert false not in server.get(f"/v1/articles/{saved.json()['slug']}", headers=editor).text


# ------------------------------------------------------------------ 2. four eyes


def test_2_nobody_approves_their_own_work_or_someone_elses_claim(server, lib):
    editor, reviewer, admin = lib.auth("editor"), lib.auth("reviewer"), lib.auth("admin")
    # An admin token alone: create, submit, claim... and approve is refused.
    own = server.post("/v1/articles", json={"question": "What are the warnings for Triaminic?"}, headers=admin).json()
    own = _review(server, own["slug"], admin, "submit", own["revision"]).json()
    own = _review(server, own["slug"], admin, "claim", own["revision"]).json()
    refused = _review(server, own["slug"], admin, "approve", own["revision"])
    assert refused.status_code == 403 and "four eyes" in refused.json()["detail"]
    assert server.get(f"/v1/articles/{own['slug']}").status_code == 404  # not published

    # A reviewer's claim cannot be approved by another: that takes an explicit, audited take-over.
    art = server.post("/v1/articles", json={"question": QUESTION}, headers=editor).json()
    art = _review(server, art["slug"], editor, "submit", art["revision"]).json()
    art = _review(server, art["slug"], reviewer, "claim", art["revision"]).json()
    refused = _review(server, art["slug"], admin, "approve", art["revision"])
    assert refused.status_code == 403 and "reviewer1 holds the claim" in refused.json()["detail"]
    art = _review(server, art["slug"], admin, "claim", art["revision"]).json()
    history = server.get(f"/v1/articles/{art['slug']}/history", headers=editor).json()
    assert history[-1]["action"] == "claim" and history[-1]["detail"] == {"took_over_from": "reviewer1"}
    assert _review(server, art["slug"], reviewer, "approve", art["revision"]).status_code == 403
    approved = _review(server, art["slug"], admin, "approve", art["revision"])
    assert approved.status_code == 200 and approved.json()["approved_by"] == "admin1"


# ------------------------------------------------------------------ 5. personal details


PERSONAL = ["Pt. John Smith 03/14/1975 what is sildenafil used for?",
            "Patient Maria Gonzalez, DOB 02/03/1980: what are the side effects of atorvastatin?",
            "email john.smith\uff20example\uff0ecom what are the warnings for Triaminic?"]


def test_5_personal_details_are_neither_echoed_nor_stored_and_threads_expire(server, lib):
    threads = []
    for question in PERSONAL:
        response = server.post("/v1/ask", json={"question": question, "thread": "new"})
        assert response.status_code == 200
        for secret in ("John", "Smith", "Maria", "Gonzalez", "1975", "1980", "example"):
            assert secret not in response.text, (question, secret)
        answer = response.json()
        assert "Medora never stores them: only the question as shown here" in answer["notices"][0]
        threads.append(answer["thread_id"])
        csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', server.get("/").text).group(1)
        page = server.post("/ask", data={"csrf": csrf, "question": question})
        assert page.status_code == 200 and ("[name]" in page.text or "[email]" in page.text)
        assert "Smith" not in page.text and "Gonzalez" not in page.text and "1975" not in page.text
    with sqlite3.connect(lib.path) as db:
        stored = " ".join(" ".join(row) for row in db.execute("SELECT question, retrieval_query FROM thread_turns"))
        assert "[name]" in stored and not any(s in stored for s in ("Smith", "Gonzalez", "1975", "1980", "example"))
        old = threads[0]
        db.execute("UPDATE thread_turns SET created_at = '2020-01-01T00:00:00+00:00' WHERE thread_id = ?", (old,))
        db.execute("UPDATE threads SET created_at = '2020-01-01T00:00:00+00:00' WHERE id = ?", (old,))
    purged = run_cli("threads", "purge", "--library", str(lib.path))
    assert purged.stdout.startswith("deleted 1 threads (1 turns)"), purged.stdout
    with sqlite3.connect(lib.path) as db:
        left = {row[0] for row in db.execute("SELECT id FROM threads")}
        assert old not in left and set(threads[1:]) <= left
        assert db.execute("SELECT COUNT(*) FROM thread_turns WHERE thread_id = ?", (old,)).fetchone()[0] == 0


# ------------------------------------------------------------------ 3. reviewer's notes are labelled


HOSTILE_NOTE = "Check <script>alert(1)</script><img src=x onerror=alert(2)> [dose](javascript:alert(3)) first."


def test_3_a_reviewers_note_is_labelled_everywhere_and_exports_carry_no_markup(server, lib):
    editor, reviewer, admin = lib.auth("editor"), lib.auth("reviewer"), lib.auth("admin")
    art = server.post("/v1/articles", json={"question": "Who should not take sildenafil?"}, headers=editor).json()
    slug = art["slug"]
    art = _review(server, slug, editor, "submit", art["revision"]).json()
    art = _review(server, slug, reviewer, "claim", art["revision"]).json()
    art = _review(server, slug, reviewer, "add_note", art["revision"], section="bottom_line", position=0,
                  text=HOSTILE_NOTE).json()
    assert _review(server, slug, reviewer, "approve", art["revision"]).status_code == 403  # wrote a note
    art = _review(server, slug, admin, "claim", art["revision"]).json()
    assert _review(server, slug, admin, "approve", art["revision"]).status_code == 200

    note = server.get(f"/v1/articles/{slug}").json()["version"]["answer"]["bottom_line"][0]
    assert (note["kind"], note["added_by"], note["citations"]) == ("reviewer_note", "reviewer1", [])
    page = server.get(f"/articles/{slug}").text
    assert "<strong class=\"note-label\">Reviewer's note (reviewer1):</strong> Check &lt;script&gt;" in page
    assert "<script>alert" not in page and "<img src=x" not in page
    markdown = server.get(f"/articles/{slug}/markdown").text
    assert "**Reviewer's note (reviewer1):** Check &lt;script&gt;alert(1)&lt;/script&gt;&lt;img" in markdown
    assert "<script" not in markdown and "<img" not in markdown and "[dose](" not in markdown
    assert "\\[dose\\](javascript" in markdown
    ris = server.get(f"/articles/{slug}/ris").text
    assert "<" not in ris and ">" not in ris


# ------------------------------------------------------------------ 4. rate limits


def test_4_invented_bearer_values_do_not_escape_the_rate_limit(lib, tmp_path):
    with medora_serve(lib.path, tmp_path / "server.log", "--rate", "0.5", "--burst", "10") as base, \
            httpx.Client(base_url=base, timeout=30) as client:
        statuses = [client.get(path, headers={"Authorization": f"Bearer junk-{n}"}).status_code
                    for n, path in enumerate(["/v1/articles", "/", "/v1/auth/me"] * 8)]
        assert statuses.count(429) >= 12, statuses  # one bucket: this address's
        login = client.post("/v1/auth/login", json={"username": "reader1", "password": PASSWORD},
                            headers={"Authorization": "Bearer junk-login"})
        assert login.status_code == 429 and login.headers["content-type"] == "application/problem+json"
        # A real token has its own bucket, whatever its address has spent.
        assert client.get("/v1/auth/me", headers=lib.auth("reader")).status_code == 200


# ------------------------------------------------------------------ 6. logins


def test_6_logout_ends_the_session_on_the_server(server, lib):
    token = server.post("/v1/auth/login", json={"username": "editor1", "password": PASSWORD}).json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert server.get("/v1/auth/me", headers=bearer).status_code == 200
    assert server.post("/v1/auth/logout", headers=bearer).status_code == 204
    assert server.get("/v1/auth/me", headers=bearer).status_code == 401  # the copied token is dead
    assert server.post("/v1/auth/logout", headers=lib.auth("editor")).status_code == 422  # API tokens: revoke them
    # The web page's "Log out" too: the old cookie value no longer opens the review area.
    with httpx.Client(base_url=server.base_url, timeout=30) as browser:
        csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', browser.get("/login").text).group(1)
        assert browser.post("/login", data={"csrf": csrf, "username": "editor1", "password": PASSWORD}).status_code \
            == 303
        cookie = browser.cookies.get("medora_session")
        assert browser.get("/review").status_code == 200
        csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', browser.get("/review").text).group(1)
        assert browser.post("/logout", data={"csrf": csrf}).status_code == 303
    with httpx.Client(base_url=server.base_url, timeout=30, cookies={"medora_session": cookie}) as replay:
        assert replay.get("/review").status_code in (303, 401)


def test_6_failed_logins_back_off_per_account_and_address_and_are_audited(api_library, tmp_path):
    with medora_serve(api_library.path, tmp_path / "server.log", "--rate", "0") as base, \
            httpx.Client(base_url=base, timeout=30) as client:
        def login(username: str, password: str) -> httpx.Response:
            return client.post("/v1/auth/login", json={"username": username, "password": password})

        assert [login("reviewer1", f"wrong {n}").status_code for n in range(5)] == [401] * 5
        refused = login("reviewer1", PASSWORD)  # even the right password waits out the backoff
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert refused.headers["content-type"] == "application/problem+json"
        assert login("editor1", PASSWORD).status_code == 200  # another account is not affected
        statuses = [login(f"nobody{n}", "wrong password").status_code for n in range(16)]
        assert statuses == [401] * 15 + [429], statuses  # 20 failures per address, whatever the account
        assert login("admin1", PASSWORD).status_code == 429  # this address now waits, whichever account
    with sqlite3.connect(api_library.path) as db:
        failed = db.execute("SELECT actor, client, detail FROM audit_log WHERE action = 'login_failed'").fetchall()
        assert len(failed) == 5 + 15 and {(a, c) for a, c, _ in failed} == {("anonymous", "127.0.0.1")}
        assert '"username": "reviewer1"' in failed[0][2] and PASSWORD not in str(failed)


WEAK = ["aaaaaaaaaa", "password12", "reviewer2x!", "          ", "qwertyuiop12"]


@pytest.mark.parametrize("password", WEAK)
def test_6_the_password_policy_refuses_weak_passwords_on_one_line(api_library, password):
    added = subprocess.run([str(Path(sys.executable).with_name("medora")), "users", "add", "reviewer2x", "--role",
                            "reviewer", "--with-password", "--library", str(api_library.path)],
                           input=password + "\n", capture_output=True, text=True, timeout=60)
    last = added.stderr.strip().splitlines()[-1]  # after the prompt's own warnings
    assert added.returncode == 2 and last.startswith("error: ") and "password" in last, added.stderr
    assert password.strip() not in last or not password.strip()


def test_6_reserved_usernames_are_refused(api_library):
    added = run_cli("users", "add", "system", "--role", "admin", "--library", str(api_library.path), check=False)
    assert added.returncode == 2 and "reserved" in added.stderr


# ------------------------------------------------------------------ 7. smaller findings


def test_7_metrics_docs_worker_header_and_forwarded_addresses(server, lib):
    for n in range(3):
        server.request(f"RTX{n}", "/v1/articles")
    metrics = server.get("/metrics").text
    assert 'method="RTX' not in metrics and 'method="other"' in metrics  # no label series per invented method
    assert server.get("/docs").status_code == 404 and server.get("/redoc").status_code == 404
    assert server.get("/openapi.json").status_code == 200
    ready = server.get("/v1/ready")
    worker = ready.headers["x-medora-worker"]
    assert re.fullmatch(r"[0-9a-f]{12}", worker) and ready.json()["worker"] == worker  # opaque, not a pid
    # X-Forwarded-For from a trusted proxy (loopback, by default) names the client in the audit log.
    assert server.post("/v1/auth/login", json={"username": "forwarded-test", "password": "wrong password"},
                       headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 401
    with sqlite3.connect(lib.path) as db:
        client = db.execute("SELECT client FROM audit_log WHERE action = 'login_failed' AND detail LIKE "
                            "'%forwarded-test%'").fetchone()[0]
    assert client == "203.0.113.9"


def test_7_threads_belong_to_whoever_opened_them(server, lib):
    reader, editor = lib.auth("reader"), lib.auth("editor")
    opened = server.post("/v1/ask", json={"question": QUESTION, "thread": "new"}, headers=reader).json()
    thread = opened["thread_id"]
    follow = {"question": "What is the usual dose?", "thread": thread}
    assert server.post("/v1/ask", json=follow, headers=reader).status_code == 200
    foreign = [server.post("/v1/ask", json=follow, headers=editor), server.post("/v1/ask", json=follow),
               server.post("/v1/ask/stream", json=follow, headers=editor)]
    unknown = server.post("/v1/ask", json={**follow, "thread": "0123456789abcdef"}, headers=editor)
    assert unknown.status_code == 404
    for response in foreign:  # someone else's thread looks exactly like none at all
        assert response.status_code == 404
        assert response.json()["detail"].replace(thread, "0123456789abcdef") == unknown.json()["detail"]
    # On the web pages, a browser continues only its own threads.
    with httpx.Client(base_url=server.base_url, timeout=30) as browser:
        csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', browser.get("/").text).group(1)
        page = browser.post("/ask", data={"csrf": csrf, "question": QUESTION})
        mine = re.search(r'name="thread" value="([0-9a-f]{16})"', page.text).group(1)
        assert browser.post("/ask", data={"csrf": csrf, "question": "What is the usual dose?", "thread": mine}) \
            .status_code == 200
        assert browser.post("/ask", data={"csrf": csrf, "question": "What is the usual dose?", "thread": thread}) \
            .status_code == 404


def test_7_slow_headers_are_cut_off_and_proxy_trust_and_secure_cookies_are_settings(lib, tmp_path):
    with medora_serve(lib.path, tmp_path / "server.log", "--rate", "0", "--header-timeout", "1",
                      "--forwarded-allow-ips", "192.0.2.1", "--secure-cookies") as base:
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as slow:
            slow.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n")  # and never the rest
            started = time.monotonic()
            assert slow.recv(1024) == b"" and time.monotonic() - started < 5  # closed by the server
        with httpx.Client(base_url=base, timeout=30) as client:
            assert client.get("/v1/health").status_code == 200  # complete requests are served
            assert client.post("/v1/auth/login", json={"username": "untrusted-proxy", "password": "wrong password"},
                               headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 401
            cookie = client.get("/login").headers["set-cookie"]  # a cookie over plain http, marked Secure all the same
            assert cookie.startswith("medora_csrf=") and "; secure" in cookie.lower()
    with sqlite3.connect(lib.path) as db:
        client_address = db.execute("SELECT client FROM audit_log WHERE action = 'login_failed' AND detail LIKE "
                                    "'%untrusted-proxy%'").fetchone()[0]
    assert client_address == "127.0.0.1"  # X-Forwarded-For from a proxy not in the list is ignored
