"""REST API throughput: requests/s and p50/p95 latency with 1, 4 and 16 concurrent clients, 1 or more workers.

The server is a real ``medora serve --workers N`` subprocess (no rate limit, access log off) over a copy of the
full library (``bench/out/ask-library.db``, built with ``medora library add --all`` when missing)
holding one approved article. ``--backend pg`` serves a PostgreSQL 16 + pgvector library instead
(the ``pgserver`` wheel, started in a temporary folder), filled from the SQLite copy with the real
``medora library migrate``; the article is then published on it, and PostgreSQL's own CPU seconds
are reported beside the server's. This process is the load generator, over loopback, with asyncio and
httpx: each of N clients sends its next request as soon as the last one is answered, for
``--seconds`` after a one-second warm-up. Two scenarios: an anonymous read of the approved
article (``GET /v1/articles/{slug}``) and an anonymous ``POST /v1/ask``, cycling through the 201
questions ``bench/ask_latency.py`` uses. The CPU seconds the server and the load generator used
in each run (from /proc and ``os.times``; the server's includes all its worker processes) show how
the machine's cores were shared between them; ``per_worker`` counts the requests each worker answered.

    .venv/bin/python bench/api_load.py [--library bench/out/ask-library.db] [--seconds 10] [--clients 1,4,16]
        [--workers 1,2] [--backend sqlite|pg]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from ask_latency import ensure_library, select_questions
from common import (
    OUT_DIR,
    SHARED_DATA,
    PgServer,
    check_run,
    command_line,
    machine_info,
    markdown_table,
    percentile,
    report_header,
    run_cli,
    write_json,
)

from medora.answer.compose import answer_question
from medora.library.open import open_store
from medora.publish import SYSTEM, Accounts, PublishingService
from medora.settings import load_settings

ARTICLE_QUESTION = "What are the treatments for Graves disease?"
WARM_UP_S = 1.0
Request = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]


def copy_library(source: Path, directory: Path, pg: PgServer | None) -> str:
    """A SQLite copy of ``source`` or, with ``pg``, a PostgreSQL database migrated from it; returns its location."""
    path = directory / "library.db"
    with sqlite3.connect(source) as src, sqlite3.connect(path) as dst:
        src.backup(dst)
    if pg is None:
        return str(path)
    url = pg.database("api_load")
    started = time.perf_counter()
    check_run(run_cli(["library", "migrate", "--from", path, "--to", url]), "medora library migrate")
    print(f"migrated to PostgreSQL in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return url


def publish_article(location: str) -> str:
    """Create, submit, claim and approve one article in the library at ``location``; returns its slug."""
    with open_store(location, create=False) as store:
        accounts = Accounts(store)
        editor = accounts.create_user(SYSTEM, "bench-editor", "Bench editor", "editor").actor("bench")
        reviewer = accounts.create_user(SYSTEM, "bench-reviewer", "Bench reviewer", "reviewer").actor("bench")
        service = PublishingService(store)
        article = service.create(answer_question(store, ARTICLE_QUESTION, load_settings(library=location)), editor)
        article = service.submit(article.slug, editor, article.revision)
        article = service.claim(article.slug, reviewer, article.revision)
        article = service.approve(article.slug, reviewer, article.revision)
    return article.slug


def postmaster_pid(pg: PgServer | None) -> int | None:
    """The PostgreSQL server's main process (its backends are its children), from ``postmaster.pid``."""
    if pg is None:
        return None
    return int((pg.folder / "data" / "postmaster.pid").read_text().split()[0])


def start_server(library: str, log: Path, workers: int) -> tuple[subprocess.Popen, str]:
    """``medora serve --port 0 --workers N`` in its own process, every worker up; returns it and its URL."""
    argv = [sys.executable, "-c", "from medora.cli_admin import serve; serve()", "--port", "0", "--library",
            str(library), "--rate", "0", "--no-access-log", "--log-level", "info", "--workers", str(workers)]
    proc = subprocess.Popen(argv, stdout=log.open("wb"), stderr=subprocess.STDOUT, env={**os.environ, "NO_COLOR": "1"})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        found = re.search(r"Uvicorn running on (http://[\d.]+:\d+)", text)
        if found and text.count("Application startup complete") >= workers:
            return proc, found.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("medora serve did not start:\n" + log.read_text(errors="replace"))


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` and its live descendants so far (Linux /proc; 0 once gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except (FileNotFoundError, ProcessLookupError):  # a short-lived child (e.g. autovacuum) that just exited
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(process_cpu_s(int(child)) for child in children)


async def drive(base: str, request: Request, clients: int, seconds: float, server_pid: int,
                db_pid: int | None) -> dict[str, Any]:
    """``clients`` closed-loop clients for ``seconds`` (after a warm-up); latencies of every answered request."""
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    per_worker: Counter[str] = Counter()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:

        async def worker(first: int, until: float, record: bool) -> None:
            n = first
            while time.perf_counter() < until:
                started = time.perf_counter()
                response = await request(client, n)
                if record:
                    latencies.append((time.perf_counter() - started) * 1000)
                    statuses[response.status_code] += 1
                    per_worker[response.headers.get("x-medora-worker", "?")] += 1
                n += clients

        await asyncio.gather(*(worker(i, time.perf_counter() + WARM_UP_S, False) for i in range(clients)))
        db0 = process_cpu_s(db_pid) if db_pid else 0.0
        server0, own0, start = process_cpu_s(server_pid), sum(os.times()[:2]), time.perf_counter()
        await asyncio.gather(*(worker(i, start + seconds, True) for i in range(clients)))
        elapsed = time.perf_counter() - start
        server_cpu, own_cpu = process_cpu_s(server_pid) - server0, sum(os.times()[:2]) - own0
        db_cpu = process_cpu_s(db_pid) - db0 if db_pid else None
    return {"clients": clients, "seconds": round(elapsed, 3), "requests": len(latencies),
            "errors": sum(n for status, n in statuses.items() if status != 200), "statuses": dict(statuses),
            "requests_per_s": len(latencies) / elapsed, "p50_ms": percentile(latencies, 50),
            "p95_ms": percentile(latencies, 95), "max_ms": max(latencies), "server_cpu_s": server_cpu,
            "load_generator_cpu_s": own_cpu, "db_cpu_s": db_cpu, "per_worker": sorted(per_worker.values(), reverse=True)}


def scenarios(slug: str, questions: list[str]) -> dict[str, Request]:
    async def read(client: httpx.AsyncClient, n: int) -> httpx.Response:
        return await client.get(f"/v1/articles/{slug}")

    async def ask(client: httpx.AsyncClient, n: int) -> httpx.Response:
        return await client.post("/v1/ask", json={"question": questions[n % len(questions)]})

    return {"GET /v1/articles/{slug} (approved article, anonymous)": read,
            "POST /v1/ask (anonymous)": ask}


def report(results: list[dict[str, Any]], info: dict[str, Any], command: str, library: Path, backend: str) -> str:
    pg = backend == "pg"
    rows = [[r["scenario"], r["workers"], r["clients"], f"{r['requests']:,}", r["errors"], f"{r['requests_per_s']:.1f}",
             f"{r['p50_ms']:.1f}", f"{r['p95_ms']:.1f}", f"{r['max_ms']:.1f}", "/".join(map(str, r["per_worker"])),
             f"{r['server_cpu_s']:.1f}", *([f"{r['db_cpu_s']:.1f}"] if pg else []),
             f"{r['load_generator_cpu_s']:.1f}"] for r in results]
    headers = ("scenario", "workers", "clients", "requests", "errors", "req/s", "p50 ms", "p95 ms", "max ms",
               "requests per worker", "server CPU s", *(("PostgreSQL CPU s",) if pg else ()), "load gen CPU s")
    seconds = results[0]["seconds"] if results else 0
    where = ("a PostgreSQL 16 + pgvector database (pgserver, same machine, Unix socket) migrated from a copy of "
             f"`{library}`" if pg else f"a SQLite copy of `{library}`")
    return "\n".join([
        report_header(f"REST API under load (`medora serve`, loopback, {backend} backend)", info, command),
        (f"Backend: {backend}. Library: {where}, with one approved article; server"
         f"{', PostgreSQL' if pg else ''} and load generator share the machine's cores. "
         f"Each run: {seconds:.0f} s after a {WARM_UP_S:.0f} s warm-up, closed loop."),
        "",
        markdown_table(headers, rows),
        "",
    ])


def run_server(library: str, log: Path, workers: int, requests: dict[str, Request], counts: list[int],
               seconds: float, db_pid: int | None) -> list[dict[str, Any]]:
    """Every scenario at every client count against one ``medora serve --workers N``."""
    server, base = start_server(library, log, workers)
    results = []
    try:
        for name, request in requests.items():
            for clients in counts:
                result = asyncio.run(drive(base, request, clients, seconds, server.pid, db_pid))
                results.append({"scenario": name, "workers": workers, **result})
                print(f"{name}, {workers} workers, {clients} clients: {result['requests_per_s']:.1f} req/s, "
                      f"p50 {result['p50_ms']:.1f} ms, p95 {result['p95_ms']:.1f} ms", file=sys.stderr)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--library", type=Path, default=OUT_DIR / "ask-library.db",
                        help="library to serve (a copy is used; built from --sources when missing)")
    parser.add_argument("--sources", type=Path, default=SHARED_DATA / "sources")
    parser.add_argument("--eval", type=Path, default=SHARED_DATA / "eval", help="folder with the eval sets")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per run")
    parser.add_argument("--clients", default="1,4,16", help="comma-separated numbers of concurrent clients")
    parser.add_argument("--workers", default="1", help="comma-separated numbers of server worker processes")
    parser.add_argument("--backend", choices=("sqlite", "pg"), default="sqlite",
                        help="serve a SQLite copy or a PostgreSQL (pgserver) database migrated from it")
    args = parser.parse_args()
    info, command = machine_info(), command_line()
    library = args.library.resolve()
    ensure_library(library, args.sources.resolve())
    questions = [q["text"] for q in select_questions(args.eval)]
    counts = [int(c) for c in args.clients.split(",")]
    results = []
    with tempfile.TemporaryDirectory(prefix="medora-api-load-") as tmp:
        pg = PgServer(Path(tmp)) if args.backend == "pg" else None
        try:
            served = copy_library(library, Path(tmp), pg)
            slug = publish_article(served)
            for workers in (int(w) for w in args.workers.split(",")):
                results += run_server(served, Path(tmp) / f"server-{workers}.log", workers,
                                      scenarios(slug, questions), counts, args.seconds, postmaster_pid(pg))
            pg_settings = pg.settings() if pg else None
        finally:
            if pg:
                pg.stop()
    path = write_json(f"api_load-{args.backend}", {"machine": info, "command": command, "backend": args.backend,
                                                   "postgresql": pg_settings, "library": str(library),
                                                   "results": results})
    print(report(results, info, command, library, args.backend))
    print(f"raw results: {path.relative_to(path.parents[2])}")


if __name__ == "__main__":
    main()
