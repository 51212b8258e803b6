"""The reviewer area: the queue, one article with statement-level comments and its history, version
diffs, and the review actions (claim, comment, request changes, approve, reject; submit and reopen
for editors).

Staff only (reviewers, editors, admins, signed in with the login form). Actions go through the
same ``apply`` as ``POST /v1/articles/{slug}/review``, so the workflow table decides what each role
may do; a form based on an old revision is refused and the page shows the article as it is now.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import TypeAdapter, ValidationError

from medora.api.context import server_of
from medora.api.routes_review import apply
from medora.api.schemas import ReviewAction
from medora.publish import PublishingService, workflow
from medora.publish.actors import Actor
from medora.publish.articles import AUDIENCES, ArticleState
from medora.publish.errors import Forbidden, InvalidInput, PublishError
from medora.web.pages import page
from medora.web.routes_public import Posted
from medora.web.session import Visitor, visitor
from medora.web.view import answer_view

router = APIRouter(include_in_schema=False)
Slug = Annotated[str, Path(min_length=1, max_length=120)]
VersionNumber = Annotated[int | None, Query(ge=1, le=1_000_000)]
AudienceChoice = Annotated[str | None, Query(max_length=20)]

#: Actions the pages offer as buttons, in the order shown; each with the form fields it takes.
BUTTONS: dict[str, tuple[str, ...]] = {
    "claim": (), "approve": (), "request_changes": ("reason",), "reject": ("reason",), "submit": (),
    "reopen": ("reason",),
}
FORM_ACTIONS = {**BUTTONS, "comment": ("body", "statement_id", "audience")}
DONE = {"claim": "You claimed this article.", "approve": "Approved: readers now see this version.",
        "request_changes": "Changes requested.", "reject": "Rejected.", "submit": "Submitted for review.",
        "reopen": "Reopened for review.", "comment": "Comment added."}
_ACTION = TypeAdapter(ReviewAction)


def _service(request: Request) -> PublishingService:
    return server_of(request).libraries.local().publishing


def _staff(request: Request) -> tuple[Visitor, Actor]:
    who = visitor(request)
    try:
        return who, who.principal.require_staff()
    except Forbidden:
        raise Forbidden("Only reviewers, editors and admins can open the review area.") from None


def allowed(state: str, role: str) -> list[str]:
    """The buttons ``role`` may press on an article in ``state``."""
    return [a for a in BUTTONS if (rule := workflow.TRANSITIONS.get((state, a))) and role in rule[1]]


@router.get("/review", response_class=HTMLResponse)
def queue(request: Request) -> HTMLResponse:
    who, actor = _staff(request)
    service = _service(request)
    everything = service.list_articles(actor)
    waiting = sorted((a for a in everything if a.state in (workflow.SUBMITTED, workflow.UNDER_REVIEW)),
                     key=lambda a: (a.updated_at, a.id))
    return page(request, who, "review_queue.html", title="Review queue", waiting=waiting, everything=everything,
                may_claim=lambda a: "claim" in allowed(a.state, actor.role))


def _article_page(request: Request, who: Visitor, slug: str, version: int | None, audience: str | None, *,
                  status: int = 200, error: str | None = None, done: str | None = None) -> HTMLResponse:
    actor = who.principal.require_staff()
    service = _service(request)
    article = service.get(slug, actor)
    shown = service.version(slug, actor, version, audience if audience in AUDIENCES else None)
    comments = defaultdict(list)
    for comment in service.comments(slug, actor):
        if comment.version == shown.version and comment.audience == shown.audience:
            comments[comment.statement_id or ""].append(comment)
    current = shown.version == article.current_version
    buttons = [a for a in allowed(article.state, actor.role) if a != "claim" or article.claimed_by != who.user]
    return page(request, who, "review_article.html", status=status, title=f"Review: {article.title}",
                article=article, shown=shown, view=answer_view(shown.answer, prefix="r", exports={}),
                comments=comments, history=service.history(slug, actor), error=error, done=DONE.get(done or ""),
                buttons=buttons if current else [],
                may_comment=current and (article.state, "comment") in workflow.TRANSITIONS)


@router.get("/review/{slug}", response_class=HTMLResponse)
def review_article(request: Request, slug: Slug, version: VersionNumber = None, audience: AudienceChoice = None,
                   done: Annotated[str | None, Query(max_length=32)] = None) -> HTMLResponse:
    who, _ = _staff(request)
    return _article_page(request, who, slug, version, audience, done=done)


def _action(form: dict[str, str]) -> ReviewAction:
    """The review action a form describes, validated as the API validates it."""
    name = form.get("action", "")
    if name not in FORM_ACTIONS:
        raise InvalidInput("Choose one of the actions on the page.")
    fields = {f: form[f].strip() for f in FORM_ACTIONS[name] if form.get(f, "").strip()}
    try:
        return _ACTION.validate_python({"action": name, "expected_revision": form.get("expected_revision"), **fields})
    except ValidationError as exc:
        missing = next((str(e["loc"][-1]) for e in exc.errors() if e["type"] == "missing"), None)
        raise InvalidInput(f"Write a {missing} first." if missing else "Some of the form's fields are not valid.") \
            from None


@router.post("/review/{slug}", response_class=HTMLResponse)
def review_action(request: Request, slug: Slug, form: Posted) -> Response:
    who, actor = _staff(request)
    audience = form.get("audience") or None
    try:
        action = _action(form)
        apply(_service(request), slug, actor, action)
    except PublishError as exc:
        if isinstance(exc, InvalidInput) or exc.http_status == 409:  # show the article as it is now, with why
            return _article_page(request, who, slug, None, audience, status=exc.http_status, error=str(exc))
        raise
    target = f"/review/{slug}?done={action.action}" + (f"&audience={audience}" if audience in AUDIENCES else "")
    return RedirectResponse(target, status_code=303)


@router.get("/review/{slug}/diff", response_class=HTMLResponse)
def diff(request: Request, slug: Slug, old: Annotated[int, Query(alias="from", ge=1, le=1_000_000)],
         new: Annotated[int, Query(alias="to", ge=1, le=1_000_000)], audience: AudienceChoice = None) -> HTMLResponse:
    who, actor = _staff(request)
    service = _service(request)
    article: ArticleState = service.get(slug, actor)
    changes = service.diff(slug, actor, old, new, audience if audience in AUDIENCES else None)
    return page(request, who, "review_diff.html", title=f"Changes: {article.title}", article=article, diff=changes)
