"""Special campaigns (专项整治 / 回头看): the campaigns, the units they select and their
tasks. Every table access of equipment.services.campaigns is here.

Scope comes in as the domain's :class:`EquipmentScope`: an inspector bound to a
jurisdiction sees the tasks whose district is one of his, or whose unit lies in one of his
areas; an unbound inspector and the bureau see all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import msgspec

from equipment.domain.access import EquipmentScope, ScopeKind
from equipment.storage.tables import AreaMember, Campaign, CampaignTask, Equipment, Hazard


class CampaignRecord(msgspec.Struct, frozen=True):
    id: int
    title: str
    kind: str
    parent: int | None
    per: str
    filters: dict[str, Any]
    due_on: date
    actor: str
    created_at: datetime


class CampaignTaskRecord(msgspec.Struct, frozen=True):
    id: int
    campaign: int
    equipment: int | None
    user_unit: int
    district_code: str
    state: str
    check_id: int | None
    failed: int
    hazards: list[int]
    done_on: date | None
    actor: str


class SelectedUnit(msgspec.Struct, frozen=True):
    id: int
    user_unit: int
    district_code: str


class DistrictProgress(msgspec.Struct, frozen=True):
    """A campaign's tasks in one district: how many, done, with findings (a failed
    item), and the hazards they opened."""

    district_code: str
    tasks: int
    done: int
    with_findings: int
    hazards: int


def _json(value: Any) -> Any:
    # SQLite gives JSON columns back as text, PostgreSQL (asyncpg) too unless decoded.
    return msgspec.json.decode(value) if isinstance(value, str | bytes) else value


def _campaign(row: Mapping[str, Any]) -> CampaignRecord:
    return msgspec.convert({**row, "filters": _json(row["filters"])}, CampaignRecord, strict=False)


def _task(row: Mapping[str, Any]) -> CampaignTaskRecord:
    return msgspec.convert(
        {**row, "hazards": _json(row["hazards"])}, CampaignTaskRecord, strict=False
    )


def _task_scope(scope: EquipmentScope) -> Any:
    """None: every task; else the where clause of a jurisdiction."""
    if scope.kind is ScopeKind.ALL:
        return None
    if scope.kind is not ScopeKind.JURISDICTION or scope.jurisdiction is None:
        return CampaignTask.id < 0  # no other kind reads campaign tasks
    jurisdiction = scope.jurisdiction
    clauses: list[Any] = []
    if jurisdiction.districts:
        clauses.append(CampaignTask.district_code.is_in(sorted(jurisdiction.districts)))
    if jurisdiction.areas:
        members = AreaMember.select(AreaMember.equipment).where(
            AreaMember.area.is_in(sorted(jurisdiction.areas))
        )
        clauses.append(CampaignTask.equipment.is_in(members))
    clause = clauses[0]
    for other in clauses[1:]:
        clause = clause | other
    return clause


class CampaignRepository:
    async def insert(self, values: Mapping[str, Any]) -> CampaignRecord:
        [row] = await Campaign.insert(Campaign(**values)).returning(*Campaign.all_columns())
        return _campaign(row)

    async def get(self, campaign_id: int) -> CampaignRecord | None:
        row = (
            await Campaign.select(*Campaign.all_columns()).where(Campaign.id == campaign_id).first()
        )
        return None if row is None else _campaign(row)

    async def all(self) -> list[CampaignRecord]:
        rows = await Campaign.select(*Campaign.all_columns()).order_by(Campaign.id, ascending=False)
        return [_campaign(r) for r in rows]

    async def select_units(
        self,
        *,
        categories: Sequence[str],
        districts: Sequence[str],
        commissioned_before: date | None,
        due_before: date | None,
        min_rank: int | None,
        limit: int,
    ) -> list[SelectedUnit]:
        """Units in use matching every filter given (a category is a code prefix)."""
        query = (
            Equipment.select(Equipment.id, Equipment.user_unit, Equipment.district_code)
            .where(Equipment.status == "in_use")
            .order_by(Equipment.id)
            .limit(limit)
        )
        if categories:
            clause: Any = Equipment.category.like(f"{categories[0]}%")
            for code in categories[1:]:
                clause = clause | Equipment.category.like(f"{code}%")
            query = query.where(clause)
        if districts:
            query = query.where(Equipment.district_code.is_in(list(districts)))
        if commissioned_before is not None:
            query = query.where(Equipment.commissioning_date <= commissioned_before)
        if due_before is not None:
            query = query.where(Equipment.next_inspection_due < due_before)
        if min_rank is not None:
            query = query.where(Equipment.risk_rank >= min_rank)
        return [msgspec.convert(r, SelectedUnit, strict=False) for r in await query]

    async def units(self, ids: Sequence[int]) -> list[SelectedUnit]:
        if not ids:
            return []
        rows = await Equipment.select(
            Equipment.id, Equipment.user_unit, Equipment.district_code
        ).where(Equipment.id.is_in(list(ids)))
        return [msgspec.convert(r, SelectedUnit, strict=False) for r in rows]

    async def insert_tasks(self, rows: Sequence[Mapping[str, Any]]) -> int:
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            await CampaignTask.insert(*(CampaignTask(**r) for r in chunk))
        return len(rows)

    async def tasks(
        self,
        scope: EquipmentScope,
        *,
        campaign: int | None = None,
        task_id: int | None = None,
        state: str | None = None,
        limit: int = 500,
    ) -> list[CampaignTaskRecord]:
        query = (
            CampaignTask.select(*CampaignTask.all_columns()).order_by(CampaignTask.id).limit(limit)
        )
        clause = _task_scope(scope)
        if clause is not None:
            query = query.where(clause)
        if campaign is not None:
            query = query.where(CampaignTask.campaign == campaign)
        if task_id is not None:
            query = query.where(CampaignTask.id == task_id)
        if state is not None:
            query = query.where(CampaignTask.state == state)
        return [_task(r) for r in await query]

    async def complete(self, task_id: int, values: Mapping[str, Any]) -> bool:
        """Close an open task; False when it was no longer open."""
        done = await (
            CampaignTask.update({getattr(CampaignTask, k): v for k, v in values.items()})
            .where((CampaignTask.id == task_id) & (CampaignTask.state == "open"))
            .returning(CampaignTask.id)
        )
        return bool(done)

    async def progress(self, scope: EquipmentScope, campaign: int) -> list[DistrictProgress]:
        """Per district, by district code: tasks, done, with findings, hazards opened."""
        query = CampaignTask.select(
            CampaignTask.district_code,
            CampaignTask.state,
            CampaignTask.failed,
            CampaignTask.hazards,
        ).where(CampaignTask.campaign == campaign)
        clause = _task_scope(scope)
        if clause is not None:
            query = query.where(clause)
        # [tasks, done, with findings, hazards] per district
        table: dict[str, list[int]] = {}
        for row in await query:
            line = table.setdefault(row["district_code"], [0, 0, 0, 0])
            line[0] += 1
            if row["state"] == "done":
                line[1] += 1
            if row["failed"]:
                line[2] += 1
            line[3] += len(_json(row["hazards"]) or [])
        return [DistrictProgress(k, *table[k]) for k in sorted(table)]

    async def hazard_states(self, ids: Sequence[int]) -> dict[int, str]:
        if not ids:
            return {}
        rows = await Hazard.select(Hazard.id, Hazard.state).where(Hazard.id.is_in(list(ids)))
        return {int(r["id"]): str(r["state"]) for r in rows}
