"""Articles: the public list and pages, saving answers as drafts, new versions and variants, diffs,
comments and history.

Anyone reads published articles (the last approved version). Staff (reviewers, editors and admins
whose token holds the ``review`` scope) also see drafts, any version, review state, comments and
history. Writes name the article revision they were based on; the publishing service enforces the
editorial workflow.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from medora.answer.compose import answer_question
from medora.api import problems
from medora.api.auth import Principal, principal
from medora.api.catalog import published_page
from medora.api.context import Server, server_of
from medora.api.pages import Page, PageParams, page_params
from medora.api.schemas import (
    ArticleSummary,
    ArticleView,
    Audience,
    NewVersion,
    SaveArticle,
)
from medora.models import Answer
from medora.publish import workflow
from medora.publish.actors import Actor
from medora.publish.articles import ArticleState
from medora.publish.audit import AuditEntry
from medora.publish.comments import Comment
from medora.publish.diff import StatementDiff
from medora.publish.errors import NotFound

router = APIRouter(prefix="/v1/articles", tags=["articles"],
                   responses=problems.responses(400, 401, 403, 404, 409, 413, 422, 429, 500, 503))

Slug = Annotated[str, Path(min_length=1, max_length=120, description="The article's slug")]
VersionNumber = Annotated[int, Query(ge=1, le=1_000_000)]
State = Literal[workflow.STATES]  # type: ignore[valid-type]
Caller = Annotated[Principal, Depends(principal)]


@router.get("", response_model=Page[ArticleSummary], summary="List articles")
def list_articles(request: Request, caller: Caller, page: Annotated[PageParams, Depends(page_params)],
                  state: Annotated[State | None, Query(description="Staff only: articles in this state")] = None,
                  ) -> Page[ArticleSummary]:
    """Published articles, newest approval first; staff see every article (most recently changed first)."""
    caller.require("read")
    library = server_of(request).libraries.local()
    if state is None and not caller.is_staff:
        return published_page(library, page)
    actor = caller.require_staff()
    found = page.slice(library.publishing.list_articles(actor, state))
    return page.page([ArticleSummary.of(a) for a in found.items], found.total)


@router.get("/{slug}", response_model=ArticleView, summary="Read an article")
def read_article(request: Request, caller: Caller, slug: Slug, version: VersionNumber | None = None,
                 audience: Audience | None = None) -> ArticleView:
    """The published version for everyone; staff may ask for any ``version`` and get the review state too."""
    caller.require("read")
    publishing = server_of(request).libraries.local().publishing
    if caller.is_staff:
        article = publishing.get(slug, caller.actor)
        shown = publishing.version(slug, caller.actor, version, audience)
        return ArticleView(slug=slug, title=shown.answer.title, state=article.state,
                           approved_version=article.approved_version, approved_by=article.approved_by,
                           approved_at=article.approved_at, version=shown, review=article)
    try:  # one message whether the article is missing, unpublished or lacks the variant: no existence oracle
        published = publishing.published(slug, audience)
        if version is not None and version != published.version.version:
            raise NotFound(slug)
    except NotFound:
        raise NotFound(f"no published {audience + ' ' if audience else ''}version of {slug!r}") from None
    return ArticleView(slug=slug, title=published.title, state=published.state,
                       approved_version=published.version.version, approved_by=published.approved_by,
                       approved_at=published.approved_at, version=published.version)


def _answer_now(server: Server, question: str, audience: str) -> Answer:
    library = server.libraries.local()
    return answer_question(library.store, question, server.settings, audience=audience, retriever=library.retriever)


@router.post("", response_model=ArticleState, status_code=201, summary="Save an answer as a draft article")
def create_article(request: Request, response: Response, caller: Caller, body: SaveArticle) -> ArticleState:
    """Editors save an answer (checked quote by quote against the library) as version 1 of a new draft."""
    actor = caller.require("review")
    workflow.check_role("create", actor.role)  # before spending time on an answer
    server = server_of(request)
    answer = body.answer or _answer_now(server, body.question or "", body.audience)
    article = server.libraries.local().publishing.create(answer, actor)
    response.headers["Location"] = f"/v1/articles/{article.slug}"
    return article


def _new_content(server: Server, slug: str, actor: Actor, body: NewVersion) -> Answer:
    if body.answer is not None:
        return body.answer
    question = server.libraries.local().publishing.get(slug, actor).question
    return _answer_now(server, question, body.audience or "clinician")


@router.post("/{slug}/versions", response_model=ArticleState, summary="Make a new version (a draft)")
def new_version(request: Request, caller: Caller, slug: Slug, body: NewVersion) -> ArticleState:
    """The answer given, or the article's question answered again now, becomes the next version."""
    actor = caller.require("review")
    workflow.check_role("revise", actor.role)
    server = server_of(request)
    answer = _new_content(server, slug, actor, body)
    return server.libraries.local().publishing.revise(slug, answer, actor, body.expected_revision)


@router.post("/{slug}/variants", response_model=ArticleState, summary="Add an audience variant")
def new_variant(request: Request, caller: Caller, slug: Slug, body: NewVersion) -> ArticleState:
    """Another audience's answer to the same question joins the current version (and shares its review)."""
    actor = caller.require("review")
    workflow.check_role("edit", actor.role)
    server = server_of(request)
    answer = _new_content(server, slug, actor, body)
    return server.libraries.local().publishing.add_variant(slug, answer, actor, body.expected_revision)


@router.get("/{slug}/diff", response_model=StatementDiff, summary="Compare two versions")
def diff(request: Request, caller: Caller, slug: Slug,
         old: Annotated[int, Query(alias="from", ge=1, le=1_000_000, description="The older version")],
         new: Annotated[int, Query(alias="to", ge=1, le=1_000_000, description="The newer version")],
         audience: Audience | None = None) -> StatementDiff:
    """Statements added, removed, changed and re-cited between two versions (staff only)."""
    actor = caller.require_staff()
    return server_of(request).libraries.local().publishing.diff(slug, actor, old, new, audience)


@router.get("/{slug}/comments", response_model=list[Comment], summary="Review comments")
def comments(request: Request, caller: Caller, slug: Slug) -> list[Comment]:
    return server_of(request).libraries.local().publishing.comments(slug, caller.require_staff())


@router.get("/{slug}/history", response_model=list[AuditEntry], summary="Audit log of the article")
def history(request: Request, caller: Caller, slug: Slug) -> list[AuditEntry]:
    return server_of(request).libraries.local().publishing.history(slug, caller.require_staff())
