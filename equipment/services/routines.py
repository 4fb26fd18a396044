"""The user unit's own routine records (日管控、周排查、月调度, SAMR Order 74 [C]) and the
units whose record of the current period is missing.

A user unit records for its own units (the admin for any); one record per unit, kind and
period (a second one is a 409). Reads: the user unit its own units, an inspector those in
his jurisdiction, the admin all. Which units need which kind: equipment.domain.routines.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import msgspec

from equipment.domain import routines as rules
from equipment.domain.access import Permission, Principal
from equipment.domain.catalogue import family_of
from equipment.domain.errors import Conflict, InvalidValue
from equipment.services import audit
from equipment.storage import unit_of_work
from equipment.storage.checks import MissingUnit, RoutineRecordRow, RoutineRepository

_repo = RoutineRepository()
MAX_FINDINGS = 2000


async def record(
    principal: Principal,
    equipment_id: int,
    kind: rules.Kind,
    *,
    all_clear: bool,
    findings: str,
    day: date | None,
    today: date,
    now: datetime,
) -> RoutineRecordRow:
    """The record of ``kind`` for the period ``day`` (default today) falls in."""
    from equipment.services.register import get_equipment

    principal.require(Permission.ROUTINE_RECORD)
    day = day or today
    rules.check_day(day, today)
    findings = findings.strip()
    if len(findings) > MAX_FINDINGS:
        raise InvalidValue(f"findings hold at most {MAX_FINDINGS} characters", field="findings")
    if not all_clear and not findings:
        raise InvalidValue("a record that is not all clear says what was found", field="findings")
    async with unit_of_work():
        unit = await get_equipment(principal, equipment_id)  # 404 outside the scope
        if not rules.needs(family_of(unit.category), kind):
            raise InvalidValue(
                f"a {kind.value} record is not kept for this kind of equipment", field="kind"
            )
        row = await _repo.insert(
            {
                "equipment": equipment_id,
                "user_unit": int(unit.user_unit),
                "kind": kind.value,
                "period_start": rules.period_start(kind, day),
                "recorded_on": day,
                "all_clear": all_clear,
                "findings": findings,
                "recorded_by": principal.actor,
                "created_at": now,
            }
        )
        if row is None:
            raise Conflict(
                f"unit {equipment_id} already has its {kind.value} record of this period"
            )
        await audit.record(
            principal,
            entity="routine_record",
            entity_id=row.id,
            action="record",
            at=now,
            before=None,
            after=msgspec.structs.asdict(row),
        )
    return row


@dataclass(frozen=True)
class RoutinePage:
    items: list[RoutineRecordRow]
    next_before_id: int | None


async def list_records(
    principal: Principal,
    *,
    equipment_id: int | None = None,
    kind: rules.Kind | None = None,
    since: date | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> RoutinePage:
    """The routine records of the units in scope, newest first."""
    principal.require(Permission.ROUTINE_READ)
    rows = await _repo.page(
        principal.equipment_scope(),
        equipment=equipment_id,
        kind=None if kind is None else kind.value,
        since=since,
        before_id=before_id,
        limit=limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return RoutinePage(rows, rows[-1].id if more and rows else None)


@dataclass(frozen=True)
class MissingPage:
    period_start: date
    items: list[MissingUnit]
    next_after_id: int | None


async def missing(
    principal: Principal,
    kind: rules.Kind,
    *,
    today: date,
    after_id: int | None = None,
    limit: int = 100,
) -> MissingPage:
    """Units in use inside the caller's scope that need a ``kind`` record and have none for
    the period ``today`` falls in, by id."""
    principal.require(Permission.ROUTINE_READ)
    start = rules.period_start(kind, today)
    rows = await _repo.missing(
        principal.equipment_scope(),
        kind=kind.value,
        period_start=start,
        categories=rules.categories_needing(kind),
        after_id=after_id,
        limit=limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return MissingPage(start, rows, rows[-1].id if more and rows else None)
