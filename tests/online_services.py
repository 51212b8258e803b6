"""A loopback stand-in for NCBI E-utilities and openFDA that replays real recorded responses.

E-utilities answers come from ``../shared/data/recorded/eutils`` as NCBI served them; openFDA
``/drug/label.json`` searches run over the 363 recorded label responses in
``sources/openfda-labels`` and are answered in the API's shape (``meta.results`` skip/limit/total,
paging, the 404 "No matches found"); ``/download.json`` lists bulk parts zipped from those labels.
Faults are queued per path (``server.fault("/drug/label.json", "429")``) and each consumed by one
request: ``hang`` (no answer for ``hang_s``), ``429`` (with Retry-After), ``500``, ``truncate`` (a
body shorter than its Content-Length), ``cut`` (a body cut short but with a matching length), or
a callable returning (status, headers, body). Every request is logged with its arrival time.
"""

from __future__ import annotations

import io
import json
import tarfile
import threading
import time
import zipfile
from dataclasses import dataclass
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from conftest import SHARED_DATA

EUTILS = SHARED_DATA / "recorded" / "eutils"
LABELS_TAR = SHARED_DATA / "sources" / "openfda-labels" / "openfda-labels-pharmgkb-2024-01-15.tar.gz"
NO_MATCHES = {"error": {"code": "NOT_FOUND", "message": "No matches found!"}}


@cache
def recorded_labels() -> tuple[dict, list[dict]]:
    """(meta of the first recorded response, every recorded label), read from the tarball."""
    meta, labels = None, []
    with tarfile.open(LABELS_TAR) as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            if not member.name.endswith(".json"):
                continue
            data = json.load(tar.extractfile(member))
            meta = meta or data["meta"]
            labels.extend(data.get("results") or [])
    return meta, labels


def labels_named(name: str, field: str = "generic_name") -> list[dict]:
    _, labels = recorded_labels()
    phrase = f" {' '.join(name.lower().split())} "  # openFDA matches a quoted phrase inside the analysed field
    return [lb for lb in labels
            if any(phrase in f" {' '.join(str(v).lower().split())} " for v in (lb.get("openfda") or {}).get(field, []))]


@dataclass
class Logged:
    at: float
    path: str
    params: dict[str, str]
    headers: dict[str, str]


class Services:
    """The server; ``url`` is its base. ``eutils`` maps an E-utility (esearch…) to the recorded file it serves."""

    def __init__(self, parts: int = 3, bulk_labels: int = 12, hang_s: float = 5.0):
        self.eutils = {"esearch": "esearch5.xml", "espell": "espell.xml", "efetch": "pubmed2.xml"}
        self.faults: dict[str, list] = {}
        self.log: list[Logged] = []
        self.hang_s = hang_s
        self.lock = threading.Lock()
        self.parts = _bulk_parts(parts, bulk_labels)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def fault(self, path: str, *faults) -> None:
        with self.lock:
            self.faults.setdefault(path, []).extend(faults)

    def requests(self, path: str) -> list[Logged]:
        return [r for r in self.log if r.path == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -------------------------------------------------------------- answers

    def answer(self, path: str, params: dict[str, str]) -> tuple[int, dict, bytes]:
        if path.startswith("/entrez/eutils/"):
            utility = path.rsplit("/", 1)[-1].removesuffix(".fcgi")
            name = self.eutils.get(utility)
            if name is None:
                return 404, {}, b"unknown utility"
            return 200, {"Content-Type": "text/xml; charset=UTF-8"}, (EUTILS / name).read_bytes()
        if path == "/drug/label.json":
            return self._labels(params)
        if path == "/download.json":
            partitions = [{"display_name": f"Drug labeling (part {i + 1} of {len(self.parts)})",
                           "file": f"{self.url}/parts/{name}", "size_mb": f"{len(data) / 2**20:.2f}",
                           "records": count} for i, (name, (data, count)) in enumerate(self.parts.items())]
            index = {"meta": {"last_updated": "2024-01-15"}, "results": {"drug": {"label": {
                "export_date": "2024-01-15", "total_records": sum(c for _, c in self.parts.values()),
                "partitions": partitions}}}}
            return 200, {"Content-Type": "application/json"}, json.dumps(index).encode()
        if path.startswith("/parts/") and path[7:] in self.parts:
            return 200, {"Content-Type": "application/zip"}, self.parts[path[7:]][0]
        return 404, {}, b"not found"

    def _labels(self, params: dict[str, str]) -> tuple[int, dict, bytes]:
        field, _, value = params.get("search", "").partition(":")
        field = field.removeprefix("openfda.")
        found = labels_named(value.strip('"'), field)
        skip, limit = int(params.get("skip", 0)), int(params.get("limit", 1))
        page = found[skip: skip + limit]
        if not page:
            return 404, {"Content-Type": "application/json"}, json.dumps(NO_MATCHES).encode()
        meta, _ = recorded_labels()
        body = {"meta": {**meta, "results": {"skip": skip, "limit": limit, "total": len(found)}}, "results": page}
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()


def _bulk_parts(n: int, count: int) -> dict[str, tuple[bytes, int]]:
    """The first ``count`` recorded labels split into ``n`` zipped bulk parts, named as openFDA names them."""
    labels = recorded_labels()[1][:count]
    size = -(-len(labels) // n)
    parts = {}
    for i in range(n):
        chunk = labels[i * size:(i + 1) * size]
        name = f"drug-label-{i + 1:04d}-of-{n:04d}.json"
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(name, json.dumps({"meta": {"results": {"total": len(chunk)}}, "results": chunk}))
        parts[name + ".zip"] = (buffer.getvalue(), len(chunk))
    return parts


def _handler(services: Services):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet
            pass

        def do_GET(self) -> None:  # noqa: N802
            parts = urlsplit(self.path)
            params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            with services.lock:
                services.log.append(Logged(time.monotonic(), parts.path, params, dict(self.headers)))
                queue = services.faults.get(parts.path) or []
                fault = queue.pop(0) if queue else None
            if fault == "hang":
                time.sleep(services.hang_s)
                return self._send(503, {}, b"")
            if fault == "429":
                return self._send(429, {"Retry-After": "1"}, b'{"error": "too many requests"}')
            if fault == "500":
                return self._send(500, {}, b"internal error")
            status, headers, body = fault() if callable(fault) else services.answer(parts.path, params)
            if fault == "truncate":
                self.send_response(status)
                for k, v in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            if fault == "cut":
                body = body[: len(body) // 2]
            self._send(status, headers, body)

        def _send(self, status: int, headers: dict, body: bytes) -> None:
            self.send_response(status)
            for k, v in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

    return Handler


def assert_paced(times: list[float], per_second: float) -> None:
    """No one-second window holds more than ``per_second`` of these arrival times."""
    n = int(per_second)
    spans = [times[i + n] - times[i] for i in range(len(times) - n)]
    assert all(span >= 1.0 for span in spans), (times, spans)
    assert times[-1] - times[0] >= (len(times) - 1) / per_second, times
