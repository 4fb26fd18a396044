"""The risk grade's inputs and its stored results (``risk_grade``, the rank copied to
``equipment.risk_rank`` and ``due_date.risk_rank``, ``risk_change``).

Set-at-a-time: one statement gathers every input of a batch of units (their row, the last
uncorrected inspection, open hazards, alarms of the window, late maintenance, old
residential membership, the user unit's flag) with the grade stored for them, the service
scores them in Python, and one statement per table writes what changed, the rows
travelling as one JSON document (as in storage/bulk.py): ``risk_grade`` for a grade whose
points or explanation moved (a narrow row), the unit and its due dates only when the rank
moved (their rows carry fifteen and nine indexes). SQL is written with ``$n`` placeholders
for both engines.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import msgspec

from equipment.domain.access import EquipmentScope, ScopeKind
from equipment.storage import db, jurisdiction
from equipment.storage.bulk import Bulk
from equipment.storage.tables import Equipment, RiskChange, RiskGrade

CLOSED = ("scrapped", "cancelled")
# pg_advisory_xact_lock(key1, key2): key1 names what sereg locks, key2 a block of unit ids.
_GRADING_LOCK = 0x5247  # "RG": risk grading
GRADING_BLOCK_BITS = 14  # 16,384 ids a lock: a 50,000-unit batch takes 4 or 5
_OPEN_HAZARD = "('listed', 'assigned', 'rectifying', 'submitted')"


class GradedUnitRow(msgspec.Struct, frozen=True):
    """A graded unit as the risk lists show it, with its stored grade."""

    id: int
    code: str
    category: str
    district_code: str
    user_unit: int
    address: str
    risk_rank: int  # 0 (蓝) to 3 (红)
    risk_points: float
    risk_graded_at: datetime


class GradeChangeRow(msgspec.Struct, frozen=True):
    """A change of a unit's grade (``risk_change``) with the unit's code and place."""

    id: int
    equipment: int
    code: str
    category: str
    district_code: str
    from_rank: int | None  # None: the unit's first grade
    to_rank: int
    points: float
    changed_at: datetime


class GroupRankCount(msgspec.Struct, frozen=True):
    """How many graded units of a group (a user unit or an area) hold a rank."""

    group: int
    risk_rank: int
    units: int


@dataclass(frozen=True, slots=True)
class GatheredUnit:
    """One unit's inputs as stored (the service turns them into ``RiskInputs``)."""

    id: int
    category: str
    user_unit: int
    started_on: date | None  # commissioning, else manufacture
    design_life_years: int | None
    next_inspection_due: date | None
    conclusion: str | None
    safety_grade: int | None
    general_hazards: int
    major_hazards: int
    faults: int
    entrapments: int
    maintenance_due: date | None  # the maintenance due date, when past
    old_residential: bool
    hazardous_chemicals: bool
    risk_rank: int  # as stored on the unit (0 before the first grading)
    risk_points: float | None  # the stored grade (None: never graded)
    factors: str | None  # the stored explanation, as written by the last grading
    graded: bool


@dataclass(frozen=True, slots=True)
class GradeWrite:
    id: int
    rank: int
    points: float
    factors: str  # the explanation: JSON [[value, points], ...] in FACTORS order
    from_rank: int | None  # None: never graded before
    grade_changed: bool  # points or explanation differ from risk_grade's (or no row)
    rank_changed: bool  # differs from the unit's risk_rank: the unit, due dates, history


@dataclass(frozen=True, slots=True)
class StoredGrade:
    """A unit's grade as the last grading stored it (``factors`` empty: stored before
    explanations were, read live until the next grading)."""

    status: str
    rank: int
    points: float | None
    factors: str | None


def _bulk() -> Bulk:
    transaction = db.engine().current_transaction.get()
    assert transaction is not None, "the risk storage runs inside a transaction"
    return Bulk(transaction)


def _date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _life_sql(postgres: bool) -> str:
    if postgres:
        return "(e.parameters::jsonb ->> 'design_service_life_years')"
    return "json_extract(e.parameters, '$.design_service_life_years')"


def gather_sql(postgres: bool, *, by_range: bool) -> str:
    """The one statement gathering a batch's inputs: units ``$1 <= id < $2`` (by range)
    or ``id`` in the list ``$1``; ``$3`` today, ``$4`` the alarm window's start.
    bench/risk_recompute.py runs it bare as the floor."""
    probe = Bulk.on(None, postgres=postgres)
    if by_range:
        unit = "e.id >= $1 AND e.id < $2"

        def of(column: str) -> str:
            return f"{column} >= $1 AND {column} < $2"
    else:
        # $2 is unused in this form; PostgreSQL wants every parameter typed.
        unit = probe.any_of("e.id", 1) + (" AND $2::bigint IS NULL" if postgres else "")

        def of(column: str) -> str:
            return probe.any_of(column, 1)

    closed = ", ".join(f"'{s}'" for s in CLOSED)
    return (
        "SELECT e.id, e.category, e.user_unit,"
        " COALESCE(e.commissioning_date, e.manufacture_date) AS started_on,"
        f" {_life_sql(postgres)} AS life,"
        " e.next_inspection_due, e.risk_rank, g.points AS risk_points, g.factors,"
        " o.hazardous_chemicals,"
        " li.conclusion, li.safety_grade,"
        " h.general_hazards, h.major_hazards, al.faults, al.entrapments,"
        " md.due_on AS maintenance_due, orr.equipment AS old_residential"
        " FROM equipment e"
        " JOIN organisation o ON o.id = e.user_unit"
        " LEFT JOIN risk_grade g ON g.equipment = e.id"
        " LEFT JOIN (SELECT equipment, conclusion, safety_grade FROM"
        " (SELECT i.equipment, i.conclusion, i.safety_grade, ROW_NUMBER() OVER"
        " (PARTITION BY i.equipment ORDER BY i.inspected_on DESC, i.id DESC) AS n"
        f" FROM inspection i WHERE {of('i.equipment')}"
        " AND NOT EXISTS (SELECT 1 FROM inspection c WHERE c.corrects = i.id)) ranked"
        " WHERE n = 1) li ON li.equipment = e.id"
        " LEFT JOIN (SELECT equipment,"
        " SUM(CASE WHEN grade = 'major' THEN 0 ELSE 1 END) AS general_hazards,"
        " SUM(CASE WHEN grade = 'major' THEN 1 ELSE 0 END) AS major_hazards"
        f" FROM hazard WHERE {of('equipment')} AND state IN {_OPEN_HAZARD}"
        " GROUP BY equipment) h ON h.equipment = e.id"
        " LEFT JOIN (SELECT equipment,"
        " SUM(CASE WHEN kind <> 'entrapment' AND source = 'iot' THEN 1 ELSE 0 END) AS faults,"
        " SUM(CASE WHEN kind = 'entrapment' THEN 1 ELSE 0 END) AS entrapments"
        f" FROM alarm WHERE {of('equipment')} AND raised_at >= $4"
        " GROUP BY equipment) al ON al.equipment = e.id"
        " LEFT JOIN due_date md ON md.equipment = e.id AND md.kind = 'maintenance'"
        " AND md.due_on < $3"
        " LEFT JOIN (SELECT DISTINCT m.equipment FROM area_member m"
        " JOIN area a ON a.id = m.area AND a.kind = 'old_residential'"
        f" WHERE {of('m.equipment')}) orr ON orr.equipment = e.id"
        f" WHERE {unit} AND e.status NOT IN ({closed})"
    )


def _from_user_unit(postgres: bool) -> str:
    """A transfer's former user unit, as its status change's details hold it."""
    if postgres:
        return "(c.details::jsonb ->> 'from_user_unit')::bigint"
    return "json_extract(c.details, '$.from_user_unit')"


def _unit(r: Any) -> GatheredUnit:
    life = r["life"]
    return GatheredUnit(
        id=int(r["id"]),
        category=r["category"],
        user_unit=int(r["user_unit"]),
        started_on=_date(r["started_on"]),
        design_life_years=int(life) if life not in (None, "") else None,
        next_inspection_due=_date(r["next_inspection_due"]),
        conclusion=r["conclusion"],
        safety_grade=r["safety_grade"],
        general_hazards=int(r["general_hazards"] or 0),
        major_hazards=int(r["major_hazards"] or 0),
        faults=int(r["faults"] or 0),
        entrapments=int(r["entrapments"] or 0),
        maintenance_due=_date(r["maintenance_due"]),
        old_residential=r["old_residential"] is not None,
        hazardous_chemicals=bool(r["hazardous_chemicals"]),
        risk_rank=int(r["risk_rank"] or 0),
        risk_points=None if r["risk_points"] is None else float(r["risk_points"]),
        factors=r["factors"],
        graded=r["risk_points"] is not None,
    )


def _rows_document(rows: Sequence[Sequence[Any]]) -> str:
    return json.dumps(rows, separators=(",", ":"))


class RiskRepository:
    async def id_bounds(self) -> tuple[int, int] | None:
        rows = await _bulk().rows("SELECT MIN(id) AS lo, MAX(id) AS hi FROM equipment")
        if not rows or rows[0]["lo"] is None:
            return None
        return int(rows[0]["lo"]), int(rows[0]["hi"])

    async def lock_for_grading(self, ids: Sequence[int] = (), *, lo: int = 0, hi: int = 0) -> None:
        """Inside a grading's transaction, before it gathers (PostgreSQL): the units ``ids``,
        or ``lo <= id < hi``, are one grading's at a time, so a grading never overwrites
        a later one's grade with one computed from older facts; the later waits, then
        gathers what the earlier committed. The locks cover blocks of ids and are taken
        in block order (two gradings never deadlock); nothing but a grading takes them,
        so they hold up no other writer (locking the unit rows would: an inspection
        writes the due dates, then the unit, the grading the other way round). SQLite's
        IMMEDIATE transaction serialises the gradings already."""
        bulk = _bulk()
        if not bulk.postgres:
            return
        if ids:
            blocks = sorted({int(i) >> GRADING_BLOCK_BITS for i in ids})
        else:
            blocks = list(range(lo >> GRADING_BLOCK_BITS, ((hi - 1) >> GRADING_BLOCK_BITS) + 1))
        if blocks:
            await bulk.execute(
                f"SELECT pg_advisory_xact_lock({_GRADING_LOCK}, b)"
                " FROM unnest($1::int[]) WITH ORDINALITY AS t(b, n) ORDER BY n",
                blocks,
            )

    async def gather_range(
        self, lo: int, hi: int, *, today: date, since: datetime
    ) -> list[GatheredUnit]:
        bulk = _bulk()
        sql = gather_sql(bulk.postgres, by_range=True)
        return [_unit(r) for r in await bulk.rows(sql, lo, hi, today, since)]

    async def gather_units(
        self, ids: Sequence[int], *, today: date, since: datetime
    ) -> list[GatheredUnit]:
        if not ids:
            return []
        bulk = _bulk()
        sql = gather_sql(bulk.postgres, by_range=False)
        return [_unit(r) for r in await bulk.rows(sql, list(ids), None, today, since)]

    async def user_unit_records(
        self, *, today: date, user_units: Sequence[int] | None = None
    ) -> dict[int, float]:
        """Per user unit: the share of its units (not scrapped or cancelled) that are
        overdue for inspection or have an open hazard."""
        bulk = _bulk()
        closed = ", ".join(f"'{s}'" for s in CLOSED)
        where = "" if user_units is None else " AND " + bulk.any_of("e.user_unit", 2)
        args: list[Any] = [today] + ([] if user_units is None else [list(user_units)])
        rows = await bulk.rows(
            "SELECT e.user_unit, COUNT(*) AS n, SUM(CASE WHEN e.next_inspection_due < $1"
            " OR h.equipment IS NOT NULL THEN 1 ELSE 0 END) AS bad FROM equipment e"
            " LEFT JOIN (SELECT DISTINCT equipment FROM hazard WHERE equipment IS NOT NULL"
            f" AND state IN {_OPEN_HAZARD}) h ON h.equipment = e.id"
            f" WHERE e.status NOT IN ({closed}){where} GROUP BY e.user_unit",
            *args,
        )
        return {int(r["user_unit"]): int(r["bad"] or 0) / int(r["n"]) for r in rows if r["n"]}

    async def fault_counts(self, since: datetime) -> tuple[dict[str, int], list[tuple[str, int]]]:
        """Units per category, and (category, faults) of every unit with IoT faults since
        ``since``: the category medians count the units without any as zero."""
        bulk = _bulk()
        closed = ", ".join(f"'{s}'" for s in CLOSED)
        units = await bulk.rows(
            f"SELECT category, COUNT(*) AS n FROM equipment WHERE status NOT IN ({closed})"
            " GROUP BY category"
        )
        faults = await bulk.rows(
            "SELECT e.category, a.n FROM (SELECT equipment, COUNT(*) AS n FROM alarm"
            " WHERE raised_at >= $1 AND source = 'iot' AND kind <> 'entrapment'"
            " AND equipment IS NOT NULL GROUP BY equipment) a JOIN equipment e"
            f" ON e.id = a.equipment WHERE e.status NOT IN ({closed})",
            since,
        )
        return (
            {r["category"]: int(r["n"]) for r in units},
            [(r["category"], int(r["n"])) for r in faults],
        )

    async def write(self, grades: Sequence[GradeWrite], now: datetime) -> None:
        """Store what changed: ``risk_grade`` for a grade whose points or explanation moved;
        the unit's rank, its due dates' copy and a history row for a rank that moved."""
        if not grades:
            return
        bulk = _bulk()
        rewritten = [(g.id, g.points, g.factors, now) for g in grades if g.grade_changed]
        if rewritten:
            await bulk.insert(
                RiskGrade,
                ("equipment", "points", "factors", "graded_at"),
                rewritten,
                tail="ON CONFLICT (equipment) DO UPDATE SET points = excluded.points,"
                " factors = excluded.factors, graded_at = excluded.graded_at",
            )
        moved = [g for g in grades if g.rank_changed]
        if not moved:
            return
        document = _rows_document([(g.id, g.rank) for g in moved])
        if bulk.postgres:
            values = (
                "(SELECT (x->>0)::bigint AS id, (x->>1)::int AS r"
                " FROM jsonb_array_elements($1::jsonb) AS x) v"
            )
        else:
            values = "(SELECT value ->> 0 AS id, value ->> 1 AS r FROM json_each($1)) v"
        await bulk.execute(
            f"UPDATE equipment SET risk_rank = v.r FROM {values} WHERE equipment.id = v.id",
            document,
        )
        await bulk.execute(
            f"UPDATE due_date SET risk_rank = v.r FROM {values} WHERE due_date.equipment = v.id",
            document,
        )
        await bulk.insert(
            RiskChange,
            ("equipment", "from_rank", "to_rank", "points", "changed_at"),
            [(g.id, g.from_rank, g.rank, g.points, now) for g in moved],
        )

    async def stored(self, equipment_id: int) -> StoredGrade | None:
        """The unit's status and stored grade (one read by key); None: no such unit."""
        async with db.reader() as bulk:
            rows = await bulk.rows(
                "SELECT e.status, e.risk_rank, g.points, g.factors FROM equipment e"
                " LEFT JOIN risk_grade g ON g.equipment = e.id WHERE e.id = $1",
                equipment_id,
            )
        if not rows:
            return None
        r = rows[0]
        points = r["points"]
        return StoredGrade(
            r["status"],
            int(r["risk_rank"] or 0),
            None if points is None else float(points),
            r["factors"],
        )

    async def changed_units(
        self, since: datetime, after: tuple[datetime, int] | None, limit: int
    ) -> list[tuple[int, datetime]]:
        """Units whose risk inputs changed after ``since`` (an inspection or maintenance
        record written, a hazard or alarm changed, the unit itself or its area edited; the units
        of a transferred unit's former and new user unit), by (first change, id) and after the
        keyset ``after``, at most ``limit``: what the background pass grades again."""
        bulk = _bulk()
        parts = [
            "SELECT equipment AS id, recorded_at AS at FROM inspection WHERE recorded_at > $1",
            "SELECT equipment, updated_at FROM hazard"
            " WHERE updated_at > $1 AND equipment IS NOT NULL",
            "SELECT equipment, last_raised_at FROM alarm"
            " WHERE last_raised_at > $1 AND equipment IS NOT NULL",
            "SELECT equipment, closed_at FROM alarm WHERE closed_at > $1 AND equipment IS NOT NULL",
            "SELECT equipment, recorded_at FROM maintenance_record WHERE recorded_at > $1",
            "SELECT id, updated_at FROM equipment WHERE updated_at > $1",
            # An area imported or edited: its units (old residential membership).
            "SELECT m.equipment, a.updated_at FROM area a JOIN area_member m ON m.area = a.id"
            " WHERE a.updated_at > $1",
            # A unit transferred: the units of its former and its new user unit (each
            # one's record lost or gained it).
            "SELECT s.id, c.recorded_at FROM equipment t"
            " JOIN status_change c ON c.equipment = t.id JOIN equipment s"
            f" ON s.user_unit IN (t.user_unit, {_from_user_unit(bulk.postgres)})"
            " WHERE t.updated_at > $1 AND c.recorded_at > $1 AND c.action = 'transfer'",
        ]
        keyset = " HAVING (MIN(at), id) > ($2, $3)" if after is not None else ""
        rows = await bulk.rows(
            "SELECT id, MIN(at) AS at FROM (" + " UNION ALL ".join(parts) + ") c"
            f" GROUP BY id{keyset} ORDER BY MIN(at), id LIMIT {int(limit)}",
            since,
            *(after if after is not None else ()),
        )
        out = []
        for r in rows:
            at = r["at"]
            if isinstance(at, str):
                at = datetime.fromisoformat(at)
            out.append((int(r["id"]), at))
        return out

    async def user_units_of(self, ids: Sequence[int]) -> set[int]:
        """The user units of the units ``ids`` (closed ones too)."""
        bulk = _bulk()
        rows = await bulk.rows(
            "SELECT DISTINCT user_unit FROM equipment WHERE " + bulk.any_of("id", 1), list(ids)
        )
        return {int(r["user_unit"]) for r in rows}

    async def units_of(self, user_units: Sequence[int]) -> list[int]:
        """The units (not scrapped or cancelled) of the user units ``user_units``, by id."""
        bulk = _bulk()
        closed = ", ".join(f"'{s}'" for s in CLOSED)
        rows = await bulk.rows(
            "SELECT id FROM equipment WHERE "
            + bulk.any_of("user_unit", 1)
            + f" AND status NOT IN ({closed}) ORDER BY id",
            list(user_units),
        )
        return [int(r["id"]) for r in rows]

    async def units_by_grade(
        self, scope: EquipmentScope, *, rank: int | None, after: tuple[int, int] | None, limit: int
    ) -> list[GradedUnitRow]:
        """Graded units in ``scope`` (not scrapped or cancelled), worst first then by id
        descending, after the keyset ``after`` (rank, id): one range scan of
        equipment_risk."""
        where, args = _scope(scope)
        if rank is not None:
            where += " AND e.risk_rank = {}"
            args.append(rank)
        if after is not None:
            where += " AND (e.risk_rank, e.id) < ({}, {})"
            args += list(after)
        closed = ", ".join(f"'{s}'" for s in CLOSED)
        rows = await Equipment.raw(
            "SELECT e.id, e.code, e.category, e.district_code, e.user_unit, e.address,"
            " e.risk_rank, g.points AS risk_points, g.graded_at AS risk_graded_at"
            " FROM equipment e JOIN risk_grade g ON g.equipment = e.id"
            f" WHERE e.status NOT IN ({closed})"
            + where
            + " ORDER BY e.risk_rank DESC, e.id DESC LIMIT {}",
            *args,
            limit,
        )
        return [msgspec.convert(r, GradedUnitRow, strict=False) for r in rows]

    async def changes(
        self,
        scope: EquipmentScope,
        *,
        since: datetime,
        to_rank: int | None,
        after: int | None,
        limit: int,
    ) -> list[GradeChangeRow]:
        """Grade changes at or after ``since`` in ``scope``, oldest first, after the id
        ``after``: "units that became 红 this month" is ``to_rank=3``."""
        where, args = _scope(scope)
        if to_rank is not None:
            where += " AND c.to_rank = {}"
            args.append(to_rank)
        if after is not None:
            where += " AND c.id > {}"
            args.append(after)
        rows = await Equipment.raw(
            "SELECT c.id, c.equipment, e.code, e.category, e.district_code, c.from_rank,"
            " c.to_rank, c.points, c.changed_at FROM risk_change c"
            " JOIN equipment e ON e.id = c.equipment WHERE c.changed_at >= {}"
            + where
            + " ORDER BY c.id LIMIT {}",
            since,
            *args,
            limit,
        )
        return [msgspec.convert(r, GradeChangeRow, strict=False) for r in rows]

    async def group_counts(self, scope: EquipmentScope, by: str) -> list[GroupRankCount]:
        """Graded units per group (``by``: user_unit or area) and rank."""
        where, args = _scope(scope)
        closed = ", ".join(f"'{s}'" for s in CLOSED)
        if by == "area":
            key, join = "m.area", " JOIN area_member m ON m.equipment = e.id"
        else:
            key, join = "e.user_unit", ""
        rows = await Equipment.raw(
            f"SELECT {key} AS grp, e.risk_rank, COUNT(*) AS n FROM equipment e{join}"
            " JOIN risk_grade g ON g.equipment = e.id"
            f" WHERE e.status NOT IN ({closed})" + where + f" GROUP BY {key}, e.risk_rank",
            *args,
        )
        return [GroupRankCount(int(r["grp"]), int(r["risk_rank"]), int(r["n"])) for r in rows]


def _scope(scope: EquipmentScope) -> tuple[str, list[Any]]:
    """`` AND ...`` limiting a statement on ``equipment e`` to ``scope``."""
    if scope.jurisdiction is not None:
        clause, args = jurisdiction.raw_clause(
            scope.jurisdiction, unit_id="e.id", district="e.district_code"
        )
        return clause, list(args)
    if scope.kind is ScopeKind.ALL:
        return "", []
    return f" AND e.{scope.kind.value} = {{}}", [scope.org_id]
