"""Which database a ``sereg`` command opens, and whether it is ready to be used.

A command that needs the register checks it first and refuses in one line naming the
database, rather than dying deep in a query with a traceback; a SQLite file that does
not exist is never created by a command that only reads or adds to the register (only
``sereg migrate``, ``demo`` and ``serve --demo`` create it).
"""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing

import asyncpg

from equipment.settings import DatabaseSettings

# A migrated database has Piccolo's record of migrations and the register's tables;
# two of them stand for the rest (a partial schema is not something sereg makes).
_REQUIRED = ("migration", "equipment", "api_token")


def describe(database: DatabaseSettings) -> str:
    """The database in words a user can act on: the SQLite file, or PostgreSQL's
    host, port and database name (never its password)."""
    if not database.is_postgres:
        return str(database.sqlite_path)
    config = database.postgres_config()
    return f"PostgreSQL {config['user']}@{config['host']}:{config['port']}/{config['database']}"


def problem(database: DatabaseSettings) -> str | None:
    """Why commands cannot use the database, in one line; None if it is migrated."""
    if database.is_postgres:
        return asyncio.run(_postgres_problem(database))
    return _sqlite_problem(database)


def _sqlite_problem(database: DatabaseSettings) -> str | None:
    path = database.sqlite_path
    if not path.exists():
        return (
            f"database {path} does not exist; run `sereg migrate` to create it"
            " (or set SEREG_SQLITE_PATH or DATABASE_URL to the one you mean)"
        )
    try:
        # Read-only: looking must not change the file (nor create its journal).
        with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as connection:
            names = {
                row[0]
                for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
    except sqlite3.DatabaseError as exc:
        return f"{path} cannot be read as a SQLite database: {exc}"
    return _missing(names, str(path))


async def _postgres_problem(database: DatabaseSettings) -> str | None:
    where = describe(database)
    try:
        connection = await asyncpg.connect(**database.postgres_config(), timeout=10)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        return f"cannot connect to {where}: {exc}"
    try:
        rows = await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        )
    finally:
        await connection.close()
    return _missing({r["tablename"] for r in rows}, where)


def _missing(names: set[str], where: str) -> str | None:
    absent = [name for name in _REQUIRED if name not in names]
    if not absent:
        return None
    if not names:
        return f"database {where} has no tables; run `sereg migrate`"
    return f"database {where} is not migrated (no {', '.join(absent)} table); run `sereg migrate`"
