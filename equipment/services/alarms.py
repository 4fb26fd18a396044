"""Alarms and the entrapment response clock: raised, acknowledged, on site, finished.

One open alarm per unit and kind (a unique partial index holds the line): a repeat
raises its counter instead of a new row, so an alarm storm stays one alarm.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from equipment.domain import regions
from equipment.domain.access import Permission, Principal, ScopeKind
from equipment.domain.errors import Conflict, InvalidValue, NotFound
from equipment.services import audit, db
from equipment.services.pagination import SortKey, after_cursor, decode_cursor, encode_cursor
from equipment.services.register import Page, get_equipment
from equipment.tables import Alarm, Equipment
from sereg.settings import get_settings

SEVERITY = {
    "entrapment": "critical",
    "unintended_movement": "critical",
    "overspeed": "critical",
    "safety_circuit_open": "major",
    "stopped_outside_door_zone": "major",
    "over_travel_top": "major",
    "over_travel_bottom": "major",
    "alarm_button": "major",
}
SORT = SortKey("raised_at", descending=True, unique=False)


def severity(kind: str) -> str:
    return SEVERITY.get(kind, "minor")


def response_limit_minutes(kind: str, district_code: str) -> int | None:
    """Entrapments only: 30 minutes in a city district, 1 hour elsewhere (RULES.md, [U])."""
    if kind != "entrapment":
        return None
    settings = get_settings().response
    urban = (
        regions.is_known_region(district_code) and regions.region(district_code).is_urban_district
    )
    return settings.city_minutes if urban else settings.other_minutes


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
    async with db.transaction():
        unit = await get_equipment(principal, equipment_id)
        return await open_or_count(
            unit, kind=kind, raised_at=raised_at, source=source, note=note, actor=principal, now=now
        )


async def open_or_count(
    unit: dict[str, Any],
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
    return row


def _scope_clause(principal: Principal):
    scope = principal.equipment_scope()
    if scope.kind is ScopeKind.ALL:
        return None
    if scope.kind is ScopeKind.MAINTENANCE_COMPANY:
        return Alarm.maintenance_company == scope.org_id
    column = Equipment.user_unit if scope.kind is ScopeKind.USER_UNIT else Equipment.owning_station
    ids = Equipment.select(Equipment.id).where(column == scope.org_id)
    return Alarm.equipment.is_in(ids)


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


STEPS = {
    # step: (column it sets, the column that must be set first)
    "acknowledge": ("acknowledged_at", None),
    "arrive": ("arrived_at", "acknowledged_at"),
    "finish": ("finished_at", "arrived_at"),
}


async def respond(
    principal: Principal, alarm_id: int, step: str, *, at: datetime, now: datetime
) -> dict[str, Any]:
    """The maintenance company's response: acknowledge, arrive on site, finish."""
    principal.require(Permission.ALARM_RESPOND)
    column, needs = STEPS[step]
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
        return row


@dataclass(frozen=True)
class AlarmFilter:
    state: str | None = None
    kind: str | None = None
    district_code: str | None = None
    maintenance_company_id: int | None = None
    late_only: bool = False


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
    if f.district_code:
        clauses.append(Alarm.district_code == f.district_code)
    if f.maintenance_company_id is not None:
        clauses.append(Alarm.maintenance_company == f.maintenance_company_id)
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
