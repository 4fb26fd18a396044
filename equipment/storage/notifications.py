"""Webhook endpoints, the notification outbox and webhook deliveries: every statement of
equipment.services.notifications.

Deliveries are leased to one worker at a time (PostgreSQL ``FOR UPDATE SKIP LOCKED``:
rows another worker holds are skipped, not waited for; SQLite has one writer at a time,
the IMMEDIATE transaction, so nothing to skip), and a result counts only under the lease
it was claimed with. Statements that the service runs inside its transaction go to that
transaction's connection (``db.reader``), so a fan-out stays one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec
from piccolo.columns import Column

from equipment.storage import db
from equipment.storage.bulk import Bulk
from equipment.storage.tables import Notification, Organisation, WebhookDelivery, WebhookEndpoint


class PublicEndpoint(msgspec.Struct, frozen=True):
    """An endpoint as listed: never its secret."""

    id: int
    organisation: int | None
    tier: str
    district_code: str
    url: str
    label: str
    active: bool
    created_at: datetime
    alarms: bool
    changes: str
    change_cursor: str


class EndpointRecord(PublicEndpoint, frozen=True):
    """An endpoint with its signing secret (shown once, at creation; used to sign)."""

    secret: str


class NewEndpoint(msgspec.Struct, frozen=True):
    organisation: int | None
    tier: str
    district_code: str
    url: str
    secret: str
    label: str
    created_at: datetime
    alarms: bool
    changes: str
    change_cursor: str


class DeliveryRecord(msgspec.Struct, frozen=True):
    id: int
    notification: int
    idempotency_key: str
    state: str
    attempts: int
    next_attempt_at: datetime
    last_error: str
    last_status: int | None
    delivered_at: datetime | None
    created_at: datetime
    change: int | None


class PendingNotification(msgspec.Struct, frozen=True):
    id: int
    event: str
    alarm: int
    step: str


class AlarmFacts(msgspec.Struct, frozen=True):
    """An announced alarm with its unit's codes, address, current maintainer and owner:
    what a notification's body and its recipients are decided from."""

    id: int
    kind: str
    severity: str
    state: str
    raised_at: datetime
    count: int
    response_limit_minutes: int | None
    acknowledged_at: datetime | None
    arrived_at: datetime | None
    arrived_late: bool | None
    district_code: str
    equipment: int | None
    station: int | None
    detail: str
    code: str | None
    registration_code: str | None
    address: str | None
    current_company: int | None
    user_unit: int | None


class AlarmEndpoint(msgspec.Struct, frozen=True):
    """An active endpoint told of alarms."""

    id: int
    organisation: int | None
    tier: str
    district_code: str


class ChangeSubscription(msgspec.Struct, frozen=True):
    """An active endpoint subscribed to the changes feed, with its organisation's kind."""

    id: int
    organisation: int | None
    district_code: str
    changes: str
    change_cursor: str
    kind: str | None


class NewWebhookDelivery(msgspec.Struct, frozen=True):
    """An alarm notification's delivery to one endpoint, its body fixed."""

    notification: int
    endpoint: int
    idempotency_key: str
    body: str
    next_attempt_at: datetime
    created_at: datetime


class NewChangeDelivery(msgspec.Struct, frozen=True):
    """A change's delivery to one endpoint (created now, due now)."""

    change: int
    endpoint: int
    idempotency_key: str
    body: str
    at: datetime


class LeasedDelivery(msgspec.Struct, frozen=True):
    id: int
    attempts: int
    idempotency_key: str
    body: str
    url: str
    secret: str


def _owned(everyone: bool, organisation: int | None) -> Any:
    """The endpoints a caller manages: all (``everyone``), or its organisation's."""
    return None if everyone else WebhookEndpoint.organisation == organisation


def _skip_locked(postgres: bool) -> str:
    return " FOR UPDATE SKIP LOCKED" if postgres else ""


class NotificationRepository:
    # ---------------------------------------------------------------- endpoints

    async def organisation_kind(self, organisation_id: int) -> str | None:
        row = (
            await Organisation.select(Organisation.kind)
            .where(Organisation.id == organisation_id)
            .first()
        )
        return None if row is None else str(row["kind"])

    async def add_endpoint(self, new: NewEndpoint) -> EndpointRecord:
        [row] = await WebhookEndpoint.insert(
            WebhookEndpoint(**msgspec.structs.asdict(new), active=True)
        ).returning(*WebhookEndpoint.all_columns())
        return msgspec.convert(row, EndpointRecord, strict=False)

    async def endpoints(self, *, everyone: bool, organisation: int | None) -> list[PublicEndpoint]:
        """The active endpoints a caller manages, by id."""
        query = WebhookEndpoint.select().where(WebhookEndpoint.active == True)  # noqa: E712
        owned = _owned(everyone, organisation)
        if owned is not None:
            query = query.where(owned)
        rows = await query.order_by(WebhookEndpoint.id)
        return [msgspec.convert(r, PublicEndpoint, strict=False) for r in rows]

    async def endpoint(
        self, endpoint_id: int, *, everyone: bool, organisation: int | None
    ) -> PublicEndpoint | None:
        query = WebhookEndpoint.select().where(
            WebhookEndpoint.id == endpoint_id,
            WebhookEndpoint.active == True,  # noqa: E712
        )
        owned = _owned(everyone, organisation)
        if owned is not None:
            query = query.where(owned)
        row = await query.first()
        return None if row is None else msgspec.convert(row, PublicEndpoint, strict=False)

    async def deactivate(self, endpoint_id: int) -> None:
        """Stop telling the endpoint; its pending deliveries are kept, dead."""
        await WebhookEndpoint.update({WebhookEndpoint.active: False}).where(
            WebhookEndpoint.id == endpoint_id
        )
        await WebhookDelivery.update(
            {WebhookDelivery.state: "dead", WebhookDelivery.last_error: "endpoint deleted"}
        ).where(WebhookDelivery.endpoint == endpoint_id, WebhookDelivery.state == "pending")

    async def deliveries(
        self, endpoint_id: int, *, state: str | None, limit: int
    ) -> list[DeliveryRecord]:
        """An endpoint's deliveries, newest first."""
        query = WebhookDelivery.select(
            WebhookDelivery.id,
            WebhookDelivery.notification,
            WebhookDelivery.idempotency_key,
            WebhookDelivery.state,
            WebhookDelivery.attempts,
            WebhookDelivery.next_attempt_at,
            WebhookDelivery.last_error,
            WebhookDelivery.last_status,
            WebhookDelivery.delivered_at,
            WebhookDelivery.created_at,
            WebhookDelivery.change,
        ).where(WebhookDelivery.endpoint == endpoint_id)
        if state:
            query = query.where(WebhookDelivery.state == state)
        rows = await query.order_by(WebhookDelivery.id, ascending=False).limit(limit)
        return [msgspec.convert(r, DeliveryRecord, strict=False) for r in rows]

    async def redeliver(
        self, endpoint_id: int, *, delivery_id: int | None, now: datetime
    ) -> list[int]:
        """Dead deliveries (one, or all of the endpoint's) pending again with a fresh count
        of attempts; their ids."""
        changes: dict[Column | str, Any] = {
            WebhookDelivery.state: "pending",
            WebhookDelivery.attempts: 0,
            WebhookDelivery.next_attempt_at: now,
            WebhookDelivery.leased_until: None,
            WebhookDelivery.lease: None,
        }
        query = WebhookDelivery.update(changes).where(
            WebhookDelivery.endpoint == endpoint_id, WebhookDelivery.state == "dead"
        )
        if delivery_id is not None:
            query = query.where(WebhookDelivery.id == delivery_id)
        return [int(r["id"]) for r in await query.returning(WebhookDelivery.id)]

    # ---------------------------------------------------------------- the outbox

    async def enqueue(self, alarm_id: int, *, event: str, step: str, now: datetime) -> None:
        """One notification, in the open transaction (a repeat does nothing)."""
        await Notification.raw(
            "INSERT INTO notification (event, alarm, step, created_at, fanned_out)"
            " VALUES ({}, {}, {}, {}, false) ON CONFLICT (event, alarm, step) DO NOTHING",
            event,
            alarm_id,
            step,
            now,
        )

    async def enqueue_many(
        self, bulk: Bulk, alarm_ids: Sequence[int], *, event: str, now: datetime
    ) -> None:
        """One notification per alarm of the ingest's batch, set-at-a-time, on ``bulk``
        (the batch's transaction)."""
        await bulk.execute(
            "INSERT INTO notification (event, alarm, step, created_at, fanned_out)"
            f" SELECT CAST($1 AS TEXT), id, '', $2, false FROM alarm WHERE {bulk.any_of('id', 3)}"
            " ON CONFLICT (event, alarm, step) DO NOTHING",
            event,
            now,
            list(alarm_ids),
        )

    async def pending(self, limit: int) -> list[PendingNotification]:
        """Notifications not yet fanned out, oldest first, locked for this transaction
        (which must be open: RuntimeError otherwise, on PostgreSQL)."""
        db.require_transaction("NotificationRepository.pending")
        async with db.reader() as bulk:
            rows = await bulk.fetch(
                "SELECT id, event, alarm, step FROM notification WHERE fanned_out = false"
                f" ORDER BY id LIMIT $1{_skip_locked(bulk.postgres)}",
                limit,
            )
        return [msgspec.convert(r, PendingNotification) for r in rows]

    async def alarm_facts(self, alarm_ids: Sequence[int]) -> dict[int, AlarmFacts]:
        async with db.reader() as bulk:
            rows = await bulk.fetch(
                "SELECT a.*, e.code, e.registration_code, e.address,"
                " e.maintenance_company AS current_company, e.user_unit"
                " FROM alarm a LEFT JOIN equipment e ON e.id = a.equipment"
                f" WHERE {bulk.any_of('a.id', 1)}",
                list(alarm_ids),
            )
        facts = [msgspec.convert(r, AlarmFacts, strict=False) for r in rows]
        return {f.id: f for f in facts}

    async def alarm_endpoints(self) -> list[AlarmEndpoint]:
        """The active endpoints told of alarms, by id."""
        async with db.reader() as bulk:
            rows = await bulk.fetch(
                "SELECT id, organisation, tier, district_code FROM webhook_endpoint"
                " WHERE active = true AND alarms = true ORDER BY id"
            )
        return [msgspec.convert(r, AlarmEndpoint) for r in rows]

    async def add_deliveries(self, rows: Sequence[NewWebhookDelivery]) -> None:
        async with db.reader() as bulk:
            await bulk.executemany(
                "INSERT INTO webhook_delivery (notification, endpoint, idempotency_key, body,"
                " state, attempts, next_attempt_at, created_at, last_error)"
                " VALUES ($1, $2, $3, $4, 'pending', 0, $5, $6, '')"
                " ON CONFLICT (notification, endpoint) WHERE change IS NULL DO NOTHING",
                [msgspec.structs.astuple(r) for r in rows],
            )

    async def fanned_out(self, notification_ids: Sequence[int]) -> None:
        async with db.reader() as bulk:
            await bulk.execute(
                f"UPDATE notification SET fanned_out = true WHERE {bulk.any_of('id', 1)}",
                list(notification_ids),
            )

    # ---------------------------------------------------------------- the changes feed

    async def change_subscriptions(self) -> list[ChangeSubscription]:
        async with db.reading() as reading:
            rows = await reading.fetch(
                "SELECT w.id, w.organisation, w.district_code, w.changes, w.change_cursor,"
                " o.kind FROM webhook_endpoint w"
                " LEFT JOIN organisation o ON o.id = w.organisation"
                " WHERE w.active = true AND w.changes <> '' ORDER BY w.id"
            )
        return [msgspec.convert(r, ChangeSubscription) for r in rows]

    async def move_cursor(self, endpoint_id: int, *, was: str, to: str) -> bool:
        """Move an endpoint's change cursor if it still stands at ``was``."""
        async with db.reader() as bulk:
            moved = await bulk.fetch(
                "UPDATE webhook_endpoint SET change_cursor = $1 WHERE id = $2"
                " AND change_cursor = $3 RETURNING id",
                to,
                endpoint_id,
                was,
            )
        return bool(moved)

    async def add_change_deliveries(self, rows: Sequence[NewChangeDelivery]) -> None:
        async with db.reader() as bulk:
            await bulk.executemany(
                "INSERT INTO webhook_delivery (notification, change, endpoint, idempotency_key,"
                " body, state, attempts, next_attempt_at, created_at, last_error)"
                " VALUES (0, $1, $2, $3, $4, 'pending', 0, $5, $5, '')"
                " ON CONFLICT (change, endpoint) WHERE change IS NOT NULL DO NOTHING",
                [msgspec.structs.astuple(r) for r in rows],
            )

    # ---------------------------------------------------------------- delivery

    async def lease(
        self, *, now: datetime, until: datetime, lease: str, limit: int
    ) -> list[LeasedDelivery]:
        """Lease up to ``limit`` due deliveries to this worker, with their endpoints' URL
        and secret; by id. Inside an open transaction (RuntimeError otherwise, on
        PostgreSQL)."""
        db.require_transaction("NotificationRepository.lease")
        async with db.reader() as bulk:
            rows = await bulk.fetch(
                "UPDATE webhook_delivery SET leased_until = $1, lease = $2,"
                " attempts = attempts + 1"
                " WHERE id IN (SELECT id FROM webhook_delivery WHERE state = 'pending'"
                " AND next_attempt_at <= $3 AND (leased_until IS NULL OR leased_until <= $3)"
                f" ORDER BY next_attempt_at, id LIMIT $4{_skip_locked(bulk.postgres)})"
                " RETURNING id, endpoint, attempts, idempotency_key, body",
                until,
                lease,
                now,
                limit,
            )
            if not rows:
                return []
            endpoints = {
                r["id"]: r
                for r in await bulk.fetch(
                    f"SELECT id, url, secret FROM webhook_endpoint WHERE {bulk.any_of('id', 1)}",
                    sorted({r["endpoint"] for r in rows}),
                )
            }
        return [
            LeasedDelivery(
                id=r["id"],
                attempts=r["attempts"],
                idempotency_key=r["idempotency_key"],
                body=r["body"],
                url=endpoints[r["endpoint"]]["url"],
                secret=endpoints[r["endpoint"]]["secret"],
            )
            for r in sorted(rows, key=lambda r: r["id"])
        ]

    async def delivered(
        self, delivery_id: int, lease: str, *, at: datetime, status: int | None
    ) -> None:
        await self._settle(
            delivery_id,
            lease,
            "state = 'delivered', delivered_at = $3, last_error = ''",
            [at],
            status,
        )

    async def dead(self, delivery_id: int, lease: str, *, error: str, status: int | None) -> None:
        await self._settle(delivery_id, lease, "state = 'dead', last_error = $3", [error], status)

    async def retry(
        self, delivery_id: int, lease: str, *, at: datetime, error: str, status: int | None
    ) -> None:
        await self._settle(
            delivery_id, lease, "next_attempt_at = $3, last_error = $4", [at, error], status
        )

    async def _settle(
        self,
        delivery_id: int,
        lease: str,
        changes: str,
        args: list[datetime | str],
        status: int | None,
    ) -> None:
        """Record an attempt's result and give the lease back, under that lease only."""
        async with db.reader() as bulk:
            await bulk.execute(
                f"UPDATE webhook_delivery SET {changes}, last_status = ${len(args) + 3},"
                " leased_until = NULL, lease = NULL WHERE id = $1 AND lease = $2",
                delivery_id,
                lease,
                *args,
                status,
            )
