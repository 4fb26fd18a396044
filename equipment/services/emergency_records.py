"""Response KPIs over a period, and emergency drills (应急演练) with the lifts missing
theirs (issue 24)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from equipment.domain import kpis, rescue
from equipment.domain.access import Permission, Principal, ScopeKind
from equipment.domain.errors import InvalidValue, NotFound
from equipment.services import alarms, audit, notifications
from equipment.services.register import get_equipment
from equipment.storage import db, jurisdiction
from equipment.tables import Alarm, Drill, RescueOutcome

GROUPS = {"company": "maintenance_company", "district": "district_code"}


def _lifts(alias: str = "") -> str:
    """Lifts on the register in use or suspended (category 3xxx: TSG 08-2017 catalogue)."""
    return f"{alias}category LIKE '3%' AND {alias}status IN ('in_use', 'suspended')"


def _minutes(start: Any, end: Any) -> float | None:
    if start is None or end is None:
        return None
    return (_instant(end) - _instant(start)).total_seconds() / 60


def _instant(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


async def response_kpis(
    principal: Principal, *, group_by: str, start: datetime, end: datetime
) -> list[kpis.Kpi]:
    """Entrapments raised in [start, end) per maintenance company (the one responsible
    when it was raised) or per district; a company sees only its own row."""
    principal.require(Permission.RESPONSE_KPI_READ)
    if end <= start:
        raise InvalidValue("the period ends after it starts", field="to")
    column = GROUPS[group_by]
    scope = principal.equipment_scope()
    own = ""
    args: list[Any] = [start, end]
    own_lifts = ""
    if scope.kind is ScopeKind.MAINTENANCE_COMPANY:
        own, own_lifts = " AND a.maintenance_company = $3", " AND maintenance_company = $1"
        args.append(scope.org_id)
    elif scope.jurisdiction is not None:
        own, inside = jurisdiction.numbered_clause(
            scope.jurisdiction, unit_id="a.equipment", district="a.district_code", first=3
        )
        own_lifts, _ = jurisdiction.numbered_clause(
            scope.jurisdiction, unit_id="id", district="district_code", first=1
        )
        args.extend(inside)
    async with db.reading() as bulk:
        rows = await bulk.fetch(
            f"SELECT a.{column} AS grp, a.raised_at, a.acknowledged_at, a.arrived_at,"
            " a.arrived_late, a.response_limit_minutes, o.cause, o.people_released,"
            " o.injuries, o.fatalities FROM alarm a"
            " LEFT JOIN rescue_outcome o ON o.alarm = a.id WHERE a.kind = 'entrapment'"
            f" AND a.raised_at >= $1 AND a.raised_at < $2{own}",
            *args,
        )
        lifts = await bulk.fetch(
            f"SELECT {column} AS grp, count(*) AS n FROM equipment WHERE {_lifts()}"
            f"{own_lifts} GROUP BY {column}",
            *args[2:],
        )
    responses = [
        kpis.Response(
            group=r["grp"],
            acknowledge_minutes=_minutes(r["raised_at"], r["acknowledged_at"]),
            arrive_minutes=_minutes(r["raised_at"], r["arrived_at"]),
            has_limit=r["response_limit_minutes"] is not None,
            late=bool(r["arrived_late"]),
            cause=r["cause"],
            people_released=r["people_released"] or 0,
            injuries=r["injuries"] or 0,
            fatalities=r["fatalities"] or 0,
        )
        for r in rows
    ]
    counts = {r["grp"]: r["n"] for r in lifts if r["grp"] is not None}
    return kpis.response_kpis(responses, counts)


async def record_drill(
    principal: Principal,
    equipment_id: int,
    *,
    held_on: date,
    participants: list[str],
    scenario: str,
    note: str,
    today: date,
    now: datetime,
) -> dict[str, Any]:
    """A drill held on a unit by its user unit or maintenance company (or the bureau)."""
    principal.require(Permission.DRILL_RECORD)
    if held_on > today:
        raise InvalidValue("a drill cannot be recorded before it is held", field="held_on")
    async with db.transaction():
        unit = await get_equipment(principal, equipment_id)
        [row] = await Drill.insert(
            Drill(
                equipment=unit["id"],
                held_on=held_on,
                participants=participants,
                scenario=scenario,
                note=note,
                organisation=principal.organisation_id,
                actor=principal.actor,
                recorded_at=now,
            )
        ).returning(*Drill.all_columns())
        await audit.record(
            principal,
            entity="equipment",
            entity_id=unit["id"],
            action="drill",
            at=now,
            before=None,
            after={"drill": row["id"], "held_on": held_on.isoformat()},
        )
    return row


async def missing_drills(principal: Principal, *, year: int, limit: int) -> list[dict[str, Any]]:
    """Lifts in use with fewer drills held in ``year`` than required, fewest first."""
    principal.require(Permission.EQUIPMENT_READ)
    scope = principal.equipment_scope()
    column = {
        ScopeKind.USER_UNIT: "user_unit",
        ScopeKind.MAINTENANCE_COMPANY: "maintenance_company",
        ScopeKind.OWNING_STATION: "owning_station",
    }.get(scope.kind)
    own = f" AND e.{column} = $5" if column else ""
    args: list[Any] = [date(year, 1, 1), date(year, 12, 31), kpis.LIFT_DRILLS_PER_YEAR, limit]
    if column:
        args.append(scope.org_id)
    elif scope.jurisdiction is not None:
        own, inside = jurisdiction.numbered_clause(
            scope.jurisdiction, unit_id="e.id", district="e.district_code", first=5
        )
        args.extend(inside)
    async with db.reading() as bulk:
        return await bulk.fetch(
            "SELECT e.id, e.code, e.address, e.district_code, e.user_unit,"
            " e.maintenance_company, count(d.id) AS drills"
            " FROM equipment e LEFT JOIN drill d ON d.equipment = e.id"
            " AND d.held_on >= $1 AND d.held_on <= $2"
            f" WHERE {_lifts('e.')}"
            f"{own} GROUP BY e.id, e.code, e.address, e.district_code, e.user_unit,"
            " e.maintenance_company HAVING count(d.id) < $3 ORDER BY count(d.id), e.id LIMIT $4",
            *args,
        )


# ------------------------------------------------------------------ rescue outcomes


async def record_outcome(
    principal: Principal, alarm_id: int, outcome: rescue.Outcome, *, note: str, now: datetime
) -> dict[str, Any]:
    """The finished rescue's outcome; it closes the entrapment and announces the close
    (the outbox: webhooks and the organisations' alert topics)."""
    principal.require(Permission.ALARM_RESPOND)
    checked = rescue.check(outcome)
    async with db.transaction():
        alarm = await alarms.visible(principal, alarm_id)
        recorded = await RescueOutcome.exists().where(RescueOutcome.alarm == alarm_id)
        rescue.can_record(
            kind=alarm.kind,
            state=alarm.state,
            finished=alarm.finished_at is not None,
            recorded=recorded,
        )
        [row] = await RescueOutcome.insert(
            RescueOutcome(
                alarm=alarm_id,
                equipment=alarm.equipment,
                people_released=checked.people_released,
                injuries=checked.injuries,
                fatalities=checked.fatalities,
                release_method=checked.release_method,
                cause=checked.cause,
                rescuers=list(checked.rescuers),
                note=note,
                organisation=principal.organisation_id,
                actor=principal.actor,
                recorded_at=now,
            )
        ).returning(*RescueOutcome.all_columns())
        await Alarm.update({Alarm.state: "closed", Alarm.closed_at: now}).where(
            Alarm.id == alarm_id
        )
        await audit.record(
            principal,
            entity="alarm",
            entity_id=alarm_id,
            action="outcome",
            at=now,
            before=None,
            after={"outcome": row["id"], "cause": checked.cause},
        )
        await notifications.enqueue_alarm(alarm_id, event="alarm.closed", now=now)
    return row


async def get_outcome(principal: Principal, alarm_id: int) -> dict[str, Any]:
    """The outcome of an alarm ``principal`` may see; NotFound when none is recorded."""
    await alarms.visible(principal, alarm_id)
    row = await RescueOutcome.select().where(RescueOutcome.alarm == alarm_id).first()
    if row is None:
        raise NotFound(f"no rescue outcome recorded for alarm {alarm_id}")
    return row
