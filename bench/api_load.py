"""REST API throughput: requests/s and p50/p95 latency with 1, 4 and 16 concurrent clients.

The server is a real ``medora serve`` subprocess (no rate limit, access log off) over a copy of the
full library (``bench/out/ask-library.db``, built with ``medora library add --all`` when missing)
holding one approved article. This process is the load generator, over loopback, with asyncio and
httpx: each of N clients sends its next request as soon as the last one is answered, for
``--seconds`` after a one-second warm-up. Two scenarios: an anonymous read of the approved
article (``GET /v1/articles/{slug}``) and an anonymous ``POST /v1/ask``, cycling through the 201
questions ``bench/ask_latency.py`` uses. The CPU seconds the server and the load generator used
in each run (from /proc and ``os.times``) show how the machine's cores were shared between them.

    .venv/bin/python bench/api_load.py [--library bench/out/ask-library.db] [--seconds 10] [--clients 1,4,16]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
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
    command_line,
    machine_info,
    markdown_table,
    percentile,
    report_header,
    write_json,
)

from medora.answer.compose import answer_question
from medora.library.sqlite_store import SQLiteStore
from medora.publish import SYSTEM, Accounts, PublishingService
from medora.settings import load_settings

ARTICLE_QUESTION = "What are the treatments for Graves disease?"
WARM_UP_S = 1.0
Request = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]


def prepare_library(source: Path, directory: Path) -> tuple[Path, str]:
    """A copy of ``source`` with one approved article; returns the copy and the article's slug."""
    path = directory / "library.db"
    with sqlite3.connect(source) as src, sqlite3.connect(path) as dst:
        src.backup(dst)
    with SQLiteStore(path, create=False) as store:
        accounts = Accounts(store)
        editor = accounts.create_user(SYSTEM, "bench-editor", "Bench editor", "editor").actor("bench")
        reviewer = accounts.create_user(SYSTEM, "bench-reviewer", "Bench reviewer", "reviewer").actor("bench")
        service = PublishingService(store)
        article = service.create(answer_question(store, ARTICLE_QUESTION, load_settings(library=path)), editor)
        article = service.submit(article.slug, editor, article.revision)
        article = service.claim(article.slug, reviewer, article.revision)
        article = service.approve(article.slug, reviewer, article.revision)
    return path, article.slug


def start_server(library: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """``medora serve --port 0`` in its own process; returns it and the URL it listens on."""
    argv = [sys.executable, "-c", "from medora.cli_admin import serve; serve()", "--port", "0", "--library",
            str(library), "--rate", "0", "--no-access-log", "--log-level", "info"]
    proc = subprocess.Popen(argv, stdout=log.open("wb"), stderr=subprocess.STDOUT, env={**os.environ, "NO_COLOR": "1"})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = re.search(r"Uvicorn running on (http://[\d.]+:\d+)", log.read_text(errors="replace"))
        if found:
            return proc, found.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("medora serve did not start:\n" + log.read_text(errors="replace"))


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def drive(base: str, request: Request, clients: int, seconds: float, server_pid: int) -> dict[str, Any]:
    """``clients`` closed-loop clients for ``seconds`` (after a warm-up); latencies of every answered request."""
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
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
                n += clients

        await asyncio.gather(*(worker(i, time.perf_counter() + WARM_UP_S, False) for i in range(clients)))
        server0, own0, start = process_cpu_s(server_pid), sum(os.times()[:2]), time.perf_counter()
        await asyncio.gather(*(worker(i, start + seconds, True) for i in range(clients)))
        elapsed = time.perf_counter() - start
        server_cpu, own_cpu = process_cpu_s(server_pid) - server0, sum(os.times()[:2]) - own0
    return {"clients": clients, "seconds": round(elapsed, 3), "requests": len(latencies),
            "errors": sum(n for status, n in statuses.items() if status != 200), "statuses": dict(statuses),
            "requests_per_s": len(latencies) / elapsed, "p50_ms": percentile(latencies, 50),
            "p95_ms": percentile(latencies, 95), "max_ms": max(latencies), "server_cpu_s": server_cpu,
            "load_generator_cpu_s": own_cpu}


def scenarios(slug: str, questions: list[str]) -> dict[str, Request]:
    async def read(client: httpx.AsyncClient, n: int) -> httpx.Response:
        return await client.get(f"/v1/articles/{slug}")

    async def ask(client: httpx.AsyncClient, n: int) -> httpx.Response:
        return await client.post("/v1/ask", json={"question": questions[n % len(questions)]})

    return {"GET /v1/articles/{slug} (approved article, anonymous)": read,
            "POST /v1/ask (anonymous)": ask}


def report(results: list[dict[str, Any]], info: dict[str, Any], command: str, library: Path) -> str:
    rows = [[r["scenario"], r["clients"], f"{r['requests']:,}", r["errors"], f"{r['requests_per_s']:.1f}",
             f"{r['p50_ms']:.1f}", f"{r['p95_ms']:.1f}", f"{r['max_ms']:.1f}", f"{r['server_cpu_s']:.1f}",
             f"{r['load_generator_cpu_s']:.1f}"] for r in results]
    headers = ("scenario", "clients", "requests", "errors", "req/s", "p50 ms", "p95 ms", "max ms",
               "server CPU s", "load gen CPU s")
    seconds = results[0]["seconds"] if results else 0
    return "\n".join([
        report_header("REST API under load (`medora serve`, loopback)", info, command),
        f"Library: a copy of `{library}` with one approved article; server and load generator share the "
        f"machine's cores. Each run: {seconds:.0f} s after a {WARM_UP_S:.0f} s warm-up, closed loop.",
        "",
        markdown_table(headers, rows),
        "",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--library", type=Path, default=OUT_DIR / "ask-library.db",
                        help="library to serve (a copy is used; built from --sources when missing)")
    parser.add_argument("--sources", type=Path, default=SHARED_DATA / "sources")
    parser.add_argument("--eval", type=Path, default=SHARED_DATA / "eval", help="folder with the eval sets")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per run")
    parser.add_argument("--clients", default="1,4,16", help="comma-separated numbers of concurrent clients")
    args = parser.parse_args()
    info, command = machine_info(), command_line()
    library = args.library.resolve()
    ensure_library(library, args.sources.resolve())
    questions = [q["text"] for q in select_questions(args.eval)]
    counts = [int(c) for c in args.clients.split(",")]
    results = []
    with tempfile.TemporaryDirectory(prefix="medora-api-load-") as tmp:
        served, slug = prepare_library(library, Path(tmp))
        server, base = start_server(served, Path(tmp) / "server.log")
        try:
            for name, request in scenarios(slug, questions).items():
                for clients in counts:
                    result = asyncio.run(drive(base, request, clients, args.seconds, server.pid))
                    results.append({"scenario": name, **result})
                    print(f"{name}, {clients} clients: {result['requests_per_s']:.1f} req/s, "
                          f"p50 {result['p50_ms']:.1f} ms, p95 {result['p95_ms']:.1f} ms", file=sys.stderr)
        finally:
            server.terminate()
            server.wait(timeout=30)
    path = write_json("api_load", {"machine": info, "command": command, "library": str(library), "results": results})
    print(report(results, info, command, library))
    print(f"raw results: {path.relative_to(path.parents[2])}")


if __name__ == "__main__":
    main()
