"""A unit's file: the rows its page shows beside the register row (inspections, status
changes, maintenance records, alarms, audit trail, organisation names, district outline),
read on one pooled connection, a statement each.

Why not the repositories each section has: those build their statement with Piccolo on
every call (0.2-0.5 ms of CPU each, measured) and each section's service loads the unit
again for its scope check, so a unit page cost 21 statements and ~15 ms of CPU. Here each
statement's text is fixed (asyncpg prepares it once per connection and reuses it) and the
caller has checked the scope once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import msgspec
from piccolo.columns import JSON, JSONB
from piccolo.table import Table

from equipment.domain.access import EquipmentScope, ScopeKind
from equipment.storage import db, jurisdiction
from equipment.storage.alarms import AlarmRecord, alarm_record
from equipment.storage.audit import AuditRow
from equipment.storage.bulk import Bulk
from equipment.storage.equipment import EquipmentRow, StatusChangeRow
from equipment.storage.inspections import InspectionRow
from equipment.storage.maintenance import MaintenanceRecordRow
from equipment.storage.tables import (
    Alarm,
    AuditEntry,
    Equipment,
    MaintenanceRecord,
    StatusChange,
)


def _columns(table: type[Table]) -> tuple[str, tuple[str, ...]]:
    """Every column of ``table`` (what Piccolo's ``select()`` reads, under the same names)
    and which of them hold JSON (read back as text: decoded here, as ``load_json`` did)."""
    names = [c._meta.db_column_name for c in table._meta.columns]
    json_names = tuple(
        c._meta.db_column_name for c in table._meta.columns if isinstance(c, JSON | JSONB)
    )
    return ", ".join(f'"{n}"' for n in names), json_names


_EQUIPMENT, _EQUIPMENT_JSON = _columns(Equipment)
_STATUS_CHANGE, _STATUS_CHANGE_JSON = _columns(StatusChange)
_MAINTENANCE, _MAINTENANCE_JSON = _columns(MaintenanceRecord)
_ALARM, _ = _columns(Alarm)
_AUDIT, _AUDIT_JSON = _columns(AuditEntry)

# The register row as EquipmentRepository.get reads it: the grade's points and time from
# risk_grade under the names the row has always had.
_UNIT_SQL = (
    f"SELECT {', '.join('e.' + c for c in _EQUIPMENT.split(', '))},"
    " g.points AS risk_points, g.graded_at AS risk_graded_at"
    " FROM equipment e LEFT JOIN risk_grade g ON g.equipment = e.id WHERE e.id = $1"
)
# In InspectionRow's order: its rows are built positionally (from the values of
# asyncpg's records or of the dicts Piccolo's SQLite connection answers).
_INSPECTIONS_SQL = (
    f"SELECT {', '.join(InspectionRow.__struct_fields__)} FROM inspection"
    " WHERE equipment = $1 ORDER BY id"
)
_STATUS_CHANGES_SQL = f"SELECT {_STATUS_CHANGE} FROM status_change WHERE equipment = $1 ORDER BY id"
_MAINTENANCE_SQL = (
    f"SELECT {_MAINTENANCE} FROM maintenance_record WHERE equipment = $1 ORDER BY maintained_on, id"
)
_ALARMS_SQL = (
    f"SELECT {_ALARM} FROM alarm WHERE equipment = $1 ORDER BY raised_at DESC, id DESC LIMIT $2"
)
_AUDIT_SQL = (
    f"SELECT {_AUDIT} FROM audit_entry WHERE entity = 'equipment' AND entity_id = $1 ORDER BY id"
)
_OUTLINE_SQL = "SELECT geometry FROM area WHERE kind = 'district' AND code = $1 ORDER BY id LIMIT 1"


@dataclass(frozen=True)
class UnitFileRows:
    """What ``read`` found; a section not asked for is None."""

    unit: EquipmentRow
    inspections: list[InspectionRow]  # as recorded (by id)
    status_changes: list[StatusChangeRow]  # as recorded (by id)
    alarms: list[AlarmRecord]  # newest first
    names: dict[int, str]
    outline: Any | None  # the district's GeoJSON geometry, decoded
    maintenance: list[MaintenanceRecordRow] | None
    audit: list[AuditRow] | None


def _decoded(rows: list[Any], json_columns: tuple[str, ...]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        item = dict(row)
        for name in json_columns:
            if isinstance(item[name], str):
                item[name] = json.loads(item[name])
        out.append(item)
    return out


async def _names(bulk: Bulk, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    sql = f"SELECT id, name FROM organisation WHERE {bulk.any_of('id', 1)}"
    return {r["id"]: r["name"] for r in await bulk.rows(sql, ids)}


def _unit_sql(scope: EquipmentScope) -> tuple[str, list[Any]]:
    """The unit's statement limited to ``scope`` (its text fixed per kind of scope and,
    for a jurisdiction, per its number of districts and areas) and the scope's arguments,
    which follow the unit's id."""
    if scope.jurisdiction is not None:
        clause, args = jurisdiction.numbered_clause(
            scope.jurisdiction, unit_id="e.id", district="e.district_code", first=2
        )
        return _UNIT_SQL + clause, args
    if scope.kind is ScopeKind.ALL:
        return _UNIT_SQL, []
    return f"{_UNIT_SQL} AND e.{scope.kind.value} = $2", [scope.org_id]


class UnitFileRepository:
    async def read(
        self,
        equipment_id: int,
        scope: EquipmentScope,
        *,
        alarm_limit: int,
        maintenance: bool,
        audit: bool,
    ) -> UnitFileRows | None:
        """The unit and its rows for its page, on one connection (or the open
        transaction's); None when the unit does not exist or lies outside ``scope``."""
        sql, scope_args = _unit_sql(scope)
        async with db.reader() as bulk:
            found = await bulk.rows(sql, equipment_id, *scope_args)
            if not found:
                return None
            [unit] = _decoded(found, _EQUIPMENT_JSON)
            located = unit["longitude"] is not None and unit["latitude"] is not None
            organisations = (
                unit["user_unit"],
                unit["maintenance_company"],
                unit["owning_station"],
            )
            district_code = unit["district_code"] if located else None
            inspections = await bulk.rows(_INSPECTIONS_SQL, equipment_id)
            changes = await bulk.rows(_STATUS_CHANGES_SQL, equipment_id)
            alarms = await bulk.rows(_ALARMS_SQL, equipment_id, alarm_limit)
            names = await _names(bulk, sorted({i for i in organisations if i is not None}))
            outline = None
            if district_code is not None:
                found = await bulk.rows(_OUTLINE_SQL, district_code)
                outline = found[0]["geometry"] if found else None
                if isinstance(outline, str):
                    outline = json.loads(outline)
            records = await bulk.rows(_MAINTENANCE_SQL, equipment_id) if maintenance else None
            trail = await bulk.rows(_AUDIT_SQL, equipment_id) if audit else None
        return UnitFileRows(
            unit=EquipmentRow(**unit),
            inspections=[InspectionRow(*r.values()) for r in inspections],
            status_changes=[StatusChangeRow(**r) for r in _decoded(changes, _STATUS_CHANGE_JSON)],
            alarms=[alarm_record(r) for r in alarms],
            names=names,
            outline=outline,
            maintenance=(
                None
                if records is None
                else [
                    msgspec.convert(r, MaintenanceRecordRow, strict=False)
                    for r in _decoded(records, _MAINTENANCE_JSON)
                ]
            ),
            audit=(
                None
                if trail is None
                else [
                    msgspec.convert(r, AuditRow, strict=False) for r in _decoded(trail, _AUDIT_JSON)
                ]
            ),
        )
