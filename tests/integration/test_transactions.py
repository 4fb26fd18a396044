"""A transaction whose connection dies gives its connection back and leaves nothing
behind: the next transaction works, in the same task, however often it happens."""

from __future__ import annotations

import asyncio

import pytest

from equipment.storage import db
from equipment.storage.tables import Equipment

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
async def test_a_dead_connection_does_not_poison_later_transactions(engine) -> None:
    # More failures than the pool has connections (the fixture's pool holds 6): a leaked
    # connection per failure would leave the last iterations waiting forever.
    for _ in range(10):
        with pytest.raises(Exception):  # noqa: B017 - whatever the driver raises for a killed backend
            async with asyncio.timeout(10), db.transaction():
                await Equipment.raw("SELECT pg_terminate_backend(pg_backend_pid())")
        assert engine.current_transaction.get() is None
    async with asyncio.timeout(10), db.transaction():
        assert await Equipment.count() == 0


async def test_a_refused_statement_rolls_back_and_releases(engine) -> None:
    for _ in range(10):
        with pytest.raises(Exception):  # noqa: B017 - the engines word it differently
            async with asyncio.timeout(10), db.transaction():
                await Equipment.raw("SELECT * FROM no_such_table")
    async with asyncio.timeout(10), db.transaction() as transaction:
        assert transaction is not None
        assert await Equipment.count() == 0
