"""The live alarm feed's table (``alarm_change``, written by triggers) and its listening
connection: every statement of equipment.services.alarm_feed.

On PostgreSQL committed changes are *stamped* with the public ``seq`` under one advisory
lock, in turn, so seqs become visible in increasing order; SQLite's triggers set ``seq``
themselves (one writer at a time). See the service for why.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg  # asyncpg ships no type information ([tool.mypy] ignore_missing_imports)
import msgspec
from piccolo.engine.postgres import PostgresEngine

from equipment.storage import db
from equipment.storage.tables import AlarmChange

_STAMP_LOCK = 0x5E4E6_0020  # pg_advisory_xact_lock key: stamping alarm changes
_STAMP = (
    "UPDATE alarm_change SET seq = stamped.seq FROM ("
    " SELECT id, nextval('alarm_change_stamp') AS seq FROM ("
    "  SELECT id FROM alarm_change WHERE seq IS NULL ORDER BY id) AS pending"
    ") AS stamped WHERE alarm_change.id = stamped.id"
)


class AlarmChangeRow(msgspec.Struct, frozen=True):
    seq: int
    event: str
    alarm: int


class AlarmChangeRepository:
    async def stamp(self) -> None:
        """Give committed, unstamped changes their seq (PostgreSQL; SQLite's triggers did),
        in a transaction of its own under the stamping lock."""
        if not db.is_postgres():
            return
        if not await AlarmChange.select(AlarmChange.id).where(AlarmChange.seq.is_null()).first():
            return
        async with db.transaction():
            await AlarmChange.raw("SELECT pg_advisory_xact_lock({})", _STAMP_LOCK)
            await AlarmChange.raw(_STAMP)

    async def head(self) -> int:
        """The highest seq given so far (0 before any change)."""
        rows = await AlarmChange.raw("SELECT COALESCE(MAX(seq), 0) AS head FROM alarm_change")
        return int(rows[0]["head"])

    async def after(self, after: int, *, limit: int) -> list[AlarmChangeRow]:
        """Up to ``limit`` changes with seq above ``after``, in seq order."""
        rows = (
            await AlarmChange.select(AlarmChange.seq, AlarmChange.event, AlarmChange.alarm)
            .where(AlarmChange.seq > after)
            .order_by(AlarmChange.seq)
            .limit(limit)
        )
        return [msgspec.convert(r, AlarmChangeRow) for r in rows]

    async def listen(self, channel: str, notified: Callable[..., None]) -> Any | None:
        """PostgreSQL: a connection of its own (outside the pool: LISTEN holds it for the
        feed's lifetime) that calls ``notified`` on each NOTIFY on ``channel`` and when
        the connection is lost (to reconnect and catch up at once). SQLite: None (the feed
        polls). The caller closes the connection."""
        engine = db.engine()
        if not isinstance(engine, PostgresEngine):
            return None
        connection = await asyncpg.connect(**engine.config)
        try:
            await connection.add_listener(channel, notified)
            connection.add_termination_listener(notified)
        except BaseException:
            await connection.close(timeout=2)
            raise
        return connection
