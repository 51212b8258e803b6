"""``medora mcp``: Medora for AI assistants over the Model Context Protocol (the official ``mcp`` SDK).

Tools: ``ask`` (a cited answer: the ``medora.answer/1`` JSON plus its Markdown rendering),
``search`` (ranked passages with their ids), ``get_passage`` (a passage's exact text, so an
assistant can check a quote) and ``get_article`` (a published article with its review status).
Resources: the editorial policy and the list of sources in the library (licence, attribution).
Every tool description asks the assistant to quote Medora's citations as given. Failures (bad
arguments, an unknown id, an unusable question) come back as tool errors, never as a crash.

Transports: stdio (``medora mcp``, for an assistant that starts it) or streamable HTTP on
loopback (``medora mcp --http PORT``, endpoint ``/mcp``). Everything runs on this machine: the
library is read locally and nothing is sent anywhere.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import click
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from medora import __version__
from medora.answer.compose import answer_question
from medora.answer.render import to_markdown
from medora.api.context import Libraries
from medora.errors import MedoraError
from medora.publish.errors import NotFound
from medora.settings import Settings

Audience = Literal["patient", "caregiver", "student", "clinician"]
MAX_QUESTION_CHARS = 2000
READ_ONLY = ToolAnnotations(readOnlyHint=True, destructiveHint=False, openWorldHint=False)

INSTRUCTIONS = """Medora answers medical questions only from the passages of its library (guidelines,
drug labels, abstracts, patient information). Every statement it returns quotes a passage and carries a
numbered citation. When you use Medora's results: quote its statements and their citations as given,
keep the reference numbers and titles, do not paraphrase a cited statement into something it does not
say, and say so when Medora reports that the library lacks enough evidence. Use get_passage to check a
quote. Medora is not a medical device: its answers support, and never replace, clinical judgement."""

_QUOTE_NOTE = (" Quote Medora's cited statements word for word with their citation numbers and reference list; "
               "do not paraphrase the citations away or add claims they do not make.")


class PassageOut(BaseModel):
    passage_id: int
    document_id: int
    title: str = Field(description="The document's title")
    source: str = Field(description="The library source the document came from")
    doc_type: str
    section: list[str] = Field(description="Section path of the passage in its document")
    text: str = Field(description="The passage, exactly as stored (what citations quote)")
    url: str | None = Field(None, description="The original document's address, when known")


class SearchHitOut(PassageOut):
    rank: int
    score: float


class SearchOut(BaseModel):
    query: str
    passages: list[SearchHitOut]


class ArticleOut(BaseModel):
    slug: str
    title: str
    review_status: str = Field(description="The article's review state: approved, or e.g. under_review or draft "
                                           "while a newer version or a changed source is being checked (the "
                                           "approved version is still the one returned)")
    approved_version: int
    approved_by: str | None = None
    approved_at: str | None = None
    audience: str
    markdown: str = Field(description="The approved version rendered as Markdown, with its citations")
    article: dict[str, Any] = Field(description="The approved version as medora.answer/1 JSON")


def _passage_out(library: Any, passage_id: int) -> PassageOut:
    passage = library.store.passages([passage_id]).get(passage_id)
    if passage is None:
        raise ToolError(f"no passage {passage_id} in this library; use an id from search or from a citation")
    doc = library.store.documents([passage.document_id])[passage.document_id]
    return PassageOut(passage_id=passage.id, document_id=doc.id, title=doc.title, source=doc.source,
                      doc_type=doc.doc_type, section=passage.section_path, text=passage.text, url=doc.url)


def build_server(settings: Settings) -> MCPServer:
    """An MCP server over the library ``settings.library`` (which must exist)."""
    libraries = Libraries(settings)  # one connection per worker thread: the SDK runs sync tools on threads
    server = MCPServer(name="medora", title="Medora", version=__version__, instructions=INSTRUCTIONS,
                       description="Cited answers from a library of real medical sources.",
                       log_level="WARNING")  # stderr is the assistant's log: no line per call

    @server.tool(annotations=READ_ONLY, structured_output=False, description=(
        "Answer a medical question from Medora's library. Returns the answer as Markdown (bottom line, "
        "sections of statements each with numbered citations, a reference list with evidence labels, a "
        "disclaimer) followed by the same answer as medora.answer/1 JSON, whose citations hold the exact "
        "quoted source text and passage ids. If the status is insufficient_evidence, tell the user the "
        "library does not answer it instead of answering from elsewhere." + _QUOTE_NOTE))
    def ask(question: Annotated[str, Field(min_length=1, max_length=MAX_QUESTION_CHARS,
                                           description="The question, in plain words")],
            audience: Annotated[Audience, Field(description="Who the answer is written for")] = "clinician",
            thread: Annotated[str | None, Field(pattern=r"^(new|[0-9a-f]{16})$", description=(
                "'new' starts a follow-up thread; a thread id from an earlier answer continues it"))] = None,
            ) -> CallToolResult:
        library = libraries.local()
        try:
            answer = answer_question(library.store, question, settings, audience=audience,
                                     retriever=library.retriever, thread=thread)
        except MedoraError as exc:
            raise ToolError(str(exc)) from None
        data = answer.model_dump(mode="json", by_alias=True)
        return CallToolResult(content=[TextContent(type="text", text=to_markdown(answer)),
                                       TextContent(type="text", text=json.dumps(data, ensure_ascii=False))],
                              structured_content=data)

    @server.tool(annotations=READ_ONLY, description=(
        "Search Medora's library and return the best-ranked passages with their ids, titles and exact text. "
        "For checking what the library holds; use ask for a composed, cited answer." + _QUOTE_NOTE))
    def search(query: Annotated[str, Field(min_length=1, max_length=MAX_QUESTION_CHARS)],
               limit: Annotated[int, Field(ge=1, le=50, description="How many passages")] = 10) -> SearchOut:
        hits = libraries.local().retriever.search(query, k=limit).hits[:limit]
        return SearchOut(query=query, passages=[
            SearchHitOut(rank=h.rank, score=round(h.score, 4), passage_id=h.passage.id, document_id=h.document.id,
                         title=h.document.title, source=h.document.source, doc_type=h.document.doc_type,
                         section=h.passage.section_path, text=h.passage.text, url=h.document.url)
            for h in hits])

    @server.tool(annotations=READ_ONLY, description=(
        "The exact stored text of one passage, by the passage_id from a citation or a search result, with "
        "its document's title and section. Use it to verify that a quoted statement is in the source."))
    def get_passage(passage_id: Annotated[int, Field(ge=1, le=2**53)]) -> PassageOut:
        return _passage_out(libraries.local(), passage_id)

    @server.tool(annotations=READ_ONLY, description=(
        "A published article (an answer an editorial board reviewed and approved) by its slug, with its "
        "review status, who approved it and when, rendered as Markdown with its citations and as JSON. "
        "Only approved versions are returned." + _QUOTE_NOTE))
    def get_article(slug: Annotated[str, Field(min_length=1, max_length=120, pattern=r"^[a-z0-9-]+$")],
                    audience: Annotated[Audience | None, Field(description="A reviewed audience variant")] = None,
                    ) -> ArticleOut:
        try:
            published = libraries.local().publishing.published(slug, audience)
        except NotFound:
            raise ToolError(f"no published {audience + ' ' if audience else ''}article {slug!r}") from None
        version = published.version
        return ArticleOut(slug=slug, title=published.title,
                          review_status=published.state,
                          approved_version=version.version, approved_by=published.approved_by,
                          approved_at=published.approved_at, audience=version.audience,
                          markdown=to_markdown(version.answer),
                          article=version.answer.model_dump(mode="json", by_alias=True))

    @server.resource("medora://editorial-policy", name="editorial-policy", title="Medora's editorial policy",
                     mime_type="text/markdown",
                     description="How articles are written, cited, reviewed, approved and corrected.")
    def editorial_policy() -> str:
        from medora.api.routes_meta import policy_markdown

        return policy_markdown()

    @server.resource("medora://sources", name="sources", title="Sources in this library",
                     mime_type="application/json",
                     description="Each source: publisher, licence, attribution, documents, passages, last ingested.")
    def sources() -> str:
        return json.dumps(libraries.local().store.sources(), ensure_ascii=False, indent=2, default=str)

    return server


@click.command("mcp")
@click.option("--library", default=None, help="Library: a SQLite file or a postgresql:// URL (default: "
              "$MEDORA_LIBRARY, $MEDORA_DATABASE_URL, the config file, or the per-user data dir).")
@click.option("--http", "http_port", type=click.IntRange(1, 65535), default=None, metavar="PORT",
              help="Serve streamable HTTP at http://HOST:PORT/mcp instead of stdio.")
@click.option("--host", default="127.0.0.1", show_default=True, help="With --http: the address to listen on.")
def mcp_command(library: str | None, http_port: int | None, host: str) -> None:
    """Serve Medora to AI assistants over the Model Context Protocol.

    Tools: ask, search, get_passage, get_article; resources: the editorial policy and the
    source list. With no option it speaks MCP on stdin/stdout, for an assistant that starts it.
    Nothing leaves this machine: answers come from the local library only.

    \b
    Examples:
      medora mcp --library ~/medora/library.db            # stdio, for an assistant's config
      medora mcp --library library.db --http 8765         # http://127.0.0.1:8765/mcp
    \b
    An assistant's configuration (Claude Desktop, VS Code, ...):
      {"mcpServers": {"medora": {"command": "medora",
                                 "args": ["mcp", "--library", "/path/to/library.db"]}}}
    """
    from medora.cli import handle_errors
    from medora.settings import load_settings

    @handle_errors
    def run() -> None:
        server = build_server(load_settings(library=library))
        if http_port is None:
            server.run("stdio")
        else:
            server.run("streamable-http", host=host, port=http_port)

    run()
