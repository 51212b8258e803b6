"""Several workers, one library: a real ``medora serve --workers 2`` subprocess on a free port.

Each request goes over a fresh connection, so the kernel hands them to both worker processes
(``X-Medora-Worker`` names the one that answered). A login token from one worker is good on the
other; one client's rate limit holds in total, not per worker; ``/metrics`` gives the same sums
whichever worker answers; ``/v1/ready`` turns 503 when the library file goes away; JSON logs parse
line by line and hold neither tokens nor question text.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
from test_api_common import PASSWORD, QUESTION, assert_problem

from medora.api.metrics import WORKER_ID
from medora.api.routes_meta import newest_migration

pytest_plugins = ("test_api_common",)  # its fixtures: template_library, api_library

WORKERS = 2
NO_EVIDENCE = "What is the airspeed velocity of an unladen swallow?"


@contextmanager
def serving(library: Path, log: Path, *options: str, workers: int = WORKERS,
            stop: signal.Signals = signal.SIGINT) -> Iterator[str]:
    """``medora serve --workers N --port 0`` until every worker is up; yields its URL, then stops it with ``stop``.

    Its temporary files go to a folder of their own, which must be empty again once it has stopped.
    """
    argv = [sys.executable, "-c", "from medora.cli_admin import serve; serve()", "--port", "0", "--library",
            str(library), "--workers", str(workers), *options]
    temp = log.parent / "server-tmp"
    temp.mkdir()
    proc = subprocess.Popen(argv, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            env={**os.environ, "NO_COLOR": "1", "MEDORA_SESSION_SECRET": "", "TMPDIR": str(temp)})
    try:
        deadline = time.monotonic() + 90
        while (text := log.read_text(errors="replace")).count("Application startup complete") < workers:
            assert proc.poll() is None and time.monotonic() < deadline, text
            time.sleep(0.1)
        assert len(list(temp.glob("medora-metrics-*"))) == 1  # where the workers write their metrics
        yield re.search(r"Uvicorn running on (http://127\.0\.0\.1:\d+)", text).group(1)
    finally:
        proc.send_signal(stop)
        proc.wait(timeout=60)
    assert list(temp.iterdir()) == []  # the metrics folder is gone


def fan_out(base: str, method: str, path: str, n: int, **kwargs: object) -> list[httpx.Response]:
    """``n`` requests from 8 threads, each over a new connection (so either worker may take it)."""
    def one(_: int) -> httpx.Response:
        return httpx.request(method, base + path, timeout=60, **kwargs)

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(n)))


def until_every_worker(base: str, method: str, path: str, at_least: int, cap: int = 400,
                       **kwargs: object) -> list[httpx.Response]:
    """At least ``at_least`` requests, more until every worker has answered one (the kernel hands a new
    connection to whichever worker accepts first, so a few requests may all land on one)."""
    responses: list[httpx.Response] = []
    while len(responses) < at_least or len(workers_of(responses)) < WORKERS and len(responses) < cap:
        responses += fan_out(base, method, path, 8, **kwargs)
    return responses


def workers_of(responses: list[httpx.Response]) -> set[str]:
    return {r.headers["x-medora-worker"] for r in responses}


def samples(metrics_text: str, name: str) -> dict[str, float]:
    """``{labels: value}`` for one metric in Prometheus text format."""
    found = re.findall(rf"^{name}(\{{.*\}})? (\S+)$", metrics_text, re.MULTILINE)
    return {labels: float(value) for labels, value in found}


def test_a_login_token_works_on_every_worker_and_a_rate_limit_holds_in_total(api_library, tmp_path):
    burst = 25
    with serving(api_library.path, tmp_path / "server.log", "--rate", "0.1", "--burst", str(burst)) as base:
        login = httpx.post(base + "/v1/auth/login", json={"username": "reviewer1", "password": PASSWORD})
        session = {"Authorization": f"Bearer {login.json()['token']}"}
        me = until_every_worker(base, "GET", "/v1/auth/me", burst - 5, cap=burst - 1, headers=session)  # within its burst
        assert {r.status_code for r in me} == {200}
        assert {r.json()["user"]["username"] for r in me} == {"reviewer1"}
        assert len(workers_of(me)) == WORKERS  # both workers accepted the token signed by one of them

        reader = {"Authorization": f"Bearer {api_library.tokens['reader']}"}  # a client with its own bucket
        started = time.monotonic()
        flood = until_every_worker(base, "GET", "/v1/articles", 3 * burst, headers=reader)
        refill = 0.1 * (time.monotonic() - started)
        statuses = Counter(r.status_code for r in flood)
        assert set(statuses) == {200, 429}
        assert burst <= statuses[200] <= burst + 1 + refill  # the burst once in all (plus refills), not per worker
        assert len(workers_of(flood)) == WORKERS
        refused = next(r for r in flood if r.status_code == 429)
        assert_problem(refused, 429, "rate-limited")
        assert int(refused.headers["Retry-After"]) >= 1


def test_metrics_add_up_across_workers_and_json_logs_hold_no_secret_or_question(api_library, tmp_path):
    log = tmp_path / "server.log"
    asks = [{"question": QUESTION}, {"question": QUESTION, "audience": "patient"}, {"question": NO_EVIDENCE}]
    with serving(api_library.path, log, "--rate", "0", "--log-format", "json") as base:
        session = httpx.post(base + "/v1/auth/login", json={"username": "editor1", "password": PASSWORD}).json()
        answers = fan_out(base, "POST", "/v1/ask", 4, json=asks[0], headers={"X-Request-ID": "trace-ask-1"})
        answers += fan_out(base, "POST", "/v1/ask", 3, json=asks[1])
        answers += fan_out(base, "POST", "/v1/ask", 2, json=asks[2],
                           headers={"Authorization": f"Bearer {session['token']}"})
        assert [r.status_code for r in answers] == [200] * 9
        assert [r.json()["status"] for r in answers[-2:]] == ["insufficient_evidence"] * 2
        assert {r.headers["x-request-id"] for r in answers[:4]} == {"trace-ask-1"}
        fan_out(base, "GET", "/v1/articles/some-slug", 5)
        pages = until_every_worker(base, "GET", "/metrics", 8)
    assert len(workers_of(pages)) == WORKERS
    totals = {tuple(sorted(samples(p.text, "medora_answers_total").items())) for p in pages}
    assert len(totals) == 1  # every worker reports the same sums
    page = pages[0].text
    assert samples(page, "medora_answers_total") == {
        '{audience="clinician",status="answered"}': 4.0, '{audience="patient",status="answered"}': 3.0,
        '{audience="clinician",status="insufficient_evidence"}': 2.0}
    assert samples(page, "medora_abstentions_total") == {'{audience="clinician"}': 2.0}
    requests = samples(page, "medora_http_request_duration_seconds_count")
    assert requests['{method="POST",route="/v1/ask",status="200"}'] == 9.0
    assert requests['{method="GET",route="/v1/articles/{slug}",status="404"}'] == 5.0
    assert not any("some-slug" in labels for labels in requests)  # route templates, never raw paths
    stages = samples(page, "medora_answer_stage_seconds_count")
    assert stages['{stage="retrieve"}'] == 9.0 and stages['{stage="total"}'] == 9.0
    assert any(labels.startswith('{stage="retrieve.') for labels in stages)

    records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]  # every line is JSON
    access = [r for r in records if r["logger"] == "medora.access"]
    assert {"time", "level", "logger", "message", "pid", "request_id", "method", "path", "status",
            "duration_ms"} <= set(access[0])
    assert sum(r["path"] == "/v1/ask" and r["status"] == 200 for r in access) == 9
    assert sum(r.get("request_id") == "trace-ask-1" and r["path"] == "/v1/ask" for r in access) == 4
    assert len({r["pid"] for r in access}) == WORKERS
    said = [r for r in records if r["message"].startswith("answer ")]
    assert len(said) == 9 and f"question of {len(QUESTION)} characters" in said[0]["message"]
    assert sum(r.get("request_id") == "trace-ask-1" for r in said) == 4  # answered on a thread, same request id
    text = log.read_text()
    for secret in (QUESTION, NO_EVIDENCE, "unladen swallow", session["token"], PASSWORD):
        assert secret not in text


def test_ready_turns_503_while_the_library_file_is_gone_and_health_stays_up(api_library, tmp_path):
    with serving(api_library.path, tmp_path / "server.log", "--rate", "0", stop=signal.SIGTERM) as base:
        ready = fan_out(base, "GET", "/v1/ready", 8)
        assert {r.status_code for r in ready} == {200}
        assert {r.json()["schema_version"] for r in ready} == {newest_migration("migrations")}
        assert {str(r.json()["worker"]) for r in ready} == workers_of(ready)
        moved = api_library.path.rename(tmp_path / "elsewhere.db")
        try:
            gone = until_every_worker(base, "GET", "/v1/ready", 8)
            assert len(workers_of(gone)) == WORKERS
            for response in gone:
                assert "missing" in assert_problem(response, 503, "unavailable")["detail"]
            assert {r.status_code for r in fan_out(base, "GET", "/v1/health", 4)} == {200}
        finally:
            moved.rename(api_library.path)
        assert {r.status_code for r in fan_out(base, "GET", "/v1/ready", 4)} == {200}


def test_one_worker_stopped_with_sigterm_removes_its_metrics_folder(api_library, tmp_path):
    with serving(api_library.path, tmp_path / "server.log", workers=1, stop=signal.SIGTERM) as base:
        assert httpx.get(base + "/v1/ready").json()["worker"] != WORKER_ID  # another process, opaque id
