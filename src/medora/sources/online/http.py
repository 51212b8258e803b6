"""HTTP for outside web services (NCBI E-utilities, openFDA): pacing, retries, deadlines, clear errors.

* One rate limiter per host, shared by every client in the process (``limiter_for``): request
  starts to a host are spaced ``1/per_second`` apart, whichever thread sends them.
* Retries with exponential backoff and jitter on 429, 5xx, timeouts, refused connections and
  truncated bodies, honouring ``Retry-After`` (seconds or an HTTP date).
* A ``Deadline`` bounds a whole operation: no request starts, and no wait is begun, that cannot
  finish before it; each socket read is bounded by what is left.
* Final failures are ``ServiceError`` subclasses with one line naming the service and the reason.
* Logs name the host, path, status, attempt and time — never the query string (it holds the
  search text) nor an API key. Prometheus counters: ``medora_live_requests_total{service,outcome}``
  and ``medora_live_request_seconds{service}``.
"""

from __future__ import annotations

import email.utils
import http.client
import logging
import os
import random
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from prometheus_client import Counter, Histogram

from medora import __version__
from medora.errors import SourceError

log = logging.getLogger("medora.online")

USER_AGENT = f"medora/{__version__} (Medora clinical evidence engine; https://pypi.org/project/medora/)"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
CHUNK_BYTES = 64 * 1024
MAX_RETRY_AFTER_S = 120.0  # a server asking for a longer wait is treated as a failure

REQUESTS = Counter("medora_live_requests", "Requests to outside services, by service and outcome "
                   "(ok, retry, failed)", ["service", "outcome"])
REQUEST_SECONDS = Histogram("medora_live_request_seconds", "Latency of requests to outside services",
                            ["service"], buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))


class ServiceError(SourceError):
    """An outside service could not give an answer; the message names the service and why."""

    def __init__(self, service: str, reason: str):
        self.service, self.reason = service, " ".join(str(reason).split())
        super().__init__(f"{service}: {self.reason}")


class ServiceUnavailable(ServiceError):
    """The service failed (HTTP error, network trouble, truncated body) after every retry."""


class DeadlineExceeded(ServiceError):
    """The operation's deadline passed (or a requested wait would pass it) before the service answered."""


class BadResponse(ServiceError):
    """The service answered, but with something unusable (malformed XML/JSON, an error element)."""


class Deadline:
    """A point in time an operation must finish by (``None`` seconds: no limit)."""

    def __init__(self, seconds: float | None):
        self.seconds = seconds
        self.ends = None if seconds is None else time.monotonic() + seconds

    def remaining(self) -> float:
        return float("inf") if self.ends is None else self.ends - time.monotonic()

    def expired(self) -> bool:
        return self.remaining() <= 0


PACING_MARGIN = 1.1  # starts are spaced 10% wider than the rate, so network jitter never makes the server
# see more than ``per_second`` requests in any one second


class RateLimiter:
    """Spaces request starts to one host at least ``PACING_MARGIN/per_second`` apart (thread-safe)."""

    def __init__(self, per_second: float):
        self.interval = PACING_MARGIN / per_second
        self._next = 0.0
        self._lock = threading.Lock()

    def set_rate(self, per_second: float) -> None:
        with self._lock:
            self.interval = PACING_MARGIN / per_second

    def acquire(self, deadline: Deadline, service: str) -> None:
        """Wait for this caller's slot; DeadlineExceeded (taking no slot) when it comes too late."""
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            if start - now >= deadline.remaining():
                raise DeadlineExceeded(service, "deadline reached while waiting for the request rate limit")
            self._next = start + self.interval
        if start > now:
            time.sleep(start - now)


_LIMITERS: dict[str, RateLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def limiter_for(host: str, per_second: float) -> RateLimiter:
    """The process's one limiter for ``host``, at ``per_second`` (the latest caller's rate wins)."""
    with _LIMITERS_LOCK:
        limiter = _LIMITERS.get(host)
        if limiter is None:
            limiter = _LIMITERS[host] = RateLimiter(per_second)
        elif abs(limiter.interval - PACING_MARGIN / per_second) > 1e-9:
            limiter.set_rate(per_second)
        return limiter


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass
class Response:
    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    size: int = 0  # bytes received (for a download streamed to a file, where ``body`` stays empty)

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class _Transient(Exception):
    """One attempt failed in a way worth retrying; ``wait`` is the server's Retry-After, if any."""

    def __init__(self, reason: str, wait: float | None = None):
        super().__init__(reason)
        self.reason, self.wait = reason, wait


@dataclass
class HttpClient:
    """GETs to one outside service. ``per_second`` paces request starts per host (shared limiter)."""

    service: str
    per_second: float = 3.0
    timeout_s: float = 15.0
    attempts: int = 4
    backoff_s: float = 0.5
    max_bytes: int = 64 * 1024 * 1024
    headers: dict[str, str] = field(default_factory=dict)
    sleep: Callable[[float], None] = time.sleep

    def get(self, url: str, params: Mapping[str, object] | None = None, *, deadline: Deadline | None = None,
            accept: tuple[int, ...] = ()) -> Response:
        """The 200 response (or one whose status is in ``accept``, e.g. openFDA's 404 "No matches")."""
        full = with_query(url, params)
        result: list[Response] = []

        def attempt(deadline: Deadline) -> None:
            result.append(self._fetch(full, deadline, accept))

        self._retrying(full, deadline or Deadline(None), attempt)
        return result[-1]

    def download(self, url: str, dest: Path, *, check: Callable[[Path, int], None] | None = None,
                 deadline: Deadline | None = None) -> int:
        """Stream ``url`` into ``dest`` through a temporary file beside it; ``check(tmp, size)`` may raise
        to refuse it. Only a complete, checked file is moved into place. Returns its size."""
        dest.parent.mkdir(parents=True, exist_ok=True)

        def attempt(deadline: Deadline) -> None:
            fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
            tmp = Path(name)
            try:
                with os.fdopen(fd, "wb") as out:
                    size = self._fetch(url, deadline, (), out=out).size
                if check is not None:
                    check(tmp, size)
                os.replace(tmp, dest)
            finally:
                tmp.unlink(missing_ok=True)

        self._retrying(url, deadline or Deadline(None), attempt)
        return dest.stat().st_size

    # ------------------------------------------------------------------ internals

    def _retrying(self, url: str, deadline: Deadline, attempt: Callable[[Deadline], None]) -> None:
        parts = urllib.parse.urlsplit(url)
        limiter = limiter_for(parts.netloc, self.per_second)
        where = f"{parts.netloc}{parts.path}"  # never the query: it holds the search text and keys
        last = "no attempt made"
        for n in range(1, self.attempts + 1):
            if deadline.expired():
                raise DeadlineExceeded(self.service, f"deadline reached before {where} answered ({last})")
            limiter.acquire(deadline, self.service)
            started = time.perf_counter()
            try:
                attempt(deadline)
            except _Transient as exc:
                last = exc.reason
                elapsed = time.perf_counter() - started
                REQUEST_SECONDS.labels(self.service).observe(elapsed)
                log.info("%s: GET %s attempt %d failed (%s) after %.0f ms", self.service, where, n, exc.reason,
                         elapsed * 1000)
                if n == self.attempts:
                    break
                wait = self.backoff_s * 2 ** (n - 1) * (1 + random.random())
                if exc.wait is not None:
                    if exc.wait > MAX_RETRY_AFTER_S:
                        break
                    wait = max(wait, exc.wait)
                if wait >= deadline.remaining():
                    REQUESTS.labels(self.service, "failed").inc()
                    raise DeadlineExceeded(self.service, f"{where}: {last}; the next try (in {wait:.1f} s) "
                                           "would pass the deadline")
                REQUESTS.labels(self.service, "retry").inc()
                self.sleep(wait)
                continue
            except ServiceError:
                REQUESTS.labels(self.service, "failed").inc()
                REQUEST_SECONDS.labels(self.service).observe(time.perf_counter() - started)
                raise
            elapsed = time.perf_counter() - started
            REQUESTS.labels(self.service, "ok").inc()
            REQUEST_SECONDS.labels(self.service).observe(elapsed)
            log.debug("%s: GET %s ok in %.0f ms", self.service, where, elapsed * 1000)
            return
        REQUESTS.labels(self.service, "failed").inc()
        raise ServiceUnavailable(self.service, f"{where} failed after {n} attempt{'s' if n > 1 else ''}: {last}")

    def _fetch(self, url: str, deadline: Deadline, accept: tuple[int, ...], out=None) -> Response:
        """One attempt. With ``out``, the body is streamed there instead of kept in the Response."""
        timeout = min(self.timeout_s, max(0.05, deadline.remaining()))
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **self.headers})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                body, size = self._read(response, deadline, out)
                return Response(url, response.status, dict(response.headers), body, size)
        except urllib.error.HTTPError as exc:
            try:
                body = exc.read(1024 * 1024)
            except (OSError, http.client.HTTPException):
                body = b""
            finally:
                exc.close()
            if exc.code in accept:
                return Response(url, exc.code, dict(exc.headers or {}), body)
            if exc.code in RETRY_STATUSES:
                raise _Transient(f"HTTP {exc.code}", retry_after_seconds((exc.headers or {}).get("Retry-After")))
            raise ServiceUnavailable(self.service, f"HTTP {exc.code} {exc.reason} from "
                                     f"{urllib.parse.urlsplit(url).netloc}") from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, (TimeoutError, socket.timeout)):
                raise _Transient(f"no answer within {timeout:.1f} s") from None
            raise _Transient(f"cannot connect ({exc.reason})") from None
        except (TimeoutError, socket.timeout):
            raise _Transient(f"no answer within {timeout:.1f} s") from None
        except http.client.IncompleteRead as exc:
            raise _Transient(f"truncated body (connection closed after {len(exc.partial):,} bytes)") from None
        except (http.client.HTTPException, ConnectionError) as exc:
            raise _Transient(f"connection failed ({type(exc).__name__})") from None

    def _read(self, response, deadline: Deadline, out) -> tuple[bytes, int]:
        expected = response.headers.get("Content-Length")
        expected = int(expected) if expected and expected.strip().isdigit() else None
        chunks: list[bytes] = []
        size = 0
        while True:
            left = deadline.remaining()
            if left <= 0:
                raise DeadlineExceeded(self.service, f"deadline reached while reading the body ({size:,} bytes read)")
            _set_read_timeout(response, min(self.timeout_s, left))
            chunk = response.read(CHUNK_BYTES)
            if not chunk:
                break
            size += len(chunk)
            if out is not None:
                out.write(chunk)
            else:
                if size > self.max_bytes:
                    raise ServiceUnavailable(self.service, f"response larger than {self.max_bytes:,} bytes")
                chunks.append(chunk)
        if expected is not None and size != expected:
            raise _Transient(f"truncated body ({size:,} of {expected:,} bytes)")
        return b"".join(chunks), size


def _set_read_timeout(response, seconds: float) -> None:
    """Bound the next socket read by ``seconds`` (the deadline's remainder), where the socket is reachable."""
    sock = getattr(getattr(getattr(response, "fp", None), "raw", None), "_sock", None)
    if sock is not None:
        try:
            sock.settimeout(max(0.05, seconds))
        except OSError:
            pass


def with_query(url: str, params: Mapping[str, object] | None) -> str:
    """``url`` with ``params`` added as its query string (None and empty values left out)."""
    if not params:
        return url
    pairs = [(k, str(v)) for k, v in params.items() if v is not None and v != ""]
    return url + ("&" if "?" in url else "?") + urllib.parse.urlencode(pairs)
