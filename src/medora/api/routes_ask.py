"""``POST /v1/ask``: a cited answer as JSON, or streamed as Server-Sent Events.

With ``Accept: text/event-stream`` (or at ``/v1/ask/stream``) the response is an event stream:
``stage`` events as the pipeline advances (``understand``: the question type and planned
sections; ``retrieve``: mode, passages found, milliseconds; ``compose``: status and counts), then
``answer`` with the same JSON as the plain endpoint, then ``done``. A failure after the stream has
started arrives as an ``error`` event carrying a problem object. ``answer_events`` yields the same
events as Python objects, for the web pages that render them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from medora.answer.compose import answer_question
from medora.api import problems, thread_owners
from medora.api.auth import Principal, client_address, principal
from medora.api.thread_owners import owner_key
from medora.api.context import Server, server_of
from medora.api.metrics import record_answer
from medora.api.schemas import AskRequest
from medora.errors import LibraryError, MedoraError
from medora.models import Answer
from medora.retrieve.search import Retrieval, Retriever
from medora.retrieve.understand import classify

log = logging.getLogger("medora.api")
EVENT_STREAM = "text/event-stream"
Emit = Callable[[str, dict[str, Any]], None]
Caller = Annotated[Principal, Depends(principal)]

router = APIRouter(prefix="/v1", tags=["ask"], responses=problems.responses(400, 401, 403, 413, 422, 429, 500, 503))

_EVENT = {"type": "object", "required": ["event", "data"], "properties": {
    "event": {"type": "string", "enum": ["stage", "answer", "error", "done"]},
    "data": {"type": "string", "description": "JSON: a stage, the Answer, a Problem, or {}"}}}
_STREAM_DOC = {"description": "The answer stream (events: stage…, answer, done; or error)",
               "content": {EVENT_STREAM: {"itemSchema": _EVENT}}}


class _ReportingRetriever:
    """Passes searches to the thread's retriever and reports each finished retrieval as a stage."""

    def __init__(self, retriever: Retriever, emit: Emit):
        self.retriever, self.emit = retriever, emit

    def search(self, question: str, **options: Any) -> Retrieval:
        started = time.perf_counter()
        result = self.retriever.search(question, **options)
        self.emit("stage", {"stage": "retrieve", "mode": result.mode, "passages": len(result.hits),
                            "ms": round((time.perf_counter() - started) * 1000, 2)})
        return result


def _answer(server: Server, body: AskRequest, emit: Emit | None = None, owner: str | None = None) -> Answer:
    """Answer on this worker thread, with its own library connection; ``owner`` opens or continues threads."""
    library = server.libraries.local()
    if body.thread not in (None, "new"):
        thread_owners.check(library.store, body.thread, owner or "")
    retriever = _ReportingRetriever(library.retriever, emit) if emit else library.retriever
    settings = (server.settings if body.live is None
                else server.settings.model_copy(update={"live": "on" if body.live else "off"}))
    answer = answer_question(library.store, body.question, settings, audience=body.audience,
                             retriever=retriever, thread=body.thread)  # type: ignore[arg-type]
    if body.thread == "new" and answer.thread_id and owner:
        thread_owners.bind(library.store, answer.thread_id, owner)
    record_answer(answer)
    return answer


async def _check_thread(server: Server, body: AskRequest, owner: str) -> None:
    """Before a stream starts (a 404 cannot come later): the thread to continue must be the caller's."""
    if body.thread not in (None, "new"):
        await run_in_threadpool(lambda: thread_owners.check(server.libraries.local().store, body.thread, owner))


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def _failure(exc: Exception) -> dict[str, Any]:
    if isinstance(exc, LibraryError):
        return problems.problem_body("unavailable", str(exc))
    if isinstance(exc, MedoraError):
        return problems.problem_body("invalid-input", str(exc))
    log.error("unexpected error while streaming an answer", exc_info=exc)
    return problems.problem_body("server-error")


async def answer_events(server: Server, body: AskRequest, owner: str | None = None,
                        ) -> AsyncIterator[tuple[str, Any]]:
    """The pipeline's events as it runs: ``stage`` dicts, then ``answer`` (an ``Answer``) or ``error`` (a problem)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any] | None] = asyncio.Queue()

    def emit(event: str, data: Any) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, (event, data))

    def work() -> None:
        try:
            answer = _answer(server, body, emit, owner)
            emit("stage", {"stage": "compose", "status": answer.status, "statements": len(answer.statements()),
                           "references": len(answer.references)})
            emit("answer", answer)
        except Exception as exc:  # the stream has started: report it as an event
            emit("error", _failure(exc))
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, None)

    kind = classify(body.question)
    yield "stage", {"stage": "understand", "question_type": kind.kind, "sections": list(kind.plan)}
    worker = asyncio.ensure_future(run_in_threadpool(work))
    while (item := await queue.get()) is not None:
        yield item
    await worker


async def _events(server: Server, body: AskRequest, owner: str) -> AsyncIterator[bytes]:
    async for event, data in answer_events(server, body, owner):
        yield _sse(event, data.model_dump(mode="json", by_alias=True) if isinstance(data, Answer) else data)
    yield _sse("done", {})


def _stream(server: Server, body: AskRequest, owner: str) -> StreamingResponse:
    return StreamingResponse(_events(server, body, owner), media_type=EVENT_STREAM,
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.post("/ask", response_model=Answer, summary="Answer a question",
             responses={200: {**_STREAM_DOC, "description": "The answer; with Accept: text/event-stream, its stream"}})
async def ask(body: AskRequest, request: Request, caller: Caller) -> Any:
    """A cited answer article (schema ``medora.answer/1``); an event stream with ``Accept: text/event-stream``."""
    caller.require("ask")
    server = server_of(request)
    owner = owner_key(caller, client_address(request))
    if EVENT_STREAM in request.headers.get("accept", ""):
        await _check_thread(server, body, owner)
        return _stream(server, body, owner)
    return await run_in_threadpool(_answer, server, body, None, owner)


@router.post("/ask/stream", response_class=StreamingResponse, responses={200: _STREAM_DOC},
             summary="Answer a question, streamed as Server-Sent Events")
async def ask_stream(body: AskRequest, request: Request, caller: Caller) -> StreamingResponse:
    caller.require("ask")
    server, owner = server_of(request), owner_key(caller, client_address(request))
    await _check_thread(server, body, owner)
    return _stream(server, body, owner)
