"""Ingestion benchmark: build a library from the shared sources with the real CLI and time it.

Each repeat, in fresh temporary folders:
  1. ``medora library add --all`` into an empty library (wall time, peak RSS, documents/s,
     passages/s, library size on disk);
  2. the same command again with nothing changed (its time as a fraction of the first);
  3. every source alone into its own empty library (per-source rates; MedQuAD alone is the
     goal "all of MedQuAD in under 60 s on 2 cores").
The report gives the median over repeats; raw runs go to ``bench/out/ingest.json``.

    .venv/bin/python bench/ingest.py [--repeats 3] [--sources ../shared/data/sources]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from common import (
    SHARED_DATA,
    CliRun,
    check_run,
    command_line,
    machine_info,
    markdown_table,
    median,
    report_header,
    run_cli,
    write_json,
)

MEDQUAD_GOAL_S = 60.0
EXIT_REJECTED = 3  # the CLI finished but rejected some files; still a valid timing, reported below


def add_command(names: list[str], sources: Path, library: Path) -> list[str]:
    return ["library", "add", *names, "--from", str(sources), "--library", str(library), "--format", "json", "-q"]


def library_size(library: Path) -> dict[str, int]:
    """Bytes on disk of the library file and its WAL/SHM companions (0 when absent)."""
    sizes = {}
    for suffix in ("", "-wal", "-shm"):
        path = Path(f"{library}{suffix}")
        sizes["db" + suffix.replace("-", "_")] = path.stat().st_size if path.exists() else 0
    return sizes


def summarize(run: CliRun, what: str) -> dict[str, Any]:
    """Counts from the CLI's JSON report plus the subprocess measurements."""
    check_run(run, what, ok=(0, EXIT_REJECTED))
    per_source = json.loads(run.stdout)
    sources = {
        name: {
            "files": rep["files"],
            "documents": sum(rep["documents"][k] for k in ("added", "updated", "unchanged")),
            "unchanged": rep["documents"]["unchanged"],
            "passages_written": rep["passages_written"],
            "rejected_files": rep["documents"]["rejected_files"],
            "ingest_s": rep["seconds"],
        }
        for name, rep in per_source.items()
    }
    return {
        "wall_s": run.wall_s,
        "cpu_s": run.cpu_s,
        "max_rss_mib": run.max_rss_mib,
        "returncode": run.returncode,
        "documents": sum(s["documents"] for s in sources.values()),
        "passages_written": sum(s["passages_written"] for s in sources.values()),
        "sources": sources,
    }


def one_repeat(sources: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="medora-bench-") as tmp:
        library = Path(tmp) / "library.db"
        first = summarize(run_cli(add_command(["--all"], sources, library)), "first run")
        first["size_bytes"] = library_size(library)
        second = summarize(run_cli(add_command(["--all"], sources, library)), "second run")
        second["size_bytes"] = library_size(library)
    alone = {}
    for name in first["sources"]:
        with tempfile.TemporaryDirectory(prefix="medora-bench-") as tmp:
            library = Path(tmp) / "library.db"
            alone[name] = summarize(run_cli(add_command([name], sources, library)), f"{name} alone")
            alone[name]["size_bytes"] = library_size(library)
    return {"first": first, "second": second, "alone": alone}


def _med(runs: list[dict[str, Any]], key: str) -> float:
    return median([run[key] for run in runs])


def _db_wal_mb(run: dict[str, Any]) -> float:
    return (run["size_bytes"]["db"] + run["size_bytes"]["db_wal"]) / 1e6


def source_rows(repeats: list[dict[str, Any]]) -> list[list[Any]]:
    rows = []
    for name in repeats[0]["alone"]:
        runs = [r["alone"][name] for r in repeats]
        docs, passages, wall = runs[0]["documents"], runs[0]["passages_written"], _med(runs, "wall_s")
        rows.append([
            name, f"{docs:,}", f"{passages:,}", f"{wall:.2f}", f"{_med(runs, 'cpu_s'):.2f}",
            f"{median([run['sources'][name]['ingest_s'] for run in runs]):.2f}",
            f"{docs / wall:,.0f}", f"{passages / wall:,.0f}", f"{_med(runs, 'max_rss_mib'):.0f}",
            f"{median([run['size_bytes']['db'] for run in runs]) / 1e6:.1f}",
        ])
    return rows


def total_rows(repeats: list[dict[str, Any]]) -> list[list[Any]]:
    rows = []
    for key, label in (("first", "first run (empty library)"), ("second", "second run (all unchanged)")):
        runs = [r[key] for r in repeats]
        docs, passages, wall = runs[0]["documents"], runs[0]["passages_written"], _med(runs, "wall_s")
        unchanged = sum(s["unchanged"] for s in runs[0]["sources"].values())
        rows.append([
            label, f"{docs:,} ({unchanged:,} unchanged)", f"{passages:,}", f"{wall:.2f}", f"{_med(runs, 'cpu_s'):.2f}",
            f"{docs / wall:,.0f}", f"{passages / wall:,.0f}" if passages else "–", f"{_med(runs, 'max_rss_mib'):.0f}",
            f"{median([_db_wal_mb(run) for run in runs]):.1f}",
            f"{median([r[key]['wall_s'] / r['first']['wall_s'] for r in repeats]):.3f}",
        ])
    return rows


def report(repeats: list[dict[str, Any]], info: dict[str, Any], command: str) -> str:
    medquad = median([r["alone"]["medquad"]["wall_s"] for r in repeats]) if "medquad" in repeats[0]["alone"] else None
    goal = "" if medquad is None else (
        f"\nMedQuAD alone: {medquad:.1f} s wall (median; rates use wall time) — goal under {MEDQUAD_GOAL_S:.0f} s on "
        f"{info['cores_usable']} cores: {'met' if medquad < MEDQUAD_GOAL_S else 'NOT met'}.\n")
    rejected = sum(s["rejected_files"] for s in repeats[0]["first"]["sources"].values())
    return "\n".join([
        report_header("Ingestion (`medora library add`)", info, command),
        (f"Median of {len(repeats)} repeats; each run is a fresh `medora` subprocess (process start included). "
        f"Rejected files in the first run: {rejected}."),
        "",
        markdown_table(
            ["run", "documents", "passages", "wall s", "CPU s", "docs/s", "passages/s", "peak RSS MiB", "db+wal MB",
             "time / first"],
            total_rows(repeats)),
        "",
        "Each source alone into an empty library (`ingest s` is the CLI's own in-process timing):",
        "",
        markdown_table(
            ["source", "documents", "passages", "wall s", "CPU s", "ingest s", "docs/s", "passages/s", "peak RSS MiB",
             "db MB"],
            source_rows(repeats)),
        goal,
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="repeats (the report shows the median)")
    parser.add_argument("--sources", type=Path, default=SHARED_DATA / "sources",
                        help="folder with local copies of the sources (NAME/FILE layout)")
    args = parser.parse_args()
    if not args.sources.is_dir():
        raise SystemExit(f"no sources folder at {args.sources}")
    info, command = machine_info(), command_line()
    repeats = []
    for i in range(args.repeats):
        repeats.append(one_repeat(args.sources.resolve()))
        print(f"repeat {i + 1}/{args.repeats}: first run {repeats[-1]['first']['wall_s']:.1f} s", flush=True)
    path = write_json("ingest", {"machine": info, "command": command, "repeats": repeats})
    print()
    print(report(repeats, info, command))
    print(f"raw results: {path.relative_to(path.parents[2])}")


if __name__ == "__main__":
    main()
