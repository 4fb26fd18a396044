"""The storage engine the tables are bound to, its pool and its transactions."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg  # asyncpg ships no type information ([tool.mypy] ignore_missing_imports)
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType

from equipment.storage.bulk import Bulk
from equipment.storage.tables import REGISTER_TABLES, Equipment


def engine() -> Engine[Any]:
    return Equipment._meta.db


def is_postgres() -> bool:
    return isinstance(engine(), PostgresEngine)


def any_case_like(column: Any, pattern: str) -> Any:
    """``column`` matches the LIKE ``pattern`` in any letter case: ILIKE on PostgreSQL;
    on SQLite plain LIKE, which already ignores ASCII case (Piccolo would fall back to it
    too, but print a warning to the server's log on every such query)."""
    return column.ilike(pattern) if is_postgres() else column.like(pattern)


@asynccontextmanager
async def transaction() -> AsyncIterator[Any]:
    """One transaction; Piccolo routes every query inside the ``async with`` through it.

    Piccolo 1.x leaves two things behind when the commit or rollback itself fails (the
    connection died mid-transaction): the connection is never given back to the pool, and
    the task's "current transaction" still names the dead one, so every later transaction
    in that task joins it and fails too. Measured: an ingest worker stuck for good after a
    database outage, and a pool that empties one failed request at a time. So the exit is
    guarded here, where every service opens its transactions.
    """
    current = engine()
    if isinstance(current, SQLiteEngine):
        # A deferred SQLite transaction that reads, then writes, fails at once with
        # "database is locked" when another did the same; IMMEDIATE takes the write lock
        # up front, so concurrent writers queue instead.
        piccolo_transaction = current.transaction(transaction_type=TransactionType.immediate)
    else:
        piccolo_transaction = current.transaction()
    entered = await piccolo_transaction.__aenter__()
    try:
        yield entered
    except BaseException as exc:
        try:
            await piccolo_transaction.__aexit__(type(exc), exc, exc.__traceback__)
        except Exception:
            await _abandon(current, piccolo_transaction)
        raise
    else:
        try:
            await piccolo_transaction.__aexit__(None, None, None)
        except BaseException:
            await _abandon(current, piccolo_transaction)
            raise


async def _abandon(current: Engine[Any], piccolo_transaction: Any) -> None:
    """Give back a transaction whose commit or rollback failed: its connection is closed
    (the server rolls back what it had) and the task no longer thinks it is inside it."""
    if getattr(piccolo_transaction, "_parent", None) is not None:
        return  # a nested block: the outermost one owns the connection
    connection = getattr(piccolo_transaction, "connection", None)
    if connection is not None:
        pool = getattr(current, "pool", None)
        try:
            if pool is not None:
                await pool.release(connection)
            else:
                await connection.close()
        except Exception:
            terminate = getattr(connection, "terminate", None)
            if terminate is not None:
                terminate()
    with suppress(ValueError, RuntimeError, LookupError, AttributeError):
        current.current_transaction.reset(piccolo_transaction.context)


@asynccontextmanager
async def reading() -> AsyncIterator[Bulk]:
    """A pooled connection for a few reads, without BEGIN and COMMIT: two round trips
    fewer for a hot read path (the fill permit)."""
    current = engine()
    if isinstance(current, PostgresEngine) and current.pool is not None:
        async with current.pool.acquire() as connection:
            yield Bulk.on(connection, postgres=True)
        return
    if isinstance(current, PostgresEngine):
        connection = await current.get_new_connection()
        try:
            yield Bulk.on(connection, postgres=True)
        finally:
            await connection.close()
        return
    assert isinstance(current, SQLiteEngine)
    connection = await current.get_connection()
    try:
        yield Bulk.on(connection, postgres=False)
    finally:
        await connection.close()


def require_transaction(what: str) -> None:
    """Refuse ``what`` outside an open transaction on PostgreSQL.

    A statement that claims rows with ``FOR UPDATE SKIP LOCKED`` holds their locks until
    its transaction ends; run on its own (``db.reader()`` outside a unit of work) that is
    the end of the statement, so a second worker could take the same rows before the
    first has marked them. SQLite's writers are serialised by the IMMEDIATE transaction
    and skip nothing, so there is nothing to refuse there."""
    current = engine()
    if isinstance(current, PostgresEngine) and not current.transaction_exists():
        raise RuntimeError(
            f"{what} claims rows with FOR UPDATE SKIP LOCKED and must run inside an open"
            " transaction (a unit of work): outside one its row locks end with the"
            " statement and two workers could take the same rows"
        )


@asynccontextmanager
async def reader() -> AsyncIterator[Bulk]:
    """``reading()``, or the open transaction's connection when the task is inside one (a
    read in a unit of work sees what that unit of work wrote)."""
    current = engine()
    transaction = current.current_transaction.get()
    if transaction is not None:
        yield Bulk(transaction)
        return
    async with reading() as bulk:
        yield bulk


async def rows(sql: str, *args: Any) -> list[Any]:
    """``reader().rows(sql, *args)``: the driver's rows of one statement. Outside a
    transaction on PostgreSQL it is the pool's own ``fetch`` (acquire, fetch, release),
    without the two context managers around it: for the hot lists (the due list)."""
    current = engine()
    if (
        isinstance(current, PostgresEngine)
        and current.pool is not None
        and current.current_transaction.get() is None
    ):
        return list(await current.pool.fetch(sql, *args))
    async with reader() as bulk:
        return await bulk.rows(sql, *args)


@dataclass(frozen=True)
class EngineSpec:
    """Where the bound engine's database is, in a form another process can be handed (the
    export worker reads the register itself): asyncpg's connection keywords, or a SQLite
    file's path."""

    postgres: dict[str, Any] | None = None
    sqlite_path: str | None = None


def engine_spec() -> EngineSpec:
    current = engine()
    if isinstance(current, PostgresEngine):
        return EngineSpec(postgres=dict(current.config))
    assert isinstance(current, SQLiteEngine)
    return EngineSpec(sqlite_path=str(current.connection_kwargs["database"]))


@asynccontextmanager
async def opened(spec: EngineSpec) -> AsyncIterator[None]:
    """In another process (the export worker): the register tables bound to ``spec``'s
    database for the block, on one connection of its own (a pool of one, so the block's
    statements do not each open a connection), closed at its end."""
    new: Engine[Any]
    if spec.postgres is not None:
        new = PostgresEngine(config=spec.postgres)
        await new.start_connection_pool(**pool_options(1, 1))
    else:
        assert spec.sqlite_path is not None
        new = SQLiteEngine(path=spec.sqlite_path)
    bind(new)
    try:
        yield
    finally:
        if isinstance(new, PostgresEngine):
            await new.close_connection_pool()


def bind(new_engine: Engine[Any]) -> None:
    """Point every register table at ``new_engine`` (tests switch engines with this)."""
    for table in REGISTER_TABLES:
        table._meta.db = new_engine


async def _no_reset(connection: object) -> None:
    """Skip asyncpg's per-release reset query (a round trip on every request; measured
    4-16 % of a due-list request). Services leave no session state behind, and asyncpg
    still rolls back a transaction left open."""


# The array types the statements send or read. asyncpg knows PostgreSQL's scalar types,
# but looks an array type up in the catalogue the first time a connection meets it (a
# recursive catalogue query, with JIT turned off and on again around it: 4-10 ms measured
# on the 10^6 register), and that fell on whichever request used it first: the area
# summary's first refresh after a change (its changed areas come back as int4[]) took
# 18.3 ms where the next took 10.6-10.9 (docs/benchmarks.md).
ARRAY_TYPES = (
    "int2",
    "int4",
    "int8",
    "float8",
    "numeric",
    "bool",
    "text",
    "varchar",
    "date",
    "timestamptz",
)
_ARRAYS = "SELECT " + ", ".join(f"NULL::{name}[]" for name in ARRAY_TYPES)


async def _ready(connection: asyncpg.Connection) -> None:
    """Each new pool connection, before its first use: every array codec looked up at once
    (preparing a statement that reads them is what makes asyncpg look them up).

    A connection's opening costs 8 ms more for it (3.4 ms before: measured on the 10^6
    register's server). Most open at startup; the others when a burst grows the pool, or
    when a request follows five idle minutes (asyncpg closes a connection left unused that
    long: kept as it is, since a firewall between the service and its database may drop
    an idle connection silently)."""
    await connection.prepare(_ARRAYS)


def pool_options(pool_min: int, pool_max: int) -> dict[str, Any]:
    """The keywords of every PostgreSQL pool sereg opens (Piccolo hands them to asyncpg)."""
    return {"min_size": pool_min, "max_size": pool_max, "reset": _no_reset, "init": _ready}


async def start(pool_min: int = 2, pool_max: int = 10) -> None:
    # Without a pool Piccolo opens a connection per query: ~130 q/s instead of ~2,300.
    current = engine()
    if isinstance(current, PostgresEngine) and current.pool is None:
        await current.start_connection_pool(**pool_options(pool_min, pool_max))


async def stop() -> None:
    current = engine()
    if isinstance(current, PostgresEngine):
        await current.close_connection_pool()


_TRANSIENT_PG = (
    asyncpg.exceptions.PostgresConnectionError,  # the connection broke or never came up
    asyncpg.exceptions.OperatorInterventionError,  # shutdown, restart, cannot connect now
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections, disk full
    asyncpg.exceptions.TransactionRollbackError,  # deadlock, serialization: try again
    asyncpg.exceptions.InterfaceError,  # the pool is closing or the connection was lost
)


def is_transient(exc: BaseException) -> bool:
    """Whether retrying the same work later can succeed: the database was unreachable or
    busy, as opposed to the work itself being refused (which retrying cannot fix)."""
    if isinstance(exc, (OSError, TimeoutError, *_TRANSIENT_PG)):
        return True
    if isinstance(exc, sqlite3.OperationalError):
        return "locked" in str(exc) or "busy" in str(exc)
    return False


_MIGRATIONS = Path(__file__).resolve().parent / "piccolo_migrations"
_MIGRATION_ID = re.compile(r'^ID = "([^"]+)"', re.MULTILINE)


def shipped_migrations() -> set[str]:
    """The ids of the migrations this code ships with."""
    return {
        m.group(1)
        for path in _MIGRATIONS.glob("*.py")
        if (m := _MIGRATION_ID.search(path.read_text(encoding="utf-8")))
    }


async def readiness() -> dict[str, object]:
    """Whether this process can serve: the database answers and has every migration this
    code needs. A failure is a value, not an exception: it is what /ready reports."""
    try:
        rows = await Equipment.raw("SELECT name FROM migration WHERE app_name = 'equipment'")
    except Exception as exc:  # any failure to reach or read the database means not ready
        return {"ready": False, "database": f"unreachable: {type(exc).__name__}: {exc}"}
    missing = sorted(shipped_migrations() - {r["name"] for r in rows})
    return {
        "ready": not missing,
        "database": "ok",
        "migrations": "ok" if not missing else f"not applied: {', '.join(missing)}",
    }
