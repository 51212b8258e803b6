"""Benchmark `medora library embed` with 1 process, a local process pool and a local Ray instance.

    nice -n 10 .venv/bin/python bench/embed_workers.py [--passages 2000] [--jobs 2] [--rounds 1]

Builds a library from shared sources (PubMedQA, DailyMed, PubMed), then embeds the same first
--passages missing passages (MiniLM) into a fresh copy for each configuration, through the CLI
as a user runs it. "job" passages/s is the embed loop as the command reports it; "wall" adds
process start, model load and (for Ray) starting the Ray instance and its actors. Each round
starts with the next configuration, so load from other work falls on every one; the load
average is recorded. Every run must produce the same vectors as the single process (checked here).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path

from common import (
    SHARED_DATA,
    check_run,
    command_line,
    machine_info,
    markdown_table,
    median,
    report_header,
    run_cli,
    write_json,
)

SOURCES = ("pubmedqa", "dailymed", "pubmed")


def build_library(folder: Path) -> Path:
    path = folder / "base.db"
    run = run_cli(["library", "add", *SOURCES, "--from", SHARED_DATA / "sources", "--library", path, "-q"])
    check_run(run, "building the library")
    return path


def configurations(jobs: int) -> dict[str, list[str]]:
    return {"1 process": [], f"--jobs {jobs}": ["--jobs", str(jobs)],
            f"--ray local --jobs {jobs}": ["--ray", "local", "--jobs", str(jobs)]}


def vectors(path: Path) -> dict[str, bytes]:
    with closing(sqlite3.connect(path)) as db:
        return dict(db.execute("SELECT content_hash, vector FROM embeddings"))


def embed_once(base: Path, folder: Path, options: list[str], passages: int) -> tuple[dict, dict[str, bytes]]:
    """One CLI run on a fresh copy of ``base``: its measurements and the vectors it wrote."""
    library = Path(shutil.copy(base, folder / "run.db"))
    run = run_cli(["library", "embed", "--library", library, "--limit", str(passages), "--format", "json", *options])
    check_run(run, f"embed {' '.join(options)}")
    report = json.loads(run.stdout)
    result = {"embedded": report["embedded_now"], "job_s": report["seconds"], "wall_s": round(run.wall_s, 2)}
    return result, vectors(library)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    info = machine_info()
    runs: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="medora-bench-embed-") as tmp:
        base = build_library(Path(tmp))
        reference: dict[str, bytes] | None = None
        configs = list(configurations(args.jobs).items())
        for round_ in range(args.rounds):
            for name, options in configs[round_ % 3 :] + configs[: round_ % 3]:
                result, written = embed_once(base, Path(tmp), options, args.passages)
                reference = reference if reference is not None else written
                result["same_vectors_as_first_run"] = written == reference
                runs.setdefault(name, []).append(result)
                print(name, result, flush=True)
    rows = []
    for name, results in runs.items():
        job = median([r["embedded"] / r["job_s"] for r in results])
        wall = median([r["embedded"] / r["wall_s"] for r in results])
        rows.append([name, results[0]["embedded"], f"{job:.1f}", f"{wall:.1f}",
                     "yes" if all(r["same_vectors_as_first_run"] for r in results) else "NO"])
    write_json("embed_workers", {"machine": info, "args": vars(args), "runs": runs})
    print(report_header("Embedding workers (MiniLM int8)", info, command_line()))
    print(markdown_table(["configuration", "passages", "job passages/s", "wall passages/s", "same vectors"], rows))


if __name__ == "__main__":
    main()
