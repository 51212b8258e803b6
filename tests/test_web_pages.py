"""The web pages over HTTP (no browser): asking without JavaScript, streaming, security, errors, review.

Also the shared set-up of the browser tests (``test_web_browser.py`` imports it): a library built
from real shared files — four FDA drug labels, a PubMed trial, the USPSTF recommendations — plus
one hostile text document whose title and text carry ``<script>`` and ``onerror`` markup, users
for each role, and an article (patient and clinician variants) submitted for review.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from medora.answer.compose import answer_question
from medora.api import ApiSettings, create_app
from medora.library.ingest import Ingestor
from medora.library.sqlite_store import SQLiteStore
from medora.models import Source
from medora.publish import SYSTEM, Accounts, PublishingService
from medora.settings import Settings
from medora.sources.readers.registry import make_reader
from medora.sources.registry import get_source
from medora.web.examples import examples
from medora.web.exports import to_ris
from medora.web.pages import CSP, web_url

LABELS = ("lipitor-orig.xml", "viagra.xml", "humira.xml", "cough.xml")
ARTICLE_QUESTION = "What are the side effects of atorvastatin?"
FOLLOW_UP = "What is the usual dose?"
EMERGENCY_QUESTION = "My father has crushing chest pain and can't breathe right now"
PASSWORD = "correct horse battery staple"
HOSTILE_TITLE = 'Zorbitol <script>alert("doc-title")</script> leaflet'
HOSTILE_TEXT = f"""{HOSTILE_TITLE}

Side effects

Zorbitol side effects include <img src=x onerror="alert('doc-body')"> mild headache in some people.
Other Zorbitol side effects are <script>alert("doc-script")</script> dizziness and nausea that go away within a week.
"""
HOSTILE_QUESTION = "What are the side effects of zorbitol?"
XSS_QUESTION = ('What are the side effects of atorvastatin? <script>alert("question")</script>'
                '<img src=x onerror=alert(2)>')
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)


@dataclass(frozen=True)
class WebLibrary:
    """A test library file and the slug of its article (submitted, with patient and clinician variants)."""

    path: Path
    slug: str


def _source(name: str) -> Source:
    known = get_source(name)
    return Source(name=known.name, publisher=known.publisher, license=known.license, url=known.homepage,
                  version=known.version, attribution=known.attribution)


def build_web_library(directory: Path, shared_sources: Path) -> WebLibrary:
    path = directory / "library.db"
    hostile = directory / "zorbitol.txt"
    hostile.write_text(HOSTILE_TEXT, encoding="utf-8")
    batches = [
        (_source("dailymed"), "spl", [shared_sources / "dailymed-spl" / name for name in LABELS]),
        (_source("pubmed"), "pubmed-xml", [shared_sources / "pubmed" / "pubmed-29768149.xml"]),
        (_source("uspstf"), "uspstf", [shared_sources / "uspstf" / "prevention-taskforce-api-2024-05-02.json"]),
        (Source(name="notes", license="Test document"), "text", [hostile]),
    ]
    with SQLiteStore(path) as store:
        for source, reader, files in batches:
            assert Ingestor(store, source).run([(f, make_reader(reader)) for f in files]).added >= 1
        accounts = Accounts(store)
        for role in ("reviewer", "editor", "reader"):
            accounts.create_user(SYSTEM, f"{role}1", f"Test {role}", role, PASSWORD)
        editor = accounts.authenticate_password("editor1", PASSWORD).actor()
        publishing, settings = PublishingService(store), Settings(library=path)
        article = publishing.create(answer_question(store, ARTICLE_QUESTION, settings, audience="patient"), editor)
        clinician = answer_question(store, ARTICLE_QUESTION, settings, audience="clinician")
        state = publishing.add_variant(article.slug, clinician, editor, article.revision)
        publishing.submit(article.slug, editor, state.revision)
    return WebLibrary(path, article.slug)


def copy_web_library(template: WebLibrary, directory: Path) -> WebLibrary:
    with sqlite3.connect(template.path) as source, sqlite3.connect(directory / "library.db") as target:
        source.backup(target)
    return replace(template, path=directory / "library.db")


@pytest.fixture(scope="session")
def web_template(tmp_path_factory, shared_sources) -> WebLibrary:
    return build_web_library(tmp_path_factory.mktemp("web-template"), shared_sources)


@pytest.fixture
def web_library(web_template, tmp_path) -> WebLibrary:
    return copy_web_library(web_template, tmp_path)


def web_app(library: WebLibrary, **api: object):
    return create_app(Settings(library=library.path), ApiSettings(**{"rate_per_second": 0, **api}))


def browser_client(library: WebLibrary, base_url: str = "http://testserver", **api: object) -> TestClient:
    """A TestClient that asks for pages as a browser does (use it in ``with``)."""
    client = TestClient(web_app(library, **api), base_url=base_url, raise_server_exceptions=False,
                        follow_redirects=False)
    client.headers["Accept"] = "text/html,application/xhtml+xml,*/*;q=0.8"
    return client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def ask(client: TestClient, question: str, audience: str = "patient", **fields: str):
    token = csrf_of(client.get("/").text)
    return client.post("/ask", data={"csrf": token, "question": question, "audience": audience, **fields})


def log_in(client: TestClient, username: str) -> None:
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"csrf": token, "username": username, "password": PASSWORD,
                                           "next": "/review"})
    assert response.status_code == 303 and response.headers["location"] == "/review", response.text


def review_form(client: TestClient, slug: str, action: str, **fields: str):
    page = client.get(f"/review/{slug}").text
    revision = re.search(r'name="expected_revision" value="(\d+)"', page).group(1)
    return client.post(f"/review/{slug}", data={"csrf": csrf_of(page), "action": action,
                                                "expected_revision": revision, **fields})


def text_of(html: str) -> str:
    """The visible words of a page, roughly: tags removed, entities left as they are."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


# ------------------------------------------------------------------------------ tests


def test_every_page_sends_a_strict_policy_and_no_inline_script(web_library):
    with browser_client(web_library) as client:
        cookie = client.get("/").headers.get("set-cookie", "")  # the first visit gets its CSRF cookie
        for path in ("/", "/articles", "/library", "/library?q=statin", "/library/documents/1", "/editorial-policy",
                     "/login", "/no-such-page"):
            response = client.get(path)
            assert response.headers["content-security-policy"] == CSP, path
            assert response.headers["x-frame-options"] == "DENY" and response.headers["x-content-type-options"] == \
                "nosniff"
            assert response.headers["content-type"].startswith("text/html")
            assert not INLINE_SCRIPT.search(response.text) and " style=" not in response.text, path
            assert '<main id="main"' in response.text and 'lang="en"' in response.text
    assert "medora_csrf=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie


def test_asking_without_javascript_gives_a_cited_article_and_remembers_the_audience(web_library):
    with browser_client(web_library) as client:
        page = ask(client, ARTICLE_QUESTION, "patient")
        assert page.status_code == 200
        assert client.cookies.get("medora_audience") == "patient"
        html = page.text
        assert f"<h1 tabindex=\"-1\">{ARTICLE_QUESTION}</h1>" in html and "written for a patient" in html
        assert "Bottom line" in html and "References" in html and "Composed just now" in html
        first_quote = re.search(r'role="tooltip" id="a-cite-1"><q>([^<]+)</q>', html).group(1)
        href = re.search(r'class="cite-mark" href="(/library/documents/\d+#passage-(\d+))"', html)
        document = client.get(href.group(1).split("#")[0]).text
        assert f'id="passage-{href.group(2)}"' in document and first_quote in document  # the quote is in its passage
        assert 'href="data:text/markdown' in html and 'download="what-are-the-side-effects-of-atorvastatin.ris"' in html
        assert "Which best describes you?" in client.get("/").text
        assert re.search(r'value="patient" checked', client.get("/").text)  # the choice was remembered
        thread = re.search(r'name="thread" value="([0-9a-f]{16})"', html).group(1)
        follow_up = ask(client, FOLLOW_UP, "patient", thread=thread).text
        fresh = ask(client, FOLLOW_UP, "patient").text
    # The thread keeps the drug in focus: the follow-up cites an atorvastatin (Lipitor) label.
    assert re.search(r"lipitor|atorvastatin", text_of(follow_up.split("References")[-1]), re.I)
    assert "LIPITOR" not in text_of(fresh.split("References")[-1].split("Have a follow-up")[0])


def test_clinicians_get_the_clinician_variant_and_disclaimer(web_library):
    with browser_client(web_library) as client:
        patient = ask(client, ARTICLE_QUESTION, "patient").text
        clinician = ask(client, ARTICLE_QUESTION, "clinician").text
    assert "written for a health professional" in clinician and "For health professionals" in clinician
    assert "not medical advice for you" in patient and "not medical advice for you" not in clinician
    bottom = [re.search(r'id="bottom-line-heading">Bottom line</h2>(.*?)</section>', t, re.DOTALL).group(1)
              for t in (patient, clinician)]
    assert text_of(bottom[0]) != text_of(bottom[1])


def test_hostile_text_in_questions_and_documents_is_shown_as_text(web_library):
    with browser_client(web_library) as client:
        answer = ask(client, XSS_QUESTION).text
        hostile = ask(client, HOSTILE_QUESTION).text
        doc_id = re.search(r'href="/library/documents/(\d+)">Read it in the library', hostile).group(1)
        document = client.get(f"/library/documents/{doc_id}").text
    for html in (answer, hostile, document):
        assert not INLINE_SCRIPT.search(html) and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;question&#34;)&lt;/script&gt;" in answer
    assert "&lt;script&gt;alert(&#34;doc-title&#34;)&lt;/script&gt;" in document
    assert "&lt;img src=x onerror=&#34;alert(&#39;doc-body&#39;)&#34;&gt;" in document


def test_forms_without_a_valid_csrf_token_or_from_another_site_are_refused(web_library):
    with browser_client(web_library) as client:
        token = csrf_of(client.get("/").text)
        for data, headers in (({"question": ARTICLE_QUESTION}, {}),
                              ({"question": ARTICLE_QUESTION, "csrf": "0" * 64}, {}),
                              ({"question": ARTICLE_QUESTION, "csrf": token}, {"Origin": "https://evil.example"})):
            refused = client.post("/ask", data=data, headers=headers)
            assert refused.status_code == 403 and "<h1>Not allowed</h1>" in refused.text and "site" in refused.text
        assert client.post("/ask", data={"question": "", "csrf": token}).status_code == 422  # the form again
        assert ask(client, ARTICLE_QUESTION).status_code == 200


def test_errors_are_pages_for_browsers_and_problems_for_api_clients(web_library):
    with browser_client(web_library) as client:
        missing = client.get("/articles/no-such-article")
        assert missing.status_code == 404 and "<h1>Not found</h1>" in missing.text
        assert client.get("/articles/no-such-article", headers={"Accept": "*/*"}).headers["content-type"] == \
            "application/problem+json"
        assert client.get("/review").headers["location"] == "/login?next=%2Freview"
        assert client.get("/articles/unpublished-draft").status_code == 404
        log_in(client, "reader1")
        forbidden = client.get("/review")
        assert forbidden.status_code == 403 and "Only reviewers, editors and admins" in forbidden.text


def test_login_over_https_sets_a_secure_session_cookie_and_logout_drops_it(web_library):
    with browser_client(web_library, base_url="https://testserver") as client:
        token = csrf_of(client.get("/login").text)
        wrong = client.post("/login", data={"csrf": token, "username": "reviewer1", "password": "nope"})
        assert wrong.status_code == 401 and "Wrong username or password." in wrong.text
        right = client.post("/login", data={"csrf": token, "username": "reviewer1", "password": PASSWORD,
                                            "next": "https://evil.example/"})
        assert right.headers["location"] == "/review"  # never off-site
        session = next(c for c in right.headers.get_list("set-cookie") if c.startswith("medora_session="))
        assert all(flag in session for flag in ("HttpOnly", "Secure", "SameSite=lax", "Path=/"))
        page = client.get("/review").text
        assert "Signed in as <strong>reviewer1</strong>" in page
        out = client.post("/logout", data={"csrf": csrf_of(page)})
        assert out.status_code == 303 and 'medora_session=""' in out.headers["set-cookie"]
        assert client.get("/review").status_code == 303


def test_a_reviewer_claims_comments_and_approves_and_readers_see_it(web_library):
    with browser_client(web_library) as client:
        assert client.get(f"/articles/{web_library.slug}").status_code == 404  # not published yet
        log_in(client, "reviewer1")
        queue = client.get("/review").text
        assert f'href="/review/{web_library.slug}"' in queue and "Submitted" in queue
        assert review_form(client, web_library.slug, "claim").status_code == 303
        commented = review_form(client, web_library.slug, "comment", body="Cite the <b>label</b> section.",
                                statement_id="s1", audience="patient")
        assert commented.headers["location"].startswith(f"/review/{web_library.slug}?done=comment")
        page = client.get(f"/review/{web_library.slug}").text
        assert "Comment added." not in page and "Cite the &lt;b&gt;label&lt;/b&gt; section." in page
        stale = client.post(f"/review/{web_library.slug}", data={"csrf": csrf_of(page), "action": "approve",
                                                                 "expected_revision": "1"})
        assert stale.status_code == 409 and "reload it and try again" in stale.text
        assert "Write a reason first." in review_form(client, web_library.slug, "reject").text
        assert review_form(client, web_library.slug, "approve").status_code == 303
        history = client.get(f"/review/{web_library.slug}").text
        assert all(a in text_of(history) for a in ("create", "add variant", "submit", "claim", "comment", "approve"))
        public = client.get(f"/articles/{web_library.slug}?audience=clinician").text
        markdown = client.get(f"/articles/{web_library.slug}/markdown?audience=patient")
        ris = client.get(f"/articles/{web_library.slug}/ris")
        token = csrf_of(public)
        follow_up = client.post("/ask", data={"csrf": token, "question": FOLLOW_UP, "audience": "patient",
                                              "after": re.search(r'name="after" value="([^"]+)"', public).group(1)})
    assert 'aria-current="step">Approved' in public and "Approved by <strong>reviewer1</strong>" in public
    # The article's question opened the thread: the follow-up cites an atorvastatin (Lipitor) label.
    assert re.search(r"lipitor|atorvastatin", text_of(follow_up.text.split("References")[-1]), re.I)
    assert "written for a health professional" in public
    assert markdown.text.startswith(f"# {ARTICLE_QUESTION}") and "attachment" in markdown.headers["content-disposition"]
    assert ris.text.count("TY  - ") == ris.text.count("ER  - ") >= 1


def test_changes_requested_then_a_new_version_shows_its_diff(web_library):
    with browser_client(web_library) as client:
        log_in(client, "reviewer1")
        review_form(client, web_library.slug, "claim")
        asked = review_form(client, web_library.slug, "request_changes", reason="Lead with the common effects.")
        assert asked.status_code == 303
        with SQLiteStore(web_library.path) as store:
            editor = Accounts(store).authenticate_password("editor1", PASSWORD).actor()
            publishing = PublishingService(store)
            revision = publishing.get(web_library.slug, editor).revision
            shorter = answer_question(store, ARTICLE_QUESTION, Settings(library=web_library.path, max_statements=5),
                                      audience="patient")
            publishing.revise(web_library.slug, shorter, editor, revision)
        page = client.get(f"/review/{web_library.slug}").text
        assert "Lead with the common effects." in page and "Changes since version 1" in page
        diff = client.get(f"/review/{web_library.slug}/diff", params={"from": 1, "to": 2}).text
    assert "Changes from version 1 to 2" in diff
    assert "<strong>Removed</strong>" in diff and "<del>" in diff


def test_the_api_answers_follow_ups_in_a_thread(web_library):
    with browser_client(web_library) as client:
        first = client.post("/v1/ask", json={"question": ARTICLE_QUESTION, "thread": "new"}).json()
        follow = client.post("/v1/ask", json={"question": FOLLOW_UP, "thread": first["thread_id"]}).json()
        bad = client.post("/v1/ask", json={"question": FOLLOW_UP, "thread": "'; drop table threads"})
    assert re.fullmatch(r"[0-9a-f]{16}", first["thread_id"]) and follow["thread_id"] == first["thread_id"]
    assert any("LIPITOR" in r["title"] for r in follow["references"])
    assert bad.status_code == 422 and bad.json()["errors"][0]["location"] == ["body", "thread"]


def test_the_stream_sends_the_emergency_first_then_stages_then_the_answer(web_library):
    with browser_client(web_library) as client:
        token = csrf_of(client.get("/").text)
        with client.stream("POST", "/ask/stream", data={"csrf": token, "question": EMERGENCY_QUESTION,
                                                        "audience": "caregiver"}) as response:
            body = "".join(response.iter_text())
    events = re.findall(r"^event: (\w+)$", body, re.MULTILINE)
    assert events[0] == "fragment" and "This may be an emergency" in body.split("event: stage")[0]
    assert events.index("stage") < len(events) - 1 and events[-1] == "done"
    assert body.count('class=\\"emergency\\"') == 1  # not repeated with the answer


def test_example_questions_come_from_the_library(web_library):
    with SQLiteStore(web_library.path) as store:
        found = examples(store)
        paths = store.db.execute("SELECT section_path FROM passages WHERE section_path != '[]'")
        headings = {json.loads(path)[-1] for (path,) in paths}
        screened = {title.split(":")[0].lower() for (title,) in store.db.execute("SELECT title FROM documents")}
    assert len(found) == 4
    assert sum(q in headings for q in found) == 2  # questions the leaflets and labels ask themselves
    topics = [q.removeprefix("Who should be screened for ").removesuffix("?").lower() for q in found
              if q not in headings]
    assert len(topics) == 2 and set(topics) <= screened  # and screening guidelines the library holds


def test_only_web_links_are_linked_and_ris_has_one_record_per_reference(web_library):
    assert web_url("https://dailymed.nlm.nih.gov/x") == "https://dailymed.nlm.nih.gov/x"
    for hostile in ("javascript:alert(1)", " javascript:alert(1)", "data:text/html,<b>", None):
        assert web_url(hostile) is None
    with SQLiteStore(web_library.path) as store:
        answer = answer_question(store, ARTICLE_QUESTION, Settings(library=web_library.path), audience="clinician")
    ris = to_ris(answer)
    assert ris.count("TY  - GOVDOC") == len(answer.references) and "\r\nUR  - https://dailymed" in ris

