"""Shared fixtures: where ../shared/data lives, and temporary libraries."""

from __future__ import annotations

import os
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
