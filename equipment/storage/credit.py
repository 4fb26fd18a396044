"""Credit classes (信用风险分类): the record each class is computed from, the class in force
on the organisation, and the history of classes.

The record is counted set-at-a-time (one grouped query per measure and kind), so the
whole city is assessed in a handful of statements.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time
from typing import Any

import msgspec
from piccolo.columns import Serial

from equipment.storage.tables import CreditClassChange, Organisation, Violation

_org_id: Serial = Organisation.id

_OPEN = "('listed', 'assigned', 'rectifying', 'submitted')"
_LIVE = "('scrapped', 'cancelled')"

# The licence kind of the producers graded on their licences and annual reports.
_PRODUCER_LICENCE = {"manufacturer": "manufacture", "installer": "installation"}

# The equipment column that ties a unit to an enterprise of each kind.
_UNIT_COLUMN = {
    "user_unit": "user_unit",
    "maintenance_company": "maintenance_company",
    "filling_station": "owning_station",
}


class ClassChange(msgspec.Struct, frozen=True):
    id: int
    organisation: int
    kind: str
    action: str
    computed: str | None
    override: str | None
    effective: str | None
    points: int | None
    explanation: dict[str, Any]
    reason: str
    assessed_on: date
    actor: str
    recorded_at: datetime


class ViolationRecord(msgspec.Struct, frozen=True):
    id: int
    organisation: int
    source: str
    decision_no: str
    decided_on: date
    clause: str
    note: str
    task_id: int | None
    actor: str
    created_at: datetime


class ClassInForce(msgspec.Struct, frozen=True):
    id: int
    kind: str
    name: str
    computed: str | None
    override: str | None
    override_reason: str
    effective: str | None


def _in_force(row: Mapping[str, Any]) -> ClassInForce:
    return ClassInForce(
        id=int(row["id"]),
        kind=str(row["kind"]),
        name=str(row["name"]),
        computed=row["credit_computed"],
        override=row["credit_override"],
        override_reason=str(row["credit_override_reason"] or ""),
        effective=row["supervision_class"],
    )


_IN_FORCE_COLUMNS = (
    _org_id,
    Organisation.kind,
    Organisation.name,
    Organisation.credit_computed,
    Organisation.credit_override,
    Organisation.credit_override_reason,
    Organisation.supervision_class,
)


class CreditRepository:
    async def organisations(self, kinds: Iterable[str]) -> list[ClassInForce]:
        rows = await (
            Organisation.select(*_IN_FORCE_COLUMNS)
            .where(Organisation.kind.is_in(list(kinds)))
            .order_by(_org_id)
        )
        return [_in_force(r) for r in rows]

    async def in_force(self, org_id: int) -> ClassInForce | None:
        row = await Organisation.select(*_IN_FORCE_COLUMNS).where(_org_id == org_id).first()
        return None if row is None else _in_force(row)

    async def set_in_force(
        self, org_id: int, *, computed: str | None, override: str | None, reason: str
    ) -> None:
        effective = override if override is not None else computed
        await Organisation.update(
            {
                Organisation.credit_computed: computed,
                Organisation.credit_override: override,
                Organisation.credit_override_reason: reason,
                Organisation.supervision_class: effective,
            }
        ).where(_org_id == org_id)

    async def add_change(self, values: Mapping[str, Any]) -> None:
        await CreditClassChange.insert(CreditClassChange(**values))

    async def history(self, org_id: int) -> list[ClassChange]:
        rows = (
            await CreditClassChange.select()
            .where(CreditClassChange.organisation == org_id)
            .order_by(CreditClassChange.id, ascending=False)
            .output(load_json=True)
        )
        return [msgspec.convert(r, ClassChange) for r in rows]

    async def counts(self, kind: str, today: date, since: date) -> dict[int, dict[str, int]]:
        """Per organisation of ``kind``: the CreditRecord fields over ``since``..``today``
        (absent fields are 0)."""
        out: dict[int, dict[str, int]] = {}

        def put(rows: Iterable[Mapping[str, Any]]) -> None:
            for r in rows:
                if r["org"] is None:
                    continue
                entry = out.setdefault(int(r["org"]), {})
                for key, value in r.items():
                    if key != "org":
                        entry[key] = int(value or 0)

        since_at = datetime.combine(since, time(), tzinfo=UTC)
        # Every kind: citizen reports upheld against it, violations recorded against it.
        put(
            await Organisation.raw(
                "SELECT against AS org, COUNT(*) AS complaints_upheld FROM citizen_report"
                " WHERE finding = 'upheld' AND decided_on >= {} AND decided_on <= {}"
                " GROUP BY against",
                since,
                today,
            )
        )
        put(
            await Organisation.raw(
                "SELECT organisation AS org, COUNT(*) AS violations FROM violation"
                " WHERE decided_on >= {} AND decided_on <= {} GROUP BY organisation",
                since,
                today,
            )
        )
        if kind in _PRODUCER_LICENCE:
            await self._producer_counts(kind, today, since, put)
            return out
        col = _UNIT_COLUMN[kind]
        put(
            await Organisation.raw(
                f"SELECT {col} AS org, COUNT(*) AS units FROM equipment"
                f" WHERE status NOT IN {_LIVE} GROUP BY {col}"
            )
        )
        put(
            await Organisation.raw(
                f"SELECT {col} AS org,"
                " SUM(CASE WHEN statutory = {} THEN 1 ELSE 0 END) AS overdue_inspections,"
                " SUM(CASE WHEN kind = 'maintenance' THEN 1 ELSE 0 END) AS overdue_maintenance"
                " FROM due_date WHERE due_on < {} GROUP BY " + col,
                True,
                today,
            )
        )
        put(
            await Organisation.raw(
                f"SELECT e.{col} AS org, COUNT(*) AS failed_inspections FROM inspection i"
                " JOIN equipment e ON e.id = i.equipment"
                " WHERE i.conclusion = 'fail' AND i.inspected_on >= {} GROUP BY e." + col,
                since,
            )
        )
        hazard_org = "h.user_unit" if kind == "user_unit" else f"e.{col}"
        put(
            await Organisation.raw(
                f"SELECT {hazard_org} AS org, COUNT(*) AS hazards,"
                " SUM(CASE WHEN h.grade = 'major' THEN 1 ELSE 0 END) AS major_hazards,"
                " SUM(CASE WHEN (h.closed_on IS NOT NULL AND h.deadline IS NOT NULL"
                " AND h.closed_on > h.deadline) OR (h.state IN " + _OPEN + " AND h.deadline < {})"
                " THEN 1 ELSE 0 END) AS hazards_late,"
                " SUM(CASE WHEN h.grade = 'major' AND h.state IN " + _OPEN + " AND h.deadline < {}"
                " THEN 1 ELSE 0 END) AS major_hazards_overdue"
                " FROM hazard h LEFT JOIN equipment e ON e.id = h.equipment"
                f" WHERE h.found_on >= {{}} OR h.state IN {_OPEN} GROUP BY {hazard_org}",
                today,
                today,
                since,
            )
        )
        if kind == "maintenance_company":
            put(
                await Organisation.raw(
                    "SELECT maintenance_company AS org, COUNT(*) AS entrapments,"
                    " SUM(CASE WHEN arrived_late = {} THEN 1 ELSE 0 END) AS late_arrivals"
                    " FROM alarm WHERE kind = 'entrapment' AND raised_at >= {}"
                    " GROUP BY maintenance_company",
                    True,
                    since_at,
                )
            )
        if kind == "filling_station":
            put(
                await Organisation.raw(
                    "SELECT station AS org, COUNT(*) AS fills,"
                    " SUM(CASE WHEN allowed = {} THEN 1 ELSE 0 END) AS refused_fills"
                    " FROM fill WHERE received_at >= {} GROUP BY station",
                    False,
                    since_at,
                )
            )
        return out

    async def _producer_counts(self, kind: str, today: date, since: date, put: Any) -> None:
        """Manufacturers and installers: the units they made (the unit's recorded
        manufacturer is the organisation's name) or installed (the installation record),
        those units' failed inspections, and their licences and annual reports."""
        licence = _PRODUCER_LICENCE[kind]
        if kind == "manufacturer":
            units = (
                "SELECT o.id AS org, e.id AS unit FROM equipment e"
                " JOIN organisation o ON o.kind = 'manufacturer' AND o.name = e.manufacturer"
                f" WHERE e.status NOT IN {_LIVE}"
            )
        else:
            units = (
                "SELECT n.installer AS org, n.equipment AS unit FROM installation n"
                f" JOIN equipment e ON e.id = n.equipment WHERE e.status NOT IN {_LIVE}"
            )
        put(await Organisation.raw(f"SELECT org, COUNT(*) AS units FROM ({units}) u GROUP BY org"))
        put(
            await Organisation.raw(
                f"SELECT u.org AS org, COUNT(*) AS failed_inspections FROM ({units}) u"
                " JOIN inspection i ON i.equipment = u.unit"
                " WHERE i.conclusion = 'fail' AND i.inspected_on >= {} GROUP BY u.org",
                since,
            )
        )
        # No licence of its kind covers today: 1 (so the count is monotone in "bad").
        put(
            await Organisation.raw(
                "SELECT o.id AS org, 1 AS no_valid_licence FROM organisation o"
                " WHERE o.kind = {} AND NOT EXISTS (SELECT 1 FROM licence x"
                " WHERE x.organisation = o.id AND x.kind = {}"
                " AND x.valid_from <= {} AND x.valid_until >= {})",
                kind,
                licence,
                today,
                today,
            )
        )
        if kind == "installer":
            put(
                await Organisation.raw(
                    "SELECT n.installer AS org, COUNT(*) AS unlicensed_installations"
                    " FROM installation n WHERE n.installed_on >= {} AND NOT EXISTS"
                    " (SELECT 1 FROM licence x WHERE x.organisation = n.installer"
                    " AND x.kind = 'installation' AND x.valid_from <= n.installed_on"
                    " AND x.valid_until >= n.installed_on) GROUP BY n.installer",
                    since,
                )
            )
        else:
            # The years reported on within the window: each past year from the window's
            # start to last year (this year's report is not due yet).
            years = list(range(since.year, today.year))
            if years:
                marks = ", ".join("{}" for _ in years)
                put(
                    await Organisation.raw(
                        f"SELECT o.id AS org, {len(years)} - COUNT(r.id)"
                        " AS annual_reports_missing FROM organisation o"
                        " LEFT JOIN annual_report r ON r.organisation = o.id"
                        f" AND r.year IN ({marks}) WHERE o.kind = 'manufacturer'"
                        " GROUP BY o.id",
                        *years,
                    )
                )

    # ---- violations (the credit class counts them) -----------------------------------
    async def add_violation(self, values: Mapping[str, Any]) -> ViolationRecord:
        [row] = await Violation.insert(Violation(**values)).returning(*Violation.all_columns())
        return msgspec.convert(row, ViolationRecord, strict=False)

    async def violation_of_task(self, task_id: int) -> ViolationRecord | None:
        row = await Violation.select().where(Violation.task_id == task_id).first()
        return None if row is None else msgspec.convert(row, ViolationRecord, strict=False)

    async def update_violation(
        self, violation_id: int, values: Mapping[str, Any]
    ) -> ViolationRecord:
        [row] = (
            await Violation.update(dict[Any, Any](values))
            .where(Violation.id == violation_id)
            .returning(*Violation.all_columns())
        )
        return msgspec.convert(row, ViolationRecord, strict=False)

    async def violations(self, organisation: int | None) -> list[ViolationRecord]:
        query = Violation.select().order_by(Violation.decided_on, ascending=False).limit(1000)
        if organisation is not None:
            query = query.where(Violation.organisation == organisation)
        return [msgspec.convert(r, ViolationRecord, strict=False) for r in await query]
