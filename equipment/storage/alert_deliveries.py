"""MQTT alert deliveries (``alert_delivery``): every statement of
equipment.services.alerts — the fan-out's insert, the worker's lease and its results.

A delivery is leased to one worker at a time (PostgreSQL ``FOR UPDATE SKIP LOCKED``:
concurrent workers take different rows; SQLite has one writer at a time), and a result
counts only under the lease it was claimed with: a late worker whose lease ran out and
was taken over records nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import msgspec

from equipment.storage import db


class NewAlertDelivery(msgspec.Struct, frozen=True):
    """One organisation's copy of a notification, its payload fixed."""

    notification: int
    organisation: int
    idempotency_key: str
    body: str
    next_attempt_at: datetime
    created_at: datetime


class LeasedAlert(msgspec.Struct, frozen=True):
    id: int
    organisation: int
    attempts: int
    body: str


class AlertDeliveryRepository:
    async def insert(self, rows: Sequence[NewAlertDelivery]) -> None:
        """Pending deliveries, in the open transaction (one per notification and
        organisation: a repeat does nothing)."""
        if not rows:
            return
        async with db.reader() as bulk:
            await bulk.executemany(
                "INSERT INTO alert_delivery (notification, organisation, idempotency_key, body,"
                " state, attempts, next_attempt_at, created_at, last_error)"
                " VALUES ($1, $2, $3, $4, 'pending', 0, $5, $6, '')"
                " ON CONFLICT (notification, organisation) DO NOTHING",
                [msgspec.structs.astuple(r) for r in rows],
            )

    async def lease(
        self, *, now: datetime, until: datetime, lease: str, limit: int
    ) -> list[LeasedAlert]:
        """Lease up to ``limit`` due deliveries (each to one worker only) until ``until``,
        counting the attempt; by id. Inside an open transaction (RuntimeError otherwise,
        on PostgreSQL)."""
        db.require_transaction("AlertDeliveryRepository.lease")
        async with db.reader() as bulk:
            skip_locked = " FOR UPDATE SKIP LOCKED" if bulk.postgres else ""
            rows = await bulk.fetch(
                "UPDATE alert_delivery SET leased_until = $1, lease = $2, attempts = attempts + 1"
                " WHERE id IN (SELECT id FROM alert_delivery WHERE state = 'pending'"
                " AND next_attempt_at <= $3 AND (leased_until IS NULL OR leased_until <= $3)"
                f" ORDER BY next_attempt_at, id LIMIT $4{skip_locked})"
                " RETURNING id, organisation, attempts, body",
                until,
                lease,
                now,
                limit,
            )
        leased = [msgspec.convert(r, LeasedAlert) for r in rows]
        return sorted(leased, key=lambda r: r.id)

    async def delivered(self, delivery_id: int, lease: str, *, at: datetime) -> None:
        await self._settle(
            delivery_id, lease, "state = 'delivered', delivered_at = $3, last_error = ''", at
        )

    async def dead(self, delivery_id: int, lease: str, *, error: str) -> None:
        await self._settle(delivery_id, lease, "state = 'dead', last_error = $3", error)

    async def retry(self, delivery_id: int, lease: str, *, at: datetime, error: str) -> None:
        await self._settle(delivery_id, lease, "next_attempt_at = $3, last_error = $4", at, error)

    async def _settle(
        self, delivery_id: int, lease: str, changes: str, *args: datetime | str
    ) -> None:
        """Record a result and give the lease back, under that lease only."""
        async with db.reader() as bulk:
            await bulk.execute(
                f"UPDATE alert_delivery SET {changes}, leased_until = NULL, lease = NULL"
                " WHERE id = $1 AND lease = $2",
                delivery_id,
                lease,
                *args,
            )
