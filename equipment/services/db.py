"""The storage engine the tables are bound to, its pool and its transactions."""

from __future__ import annotations

import sqlite3

import asyncpg
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType

from equipment.tables import REGISTER_TABLES, Equipment


def engine() -> Engine:
    return Equipment._meta.db


def is_postgres() -> bool:
    return isinstance(engine(), PostgresEngine)


def transaction():
    """One transaction; Piccolo routes every query inside the ``async with`` through it."""
    current = engine()
    if isinstance(current, SQLiteEngine):
        # A deferred SQLite transaction that reads, then writes, fails at once with
        # "database is locked" when another did the same; IMMEDIATE takes the write lock
        # up front, so concurrent writers queue instead.
        return current.transaction(transaction_type=TransactionType.immediate)
    return current.transaction()


def bind(new_engine: Engine) -> None:
    """Point every register table at ``new_engine`` (tests switch engines with this)."""
    for table in REGISTER_TABLES:
        table._meta.db = new_engine


async def _no_reset(connection) -> None:
    """Skip asyncpg's per-release reset query (a round trip on every request; measured
    4-16 % of a due-list request). Services leave no session state behind, and asyncpg
    still rolls back a transaction left open."""


async def start(pool_min: int = 2, pool_max: int = 10) -> None:
    # Without a pool Piccolo opens a connection per query: ~130 q/s instead of ~2,300.
    current = engine()
    if isinstance(current, PostgresEngine) and current.pool is None:
        await current.start_connection_pool(min_size=pool_min, max_size=pool_max, reset=_no_reset)


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
