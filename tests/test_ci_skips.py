"""In CI a skip for a missing dependency is a failure (tests/conftest.py); locally it stays a skip, and every
run ends with a skip summary. Runs pytest in a subprocess on a scratch suite that uses this conftest."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SUITE = {
    "test_deps.py": '''
import pytest
from conftest import skip_missing

def test_import_missing():
    pytest.importorskip("no_such_module_for_medora_tests")

def test_fixture_binary_missing():
    skip_missing("/usr/bin/nonexistent-tool not found")

def test_legitimate_skip():
    pytest.skip("finds processes through /proc")

def test_runs():
    assert True
''',
    "test_module_level.py": '''
import pytest
pytest.importorskip("another_missing_module_for_medora")

def test_never_collected():
    pass
''',
}


def _run(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    suite = tmp_path / f"suite-{ci}"
    suite.mkdir()
    shutil.copy(Path(__file__).with_name("conftest.py"), suite / "conftest.py")
    for name, text in SUITE.items():
        (suite / name).write_text(text, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfs", str(suite)],
                          cwd=suite, env=env, capture_output=True, text=True, timeout=120)


def test_missing_dependencies_skip_locally_with_a_summary(tmp_path):
    proc = _run(tmp_path, None)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed, 4 skipped" in proc.stdout
    assert "skip summary" in proc.stdout and "finds processes through /proc" in proc.stdout
    assert "3 skip(s) for a missing dependency, would fail in CI" in proc.stdout


@pytest.mark.parametrize("ci", ["true", "1"])
def test_in_ci_a_missing_dependency_fails_the_run(tmp_path, ci):
    proc = _run(tmp_path, ci)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout
    assert "2 failed, 1 passed, 2 skipped" in out  # module-level skip and the legitimate one stay skips
    for test in ("test_import_missing", "test_fixture_binary_missing"):
        assert f"FAILED test_deps.py::{test}" in out
    assert "missing dependency in CI" in out and "no_such_module_for_medora_tests" in out
    assert "test_legitimate_skip" not in out.split("skip(s) for a missing dependency")[1]
    assert "another_missing_module_for_medora" in out and "FAILED in CI" in out


def test_in_ci_a_module_skipped_at_collection_alone_fails_the_run(tmp_path):
    """Exit status 1 even when nothing else failed: a whole module skipped for a missing package."""
    suite = tmp_path / "only"
    suite.mkdir()
    shutil.copy(Path(__file__).with_name("conftest.py"), suite / "conftest.py")
    (suite / "test_module_level.py").write_text(SUITE["test_module_level.py"], encoding="utf-8")
    (suite / "test_ok.py").write_text("def test_ok():\n    pass\n", encoding="utf-8")
    env = {**os.environ, "CI": "true"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(suite)], cwd=suite,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "1 passed, 1 skipped" in proc.stdout, proc.stdout
