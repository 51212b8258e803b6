"""Answers on the web pages: reading the ask form, threads, and the answer's parts as HTML fragments.

An answer page is a list of parts (emergency, header, bottom line, each section, where sources
differ, words explained, references, closing). The page without JavaScript joins them; the
stream sends them one by one as ``fragment`` events, after ``stage`` events that say what the
pipeline is doing. Both render the same macros of ``_answer.html``.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

from fastapi import Request
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from medora.answer.compose import MAX_QUESTION_CHARS, answer_question
from medora.api import thread_owners
from medora.api.context import Libraries, Library, server_of
from medora.api.metrics import record_answer
from medora.api.routes_ask import answer_events
from medora.api.schemas import AskRequest
from medora.models import Answer, CrisisContact, Emergency
from medora.publish import articles, workflow
from medora.publish.database import transaction
from medora.publish.errors import InvalidInput
from medora.safety import check_red_flags, redact_phi
from medora.web.pages import macro
from medora.web.session import CSRF_COOKIE, Form, Visitor
from medora.web.view import AnswerView, answer_view

THREAD_ID = re.compile(r"[0-9a-f]{16}")
_PARTS = "_answer.html"


@dataclass(frozen=True)
class Review:
    """The review status shown in an answer's header; ``state`` None: composed now, never reviewed."""

    state: str | None = None
    approved_by: str | None = None
    approved_at: str | None = None
    slug: str | None = None


@dataclass(frozen=True)
class FollowUp:
    """What the follow-up forms carry: the thread to continue, or the question a new thread starts from."""

    thread: str = ""
    after: str = ""


def question_of(form: Form) -> str:
    """The question asked: an example button's, else the text box's."""
    question = " ".join((form.get("example") or form.get("question") or "").split())
    if not question:
        raise InvalidInput("Type a question first.")
    if len(question) > MAX_QUESTION_CHARS:
        raise InvalidInput(f"Your question is too long: keep it under {MAX_QUESTION_CHARS:,} characters.")
    return question


def thread_owner(request: Request, who: Visitor) -> str:
    """Who a thread opened on these pages belongs to: the signed-in user, else this browser (its CSRF cookie)."""
    return thread_owners.owner_key(who.principal, request.cookies.get(CSRF_COOKIE) or who.new_csrf_cookie)


def thread_of(library: Library, request: Request, form: Form, audience: str, owner: str) -> str:
    """The thread to answer in: the one the form continues (if ``owner`` opened it), else one opened by the
    question it follows, else new."""
    thread = form.get("thread", "")
    if THREAD_ID.fullmatch(thread):
        thread_owners.check(library.store, thread, owner)
        return thread
    after = " ".join(form.get("after", "").split())[:MAX_QUESTION_CHARS]
    if after:  # a follow-up to a published article: its question opens the thread
        opened = answer_question(library.store, after, server_of(request).settings, audience=audience,
                                 retriever=library.retriever, thread="new")
        if opened.thread_id:
            thread_owners.bind(library.store, opened.thread_id, owner)
        return opened.thread_id or "new"
    return "new"


def published_slug(library: Library, question: str) -> str | None:
    """The slug of the published article for this question, if there is one."""
    with transaction(library.store, write=False) as db:
        found = articles.find_by_question(db, question)
    if found is None or found.approved_version is None or found.state == workflow.RETIRED:
        return None
    return found.slug


def _published_slug_here(libraries: Libraries, question: str) -> str | None:
    """``published_slug`` with the calling worker thread's own library connection."""
    return published_slug(libraries.local(), question)


def early_emergency(question: str) -> Emergency | None:
    """The emergency notice for a question, before anything else runs (as ``answer_question`` builds it)."""
    flags = check_red_flags(redact_phi(question).search_text())
    if not flags.triggered:
        return None
    return Emergency(categories=flags.categories, notice=flags.notice,
                     crisis=[CrisisContact(name=c.name, contact=c.contact, region=c.region) for c in flags.crisis])


def parts(view: AnswerView, who: Visitor, review: Review, follow: FollowUp, *, published: str | None = None,
          emergency: bool = True) -> list[Markup]:
    """The answer's parts in reading order (``emergency`` False: it was already sent)."""
    answer = view.answer
    out = [macro(_PARTS, "emergency", answer.emergency)] if emergency and answer.emergency else []
    out.append(macro(_PARTS, "header", view, review, published))
    out.append(macro(_PARTS, "bottom_line", view))
    out += [macro(_PARTS, "section", section) for section in view.sections]
    if view.differences:
        out.append(macro(_PARTS, "differences", view))
    if answer.glossary:
        out.append(macro(_PARTS, "glossary", answer))
    out.append(macro(_PARTS, "closing", view, who, follow))
    return out


def stage_text(stage: dict) -> str:
    """What a pipeline stage means, in words."""
    match stage.get("stage"):
        case "understand":
            return "Reading your question…"
        case "retrieve":
            return f"Searched the library: {stage.get('passages', 0)} passages found. Choosing what answers you…"
        case "compose":
            return (f"Answer ready: {stage.get('statements', 0)} statements quoted from "
                    f"{stage.get('references', 0)} sources.")
    return "Working…"


def sse(event: str, data: dict) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


async def stream(request: Request, who: Visitor, body: AskRequest, owner: str) -> AsyncIterator[bytes]:
    """The answer as events: the emergency notice at once, stages, the answer's parts, then ``done``."""
    libraries = server_of(request).libraries
    emergency = early_emergency(body.question)
    if emergency:
        yield sse("fragment", {"html": str(macro(_PARTS, "emergency", emergency))})
    async for event, data in answer_events(server_of(request), body, owner):
        if event == "stage":
            yield sse("stage", {"text": stage_text(data)})
        elif event == "answer":
            published = await run_in_threadpool(_published_slug_here, libraries, data.question)
            for part in parts(answer_view(data), who, Review(), FollowUp(thread=data.thread_id or ""),
                              published=published, emergency=emergency is None):
                yield sse("fragment", {"html": str(part)})
        else:
            yield sse("error", {"message": data.get("detail") or data.get("title", "Something went wrong.")})
    yield sse("done", {})


def answer_now(library: Library, request: Request, question: str, audience: str, thread: str,
               owner: str) -> Answer:
    answer = answer_question(library.store, question, server_of(request).settings, audience=audience,
                             retriever=library.retriever, thread=thread)
    if thread == "new" and answer.thread_id:
        thread_owners.bind(library.store, answer.thread_id, owner)
    record_answer(answer)
    return answer
