"""Per-client rate limits: a token bucket for each bearer token, or for each client address without one.

A bucket holds up to ``burst`` requests and refills at ``rate`` per second; a request that finds
it empty is answered 429 (problem+json) with ``Retry-After``: the whole seconds until it would be
allowed. Buckets live in memory, least recently used first out beyond ``max_clients`` (an evicted
client simply starts with a full bucket). Tokens are keyed by their sha256, never stored as such.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from medora.api.problems import problem


class TokenBuckets:
    """Token buckets by client key; ``take`` answers how long to wait (0: go ahead)."""

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
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            allowed = tokens >= 1.0
            self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
            return 0.0 if allowed else (1.0 - tokens) / self.rate


def client_key(scope: Scope) -> str:
    """``token:<sha256 prefix>`` for a bearer token, else ``ip:<address>``."""
    authorization = Headers(scope=scope).get("authorization", "")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return "token:" + hashlib.sha256(token.strip().encode("utf-8", "replace")).hexdigest()[:32]
    client = scope.get("client")
    return f"ip:{client[0] if client else 'unknown'}"


class RateLimitMiddleware:
    """ASGI middleware answering 429 to clients over their rate."""

    def __init__(self, app: ASGIApp, buckets: TokenBuckets):
        self.app = app
        self.buckets = buckets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            wait = self.buckets.take(client_key(scope))
            if wait > 0:
                seconds = max(1, math.ceil(wait))
                response = problem("rate-limited", f"over {self.buckets.rate:g} requests per second; "
                                   f"retry in {seconds} s", headers={"Retry-After": str(seconds)})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
