"""Set-at-a-time SQL for the ingest: one statement per table per batch, on either engine.

Piccolo builds each row of an ``insert`` in Python (≈ 13k rows/s measured here), which is
too slow for a broker stream; these statements go straight to the connection of the
Piccolo transaction they run in, so ORM queries in the same ``async with`` see them.
SQL is written once with PostgreSQL's ``$n`` placeholders; for SQLite they become
``?n`` (which SQLite numbers the same way), a list parameter becomes a JSON array read by
``json_each`` where PostgreSQL takes an array, and a bulk insert becomes multi-row
VALUES where PostgreSQL takes the rows as one JSON document.

Why one document and not one array per column: asyncpg encodes an array element by
element, with several ``collections.abc`` checks on each, which cost 11.7 µs of client
CPU per 18-column fill row against 2.0 µs for msgspec writing the rows as JSON (500-row
batches, measured here); PostgreSQL's side took no longer. The ingest is bound by its one
Python thread, so that is throughput.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

import msgspec
from piccolo.engine.postgres import PostgresTransaction
from piccolo.table import Table

_PLACEHOLDER = re.compile(r"\$(\d+)")
# SQLite's default SQLITE_MAX_VARIABLE_NUMBER since 3.32.
_SQLITE_MAX_PARAMS = 32766
_PG_TYPES = {"BIGSERIAL": "bigint", "SERIAL": "integer", "DOUBLE PRECISION": "float8"}
_ROWS_AS_JSON = msgspec.json.Encoder()


class Bulk:
    """Raw statements on the connection of an open Piccolo transaction."""

    def __init__(self, transaction: Any) -> None:
        self.connection = transaction.connection
        self.postgres = isinstance(transaction, PostgresTransaction)

    @classmethod
    def on(cls, connection: Any, *, postgres: bool) -> Bulk:
        """On a bare connection (no transaction): for reads that need no snapshot."""
        bulk = cls.__new__(cls)
        bulk.connection, bulk.postgres = connection, postgres
        return bulk

    def any_of(self, column: str, n: int) -> str:
        """``column`` is one of the list given as parameter ``$n``."""
        if self.postgres:
            return f"{column} = ANY(${n})"
        return f"{column} IN (SELECT value FROM json_each(${n}))"

    def _sql(self, sql: str) -> str:
        return sql if self.postgres else _PLACEHOLDER.sub(r"?\1", sql)

    def _args(self, args: Sequence[Any]) -> list[Any]:
        if self.postgres:
            return list(args)
        return [json.dumps(a) if isinstance(a, list | tuple) else a for a in args]

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        if self.postgres:
            return [dict(r) for r in await self.connection.fetch(sql, *args)]
        return await self.rows(sql, *args)

    async def rows(self, sql: str, *args: Any) -> list[Any]:
        """The driver's own rows, read by column name (``row["code"]``) and not copied:
        for a hot read of many rows, where a dict per row costs 2 µs (measured)."""
        if self.postgres:
            return list(await self.connection.fetch(sql, *args))
        async with self.connection.execute(self._sql(sql), self._args(args)) as cursor:
            return list(await cursor.fetchall())

    async def execute(self, sql: str, *args: Any) -> None:
        if self.postgres:
            await self.connection.execute(sql, *args)
        else:
            await self.connection.execute(self._sql(sql), self._args(args))

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if not rows:
            return
        if self.postgres:
            await self.connection.executemany(sql, rows)
        else:
            await self.connection.executemany(self._sql(sql), [self._args(r) for r in rows])

    async def insert(
        self,
        table: type[Table],
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        tail: str = "",
        returning: str = "",
        then: str = "",
    ) -> list[dict[str, Any]]:
        """Insert ``rows`` (tuples in ``columns`` order); ``tail`` is an ON CONFLICT clause.

        ``then`` (PostgreSQL only) is more of the same statement: data-modifying CTEs,
        each starting with a comma, that read the rows just inserted as ``inserted``
        (with the ``returning`` columns). One statement instead of two saves a round trip
        in a transaction the broker's acks wait for.

        On PostgreSQL the rows travel as JSON, which has no NaN or infinity: a float that
        is not finite is written as NULL. (The ingest has none: its decoder takes JSON
        numbers only.)
        """
        if then and not self.postgres:
            raise ValueError("then= needs PostgreSQL's data-modifying CTEs")
        if then and not returning:
            raise ValueError("then= reads the inserted rows: name them in returning=")
        if not rows:
            return []
        name = table._meta.tablename
        cols = ", ".join(columns)
        ret = f" RETURNING {returning}" if returning else ""
        for i in _instants(table, tuple(columns)):
            for row in rows:
                _check_instant(row[i], columns[i])
        if self.postgres:
            sql = f"{_pg_insert(table, tuple(columns))} {tail}{ret}"
            if then:
                sql = f"WITH inserted AS ({sql}){then} SELECT * FROM inserted"
            document = _ROWS_AS_JSON.encode(rows).decode()
            if ret:
                return [dict(r) for r in await self.connection.fetch(sql, document)]
            await self.connection.execute(sql, document)
            return []
        out: list[dict[str, Any]] = []
        per_chunk = max(1, _SQLITE_MAX_PARAMS // len(columns))
        row_sql = "(" + ", ".join("?" for _ in columns) + ")"
        for start in range(0, len(rows), per_chunk):
            chunk = rows[start : start + per_chunk]
            values = ", ".join(row_sql for _ in chunk)
            sql = f"INSERT INTO {name} ({cols}) VALUES {values} {tail}{ret}"
            flat = [v for row in chunk for v in row]
            async with self.connection.execute(sql, flat) as cursor:
                if ret:
                    out.extend(await cursor.fetchall())
        return out


@lru_cache(maxsize=512)
def _instants(table: type[Table], columns: tuple[str, ...]) -> tuple[int, ...]:
    return tuple(
        i
        for i, column in enumerate(columns)
        if table._meta.get_column_by_name(column).column_type.upper() == "TIMESTAMPTZ"
    )


@lru_cache(maxsize=512)
def _pg_insert(table: type[Table], columns: tuple[str, ...]) -> str:
    """The INSERT taking the rows as one JSON array of arrays (``$1``).

    Each field is cast from its text to the column's type, as the array casts did: a
    varchar(n) keeps its first n characters, bytes come as base64 (msgspec's encoding of
    bytes), a JSON column parses its string.
    """
    fields = []
    for i, column in enumerate(columns):
        declared = table._meta.get_column_by_name(column).column_type.upper()
        if declared == "BYTEA":
            fields.append(f"decode(x->>{i}, 'base64')")
        else:
            fields.append(f"(x->>{i})::{_PG_TYPES.get(declared, declared.lower())}")
    return (
        f"INSERT INTO {table._meta.tablename} ({', '.join(columns)})"
        f" SELECT {', '.join(fields)} FROM jsonb_array_elements($1::jsonb) AS x"
    )


def _check_instant(value: Any, column: str) -> None:
    # A datetime without an offset names no instant: as JSON it would be read in the
    # session's time zone (asyncpg took the process's, SQLite none), so it is refused.
    if value is not None and not (isinstance(value, datetime) and value.tzinfo is not None):
        raise ValueError(f"{column}: a timestamptz needs an aware datetime, not {value!r}")
