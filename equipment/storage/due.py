"""Due dates (``due_date``): one row per unit and due kind, rewritten by the schedules,
read by the due lists and the 应检必检 summary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any, cast

import msgspec

from equipment.domain.access import EquipmentScope, ScopeKind
from equipment.domain.reminders import DueState
from equipment.storage import db, jurisdiction
from equipment.storage.keyset import Sort
from equipment.storage.tables import DueDate


@dataclass(frozen=True)
class DueFilter:
    window: str = "all"  # overdue: past due; upcoming: due today or later
    within_days: int | None = None  # with upcoming (or all): due no later than today + N
    due_from: date | None = None
    due_to: date | None = None
    kind: str | None = None  # None: the statutory inspections (应检必检)
    category: str | None = None
    category_prefix: str | None = None
    district_code: str | None = None
    user_unit_id: int | None = None
    maintenance_company_id: int | None = None
    area_id: int | None = None  # units in or on this area (area_member)
    # Kept after the query (each page): reminders ask for reminder and overdue only.
    states: tuple[DueState, ...] = ()
    risk_rank: int | None = None  # the unit's risk grade, 0 蓝 to 3 红 (domain.risk.rank)
    by_grade: bool = False  # worst grade first (then newest) instead of earliest due


# gc=False: a row holds only scalars and text, so it can be in no reference cycle; the
# collector need not track the 50 built per due-list page (fewer young collections).
class DueRow(msgspec.Struct, frozen=True, gc=False):
    """A due date with its unit's code, address and status and its organisations' names
    (the fields in the order of _PAGE_SELECT's columns: built positionally)."""

    id: int
    equipment: int
    kind: str
    due_on: date
    rule_key: str
    source: str
    base_date: date
    explanation: str
    from_report: bool
    category: str
    district_code: str
    user_unit: int
    maintenance_company: int | None
    risk_rank: int
    code: str
    address: str
    status: str
    user_unit_name: str | None
    maintenance_company_name: str | None


class DueCountRow(msgspec.Struct, frozen=True):
    district_code: str
    category: str
    overdue: int | None
    due_30_days: int | None
    missed_12_months: int | None


class AnsweredCountRow(msgspec.Struct, frozen=True):
    district_code: str
    category: str
    answered: int | None
    on_time: int | None


_PAGE_SELECT = (
    "SELECT d.id, d.equipment, d.kind, d.due_on, d.rule_key, d.source, d.base_date,"
    " d.explanation, d.from_report, d.category, d.district_code, d.user_unit,"
    " d.maintenance_company, d.risk_rank, e.code, e.address, e.status,"
    " u.name AS user_unit_name, m.name AS maintenance_company_name"
    " FROM due_date d LEFT JOIN equipment e ON e.id = d.equipment"
    " LEFT JOIN organisation u ON u.id = d.user_unit"
    " LEFT JOIN organisation m ON m.id = d.maintenance_company"
    " WHERE d.statutory = $1"
)


def page_statement(
    scope: EquipmentScope,
    f: DueFilter,
    *,
    statutory: bool,
    today: date,
    after: Sequence[object] | None = None,
) -> tuple[str, list[Any]]:
    """The due-list page statement (``$n`` placeholders, the LIMIT last, not in the
    arguments) and its arguments. The text depends
    only on which conditions are present, so it is built once per shape (``_page_sql``)."""
    args: list[Any] = [statutory]
    shape: list[Any] = []
    if scope.jurisdiction is not None:
        shape.append(("jurisdiction", scope.jurisdiction))
    elif scope.kind in _SCOPE_COLUMNS:
        shape.append(("org", scope.kind))
        args.append(scope.org_id)
    optional: tuple[tuple[str, object], ...] = (
        ("kind", f.kind),
        ("overdue", today if f.window == "overdue" else None),
        ("upcoming", today if f.window == "upcoming" else None),
        ("within", today + timedelta(days=f.within_days) if f.within_days is not None else None),
        ("from", f.due_from),
        ("to", f.due_to),
        ("category", f.category or None),
        ("prefix", f"{f.category_prefix.replace('%', '')}%" if f.category_prefix else None),
        ("district", f.district_code or None),
        ("user_unit", f.user_unit_id),
        ("company", f.maintenance_company_id),
        ("area", f.area_id),
        ("grade", f.risk_rank),
    )
    for name, value in optional:
        if value is not None:
            shape.append(name)
            args.append(value)
    if after is not None:
        shape.append("after_grade" if f.by_grade else "after")
        args.extend(after)
    # The order is the last part of the shape: worst grade first (then newest), or due.
    shape.append("by_grade" if f.by_grade else "by_due")
    sql, jurisdiction_args = _page_sql(tuple(shape))
    return sql, args[:1] + jurisdiction_args + args[1:]


_SCOPE_COLUMNS = {
    ScopeKind.USER_UNIT: "d.user_unit",
    ScopeKind.MAINTENANCE_COMPANY: "d.maintenance_company",
    ScopeKind.OWNING_STATION: "d.owning_station",
}
_CONDITIONS = {
    "kind": "d.kind = {}",
    "overdue": "d.due_on < {}",
    "upcoming": "d.due_on >= {}",
    "within": "d.due_on <= {}",
    "from": "d.due_on >= {}",
    "to": "d.due_on <= {}",
    "category": "d.category = {}",
    "prefix": "d.category LIKE {}",
    "district": "d.district_code = {}",
    "user_unit": "d.user_unit = {}",
    "company": "d.maintenance_company = {}",
    "area": "d.equipment IN (SELECT equipment FROM area_member WHERE area = {})",
    "grade": "d.risk_rank = {}",
    "after": "(d.due_on, d.id) > ({}, {})",
    "after_grade": "(d.risk_rank, d.id) < ({}, {})",
}
_ORDERS = {
    "by_due": " ORDER BY d.due_on, d.id",
    # sort=-grade (index due_date_risk_due): the keyset above walks it backwards.
    "by_grade": " ORDER BY d.risk_rank DESC, d.id DESC",
}


@lru_cache(maxsize=256)
def _page_sql(shape: tuple[Any, ...]) -> tuple[str, list[Any]]:
    """(SQL, the jurisdiction's arguments, which come right after ``statutory``)."""
    sql = _PAGE_SELECT
    order = _ORDERS["by_due"]
    n = 2
    jurisdiction_args: list[Any] = []
    for part in shape:
        if isinstance(part, tuple) and part[0] == "jurisdiction":
            clause, jurisdiction_args = jurisdiction.numbered_clause(
                part[1], unit_id="d.equipment", district="d.district_code", first=n
            )
            sql += clause
            n += len(jurisdiction_args)
        elif isinstance(part, tuple):
            sql += f" AND {_SCOPE_COLUMNS[part[1]]} = ${n}"
            n += 1
        elif part in _ORDERS:
            order = _ORDERS[part]
        else:
            condition = _CONDITIONS[part]
            while "{}" in condition:
                condition = condition.replace("{}", f"${n}", 1)
                n += 1
            sql += f" AND {condition}"
    return sql + order + f" LIMIT ${n}", jurisdiction_args


def _scope_sql(scope: EquipmentScope, *, unit_id: str, prefix: str) -> tuple[str, list[Any]]:
    """`` AND ...`` limiting raw SQL to ``scope``: ``unit_id`` names the unit's id column,
    ``prefix`` qualifies the district and organisation columns (``e.`` on equipment)."""
    if scope.jurisdiction is not None:
        return jurisdiction.raw_clause(
            scope.jurisdiction, unit_id=unit_id, district=f"{prefix}district_code"
        )
    if scope.kind is ScopeKind.ALL:
        return "", []
    return f" AND {prefix}{scope.kind.value} = {{}}", [scope.org_id]


class DueRepository:
    async def page(
        self,
        scope: EquipmentScope,
        f: DueFilter,
        *,
        statutory: bool,
        today: date,
        sort: Sort,
        after: Sequence[object] | None,
        limit: int,
    ) -> list[DueRow]:
        """Up to ``limit`` due dates by (due_on, id) or, ``f.by_grade``, by (risk_rank, id)
        descending, after the keyset ``after``, each with its organisations' names: one
        statement, its text fixed per shape of the filter (so asyncpg prepares it once per
        connection and reuses it)."""
        del sort  # ``f.by_grade`` names the order (services/due.py's SortKey matches it)
        sql, args = page_statement(scope, f, statutory=statutory, today=today, after=after)
        rows = await db.rows(sql, *args, limit)
        # Positionally from the driver's rows (asyncpg's Record or SQLite's dict, columns
        # in DueRow's order): no dict copy, no validation, the values as the driver gave.
        return [DueRow(*r.values()) for r in rows]

    async def summary_counts(
        self, scope: EquipmentScope, *, today: date, year_ago: date
    ) -> tuple[list[DueCountRow], list[AnsweredCountRow]]:
        """Per district and category: statutory due dates overdue, due within 30 days and
        missed in the last 12 months; and the inspections that answered a due date in
        those 12 months, and how many of them on time."""
        scope_sql, scope_args = _scope_sql(scope, unit_id="equipment", prefix="")
        done_scope_sql, done_scope_args = _scope_sql(scope, unit_id="e.id", prefix="e.")
        due_rows = await DueDate.raw(
            "SELECT district_code, category,"
            " SUM(CASE WHEN due_on < {} THEN 1 ELSE 0 END) AS overdue,"
            " SUM(CASE WHEN due_on >= {} AND due_on <= {} THEN 1 ELSE 0 END) AS due_30_days,"
            " SUM(CASE WHEN due_on < {} AND due_on >= {} THEN 1 ELSE 0 END) AS missed_12_months"
            " FROM due_date WHERE statutory" + scope_sql + " GROUP BY district_code, category",
            today,
            today,
            today + timedelta(days=30),
            today,
            year_ago,
            *scope_args,
        )
        done_rows = await DueDate.raw(
            "SELECT e.district_code, e.category, COUNT(*) AS answered,"
            " SUM(CASE WHEN i.on_time THEN 1 ELSE 0 END) AS on_time"
            " FROM inspection i JOIN equipment e ON e.id = i.equipment"
            " WHERE i.answered_due_on >= {} AND i.answered_due_on < {} AND i.corrects IS NULL"
            + done_scope_sql
            + " GROUP BY e.district_code, e.category",
            year_ago,
            today,
            *done_scope_args,
        )
        return (
            [msgspec.convert(r, DueCountRow, strict=False) for r in due_rows],
            [msgspec.convert(r, AnsweredCountRow, strict=False) for r in done_rows],
        )

    async def replace_for_unit(self, unit_id: int, rows: Sequence[Mapping[str, Any]]) -> None:
        """Make the unit's due dates ``rows`` (one per kind): updated in place by kind (row
        ids stay stable for paging clients), added, removed."""
        existing = {
            r["kind"]: r["id"]
            for r in await DueDate.select(DueDate.id, DueDate.kind).where(
                DueDate.equipment == unit_id
            )
        }
        wanted = {r["kind"]: r for r in rows}
        gone = [existing[k] for k in existing.keys() - wanted.keys()]
        if gone:
            await DueDate.delete().where(DueDate.id.is_in(gone))
        for kind, row in wanted.items():
            if kind in existing:
                await DueDate.update(dict[Any, Any](row)).where(DueDate.id == existing[kind])
            else:
                await DueDate.insert(DueDate(**row))

    async def current(self, unit_id: int, kind: str) -> date | None:
        row = (
            await DueDate.select(DueDate.due_on)
            .where(DueDate.equipment == unit_id, DueDate.kind == kind)
            .first()
        )
        return cast(date, row["due_on"]) if row else None
