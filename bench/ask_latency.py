"""Answer latency benchmark: time ``answer_question`` in-process on a full library, and cold CLI asks.

Questions are a fixed, deterministic selection from the shared evaluation sets: 100 evenly spaced
MedQuAD questions, all 51 LiveQA questions, 50 evenly spaced PubMedQA questions (201 in all).
After one warm-up question, each is answered in-process through
``medora.answer.compose.answer_question`` and the report gives p50/p95/max of every stage in
``Answer.timings_ms`` and of end-to-end wall and CPU time, and how many were answered. Separately,
``medora ask ... --format json`` is timed as a fresh subprocess (process start included), next to
``medora --version`` as the bare start-up cost.

    .venv/bin/python bench/ask_latency.py [--library bench/out/ask-library.db] [--profile]

A library path that does not exist is built first with ``medora library add --all``.
``--profile`` also runs the questions under cProfile and prints the functions that dominate.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import time
from collections import Counter
from pathlib import Path
from typing import Any

from common import (
    OUT_DIR,
    ROOT,
    SHARED_DATA,
    check_run,
    command_line,
    machine_info,
    markdown_table,
    median,
    percentile,
    report_header,
    run_cli,
    write_json,
)

from medora.answer.compose import answer_question
from medora.library.sqlite_store import SQLiteStore
from medora.settings import Settings, load_settings

#: (eval set, how many questions; None = all), in report order.
SELECTION = (("medquad-qa-1k", 100), ("liveqa-med-dev", None), ("pubmedqa-1k", 50))
WARM_UP = "What are the symptoms of Graves disease?"
CLI_QUESTION = "What are the treatments for Graves disease?"
STAGES = ("retrieve", "select", "compose", "total")
# p50 goals by retrieval path: lexical on the first library (150 ms), hybrid on the broadened one (issue 12: 500 ms)
GOAL_P50_MS = {"lexical": 150.0, "hybrid": 500.0}


def select_questions(eval_dir: Path) -> list[dict[str, str]]:
    """Evenly spaced questions from each set, in file order: the same list on every run."""
    chosen = []
    for name, count in SELECTION:
        lines = (eval_dir / name / "queries.jsonl").read_text(encoding="utf-8").split("\n")
        rows = [json.loads(line) for line in lines if line.strip()]
        n = len(rows) if count is None else min(count, len(rows))
        chosen += [{"set": name, "id": rows[i * len(rows) // n]["_id"], "text": rows[i * len(rows) // n]["text"]}
                   for i in range(n)]
    return chosen


def ensure_library(library: Path, sources: Path) -> dict[str, Any] | None:
    """Build the library with the CLI when it does not exist; return how long that took."""
    if library.exists():
        return None
    library.parent.mkdir(parents=True, exist_ok=True)
    run = run_cli(["library", "add", "--all", "--from", sources, "--library", library, "--format", "json", "-q"])
    check_run(run, "building the library", ok=(0, 3))
    return {"wall_s": round(run.wall_s, 2), "max_rss_mib": round(run.max_rss_mib, 1)}


def time_questions(store: SQLiteStore, questions: list[dict[str, str]], settings: Settings) -> list[dict[str, Any]]:
    answer_question(store, WARM_UP, settings)
    results = []
    for q in questions:
        wall0, cpu0 = time.perf_counter(), time.process_time()
        answer = answer_question(store, q["text"], settings)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        results.append({**q, "status": answer.status, "wall_ms": wall * 1000, "cpu_ms": cpu * 1000,
                        "timings_ms": answer.timings_ms})
    return results


def profile_questions(store: SQLiteStore, questions: list[dict[str, str]], settings: Settings) -> str:
    """Answer every question under cProfile; save the stats and return the top functions as text."""
    profiler = cProfile.Profile()
    profiler.enable()
    for q in questions:
        answer_question(store, q["text"], settings)
    profiler.disable()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    profiler.dump_stats(OUT_DIR / "ask_latency.prof")
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text).strip_dirs()
    stats.sort_stats("tottime").print_stats(15)
    stats.sort_stats("cumulative").print_stats(25)
    return text.getvalue()


def time_cli(library: Path, runs: int) -> dict[str, Any]:
    """Cold ``medora ask`` subprocesses, and ``medora --version`` for the start-up cost alone."""
    asks, versions = [], []
    for _ in range(runs):
        version = run_cli(["--version"])
        check_run(version, "medora --version")
        versions.append(version)
        ask = run_cli(["ask", CLI_QUESTION, "--library", library, "--format", "json"])
        check_run(ask, "medora ask")
        asks.append({"wall_s": ask.wall_s, "cpu_s": ask.cpu_s, "max_rss_mib": ask.max_rss_mib,
                     "in_process_total_ms": json.loads(ask.stdout).get("timings_ms", {}).get("total")})
    return {"question": CLI_QUESTION, "ask": asks,
            "version": [{"wall_s": v.wall_s, "cpu_s": v.cpu_s, "max_rss_mib": v.max_rss_mib} for v in versions]}


def _stats_row(label: str, values: list[float]) -> list[Any]:
    return [label, len(values), f"{percentile(values, 50):.1f}", f"{percentile(values, 95):.1f}",
            f"{max(values):.1f}"]


def stage_rows(results: list[dict[str, Any]]) -> list[list[Any]]:
    rows = [_stats_row(stage, [r["timings_ms"][stage] for r in results if stage in r["timings_ms"]])
            for stage in STAGES]
    rows.append(_stats_row("end-to-end wall", [r["wall_ms"] for r in results]))
    rows.append(_stats_row("end-to-end CPU", [r["cpu_ms"] for r in results]))
    return rows


def set_rows(results: list[dict[str, Any]]) -> list[list[Any]]:
    rows = []
    for name, _ in SELECTION:
        mine = [r for r in results if r["set"] == name]
        status = Counter(r["status"] for r in mine)
        walls = [r["wall_ms"] for r in mine]
        rows.append([name, len(mine), status["answered"], status["insufficient_evidence"],
                     f"{percentile(walls, 50):.1f}", f"{percentile(walls, 95):.1f}", f"{max(walls):.1f}"])
    return rows


def cli_rows(cli: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for label, runs in ((f"`medora ask \"{cli['question']}\" --format json`", cli["ask"]),
                        ("`medora --version` (start-up only)", cli["version"])):
        walls = [r["wall_s"] * 1000 for r in runs]
        rows.append([label, len(runs), f"{median(walls):.0f}", f"{min(walls):.0f}", f"{max(walls):.0f}",
                     f"{median([r['cpu_s'] * 1000 for r in runs]):.0f}",
                     f"{median([r['max_rss_mib'] for r in runs]):.0f}"])
    return rows


def report(results: list[dict[str, Any]], cli: dict[str, Any], info: dict[str, Any], command: str,
           library: Path, built: dict[str, Any] | None) -> str:
    origin = f" (built by this run: {built['wall_s']} s)" if built else ""
    shown = library.relative_to(ROOT) if library.is_relative_to(ROOT) else library
    status = Counter(r["status"] for r in results)
    p50 = percentile([r["timings_ms"]["total"] for r in results], 50)
    in_process = median([r["in_process_total_ms"] for r in cli["ask"] if r["in_process_total_ms"] is not None])
    path = "hybrid" if any("retrieve.dense" in r["timings_ms"] for r in results) else "lexical"
    goal = GOAL_P50_MS[path]
    return "\n".join([
        report_header(f"Ask latency (`answer_question`, {path} path)", info, command),
        (f"Library: `{shown}`{origin}. {len(results)} questions after one warm-up; "
        f"statuses: {dict(sorted(status.items()))}."),
        "",
        markdown_table(["stage (ms)", "n", "p50", "p95", "max"], stage_rows(results)),
        "",
        markdown_table(["eval set", "questions", "answered", "insufficient", "wall p50 ms", "wall p95 ms",
                        "wall max ms"], set_rows(results)),
        "",
        f"Goal p50 total under {goal:.0f} ms ({path}): {p50:.1f} ms — {'met' if p50 < goal else 'NOT met'}.",
        "",
        "Cold CLI, a fresh process each run (process start, imports, opening the library, answering, JSON):",
        "",
        markdown_table(["command", "runs", "wall median ms", "min", "max", "CPU median ms", "peak RSS MiB"], cli_rows(cli)),
        "",
        f"In-process `total` inside those CLI runs: median {in_process:.1f} ms.",
        "",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--library", type=Path, default=OUT_DIR / "ask-library.db",
                        help="library to ask (built from --sources when missing)")
    parser.add_argument("--sources", type=Path, default=SHARED_DATA / "sources")
    parser.add_argument("--eval", type=Path, default=SHARED_DATA / "eval", help="folder with the eval sets")
    parser.add_argument("--cli-runs", type=int, default=5, help="cold CLI runs")
    parser.add_argument("--profile", action="store_true", help="also profile the questions with cProfile")
    args = parser.parse_args()
    info, command = machine_info(), command_line()
    library = args.library.resolve()
    built = ensure_library(library, args.sources.resolve())
    questions = select_questions(args.eval)
    settings = load_settings(library=library)
    with SQLiteStore(library, create=False) as store:
        results = time_questions(store, questions, settings)
        profile = profile_questions(store, questions, settings) if args.profile else None
    cli = time_cli(library, args.cli_runs)
    path = write_json("ask_latency", {"machine": info, "command": command, "library": str(library),
                                      "library_built": built, "settings": settings.model_dump(mode="json"),
                                      "results": results, "cli": cli})
    print(report(results, cli, info, command, library, built))
    if profile:
        print("cProfile (stats in bench/out/ask_latency.prof):\n" + profile)
    print(f"raw results: {path.relative_to(path.parents[2])}")


if __name__ == "__main__":
    main()
