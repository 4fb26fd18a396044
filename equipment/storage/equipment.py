"""The equipment register's rows: units, their status changes, and the code lookups."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any, Literal, cast

import msgspec
import numpy as np
from piccolo.columns.combination import And, Or, Where, WhereRaw
from piccolo.engine.postgres import PostgresEngine
from piccolo.query import Select

from equipment.domain.access import EquipmentScope, ScopeKind
from equipment.domain.lifecycle import Status
from equipment.storage import db, jurisdiction, positions
from equipment.storage.keyset import Sort, after_cursor
from equipment.storage.tables import Alarm, AreaMember, DueDate, Equipment, RiskGrade, StatusChange

Clause = Where | And | Or | WhereRaw


class RegisterRecord(msgspec.Struct, frozen=True):
    """A unit's id, code and the register data its registration records, in the
    register's column order: the fields every unit record shares (EquipmentRow, the
    import's RegisteredUnit), declared once so they cannot drift apart. A subclass's own
    fields follow these."""

    id: int
    code: str
    registration_code: str | None
    equipment_code: str | None
    category: str
    certificate_no: str | None
    manufacturer: str
    model: str
    serial_no: str
    manufacture_date: date | None
    commissioning_date: date | None
    registered_on: date | None
    address: str
    district_code: str
    longitude: float | None
    latitude: float | None
    user_unit: int


class EquipmentRow(RegisterRecord, frozen=True):
    """A unit's row as the register holds it: RegisterRecord's fields, then these. Built
    positionally from rows whose columns come in this order (``_select``,
    ``_BY_IDS_SQL``): no dict copy, no validation."""

    maintenance_company: int | None
    owning_station: int | None
    status: str
    status_since: date
    late_registration: bool
    late_suspension_notice: bool
    needs_inspection_before_resume: bool
    parameters: dict[str, Any]
    cylinder_use: str | None
    next_inspection_due: date | None
    not_fit_for_use: bool
    last_maintenance_on: date | None
    risk_rank: int
    risk_points: float | None  # from risk_grade: None until the unit is first graded
    risk_graded_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime


class StatusChangeRow(msgspec.Struct, frozen=True):
    """One step of the registration workflow (built positionally from a select of these
    columns in this order)."""

    id: int
    equipment: int
    action: str
    from_status: str
    to_status: str
    effective_on: date
    details: dict[str, Any]
    actor: str
    recorded_at: datetime


class StatusStepRow(msgspec.Struct, frozen=True):
    """A status change's action and day: what the schedules read."""

    action: str
    effective_on: date


class CodeHolder(msgspec.Struct, frozen=True):
    """The unit that holds a registration or equipment code."""

    id: int
    status: str
    status_since: date


class UnitLabel(msgspec.Struct, frozen=True):
    """How a list names a unit: its code and address."""

    id: int
    code: str
    address: str


class NewStatusChange(msgspec.Struct, frozen=True):
    equipment: int
    action: str
    from_status: str
    to_status: str
    effective_on: date
    details: dict[str, Any]
    actor: str
    recorded_at: datetime


@dataclass(frozen=True)
class EquipmentFilter:
    category: str | None = None
    category_prefix: str | None = None
    district_code: str | None = None
    status: Status | None = None
    user_unit_id: int | None = None
    maintenance_company_id: int | None = None
    owning_station_id: int | None = None
    q: str | None = None
    # Spatial and condition filters (the areas' unit lists, the data-quality list).
    area_id: int | None = None  # units in or on this area (area_member)
    located: bool | None = None  # True: with coordinates; False: without
    commissioned_on_or_before: date | None = None
    inspection_due_before: date | None = None  # next_inspection_due earlier than this
    maintenance_due_before: date | None = None  # a maintenance due date earlier than this
    open_alarm: bool = False  # an open alarm exists


def _literal(text: str) -> str:
    """User text inside a LIKE pattern: its wildcards are taken out, not interpreted."""
    return text.replace("%", "").replace("_", "")


def _scope_clause(scope: EquipmentScope | None) -> Clause | None:
    if scope is None:
        return None
    if scope.jurisdiction is not None:
        return cast(Clause, jurisdiction.equipment_clause(scope.jurisdiction))
    column = {
        ScopeKind.USER_UNIT: Equipment.user_unit,
        ScopeKind.MAINTENANCE_COMPANY: Equipment.maintenance_company,
        ScopeKind.OWNING_STATION: Equipment.owning_station,
    }.get(scope.kind)
    if column is None:
        return None
    return cast(Clause, column == scope.org_id)


def unit_select() -> Select[Any]:
    """Every column of a unit in EquipmentRow's order (``unit_rows`` builds the rows
    positionally)."""
    # The grade's points and time live in risk_grade (a narrow table the recompute
    # rewrites): one LEFT JOIN on its key, None for a unit never graded.
    grade = Equipment.id.join_on(RiskGrade.equipment)
    graded = {
        "risk_points": grade.points.as_alias("risk_points"),
        "risk_graded_at": grade.graded_at.as_alias("risk_graded_at"),
    }
    return Equipment.select(
        *(graded.get(name) or getattr(Equipment, name) for name in EquipmentRow.__struct_fields__)
    ).output(load_json=True)


def unit_rows(rows: Iterable[Mapping[str, Any]]) -> list[EquipmentRow]:
    """EquipmentRows from ``unit_select``'s rows (their values in the Struct's order)."""
    return [EquipmentRow(*r.values()) for r in rows]


def _filter_clauses(filters: EquipmentFilter) -> list[Clause]:
    clauses: list[Clause] = []
    if filters.category:
        clauses.append(Equipment.category == filters.category)
    if filters.category_prefix:
        clauses.append(Equipment.category.like(f"{_literal(filters.category_prefix)}%"))
    if filters.district_code:
        clauses.append(Equipment.district_code == filters.district_code)
    if filters.status:
        clauses.append(Equipment.status == filters.status.value)
    if filters.user_unit_id is not None:
        clauses.append(Equipment.user_unit == filters.user_unit_id)
    if filters.maintenance_company_id is not None:
        clauses.append(Equipment.maintenance_company == filters.maintenance_company_id)
    if filters.owning_station_id is not None:
        clauses.append(Equipment.owning_station == filters.owning_station_id)
    if filters.q:
        needle = _literal(filters.q.strip())
        clauses.append(
            Equipment.code.like(f"{needle.upper()}%")
            | db.any_case_like(Equipment.address, f"%{needle}%")
        )
    if filters.area_id is not None:
        members = AreaMember.select(AreaMember.equipment).where(AreaMember.area == filters.area_id)
        clauses.append(Equipment.id.is_in(members))
    if filters.located is True:
        clauses.append(Equipment.longitude.is_not_null())
    elif filters.located is False:
        clauses.append(Equipment.longitude.is_null())
    if filters.commissioned_on_or_before is not None:
        clauses.append(Equipment.commissioning_date <= filters.commissioned_on_or_before)
    if filters.inspection_due_before is not None:
        clauses.append(Equipment.next_inspection_due < filters.inspection_due_before)
    if filters.maintenance_due_before is not None:
        overdue = DueDate.select(DueDate.equipment).where(
            DueDate.kind == "maintenance", DueDate.due_on < filters.maintenance_due_before
        )
        clauses.append(Equipment.id.is_in(overdue))
    if filters.open_alarm:
        alarmed = Alarm.select(Alarm.equipment).where(Alarm.state == "open")
        clauses.append(Equipment.id.is_in(alarmed))
    return clauses


BBox = tuple[float, float, float, float]  # min_lon, min_lat, max_lon, max_lat (WGS-84)


def located_statement(
    scope: EquipmentScope | None,
    box: BBox,
    *,
    category: str | None = None,
    category_prefix: str | None = None,
    status: Status | None = None,
    postgres: bool | None = None,
) -> tuple[str, list[Any]]:
    """Id and position of the units in ``box``, edges included, with ``$n`` placeholders,
    and its arguments. On PostgreSQL (``postgres``; by default the engine's) one short
    longitude range per latitude cell the box spans (the equipment_location_cell index),
    on SQLite one range on longitude (equipment_location). The text depends only on
    which conditions are present, so it is built once per shape (``_located_sql``) and
    asyncpg prepares it once per connection: no query is built per request.
    bench/geo_queries.py runs the same statement."""
    min_lon, min_lat, max_lon, max_lat = box
    args: list[Any] = [min_lon, max_lon, min_lat, max_lat]
    shape: list[Any] = []
    if scope is not None and scope.jurisdiction is not None:
        shape.append(("jurisdiction", scope.jurisdiction))
    elif scope is not None and scope.kind in _SCOPE_COLUMN:
        shape.append(("org", scope.kind))
        args.append(scope.org_id)
    optional: tuple[tuple[str, object], ...] = (
        ("category", category or None),
        ("prefix", f"{_literal(category_prefix)}%" if category_prefix else None),
        ("status", status.value if status else None),
    )
    for name, value in optional:
        if value is not None:
            shape.append(name)
            args.append(value)
    if db.is_postgres() if postgres is None else postgres:
        shape.append("cells")
        args.append(latitude_cells(min_lat, max_lat))
    sql, jurisdiction_args = _located_sql(tuple(shape))
    return sql, args[:4] + jurisdiction_args + args[4:]


_SCOPE_COLUMN = {
    ScopeKind.USER_UNIT: "user_unit",
    ScopeKind.MAINTENANCE_COMPANY: "maintenance_company",
    ScopeKind.OWNING_STATION: "owning_station",
}
_LOCATED_CONDITIONS = {
    "category": "category = ",
    "prefix": "category LIKE ",
    "status": "status = ",
    # Exactly the expression of the equipment_location_cell index (its migration).
    "cells": "floor(latitude * 200)::integer = ANY(",
}
_CLOSING = {"cells": "::integer[])"}
# Latitude cells per degree of that index: 1/200° is about 555 m.
CELLS_PER_DEGREE = 200


def latitude_cells(min_lat: float, max_lat: float) -> list[int]:
    """The index's cells of every latitude in [min_lat, max_lat]. Python and PostgreSQL
    multiply the same IEEE doubles, and rounding preserves order, so no latitude of the
    box falls in a cell outside the list."""
    first, last = math.floor(min_lat * CELLS_PER_DEGREE), math.floor(max_lat * CELLS_PER_DEGREE)
    return list(range(first, last + 1))


@lru_cache(maxsize=256)
def _located_sql(shape: tuple[Any, ...]) -> tuple[str, list[Any]]:
    """(SQL, the jurisdiction's arguments, which come right after the box's four)."""
    sql = (
        "SELECT id, longitude, latitude FROM equipment"
        " WHERE longitude >= $1 AND longitude <= $2 AND latitude >= $3 AND latitude <= $4"
    )
    n = 5
    jurisdiction_args: list[Any] = []
    for part in shape:
        if isinstance(part, tuple) and part[0] == "jurisdiction":
            clause, jurisdiction_args = jurisdiction.numbered_clause(
                part[1], unit_id="id", district="district_code", first=n
            )
            sql += clause
            n += len(jurisdiction_args)
        elif isinstance(part, tuple):
            sql += f" AND {_SCOPE_COLUMN[part[1]]} = ${n}"
            n += 1
        else:
            sql += f" AND {_LOCATED_CONDITIONS[part]}${n}{_CLOSING.get(part, '')}"
            n += 1
    return sql, jurisdiction_args


@lru_cache(maxsize=256)
def _packed(located_sql: str) -> str:
    return positions.packed_sql(located_sql)


# Every column of a unit, as EquipmentRow names them: by_ids' statement on PostgreSQL. The
# grade's points and time come from risk_grade, as in _select (None until first graded).
_FROM_RISK_GRADE = {"risk_points": "g.points", "risk_graded_at": "g.graded_at"}
_BY_IDS_SQL = (
    "SELECT "
    + ", ".join(
        f"{_FROM_RISK_GRADE[name]} AS {name}" if name in _FROM_RISK_GRADE else f"e.{name}"
        for name in EquipmentRow.__struct_fields__
    )
    + " FROM equipment e LEFT JOIN risk_grade g ON g.equipment = e.id WHERE e.id = ANY($1)"
)
# The json columns' places in the row (asyncpg returns them as text).
_JSON_POSITIONS = (EquipmentRow.__struct_fields__.index("parameters"),)
_JSON = msgspec.json.Decoder()


def _decode_json(text: str) -> Any:
    """The same value as ``json.loads`` (keys in the stored order) at about 40 % of its
    cost: 50 units' parameters were a tenth of a nearby page's by_ids. What msgspec
    refuses and json.loads takes (a number past a float's range, a lone surrogate) goes
    to json.loads, so no stored value reads differently."""
    try:
        return _JSON.decode(text)
    except msgspec.DecodeError:
        return json.loads(text)


_STATUS_CHANGE_COLUMNS = tuple(
    getattr(StatusChange, name) for name in StatusChangeRow.__struct_fields__
)


class EquipmentRepository:
    async def get(
        self, equipment_id: int, scope: EquipmentScope | None = None
    ) -> EquipmentRow | None:
        """The unit, or None when it does not exist or lies outside ``scope``."""
        query = unit_select().where(Equipment.id == equipment_id)
        clause = _scope_clause(scope)
        if clause is not None:
            query = query.where(clause)
        row = await query.first()
        return None if row is None else unit_rows([row])[0]

    async def code_of(self, equipment_id: int, scope: EquipmentScope | None = None) -> str | None:
        """The unit's code alone (a QR image needs nothing else), or None when the unit does
        not exist or lies outside ``scope``."""
        query = Equipment.select(Equipment.code).where(Equipment.id == equipment_id)
        clause = _scope_clause(scope)
        if clause is not None:
            query = query.where(clause)
        row = await query.first()
        return None if row is None else str(row["code"])

    async def labels(
        self, ids: set[int], scope: EquipmentScope | None = None
    ) -> dict[int, UnitLabel]:
        """Code and address of the units among ``ids`` inside ``scope``."""
        if not ids:
            return {}
        query = Equipment.select(Equipment.id, Equipment.code, Equipment.address).where(
            Equipment.id.is_in(sorted(ids))
        )
        clause = _scope_clause(scope)
        if clause is not None:
            query = query.where(clause)
        return {r["id"]: UnitLabel(r["id"], r["code"], r["address"]) for r in await query}

    async def page(
        self,
        filters: EquipmentFilter,
        *,
        scope: EquipmentScope | None,
        sort: Sort,
        after: Sequence[object] | None,
        limit: int,
    ) -> list[EquipmentRow]:
        """Up to ``limit`` units in sort order, after the keyset ``after``."""
        clauses = _filter_clauses(filters)
        clause = _scope_clause(scope)
        if clause is not None:
            clauses.insert(0, clause)
        if after is not None:
            clauses.append(after_cursor(sort, after))
        order = [getattr(Equipment, c) for c in sort.order_columns]
        query = unit_select().order_by(*order, ascending=not sort.descending).limit(limit)
        if clauses:
            query = query.where(*clauses)
        return unit_rows(await query)

    async def located(
        self,
        scope: EquipmentScope | None,
        box: BBox,
        *,
        category: str | None = None,
        category_prefix: str | None = None,
        status: Status | None = None,
    ) -> positions.Positions:
        """(ids, lons, lats) of the units in ``box`` (edges included), in no set order."""
        sql, args = located_statement(
            scope, box, category=category, category_prefix=category_prefix, status=status
        )
        engine = db.engine()
        if isinstance(engine, PostgresEngine) and engine.pool is not None:
            # Up to every unit of a city: one binary COPY read into numpy, not Python rows.
            async with engine.pool.acquire() as connection:
                return await positions.fetch(connection, sql, *args)
        async with db.reader() as bulk:
            rows = await bulk.rows(sql, *args)
        return (
            np.array([r["id"] for r in rows], dtype=np.int64),
            np.array([r["longitude"] for r in rows], dtype=np.float64),
            np.array([r["latitude"] for r in rows], dtype=np.float64),
        )

    async def around(
        self,
        scope: EquipmentScope | None,
        box: BBox,
        *,
        category: str | None = None,
        category_prefix: str | None = None,
        status: Status | None = None,
    ) -> positions.Positions:
        """``located`` for a small box (a nearby circle's): on PostgreSQL one prepared
        statement answering one packed bytea (``positions.packed_sql``), not a COPY."""
        engine = db.engine()
        if not (isinstance(engine, PostgresEngine) and engine.pool is not None):
            return await self.located(
                scope, box, category=category, category_prefix=category_prefix, status=status
            )
        sql, args = located_statement(
            scope,
            box,
            category=category,
            category_prefix=category_prefix,
            status=status,
            postgres=True,
        )
        return positions.unpack(await engine.pool.fetchval(_packed(sql), *args))

    async def by_ids(self, ids: Sequence[int]) -> dict[int, EquipmentRow]:
        """The units of ``ids`` that exist, by id (read 500 at a time). On PostgreSQL one
        prepared statement with the ids as an array (no query built per request), through
        ``db.rows`` (the pool's own fetch outside a transaction): a nearby page reads 50."""
        found: dict[int, EquipmentRow] = {}
        postgres = db.is_postgres()
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            if postgres:
                for record in await db.rows(_BY_IDS_SQL, chunk):
                    values = list(record)  # the Struct's order (_BY_IDS_SQL)
                    for i in _JSON_POSITIONS:
                        if isinstance(values[i], str):
                            values[i] = _decode_json(values[i])
                    row = EquipmentRow(*values)
                    found[row.id] = row
            else:
                for row in unit_rows(await unit_select().where(Equipment.id.is_in(chunk))):
                    found[row.id] = row
        return found

    async def id_by_code(self, code: str) -> int | None:
        """The unit whose code, registration code or equipment code is ``code``."""
        row = (
            await Equipment.select(Equipment.id)
            .where(
                (Equipment.code == code)
                | (Equipment.registration_code == code)
                | (Equipment.equipment_code == code)
            )
            .first()
        )
        return None if row is None else cast(int, row["id"])

    async def code_holder(
        self, column: Literal["registration_code", "equipment_code"], value: str
    ) -> CodeHolder | None:
        row = (
            await Equipment.select(Equipment.id, Equipment.status, Equipment.status_since)
            .where(getattr(Equipment, column) == value)
            .first()
        )
        return None if row is None else msgspec.convert(row, CodeHolder)

    async def insert(self, values: Mapping[str, Any]) -> int:
        [created] = await Equipment.insert(Equipment(**values)).returning(Equipment.id)
        return cast(int, created["id"])

    async def update_if_version(
        self, equipment_id: int, expected_version: int, values: Mapping[str, Any]
    ) -> bool:
        """Whether the row was still at ``expected_version`` (and is now changed)."""
        updated = (
            await Equipment.update(dict[Any, Any](values))
            .where(Equipment.id == equipment_id, Equipment.version == expected_version)
            .returning(Equipment.id)
        )
        return bool(updated)

    async def set_columns(self, equipment_id: int, values: Mapping[str, Any]) -> None:
        """Columns the services derive (the schedule's), without a version step."""
        await Equipment.update(dict[Any, Any](values)).where(Equipment.id == equipment_id)

    async def status_steps(self, equipment_id: int) -> list[StatusStepRow]:
        """The unit's status changes, action and day only, in the order recorded."""
        rows = (
            await StatusChange.select(StatusChange.action, StatusChange.effective_on)
            .where(StatusChange.equipment == equipment_id)
            .order_by(StatusChange.id)
        )
        return [StatusStepRow(*r.values()) for r in rows]

    async def add_status_change(self, change: NewStatusChange) -> None:
        await StatusChange.insert(StatusChange(**msgspec.structs.asdict(change)))

    async def status_history(self, equipment_id: int) -> list[StatusChangeRow]:
        rows = (
            await StatusChange.select(*_STATUS_CHANGE_COLUMNS)
            .where(StatusChange.equipment == equipment_id)
            .order_by(StatusChange.id)
            .output(load_json=True)
        )
        return [StatusChangeRow(*r.values()) for r in rows]

    async def hand_over_open_alarms(
        self, equipment_id: int, maintenance_company: int | None
    ) -> None:
        """The unit's open alarms name ``maintenance_company``; closed ones keep theirs."""
        await Alarm.update({Alarm.maintenance_company: maintenance_company}).where(
            Alarm.equipment == equipment_id, Alarm.state == "open"
        )
