"""Publishing, review, accounts, the audit log and threads on a real PostgreSQL library (pgserver), through
the service, the REST API (TestClient and a real uvicorn server), and the ``medora`` admin commands.

The library holds three FDA drug labels (copied, so a test can change one and ingest it again) and a
PubMed record, ingested into PostgreSQL once per module; each test gets its own copy of that database.
"""

from __future__ import annotations

import json
import shutil
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from html import escape
from importlib import resources
from pathlib import Path

import click
import httpx
import psycopg
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from psycopg import sql
from test_api_common import serving
from test_api_security import _start_server
from test_publish_articles import exactly_one_of_two_racing_writers_wins

from medora.answer.compose import answer_question
from medora.api import ApiSettings, create_app
from medora.api.ratelimit import SharedBuckets
from medora.cli_admin import COMMANDS
from medora.errors import LibraryError, UsageError
from medora.library.ingest import Ingestor, IngestReport
from medora.library.pg_store import PgStore
from medora.library.sqlite_store import SQLiteStore
from medora.models import Answer, Source
from medora.publish import (
    SYSTEM,
    Accounts,
    Actor,
    PublishingService,
    database,
    mark_stale_for_documents,
)
from medora.publish.articles import ArticleState
from medora.publish.database import PUBLISH_LOCK, pg_sql, transaction
from medora.publish.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthenticated,
)
from medora.publish.users import ROLE_SCOPES
from medora.settings import Settings
from medora.sources.readers.registry import make_reader
from medora.web.examples import examples

pytest_plugins = ("pg_fixtures",)  # pg_server: a real PostgreSQL 16 + pgvector

LABELS = ("lipitor-orig.xml", "viagra.xml", "cough.xml")
PUBMED = "pubmed-29768149.xml"
QUESTION = "What are the side effects of atorvastatin?"
LIST_SENTENCE = "Ask your doctor or pharmacist for a complete list."
PASSWORD = "correct horse battery staple"
ROLES = ("reader", "reviewer", "editor", "admin")
MIGRATIONS = sorted(f.name for f in resources.files("medora.library").joinpath("pg_migrations").iterdir()
                    if f.name.endswith(".sql"))  # every shipped migration, applied in order
NEWEST = int(MIGRATIONS[-1].split("_", 1)[0])


@dataclass
class PgLib:
    url: str
    sources: Path
    store: PgStore
    svc: PublishingService
    users: dict[str, Actor]
    tokens: dict[str, str]

    def ingest(self, files: tuple[str, ...] = LABELS) -> IngestReport:
        """Ingest label copies, sending articles citing changed documents back to review (as the CLI does)."""
        ingestor = Ingestor(self.store, Source(name="dailymed"),
                            on_change=lambda ids, reason: mark_stale_for_documents(self.store, ids, reason))
        return ingestor.run([(self.sources / name, make_reader("spl")) for name in files])

    def answer(self, question: str = QUESTION, thread: str | None = None) -> Answer:
        return answer_question(self.store, question, Settings(library=self.url), thread=thread)

    def under_review(self) -> ArticleState:
        editor, reviewer = self.users["editor"], self.users["reviewer"]
        art = self.svc.create(self.answer(), editor)
        art = self.svc.submit(art.slug, editor, art.revision)
        return self.svc.claim(art.slug, reviewer, art.revision)


@pytest.fixture(scope="module")
def template(pg_module_url, shared_sources, tmp_path_factory) -> tuple[str, Path, dict[str, str]]:
    """A PostgreSQL library with the labels, the PubMed record and a user + API token per role (not used directly)."""
    url = pg_module_url
    sources = tmp_path_factory.mktemp("pg-publish") / "sources"
    sources.mkdir()
    for name in LABELS:
        shutil.copy(shared_sources / "dailymed-spl" / name, sources / name)
    tokens = {}
    with PgStore(url) as store:
        plan = [(sources / name, make_reader("spl")) for name in LABELS]
        assert Ingestor(store, Source(name="dailymed")).run(plan).added == len(LABELS)
        plan = [(shared_sources / "pubmed" / PUBMED, make_reader("pubmed-xml"))]
        assert Ingestor(store, Source(name="pubmed")).run(plan).added == 1
        accounts = Accounts(store)
        for role in ROLES:
            user = accounts.create_user(SYSTEM, f"{role}1", f"Test {role}", role, PASSWORD)
            tokens[role] = accounts.create_token(SYSTEM, user.id, "tests", sorted(ROLE_SCOPES[role])).secret
    return url, sources, tokens


@pytest.fixture
def lib(pg_server, template, tmp_path) -> Iterator[PgLib]:
    """A copy of the template database (CREATE DATABASE ... TEMPLATE) and of its label files, for one test."""
    template_url, template_sources, tokens = template
    name = "medora_copy_" + uuid.uuid4().hex[:12]
    of = psycopg.conninfo.conninfo_to_dict(template_url)["dbname"]
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(of)))
    url = pg_server.get_uri(name)
    shutil.copytree(template_sources, tmp_path / "sources")
    store = PgStore(url, create=False)
    users = {u.role: u.actor("192.0.2.7") for u in Accounts(store).users()}
    yield PgLib(url, tmp_path / "sources", store, PublishingService(store), users, tokens)
    store.close()
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def auth(lib: PgLib, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {lib.tokens[role]}"}


# ------------------------------------------------------------------------------ schema and dialect seam


def test_publishing_tables_come_from_numbered_migrations(lib):
    with transaction(lib.store, write=False) as db:
        assert [r["name"] for r in db.execute("SELECT name FROM schema_migrations ORDER BY version")] == MIGRATIONS
        columns = db.execute("SELECT column_name, data_type, is_nullable FROM information_schema.columns"
                             " WHERE table_name = ? ORDER BY ordinal_position", ("rate_limits",)).fetchall()
    assert columns == [("key", "text", "NO"), ("tokens", "double precision", "NO"),
                       ("updated_at", "double precision", "NO")]
    assert lib.store.schema_version() == NEWEST
    PgStore(lib.url, create=False).close()  # opening again applies nothing and refuses nothing


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_same_sql_runs_on_both_backends(lib, tmp_path, backend):
    store = SQLiteStore(tmp_path / "lib.db") if backend == "sqlite" else lib.store
    with transaction(store) as db:
        first = db.insert("INSERT INTO users(username, display_name, role, disabled, created_at, updated_at)"
                          " VALUES (?,?,?,0,?,?)", ("x100", "100% sure?", "reader", "t", "t"))
        second = db.insert("INSERT INTO users(username, display_name, role, disabled, created_at, updated_at)"
                           " VALUES (?,?,?,0,?,?)", ("x101", "what?", "reader", "t", "t"))
        assert second == first + 1
        row = db.execute("SELECT id, username, display_name, '%?' AS mark FROM users WHERE display_name LIKE '%\\% %'"
                         " ESCAPE '\\' AND id >= ?", (first,)).fetchone()
        assert row == (first, "x100", "100% sure?", "%?")
        assert (row["username"], row["mark"], row[1:3], row.keys()) == \
            ("x100", "%?", ("x100", "100% sure?"), ["id", "username", "display_name", "mark"])
        db.executemany("UPDATE users SET role = ? WHERE username = ?", [("editor", "x100"), ("admin", "x101")])
        assert db.execute("UPDATE users SET disabled = 1 WHERE id >= ?", (first,)).rowcount == 2
        assert dict(db.execute("SELECT username, role FROM users WHERE id >= ? ORDER BY id", (first,))) == \
            {"x100": "editor", "x101": "admin"}
    if backend == "sqlite":
        store.close()


def test_example_questions_are_the_same_on_both_backends(lib, tmp_path):
    with SQLiteStore(tmp_path / "lib.db") as store:
        plan = [(lib.sources / name, make_reader("spl")) for name in LABELS]
        assert Ingestor(store, Source(name="dailymed")).run(plan).added == len(LABELS)
        expected = examples(store)
    assert expected and examples(lib.store) == expected


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_shared_rate_limit_buckets_run_in_publishing_transactions_on_both_backends(lib, tmp_path, backend):
    store = SQLiteStore(tmp_path / "lib.db") if backend == "sqlite" else lib.store
    now = [1000.0]
    buckets = SharedBuckets(lambda: store, rate=2.0, burst=2, clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, pytest.approx(0.5)]
    assert buckets.take("b") == 0.0
    now[0] += 0.5
    assert buckets.take("a") == 0.0
    with transaction(store, write=False) as db:
        assert db.execute("SELECT key, tokens FROM rate_limits ORDER BY key").fetchall() == [("a", 0.0), ("b", 1.0)]
    if backend == "sqlite":
        store.close()


def test_placeholders_become_psycopg_ones_outside_string_literals():
    assert pg_sql("SELECT '?%', ? WHERE a LIKE 'it''s?' AND b % 2 = ?") == \
        "SELECT '?%%', %s WHERE a LIKE 'it''s?' AND b %% 2 = %s"


# ------------------------------------------------------------------------------ the workflow


def test_the_whole_workflow_on_postgresql(lib):
    editor, reviewer, admin, reader = (lib.users[r] for r in ("editor", "reviewer", "admin", "reader"))
    svc = lib.svc
    answer = lib.answer()
    assert answer.status == "answered"
    art = svc.create(answer, editor)
    assert (art.state, art.current_version, art.revision, art.created_by) == ("draft", 1, 1, "editor1")
    with pytest.raises(Conflict):
        svc.create(answer, editor)  # one article per question
    with pytest.raises(NotFound):
        svc.published(art.slug)
    with pytest.raises(Forbidden):
        svc.get(art.slug, reader)

    art = svc.submit(art.slug, editor, art.revision)
    art = svc.claim(art.slug, reviewer, art.revision)
    art = svc.comment(art.slug, reviewer, art.revision, "Is s2 the right rate?", "s2")
    art = svc.comment(art.slug, admin, art.revision, "Looks complete.")
    art = svc.request_changes(art.slug, reviewer, art.revision, "Lead with the most common effects.")
    assert (art.state, art.state_reason) == ("changes_requested", "Lead with the most common effects.")

    art = svc.revise(art.slug, lib.answer(), editor, art.revision)
    art = svc.add_variant(art.slug, answer_question(lib.store, QUESTION, Settings(library=lib.url),
                                                    audience="patient"), editor, art.revision)
    assert (art.state, art.current_version, art.audiences) == ("draft", 2, ["clinician", "patient"])
    diff = svc.diff(art.slug, editor, 1, 2)
    assert diff.entries == [] and diff.unchanged == len(list(answer.statements()))
    art = svc.submit(art.slug, editor, art.revision)
    art = svc.claim(art.slug, reviewer, art.revision)
    art = svc.approve(art.slug, reviewer, art.revision)
    assert (art.state, art.approved_version, art.approved_by) == ("approved", 2, "reviewer1")

    published = svc.published(art.slug, "patient")
    assert (published.version.version, published.version.audience, published.approved_by) == (2, "patient", "reviewer1")
    version = svc.version(art.slug, admin, 1)
    cited = {c.passage_id for s in version.answer.statements() for c in s.citations}
    assert {s.document_id for s in version.sources} == {p.document_id for p in lib.store.passages(sorted(cited)).values()}
    assert {s.version for s in version.sources} == {1}
    assert [(c.version, c.statement_id, c.author) for c in svc.comments(art.slug, reviewer)] == \
        [(1, "s2", "reviewer1"), (1, None, "admin1")]
    assert [e.action for e in svc.history(art.slug, admin)] == [
        "create", "submit", "claim", "comment", "comment", "request_changes", "revise", "add_variant", "submit",
        "claim", "approve"]
    assert [a.slug for a in svc.list_articles(admin, "approved")] == [art.slug]


def test_a_changed_source_sends_the_approved_article_back_to_review(lib):
    admin, reviewer = lib.users["admin"], lib.users["reviewer"]
    art = lib.under_review()
    art = lib.svc.approve(art.slug, reviewer, art.revision)
    label = lib.sources / "lipitor-orig.xml"
    text = label.read_text(encoding="utf-8")
    assert text.count(LIST_SENTENCE) == 1
    label.write_text(text.replace(LIST_SENTENCE, "Ask your doctor or pharmacist for a full list."), encoding="utf-8")

    report = lib.ingest(("lipitor-orig.xml",))
    assert len(report.changed_document_ids) == 1
    now = lib.svc.get(art.slug, admin)
    assert (now.state, now.claimed_by, now.revision) == ("under_review", None, art.revision + 1)
    assert now.state_reason.startswith("source 'LIPITOR") and "changed (version 1 → 2)" in now.state_reason
    entry = lib.svc.history(art.slug, admin)[-1]
    assert (entry.actor, entry.action, entry.from_state, entry.to_state) == \
        ("system", "reopen", "approved", "under_review")
    assert entry.detail["sources"] == [{"document_id": report.changed_document_ids[0], "cited_version": 1,
                                        "current_version": 2, "retired": False}]
    assert lib.svc.published(art.slug).state == "under_review"
    assert lib.ingest(("lipitor-orig.xml",)).changed_document_ids == []  # unchanged now: nothing reopens again
    assert lib.svc.get(art.slug, admin).revision == now.revision


def test_the_audit_log_is_append_only_in_the_database(lib):
    lib.under_review()
    with transaction(lib.store, write=False) as db:
        count = db.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0]
    assert count >= 3 + 2 * len(ROLES)  # the accounts, tokens, create, submit, claim
    with pytest.raises(LibraryError, match="append-only"), transaction(lib.store) as db:
        db.execute("UPDATE audit_log SET actor = ? WHERE id = 1", ("someone else",))
    with psycopg.connect(lib.url, autocommit=True) as other:  # not through Medora at all
        for statement in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log WHERE id = 1",
                          "TRUNCATE audit_log"):
            with pytest.raises(psycopg.errors.RestrictViolation, match="append-only"):
                other.execute(statement)
        assert other.execute("SELECT COUNT(*), MIN(actor) FROM audit_log").fetchone() == (count, "editor1")


@pytest.mark.parametrize("shared_connection", [False, True], ids=["two connections", "one shared connection"])
def test_concurrent_writers_on_one_revision_exactly_one_wins(lib, shared_connection):
    other = lib.store if shared_connection else PgStore(lib.url, create=False)
    exactly_one_of_two_racing_writers_wins(lib, other)
    if not shared_connection:
        other.close()


def test_a_write_waiting_too_long_for_another_is_a_busy_error_and_reads_do_not_wait(lib, monkeypatch):
    art = lib.under_review()
    reviewer = lib.users["reviewer"]
    monkeypatch.setattr(database, "BUSY_TIMEOUT_S", 1)
    with psycopg.connect(lib.url) as holder:  # another writer, mid-transaction
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (PUBLISH_LOCK,))
        with pytest.raises(LibraryError, match="busy .*try again"):
            lib.svc.approve(art.slug, reviewer, art.revision)
        assert lib.svc.get(art.slug, reviewer).state == "under_review"
        holder.rollback()
    assert lib.svc.approve(art.slug, reviewer, art.revision).state == "approved"


def test_a_value_postgresql_cannot_hold_is_invalid_input(lib):
    art = lib.under_review()
    with pytest.raises(InvalidInput, match="cannot be stored"):
        lib.svc.comment(art.slug, lib.users["reviewer"], art.revision, "a NUL \x00 byte")
    assert lib.svc.get(art.slug, lib.users["admin"]).revision == art.revision


# ------------------------------------------------------------------------------ accounts and threads


def test_users_and_tokens_on_postgresql(lib):
    accounts = Accounts(lib.store)
    admin = lib.users["admin"]
    grace = accounts.create_user(admin, "Grace", "Dr Grace Hopper", "reviewer", PASSWORD)
    assert (grace.username, grace.role, grace.disabled) == ("grace", "reviewer", False)
    with pytest.raises(InvalidInput, match="taken"):
        accounts.create_user(admin, "grace", "", "reader")
    assert accounts.authenticate_password("grace", PASSWORD).id == grace.id
    with pytest.raises(Unauthenticated):
        accounts.authenticate_password("grace", "wrong password!")

    new = accounts.create_token(grace.actor(), grace.id, "laptop", ["read", "review"])
    user, token = accounts.authenticate_token(new.secret, "review")
    assert (user.id, token.scopes, token.last_used_at is not None) == (grace.id, ["read", "review"], True)
    with pytest.raises(Forbidden):
        accounts.authenticate_token(new.secret, "admin")
    with pytest.raises(Forbidden, match="a reviewer cannot hold scope admin"):
        accounts.create_token(admin, grace.id, "too much", ["admin"])
    accounts.set_disabled(admin, grace.id, True)
    with pytest.raises(Unauthenticated):
        accounts.authenticate_token(new.secret)
    accounts.set_disabled(admin, grace.id, False)
    assert accounts.revoke_token(grace.actor(), new.token.id).revoked_at is not None
    with pytest.raises(Unauthenticated):
        accounts.authenticate_token(new.secret)

    with transaction(lib.store, write=False) as db:
        log = db.execute("SELECT action, detail FROM audit_log WHERE id > 8 ORDER BY id").fetchall()
    assert [a for a, _ in log] == ["create_user", "login", "login_failed", "create_token", "disable_user",
                                   "enable_user", "revoke_token"]  # logins audited, failed ones counted too
    assert new.secret not in str(log) and PASSWORD not in str(log)


def test_issue_13_hardening_on_postgresql(lib):
    """Four eyes, library-built content, login backoff, logout revocation, thread owners and purging: the
    same SQL on PostgreSQL."""
    from datetime import UTC, datetime, timedelta

    from medora.api import thread_owners
    from medora.library.retention import purge_threads
    from medora.publish.errors import Forbidden, TooManyAttempts

    answer = lib.answer(QUESTION)
    forged = answer.model_copy(deep=True)
    forged.bottom_line[0].text = "Atorvastatin has no side effects."
    with pytest.raises(InvalidInput, match=r"^bottom_line\[0\]\.text:"):
        lib.svc.create(forged, lib.users["editor"])
    admin = lib.users["admin"]
    art = lib.svc.create(answer, admin)
    art = lib.svc.claim(art.slug, admin, lib.svc.submit(art.slug, admin, art.revision).revision)
    with pytest.raises(Forbidden, match="four eyes"):
        lib.svc.approve(art.slug, admin, art.revision)

    accounts = Accounts(lib.store)
    for _ in range(5):
        with pytest.raises(Unauthenticated):
            accounts.authenticate_password("reviewer1", "wrong password!", "192.0.2.9")
    with pytest.raises(TooManyAttempts):
        accounts.authenticate_password("reviewer1", "wrong password!", "192.0.2.9")
    user = accounts.users()[0]
    accounts.revoke_session(user.id, "nonce-1", 2e9)
    assert accounts.session_revoked("nonce-1") and not accounts.session_revoked("nonce-2")

    old = lib.answer(QUESTION, thread="new").thread_id
    new = lib.answer(QUESTION, thread="new").thread_id
    thread_owners.bind(lib.store, old, "user:1")
    thread_owners.check(lib.store, old, "user:1")
    with pytest.raises(NotFound):
        thread_owners.check(lib.store, new, "user:1")
    later = datetime.now(UTC) + timedelta(days=1)
    with transaction(lib.store) as db:
        db.execute("UPDATE thread_turns SET created_at = '2020-01-01T00:00:00+00:00' WHERE thread_id = ?", (old,))
    purged = purge_threads(lib.store, 30, now=later)
    assert (purged.threads, purged.turns) == (1, 1)
    with transaction(lib.store, write=False) as db:
        assert {r[0] for r in db.execute("SELECT id FROM threads")} >= {new}
        assert db.execute("SELECT COUNT(*) FROM thread_owners WHERE thread_id = ?", (old,)).fetchone()[0] == 0


def test_follow_up_threads_on_postgresql(lib):
    first = lib.answer(QUESTION, thread="new")
    assert first.thread_id and first.status == "answered"
    follow = lib.answer("How common are they in children?", thread=first.thread_id)
    assert follow.thread_id == first.thread_id
    with transaction(lib.store, write=False) as db:
        turns = db.execute("SELECT turn, question, retrieval_query FROM thread_turns WHERE thread_id = ?"
                           " ORDER BY turn", (first.thread_id,)).fetchall()
    assert [(t["turn"], t["question"]) for t in turns] == [(1, QUESTION), (2, "How common are they in children?")]
    carried = turns[1]["retrieval_query"].removesuffix("How common are they in children?").split()
    assert carried and all(term in turns[0]["retrieval_query"].lower() for term in carried)
    with pytest.raises(UsageError, match="no thread 'nope'"):
        lib.answer("How is it treated?", thread="nope")


# ------------------------------------------------------------------------------ the API and the CLI


def test_review_over_http_on_a_postgresql_library(lib):
    app = create_app(Settings(library=lib.url), ApiSettings(rate_per_second=0))
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/v1/ready").json()["schema_version"] == NEWEST
        login = client.post("/v1/auth/login", json={"username": "editor1", "password": PASSWORD})
        assert login.status_code == 200, login.text
        editor = {"Authorization": f"Bearer {login.json()['token']}"}
        reviewer = auth(lib, "reviewer")
        answer = client.post("/v1/ask", json={"question": QUESTION}).json()
        assert answer["status"] == "answered"

        created = client.post("/v1/articles", json={"answer": answer}, headers=editor)
        assert created.status_code == 201, created.text
        slug, revision = created.json()["slug"], created.json()["revision"]
        for headers, action, extra in ((editor, "submit", {}), (reviewer, "claim", {}),
                                       (reviewer, "comment", {"body": "Fine.", "statement_id": "s1"}),
                                       (reviewer, "approve", {})):
            response = client.post(f"/v1/articles/{slug}/review", headers=headers,
                                   json={"action": action, "expected_revision": revision, **extra})
            assert response.status_code == 200, response.text
            revision = response.json()["revision"]
        stale = client.post(f"/v1/articles/{slug}/review", headers=reviewer,
                            json={"action": "comment", "expected_revision": 1, "body": "late"})
        assert stale.status_code == 409 and stale.json()["current"]["revision"] == revision

        public = client.get(f"/v1/articles/{slug}").json()
        assert (public["state"], public["approved_by"], public["version"]["version"]) == ("approved", "reviewer1", 1)
        listing = client.get("/v1/articles").json()
        assert (listing["total"], listing["items"][0]["slug"]) == (1, slug)
        history = client.get(f"/v1/articles/{slug}/history", headers=auth(lib, "admin")).json()
        assert [e["action"] for e in history] == ["create", "submit", "claim", "comment", "approve"]
        page = client.get("/")
        shown = examples(lib.store)
        assert page.status_code == 200 and shown and all(escape(q) in page.text for q in shown)
        title = escape(public["version"]["answer"]["title"])
        for path in ("/articles", f"/articles/{slug}", f"/articles/{slug}/markdown", "/library",
                     "/library/documents/1"):
            response = client.get(path)
            assert response.status_code == 200, (path, response.text)
        assert title in client.get("/articles").text and "LIPITOR" in client.get("/library/documents/1").text


def test_racing_requests_to_a_real_server_on_postgresql(lib):
    art = lib.under_review()
    app = create_app(Settings(library=lib.url), ApiSettings(rate_per_second=0))

    def race(base: str, *acts: tuple[str, dict]) -> list[int]:
        barrier, statuses = threading.Barrier(len(acts)), []
        revision = lib.svc.get(art.slug, lib.users["admin"]).revision

        def act(role: str, body: dict) -> None:
            with httpx.Client(base_url=base, timeout=30) as client:
                barrier.wait()
                statuses.append(client.post(f"/v1/articles/{art.slug}/review", headers=auth(lib, role),
                                            json={"expected_revision": revision, **body}).status_code)

        threads = [threading.Thread(target=act, args=a) for a in acts]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        return sorted(statuses)

    with serving(app) as base:  # each server worker thread has its own PostgreSQL connection
        for n in range(4):
            assert race(base, ("reviewer", {"action": "comment", "body": f"reviewer {n}"}),
                        ("admin", {"action": "comment", "body": f"admin {n}"})) == [200, 409]
        assert race(base, ("reviewer", {"action": "approve"}),
                    ("admin", {"action": "reject", "reason": "Out of scope."})) == [200, 409]
    assert lib.svc.get(art.slug, lib.users["admin"]).revision == art.revision + 5
    assert len(lib.svc.comments(art.slug, lib.users["admin"])) == 4


@click.group()
def medora() -> None:
    """Stands in for ``medora.cli.main``, which adds the same commands."""


for _command in COMMANDS:
    medora.add_command(_command)


def test_admin_commands_on_a_postgresql_library(lib):
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> str:
        result = runner.invoke(medora, [*args, "--library", lib.url], input=input)
        assert result.exit_code == 0, (args, result.output)
        return result.stdout

    run("users", "add", "grace", "--role", "reviewer", "--with-password", input=f"{PASSWORD}\n")
    assert Accounts(lib.store).authenticate_password("grace", PASSWORD).role == "reviewer"
    assert run("tokens", "create", "grace", "--name", "laptop").strip().startswith("mdr_")
    draft = lib.svc.create(lib.answer(), lib.users["editor"])
    art = lib.svc.submit(draft.slug, lib.users["editor"], draft.revision)
    queue = json.loads(run("review", "list", "--format", "json"))
    assert [(a["slug"], a["state"]) for a in queue] == [(art.slug, "submitted")]
    run("review", "claim", art.slug, "--as", "grace")
    run("review", "approve", art.slug, "--as", "grace")
    listed = json.loads(run("articles", "list", "--format", "json"))
    assert [(a["slug"], a["state"], a["approved_by"]) for a in listed] == [(art.slug, "approved", "grace")]


def test_medora_serve_on_a_postgresql_library(lib, tmp_path):
    proc, base = _start_server(lib.url, tmp_path / "server.log")  # `medora serve --library postgresql://...`
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            assert client.get("/v1/health").json()["schema_version"] == NEWEST
            login = client.post("/v1/auth/login", json={"username": "reviewer1", "password": PASSWORD})
            assert login.status_code == 200 and login.json()["user"]["role"] == "reviewer"
            assert client.get("/v1/review/queue", headers=auth(lib, "reviewer")).json()["total"] == 0
    finally:
        proc.terminate()
        proc.wait(timeout=30)
