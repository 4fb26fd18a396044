"""Supervision checks (监督检查), their items and evidence files, and the user unit's
routine records (日管控、周排查、月调度): every table access of equipment.services.checks
and equipment.services.routines.

Scope comes in as the domain's :class:`EquipmentScope` and becomes a where clause here:
a user unit sees the checks of itself and of its units, a maintenance company the checks
of the units it maintains now (not its clients' management checks), an inspector bound
to a jurisdiction the checks of units inside it and of user units with a unit inside it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import msgspec
from piccolo.query.functions.aggregate import Count

from equipment.domain.access import EquipmentScope, ScopeKind
from equipment.storage import jurisdiction as jurisdiction_sql
from equipment.storage.tables import (
    CheckEvidence,
    CheckItem,
    Equipment,
    Organisation,
    RoutineRecord,
    SupervisionCheck,
)


class CheckRecord(msgspec.Struct, frozen=True):
    id: int
    target_kind: str
    user_unit: int
    equipment: int | None
    district_code: str
    checklist: str
    checked_on: date
    inspector: str
    inspector_org: int | None
    task_id: int | None
    note: str
    failed: int
    created_by: str
    created_at: datetime


class CheckItemRecord(msgspec.Struct, frozen=True):
    id: int
    check_id: int
    key: str
    text: str
    source: str
    criterion: str | None
    outcome: str
    note: str
    hazard: int | None


class CheckEvidenceRecord(msgspec.Struct, frozen=True):
    id: int
    check_id: int
    item_key: str
    key: str
    media_type: str
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at: datetime


class RoutineRecordRow(msgspec.Struct, frozen=True):
    id: int
    equipment: int
    user_unit: int
    kind: str
    period_start: date
    recorded_on: date
    all_clear: bool
    findings: str
    recorded_by: str
    created_at: datetime


class MissingUnit(msgspec.Struct, frozen=True):
    """A unit in use whose routine record of the period is missing."""

    id: int
    code: str
    category: str
    user_unit: int
    district_code: str


class CheckTargetFacts(msgspec.Struct, frozen=True):
    """What a check copies from the unit it checks."""

    id: int
    category: str
    user_unit: int
    district_code: str


def _check(row: Mapping[str, Any]) -> CheckRecord:
    return msgspec.convert(dict(row), CheckRecord, strict=False)


def _scope_clause(scope: EquipmentScope) -> Any:
    """The checks inside ``scope`` as a where clause on SupervisionCheck (None: all)."""
    if scope.kind is ScopeKind.ALL:
        return None
    if scope.kind is ScopeKind.USER_UNIT:
        return SupervisionCheck.user_unit == scope.org_id
    if scope.kind is ScopeKind.MAINTENANCE_COMPANY:
        units = Equipment.select(Equipment.id).where(Equipment.maintenance_company == scope.org_id)
        return SupervisionCheck.equipment.is_in(units)
    if scope.kind is ScopeKind.OWNING_STATION:
        units = Equipment.select(Equipment.id).where(Equipment.owning_station == scope.org_id)
        return SupervisionCheck.equipment.is_in(units)
    assert scope.jurisdiction is not None
    inside = jurisdiction_sql.equipment_clause(scope.jurisdiction)
    owners = Equipment.select(Equipment.user_unit).where(inside)
    return SupervisionCheck.equipment.is_in(Equipment.select(Equipment.id).where(inside)) | (
        SupervisionCheck.equipment.is_null() & SupervisionCheck.user_unit.is_in(owners)
    )


def _unit_scope(scope: EquipmentScope) -> Any:
    """The units inside ``scope`` as a where clause on Equipment (None: all)."""
    if scope.kind is ScopeKind.ALL:
        return None
    if scope.kind is ScopeKind.USER_UNIT:
        return Equipment.user_unit == scope.org_id
    if scope.kind is ScopeKind.MAINTENANCE_COMPANY:
        return Equipment.maintenance_company == scope.org_id
    if scope.kind is ScopeKind.OWNING_STATION:
        return Equipment.owning_station == scope.org_id
    assert scope.jurisdiction is not None
    return jurisdiction_sql.equipment_clause(scope.jurisdiction)


class CheckRepository:
    async def unit_facts(self, equipment_id: int) -> CheckTargetFacts | None:
        row = (
            await Equipment.select(
                Equipment.id, Equipment.category, Equipment.user_unit, Equipment.district_code
            )
            .where(Equipment.id == equipment_id)
            .first()
        )
        return None if row is None else msgspec.convert(row, CheckTargetFacts)

    async def organisation_kind(self, org_id: int) -> str | None:
        row = await Organisation.select(Organisation.kind).where(Organisation.id == org_id).first()
        return None if row is None else str(row["kind"])

    async def user_unit_district(self, user_unit_id: int, scope: EquipmentScope) -> str | None:
        """The district most of the user unit's units (inside ``scope``) lie in; "" when it
        has units but none with a district; None when it has no unit inside ``scope``."""
        query = (
            Equipment.select(Equipment.district_code, Count(Equipment.id, alias="n"))
            .where(Equipment.user_unit == user_unit_id)
            .group_by(Equipment.district_code)
        )
        clause = _unit_scope(scope)
        if clause is not None:
            query = query.where(clause)
        rows = await query
        if not rows:
            return None
        best = max(rows, key=lambda r: (int(r["n"]), str(r["district_code"] or "")))
        return str(best["district_code"] or "")

    async def insert(self, values: Mapping[str, Any]) -> CheckRecord:
        [row] = await SupervisionCheck.insert(SupervisionCheck(**values)).returning(
            *SupervisionCheck.all_columns()
        )
        return _check(row)

    async def insert_items(self, rows: Sequence[Mapping[str, Any]]) -> list[CheckItemRecord]:
        if not rows:
            return []
        inserted = await CheckItem.insert(*[CheckItem(**r) for r in rows]).returning(
            *CheckItem.all_columns()
        )
        return [msgspec.convert(r, CheckItemRecord, strict=False) for r in inserted]

    async def get(self, check_id: int, scope: EquipmentScope) -> CheckRecord | None:
        query = SupervisionCheck.select(*SupervisionCheck.all_columns()).where(
            SupervisionCheck.id == check_id
        )
        clause = _scope_clause(scope)
        if clause is not None:
            query = query.where(clause)
        row = await query.first()
        return None if row is None else _check(row)

    async def items(self, check_id: int) -> list[CheckItemRecord]:
        rows = (
            await CheckItem.select(*CheckItem.all_columns())
            .where(CheckItem.check_id == check_id)
            .order_by(CheckItem.id)
        )
        return [msgspec.convert(r, CheckItemRecord, strict=False) for r in rows]

    async def page(
        self,
        scope: EquipmentScope,
        *,
        user_unit: int | None,
        equipment: int | None,
        task_id: int | None,
        failed_only: bool,
        before_id: int | None,
        limit: int,
    ) -> list[CheckRecord]:
        """Newest first (by id)."""
        query = (
            SupervisionCheck.select(*SupervisionCheck.all_columns())
            .order_by(SupervisionCheck.id, ascending=False)
            .limit(limit)
        )
        clause = _scope_clause(scope)
        if clause is not None:
            query = query.where(clause)
        if user_unit is not None:
            query = query.where(SupervisionCheck.user_unit == user_unit)
        if equipment is not None:
            query = query.where(SupervisionCheck.equipment == equipment)
        if task_id is not None:
            query = query.where(SupervisionCheck.task_id == task_id)
        if failed_only:
            query = query.where(SupervisionCheck.failed > 0)
        if before_id is not None:
            query = query.where(SupervisionCheck.id < before_id)
        return [_check(r) for r in await query]

    async def link_hazard(self, item_id: int, hazard_id: int) -> None:
        await CheckItem.update({CheckItem.hazard: hazard_id}).where(CheckItem.id == item_id)

    async def add_evidence(self, values: Mapping[str, Any]) -> CheckEvidenceRecord:
        [row] = await CheckEvidence.insert(CheckEvidence(**values)).returning(
            *CheckEvidence.all_columns()
        )
        return msgspec.convert(row, CheckEvidenceRecord, strict=False)

    async def evidence_of(self, check_id: int) -> list[CheckEvidenceRecord]:
        rows = (
            await CheckEvidence.select(*CheckEvidence.all_columns())
            .where(CheckEvidence.check_id == check_id)
            .order_by(CheckEvidence.id)
        )
        return [msgspec.convert(r, CheckEvidenceRecord, strict=False) for r in rows]


class RoutineRepository:
    async def insert(self, values: Mapping[str, Any]) -> RoutineRecordRow | None:
        """The stored record; None when the unit already has one of this kind and period."""
        exists = await RoutineRecord.exists().where(
            RoutineRecord.equipment == values["equipment"],
            RoutineRecord.kind == values["kind"],
            RoutineRecord.period_start == values["period_start"],
        )
        if exists:
            return None
        [row] = await RoutineRecord.insert(RoutineRecord(**values)).returning(
            *RoutineRecord.all_columns()
        )
        return msgspec.convert(row, RoutineRecordRow, strict=False)

    async def page(
        self,
        scope: EquipmentScope,
        *,
        equipment: int | None,
        kind: str | None,
        since: date | None,
        before_id: int | None,
        limit: int,
    ) -> list[RoutineRecordRow]:
        query = (
            RoutineRecord.select(*RoutineRecord.all_columns())
            .order_by(RoutineRecord.id, ascending=False)
            .limit(limit)
        )
        unit_clause = _unit_scope(scope)
        if unit_clause is not None:
            query = query.where(
                RoutineRecord.equipment.is_in(Equipment.select(Equipment.id).where(unit_clause))
            )
        if equipment is not None:
            query = query.where(RoutineRecord.equipment == equipment)
        if kind is not None:
            query = query.where(RoutineRecord.kind == kind)
        if since is not None:
            query = query.where(RoutineRecord.period_start >= since)
        if before_id is not None:
            query = query.where(RoutineRecord.id < before_id)
        rows = await query
        return [msgspec.convert(r, RoutineRecordRow, strict=False) for r in rows]

    async def missing(
        self,
        scope: EquipmentScope,
        *,
        kind: str,
        period_start: date,
        categories: Sequence[str] | None,
        after_id: int | None,
        limit: int,
    ) -> list[MissingUnit]:
        """Units in use inside ``scope`` (of ``categories``; None: any) without a record
        of ``kind`` for the period starting ``period_start``, by id."""
        recorded = RoutineRecord.select(RoutineRecord.equipment).where(
            RoutineRecord.kind == kind, RoutineRecord.period_start == period_start
        )
        query = (
            Equipment.select(
                Equipment.id,
                Equipment.code,
                Equipment.category,
                Equipment.user_unit,
                Equipment.district_code,
            )
            .where(Equipment.status == "in_use", Equipment.id.not_in(recorded))
            .order_by(Equipment.id)
            .limit(limit)
        )
        clause = _unit_scope(scope)
        if clause is not None:
            query = query.where(clause)
        if categories is not None:
            query = query.where(Equipment.category.is_in(list(categories) or [""]))
        if after_id is not None:
            query = query.where(Equipment.id > after_id)
        rows = await query
        return [
            MissingUnit(
                id=int(r["id"]),
                code=str(r["code"] or ""),
                category=str(r["category"]),
                user_unit=int(r["user_unit"]),
                district_code=str(r["district_code"] or ""),
            )
            for r in rows
        ]
