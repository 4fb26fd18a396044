"""Every pool connection has its array codecs before its first request: asyncpg looks an
array type up in the catalogue the first time a connection meets it, and that lookup (a
recursive catalogue query with JIT turned off around it, 4-10 ms) fell on whichever request
used the type first."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from equipment.storage import db

pytestmark = pytest.mark.integration

# One value of each type db.ARRAY_TYPES names (a type added there needs one here).
VALUES: dict[str, Any] = {
    "int2": 1,
    "int4": 2,
    "int8": 3,
    "float8": 0.5,
    "numeric": Decimal("1.5"),
    "bool": True,
    "text": "t",
    "varchar": "v",
    "date": date(2026, 12, 7),
    "timestamptz": datetime(2026, 12, 7, tzinfo=UTC),
}


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
async def test_no_request_looks_up_an_array_type(engine) -> None:
    statements: list[str] = []

    def log(record: Any) -> None:
        statements.append(record.query)

    async with engine.pool.acquire() as connection:
        connection.add_query_logger(log)
        try:
            for name in db.ARRAY_TYPES:
                sent = [VALUES[name]]
                # Sent and read back: both directions use the array's codec.
                assert await connection.fetchval(f"SELECT $1::{name}[]", sent) == sent
        finally:
            connection.remove_query_logger(log)
    assert len(statements) == len(db.ARRAY_TYPES)  # only ours: no catalogue lookup between
    assert not [s for s in statements if "pg_type" in s]
