"""Alarms and the entrapment response clock: raised, acknowledged, on site, finished.

One open alarm per unit and kind (a unique partial index holds the line): a repeat
raises its counter instead of a new row, so an alarm storm stays one alarm.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from equipment.domain import lift_events, regions
from equipment.domain.access import Permission, Principal, ScopeKind
from equipment.domain.errors import Conflict, InvalidValue, NotFound
from equipment.services import audit, clock, notifications, policies, schedules
from equipment.services.pagination import SortKey, after_cursor, decode_cursor, encode_cursor
from equipment.services.register import Page, get_equipment
from equipment.storage import db, jurisdiction
from equipment.storage.bulk import Bulk
from equipment.tables import Alarm, Equipment

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
) -> dict[str, Any]:
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
    async with db.transaction():
        unit = await get_equipment(principal, equipment_id)
        return await open_or_count(
            unit, kind=kind, raised_at=raised_at, source=source, note=note, actor=principal, now=now
        )


async def open_or_count(
    unit: Mapping[str, Any],
    *,
    kind: str,
    raised_at: datetime,
    source: str,
    note: str,
    actor: Principal,
    now: datetime,
) -> dict[str, Any]:
    repeated = (
        await Alarm.update(
            {
                Alarm.count: Alarm.count + 1,
                Alarm.last_raised_at: raised_at,
            }
        )
        .where(Alarm.equipment == unit["id"], Alarm.kind == kind, Alarm.state == "open")
        .returning(*Alarm.all_columns())
    )
    if repeated:
        return repeated[0]
    [row] = await Alarm.insert(
        Alarm(
            equipment=unit["id"],
            kind=kind,
            severity=severity(kind),
            state="open",
            source=source,
            count=1,
            raised_at=raised_at,
            last_raised_at=raised_at,
            maintenance_company=unit["maintenance_company"],
            district_code=unit["district_code"],
            response_limit_minutes=response_limit_minutes(kind, unit["district_code"]),
            note=note,
        )
    ).returning(*Alarm.all_columns())
    await audit.record(
        actor, entity="alarm", entity_id=row["id"], action="raise", at=now, before=None, after=row
    )
    # The outbox, in this transaction: if the alarm commits, it will be announced.
    await notifications.enqueue_alarm(row["id"], event="alarm.raised", now=now)
    return row


def _maintained_by(company_id: int):
    """Alarms of the units ``company_id`` maintains now. An alarm belongs to its unit's
    current maintainer, not to the one it was raised under: after a change of maintainer
    the new company must answer the open entrapment, and the old one no longer sees it."""
    ids = Equipment.select(Equipment.id).where(Equipment.maintenance_company == company_id)
    return Alarm.equipment.is_in(ids)


def _scope_clause(principal: Principal):
    scope = principal.equipment_scope()
    if scope.kind is ScopeKind.ALL:
        return None
    if scope.jurisdiction is not None:
        return Alarm.equipment.is_in(jurisdiction.unit_ids(scope.jurisdiction))
    if scope.kind is ScopeKind.MAINTENANCE_COMPANY:
        return _maintained_by(scope.org_id)
    if scope.kind is ScopeKind.USER_UNIT:
        ids = Equipment.select(Equipment.id).where(Equipment.user_unit == scope.org_id)
        return Alarm.equipment.is_in(ids)
    # A station sees the alarms its own fills raised and those of its own cylinders.
    ids = Equipment.select(Equipment.id).where(Equipment.owning_station == scope.org_id)
    return (Alarm.station == scope.org_id) | Alarm.equipment.is_in(ids)


async def _visible(principal: Principal, alarm_id: int) -> dict[str, Any]:
    principal.require(Permission.ALARM_READ)
    query = Alarm.select().where(Alarm.id == alarm_id)
    scope = _scope_clause(principal)
    if scope is not None:
        query = query.where(scope)
    row = await query.first()
    if row is None:
        raise NotFound(f"alarm {alarm_id} not found")
    return row


async def visible(principal: Principal, alarm_id: int) -> dict[str, Any]:
    """The alarm if ``principal`` may see it; NotFound otherwise (as for an unknown one)."""
    return await _visible(principal, alarm_id)


async def visible_ids(principal: Principal, alarm_ids: list[int]) -> set[int]:
    """Which of ``alarm_ids`` ``principal`` may see, by the same scope as every alarm read
    (the live stream filters what it sends each caller with it)."""
    principal.require(Permission.ALARM_READ)
    if not alarm_ids:
        return set()
    query = Alarm.select(Alarm.id).where(Alarm.id.is_in(alarm_ids))
    scope = _scope_clause(principal)
    if scope is not None:
        query = query.where(scope)
    return {r["id"] for r in await query}


STEPS = {
    # step: (column it sets, the column that must be set first, the event announced)
    "acknowledge": ("acknowledged_at", None, "alarm.acknowledged"),
    "arrive": ("arrived_at", "acknowledged_at", "alarm.arrived"),
    "finish": ("finished_at", "arrived_at", "alarm.finished"),
}


async def respond(
    principal: Principal, alarm_id: int, step: str, *, at: datetime, now: datetime
) -> dict[str, Any]:
    """The maintenance company's response: acknowledge, arrive on site, finish."""
    principal.require(Permission.ALARM_RESPOND)
    column, needs, event = STEPS[step]
    if at > now:
        raise InvalidValue("a response cannot be in the future", field="at")
    async with db.transaction():
        alarm = await _visible(principal, alarm_id)
        if alarm["state"] != "open":
            raise Conflict(f"alarm {alarm_id} is {alarm['state']}")
        if alarm[column] is not None:
            raise Conflict(
                f"alarm {alarm_id} was already marked {step} at {alarm[column].isoformat()}"
            )
        if needs is not None and alarm[needs] is None:
            raise Conflict(f"mark the alarm {needs.removesuffix('_at')} before {step}")
        if at < alarm["raised_at"] or (needs and at < alarm[needs]):
            raise InvalidValue("the time is before the previous step", field="at")
        changes: dict[str, Any] = {column: at}
        if step == "arrive" and alarm["response_limit_minutes"] is not None:
            elapsed = at - alarm["raised_at"]
            changes["arrived_late"] = elapsed.total_seconds() > 60 * alarm["response_limit_minutes"]
        [row] = (
            await Alarm.update(changes).where(Alarm.id == alarm_id).returning(*Alarm.all_columns())
        )
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


async def close(principal: Principal, alarm_id: int, *, note: str, now: datetime) -> dict[str, Any]:
    principal.require(Permission.ALARM_CLOSE)
    async with db.transaction():
        alarm = await _visible(principal, alarm_id)
        if alarm["state"] != "open":
            raise Conflict(f"alarm {alarm_id} is already {alarm['state']}")
        [row] = (
            await Alarm.update({Alarm.state: "closed", Alarm.closed_at: now, Alarm.note: note})
            .where(Alarm.id == alarm_id)
            .returning(*Alarm.all_columns())
        )
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
    clauses = []
    scope = _scope_clause(principal)
    if scope is not None:
        clauses.append(scope)
    if f.state:
        clauses.append(Alarm.state == f.state)
    if f.kind:
        clauses.append(Alarm.kind == f.kind)
    if f.equipment_id is not None:
        clauses.append(Alarm.equipment == f.equipment_id)
    if f.district_code:
        clauses.append(Alarm.district_code == f.district_code)
    if f.maintenance_company_id is not None:
        # What the company itself sees (its units' alarms), not who held the unit then.
        clauses.append(_maintained_by(f.maintenance_company_id))
    if f.late_only:
        clauses.append(Alarm.arrived_late == True)  # noqa: E712
    if cursor:
        clauses.append(after_cursor(SORT, decode_cursor(cursor, SORT)))
    query = Alarm.select().order_by(Alarm.raised_at, Alarm.id, ascending=False).limit(limit + 1)
    if clauses:
        query = query.where(*clauses)
    rows = await query
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(SORT, rows[-1]) if more and rows else None)


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


_NEW_COLUMNS = (
    "equipment", "kind", "severity", "state", "source", "count", "raised_at", "last_raised_at",
    "maintenance_company", "district_code", "response_limit_minutes", "closed_at", "note",
    "station", "fill", "detail",
)  # fmt: skip
_ON_OPEN = (
    " DO UPDATE SET count = alarm.count + excluded.count,"
    " last_raised_at = CASE WHEN excluded.last_raised_at > alarm.last_raised_at"
    " THEN excluded.last_raised_at ELSE alarm.last_raised_at END,"
    " fill = COALESCE(excluded.fill, alarm.fill), detail = excluded.detail"
)


async def record_bursts(bulk: Bulk, bursts: list[Burst]) -> int:
    """Write the ingest's alarm raises set-at-a-time; returns how many alarms changed.

    The one-open-alarm indexes hold the line: a raise of a kind already open counts on
    that alarm, so an alarm storm stays one alarm however its messages are batched.
    """
    if not bursts:
        return 0
    existing = [b for b in bursts if b.existing]
    await bulk.executemany(
        "UPDATE alarm SET count = count + $1,"
        " last_raised_at = CASE WHEN $2 > last_raised_at THEN $2 ELSE last_raised_at END"
        " WHERE equipment = $3 AND kind = $4 AND state = 'open'",
        [(b.count, b.last_raised_at, b.equipment, b.kind) for b in existing if b.count],
    )
    cleared: list[int] = []
    for b in existing:
        # One statement each, to learn which alarms closed (announced below); a device
        # clearing its alarm is rare beside the raises.
        if b.closed_at is not None:
            rows = await bulk.fetch(
                "UPDATE alarm SET state = 'closed', closed_at = $1, note = $2"
                " WHERE equipment = $3 AND kind = $4 AND state = 'open' RETURNING id",
                b.closed_at,
                "cleared by the device",
                b.equipment,
                b.kind,
            )
            cleared.extend(r["id"] for r in rows)
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
    for rows, conflict in (
        (list(by_unit.values()), "ON CONFLICT (equipment, kind) WHERE state = 'open'"),
        (
            list(by_station.values()),
            "ON CONFLICT (station, kind) WHERE state = 'open' AND equipment IS NULL",
        ),
        (born_closed, ""),
    ):
        written = await bulk.insert(
            Alarm,
            _NEW_COLUMNS,
            [_new_row(b) for b in rows],
            tail=f"{conflict}{_ON_OPEN}" if conflict else "",
            returning="id",
        )
        opened.extend(r["id"] for r in written)
    # The outbox, in the batch's transaction. A raise that landed on an alarm already
    # announced is not announced again (the outbox's unique key): a storm is one message.
    await notifications.enqueue_alarms(bulk, opened, now=clock.now())
    await notifications.enqueue_alarms(bulk, cleared, now=clock.now(), event="alarm.closed")
    return len(existing) + len(by_unit) + len(by_station) + len(born_closed)


def _merge(a: Burst, b: Burst) -> Burst:
    first = min(t for t in (a.first_raised_at, b.first_raised_at) if t is not None)
    later = b if (b.last_raised_at or first) >= (a.last_raised_at or first) else a
    return replace(later, count=a.count + b.count, first_raised_at=first)


def _new_row(b: Burst) -> tuple[Any, ...]:
    first = b.first_raised_at or b.last_raised_at
    return (
        b.equipment,
        b.kind,
        severity(b.kind),
        "open" if b.closed_at is None else "closed",
        b.source,
        b.count,
        first,
        b.last_raised_at or first,
        b.maintenance_company,
        b.district_code,
        response_limit_minutes(b.kind, b.district_code),
        b.closed_at,
        "" if b.closed_at is None else "cleared by the device",
        b.station,
        b.fill,
        b.detail,
    )


async def open_kinds(bulk: Bulk, equipment_ids: list[int]) -> dict[int, set[str]]:
    rows = await bulk.fetch(
        f"SELECT equipment, kind FROM alarm WHERE state = 'open' AND {bulk.any_of('equipment', 1)}",
        equipment_ids,
    )
    found: dict[int, set[str]] = {}
    for r in rows:
        found.setdefault(r["equipment"], set()).add(r["kind"])
    return found


async def close_open(
    bulk: Bulk, equipment_ids: list[int], kind: str, *, at: datetime, note: str
) -> int:
    rows = await bulk.fetch(
        "UPDATE alarm SET state = 'closed', closed_at = $1, note = $2"
        f" WHERE kind = $3 AND state = 'open' AND {bulk.any_of('equipment', 4)} RETURNING id",
        at,
        note,
        kind,
        equipment_ids,
    )
    await notifications.enqueue_alarms(
        bulk, [r["id"] for r in rows], now=clock.now(), event="alarm.closed"
    )
    return len(rows)
