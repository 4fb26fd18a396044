"""Alarms and the entrapment response clock: raised, acknowledged, on site, finished.

One open alarm per unit and kind (a unique partial index holds the line): a repeat
raises its counter instead of a new row, so an alarm storm stays one alarm.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import msgspec

from equipment.domain import lift_events, regions
from equipment.domain.access import EquipmentScope, Permission, Principal
from equipment.domain.errors import Conflict, InvalidValue, NotFound
from equipment.services import audit, clock, notifications, policies, schedules
from equipment.services.pagination import SortKey, decode_cursor, encode_cursor
from equipment.services.register import Page, get_equipment
from equipment.storage import reads, unit_of_work
from equipment.storage.alarms import AlarmQuery, AlarmRecord, IngestAlarm, NewAlarm
from equipment.storage.bulk import Bulk
from equipment.storage.equipment import EquipmentRow

SORT = SortKey("raised_at", descending=True, unique=False)

# Refused fills: a wrong medium and a cloned identification label are major accident
# hazards (GB 45067-2024 5.5.2; a clone lets an uninspected cylinder pass as another).
FILL_SEVERITY = {
    "fill_wrong_medium": "critical",
    "fill_cloned_identification": "critical",
    "fill_scrapped": "major",
    "fill_cancelled": "major",
    "fill_past_service_life": "major",
    "fill_failed_inspection": "major",
    "fill_overdue_inspection": "major",
    "fill_over_filled": "major",
    "fill_station_licence_invalid": "major",
    "fill_not_purged": "major",
    "fill_people_in_vehicle": "major",
    "fill_vehicle_mismatch": "major",
}


def severity(kind: str) -> str:
    if kind.startswith("fill_"):
        return FILL_SEVERITY.get(kind, "minor")
    return lift_events.severity(kind)


def response_limit_minutes(kind: str, district_code: str) -> int | None:
    """Entrapments only: 30 minutes in a city district, 1 hour elsewhere
    (《湖北省电梯使用安全管理办法》, rules lift.entrapment.city / .elsewhere [S]): the
    settings' minutes when set, else the rule policy's."""
    if kind != "entrapment":
        return None
    settings = policies.current().response
    urban = (
        regions.is_known_region(district_code) and regions.region(district_code).is_urban_district
    )
    configured = settings.city_minutes if urban else settings.other_minutes
    if configured is not None:
        return configured
    row = schedules.policy().row("lift.entrapment.city" if urban else "lift.entrapment.elsewhere")
    return row.value("minutes")


# An alarm entered by hand is a call taken minutes or days ago; as with the devices' own
# (ingest: 30 days back), an older date is a typing error, not an alarm to open.
OLDEST_MANUAL_ALARM = timedelta(days=30)


async def raise_alarm(
    principal: Principal,
    equipment_id: int,
    *,
    kind: str,
    raised_at: datetime,
    source: str,
    now: datetime,
    note: str = "",
) -> AlarmRecord:
    """Open an alarm, or count a repeat on the open one of the same kind."""
    principal.require(Permission.ALARM_RAISE)
    if raised_at > now:
        raise InvalidValue("an alarm cannot be raised in the future", field="raised_at")
    if now - raised_at > OLDEST_MANUAL_ALARM:
        raise InvalidValue(
            f"an alarm raised more than {OLDEST_MANUAL_ALARM.days} days ago cannot be entered"
            " (check the date)",
            field="raised_at",
        )
    async with unit_of_work():
        unit = await get_equipment(principal, equipment_id)
        return await open_or_count(
            unit, kind=kind, raised_at=raised_at, source=source, note=note, actor=principal, now=now
        )


async def open_or_count(
    unit: EquipmentRow,
    *,
    kind: str,
    raised_at: datetime,
    source: str,
    note: str,
    actor: Principal,
    now: datetime,
) -> AlarmRecord:
    """In the caller's transaction: count a repeat on the open alarm of ``unit`` and
    ``kind``, or open one (audited and announced)."""
    alarms = reads().alarms
    repeated = await alarms.count_repeat(unit.id, kind, raised_at)
    if repeated is not None:
        return repeated
    row = await alarms.open(
        NewAlarm(
            equipment=unit.id,
            kind=kind,
            severity=severity(kind),
            source=source,
            raised_at=raised_at,
            maintenance_company=unit.maintenance_company,
            district_code=unit.district_code,
            response_limit_minutes=response_limit_minutes(kind, unit.district_code),
            note=note,
        )
    )
    await audit.record(
        actor,
        entity="alarm",
        entity_id=row.id,
        action="raise",
        at=now,
        before=None,
        after=msgspec.structs.asdict(row),
    )
    # The outbox, in this transaction: if the alarm commits, it will be announced.
    await notifications.enqueue_alarm(row.id, event="alarm.raised", now=now)
    return row


def _scope(principal: Principal) -> EquipmentScope:
    """The caller's units; storage turns the scope into the alarms' condition."""
    return principal.equipment_scope()


async def _visible(principal: Principal, alarm_id: int) -> AlarmRecord:
    principal.require(Permission.ALARM_READ)
    row = await reads().alarms.get(alarm_id, _scope(principal))
    if row is None:
        raise NotFound(f"alarm {alarm_id} not found")
    return row


async def visible(principal: Principal, alarm_id: int) -> AlarmRecord:
    """The alarm if ``principal`` may see it; NotFound otherwise (as for an unknown one)."""
    return await _visible(principal, alarm_id)


async def visible_ids(principal: Principal, alarm_ids: list[int]) -> set[int]:
    """Which of ``alarm_ids`` ``principal`` may see, by the same scope as every alarm read
    (the live stream filters what it sends each caller with it)."""
    principal.require(Permission.ALARM_READ)
    if not alarm_ids:
        return set()
    return await reads().alarms.visible_ids(alarm_ids, _scope(principal))


STEPS = {
    # step: (column it sets, the column that must be set first, the event announced)
    "acknowledge": ("acknowledged_at", None, "alarm.acknowledged"),
    "arrive": ("arrived_at", "acknowledged_at", "alarm.arrived"),
    "finish": ("finished_at", "arrived_at", "alarm.finished"),
}


async def respond(
    principal: Principal, alarm_id: int, step: str, *, at: datetime, now: datetime
) -> AlarmRecord:
    """The maintenance company's response: acknowledge, arrive on site, finish."""
    principal.require(Permission.ALARM_RESPOND)
    column, needs, event = STEPS[step]
    if at > now:
        raise InvalidValue("a response cannot be in the future", field="at")
    async with unit_of_work() as uow:
        alarm = await _visible(principal, alarm_id)
        if alarm.state != "open":
            raise Conflict(f"alarm {alarm_id} is {alarm.state}")
        done: datetime | None = getattr(alarm, column)
        if done is not None:
            raise Conflict(f"alarm {alarm_id} was already marked {step} at {done.isoformat()}")
        before: datetime | None = getattr(alarm, needs) if needs is not None else None
        if needs is not None and before is None:
            raise Conflict(f"mark the alarm {needs.removesuffix('_at')} before {step}")
        if at < alarm.raised_at or (before is not None and at < before):
            raise InvalidValue("the time is before the previous step", field="at")
        changes: dict[str, Any] = {column: at}
        if step == "arrive" and alarm.response_limit_minutes is not None:
            elapsed = at - alarm.raised_at
            changes["arrived_late"] = elapsed.total_seconds() > 60 * alarm.response_limit_minutes
        row = await uow.alarms.update(alarm_id, changes)
        await audit.record(
            principal,
            entity="alarm",
            entity_id=alarm_id,
            action=step,
            at=now,
            before=None,
            after=changes,
        )
        # Announced with the step (the outbox, this transaction): the desk and the owner
        # who heard of the raise hear that the company acted.
        await notifications.enqueue_alarm(alarm_id, event=event, now=now)
        return row


async def close(principal: Principal, alarm_id: int, *, note: str, now: datetime) -> AlarmRecord:
    principal.require(Permission.ALARM_CLOSE)
    async with unit_of_work() as uow:
        alarm = await _visible(principal, alarm_id)
        if alarm.state != "open":
            raise Conflict(f"alarm {alarm_id} is already {alarm.state}")
        row = await uow.alarms.update(alarm_id, {"state": "closed", "closed_at": now, "note": note})
        await audit.record(
            principal,
            entity="alarm",
            entity_id=alarm_id,
            action="close",
            at=now,
            before=None,
            after={"note": note},
        )
        await notifications.enqueue_alarm(alarm_id, event="alarm.closed", now=now)
        return row


@dataclass(frozen=True)
class AlarmFilter:
    state: str | None = None
    kind: str | None = None
    district_code: str | None = None
    maintenance_company_id: int | None = None
    late_only: bool = False
    equipment_id: int | None = None  # one unit's alarms (the unit's page)


async def list_alarms(
    principal: Principal, f: AlarmFilter, *, cursor: str | None, limit: int
) -> Page:
    principal.require(Permission.ALARM_READ)
    query = AlarmQuery(
        state=f.state,
        kind=f.kind,
        equipment=f.equipment_id,
        district_code=f.district_code,
        # What the company itself sees (its units' alarms), not who held the unit then.
        maintained_by=f.maintenance_company_id,
        late_only=f.late_only,
    )
    rows = await reads().alarms.page(
        _scope(principal),
        query,
        sort=SORT,
        after=decode_cursor(cursor, SORT) if cursor else None,
        limit=limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if more and rows else None
    cursor_row = {"raised_at": last.raised_at, "id": last.id} if last is not None else None
    return Page(rows, encode_cursor(SORT, cursor_row) if cursor_row is not None else None)


# ------------------------------------------------------------------ raised by the ingest


@dataclass(frozen=True, slots=True)
class Burst:
    """``count`` raises of one alarm, from one batch of messages.

    ``existing``: they land on the alarm already open for (equipment, kind); otherwise
    they open a new one (which a concurrent worker may have opened meanwhile: then they
    land on that). ``closed_at``: the alarm ends closed (the device cleared it).
    """

    kind: str
    equipment: int | None
    count: int
    first_raised_at: datetime | None
    last_raised_at: datetime | None
    source: str
    station: int | None = None
    fill: int | None = None
    maintenance_company: int | None = None
    district_code: str = ""
    detail: str = ""
    closed_at: datetime | None = None
    existing: bool = False


async def record_bursts(bulk: Bulk, bursts: list[Burst]) -> int:
    """Write the ingest's alarm raises set-at-a-time; returns how many alarms changed.

    The one-open-alarm indexes hold the line: a raise of a kind already open counts on
    that alarm, so an alarm storm stays one alarm however its messages are batched.
    """
    if not bursts:
        return 0
    alarms = reads().alarms
    existing = [b for b in bursts if b.existing]
    await alarms.add_counts(
        bulk,
        [(b.count, b.last_raised_at, b.equipment, b.kind) for b in existing if b.count],
    )
    cleared: list[int] = []
    for b in existing:
        # One statement each, to learn which alarms closed (announced below); a device
        # clearing its alarm is rare beside the raises.
        if b.closed_at is not None:
            cleared.extend(
                await alarms.clear(
                    bulk, b.equipment, b.kind, at=b.closed_at, note="cleared by the device"
                )
            )
    by_unit: dict[tuple[int, str], Burst] = {}
    by_station: dict[tuple[int, str], Burst] = {}
    born_closed: list[Burst] = []
    for b in bursts:
        if b.existing:
            continue
        if b.closed_at is not None:
            born_closed.append(b)
            continue
        target = by_unit if b.equipment is not None else by_station
        key = (b.equipment if b.equipment is not None else b.station or 0, b.kind)
        target[key] = _merge(target[key], b) if key in target else b
    opened: list[int] = []
    for rows, on_open in (
        (list(by_unit.values()), "unit"),
        (list(by_station.values()), "station"),
        (born_closed, ""),
    ):
        opened.extend(await alarms.insert_new(bulk, [_new(b) for b in rows], on_open=on_open))
    # The outbox, in the batch's transaction. A raise that landed on an alarm already
    # announced is not announced again (the outbox's unique key): a storm is one message.
    await notifications.enqueue_alarms(bulk, opened, now=clock.now())
    await notifications.enqueue_alarms(bulk, cleared, now=clock.now(), event="alarm.closed")
    return len(existing) + len(by_unit) + len(by_station) + len(born_closed)


def _merge(a: Burst, b: Burst) -> Burst:
    first = min(t for t in (a.first_raised_at, b.first_raised_at) if t is not None)
    later = b if (b.last_raised_at or first) >= (a.last_raised_at or first) else a
    return replace(later, count=a.count + b.count, first_raised_at=first)


def _new(b: Burst) -> IngestAlarm:
    first = b.first_raised_at or b.last_raised_at
    return IngestAlarm(
        equipment=b.equipment,
        kind=b.kind,
        severity=severity(b.kind),
        state="open" if b.closed_at is None else "closed",
        source=b.source,
        count=b.count,
        raised_at=first,
        last_raised_at=b.last_raised_at or first,
        maintenance_company=b.maintenance_company,
        district_code=b.district_code,
        response_limit_minutes=response_limit_minutes(b.kind, b.district_code),
        closed_at=b.closed_at,
        note="" if b.closed_at is None else "cleared by the device",
        station=b.station,
        fill=b.fill,
        detail=b.detail,
    )


async def open_kinds(bulk: Bulk, equipment_ids: list[int]) -> dict[int, set[str]]:
    return await reads().alarms.open_kinds(bulk, equipment_ids)


async def close_open(
    bulk: Bulk, equipment_ids: list[int], kind: str, *, at: datetime, note: str
) -> int:
    closed = await reads().alarms.close_open(bulk, equipment_ids, kind, at=at, note=note)
    await notifications.enqueue_alarms(bulk, closed, now=clock.now(), event="alarm.closed")
    return len(closed)
