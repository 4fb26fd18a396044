"""Which database a ``sereg`` command opens, and whether it is ready to be used.

A command that needs the register checks it first and refuses in one line naming the
database, rather than dying deep in a query with a traceback; a SQLite file that does
not exist is never created by a command that only reads or adds to the register (only
``sereg migrate``, ``demo`` and ``serve --demo`` create it).
"""

from __future__ import annotations

import asyncio
import sqlite3

import asyncpg

from equipment.settings import DatabaseSettings
from equipment.storage import preflight

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
        names = preflight.sqlite_tables(path)
    except sqlite3.DatabaseError as exc:
        return f"{path} cannot be read as a SQLite database: {exc}"
    return _missing(names, str(path))


async def _postgres_problem(database: DatabaseSettings) -> str | None:
    where = describe(database)
    try:
        names = await preflight.postgres_tables(database.postgres_config(), connect_within=10)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        return f"cannot connect to {where}: {exc}"
    return _missing(names, where)


def _missing(names: set[str], where: str) -> str | None:
    absent = [name for name in _REQUIRED if name not in names]
    if not absent:
        return None
    if not names:
        return f"database {where} has no tables; run `sereg migrate`"
    return f"database {where} is not migrated (no {', '.join(absent)} table); run `sereg migrate`"
