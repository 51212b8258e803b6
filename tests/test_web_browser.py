"""Acceptance: the web app in a real browser (Debian's Chromium driven by Playwright) on a real uvicorn server.

Flows: a patient asks, reads the streamed article, sees a citation's quoted passage on hover and on
keyboard focus, and asks a follow-up in the same thread; a clinician gets the clinician variant; a
reviewer logs in, comments, approves, and readers (without JavaScript) then see it approved; an
emergency shows its notice first; script in a question or an ingested document stays text. axe-core
checks each page for serious and critical accessibility violations. Screenshots at phone (390 px) and
desktop (1280 px) widths go to test-artifacts/screenshots/.

Needs /usr/bin/chromium (``apt-get install chromium``), the ``playwright`` Python package (its own
browser download is not used), and axe-core from npm (``npm ci --prefix tests/web``, run here when
missing).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_api_common import serving
from test_web_pages import (
    ARTICLE_QUESTION,
    EMERGENCY_QUESTION,
    FOLLOW_UP,
    HOSTILE_QUESTION,
    HOSTILE_TITLE,
    PASSWORD,
    XSS_QUESTION,
    WebLibrary,
    build_web_library,
    web_app,
)

playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
AXE_DIR = ROOT / "tests" / "web"
AXE = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
WIDTHS = {"phone": 390, "desktop": 1280}
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 20_000

pytestmark = pytest.mark.timeout(120)


# ------------------------------------------------------------------------------ set-up


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("axe-core is missing and npm is not installed: apt-get install npm; npm ci --prefix tests/web")
        subprocess.run([npm, "ci", "--prefix", str(AXE_DIR), "--no-audit", "--no-fund"], check=True, timeout=300)
    return AXE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get update && apt-get install -y chromium")
    with playwright_api.sync_playwright() as playwright:
        # launch() gives every run a fresh temporary profile (its own --user-data-dir)
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def site(shared_sources: Path, tmp_path_factory) -> Iterator[tuple[str, WebLibrary]]:
    """(base URL, library) of a real uvicorn server on 127.0.0.1 for this module."""
    library = build_web_library(tmp_path_factory.mktemp("web-browser"), shared_sources)
    with serving(web_app(library)) as url:
        yield url, library


@pytest.fixture
def open_page(browser, axe_source):
    """``open_page(javascript=True)``: a page in a fresh context (own cookies); dialogs are recorded, not shown."""
    contexts = []

    def make(javascript: bool = True, width: int = WIDTHS["desktop"]):
        context = browser.new_context(java_script_enabled=javascript, viewport={"width": width, "height": 900})
        context.add_init_script(script=axe_source)  # injected by the browser itself, so the page's CSP allows it
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.dialogs = []
        page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
        return page

    yield make
    for context in contexts:
        context.close()


def serious_violations(page) -> list[str]:
    result = page.evaluate("async () => (await axe.run(document)).violations.map(v => [v.id, v.impact, "
                           "v.nodes.length, v.nodes[0].target.join(' ')])")
    return [f"{rule} ({impact}) x{count}: {target}" for rule, impact, count, target in result
            if impact in ("serious", "critical")]


def assert_accessible(page) -> None:
    assert serious_violations(page) == [], page.url


def screenshots(page, name: str) -> None:
    """Full-page screenshots of the current page at phone and desktop widths (nothing may run off-screen)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for label, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        assert page.evaluate("document.documentElement.scrollWidth") <= width, (name, label)
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size({"width": WIDTHS["desktop"], "height": 900})


def ask_streamed(page, base: str, question: str, audience: str) -> None:
    """Ask on the ask page with JavaScript on, and wait until the streamed answer is complete."""
    page.goto(base + "/")
    page.get_by_label(audience, exact=True).check()
    page.get_by_label("Your question").fill(question)
    page.get_by_role("button", name="Ask Medora").click()
    wait_for_answer(page, question)


def wait_for_answer(page, question: str) -> None:
    page.wait_for_selector("#answer .follow-up")
    page.wait_for_function("() => !document.querySelector('#answer').hasAttribute('aria-busy')")
    assert page.locator("#answer h1").inner_text().rstrip("?") == question.rstrip("?")  # titles end with "?"


# ------------------------------------------------------------------------------ flows


def test_a_patient_asks_sees_the_quotes_behind_citations_and_follows_up(site, open_page):
    base, _ = site
    page = open_page()
    page.goto(base + "/")
    assert_accessible(page)
    screenshots(page, "ask")
    ask_streamed(page, base, ARTICLE_QUESTION, "A patient")
    assert page.url == base + "/"  # streamed into the ask page, no navigation
    assert page.locator("#answer-status").inner_text().startswith("Answer ready")
    assert "written for a patient" in page.locator("#answer .kicker").text_content()
    first = page.locator("#answer .bottom-line .cite").first
    tip = first.locator(".cite-tip")
    assert not tip.is_visible()
    first.locator(".cite-mark").hover()
    assert tip.is_visible()
    quote = tip.locator("q").inner_text()
    assert quote and "Drug label" in tip.inner_text()
    passage = page.request.get(base + first.locator(".cite-mark").get_attribute("href").split("#")[0]).text()
    assert quote.replace("\u00a0", " ") in passage.replace("&#39;", "'").replace("&#34;", '"')
    page.mouse.move(0, 0)
    second = page.locator("#answer .answer-section .cite").first
    second.locator(".cite-mark").focus()  # keyboard focus shows it too, and it describes the link
    second_tip = second.locator(".cite-tip")
    assert second_tip.is_visible()
    assert second.locator(".cite-mark").get_attribute("aria-describedby") == second_tip.get_attribute("id")
    page.keyboard.press("Escape")
    assert not second_tip.is_visible()
    assert_accessible(page)
    screenshots(page, "article-patient")
    thread = page.locator("#answer input[name=thread]").input_value()
    page.get_by_label("Your follow-up question").fill(FOLLOW_UP)
    page.keyboard.press("Enter")
    wait_for_answer(page, FOLLOW_UP)
    assert page.locator("#answer input[name=thread]").input_value() == thread  # the same conversation
    assert "LIPITOR" in page.locator("#answer .references").inner_text()  # read with the earlier question
    assert page.dialogs == []


def test_every_public_page_is_accessible_at_phone_and_desktop_widths(site, open_page):
    base, _ = site
    for width in WIDTHS.values():
        page = open_page(width=width)
        for path in ("/", "/articles", "/library?q=statin", "/library/documents/1", "/editorial-policy", "/login",
                     "/no-such-page"):
            page.goto(base + path)
            assert_accessible(page)
            assert page.evaluate("document.documentElement.scrollWidth") <= width, path  # nothing runs off-screen


def test_a_clinician_asking_the_same_question_gets_the_clinician_variant(site, open_page):
    base, _ = site
    page = open_page()
    ask_streamed(page, base, ARTICLE_QUESTION, "A health professional")
    assert "written for a health professional" in page.locator("#answer .kicker").text_content()
    assert page.locator("#answer .disclaimer").inner_text().startswith("Please note: For health professionals")
    assert page.get_by_label("A health professional").is_checked()
    page.goto(base + "/")  # the choice is remembered
    assert page.get_by_label("A health professional").is_checked()
    ask_streamed(page, base, ARTICLE_QUESTION, "A health professional")
    screenshots(page, "article-clinician")


def test_without_javascript_asking_and_reading_still_work(site, open_page):
    base, _ = site
    page = open_page(javascript=False)
    page.goto(base + "/")
    page.get_by_label("A caregiver or family member").check()
    page.get_by_label("Your question").fill(ARTICLE_QUESTION)
    page.get_by_role("button", name="Ask Medora").click()
    page.wait_for_url(base + "/ask")
    assert page.locator("h1").inner_text() == ARTICLE_QUESTION
    cite = page.locator(".cite").first
    cite.locator(".cite-mark").hover()
    assert cite.locator(".cite-tip").is_visible()  # CSS alone shows the quote
    page.get_by_role("button", name=re.compile(r"\?$")).first.click()  # a suggested follow-up, as a plain form
    page.wait_for_url(base + "/ask")
    assert page.locator("h1").inner_text().endswith("?") and page.locator("h1").inner_text() != ARTICLE_QUESTION


def test_an_emergency_shows_its_notice_before_anything_else(site, open_page):
    base, _ = site
    page = open_page()
    page.goto(base + "/")
    page.get_by_label("Your question").fill(EMERGENCY_QUESTION)
    page.get_by_role("button", name="Ask Medora").click()
    page.wait_for_selector("#answer .follow-up")
    first = page.locator("#answer > *").first
    assert first.get_attribute("class") == "emergency" and first.get_attribute("role") == "alert"
    assert "Call your local emergency number" in first.inner_text()
    assert_accessible(page)
    plain = open_page(javascript=False)
    plain.goto(base + "/")
    plain.get_by_label("Your question").fill(EMERGENCY_QUESTION)
    plain.get_by_role("button", name="Ask Medora").click()
    plain.wait_for_url(base + "/ask")
    assert plain.locator("#answer > *").first.get_attribute("class") == "emergency"


def test_script_in_a_question_or_an_ingested_document_stays_text(site, open_page):
    base, _ = site
    page = open_page()
    ask_streamed(page, base, " ".join(XSS_QUESTION.split()), "A patient")
    assert '<script>alert("question")</script>' in page.locator("#answer h1").inner_text()
    ask_streamed(page, base, HOSTILE_QUESTION, "A patient")
    page.locator("#answer .references a", has_text="Read it in the library").first.click()
    page.wait_for_selector(".passages")
    assert page.locator("h1").inner_text() == HOSTILE_TITLE
    assert "onerror=\"alert('doc-body')\"" in page.locator(".passages").inner_text()
    plain = open_page(javascript=False)
    plain.goto(base + "/")
    plain.get_by_label("Your question").fill(XSS_QUESTION)
    plain.get_by_role("button", name="Ask Medora").click()
    plain.wait_for_url(base + "/ask")
    assert page.dialogs == [] and plain.dialogs == []
    assert page.evaluate("document.querySelectorAll('#answer script, .passages script, img').length") == 0


def test_a_reviewer_comments_and_approves_and_the_public_page_shows_it(site, open_page):
    base, library = site
    page = open_page()
    page.goto(base + "/review")
    page.wait_for_url(re.compile(r"/login\?next="))
    page.get_by_label("Username").fill("reviewer1")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(base + "/review")
    assert_accessible(page)
    page.get_by_role("button", name=f"Claim {ARTICLE_QUESTION}").click()
    page.wait_for_url(re.compile(r"done=claim"))
    page.get_by_text("Comment on s1", exact=True).click()
    page.get_by_label("Your comment on statement s1", exact=True).fill("Quote the label's own section heading here.")
    page.get_by_label("Your comment on statement s1", exact=True).press("Tab")
    page.locator("#statement-s1").get_by_role("button", name="Add comment").click()
    page.wait_for_url(re.compile(r"done=comment"))
    assert "Quote the label's own section heading here." in page.locator("#statement-s1 .comments").inner_text()
    assert_accessible(page)
    screenshots(page, "review")
    page.get_by_role("button", name="Approve and publish").click()
    page.wait_for_url(re.compile(r"done=approve"))
    assert "Approved" in page.locator(".facts").inner_text()
    history = page.locator(".history").inner_text()
    assert all(step in history for step in ("claim", "comment", "approve"))

    reader = open_page(javascript=False)
    reader.goto(f"{base}/articles/{library.slug}")
    tracker = reader.locator(".tracker [aria-current=step]")
    assert tracker.inner_text().startswith("Approved")
    status = reader.locator(".review-status").inner_text()
    today = datetime.now(UTC).strftime("%-d %B %Y")
    assert f"Approved by reviewer1 on {today}" in status and f"Last updated {today}" in status
    assert reader.locator("a", has_text="Editorial policy").first.get_attribute("href") == "/editorial-policy"
    reader.goto(base + "/articles")
    assert ARTICLE_QUESTION in reader.locator(".article-list").inner_text()
    page.goto(f"{base}/articles/{library.slug}")
    assert_accessible(page)
