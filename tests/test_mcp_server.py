"""``medora mcp``: the real server process driven by the official MCP SDK's own client, over stdio and
over streamable HTTP, on a small real library (three FDA labels) with one published article.

Checks the tools an assistant sees (and that their descriptions ask it to quote citations), each tool's
result against the library (quotes are the stored passage text), the resources, and that bad arguments,
unknown ids and unknown tools come back as errors while the server keeps serving.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.shared.exceptions import MCPError

from conftest import closed_port
from medora.answer.compose import answer_question
from medora.library.ingest import Ingestor
from medora.library.sqlite_store import SQLiteStore
from medora.models import Source
from medora.publish import SYSTEM, Accounts, PublishingService
from medora.settings import Settings
from medora.sources.readers.registry import make_reader

LABELS = ("lipitor-orig.xml", "viagra.xml", "cough.xml")
QUESTION = "What are the side effects of atorvastatin?"
MEDORA = str(Path(sys.executable).with_name("medora"))
POLICY = Path(__file__).resolve().parents[1] / "src" / "medora" / "publish" / "editorial_policy.md"


@pytest.fixture(scope="module")
def mcp_library(tmp_path_factory, shared_sources) -> dict:
    """Three labels and one approved article (created, submitted, claimed and approved through the service)."""
    path = tmp_path_factory.mktemp("mcp") / "library.db"
    with closing(SQLiteStore(path)) as store:
        plan = [(shared_sources / "dailymed-spl" / name, make_reader("spl")) for name in LABELS]
        assert Ingestor(store, Source(name="dailymed")).run(plan).added == len(LABELS)
        accounts = Accounts(store)
        editor = accounts.create_user(SYSTEM, "editor1", "Editor", "editor").actor()
        reviewer = accounts.create_user(SYSTEM, "reviewer1", "Reviewer", "reviewer").actor()
        service = PublishingService(store)
        article = service.create(answer_question(store, QUESTION, Settings(library=str(path))), editor)
        article = service.submit(article.slug, editor, article.revision)
        article = service.claim(article.slug, reviewer, article.revision)
        article = service.approve(article.slug, reviewer, article.revision)
    return {"path": path, "slug": article.slug}


def stdio(library: Path) -> Client:
    return Client(StdioServerParameters(command=MEDORA, args=["mcp", "--library", str(library)]),
                  read_timeout_seconds=120)


def run(coro):
    return asyncio.run(coro)


def text_of(result) -> str:
    return "\n".join(c.text for c in result.content if c.type == "text")


def test_tools_and_resources_over_stdio(mcp_library):
    async def session():
        async with stdio(mcp_library["path"]) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            resources = {str(r.uri): r for r in (await client.list_resources()).resources}
            policy = await client.read_resource("medora://editorial-policy")
            sources = await client.read_resource("medora://sources")
            return tools, resources, policy, sources

    tools, resources, policy, sources = run(session())
    assert set(tools) == {"ask", "search", "get_passage", "get_article"}
    for name in ("ask", "search", "get_article"):
        assert "word for word" in tools[name].description and "citation" in tools[name].description
    assert "verify" in tools["get_passage"].description
    assert tools["ask"].input_schema["required"] == ["question"]
    assert set(tools["ask"].input_schema["properties"]["audience"]["enum"]) == {
        "patient", "caregiver", "student", "clinician"}
    assert all(t.annotations and t.annotations.read_only_hint for t in tools.values())

    assert set(resources) == {"medora://editorial-policy", "medora://sources"}
    assert policy.contents[0].text == POLICY.read_text(encoding="utf-8")
    listed = json.loads(sources.contents[0].text)
    assert [(s["name"], s["documents"]) for s in listed] == [("dailymed", len(LABELS))]


def test_each_tool_answers_from_the_library(mcp_library):
    async def session():
        async with stdio(mcp_library["path"]) as client:
            found = await client.call_tool("search", {"query": "atorvastatin liver enzymes", "limit": 3})
            first = found.structured_content["passages"][0]
            passage = await client.call_tool("get_passage", {"passage_id": first["passage_id"]})
            answer = await client.call_tool("ask", {"question": QUESTION, "audience": "patient"})
            cited = answer.structured_content["bottom_line"][0]["citations"][0]
            checked = await client.call_tool("get_passage", {"passage_id": cited["passage_id"]})
            article = await client.call_tool("get_article", {"slug": mcp_library["slug"]})
            return found, first, passage, answer, cited, checked, article

    found, first, passage, answer, cited, checked, article = run(session())
    assert not found.is_error and len(found.structured_content["passages"]) == 3
    assert "atorvastatin" in first["title"].lower() or "lipitor" in first["title"].lower()

    with closing(SQLiteStore(mcp_library["path"])) as store:
        stored = store.passages([first["passage_id"]])[first["passage_id"]]
    assert not passage.is_error
    assert passage.structured_content["text"] == stored.text == first["text"]
    assert passage.structured_content["document_id"] == stored.document_id

    assert not answer.is_error
    markdown, raw = answer.content[0].text, answer.content[1].text
    assert json.loads(raw) == answer.structured_content
    assert answer.structured_content["schema"] == "medora.answer/1"
    assert answer.structured_content["status"] == "answered" and answer.structured_content["audience"] == "patient"
    assert "**Bottom line:**" in markdown and "## References" in markdown and "[1]" in markdown
    text = checked.structured_content["text"]
    assert text[cited["start"]:cited["end"]] == cited["quote"]  # the quote is verifiable through get_passage

    assert not article.is_error
    published = article.structured_content
    assert (published["slug"], published["review_status"], published["approved_by"],
            published["approved_version"]) == (mcp_library["slug"], "approved", "reviewer1", 1)
    assert published["markdown"].startswith(f"# {published['title']}") and "## References" in published["markdown"]
    assert published["article"]["question"] == QUESTION


def test_bad_arguments_and_unknown_ids_are_tool_errors(mcp_library):
    async def session():
        async with stdio(mcp_library["path"]) as client:
            results = {
                "unknown passage": await client.call_tool("get_passage", {"passage_id": 99_999_999}),
                "passage not a number": await client.call_tool("get_passage", {"passage_id": "abc"}),
                "missing argument": await client.call_tool("get_passage", {}),
                "empty question": await client.call_tool("ask", {"question": ""}),
                "unknown audience": await client.call_tool("ask", {"question": QUESTION, "audience": "doctor"}),
                "bad thread": await client.call_tool("ask", {"question": QUESTION, "thread": "x; drop"}),
                "unknown article": await client.call_tool("get_article", {"slug": "no-such-article"}),
                "limit too big": await client.call_tool("search", {"query": "statin", "limit": 10_000}),
            }
            try:  # the SDK answers an unknown tool with an error result (older versions: a protocol error)
                unknown_tool = text_of(await client.call_tool("prescribe", {"drug": "anything"}))
            except MCPError as exc:
                unknown_tool = exc.error.message
            still_serving = await client.call_tool("search", {"query": "sildenafil", "limit": 1})
            return results, unknown_tool, still_serving

    results, unknown_tool, still_serving = run(session())
    for what, result in results.items():
        assert result.is_error, what
        assert text_of(result), what  # a message, not an empty error
    assert "no passage 99999999" in text_of(results["unknown passage"])
    assert "no published article 'no-such-article'" in text_of(results["unknown article"])
    assert "audience" in text_of(results["unknown audience"])
    assert "Unknown tool: prescribe" in unknown_tool
    assert not still_serving.is_error and still_serving.structured_content["passages"]


def test_streamable_http_transport(mcp_library):
    port = closed_port()
    server = subprocess.Popen([MEDORA, "mcp", "--library", str(mcp_library["path"]), "--http", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.communicate()[1]
            try:
                httpx.get(f"http://127.0.0.1:{port}/mcp", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "medora mcp --http did not start"
                time.sleep(0.2)

        async def session():
            async with Client(f"http://127.0.0.1:{port}/mcp", read_timeout_seconds=60) as client:
                names = {t.name for t in (await client.list_tools()).tools}
                found = await client.call_tool("search", {"query": "sildenafil", "limit": 2})
                missing = await client.call_tool("get_passage", {"passage_id": 99_999_999})
                return names, found, missing

        names, found, missing = run(session())
        assert names == {"ask", "search", "get_passage", "get_article"}
        assert [p["rank"] for p in found.structured_content["passages"]] == [1, 2]
        assert missing.is_error
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_missing_library_is_one_clear_line(tmp_path):
    proc = subprocess.run([MEDORA, "mcp", "--library", str(tmp_path / "none.db")], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode != 0
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
