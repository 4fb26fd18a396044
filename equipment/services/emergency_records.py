"""Response KPIs over a period, and emergency drills (应急演练) with the lifts missing
theirs (issue 24)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from equipment.domain import kpis
from equipment.domain.access import Permission, Principal, ScopeKind
from equipment.domain.errors import InvalidValue
from equipment.services import audit
from equipment.services.register import get_equipment
from equipment.storage import db
from equipment.tables import Drill

GROUPS = {"company": "maintenance_company", "district": "district_code"}


def _lifts(alias: str = "") -> str:
    """Lifts on the register in use or suspended (category 3xxx: TSG 08-2017 catalogue)."""
    return f"{alias}category LIKE '3%' AND {alias}status IN ('in_use', 'suspended')"


def _minutes(start: Any, end: Any) -> float | None:
    if start is None or end is None:
        return None
    return (_instant(end) - _instant(start)).total_seconds() / 60


def _instant(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


async def response_kpis(
    principal: Principal, *, group_by: str, start: datetime, end: datetime
) -> list[kpis.Kpi]:
    """Entrapments raised in [start, end) per maintenance company (the one responsible
    when it was raised) or per district; a company sees only its own row."""
    principal.require(Permission.RESPONSE_KPI_READ)
    if end <= start:
        raise InvalidValue("the period ends after it starts", field="to")
    column = GROUPS[group_by]
    scope = principal.equipment_scope()
    own = ""
    args: list[Any] = [start, end]
    if scope.kind is ScopeKind.MAINTENANCE_COMPANY:
        own = " AND maintenance_company = $3"
        args.append(scope.org_id)
    async with db.reading() as bulk:
        rows = await bulk.fetch(
            f"SELECT {column} AS grp, raised_at, acknowledged_at, arrived_at, arrived_late,"
            " response_limit_minutes FROM alarm WHERE kind = 'entrapment'"
            f" AND raised_at >= $1 AND raised_at < $2{own}",
            *args,
        )
        lifts = await bulk.fetch(
            f"SELECT {column} AS grp, count(*) AS n FROM equipment WHERE {_lifts()}"
            f"{own.replace('$3', '$1')} GROUP BY {column}",
            *args[2:],
        )
    responses = [
        kpis.Response(
            group=r["grp"],
            acknowledge_minutes=_minutes(r["raised_at"], r["acknowledged_at"]),
            arrive_minutes=_minutes(r["raised_at"], r["arrived_at"]),
            has_limit=r["response_limit_minutes"] is not None,
            late=bool(r["arrived_late"]),
        )
        for r in rows
    ]
    counts = {r["grp"]: r["n"] for r in lifts if r["grp"] is not None}
    return kpis.response_kpis(responses, counts)


async def record_drill(
    principal: Principal,
    equipment_id: int,
    *,
    held_on: date,
    participants: list[str],
    scenario: str,
    note: str,
    today: date,
    now: datetime,
) -> dict[str, Any]:
    """A drill held on a unit by its user unit or maintenance company (or the bureau)."""
    principal.require(Permission.DRILL_RECORD)
    if held_on > today:
        raise InvalidValue("a drill cannot be recorded before it is held", field="held_on")
    async with db.transaction():
        unit = await get_equipment(principal, equipment_id)
        [row] = await Drill.insert(
            Drill(
                equipment=unit["id"],
                held_on=held_on,
                participants=participants,
                scenario=scenario,
                note=note,
                organisation=principal.organisation_id,
                actor=principal.actor,
                recorded_at=now,
            )
        ).returning(*Drill.all_columns())
        await audit.record(
            principal,
            entity="equipment",
            entity_id=unit["id"],
            action="drill",
            at=now,
            before=None,
            after={"drill": row["id"], "held_on": held_on.isoformat()},
        )
    return row


async def missing_drills(principal: Principal, *, year: int, limit: int) -> list[dict[str, Any]]:
    """Lifts in use with fewer drills held in ``year`` than required, fewest first."""
    principal.require(Permission.EQUIPMENT_READ)
    scope = principal.equipment_scope()
    column = {
        ScopeKind.USER_UNIT: "user_unit",
        ScopeKind.MAINTENANCE_COMPANY: "maintenance_company",
        ScopeKind.OWNING_STATION: "owning_station",
    }.get(scope.kind)
    own = f" AND e.{column} = $5" if column else ""
    args: list[Any] = [date(year, 1, 1), date(year, 12, 31), kpis.LIFT_DRILLS_PER_YEAR, limit]
    if column:
        args.append(scope.org_id)
    async with db.reading() as bulk:
        return await bulk.fetch(
            "SELECT e.id, e.code, e.address, e.district_code, e.user_unit,"
            " e.maintenance_company, count(d.id) AS drills"
            " FROM equipment e LEFT JOIN drill d ON d.equipment = e.id"
            " AND d.held_on >= $1 AND d.held_on <= $2"
            f" WHERE {_lifts('e.')}"
            f"{own} GROUP BY e.id, e.code, e.address, e.district_code, e.user_unit,"
            " e.maintenance_company HAVING count(d.id) < $3 ORDER BY count(d.id), e.id LIMIT $4",
            *args,
        )
