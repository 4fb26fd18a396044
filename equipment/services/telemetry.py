"""Lift telemetry over time: who went silent, a lift's live state, and day summaries
for the faked-maintenance check."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from equipment.domain import lift_events
from equipment.domain.access import Permission, Principal
from equipment.domain.errors import NotFound
from equipment.domain.maintenance import TelemetryDay
from equipment.services import alarms, maintenance
from equipment.services.clock import CHINA
from equipment.services.register import get_equipment
from equipment.storage import db, reads, unit_of_work
from equipment.storage.telemetry import Heartbeat, LiftStateRecord


async def mark_offline(*, now: datetime, silent_for: timedelta) -> int:
    """Mark lifts that sent nothing for ``silent_for`` offline, with one alarm each.

    A lift already offline is not touched again, so a silent lift raises one alarm, not
    one per sweep; its next heartbeat closes the alarm (``ingest``).
    """
    async with unit_of_work() as uow:
        sweep = await uow.telemetry.mark_silent_offline(now - silent_for)
        if not sweep.marked:
            return 0
        # The alarms' bulk writer runs on the unit of work's connection: one transaction.
        async with db.reader() as bulk:
            await alarms.record_bursts(
                bulk,
                [
                    alarms.Burst(
                        kind=lift_events.OFFLINE,
                        equipment=r.equipment,
                        count=1,
                        first_raised_at=now,
                        last_raised_at=now,
                        source="iot",
                        maintenance_company=r.maintenance_company,
                        district_code=r.district_code,
                        detail=f"no message since {r.last_seen_at}",
                    )
                    for r in sweep.registered
                ],
            )
    return sweep.marked


async def live_state(principal: Principal, equipment_id: int) -> LiftStateRecord:
    principal.require(Permission.TELEMETRY_READ)
    await get_equipment(principal, equipment_id)  # 404 outside the caller's scope
    row = await reads().telemetry.live_state(equipment_id)
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
    rows = await reads().telemetry.heartbeats(unit_ids, start, end)
    grouped: dict[tuple[int, date], list[Heartbeat]] = defaultdict(list)
    for r in rows:
        grouped[(r.equipment, r.ts.astimezone(CHINA).date())].append(r)
    summaries: dict[tuple[int, date], TelemetryDay] = {}
    for key, beats in grouped.items():
        beats.sort(key=lambda r: r.ts)
        # Coverage: minutes with at least one heartbeat, over the day's 1,440.
        minutes = {b.ts.astimezone(CHINA).replace(second=0, microsecond=0) for b in beats}
        runs = [b.total_runs for b in beats if b.total_runs is not None]
        summaries[key] = TelemetryDay(
            covered_share=min(1.0, len(minutes) / 1440),
            service_modes=frozenset(b.service_mode for b in beats),
            runs=max(runs) - min(runs) if runs else 0,
        )
    return summaries


async def check_maintenance_records(*, today: date, days_back: int = 2) -> int:
    """Flag the last days' maintenance records that the lifts' telemetry contradicts."""
    since = today - timedelta(days=days_back)
    records = await reads().telemetry.records_between(since, today)
    if not records:
        return 0
    summaries = await day_summaries(
        sorted({r.equipment for r in records}), sorted({r.maintained_on for r in records})
    )
    return await maintenance.flag_faked_records(summaries, since=since)
