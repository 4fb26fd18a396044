"""The ingest's dead letters: what devices sent that sereg could not accept, and why."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

import msgspec
from piccolo.query.functions.aggregate import Count

from equipment.storage.bulk import Bulk
from equipment.storage.equipment import Clause
from equipment.storage.tables import DeadLetter


class DeadLetterRow(msgspec.Struct, frozen=True):
    id: int
    received_at: datetime
    topic: str
    unit_code: str | None
    reason: str
    detail: str
    payload: bytes | None
    payload_size: int
    delivery_key: str | None
    deliveries: int


# The ingest's rows, a tuple per dead letter in this order (deliveries last).
DEAD_LETTER_COLUMNS = (
    "received_at", "topic", "unit_code", "reason", "detail", "payload", "payload_size",
    "delivery_key", "deliveries",
)  # fmt: skip


class DeadLetterRepository:
    async def add_many(self, bulk: Bulk, rows: Sequence[Sequence[Any]]) -> None:
        """The ingest's dead letters (DEAD_LETTER_COLUMNS order), in its transaction: one
        delivered again (its delivery key) is counted on its row, not stored twice."""
        await bulk.insert(
            DeadLetter,
            DEAD_LETTER_COLUMNS,
            rows,
            tail="ON CONFLICT (delivery_key) DO UPDATE SET"
            " deliveries = dead_letter.deliveries + excluded.deliveries",
        )

    async def newest_first(
        self,
        *,
        reason: str | None,
        unit_code: str | None,
        since: datetime | None,
        before_id: int | None,
        limit: int,
    ) -> list[DeadLetterRow]:
        clauses: list[Clause] = []
        if reason:
            clauses.append(DeadLetter.reason == reason)
        if unit_code:
            clauses.append(DeadLetter.unit_code == unit_code)
        if since:
            clauses.append(DeadLetter.received_at >= since)
        if before_id is not None:
            clauses.append(DeadLetter.id < before_id)
        query = DeadLetter.select().order_by(DeadLetter.id, ascending=False).limit(limit)
        if clauses:
            query = query.where(*clauses)
        return [msgspec.convert(r, DeadLetterRow, strict=False) for r in await query]

    async def count_by_reason(self, *, since: datetime | None) -> dict[str, int]:
        query = DeadLetter.select(DeadLetter.reason, Count(DeadLetter.id, alias="count"))
        if since:
            query = query.where(DeadLetter.received_at >= since)
        rows = await query.group_by(DeadLetter.reason)
        return {cast(str, r["reason"]): int(r["count"]) for r in rows}

    async def count_unknown_codes(self, *, since: datetime | None) -> dict[str | None, int]:
        """Dead letters of unknown units, counted per unit code."""
        query = DeadLetter.select(DeadLetter.unit_code, Count(DeadLetter.id, alias="count")).where(
            DeadLetter.reason == "unknown_unit"
        )
        if since:
            query = query.where(DeadLetter.received_at >= since)
        rows = await query.group_by(DeadLetter.unit_code)
        return {cast(str | None, r["unit_code"]): int(r["count"]) for r in rows}
