"""Areas: their import (upsert by key), their pages and outlines, and the per-area
summary of the units in them (one statement, which the area summary keeps per process and
refreshes from the ``area_change`` log, equipment.storage.area_changes)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import msgspec
from piccolo.query.methods.raw import Raw

from equipment.domain.access import EquipmentScope, ScopeKind
from equipment.storage import jurisdiction
from equipment.storage.tables import Area

PROPERTY_COLUMNS = (
    "kind",
    "name",
    "code",
    "year_built",
    "households",
    "renovation_programme",
    "renovation_year",
)
STORED_COLUMNS = (*PROPERTY_COLUMNS, "geometry", "min_lon", "min_lat", "max_lon", "max_lat")
LIST_COLUMNS = (
    Area.id,
    Area.key,
    *(getattr(Area, c) for c in PROPERTY_COLUMNS),
    Area.min_lon,
    Area.min_lat,
    Area.max_lon,
    Area.max_lat,
    Area.version,
    Area.created_at,
    Area.updated_at,
)
SUMMARY_COUNTS = (
    "units",
    "lifts",
    "lifts_over_15_years",
    "overdue_inspections",
    "overdue_maintenance",
    "open_alarms",
    "alarms_last_90_days",
)
# Units per risk grade (blue: the rest), and risk_rank: the area's grade (0 蓝 to 3 红, -1
# no units), which sort=-grade names too.
GRADE_COUNTS = ("red_units", "orange_units", "yellow_units")
# The summary's statement, awaited for its rows (the benchmarks compile it to run it bare).
SummaryStatement = Raw
LIFT_FAMILY = "3"  # 电梯: lifts, escalators and moving walks (TSG 08-2017 catalogue)


class AreaRow(msgspec.Struct, frozen=True):
    """An area as listed (``geometry``, GeoJSON text, only when asked for)."""

    id: int
    key: str
    kind: str
    name: str
    code: str | None
    year_built: int | None
    households: int | None
    renovation_programme: str | None
    renovation_year: int | None
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float
    version: int
    created_at: datetime
    updated_at: datetime
    geometry: str | None = None


class StoredArea(msgspec.Struct, frozen=True):
    """An area as an import compares it: its stored columns, id, key and version."""

    id: int
    key: str
    version: int
    kind: str
    name: str
    code: str | None
    year_built: int | None
    households: int | None
    renovation_programme: str | None
    renovation_year: int | None
    geometry: str
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float


class AreaRepository:
    async def outline(self, kind: str, code: str) -> Any | None:
        """The GeoJSON geometry of the area of ``kind`` with ``code`` (the first imported,
        if a code was imported twice), or None."""
        row = (
            await Area.select(Area.geometry)
            .where(Area.kind == kind, Area.code == code)
            .order_by(Area.id)
            .first()
        )
        return None if row is None else row["geometry"]

    async def stored_by_key(self, keys: Sequence[str]) -> dict[str, StoredArea]:
        """The stored areas with these keys (500 keys a statement)."""
        stored: dict[str, StoredArea] = {}
        for start in range(0, len(keys), 500):
            rows = await Area.select(Area.id, Area.key, Area.version, *STORED_COLUMNS).where(
                Area.key.is_in(list(keys[start : start + 500]))
            )
            stored.update({r["key"]: msgspec.convert(r, StoredArea, strict=False) for r in rows})
        return stored

    async def insert_many(self, values: Sequence[Mapping[str, Any]], *, now: datetime) -> list[int]:
        """New areas (key and STORED_COLUMNS each), version 1: their ids, in order (200
        areas a statement)."""
        ids: list[int] = []
        for start in range(0, len(values), 200):
            chunk = values[start : start + 200]
            rows = await Area.insert(
                *[Area(**v, version=1, created_at=now, updated_at=now) for v in chunk]
            ).returning(Area.id)
            ids.extend(r["id"] for r in rows)
        return ids

    async def replace(
        self, area_id: int, values: Mapping[str, Any], *, version: int, now: datetime
    ) -> None:
        changes: dict[Any, Any] = {**values, "version": version, "updated_at": now}
        await Area.update(changes).where(Area.id == area_id)

    async def page(
        self, *, kind: str | None, after_id: int | None, limit: int, with_geometry: bool
    ) -> list[AreaRow]:
        """Areas by id, after ``after_id`` (a keyset page)."""
        columns = (*LIST_COLUMNS, Area.geometry) if with_geometry else LIST_COLUMNS
        query = Area.select(*columns).order_by(Area.id).limit(limit)
        if kind is not None:
            query = query.where(Area.kind == kind)
        if after_id is not None:
            query = query.where(Area.id > after_id)
        return [msgspec.convert(r, AreaRow, strict=False) for r in await query]

    async def get(self, area_id: int) -> AreaRow | None:
        """One area with its geometry."""
        row = await Area.select(*LIST_COLUMNS, Area.geometry).where(Area.id == area_id).first()
        return None if row is None else msgspec.convert(row, AreaRow, strict=False)

    def summary_statement(
        self,
        scope: EquipmentScope,
        *,
        kind: str | None,
        category_prefix: str | None,
        column: str,
        descending: bool,
        limit: int | None,
        today: date,
        old_lift_since: date,
        alarms_since: datetime,
        closed: tuple[str, str],
        share: float,
        areas: list[int] | None = None,
        grade: int | None = None,
    ) -> SummaryStatement:
        """The area summary's one statement (awaited, its rows), for every area or for
        ``areas``: per area, over the units in ``scope`` not in a ``closed`` status, the
        SUMMARY_COUNTS and GRADE_COUNTS, and ``risk_rank``: the worst grade held by at
        least ``share`` of its units (equipment.domain.risk.grade_of_group), computed here
        so it sorts and filters in the statement; ``grade`` keeps areas of that rank."""
        unit_filter = ""
        unit_args: list[Any] = []
        if scope.jurisdiction is not None:
            inside, unit_args = jurisdiction.raw_clause(
                scope.jurisdiction, unit_id="e.id", district="e.district_code"
            )
            unit_filter += inside
        elif scope.kind is not ScopeKind.ALL:
            unit_filter += f" AND e.{scope.kind.value} = {{}}"
            unit_args.append(scope.org_id)
        if category_prefix:
            unit_filter += " AND e.category LIKE {}"
            unit_args.append(category_prefix.replace("%", "").replace("_", "") + "%")
        kind_join, kind_args = "", []
        if kind is not None:
            kind_join, kind_args = " JOIN area k ON k.id = m.area AND k.kind = {}", [kind]
        area_filter, area_args = "", []
        if areas is not None:
            # Both the area and the memberships: the planner reads only these areas' members.
            # The areas are narrowed to the kind first: a unit's change names its district
            # too, whose hundreds of thousands of members the kind's summary never counts.
            listed = ", ".join("{}" for _ in areas)
            of_kind = " AND kind = {}" if kind is not None else ""
            area_filter = f" AND m.area IN (SELECT id FROM area WHERE id IN ({listed}){of_kind})"
            area_args = [*areas, *kind_args]
        # With the areas narrowed to the kind, joining the area again only costs planning
        # (the refresh after a change is planned every time it runs).
        join, join_args = (kind_join, kind_args) if areas is None else ("", [])
        counts = ", ".join(f"COALESCE({c}, 0) AS {c}" for c in (*SUMMARY_COUNTS, *GRADE_COUNTS))
        direction = "DESC" if descending else "ASC"
        rank_sql = (
            "CASE WHEN COALESCE(u.units, 0) = 0 THEN -1"
            f" WHEN u.red_units >= {share!r} * u.units THEN 3"
            f" WHEN u.red_units + u.orange_units >= {share!r} * u.units THEN 2"
            f" WHEN u.red_units + u.orange_units + u.yellow_units >= {share!r} * u.units THEN 1"
            " ELSE 0 END"
        )
        outer = []
        outer_args: list[Any] = []
        if kind is not None:
            outer.append("a.kind = {}")
            outer_args.append(kind)
        if areas is not None:
            outer.append(f"a.id IN ({', '.join('{}' for _ in areas)})")
            outer_args.extend(areas)
        if grade is not None:
            outer.append(f"{rank_sql} = {int(grade)}")
        where = f" WHERE {' AND '.join(outer)}" if outer else ""
        return Area.raw(
            "SELECT a.id, a.key, a.kind, a.name, a.code, a.year_built, a.households,"
            f" a.renovation_year, {counts}, {rank_sql} AS risk_rank"
            " FROM area a"
            " LEFT JOIN (SELECT m.area AS area, COUNT(*) AS units,"
            f" SUM(CASE WHEN e.category LIKE '{LIFT_FAMILY}%' THEN 1 ELSE 0 END) AS lifts,"
            f" SUM(CASE WHEN e.category LIKE '{LIFT_FAMILY}%' AND e.commissioning_date <= {{}}"
            " THEN 1 ELSE 0 END) AS lifts_over_15_years,"
            " SUM(CASE WHEN e.next_inspection_due < {} THEN 1 ELSE 0 END)"
            " AS overdue_inspections,"
            " SUM(CASE WHEN d.due_on < {} THEN 1 ELSE 0 END) AS overdue_maintenance,"
            " SUM(CASE WHEN e.risk_rank = 3 THEN 1 ELSE 0 END) AS red_units,"
            " SUM(CASE WHEN e.risk_rank = 2 THEN 1 ELSE 0 END) AS orange_units,"
            " SUM(CASE WHEN e.risk_rank = 1 THEN 1 ELSE 0 END) AS yellow_units"
            f" FROM area_member m{join}"
            " JOIN equipment e ON e.id = m.equipment"
            " LEFT JOIN due_date d ON d.equipment = e.id AND d.kind = 'maintenance'"
            f" WHERE e.status NOT IN ('{closed[0]}', '{closed[1]}'){unit_filter}{area_filter}"
            " GROUP BY m.area) u ON u.area = a.id"
            " LEFT JOIN (SELECT m.area AS area,"
            " SUM(CASE WHEN al.state = 'open' THEN 1 ELSE 0 END) AS open_alarms,"
            " SUM(CASE WHEN al.raised_at >= {} THEN 1 ELSE 0 END) AS alarms_last_90_days"
            " FROM alarm al JOIN area_member m ON m.equipment = al.equipment"
            f"{join}"
            " JOIN equipment e ON e.id = al.equipment"
            f" WHERE (al.state = 'open' OR al.raised_at >= {{}})"
            f" AND e.status NOT IN ('{closed[0]}', '{closed[1]}'){unit_filter}{area_filter}"
            " GROUP BY m.area) al ON al.area = a.id"
            + where
            + f" ORDER BY {column} {direction}, a.id"
            + (" LIMIT {}" if limit is not None else ""),
            old_lift_since,
            today,
            today,
            *join_args,
            *unit_args,
            *area_args,
            alarms_since,
            *join_args,
            alarms_since,
            *unit_args,
            *area_args,
            *outer_args,
            *([limit] if limit is not None else []),
        )
