"""96333 calls and what an alarm's timeline reads: the calls, the lift's events, the
webhook deliveries of its notifications."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import msgspec

from equipment.storage.equipment import EquipmentRow, unit_rows, unit_select
from equipment.storage.tables import (
    Alarm,
    EmergencyCall,
    Equipment,
    LiftEvent,
    Notification,
    WebhookDelivery,
    WebhookEndpoint,
)


class CallRow(msgspec.Struct, frozen=True):
    id: int
    alarm: int
    equipment: int
    callback_number: str
    note: str
    received_at: datetime
    joined: bool
    actor: str
    recorded_at: datetime


class RecentCallRow(msgspec.Struct, frozen=True):
    """A call with its lift and where the rescue it opened or joined stands."""

    id: int
    alarm: int
    equipment: int
    callback_number: str
    note: str
    received_at: datetime
    joined: bool
    actor: str
    code: str
    address: str
    alarm_state: str
    acknowledged_at: datetime | None
    arrived_at: datetime | None
    finished_at: datetime | None
    closed_at: datetime | None


class LiftEventRow(msgspec.Struct, frozen=True):
    id: int
    equipment: int
    event_id: str
    ts: datetime
    kind: str
    raw_code: str | None
    floor: int | None
    cleared: bool
    received_at: datetime


class DeliveryRow(msgspec.Struct, frozen=True):
    """A delivered webhook of one of an alarm's notifications, with whom it reached."""

    delivered_at: datetime
    organisation: int | None
    district_code: str | None


def _live_lifts() -> Any:
    return unit_select().where(
        Equipment.category.like("3%"), Equipment.status.not_in(["scrapped", "cancelled"])
    )


class CallRepository:
    async def live_lift_by_code(self, code: str) -> EquipmentRow | None:
        """A lift not scrapped or cancelled whose registration code or code is ``code``."""
        row = (
            await _live_lifts()
            .where((Equipment.registration_code == code) | (Equipment.code == code))
            .first()
        )
        return None if row is None else unit_rows([row])[0]

    async def live_lifts_at(self, words: str, *, limit: int) -> list[EquipmentRow]:
        """Lifts whose address contains ``words`` (a literal without LIKE wildcards)."""
        rows = await _live_lifts().where(Equipment.address.like(f"%{words}%")).limit(limit)
        return unit_rows(rows)

    async def has_open_entrapment(self, equipment_id: int) -> bool:
        return bool(
            await Alarm.exists().where(
                Alarm.equipment == equipment_id,
                Alarm.kind == "entrapment",
                Alarm.state == "open",
            )
        )

    async def add(self, values: Mapping[str, Any]) -> CallRow:
        [call] = await EmergencyCall.insert(EmergencyCall(**values)).returning(
            *EmergencyCall.all_columns()
        )
        return msgspec.convert(call, CallRow, strict=False)

    async def recent(self, limit: int) -> list[RecentCallRow]:
        """The latest calls, newest first, each with its lift and its alarm's steps: three
        indexed reads (calls by key, then their alarms and lifts by key), no join that
        would differ between the engines."""
        calls = (
            await EmergencyCall.select(*EmergencyCall.all_columns())
            .order_by(EmergencyCall.id, ascending=False)
            .limit(limit)
        )
        if not calls:
            return []
        alarms = {
            a["id"]: a
            for a in await Alarm.select(
                Alarm.id,
                Alarm.state,
                Alarm.acknowledged_at,
                Alarm.arrived_at,
                Alarm.finished_at,
                Alarm.closed_at,
            ).where(Alarm.id.is_in(sorted({c["alarm"] for c in calls})))
        }
        lifts = {
            u["id"]: u
            for u in await Equipment.select(Equipment.id, Equipment.code, Equipment.address).where(
                Equipment.id.is_in(sorted({c["equipment"] for c in calls}))
            )
        }
        rows = []
        for c in calls:
            alarm, lift = alarms[c["alarm"]], lifts[c["equipment"]]
            rows.append(
                RecentCallRow(
                    id=c["id"],
                    alarm=c["alarm"],
                    equipment=c["equipment"],
                    callback_number=c["callback_number"],
                    note=c["note"],
                    received_at=c["received_at"],
                    joined=c["joined"],
                    actor=c["actor"],
                    code=lift["code"],
                    address=lift["address"],
                    alarm_state=alarm["state"],
                    acknowledged_at=alarm["acknowledged_at"],
                    arrived_at=alarm["arrived_at"],
                    finished_at=alarm["finished_at"],
                    closed_at=alarm["closed_at"],
                )
            )
        return rows

    async def of_alarm(self, alarm_id: int) -> list[CallRow]:
        rows = await EmergencyCall.select().where(EmergencyCall.alarm == alarm_id)
        return [msgspec.convert(r, CallRow, strict=False) for r in rows]

    async def lift_events(
        self, equipment_id: int, *, start: datetime, end: datetime | None, limit: int
    ) -> list[LiftEventRow]:
        """The lift's events from ``start`` to ``end`` (open-ended without), oldest first."""
        query = LiftEvent.select().where(LiftEvent.equipment == equipment_id, LiftEvent.ts >= start)
        if end is not None:
            query = query.where(LiftEvent.ts <= end)
        rows = await query.order_by(LiftEvent.ts).limit(limit)
        return [msgspec.convert(r, LiftEventRow, strict=False) for r in rows]

    async def deliveries_of(self, alarm_id: int) -> list[DeliveryRow]:
        notes = Notification.select(Notification.id).where(Notification.alarm == alarm_id)
        delivered = await WebhookDelivery.select(
            WebhookDelivery.delivered_at, WebhookDelivery.endpoint
        ).where(WebhookDelivery.notification.is_in(notes), WebhookDelivery.state == "delivered")
        if not delivered:
            return []
        endpoints = {
            e["id"]: e
            for e in await WebhookEndpoint.select(
                WebhookEndpoint.id, WebhookEndpoint.organisation, WebhookEndpoint.district_code
            ).where(WebhookEndpoint.id.is_in([d["endpoint"] for d in delivered]))
        }
        return [
            DeliveryRow(
                delivered_at=d["delivered_at"],
                organisation=endpoints[d["endpoint"]]["organisation"],
                district_code=endpoints[d["endpoint"]]["district_code"],
            )
            for d in delivered
        ]
