"""The tables a database holds, read before the engine is up: what a ``sereg`` command
checks before it uses the register (sereg/database.py words the answer)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import asyncpg  # asyncpg ships no type information ([tool.mypy] ignore_missing_imports)


def sqlite_tables(path: Path) -> set[str]:
    """The table names of the SQLite file at ``path``, opened read-only: looking must not
    change the file (nor create its journal). Raises sqlite3.DatabaseError when the file
    is not a SQLite database."""
    with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as connection:
        return {
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }


async def postgres_tables(config: dict[str, Any], *, connect_within: float = 10) -> set[str]:
    """The table names of the current schema of the PostgreSQL database ``config`` names
    (asyncpg.connect's keywords). Raises OSError, TimeoutError or asyncpg.PostgresError
    when it cannot connect."""
    connection = await asyncpg.connect(**config, timeout=connect_within)
    try:
        rows = await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        )
    finally:
        await connection.close()
    return {r["tablename"] for r in rows}
