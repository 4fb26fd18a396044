"""Lift telemetry over time: who went silent, a lift's live state, and day summaries
for the faked-maintenance check."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from equipment.domain import lift_events
from equipment.domain.access import Permission, Principal
from equipment.domain.errors import NotFound
from equipment.domain.maintenance import TelemetryDay
from equipment.services import alarms, maintenance
from equipment.services.clock import CHINA
from equipment.services.register import get_equipment
from equipment.storage import db
from equipment.storage.bulk import Bulk
from equipment.tables import LiftHeartbeat, LiftState


async def mark_offline(*, now: datetime, silent_for: timedelta) -> int:
    """Mark lifts that sent nothing for ``silent_for`` offline, with one alarm each.

    A lift already offline is not touched again, so a silent lift raises one alarm, not
    one per sweep; its next heartbeat closes the alarm (``ingest``).
    """
    async with db.transaction() as transaction:
        bulk = Bulk(transaction)
        silent = await bulk.fetch(
            "UPDATE lift_state SET offline = true, offline_since = last_seen_at"
            " WHERE offline = false AND last_seen_at < $1 RETURNING equipment, last_seen_at",
            now - silent_for,
        )
        if not silent:
            return 0
        units = await bulk.fetch(
            "SELECT id, maintenance_company, district_code FROM equipment WHERE "
            + bulk.any_of("id", 1),
            [r["equipment"] for r in silent],
        )
        by_id = {u["id"]: u for u in units}
        await alarms.record_bursts(
            bulk,
            [
                alarms.Burst(
                    kind=lift_events.OFFLINE,
                    equipment=r["equipment"],
                    count=1,
                    first_raised_at=now,
                    last_raised_at=now,
                    source="iot",
                    maintenance_company=by_id[r["equipment"]]["maintenance_company"],
                    district_code=by_id[r["equipment"]]["district_code"],
                    detail=f"no message since {_iso(r['last_seen_at'])}",
                )
                for r in silent
                if r["equipment"] in by_id
            ],
        )
    return len(silent)


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


async def live_state(principal: Principal, equipment_id: int) -> dict[str, Any]:
    principal.require(Permission.TELEMETRY_READ)
    await get_equipment(principal, equipment_id)  # 404 outside the caller's scope
    row = await LiftState.select().where(LiftState.equipment == equipment_id).first()
    if row is None:
        raise NotFound(f"unit {equipment_id} has reported no telemetry")
    return row


async def day_summaries(
    unit_ids: list[int], days: list[date]
) -> dict[tuple[int, date], TelemetryDay]:
    """What each lift's heartbeats say about each day (China time), for the
    faked-maintenance check: share of the day covered, service modes seen, runs."""
    if not unit_ids or not days:
        return {}
    start = datetime.combine(min(days), datetime.min.time(), CHINA)
    end = datetime.combine(max(days) + timedelta(days=1), datetime.min.time(), CHINA)
    rows = await LiftHeartbeat.select(
        LiftHeartbeat.equipment, LiftHeartbeat.ts, LiftHeartbeat.service_mode,
        LiftHeartbeat.total_runs,
    ).where(
        LiftHeartbeat.equipment.is_in(unit_ids), LiftHeartbeat.ts >= start, LiftHeartbeat.ts < end
    )  # fmt: skip
    grouped: dict[tuple[int, date], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        grouped[(r["equipment"], r["ts"].astimezone(CHINA).date())].append(r)
    summaries: dict[tuple[int, date], TelemetryDay] = {}
    for key, beats in grouped.items():
        beats.sort(key=lambda r: r["ts"])
        # Coverage: minutes with at least one heartbeat, over the day's 1,440.
        minutes = {b["ts"].astimezone(CHINA).replace(second=0, microsecond=0) for b in beats}
        runs = [b["total_runs"] for b in beats if b["total_runs"] is not None]
        summaries[key] = TelemetryDay(
            covered_share=min(1.0, len(minutes) / 1440),
            service_modes=frozenset(b["service_mode"] for b in beats),
            runs=max(runs) - min(runs) if runs else 0,
        )
    return summaries


async def check_maintenance_records(*, today: date, days_back: int = 2) -> int:
    """Flag the last days' maintenance records that the lifts' telemetry contradicts."""
    from equipment.tables import MaintenanceRecord

    since = today - timedelta(days=days_back)
    records = await MaintenanceRecord.select(
        MaintenanceRecord.equipment, MaintenanceRecord.maintained_on
    ).where(MaintenanceRecord.maintained_on >= since, MaintenanceRecord.maintained_on < today)
    if not records:
        return 0
    summaries = await day_summaries(
        sorted({r["equipment"] for r in records}), sorted({r["maintained_on"] for r in records})
    )
    return await maintenance.flag_faked_records(summaries, since=since)
