"""Shared fixtures: where ../shared/data lives, and temporary libraries."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("MEDORA_SHARED_DATA", ROOT.parent / "shared" / "data")).resolve()
SOURCES = SHARED_DATA / "sources"
EVAL = SHARED_DATA / "eval"


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
    """A library holding every shared source, built once by the one documented command."""
    import json
    import time

    path = tmp_path_factory.mktemp("full") / "library.db"
    started = time.perf_counter()
    proc = run_cli("library", "add", "--all", "--from", str(shared_sources), "--library", str(path),
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
