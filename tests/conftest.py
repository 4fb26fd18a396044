"""Shared fixtures: real PostgreSQL and SQLite engines, the app, tokens, and factories.

Storage tests take the ``engine`` fixture and run once per engine. Without a reachable
PostgreSQL they skip on a developer's machine and FAIL when ``CI`` is set: CI must never
pass by skipping what it was meant to test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine

from equipment.services import tokens
from equipment.storage import db
from equipment.tables import REGISTER_TABLES
from sereg.app import create_app
from sereg.settings import DatabaseSettings

# Fixtures of the ingest tests (broker, consumer, publisher) and of the tests that run
# the service as a process (fresh databases, `sereg serve --demo`).
pytest_plugins = ["tests.ingest_support", "tests.service_support", "tests.browser_support"]

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_ADMIN_URL = os.environ.get("SEREG_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def service_missing(what: str) -> None:
    """Skip locally, fail in CI."""
    message = f"{what} is not reachable"
    if IN_CI:
        pytest.fail(f"{message}; CI must run every integration test", pytrace=False)
    pytest.skip(message)


def sereg_env(**overrides: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)}
    env["PICCOLO_CONF"] = "piccolo_conf"
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run_sereg(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sereg.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def pg_url(database: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{database}"


async def create_pg_database(prefix: str) -> str | None:
    """A new empty database; None if PostgreSQL is unreachable."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    except (OSError, asyncpg.PostgresError):
        return None
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name


async def drop_pg_database(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file; each test gets a copy (SQLite :memory: would not persist)."""
    path = tmp_path_factory.mktemp("sqlite") / "template.sqlite3"
    done = run_sereg("migrate", env=sereg_env(SEREG_SQLITE_PATH=str(path)))
    assert done.returncode == 0, done.stdout + done.stderr
    return path


@pytest.fixture(scope="session")
async def pg_database() -> AsyncIterator[str | None]:
    """A migrated PostgreSQL database for the session (None when unreachable)."""
    name = await create_pg_database("sereg_test")
    if name is None:
        yield None
        return
    done = run_sereg("migrate", env=sereg_env(DATABASE_URL=pg_url(name)))
    assert done.returncode == 0, done.stdout + done.stderr
    yield name
    await drop_pg_database(name)


@pytest.fixture(params=["sqlite", "postgres"])
async def engine(request, sqlite_template: Path, pg_database: str | None, tmp_path: Path):
    """The register bound to a fresh, empty, migrated database of each engine."""
    tokens.forget_cached()
    if request.param == "sqlite":
        path = tmp_path / "sereg.sqlite3"
        shutil.copy(sqlite_template, path)
        new = SQLiteEngine(path=str(path))
        db.bind(new)
        yield new
        return
    if pg_database is None:
        service_missing(f"PostgreSQL at {PG_ADMIN_URL}")
    config = DatabaseSettings(url=pg_url(pg_database)).postgres_config()
    new = PostgresEngine(config=config)
    await new.start_connection_pool(min_size=1, max_size=6)
    tables = ", ".join(f'"{t._meta.tablename}"' for t in REGISTER_TABLES)
    await new.run_ddl(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    db.bind(new)
    yield new
    await new.close_connection_pool()


@pytest.fixture
async def client(request, engine) -> AsyncIterator[httpx.AsyncClient]:
    # httpx's ASGI transport runs the app in this event loop, beside the engine's pool
    # (Litestar's own test client runs it in a thread with another loop).
    transport = httpx.ASGITransport(app=create_app(manage_db=False))
    # No Accept-Language: the product's default, Chinese. A module whose tests read the
    # English message ids sets ACCEPT_LANGUAGE = "en".
    language = getattr(request.module, "ACCEPT_LANGUAGE", None)
    headers = {"Accept-Language": language} if language else {}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://sereg.test", headers=headers
    ) as http:
        yield http


_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI a skip is a failure: an untested integration path must not pass as green."""
    if IN_CI and _skipped and exitstatus == 0:
        print(f"\nCI: {len(_skipped)} test(s) skipped, which CI does not allow:")
        for nodeid in _skipped[:20]:
            print(f"  {nodeid}")
        session.exitstatus = 1
