"""Pruning by age: the tables that grow without bound, and the column their age is in."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from equipment.storage import db
from equipment.storage.bulk import Bulk

Aged = Literal["lift_heartbeat", "dead_letter", "fill", "lift_event", "web_session", "alarm_change"]
# table -> the column (or expression of its columns) its age is read from
AGE_COLUMN: dict[Aged, str] = {
    "lift_heartbeat": "ts",
    "dead_letter": "received_at",
    "fill": "filled_at",
    "lift_event": "ts",
    # A session is over when it was ended (logout) or when it expired, whichever came first.
    "web_session": "COALESCE(ended_at, expires_at)",
    # Set by the database as the triggers write the row (migration 2026-12-06T18:20:01).
    "alarm_change": "changed_at",
}


class RetentionRepository:
    async def delete_older(
        self, table: Aged, cutoff: datetime, *, limit: int, keep_last: int = 0
    ) -> int:
        """Delete up to ``limit`` rows of ``table`` older than ``cutoff``, in a transaction
        of their own (short, so pruning a backlog never blocks the ingest); how many.

        ``alarm_change`` keeps, whatever their age, its unstamped rows and its last
        ``keep_last`` seqs (and always the head: SQLite's next seq is its highest id + 1).
        """
        column = AGE_COLUMN[table]
        also = ""
        if table == "alarm_change":
            also = (
                " AND seq IS NOT NULL AND seq < (SELECT MAX(seq) FROM alarm_change)"
                f" - {int(keep_last)}"
            )
        async with db.transaction() as transaction:
            rows = await Bulk(transaction).fetch(
                f"DELETE FROM {table} WHERE id IN"
                f" (SELECT id FROM {table} WHERE {column} < $1{also} LIMIT {int(limit)})"
                " RETURNING id",
                cutoff,
            )
        return len(rows)
