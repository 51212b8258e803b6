"""Per-client rate limits: a token bucket for each verified credential, else for each client address.

A bucket holds up to ``burst`` requests and refills at ``rate`` per second; a request that finds
it empty is answered 429 (problem+json) with ``Retry-After``: the whole seconds until it would be
allowed. Tokens are keyed by their sha256, never stored as such, and only once verified
(``CredentialCheck``): any other ``Authorization`` value counts against the client's address, so
inventing bearer values does not buy fresh buckets. Two stores hold the buckets:

* ``TokenBuckets``: in this process's memory (one worker on SQLite), least recently used first out
  beyond ``max_clients`` (an evicted client simply starts with a full bucket).
* ``SharedBuckets``: the library's ``rate_limits`` table, read and written in one transaction per
  request with wall-clock time, so several workers or hosts enforce one limit in total. Rows of
  buckets that would have refilled completely are pruned now and then (they mean "full").

Probes (``/v1/health``, ``/v1/ready``, ``/metrics``) are not limited: a load balancer or Prometheus
polls them from one address, and liveness must not depend on the database the shared buckets live in.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from medora.api.problems import problem
from medora.errors import LibraryError
from medora.publish.database import transaction


def _spend(tokens: float, at: float, now: float, rate: float, burst: float) -> tuple[float, float]:
    """(tokens left, seconds to wait) after one request at ``now`` on a bucket holding ``tokens`` at ``at``."""
    tokens = min(burst, tokens + max(0.0, now - at) * rate)
    if tokens >= 1.0:
        return tokens - 1.0, 0.0
    return tokens, (1.0 - tokens) / rate


class Buckets(Protocol):
    rate: float
    blocking: ClassVar[bool]  # True: ``take`` does I/O and must run on a worker thread

    def take(self, key: str) -> float: ...


class TokenBuckets:
    """Token buckets by client key in memory; ``take`` answers how long to wait (0: go ahead)."""

    blocking: ClassVar[bool] = False

    def __init__(self, rate: float, burst: int, *, max_clients: int = 10_000,
                 clock: Callable[[], float] = time.monotonic):
        self.rate, self.burst, self.max_clients, self.clock = rate, float(burst), max_clients, clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Spend one request from ``key``'s bucket: 0.0 when allowed, else the seconds until it would be."""
        with self._lock:
            now = self.clock()
            tokens, at = self._buckets.pop(key, (self.burst, now))
            left, wait = _spend(tokens, at, now, self.rate, self.burst)
            self._buckets[key] = (left, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
            return wait


_BUCKET = "SELECT tokens, updated_at FROM rate_limits WHERE key = ?"


class SharedBuckets:
    """Token buckets in the ``rate_limits`` table of the library ``store()`` returns (the calling thread's)."""

    blocking: ClassVar[bool] = True

    def __init__(self, store: Callable[[], Any], rate: float, burst: int, *,
                 clock: Callable[[], float] = time.time, prune_every: int = 1000):
        self.store, self.rate, self.burst, self.clock = store, rate, float(burst), clock
        self.prune_every = prune_every
        self._takes = itertools.count(1)

    def take(self, key: str) -> float:
        """As ``TokenBuckets.take``; one short write transaction (``LibraryError`` when the library is busy)."""
        with transaction(self.store(), exclusive=False) as db:  # the bucket's row lock is enough
            db.execute("INSERT INTO rate_limits(key, tokens, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) DO NOTHING",
                       (key, self.burst, self.clock()))
            row = db.execute(_BUCKET + (" FOR UPDATE" if db.postgres else ""), (key,)).fetchone()  # SQLite: one writer
            now = self.clock()  # read once the row is ours: a waiter never goes back in time
            tokens, at = (self.burst, now) if row is None else (row[0], row[1])  # None: pruned meanwhile
            left, wait = _spend(tokens, at, now, self.rate, self.burst)
            db.execute("INSERT INTO rate_limits(key, tokens, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) "
                       "DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at", (key, left, now))
            if next(self._takes) % self.prune_every == 0:
                db.execute("DELETE FROM rate_limits WHERE updated_at < ?", (now - self.burst / self.rate,))
        return wait


def bearer_of(scope: Scope) -> str | None:
    """The bearer token of the request's ``Authorization`` header, if it has one."""
    scheme, _, token = Headers(scope=scope).get("authorization", "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def address_key(scope: Scope) -> str:
    """``ip:<address>``: the client's address (a trusted proxy's ``X-Forwarded-For`` already applied by uvicorn)."""
    client = scope.get("client")
    return f"ip:{client[0] if client else 'unknown'}"


def client_key(scope: Scope, verified: Callable[[str], bool] = lambda token: False) -> str:
    """``token:<sha256 prefix>`` for a bearer token that ``verified`` accepts, else ``ip:<address>``.

    Only verified credentials get a bucket of their own: an invented ``Bearer`` value is counted
    against its sender's address, like a request without one.
    """
    token = bearer_of(scope)
    if token is not None and verified(token):
        return "token:" + hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()[:32]
    return address_key(scope)


class CredentialCheck:
    """Whether a bearer value is a real credential: a login token with a valid signature, or an API token
    the library holds and has not revoked (looked up read-only; answers are cached for ``ttl`` seconds)."""

    blocking: ClassVar[bool] = True

    def __init__(self, session_valid: Callable[[str], bool], store: Callable[[], Any], *, ttl: float = 30.0,
                 max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic):
        self.session_valid, self.store, self.ttl, self.clock = session_valid, store, ttl, clock
        self.max_entries = max_entries
        self._seen: OrderedDict[str, tuple[bool, float]] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, token: str) -> bool:
        if token.startswith("mds_"):
            return self.session_valid(token)
        digest = hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()
        now = self.clock()
        with self._lock:
            cached = self._seen.get(digest)
            if cached is not None and cached[1] > now:
                return cached[0]
        with transaction(self.store(), write=False) as db:
            valid = db.execute("SELECT 1 FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL",
                               (digest,)).fetchone() is not None
        with self._lock:
            self._seen[digest] = (valid, now + self.ttl)
            self._seen.move_to_end(digest)
            while len(self._seen) > self.max_entries:
                self._seen.popitem(last=False)
        return valid


PROBES = frozenset({"/v1/health", "/v1/ready", "/metrics"})


class RateLimitMiddleware:
    """ASGI middleware answering 429 to clients over their rate (503 when shared buckets cannot be read)."""

    def __init__(self, app: ASGIApp, buckets: Buckets, verified: Callable[[str], bool] | None = None):
        self.app = app
        self.buckets = buckets
        self.verified = verified or (lambda token: False)

    def _key_and_take(self, scope: Scope) -> float:
        return self.buckets.take(client_key(scope, self.verified))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path") not in PROBES:
            try:
                wait = await run_in_threadpool(self._key_and_take, scope)
            except LibraryError as exc:
                await problem("unavailable", str(exc), headers={"Retry-After": "1"})(scope, receive, send)
                return
            if wait > 0:
                seconds = max(1, math.ceil(wait))
                response = problem("rate-limited", f"over {self.buckets.rate:g} requests per second; "
                                   f"retry in {seconds} s", headers={"Retry-After": str(seconds)})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
