"""A unit's file (what its page shows, read in one go by equipment.services.unit_file)
equals what each section's own service answers, for every kind of caller, on both
engines: the page's fast read must not drift from the API's rules (scope, permissions,
order, superseded reports)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from equipment.domain.access import SYSTEM, Jurisdiction, Principal, Role
from equipment.domain.errors import Forbidden, NotFound
from equipment.services import (
    alarms,
    areas,
    clock,
    inspections,
    maintenance,
    register,
    unit_file,
)
from tests import factories as f

pytestmark = pytest.mark.integration


async def _or_none(call):
    try:
        return await call
    except (Forbidden, NotFound):
        return None


async def sections(principal: Principal, unit_id: int) -> dict:
    """The page's sections as the separate services answer them."""
    unit = await register.get_equipment(principal, unit_id)
    located = unit.longitude is not None and unit.latitude is not None
    return {
        "unit": unit,
        "schedule": await inspections.schedule_of(principal, unit_id, clock.today()),
        "inspections": await _or_none(inspections.list_inspections(principal, unit_id)),
        "alarms": (
            await alarms.list_alarms(
                principal, alarms.AlarmFilter(equipment_id=unit_id), cursor=None, limit=50
            )
        ).items,
        "names": await register.organisation_names(
            {unit.user_unit, unit.maintenance_company, unit.owning_station}
        ),
        "outline": (
            await areas.district_outline(principal, unit.district_code) if located else None
        ),
        "history": await _or_none(register.status_history(principal, unit_id)),
        "maintenance": await _or_none(maintenance.list_records(principal, unit_id)),
        "audit": await _or_none(register.audit_trail(principal, unit_id)),
    }


async def test_the_unit_file_is_what_each_section_service_answers(engine, boot) -> None:
    body = await f.organisation("inspection_body")
    owner = await f.organisation("user_unit")
    company = await f.organisation("maintenance_company")
    unit = await f.unit(owner["id"], maintenance_company_id=company["id"])
    today, now = clock.today(), clock.now()
    inspector = Principal(Role.INSPECTOR, body["id"])
    first, _ = await inspections.record_inspection(
        inspector,
        unit["id"],
        {
            "kind": "periodic",
            "inspected_on": today - timedelta(days=30),
            "conclusion": "pass",
            "report_no": "R-1",
        },
        today=today,
        now=now,
    )
    # A second report correcting the first: the first is shown superseded.
    await inspections.record_inspection(
        inspector,
        unit["id"],
        {
            "kind": "periodic",
            "inspected_on": today - timedelta(days=29),
            "conclusion": "fail",
            "report_no": "R-1a",
            "corrects": first.id,
        },
        today=today,
        now=now,
    )
    await alarms.raise_alarm(
        SYSTEM, unit["id"], kind="entrapment", raised_at=now, source="manual", now=now
    )
    await register.suspend(
        SYSTEM,
        unit["id"],
        suspended_from=today - timedelta(days=2),
        planned_until=None,
        notified_on=today,
        reason="改造",
        expected_version=None,
        today=today,
        now=now,
    )
    callers = [
        SYSTEM,
        inspector,
        Principal(Role.INSPECTOR, body["id"], jurisdiction=Jurisdiction.parse("420606")),
        Principal(Role.USER_UNIT, owner["id"]),
        Principal(Role.MAINTENANCE, company["id"]),
        Principal(Role.ADMIN),
    ]
    for caller in callers:
        expected = await sections(caller, unit["id"])
        found = await unit_file.unit_file(caller, unit["id"], today=today)
        got = {
            "unit": found.unit,
            "schedule": found.schedule,
            "inspections": found.inspections,
            "alarms": found.alarms,
            "names": found.names,
            "outline": found.outline,
            "history": found.history,
            "maintenance": found.maintenance,
            "audit": found.audit,
        }
        assert got == expected, caller
    assert len(expected["inspections"]) == 2 and expected["inspections"][0].superseded
    assert expected["history"] and expected["audit"] and expected["alarms"]
    # Outside the scope: 404, as the unit's own read answers.
    for stranger in (
        Principal(Role.USER_UNIT, (await f.organisation("user_unit"))["id"]),
        Principal(Role.INSPECTOR, body["id"], jurisdiction=Jurisdiction.parse("420602")),
    ):
        with pytest.raises(NotFound):
            await unit_file.unit_file(stranger, unit["id"], today=today)
