"""Lift telemetry: the live state per lift, the heartbeat history, and the sweep that
marks silent lifts offline: every table access of equipment.services.telemetry."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import msgspec

from equipment.storage import db
from equipment.storage.tables import LiftHeartbeat, LiftState, MaintenanceRecord


class SilentLift(msgspec.Struct, frozen=True):
    """A lift just marked offline, with what its offline alarm copies of the unit."""

    equipment: int
    last_seen_at: str  # ISO text: the raw statement returns text on SQLite
    maintenance_company: int | None
    district_code: str


class SilentSweep(msgspec.Struct, frozen=True):
    """How many lifts were marked offline, and those of them still in the register."""

    marked: int
    registered: list[SilentLift]


class LiftStateRecord(msgspec.Struct, frozen=True):
    id: int
    equipment: int
    ts: datetime
    last_seen_at: datetime
    running: bool
    direction: int
    door_zone: bool
    floor: int
    doors_closed: bool
    occupied: bool
    service_mode: int
    total_runs: int | None
    total_hours: float | None
    door_cycles: int | None
    offline: bool
    offline_since: datetime | None


class Heartbeat(msgspec.Struct, frozen=True):
    """What a day summary reads of a heartbeat."""

    equipment: int
    ts: datetime
    service_mode: int
    total_runs: int | None


class RecentRecord(msgspec.Struct, frozen=True):
    equipment: int
    maintained_on: date


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


class TelemetryRepository:
    async def mark_silent_offline(self, silent_since: datetime) -> SilentSweep:
        """Mark offline the online lifts last seen before ``silent_since``: those lifts,
        each with its unit's maintenance company and district. Two statements; run it in
        a unit of work with the alarms it raises."""
        async with db.reader() as bulk:
            silent = await bulk.fetch(
                "UPDATE lift_state SET offline = true, offline_since = last_seen_at"
                " WHERE offline = false AND last_seen_at < $1 RETURNING equipment, last_seen_at",
                silent_since,
            )
            if not silent:
                return SilentSweep(0, [])
            units = await bulk.fetch(
                "SELECT id, maintenance_company, district_code FROM equipment WHERE "
                + bulk.any_of("id", 1),
                [r["equipment"] for r in silent],
            )
        by_id = {u["id"]: u for u in units}
        registered = [
            SilentLift(
                equipment=r["equipment"],
                last_seen_at=_iso(r["last_seen_at"]),
                maintenance_company=by_id[r["equipment"]]["maintenance_company"],
                district_code=by_id[r["equipment"]]["district_code"],
            )
            for r in silent
            if r["equipment"] in by_id
        ]
        return SilentSweep(len(silent), registered)

    async def live_state(self, equipment_id: int) -> LiftStateRecord | None:
        row = await LiftState.select().where(LiftState.equipment == equipment_id).first()
        return None if row is None else msgspec.convert(row, LiftStateRecord, strict=False)

    async def heartbeats(
        self, unit_ids: Sequence[int], start: datetime, end: datetime
    ) -> list[Heartbeat]:
        """These lifts' heartbeats in [start, end)."""
        rows = await LiftHeartbeat.select(
            LiftHeartbeat.equipment, LiftHeartbeat.ts, LiftHeartbeat.service_mode,
            LiftHeartbeat.total_runs,
        ).where(
            LiftHeartbeat.equipment.is_in(list(unit_ids)),
            LiftHeartbeat.ts >= start,
            LiftHeartbeat.ts < end,
        )  # fmt: skip
        return [msgspec.convert(r, Heartbeat, strict=False) for r in rows]

    async def records_between(self, since: date, before: date) -> list[RecentRecord]:
        """Maintenance records of the days [since, before): what telemetry is checked on."""
        rows = await MaintenanceRecord.select(
            MaintenanceRecord.equipment, MaintenanceRecord.maintained_on
        ).where(MaintenanceRecord.maintained_on >= since, MaintenanceRecord.maintained_on < before)
        return [msgspec.convert(r, RecentRecord, strict=False) for r in rows]
