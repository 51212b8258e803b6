"""Review: one endpoint for every workflow action and reviewer edit, and the review queue.

``POST /v1/articles/{slug}/review`` takes ``{"action": ..., "expected_revision": n, ...}``. An
old ``expected_revision`` is answered 409 with the article as it is now (``current``); so is an
action the article's state does not allow. The queue lists what waits for the advisory board:
submitted articles and those under review, longest waiting first.
"""

from __future__ import annotations

from typing import Annotated, assert_never

from fastapi import APIRouter, Body, Depends, Request

from medora.api import problems
from medora.api.auth import Principal, principal
from medora.api.context import server_of
from medora.api.pages import Page, PageParams, page_params
from medora.api.routes_articles import Slug
from medora.api.schemas import (
    AddNote,
    AddStatement,
    CommentAction,
    MoveStatement,
    PlainAction,
    ReasonedAction,
    RemoveStatement,
    RetireAction,
    ReviewAction,
)
from medora.publish import PublishingService, workflow
from medora.publish.actors import Actor
from medora.publish.articles import ArticleState
from medora.publish.errors import InvalidTransition

router = APIRouter(prefix="/v1", tags=["review"],
                   responses=problems.responses(400, 401, 403, 404, 409, 413, 422, 429, 500, 503))
Caller = Annotated[Principal, Depends(principal)]


def apply(service: PublishingService, slug: str, actor: Actor, a: ReviewAction) -> ArticleState:
    """Run one review action on the article at revision ``a.expected_revision``."""
    r = a.expected_revision
    match a:
        case PlainAction(action="submit"):
            return service.submit(slug, actor, r)
        case PlainAction(action="claim"):
            return service.claim(slug, actor, r)
        case PlainAction():
            return service.approve(slug, actor, r)
        case ReasonedAction(action="request_changes"):
            return service.request_changes(slug, actor, r, a.reason)
        case ReasonedAction(action="reject"):
            return service.reject(slug, actor, r, a.reason)
        case ReasonedAction():
            return service.reopen(slug, actor, r, a.reason)
        case RetireAction():
            return service.retire(slug, actor, r, a.reason)
        case CommentAction():
            return service.comment(slug, actor, r, a.body, a.statement_id, a.audience)
        case RemoveStatement():
            return service.remove_statement(slug, actor, r, a.statement_id, a.audience)
        case MoveStatement():
            return service.move_statement(slug, actor, r, a.statement_id, a.position, a.audience)
        case AddNote():
            return service.add_note(slug, actor, r, a.section, a.position, a.text, a.audience)
        case AddStatement():
            return service.add_statement(slug, actor, r, a.section, a.position, a.passage_id, a.start, a.end,
                                         a.quote, a.audience)
        case _:
            assert_never(a)


@router.post("/articles/{slug}/review", response_model=ArticleState, summary="Take a review action")
def review(request: Request, caller: Caller, slug: Slug, action: Annotated[ReviewAction, Body()]) -> ArticleState:
    """Submit, claim, comment, edit, request changes, approve, reject, reopen or retire an article."""
    actor = caller.require("review")
    service = server_of(request).libraries.local().publishing
    try:
        return apply(service, slug, actor, action)
    except InvalidTransition as exc:
        exc.current = service.get(slug, actor)  # type: ignore[attr-defined]  # shown in the 409 problem
        raise


@router.get("/review/queue", response_model=Page[ArticleState], summary="The review queue")
def queue(request: Request, caller: Caller, page: Annotated[PageParams, Depends(page_params)]) -> Page[ArticleState]:
    """Articles submitted for review or under review, longest waiting first (reviewers, editors, admins)."""
    actor = caller.require_staff()
    service = server_of(request).libraries.local().publishing
    waiting = [a for state in (workflow.SUBMITTED, workflow.UNDER_REVIEW) for a in service.list_articles(actor, state)]
    return page.slice(sorted(waiting, key=lambda a: (a.updated_at, a.id)))
