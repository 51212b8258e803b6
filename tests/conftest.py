"""Shared fixtures: where ../shared/data lives, and temporary libraries."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("MEDORA_SHARED_DATA", ROOT.parent / "shared" / "data")).resolve()
SOURCES = SHARED_DATA / "sources"
EVAL = SHARED_DATA / "eval"

# Outside services (live evidence, `library add openfda`) default to a closed loopback port in every test
# and the processes tests start: a request a test did not point at its own loopback server never leaves.
os.environ.setdefault("MEDORA_EUTILS_URL", "http://127.0.0.1:9/entrez/eutils")
os.environ.setdefault("MEDORA_OPENFDA_URL", "http://127.0.0.1:9")
# `library add` embeds every new passage by default (minutes for the full library); tests that need
# vectors ask for them (tests/test_embed_on_add.py turns this back on).
os.environ.setdefault("MEDORA_EMBED_ON_ADD", "0")


@pytest.fixture(scope="session")
def shared_sources() -> Path:
    if not SOURCES.is_dir():
        pytest.fail(f"shared sources not found at {SOURCES}; set MEDORA_SHARED_DATA")
    return SOURCES


@pytest.fixture(scope="session")
def shared_eval() -> Path:
    if not EVAL.is_dir():
        pytest.fail(f"shared eval sets not found at {EVAL}; set MEDORA_SHARED_DATA")
    return EVAL


def run_cli(*args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run the installed ``medora`` console script as a real subprocess."""
    exe = Path(sys.executable).with_name("medora")
    proc = subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"medora {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}\n{proc.stdout}")
    return proc


def medora_with(*args: str, prelude: str = "") -> subprocess.CompletedProcess[str]:
    """``medora ARGS`` in a fresh Python that first runs ``prelude`` (e.g. hiding a package)."""
    code = f"{prelude}\nfrom medora.cli import main\nmain({list(args)!r})"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)


def closed_port() -> int:
    """A local port with nothing listening (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def full_library(tmp_path_factory, shared_sources):
    """A library holding every shared source, built once by the one documented command — without its
    vectors (embedding 60k passages would take most of the suite's time budget; the embedded default is
    tested on small libraries and measured in bench/)."""
    import json
    import time

    path = tmp_path_factory.mktemp("full") / "library.db"
    started = time.perf_counter()
    proc = run_cli("library", "add", "--all", "--no-embed", "--from", str(shared_sources), "--library", str(path),
                   "--format", "json", "-q")
    seconds = time.perf_counter() - started
    return {"path": path, "report": json.loads(proc.stdout), "seconds": seconds}


@pytest.fixture(scope="module")
def ray_cluster():
    """A 2-CPU Ray instance on this machine for one test module (~10 s to start); the code under test
    (the CLI, ``ray.init(address=...)``) joins it instead of starting its own."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


# ------------------------------------------------------------------ skips for a missing dependency
# Locally, a test whose package, binary or data is absent skips. In CI (``CI`` set to true/1/yes) such a
# skip is a failure: a broken install step must not give a green run that tested less. A skip counts as
# "missing dependency" when it was raised by ``pytest.importorskip``, by ``skip_missing`` below, or its
# reason says so (see _MISSING_REASON). Every run ends with a summary of why tests were skipped.

IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
_MISSING_REASON = re.compile(
    r"could not import|no module named|not installed|needs the python package|pip install|apt-get install|"
    r"npm (ci|install)|unavailable|not found on path", re.IGNORECASE)


class MissingDependency(pytest.skip.Exception):
    """A skip because a package, binary or data set this test needs is absent."""


def skip_missing(reason: str) -> None:
    """Skip this test because ``reason`` names something absent; in CI the skip becomes a failure."""
    raise MissingDependency(reason)


def missing_dependency(excinfo: pytest.ExceptionInfo | None, reason: str) -> bool:
    if excinfo is not None and (isinstance(excinfo.value, MissingDependency)
                                or any(entry.name == "importorskip" for entry in excinfo.traceback)):
        return True
    return bool(_MISSING_REASON.search(reason))


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    return str(longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else longrepr).removeprefix(
        "Skipped: ")


_missing: list[tuple[str, str]] = []  # (node id, reason) of every missing-dependency skip this session


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    report = (yield).get_result()
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = _skip_reason(report)
        if missing_dependency(call.excinfo, reason):
            _missing.append((item.nodeid, reason))
            if IN_CI:
                report.outcome = "failed"
                report.longrepr = f"missing dependency in CI (a skip here is a failure): {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    report = (yield).get_result()
    if report.skipped and missing_dependency(None, _skip_reason(report)):  # a module-level importorskip
        _missing.append((collector.nodeid, _skip_reason(report)))


def pytest_sessionfinish(session, exitstatus):
    if IN_CI and _missing and exitstatus == 0:
        session.exitstatus = 1  # e.g. a whole module skipped at collection: not a green run


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    skipped = terminalreporter.stats.get("skipped", [])
    reasons: dict[str, int] = {}
    for report in skipped:
        reasons[_skip_reason(report)] = reasons.get(_skip_reason(report), 0) + 1
    terminalreporter.section("skip summary", sep="-")
    if not skipped and not _missing:
        terminalreporter.line("no test was skipped")
    for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1]):
        terminalreporter.line(f"{count:4d} skipped: {reason}")
    if _missing:
        verdict = "FAILED in CI" if IN_CI else "would fail in CI (CI=true)"
        terminalreporter.line(f"{len(_missing)} skip(s) for a missing dependency, {verdict}:")
        for nodeid, reason in _missing:
            terminalreporter.line(f"  {nodeid}: {reason}")
