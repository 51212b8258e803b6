"""Prometheus metrics and the per-request observer (request id, access log, latency).

Metrics (``GET /metrics``, text exposition format):

* ``medora_http_request_duration_seconds{method,route,status}``: by route template
  (``/v1/articles/{slug}``), never the raw path; ``unmatched`` for unknown paths; methods outside
  the standard ones count as ``other``, so a client cannot mint label series.
* ``medora_answers_total{audience,status}`` and ``medora_abstentions_total{audience}`` (answers
  withheld for insufficient evidence).
* ``medora_answer_stage_seconds{stage}``: the stage timings each answer carries
  (``retrieve``, ``retrieve.<step>``, ``select``, ``compose``, ``total``).
* Live evidence (defined beside their clients, ``sources/online/``): ``medora_live_requests_total
  {service,outcome}`` (ok, retry, failed), ``medora_live_request_seconds{service}`` and
  ``medora_live_searches_total{outcome}`` (finished, unfinished, failed).

Under ``medora serve`` every worker writes its samples to files in ``PROMETHEUS_MULTIPROC_DIR``
(a temporary folder the parent creates and removes) and ``/metrics`` sums all workers' files, so
the totals are the same whichever worker answers. Without that variable (one app in a process),
the process's default registry is exposed.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import time
import uuid

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from medora.api.logs import REDACTED, REQUEST_ID
from medora.models import Answer

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
REQUEST_ID_HEADER = "x-request-id"
WORKER_HEADER = "x-medora-worker"
_GOOD_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: Which worker answered (``x-medora-worker``, ``/v1/ready``): random per process, so it tells workers
#: apart without revealing process ids.
WORKER_ID = secrets.token_hex(6)
_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REQUEST_SECONDS = Histogram("medora_http_request_duration_seconds", "Request latency by route template",
                            ["method", "route", "status"], buckets=_SECONDS)
ANSWERS = Counter("medora_answers", "Answers composed, by audience and status", ["audience", "status"])
ABSTENTIONS = Counter("medora_abstentions", "Answers withheld for insufficient evidence, by audience",
                      ["audience"])
STAGE_SECONDS = Histogram("medora_answer_stage_seconds", "Answer pipeline latency by stage (retrieve.* for "
                          "retrieval steps)", ["stage"], buckets=_SECONDS)

access_log = logging.getLogger("medora.access")
answer_log = logging.getLogger("medora.api")


def record_answer(answer: Answer) -> None:
    """Count an answer and its stage timings, and log it with the question's length (never its text)."""
    ANSWERS.labels(answer.audience, answer.status).inc()
    if answer.status == "insufficient_evidence":
        ABSTENTIONS.labels(answer.audience).inc()
    for stage, ms in answer.timings_ms.items():
        STAGE_SECONDS.labels(stage).observe(ms / 1000)
    answer_log.info("answer %s for %s: question of %d characters, %.0f ms", answer.status, answer.audience,
                    len(answer.question), answer.timings_ms.get("total", 0.0))


def exposition() -> tuple[bytes, str]:
    """The metrics page and its content type: every worker's samples under ``medora serve``."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def route_template(scope: Scope) -> str:
    """The matched route's path template, ``<mount>/{path}`` for a mounted app, or ``unmatched``."""
    path = getattr(scope.get("route"), "path_format", None)
    if isinstance(path, str):
        return path
    if "endpoint" in scope:  # a mount (static files) sets its endpoint and root path, not a route
        return scope.get("root_path", "") + "/{path}"
    return "unmatched"


def logged_path(scope: Scope) -> str:
    """The request path with every query value replaced by ``[redacted]`` (questions and tokens stay out)."""
    query = scope.get("query_string", b"").decode("latin-1")
    names = [part.partition("=")[0] for part in query.split("&") if part]
    return scope["path"] + ("?" + "&".join(f"{name}={REDACTED}" for name in names) if names else "")


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER.encode() and _GOOD_REQUEST_ID.fullmatch(value.decode("latin-1")):
            return value.decode("latin-1")
    return uuid.uuid4().hex


class ObserveMiddleware:
    """Outermost middleware: request id (echoed or made), opaque worker id header, latency metric, access log."""

    def __init__(self, app: ASGIApp, access: bool = True):
        self.app, self.access = app, access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        token = REQUEST_ID.set(request_id)
        started, status = time.perf_counter(), 500

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = request_id
                headers[WORKER_HEADER] = WORKER_ID
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            self._observe(scope, status, time.perf_counter() - started)
            REQUEST_ID.reset(token)

    def _observe(self, scope: Scope, status: int, seconds: float) -> None:
        method = scope["method"] if scope["method"] in METHODS else "other"
        REQUEST_SECONDS.labels(method, route_template(scope), str(status)).observe(seconds)
        if self.access:
            client = scope.get("client")
            path, ms = logged_path(scope), round(seconds * 1000, 2)
            access_log.info('%s - "%s %s" %d %.1f ms', client[0] if client else "-", scope["method"], path, status,
                            ms, extra={"method": scope["method"], "path": path, "status": status, "duration_ms": ms})
