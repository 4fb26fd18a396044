"""Response KPIs over a period, and emergency drills (应急演练) with the lifts missing
theirs (issue 24)."""

from __future__ import annotations

from datetime import date, datetime

from equipment.domain import kpis, rescue
from equipment.domain.access import Permission, Principal
from equipment.domain.errors import InvalidValue, NotFound
from equipment.services import alarms, audit, notifications
from equipment.services.register import get_equipment
from equipment.storage import reads, unit_of_work
from equipment.storage.emergency import (
    DrillRecord,
    MissingDrill,
    NewDrill,
    NewOutcome,
    OutcomeRecord,
)


def _minutes(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds() / 60


async def response_kpis(
    principal: Principal, *, group_by: str, start: datetime, end: datetime
) -> list[kpis.Kpi]:
    """Entrapments raised in [start, end) per maintenance company (the one responsible
    when it was raised) or per district; a company sees only its own row."""
    principal.require(Permission.RESPONSE_KPI_READ)
    if end <= start:
        raise InvalidValue("the period ends after it starts", field="to")
    rows, counts = await reads().emergency.responses(
        principal.equipment_scope(), group_by=group_by, start=start, end=end
    )
    responses = [
        kpis.Response(
            group=r.grp,
            acknowledge_minutes=_minutes(r.raised_at, r.acknowledged_at),
            arrive_minutes=_minutes(r.raised_at, r.arrived_at),
            has_limit=r.response_limit_minutes is not None,
            late=bool(r.arrived_late),
            cause=r.cause,
            people_released=r.people_released or 0,
            injuries=r.injuries or 0,
            fatalities=r.fatalities or 0,
        )
        for r in rows
    ]
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
) -> DrillRecord:
    """A drill held on a unit by its user unit or maintenance company (or the bureau)."""
    principal.require(Permission.DRILL_RECORD)
    if held_on > today:
        raise InvalidValue("a drill cannot be recorded before it is held", field="held_on")
    async with unit_of_work() as uow:
        unit = await get_equipment(principal, equipment_id)
        row = await uow.emergency.add_drill(
            NewDrill(
                equipment=unit.id,
                held_on=held_on,
                participants=participants,
                scenario=scenario,
                note=note,
                organisation=principal.organisation_id,
                actor=principal.actor,
                recorded_at=now,
            )
        )
        await audit.record(
            principal,
            entity="equipment",
            entity_id=unit.id,
            action="drill",
            at=now,
            before=None,
            after={"drill": row.id, "held_on": held_on.isoformat()},
        )
    return row


async def missing_drills(principal: Principal, *, year: int, limit: int) -> list[MissingDrill]:
    """Lifts in use with fewer drills held in ``year`` than required, fewest first."""
    principal.require(Permission.EQUIPMENT_READ)
    return await reads().emergency.missing_drills(
        principal.equipment_scope(),
        start=date(year, 1, 1),
        end=date(year, 12, 31),
        required=kpis.LIFT_DRILLS_PER_YEAR,
        limit=limit,
    )


# ------------------------------------------------------------------ rescue outcomes


async def record_outcome(
    principal: Principal, alarm_id: int, outcome: rescue.Outcome, *, note: str, now: datetime
) -> OutcomeRecord:
    """The finished rescue's outcome; it closes the entrapment and announces the close
    (the outbox: webhooks and the organisations' alert topics)."""
    principal.require(Permission.ALARM_RESPOND)
    checked = rescue.check(outcome)
    async with unit_of_work() as uow:
        alarm = await alarms.visible(principal, alarm_id)
        recorded = await uow.emergency.has_outcome(alarm_id)
        rescue.can_record(
            kind=alarm.kind,
            state=alarm.state,
            finished=alarm.finished_at is not None,
            recorded=recorded,
        )
        row = await uow.emergency.add_outcome(
            NewOutcome(
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
        )
        await uow.emergency.close_alarm(alarm_id, at=now)
        await audit.record(
            principal,
            entity="alarm",
            entity_id=alarm_id,
            action="outcome",
            at=now,
            before=None,
            after={"outcome": row.id, "cause": checked.cause},
        )
        await notifications.enqueue_alarm(alarm_id, event="alarm.closed", now=now)
    return row


async def get_outcome(principal: Principal, alarm_id: int) -> OutcomeRecord:
    """The outcome of an alarm ``principal`` may see; NotFound when none is recorded."""
    await alarms.visible(principal, alarm_id)
    row = await reads().emergency.outcome(alarm_id)
    if row is None:
        raise NotFound(f"no rescue outcome recorded for alarm {alarm_id}")
    return row
