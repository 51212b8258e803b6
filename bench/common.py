"""Shared helpers for Medora's benchmark scripts: machine facts, timed CLI runs, statistics, output.

Benchmarks are plain scripts (``.venv/bin/python bench/NAME.py``). Each writes its raw numbers as
JSON under ``bench/out/`` (gitignored) and prints a markdown report that starts with the date,
the machine and the exact command, so a table pasted into ``bench/RESULTS.md`` says where it came from.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "bench" / "out"
MEDORA = ROOT / ".venv" / "bin" / "medora"
SHARED_DATA = ROOT.parent / "shared" / "data"


# ----------------------------------------------------------------------------- machine


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def _git(*args: str) -> str:
    try:
        done = subprocess.run(["git", *args], check=False, cwd=ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.rstrip() if done.returncode == 0 else ""


def _load_avg() -> list[float]:
    """1, 5 and 15 minute load averages: other work on the machine skews timings."""
    return [round(x, 2) for x in os.getloadavg()]


def machine_info() -> dict[str, Any]:
    """Date, CPU, cores, RAM, Python and SQLite versions, and the code revision being measured."""
    dirty = [line[3:] for line in _git("status", "--porcelain", "--", "src").splitlines()]
    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "ram_gib": _ram_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "load_avg_start": _load_avg(),
        "git_commit": _git("rev-parse", "--short", "HEAD") or "unknown",
        "src_uncommitted": dirty,
    }


def command_line() -> str:
    """The command that started this script, as it would be typed from the repository root."""
    script = Path(sys.argv[0]).resolve()
    shown = script.relative_to(ROOT) if script.is_relative_to(ROOT) else script
    return shlex.join([".venv/bin/python", str(shown), *sys.argv[1:]])


def report_header(title: str, info: dict[str, Any], command: str) -> str:
    """Markdown lines naming what was measured, when, where and how."""
    dirty = ", ".join(info["src_uncommitted"]) or "none"
    return "\n".join([
        f"### {title}",
        "",
        f"- Date: {info['date']}",
        (f"- Machine: {info['cpu']}, {info['cores']} cores ({info['cores_usable']} usable), "
        f"{info['ram_gib']} GiB RAM, {info['os']}"),
        f"- Python {info['python']}, SQLite {info['sqlite']}",
        (f"- Load average (1/5/15 min) at start {'/'.join(map(str, info['load_avg_start']))}, "
        f"at end {'/'.join(map(str, _load_avg()))}"),
        f"- Code: git {info['git_commit']}; uncommitted changes under src/: {dirty}",
        f"- Command: `{command}`",
        "",
    ])


# ----------------------------------------------------------------------------- CLI runs


@dataclass
class CliRun:
    """One finished ``medora`` subprocess: exit code, wall and CPU time, peak RSS and its output."""

    returncode: int
    wall_s: float
    cpu_s: float  # user + system: unlike wall time, barely moved by other work on the machine
    max_rss_mib: float
    stdout: str
    stderr: str


def run_cli(args: Sequence[str | Path]) -> CliRun:
    """Run ``.venv/bin/medora ARGS`` and measure it alone (os.wait4 gives this child's own rusage)."""
    argv = [str(MEDORA), *map(str, args)]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return CliRun(
            returncode=proc.returncode,
            wall_s=wall,
            cpu_s=usage.ru_utime + usage.ru_stime,
            max_rss_mib=usage.ru_maxrss / 1024,  # Linux reports KiB
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
        )


def check_run(run: CliRun, what: str, ok: Sequence[int] = (0,)) -> None:
    """Stop the benchmark with the CLI's own message when a run failed."""
    if run.returncode not in ok:
        tail = run.stderr.strip().splitlines()[-5:]
        raise SystemExit(f"{what} failed (exit {run.returncode}):\n" + "\n".join(tail))


# ----------------------------------------------------------------------------- PostgreSQL


class PgServer:
    """A PostgreSQL + pgvector server from the ``pgserver`` wheel in the data folder ``work/pg``.

    ``fresh`` starts from an empty folder; ``keep`` leaves the folder (and its databases) when
    stopped, so a later run can start the server on it again (``fresh=False``).
    """

    def __init__(self, work: Path, *, fresh: bool = True, keep: bool = False) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver

            self.folder, self.keep = work / "pg", keep
            if fresh:
                shutil.rmtree(self.folder, ignore_errors=True)
            self.folder.mkdir(parents=True, exist_ok=True)
            self.server = pgserver.get_server(self.folder / "data", cleanup_mode="stop" if keep else "delete")

    def settings(self) -> dict[str, str]:
        """The server settings that bound its memory (pgserver's defaults, left as they are)."""
        import psycopg

        with psycopg.connect(self.server.get_uri(), autocommit=True) as admin:
            return {name: admin.execute(f"SHOW {name}").fetchone()[0]
                    for name in ("server_version", "shared_buffers", "work_mem", "maintenance_work_mem",
                                 "max_parallel_maintenance_workers", "synchronous_commit")}

    def database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.server.get_uri(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}"')
        return self.server.get_uri(name)

    def drop(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.server.get_uri(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def url(self, name: str) -> str:
        """The URL of database ``name`` (without creating it)."""
        return self.server.get_uri(name)

    def stop(self) -> None:
        self.server.cleanup()
        if not self.keep:
            shutil.rmtree(self.folder, ignore_errors=True)


# ----------------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between closest ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


# ----------------------------------------------------------------------------- output


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub markdown table; numbers in columns after the first are right-aligned."""
    align = ["---"] + ["---:"] * (len(headers) - 1)
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def write_json(name: str, data: dict[str, Any]) -> Path:
    """Write ``bench/out/NAME.json`` and return its path."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
