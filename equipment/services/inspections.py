"""Inspection results: recorded by inspectors, never edited, and the due dates follow."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import msgspec

from equipment.domain import rules
from equipment.domain.access import OrgKind, Permission, Principal, Role
from equipment.domain.errors import Conflict, Forbidden, InvalidValue, NotFound
from equipment.domain.hazards import Source
from equipment.domain.lifecycle import Status
from equipment.services import audit, hazards, schedules
from equipment.services.organisations import require_kind
from equipment.services.register import get_equipment
from equipment.storage import reads, unit_of_work
from equipment.storage.inspections import InspectionRow

# The due-date kind an inspection of each kind answers. A periodic inspection also
# answers a lift's self-test year; a supervisory one after major repair the periodic.
ANSWERS: dict[str, tuple[str, ...]] = {
    "periodic": ("periodic", "self_test"),
    "supervisory": ("periodic",),
    "self_test": ("self_test",),
    "external": ("external",),
    "internal": ("internal",),
    "hydrostatic": ("hydrostatic",),
    "annual_check": ("annual_check",),
}


async def record_inspection(
    principal: Principal,
    equipment_id: int,
    data: dict[str, Any],
    *,
    today: date,
    now: datetime,
) -> tuple[InspectionRow, rules.Schedule]:
    """Store one inspection report and recompute the unit's due dates in the same transaction."""
    principal.require(Permission.INSPECTION_RECORD)
    inspected_on: date = data["inspected_on"]
    if inspected_on > today:
        raise InvalidValue(f"{inspected_on.isoformat()} is in the future", field="inspected_on")
    # The rules' own value object validates kind, conclusion, grade, reason and stated date.
    rules.Inspection(
        inspected_on=inspected_on,
        kind=data["kind"],
        conclusion=data["conclusion"],
        next_due=data.get("next_due_stated"),
        safety_grade=data.get("safety_grade"),
        reason=data.get("reason", ""),
    )
    body_id = reporting_body(principal, data.get("inspection_body_id"))
    if body_id is not None:
        await require_kind(body_id, OrgKind.INSPECTION_BODY, field="inspection_body_id")
    async with unit_of_work() as uow:
        unit = await get_equipment(principal, equipment_id)
        if unit.status in (Status.SCRAPPED, Status.CANCELLED):
            raise Conflict(f"equipment {equipment_id} is {unit.status}; nothing to inspect")
        made = unit.manufacture_date
        if made is not None and inspected_on < made:
            raise InvalidValue(
                "the inspection predates the unit's manufacture", field="inspected_on"
            )
        corrects = data.get("corrects")
        if corrects is not None:
            await _check_correctable(equipment_id, corrects)
        answered = await _answered_due(equipment_id, data["kind"])
        row = await uow.inspections.add(
            dict(
                equipment=equipment_id,
                kind=data["kind"],
                inspected_on=inspected_on,
                conclusion=data["conclusion"],
                reason=data.get("reason", ""),
                inspection_body=body_id,
                report_no=data.get("report_no", ""),
                findings=data.get("findings", ""),
                next_due_stated=data.get("next_due_stated"),
                safety_grade=data.get("safety_grade"),
                answered_due_on=answered,
                on_time=None if answered is None else inspected_on <= answered,
                corrects=corrects,
                actor=principal.actor,
                recorded_at=now,
            )
        )
        schedule = await schedules.recompute(equipment_id, today)
        if data["conclusion"] == "fail":
            # A failed inspection's findings are hazards to rectify (一般隐患 until an
            # inspector grades one major), listed in the same transaction.
            await hazards.open_from(
                principal,
                equipment_id,
                hazards.inspection_findings(data.get("findings", "")),
                source=Source.INSPECTION,
                source_ref=f"inspection:{row.id}",
                found_on=inspected_on,
                today=today,
                now=now,
            )
        await audit.record(
            principal,
            entity="equipment",
            entity_id=equipment_id,
            action="inspection",
            at=now,
            before=None,
            after=msgspec.structs.asdict(row),
        )
    return row, schedule


def reporting_body(principal: Principal, named: int | None) -> int | None:
    """The inspection body a report is filed under.

    An inspector reports for the body its token is bound to, whatever the request says:
    a report filed in another body's name would carry that body's accreditation. Naming
    another body is refused (403), not silently replaced, so a client that believes it
    files for someone else learns it does not. The registration office (admin) files
    reports received on paper and may name any body.
    """
    if principal.role is Role.ADMIN:
        return named
    if named is not None and named != principal.organisation_id:
        raise Forbidden(
            "an inspector files reports in its own inspection body's name only"
            + (
                f" (body {principal.organisation_id})"
                if principal.organisation_id is not None
                else "; this token is bound to no inspection body"
            ),
            field="inspection_body_id",
        )
    return principal.organisation_id


async def _answered_due(equipment_id: int, kind: str) -> date | None:
    for due_kind in ANSWERS.get(kind, ()):
        due_on = await schedules.current_due(equipment_id, due_kind)
        if due_on is not None:
            return due_on
    return None


async def _check_correctable(equipment_id: int, inspection_id: int) -> None:
    inspections = reads().inspections
    if await inspections.unit_of(inspection_id) != equipment_id:
        raise InvalidValue(
            f"inspection {inspection_id} is not one of this unit's", field="corrects"
        )
    if await inspections.is_corrected(inspection_id):
        raise Conflict(
            f"inspection {inspection_id} was corrected already; correct the correction instead",
            field="corrects",
        )


class ListedInspection(InspectionRow, frozen=True):
    """An inspection report as the lists show it: superseded when a later report
    corrects it."""

    superseded: bool = False


def listed(rows: Sequence[InspectionRow]) -> list[ListedInspection]:
    """``rows`` in their order, each marked superseded when another of them corrects it."""
    corrected = {r.corrects for r in rows if r.corrects is not None}
    return [
        ListedInspection(**msgspec.structs.asdict(r), superseded=r.id in corrected) for r in rows
    ]


async def list_inspections(principal: Principal, equipment_id: int) -> list[ListedInspection]:
    await get_equipment(principal, equipment_id)  # scope check: 404 outside it
    return listed(await reads().inspections.of_unit(equipment_id))


async def schedule_of(principal: Principal, equipment_id: int, today: date) -> rules.Schedule:
    """A unit's schedule with every due date explained (not stored: computed as of today)."""
    unit = await get_equipment(principal, equipment_id)
    if unit is None:
        raise NotFound(f"equipment {equipment_id} not found")
    return rules.schedule(await schedules.load_history(unit), today, schedules.policy())
