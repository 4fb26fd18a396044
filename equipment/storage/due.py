"""Due dates (``due_date``): one row per unit and due kind, rewritten by the schedules,
read by the due lists and the 应检必检 summary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, TypedDict, cast

from equipment.domain.access import EquipmentScope, ScopeKind
from equipment.domain.reminders import DueState
from equipment.storage import jurisdiction
from equipment.storage.equipment import Clause
from equipment.storage.keyset import Sort, after_cursor
from equipment.tables import AreaMember, DueDate


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


class DueRow(TypedDict):
    """A due date with its unit's code, address and status."""

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


class DueCountRow(TypedDict):
    district_code: str
    category: str
    overdue: int | None
    due_30_days: int | None
    missed_12_months: int | None


class AnsweredCountRow(TypedDict):
    district_code: str
    category: str
    answered: int | None
    on_time: int | None


COLUMNS = (
    DueDate.id,
    DueDate.equipment,
    DueDate.kind,
    DueDate.due_on,
    DueDate.rule_key,
    DueDate.source,
    DueDate.base_date,
    DueDate.explanation,
    DueDate.from_report,
    DueDate.category,
    DueDate.district_code,
    DueDate.user_unit,
    DueDate.maintenance_company,
    DueDate.risk_rank,
    DueDate.equipment.code.as_alias("code"),
    DueDate.equipment.address.as_alias("address"),
    DueDate.equipment.status.as_alias("status"),
)


def clauses(scope: EquipmentScope, f: DueFilter, *, statutory: bool, today: date) -> list[Clause]:
    """The conditions of a due-list page (bench/due_list.py compiles the same)."""
    found: list[Clause] = []
    column = {
        ScopeKind.USER_UNIT: DueDate.user_unit,
        ScopeKind.MAINTENANCE_COMPANY: DueDate.maintenance_company,
        ScopeKind.OWNING_STATION: DueDate.owning_station,
    }.get(scope.kind)
    if scope.jurisdiction is not None:
        found.append(DueDate.equipment.is_in(jurisdiction.unit_ids(scope.jurisdiction)))
    elif column is not None:
        found.append(column == scope.org_id)
    # Every due-list index leads with ``statutory``, so the clause is always there.
    found.append(DueDate.statutory == statutory)
    if f.kind is not None:
        found.append(DueDate.kind == f.kind)
    if f.window == "overdue":
        found.append(DueDate.due_on < today)
    elif f.window == "upcoming":
        found.append(DueDate.due_on >= today)
    if f.within_days is not None:
        found.append(DueDate.due_on <= today + timedelta(days=f.within_days))
    if f.due_from is not None:
        found.append(DueDate.due_on >= f.due_from)
    if f.due_to is not None:
        found.append(DueDate.due_on <= f.due_to)
    if f.category:
        found.append(DueDate.category == f.category)
    if f.category_prefix:
        found.append(DueDate.category.like(f"{f.category_prefix.replace('%', '')}%"))
    if f.district_code:
        found.append(DueDate.district_code == f.district_code)
    if f.user_unit_id is not None:
        found.append(DueDate.user_unit == f.user_unit_id)
    if f.maintenance_company_id is not None:
        found.append(DueDate.maintenance_company == f.maintenance_company_id)
    if f.risk_rank is not None:
        found.append(DueDate.risk_rank == f.risk_rank)
    if f.area_id is not None:
        members = AreaMember.select(AreaMember.equipment).where(AreaMember.area == f.area_id)
        found.append(DueDate.equipment.is_in(members))
    return found


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
        """Up to ``limit`` due dates in ``sort`` order ((due_on, id), or (risk_rank, id)
        descending), after the keyset ``after``."""
        found = clauses(scope, f, statutory=statutory, today=today)
        if after is not None:
            found.append(after_cursor(sort, after, table="due_date"))
        rows = await (
            DueDate.select(*COLUMNS)
            .where(*found)
            .order_by(
                *(DueDate._meta.get_column_by_name(c) for c in sort.order_columns),
                ascending=not sort.descending,
            )
            .limit(limit)
        )
        return cast(list[DueRow], rows)

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
        return cast(list[DueCountRow], due_rows), cast(list[AnsweredCountRow], done_rows)

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
