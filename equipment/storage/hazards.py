"""Hazards (隐患) and their moves through the 一单四制 loop: every table access of the
hazard service (equipment.services.hazards) is here.

Records are msgspec Structs. Scope comes in as the domain's :class:`EquipmentScope` and
becomes a where clause here: a user unit sees the hazards of its own (its units' and its
management hazards), a maintenance company those of the units it maintains now, an
inspector bound to a jurisdiction those inside it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

import msgspec

from equipment.domain.access import EquipmentScope, ScopeKind
from equipment.storage import jurisdiction as jurisdiction_sql
from equipment.storage.tables import (
    Area,
    AreaMember,
    Equipment,
    Hazard,
    HazardChange,
    HazardEvidence,
    Organisation,
)


class HazardRecord(msgspec.Struct, frozen=True):
    id: int
    equipment: int | None
    user_unit: int
    district_code: str
    source: str
    source_ref: str
    description: str
    grade: str
    criterion: str | None
    state: str
    found_on: date
    responsible_org: int | None
    responsible_person: str
    measures: str
    deadline: date | None
    supervising_inspector: str
    overdue_alarm: int | None
    closed_on: date | None
    version: int
    created_by: str
    created_at: datetime
    updated_at: datetime


class HazardChangeRecord(msgspec.Struct, frozen=True):
    id: int
    hazard: int
    action: str
    from_state: str
    to_state: str
    note: str
    actor: str
    at: datetime


class EvidenceRecord(msgspec.Struct, frozen=True):
    id: int
    hazard: int
    key: str
    media_type: str
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at: datetime


class UnitFacts(msgspec.Struct, frozen=True):
    """What a hazard copies from its unit, and the scope columns of the unit."""

    id: int
    category: str
    user_unit: int
    maintenance_company: int | None
    district_code: str
    status: str


class LedgerCount(msgspec.Struct, frozen=True):
    """Hazards of one group in one state and grade (overdue: past their deadline)."""

    key: str
    state: str
    grade: str
    count: int
    overdue: int


_COLUMNS = tuple(HazardRecord.__struct_fields__)
_CHANGE_COLUMNS = tuple(HazardChangeRecord.__struct_fields__)
# The states of a hazard still open, and those whose deadline runs (domain.hazards; held
# here as literals so the SQL reads them without importing the rules).
_OPEN = ("listed", "assigned", "rectifying", "submitted")
_DEADLINE_RUNS = ("assigned", "rectifying")


def _record(row: Mapping[str, Any]) -> HazardRecord:
    return msgspec.convert({k: row[k] for k in _COLUMNS}, HazardRecord, strict=False)


def _scope_clause(scope: EquipmentScope) -> Any:
    """The hazards inside ``scope`` as a where clause on Hazard (None: all)."""
    if scope.kind is ScopeKind.ALL:
        return None
    if scope.kind is ScopeKind.USER_UNIT:
        return Hazard.user_unit == scope.org_id
    if scope.kind is ScopeKind.MAINTENANCE_COMPANY:
        units = Equipment.select(Equipment.id).where(Equipment.maintenance_company == scope.org_id)
        return Hazard.equipment.is_in(units)
    if scope.kind is ScopeKind.OWNING_STATION:
        units = Equipment.select(Equipment.id).where(Equipment.owning_station == scope.org_id)
        return Hazard.equipment.is_in(units)
    jurisdiction = scope.jurisdiction
    assert jurisdiction is not None
    clauses: list[Any] = []
    if jurisdiction.districts:
        clauses.append(Hazard.district_code.is_in(sorted(jurisdiction.districts)))
    if jurisdiction.areas:
        members = AreaMember.select(AreaMember.equipment).where(
            AreaMember.area.is_in(sorted(jurisdiction.areas))
        )
        clauses.append(Hazard.equipment.is_in(members))
    # A management hazard (no unit) of a user unit with a unit inside the jurisdiction:
    # the inspector who checked that user unit sees what his check opened.
    owners = Equipment.select(Equipment.user_unit).where(
        jurisdiction_sql.equipment_clause(jurisdiction)
    )
    clauses.append(Hazard.equipment.is_null() & Hazard.user_unit.is_in(owners))
    clause = clauses[0]
    for other in clauses[1:]:
        clause = clause | other
    return clause


def _raw_scope(scope: EquipmentScope) -> tuple[str, list[Any]]:
    """``_scope_clause`` for the ledger's SQL (hazard ``h`` left-joined to equipment ``e``)."""
    if scope.kind is ScopeKind.ALL:
        return "", []
    if scope.kind is ScopeKind.USER_UNIT:
        return " WHERE h.user_unit = {}", [scope.org_id]
    if scope.kind is ScopeKind.MAINTENANCE_COMPANY:
        return " WHERE e.maintenance_company = {}", [scope.org_id]
    if scope.kind is ScopeKind.OWNING_STATION:
        return " WHERE e.owning_station = {}", [scope.org_id]
    jurisdiction = scope.jurisdiction
    assert jurisdiction is not None
    parts: list[str] = []
    args: list[Any] = []
    if jurisdiction.districts:
        codes = sorted(jurisdiction.districts)
        parts.append(f"h.district_code IN ({', '.join('{}' for _ in codes)})")
        args.extend(codes)
    if jurisdiction.areas:
        areas = sorted(jurisdiction.areas)
        parts.append(
            "h.equipment IN (SELECT equipment FROM area_member WHERE area IN"
            f" ({', '.join('{}' for _ in areas)}))"
        )
        args.extend(areas)
    inside, inside_args = jurisdiction_sql.raw_clause(
        jurisdiction, unit_id="x.id", district="x.district_code"
    )
    parts.append(
        f"(h.equipment IS NULL AND h.user_unit IN (SELECT x.user_unit FROM equipment x"
        f" WHERE 1 = 1{inside}))"
    )
    args.extend(inside_args)
    return f" WHERE ({' OR '.join(parts)})", args


class HazardRepository:
    async def unit_facts(self, equipment_id: int) -> UnitFacts | None:
        row = (
            await Equipment.select(
                Equipment.id,
                Equipment.category,
                Equipment.user_unit,
                Equipment.maintenance_company,
                Equipment.district_code,
                Equipment.status,
            )
            .where(Equipment.id == equipment_id)
            .first()
        )
        return None if row is None else msgspec.convert(row, UnitFacts)

    async def organisation_kind(self, org_id: int) -> str | None:
        row = await Organisation.select(Organisation.kind).where(Organisation.id == org_id).first()
        return None if row is None else str(row["kind"])

    async def insert(self, values: Mapping[str, Any]) -> HazardRecord:
        [row] = await Hazard.insert(Hazard(**values)).returning(*Hazard.all_columns())
        return _record(row)

    async def insert_many(self, rows: Iterable[Mapping[str, Any]]) -> list[HazardRecord]:
        made = [Hazard(**values) for values in rows]
        if not made:
            return []
        inserted = await Hazard.insert(*made).returning(*Hazard.all_columns())
        return [_record(r) for r in inserted]

    async def get(self, hazard_id: int, scope: EquipmentScope) -> HazardRecord | None:
        query = Hazard.select(*Hazard.all_columns()).where(Hazard.id == hazard_id)
        clause = _scope_clause(scope)
        if clause is not None:
            query = query.where(clause)
        row = await query.first()
        return None if row is None else _record(row)

    async def update_if_version(
        self, hazard_id: int, expected_version: int, values: Mapping[str, Any]
    ) -> HazardRecord | None:
        """The updated hazard, or None when it is no longer at ``expected_version``."""
        changes: dict[Any, Any] = {**values, "version": expected_version + 1}
        updated = (
            await Hazard.update(changes)
            .where(Hazard.id == hazard_id, Hazard.version == expected_version)
            .returning(*Hazard.all_columns())
        )
        return _record(updated[0]) if updated else None

    async def set_not_fit_for_use(self, equipment_id: int) -> None:
        await Equipment.update({Equipment.not_fit_for_use: True}).where(
            Equipment.id == equipment_id
        )

    async def add_evidence(self, values: Mapping[str, Any]) -> EvidenceRecord:
        [row] = await HazardEvidence.insert(HazardEvidence(**values)).returning(
            *HazardEvidence.all_columns()
        )
        return msgspec.convert(row, EvidenceRecord, strict=False)

    async def evidence_of(self, hazard_id: int) -> list[EvidenceRecord]:
        rows = (
            await HazardEvidence.select(*HazardEvidence.all_columns())
            .where(HazardEvidence.hazard == hazard_id)
            .order_by(HazardEvidence.id)
        )
        return [msgspec.convert(r, EvidenceRecord, strict=False) for r in rows]

    async def add_change(self, values: Mapping[str, Any]) -> None:
        await HazardChange.insert(HazardChange(**values))

    async def changes(self, hazard_id: int) -> list[HazardChangeRecord]:
        rows = (
            await HazardChange.select(*HazardChange.all_columns())
            .where(HazardChange.hazard == hazard_id)
            .order_by(HazardChange.id)
        )
        return [msgspec.convert(r, HazardChangeRecord, strict=False) for r in rows]

    async def page(
        self,
        scope: EquipmentScope,
        *,
        equipment_id: int | None,
        state: str | None,
        grade: str | None,
        overdue_on: date | None,
        after_id: int | None,
        limit: int,
    ) -> list[HazardRecord]:
        """By id; ``overdue_on``: only those past their deadline on that day."""
        query = Hazard.select(*Hazard.all_columns()).order_by(Hazard.id).limit(limit)
        clause = _scope_clause(scope)
        if clause is not None:
            query = query.where(clause)
        if equipment_id is not None:
            query = query.where(Hazard.equipment == equipment_id)
        if state is not None:
            query = query.where(Hazard.state == state)
        if grade is not None:
            query = query.where(Hazard.grade == grade)
        if overdue_on is not None:
            query = query.where(
                Hazard.state.is_in(list(_DEADLINE_RUNS)), Hazard.deadline < overdue_on
            )
        if after_id is not None:
            query = query.where(Hazard.id > after_id)
        return [_record(r) for r in await query]

    async def overdue_without_alarm(self, today: date, limit: int) -> list[HazardRecord]:
        """Unit hazards past their deadline that have not raised their alarm yet."""
        rows = (
            await Hazard.select(*Hazard.all_columns())
            .where(
                Hazard.state.is_in(list(_DEADLINE_RUNS)),
                Hazard.deadline < today,
                Hazard.overdue_alarm.is_null(),
                Hazard.equipment.is_not_null(),
            )
            .order_by(Hazard.id)
            .limit(limit)
        )
        return [_record(r) for r in rows]

    async def mark_alarmed(self, hazard_id: int, alarm_id: int) -> bool:
        """Note the alarm on a hazard that has none yet; False when another pass did."""
        updated = (
            await Hazard.update({Hazard.overdue_alarm: alarm_id})
            .where(Hazard.id == hazard_id, Hazard.overdue_alarm.is_null())
            .returning(Hazard.id)
        )
        return bool(updated)

    async def open_counts(self, unit_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
        """Per unit: (open general hazards, open major hazards); units without any absent."""
        wanted = list(unit_ids)
        found: dict[int, list[int]] = {}
        for start in range(0, len(wanted), 1000):
            rows = await Hazard.raw(
                "SELECT equipment, grade, COUNT(*) AS n FROM hazard WHERE equipment IN ("
                + ", ".join("{}" for _ in wanted[start : start + 1000])
                + ") AND state IN ('listed', 'assigned', 'rectifying', 'submitted')"
                " GROUP BY equipment, grade",
                *wanted[start : start + 1000],
            )
            for r in rows:
                counts = found.setdefault(int(r["equipment"]), [0, 0])
                counts[1 if r["grade"] == "major" else 0] += int(r["n"])
        return {unit: (c[0], c[1]) for unit, c in found.items()}

    async def open_major_since(self, equipment_id: int) -> date | None:
        """The day the oldest open major hazard of the unit was found (None: none open)."""
        row = (
            await Hazard.select(Hazard.found_on)
            .where(
                Hazard.equipment == equipment_id,
                Hazard.grade == "major",
                Hazard.state.is_in(list(_OPEN)),
            )
            .order_by(Hazard.found_on)
            .first()
        )
        return None if row is None else row["found_on"]

    async def ledger(self, scope: EquipmentScope, by: str, today: date) -> list[LedgerCount]:
        """Counts per group (``by``: user_unit, maintenance_company, district, area), state
        and grade, with how many of them are overdue on ``today``."""
        key = {
            "user_unit": "h.user_unit",
            "maintenance_company": "e.maintenance_company",
            "district": "h.district_code",
            "area": "m.area",
        }[by]
        join = " LEFT JOIN equipment e ON e.id = h.equipment"
        if by == "area":
            join += " JOIN area_member m ON m.equipment = h.equipment"
        where, args = _raw_scope(scope)
        deadline_runs = ", ".join(f"'{s}'" for s in _DEADLINE_RUNS)
        rows = await Hazard.raw(
            f"SELECT {key} AS key, h.state AS state, h.grade AS grade, COUNT(*) AS count,"
            f" SUM(CASE WHEN h.state IN ({deadline_runs}) AND h.deadline < {{}}"
            " THEN 1 ELSE 0 END) AS overdue"
            f" FROM hazard h{join}{where}"
            f" GROUP BY {key}, h.state, h.grade ORDER BY 1, 2, 3",
            today,
            *args,
        )
        return [
            LedgerCount(
                key="" if r["key"] is None else str(r["key"]),
                state=str(r["state"]),
                grade=str(r["grade"]),
                count=int(r["count"]),
                overdue=int(r["overdue"] or 0),
            )
            for r in rows
        ]

    async def group_names(self, by: str, keys: Iterable[str]) -> dict[str, str]:
        """The names of ledger groups (organisations or areas) by their key; districts
        are named by the domain's region table, not here."""
        ids = sorted({int(k) for k in keys if k.isdigit()})
        if not ids or by == "district":
            return {}
        table: Any = Area if by == "area" else Organisation
        names: dict[str, str] = {}
        for start in range(0, len(ids), 1000):
            rows = await table.select(table.id, table.name).where(
                table.id.is_in(ids[start : start + 1000])
            )
            names.update({str(r["id"]): str(r["name"]) for r in rows})
        return names

    async def unit_codes(self, unit_ids: Iterable[int]) -> dict[int, str]:
        wanted = sorted(set(unit_ids))
        codes: dict[int, str] = {}
        for start in range(0, len(wanted), 1000):
            rows = await Equipment.select(Equipment.id, Equipment.code).where(
                Equipment.id.is_in(wanted[start : start + 1000])
            )
            codes.update({int(r["id"]): str(r["code"] or "") for r in rows})
        return codes
