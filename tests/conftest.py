"""Shared fixtures: real PostgreSQL and SQLite engines, the app, tokens, and factories.

Storage tests take the ``engine`` fixture and run once per engine. Without a reachable
PostgreSQL they skip on a developer's machine and FAIL when ``CI`` is set: CI must never
pass by skipping what it was meant to test.
"""

from __future__ import annotations

import asyncio
import os
import queue
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from hypothesis import settings
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine

from equipment.services import accounts, clock, policies, tokens
from equipment.settings import ClockSettings, DatabaseSettings, PasswordSettings, Settings
from equipment.storage import db
from equipment.storage.tables import REGISTER_TABLES
from sereg.bootstrap import Bootstrap, bootstrap
from tests.apps import shared_app

# No per-example deadline for the property tests: they hold rules, not speed (speed is
# measured in bench/), and on a shared two-core machine an example that first loads a
# catalogue took 470 ms against hypothesis's 200 ms, failing the run as "flaky".
settings.register_profile("sereg", deadline=None)
settings.load_profile("sereg")

# Fixtures of the ingest tests (broker, consumer, publisher) and of the tests that run
# the service as a process (fresh databases, `sereg serve --demo`).
pytest_plugins = [
    "tests.ingest_support",
    "tests.service_support",
    "tests.browser_support",
    "tests.web_support",
]

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_ADMIN_URL = os.environ.get("SEREG_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


# argon2's cheapest costs for the suite's accounts (the product's default is 3 passes over
# 64 MiB: about a second of CPU per hash or login on a busy CI machine, and the suite logs
# in hundreds of times). Safe: the passwords of these throwaway accounts are in the test
# code; hashing, verifying, the unknown-user dummy and rehashing run the same code; and the
# product's default is unchanged (tests/unit/test_password_costs.py holds it there).
TEST_PASSWORDS = PasswordSettings(time_cost=1, memory_kib=8, parallelism=1)
TEST_PASSWORD_ENV = {
    "SEREG_ARGON2_TIME_COST": str(TEST_PASSWORDS.time_cost),
    "SEREG_ARGON2_MEMORY_KIB": str(TEST_PASSWORDS.memory_kib),
    "SEREG_ARGON2_PARALLELISM": str(TEST_PASSWORDS.parallelism),
}
accounts.use_password_costs(TEST_PASSWORDS)


@pytest.fixture(autouse=True)
def cheap_password_hashes() -> None:
    """Back to the test costs before each test (a test that bootstraps its own
    ``Settings()`` installs the product's costs for the rest of its process)."""
    accounts.use_password_costs(TEST_PASSWORDS)


def service_missing(what: str) -> None:
    """Skip locally, fail in CI."""
    message = f"{what} is not reachable"
    if IN_CI:
        pytest.fail(f"{message}; CI must run every integration test", pytrace=False)
    pytest.skip(message)


def sereg_env(**overrides: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)}
    env["PICCOLO_CONF"] = "piccolo_conf"
    env.update(TEST_PASSWORD_ENV)  # a served process's demo accounts: see TEST_PASSWORDS
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


def start_sereg(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """``run_sereg`` without waiting: ``.communicate()`` collects it."""
    return subprocess.Popen(
        [sys.executable, "-m", "sereg.cli", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


class _LaterDrops:
    """Databases dropped on a thread of their own. DROP DATABASE waits for a checkpoint,
    which takes tens of seconds when the machine is busy: a fixture's teardown hands the
    name over instead of waiting, and the session's end waits for what is left."""

    def __init__(self) -> None:
        self.names: queue.Queue[str | None] = queue.Queue()
        self.thread: threading.Thread | None = None

    def drop(self, name: str) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name="drop-databases", daemon=True)
            self.thread.start()
        self.names.put(name)

    def _run(self) -> None:
        while (name := self.names.get()) is not None:
            try:
                asyncio.run(drop_pg_database(name))
            except (OSError, asyncpg.PostgresError) as exc:  # a leftover, not a test failure
                print(f"could not drop test database {name}: {exc}", file=sys.stderr)

    def wait(self) -> None:
        if self.thread is not None:
            self.names.put(None)
            self.thread.join()
            self.thread = None


_later_drops = _LaterDrops()


def drop_pg_database_later(name: str) -> None:
    """``drop_pg_database`` without waiting for it (done before the session ends)."""
    _later_drops.drop(name)


@pytest.fixture(scope="session")
def migrated_databases(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, str | None]]:
    """The session's migrated SQLite template and PostgreSQL database (None when
    unreachable), both migrated at once by ``sereg migrate``: two processes that each
    spend most of their time importing, so side by side they take the time of one."""
    path = tmp_path_factory.mktemp("sqlite") / "template.sqlite3"
    name = in_own_loop(create_pg_database("sereg_test"))
    migrations = [start_sereg("migrate", env=sereg_env(SEREG_SQLITE_PATH=str(path)))]
    if name is not None:
        migrations.append(start_sereg("migrate", env=sereg_env(DATABASE_URL=pg_url(name))))
    for process in migrations:
        output, _ = process.communicate(timeout=300)
        assert process.returncode == 0, output
    yield path, name
    if name is not None:
        drop_pg_database_later(name)


def in_own_loop(coro: Any) -> Any:
    # Not asyncio.run, which would unset the event loop pytest-asyncio's session runs on.
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


@pytest.fixture(scope="session")
def sqlite_template(migrated_databases: tuple[Path, str | None]) -> Path:
    """A migrated SQLite file; each test gets a copy (SQLite :memory: would not persist)."""
    return migrated_databases[0]


@pytest.fixture(scope="session")
def pg_database(migrated_databases: tuple[Path, str | None]) -> str | None:
    """A migrated PostgreSQL database for the session (None when unreachable)."""
    return migrated_databases[1]


_REGISTER = ", ".join(f"'{t._meta.tablename}'" for t in REGISTER_TABLES)
# What ``TRUNCATE <register tables> RESTART IDENTITY CASCADE`` leaves (every register table
# and every table referencing one, empty; their sequences back at their start), in a tenth
# of its time: TRUNCATE makes new files for each of the ~40 tables and their indexes (about
# a second per test on a busy machine, and half the suite's tests are on PostgreSQL),
# while deleting from a table that a test left empty costs next to nothing. The replica
# role switches off the row triggers for this one transaction, i.e. the append-only tables'
# guards and the foreign keys' checks, as TRUNCATE does not fire them either.
EMPTY_REGISTER = f"""DO $$
DECLARE
  t oid;
BEGIN
  SET LOCAL session_replication_role = replica;
  FOR t IN
    WITH RECURSIVE emptied(rel) AS (
      SELECT unnest(ARRAY[{_REGISTER}]::regclass[])::oid
      UNION
      SELECT c.conrelid FROM pg_constraint c JOIN emptied e ON c.confrelid = e.rel
       WHERE c.contype = 'f'
    )
    SELECT rel FROM emptied
  LOOP
    EXECUTE format('DELETE FROM %s', t::regclass);
    PERFORM setval(s.seqrelid::regclass, s.seqstart, false)
       FROM pg_sequence s
       JOIN pg_depend d ON d.objid = s.seqrelid AND d.classid = 'pg_class'::regclass
        AND d.refobjid = t AND d.deptype IN ('a', 'i');
  END LOOP;
END $$"""


async def empty_register(engine: PostgresEngine) -> None:
    """Empty the register's tables and restart their sequences, as TRUNCATE ... RESTART
    IDENTITY CASCADE would (which it falls back to for a role that may not switch off
    triggers, i.e. one that is not a superuser)."""
    try:
        await engine.run_ddl(EMPTY_REGISTER)
    except asyncpg.InsufficientPrivilegeError:
        tables = ", ".join(f'"{t._meta.tablename}"' for t in REGISTER_TABLES)
        await engine.run_ddl(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")


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
    await new.start_connection_pool(**db.pool_options(1, 6))  # as the service opens its pools
    await empty_register(new)
    db.bind(new)
    yield new
    await new.close_connection_pool()


def settings_for(**parts: Any) -> Settings:
    """The settings a test runs with: the defaults (never this process's environment),
    with ``parts`` replaced, e.g. ``public=PublicSettings(emergency_number="12345")``; the
    password costs are the suite's cheap ones (TEST_PASSWORDS) unless ``passwords`` is
    given."""
    return Settings(**{"passwords": TEST_PASSWORDS, **parts})


@pytest.fixture
def clock_settings() -> ClockSettings:
    """The clock a test's bootstraps run on: the real one. A test pins it by
    parametrising this name (``@pytest.mark.parametrize("clock_settings",
    [ClockSettings(pinned_at=...)])``); ``move_clock`` moves the pin during the test."""
    return ClockSettings()


@pytest.fixture
def configure(clock_settings: ClockSettings) -> Iterator[Callable[..., Bootstrap]]:
    """``configure(**parts)``: a bootstrap of ``settings_for(**parts)`` on the test's
    clock, its policies installed for the services; the defaults are put back after the
    test. Tests change settings this way, not by editing the environment."""
    yield lambda **parts: bootstrap(settings_for(**{"clock": clock_settings, **parts}))
    policies.install(policies.Policies())
    clock.use(ClockSettings())


@pytest.fixture
def move_clock(configure: Callable[..., Bootstrap]) -> Callable[[datetime], Bootstrap]:
    """``move_clock(instant)``: pin the service's clock there from now on (the test's
    default settings, bootstrapped again)."""
    return lambda instant: configure(clock=ClockSettings(pinned_at=instant))


@pytest.fixture
def boot(configure: Callable[..., Bootstrap]) -> Bootstrap:
    """The default settings' bootstrap (a test may build another with ``configure``)."""
    return configure()


def app_client(
    boot: Bootstrap, *, client: tuple[str, int] | None = None, language: str | None = None
) -> httpx.AsyncClient:
    """An HTTP client of ``boot``'s app, run in this event loop beside the engine's pool
    by httpx's ASGI transport (Litestar's own test client runs it in a thread with
    another loop); the engine fixture owns the database, so the app leaves it alone."""
    kwargs: dict[str, Any] = {} if client is None else {"client": client}
    transport = httpx.ASGITransport(app=shared_app(boot), **kwargs)
    headers = {"Accept-Language": language} if language else {}
    return httpx.AsyncClient(transport=transport, base_url="http://sereg.test", headers=headers)


@pytest.fixture
async def client(request, engine, boot: Bootstrap) -> AsyncIterator[httpx.AsyncClient]:
    # No Accept-Language: the product's default, Chinese. A module whose tests read the
    # English message ids sets ACCEPT_LANGUAGE = "en".
    async with app_client(boot, language=getattr(request.module, "ACCEPT_LANGUAGE", None)) as http:
        yield http


_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI a skip is a failure: an untested integration path must not pass as green."""
    _later_drops.wait()
    if IN_CI and _skipped and exitstatus == 0:
        print(f"\nCI: {len(_skipped)} test(s) skipped, which CI does not allow:")
        for nodeid in _skipped[:20]:
            print(f"  {nodeid}")
        session.exitstatus = 1
