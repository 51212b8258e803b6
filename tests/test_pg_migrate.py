"""Moving a SQLite library with its publishing data to a real PostgreSQL (pgserver), and an API server that
outlives a PostgreSQL restart.

The SQLite library holds three FDA drug labels, an approved article (clinician and patient variants,
citations, a review comment), accounts with a password, live and revoked API tokens, the audit
log, a follow-up thread and a rate-limit bucket. ``medora library migrate`` copies it; the copy
must read back identically through the publishing code and keep working. The restart test runs
``medora serve`` on its own PostgreSQL server, stops that server under requests that are waiting
in the database and starts it again.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from click.testing import CliRunner
from pg_fixtures import temporary_server
from test_api_common import assert_problem

from medora.answer.compose import answer_question
from medora.api import thread_owners
from medora.api.ratelimit import SharedBuckets
from medora.cli import main
from medora.library.ingest import Ingestor
from medora.library.migrate import PUBLISHING, migrate, pg_digests, sqlite_digests
from medora.library.pg_store import PgStore
from medora.library.sqlite_store import SQLiteStore
from medora.models import Source
from medora.publish import SYSTEM, Accounts, Actor, PublishingService, audit
from medora.publish.database import PUBLISH_LOCK, transaction
from medora.publish.errors import Unauthenticated
from medora.publish.users import ROLE_SCOPES
from medora.settings import Settings
from medora.sources.readers.registry import make_reader

with warnings.catch_warnings():  # platformdirs warns that XDG_RUNTIME_DIR is unset
    warnings.simplefilter("ignore")
    import pgserver
    from pgserver._commands import pg_ctl

pytest_plugins = ("pg_fixtures",)  # pg_server, pg_url: a real PostgreSQL 16 + pgvector

LABELS = ("lipitor-orig.xml", "viagra.xml", "cough.xml")
QUESTION = "What are the side effects of atorvastatin?"
OTHER_QUESTION = "What is sildenafil used for?"
PASSWORD = "correct horse battery staple"


@dataclass
class Published:
    """The SQLite library to migrate and what the tests need to look into it."""

    path: Path
    slug: str
    tokens: dict[str, str]  # role -> API token secret (the 'revoked' one no longer works)
    actors: dict[str, Actor]
    thread_id: str


def settings(location: str | Path) -> Settings:
    return Settings(library=location)


@pytest.fixture(scope="module")
def published(shared_sources, tmp_path_factory) -> Published:
    path = tmp_path_factory.mktemp("pg-migrate-publishing") / "lib.db"
    with SQLiteStore(path) as store:
        plan = [(shared_sources / "dailymed-spl" / name, make_reader("spl")) for name in LABELS]
        assert Ingestor(store, Source(name="dailymed")).run(plan).added == len(LABELS)
        accounts = Accounts(store)
        users = {role: accounts.create_user(SYSTEM, f"{role}1", role.title(), role, PASSWORD)
                 for role in ("reviewer", "editor", "admin")}
        actors = {role: user.actor("192.0.2.7") for role, user in users.items()}
        tokens = {role: accounts.create_token(SYSTEM, user.id, "laptop", sorted(ROLE_SCOPES[role])).secret
                  for role, user in users.items()}
        revoked = accounts.create_token(SYSTEM, users["reviewer"].id, "old", ["read"])
        accounts.revoke_token(SYSTEM, revoked.token.id)
        tokens["revoked"] = revoked.secret

        svc, editor, reviewer = PublishingService(store), actors["editor"], actors["reviewer"]
        art = svc.create(answer_question(store, QUESTION, settings(path)), editor)
        patient = answer_question(store, QUESTION, settings(path), audience="patient")
        art = svc.add_variant(art.slug, patient, editor, art.revision)
        art = svc.submit(art.slug, editor, art.revision)
        art = svc.claim(art.slug, reviewer, art.revision)
        art = svc.comment(art.slug, reviewer, art.revision, "Cite the label's table too.", "s1")
        art = svc.approve(art.slug, reviewer, art.revision)
        thread = answer_question(store, QUESTION, settings(path), thread="new").thread_id
        answer_question(store, "How common are they in children?", settings(path), thread=thread)
        SharedBuckets(lambda: store, 1.0, 5).take("ip:192.0.2.7")
        thread_owners.bind(store, thread, f"user:{users['reviewer'].id}")
        accounts.revoke_session(users["editor"].id, "logged-out-nonce", time.time() + 3600)
        with pytest.raises(Unauthenticated):
            accounts.authenticate_password("nobody", "not the password", "192.0.2.8")
    return Published(path, art.slug, tokens, actors, thread)


def counts(store: SQLiteStore) -> dict[str, int]:
    return {t.name: store.db.execute(f"SELECT COUNT(*) FROM {t.name}").fetchone()[0] for t in PUBLISHING}


def run_cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


# ------------------------------------------------------------------------------ migration


def test_migrate_copies_the_publishing_data_and_it_keeps_working(published, pg_url):
    code, out, err = run_cli("library", "migrate", "--from", str(published.path), "--to", pg_url, "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    with SQLiteStore(published.path, create=False) as src, PgStore(pg_url, create=False) as dst:
        expected = sqlite_digests(src)
        assert {t: (v["rows"], v["sha256"]) for t, v in report["tables"].items()} == expected == pg_digests(dst)
        assert report["verified"] is True
        assert all(counts(src)[t.name] for t in PUBLISHING)  # every publishing table had rows to copy
        assert "audit_log:" in err and "verified:" in err

        before, after = PublishingService(src), PublishingService(dst)
        admin = published.actors["admin"]
        assert after.get(published.slug, admin) == before.get(published.slug, admin)
        copied = after.published(published.slug)
        assert copied == before.published(published.slug) and copied.state == "approved"
        assert after.published(published.slug, "patient") == before.published(published.slug, "patient")
        assert after.comments(published.slug, admin) == before.comments(published.slug, admin)
        assert [c.body for c in after.comments(published.slug, admin)] == ["Cite the label's table too."]
        citations = [c for s in copied.version.answer.statements() for c in s.citations]
        assert citations
        for c in citations:  # every citation still points at the same passage and quote
            assert dst.passages([c.passage_id])[c.passage_id].text[c.start:c.end] == c.quote
            assert dst.passages([c.passage_id])[c.passage_id].document_id == c.document_id

        with transaction(src, write=False) as a, transaction(dst, write=False) as b:
            old_log, new_log = audit.entries(a), audit.entries(b)
        assert new_log == old_log and [e.action for e in old_log][-3:] == ["approve", "logout", "login_failed"]

        accounts = Accounts(dst)
        assert accounts.authenticate_token(published.tokens["reviewer"])[0].username == "reviewer1"
        assert accounts.authenticate_password("editor1", PASSWORD).role == "editor"
        with pytest.raises(Unauthenticated):
            accounts.authenticate_token(published.tokens["revoked"])

        fresh = after.create(answer_question(dst, OTHER_QUESTION, settings(pg_url)), published.actors["editor"])
        assert fresh.id == max_id(src, "articles") + 1  # the identity continues past the copied ids
        after.comment(fresh.slug, published.actors["reviewer"], fresh.revision, "New here.")
        with transaction(dst, write=False) as db:
            newest = audit.entries(db)[-1]
            comment_id = db.execute("SELECT MAX(id) FROM article_comments").fetchone()[0]
        assert newest.id == max_id(src, "audit_log") + 3 and newest.action == "comment"  # login, create, comment
        assert comment_id == max_id(src, "article_comments") + 1
        user = accounts.create_user(SYSTEM, "grace", "Grace", "reviewer")
        assert user.id == max_id(src, "users") + 1
        with pytest.raises(psycopg.Error, match="append-only"):  # the copy is as protected as the original
            dst.conn.execute("UPDATE audit_log SET actor = 'someone' WHERE id = 1")
        follow = answer_question(dst, "How are they treated?", settings(pg_url), thread=published.thread_id)
        assert follow.thread_id == published.thread_id  # the thread's earlier turns came along


def max_id(store: SQLiteStore, table: str) -> int:
    return store.db.execute(f"SELECT MAX(id) FROM {table}").fetchone()[0]


def test_a_library_without_publishing_data_still_migrates(shared_sources, pg_url, tmp_path):
    path = tmp_path / "plain.db"
    with SQLiteStore(path) as store:
        plan = [(shared_sources / "dailymed-spl" / LABELS[1], make_reader("spl"))]
        assert Ingestor(store, Source(name="dailymed")).run(plan).added == 1
    report = migrate(path, pg_url)
    assert report.count("documents") == 1 and report.count("passages") > 0
    assert all(report.count(t.name) == 0 for t in PUBLISHING)
    with PgStore(pg_url, create=False) as dst:
        assert Accounts(dst).create_user(SYSTEM, "first", "First", "admin").id == 1


def test_bad_locations_and_a_used_target_are_clear_errors(published, pg_url, tmp_path):
    assert migrate(published.path, pg_url).count("users") == 3
    sqlite_target = tmp_path / "copy.db"
    unreachable = f"postgresql://medora:s3cret@/lib?host={tmp_path}"
    cases = [
        (("--from", str(tmp_path / "missing.db"), "--to", pg_url), 1, "no library at"),
        (("--from", str(published.path), "--to", str(sqlite_target)), 2, "must be a postgresql:// URL"),
        (("--from", pg_url, "--to", pg_url), 2, "must be a SQLite file"),
        (("--from", str(published.path), "--to", unreachable), 1, "cannot connect to PostgreSQL library"),
        (("--from", str(published.path), "--to", pg_url), 1, "already holds a library (1 sources, 3 documents,"),
    ]
    for args, exit_code, message in cases:
        code, out, err = run_cli("library", "migrate", *args)
        assert (code, out) == (exit_code, ""), err
        assert err.startswith("error: ") and message in err and "Traceback" not in err and "s3cret" not in err
    assert not sqlite_target.exists()  # refused before anything was created
    with PgStore(pg_url, create=False) as dst:
        assert dst.conn.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 3  # the used target is untouched


def test_a_target_holding_only_accounts_is_refused(published, pg_url):
    with PgStore(pg_url) as dst:
        Accounts(dst).create_user(SYSTEM, "early", "Early", "admin")
    code, _, err = run_cli("library", "migrate", "--from", str(published.path), "--to", pg_url)
    assert code == 1 and "already holds a library (1 users, 1 audit entries)" in err


# ------------------------------------------------------------------------------ a PostgreSQL restart


@pytest.fixture(scope="module")
def own_server() -> Iterator[pgserver.PostgresServer]:
    """A PostgreSQL server of this module's own, since the restart test stops and starts it."""
    with temporary_server("medora-pg-restart-") as server:
        with psycopg.connect(server.get_uri(), autocommit=True) as admin:
            admin.execute("CREATE DATABASE medora_restart")
        yield server


def stop(server: pgserver.PostgresServer) -> None:
    """``pg_ctl stop`` in its default fast mode: every session is ended, as in a restart."""
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)


def start(server: pgserver.PostgresServer) -> None:
    server.ensure_postgres_running()  # the same data folder and socket: the same URL


@contextmanager
def serving(url: str, log: Path) -> Iterator[str]:
    """``medora serve`` on a free port, its rate-limit buckets in the library (one transaction per request)."""
    argv = [sys.executable, "-c", "from medora.cli_admin import serve; serve()", "--port", "0", "--library", url,
            "--rate", "1000", "--burst", "1000"]
    proc = subprocess.Popen(argv, stdout=log.open("wb"), stderr=subprocess.STDOUT, env={**os.environ, "NO_COLOR": "1"})
    try:
        deadline = time.monotonic() + 60
        while not (found := re.search(r"Uvicorn running on (http://127\.0\.0\.1:\d+)", log.read_text("utf-8", "replace"))):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text("utf-8", "replace")
            time.sleep(0.1)
        yield found.group(1)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def end_sessions_waiting_on_locks(server: pgserver.PostgresServer, url: str, n: int) -> None:
    """Once ``n`` sessions of the database ``url`` wait for a lock, end them (as a restart would).

    Ended one by one while the lock holder lives: stopping the server instead ends every session at
    once, and a waiting session that is granted the lock as its holder dies may finish first."""
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    deadline = time.monotonic() + 30
    query = "SELECT pid FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'"
    with psycopg.connect(server.get_uri(), autocommit=True) as admin:
        while len(waiting := [pid for (pid,) in admin.execute(query, (name,))]) < n:
            assert time.monotonic() < deadline, "the requests never reached the database"
            time.sleep(0.05)
        for pid in waiting:
            assert admin.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,)).fetchone()[0]


def in_background(call) -> tuple[threading.Thread, list]:
    result: list = []
    thread = threading.Thread(target=lambda: result.append(call()))
    thread.start()
    return thread, result


def test_the_api_answers_503_while_postgresql_restarts_and_then_recovers(published, own_server, tmp_path):
    url = own_server.get_uri("medora_restart")
    migrate(published.path, url)
    with SQLiteStore(published.path, create=False) as src:
        revision = PublishingService(src).get(published.slug, published.actors["admin"]).revision
    reviewer = {"Authorization": f"Bearer {published.tokens['reviewer']}"}
    comment = {"action": "comment", "expected_revision": revision, "body": "Checked after the move."}
    log = tmp_path / "server.log"
    with serving(url, log) as base, httpx.Client(base_url=base, timeout=60) as client:
        warm = fan_out(base, "/v1/library/sources", 16)  # several server threads, each with its own connection
        assert {r.status_code for r in warm} == {200} and client.get("/v1/ready").status_code == 200

        # Two requests wait inside PostgreSQL (a read behind a table lock, a review write behind the
        # publishing lock) when their sessions end: both get 503, and the write is not replayed later.
        blocker = psycopg.connect(url, autocommit=True)
        try:
            blocker.execute("BEGIN")
            blocker.execute("LOCK TABLE sources IN ACCESS EXCLUSIVE MODE")
            blocker.execute("SELECT pg_advisory_lock(%s)", (PUBLISH_LOCK,))
            read, read_result = in_background(lambda: httpx.get(base + "/v1/library/sources", timeout=60))
            write, write_result = in_background(lambda: httpx.post(
                f"{base}/v1/articles/{published.slug}/review", json=comment, headers=reviewer, timeout=60))
            end_sessions_waiting_on_locks(own_server, url, 2)
            read.join(60)
            write.join(60)
        finally:
            blocker.close()
        stop(own_server)
        assert_problem(read_result[0], 503, "unavailable")
        assert_problem(write_result[0], 503, "unavailable")

        while_down = [client.get("/v1/ready"), client.get("/v1/library/sources"),
                      client.get(f"/v1/articles/{published.slug}/comments", headers=reviewer)]
        for response in while_down:
            assert_problem(response, 503, "unavailable")

        start(own_server)
        assert client.get("/v1/ready").status_code == 200
        after = fan_out(base, "/v1/library/sources", 16)  # every thread notices its old connection is gone
        assert {r.status_code for r in after} == {200}
        assert [s["name"] for s in after[0].json()] == ["dailymed"]
        bodies = [c["body"] for c in client.get(f"/v1/articles/{published.slug}/comments", headers=reviewer).json()]
        assert bodies == ["Cite the label's table too."]  # the interrupted write did not happen behind our back
        again = client.post(f"/v1/articles/{published.slug}/review", json=comment, headers=reviewer)
        assert again.status_code == 200 and again.json()["revision"] == revision + 1
    text = log.read_text("utf-8", "replace")
    assert "Traceback" not in text and "library unavailable" in text


def fan_out(base: str, path: str, n: int) -> list[httpx.Response]:
    """``n`` GET requests from 8 client threads at once (so several server threads serve them)."""
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda _: httpx.get(base + path, timeout=60), range(n)))
