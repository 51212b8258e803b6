"""A real PostgreSQL 16 with pgvector for the PostgreSQL library tests, started by the tests themselves.

The server comes from the ``pgserver`` wheel (PostgreSQL and pgvector binaries inside it). It
listens on a Unix socket in its data folder only. PostgreSQL refuses to run as root; under root
(as in CI) pgserver creates a system user ``pgserver`` (``useradd``), hands it the data folder,
opens read/traverse permissions on the folders above it, and runs ``initdb``/``pg_ctl`` as that
user. Durability is switched off (tests only). Each test gets a fresh database.

A test module uses them (``pg_server``, ``pg_url``, ``pg_module_url``) with
``pytest_plugins = ("pg_fixtures",)``.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import psycopg
import pytest
from psycopg import sql

with warnings.catch_warnings():  # platformdirs warns that XDG_RUNTIME_DIR is unset (it falls back to /tmp)
    warnings.simplefilter("ignore")
    import pgserver

FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


@contextmanager
def temporary_server(prefix: str) -> Iterator["pgserver.PostgresServer"]:
    """A PostgreSQL server in a fresh temporary folder, stopped and deleted on exit."""
    parent = Path(tempfile.mkdtemp(prefix=prefix))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = pgserver.get_server(parent / "data", cleanup_mode="delete")
    try:
        yield server
    finally:
        server.cleanup()
        shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator["pgserver.PostgresServer"]:
    """A PostgreSQL server for the whole test session, stopped and deleted at its end."""
    with temporary_server("medora-pg-") as server:
        with psycopg.connect(server.get_uri(), autocommit=True) as admin:
            for name, value in FAST_SETTINGS.items():
                admin.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))
            admin.execute("SELECT pg_reload_conf()")
        yield server


def create_database(server: "pgserver.PostgresServer") -> str:
    """A new empty database on ``server``; returns its URL."""
    name = "medora_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server.get_uri(), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return server.get_uri(name)


def drop_database(server: "pgserver.PostgresServer", url: str) -> None:
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    with psycopg.connect(server.get_uri(), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def pg_url(pg_server) -> Iterator[str]:
    """URL of a fresh, empty database (dropped after the test)."""
    url = create_database(pg_server)
    yield url
    drop_database(pg_server, url)


@pytest.fixture(scope="module")
def pg_module_url(pg_server) -> Iterator[str]:
    """URL of a fresh, empty database shared by one test module."""
    url = create_database(pg_server)
    yield url
    drop_database(pg_server, url)
