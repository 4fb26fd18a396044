"""A unit's file as its page shows it: the register row, its schedule with every due date
explained, inspections, status history, maintenance records, alarms, audit trail, the
names of its organisations and its district's outline: one connection, a fixed statement
text each (prepared once per connection).

The same rules as each section's own service (``register.get_equipment``,
``inspections.schedule_of`` / ``list_inspections``, ``register.status_history`` /
``audit_trail``, ``maintenance.list_records``, ``alarms.list_alarms``,
``areas.district_outline``), read in one go: the unit is found in the caller's scope
once (404 outside it), then every section by the unit's id on one connection. A section
the role may not read is None, as the page leaves it out.

Alarms by unit id alone show what ``alarms.list_alarms`` would: the alarm scope of every
role is "alarms of units in my equipment scope" (a station's also takes alarms its own
fills raised on others' cylinders, which are not this unit's), and this unit is in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from equipment.domain import rules
from equipment.domain.access import Permission, Principal
from equipment.domain.errors import NotFound
from equipment.services import inspections, schedules
from equipment.services.inspections import ListedInspection
from equipment.storage.alarms import AlarmRecord
from equipment.storage.audit import AuditRow
from equipment.storage.equipment import EquipmentRow, StatusChangeRow
from equipment.storage.maintenance import MaintenanceRecordRow
from equipment.storage.unit_file import UnitFileRepository

ALARM_LIMIT = 50
_repo = UnitFileRepository()


@dataclass(frozen=True)
class UnitFile:
    unit: EquipmentRow
    schedule: rules.Schedule
    inspections: list[ListedInspection]  # by inspection day
    alarms: list[AlarmRecord]  # newest first, at most ALARM_LIMIT
    names: dict[int, str]  # the unit's organisations
    outline: Any | None  # its district's outline (GeoJSON), when the unit has a position
    history: list[StatusChangeRow] | None  # None: the role may not read it
    maintenance: list[MaintenanceRecordRow] | None
    audit: list[AuditRow] | None


async def unit_file(principal: Principal, equipment_id: int, *, today: date) -> UnitFile:
    principal.require(Permission.EQUIPMENT_READ)
    history = principal.can(Permission.HISTORY_READ)
    rows = await _repo.read(
        equipment_id,
        principal.equipment_scope(),
        alarm_limit=ALARM_LIMIT,
        maintenance=principal.can(Permission.MAINTENANCE_READ),
        audit=history,
    )
    if rows is None:
        raise NotFound(f"equipment {equipment_id} not found")
    # The page's alarm list is not optional (after the scope: 404 outside it comes first).
    principal.require(Permission.ALARM_READ)
    unit = rows.unit
    schedule = rules.schedule(
        schedules.history(unit, rows.inspections, rows.status_changes), today, schedules.policy()
    )
    by_day = inspections.listed(sorted(rows.inspections, key=lambda i: (i.inspected_on, i.id)))
    return UnitFile(
        unit=unit,
        schedule=schedule,
        inspections=by_day,
        alarms=rows.alarms,
        names=rows.names,
        outline=rows.outline,
        history=rows.status_changes if history else None,
        maintenance=rows.maintenance,
        audit=rows.audit,
    )
