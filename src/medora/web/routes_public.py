"""The public pages: ask, answers (whole or streamed), published articles and their exports, the
editorial policy, and logging in and out.

Every page works without JavaScript: the ask form posts to ``/ask`` and gets the answer page back.
With JavaScript, ``static/medora.js`` posts the same form to ``/ask/stream`` and shows the answer
as it is built.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import (
    HTMLResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from markdown_it import MarkdownIt
from starlette.concurrency import run_in_threadpool

from medora.answer.audience import AUDIENCES
from medora.api import problems
from medora.api.auth import client_address, revoke_session
from medora.api.catalog import published_page
from medora.api.context import Library, server_of
from medora.api.pages import PageParams
from medora.api.routes_meta import policy_markdown
from medora.api.schemas import AskRequest
from medora.publish.errors import InvalidInput, TooManyAttempts, Unauthenticated
from medora.publish.service import PublishedArticle
from medora.web import answers
from medora.web.answers import FollowUp, Review
from medora.web.examples import examples
from medora.web.exports import to_markdown, to_ris
from medora.web.pages import page
from medora.web.session import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    Form,
    apply_cookies,
    drop_cookie,
    posted_form,
    remember_audience,
    set_cookie,
    visitor,
)
from medora.web.view import answer_view, file_stem

router = APIRouter(include_in_schema=False)
service_router = APIRouter(tags=["service"], responses=problems.responses(404, 429, 500))
Slug = Annotated[str, Path(min_length=1, max_length=120)]
AudienceChoice = Annotated[str | None, Query(max_length=20)]
Posted = Annotated[Form, Depends(posted_form)]


def _library(request: Request) -> Library:
    return server_of(request).libraries.local()


# ------------------------------------------------------------------------------ asking


@router.get("/", response_class=HTMLResponse)
def ask_page(request: Request) -> HTMLResponse:
    who = visitor(request)
    return page(request, who, "ask.html", title="Ask a medical question",
                examples=examples(_library(request).store), question="", error=None)


@router.post("/ask", response_class=HTMLResponse)
def ask(request: Request, form: Posted) -> HTMLResponse:
    """The answer page (the form's result without JavaScript)."""
    library = _library(request)
    who = visitor(request, form.get("audience"))
    who.principal.require("ask")
    try:
        question = answers.question_of(form)
    except InvalidInput as exc:
        return page(request, who, "ask.html", status=422, title="Ask a medical question",
                    examples=examples(library.store), question=form.get("question", ""), error=str(exc))
    owner = answers.thread_owner(request, who)
    thread = answers.thread_of(library, request, form, who.audience, owner)
    answer = answers.answer_now(library, request, question, who.audience, thread, owner)
    parts = answers.parts(answer_view(answer), who, Review(), FollowUp(thread=answer.thread_id or ""),
                          published=answers.published_slug(library, answer.question))
    response = page(request, who, "answer.html", title=answer.title, parts=parts)
    remember_audience(request, response, who.audience)
    return response


@router.post("/ask/stream")
async def ask_stream(request: Request, form: Posted) -> StreamingResponse:
    """The answer as Server-Sent Events of HTML fragments (for ``medora.js``)."""
    who = await run_in_threadpool(visitor, request, form.get("audience"))
    who.principal.require("ask")
    question = answers.question_of(form)
    owner = answers.thread_owner(request, who)
    thread = await run_in_threadpool(lambda: answers.thread_of(_library(request), request, form, who.audience, owner))
    body = AskRequest(question=question, audience=who.audience, thread=thread)
    response = StreamingResponse(answers.stream(request, who, body, owner), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    apply_cookies(request, response, who)
    remember_audience(request, response, who.audience)
    return response


# ------------------------------------------------------------------------------ articles


@router.get("/articles", response_class=HTMLResponse)
def article_list(request: Request, offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> HTMLResponse:
    found = published_page(_library(request), PageParams(limit=50, offset=offset))
    return page(request, visitor(request), "articles.html", title="Reviewed articles", found=found)


def _published(request: Request, slug: str, audience: str) -> PublishedArticle:
    """The published article in ``audience``'s variant when it has one, else its first variant."""
    publishing = _library(request).publishing
    article = publishing.published(slug)
    if audience != article.version.audience and audience in article.version.audiences:
        return publishing.published(slug, audience)
    return article


@router.get("/articles/{slug}", response_class=HTMLResponse)
def article_page(request: Request, slug: Slug, audience: AudienceChoice = None) -> HTMLResponse:
    who = visitor(request, audience)
    article = _published(request, slug, who.audience)
    answer = article.version.answer
    exports = {label: (f"/articles/{slug}/{kind}?audience={article.version.audience}", f"{slug}.{suffix}")
               for label, kind, suffix in (("Markdown", "markdown", "md"), ("References (RIS)", "ris", "ris"))}
    review = Review(state=article.state, approved_by=article.approved_by, approved_at=article.approved_at, slug=slug)
    parts = answers.parts(answer_view(answer, exports=exports), who, review, FollowUp(after=answer.question))
    response = page(request, who, "article.html", title=article.title, parts=parts, article=article,
                    wanted=who.audience, audiences=AUDIENCES)
    if audience in AUDIENCES:
        remember_audience(request, response, audience)
    return response


def _download(text: str, media_type: str, filename: str) -> Response:
    return PlainTextResponse(text, media_type=media_type,
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/articles/{slug}/markdown")
def article_markdown(request: Request, slug: Slug, audience: AudienceChoice = None) -> Response:
    answer = _published(request, slug, audience or "").version.answer
    return _download(to_markdown(answer), "text/markdown; charset=utf-8", f"{file_stem(answer)}.md")


@router.get("/articles/{slug}/ris")
def article_ris(request: Request, slug: Slug, audience: AudienceChoice = None) -> Response:
    answer = _published(request, slug, audience or "").version.answer
    return _download(to_ris(answer), "application/x-research-info-systems; charset=utf-8",
                     f"{file_stem(answer)}.ris")


# ------------------------------------------------------------------------------ the policy


@service_router.get("/editorial-policy", response_class=HTMLResponse, summary="The editorial policy",
                    responses={200: {"content": {"text/html": {}, "text/markdown": {}}}})
def editorial_policy(request: Request) -> Response:
    """The policy the review workflow enforces: a page, or its Markdown source with ``Accept: text/markdown``."""
    accept = request.headers.get("accept", "")
    if ("text/markdown" in accept or "text/plain" in accept) and "text/html" not in accept:
        return PlainTextResponse(policy_markdown(), media_type="text/markdown; charset=utf-8")
    html = MarkdownIt("commonmark", {"html": False}).enable("table").render(policy_markdown())
    return page(request, visitor(request), "policy.html", title="Medora editorial policy", policy=html)


# ------------------------------------------------------------------------------ signing in


def _next_path(value: str | None) -> str:
    """A local path to go to after logging in ('/review' when ``value`` is missing or points elsewhere)."""
    if value and value.startswith("/") and not value.startswith(("//", "/\\")) and "\\" not in value:
        return value
    return "/review"


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: Annotated[str | None, Query(max_length=500)] = None) -> HTMLResponse:
    return page(request, visitor(request), "login.html", title="Log in", next=_next_path(next), error=None,
                username="")


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, form: Posted) -> Response:
    who = visitor(request)
    username, target = form.get("username", "").strip()[:64], _next_path(form.get("next"))
    server = server_of(request)
    try:
        user = _library(request).accounts.authenticate_password(username, form.get("password", "")[:1024],
                                                                client_address(request))
    except Unauthenticated:
        return page(request, who, "login.html", status=401, title="Log in", next=target, username=username,
                    error="Wrong username or password.")
    except TooManyAttempts as exc:
        return page(request, who, "login.html", status=429, title="Log in", next=target, username=username,
                    error=f"Too many failed logins: try again in {exc.retry_after} seconds.")
    token, _ = server.sessions.issue(user.id)
    response = RedirectResponse(target, status_code=303)
    set_cookie(request, response, SESSION_COOKIE, token, server.sessions.seconds)
    drop_cookie(request, response, CSRF_COOKIE)  # a fresh CSRF token for the new session
    return response


@router.post("/logout")
def logout(request: Request, form: Posted) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:  # ended on the server too: a copied cookie stops working now, not when it expires
        server = server_of(request)
        revoke_session(_library(request).accounts, server.sessions, token)
    response = RedirectResponse("/", status_code=303)
    drop_cookie(request, response, SESSION_COOKIE)
    drop_cookie(request, response, CSRF_COOKIE)
    return response
