"""Emergency records: entrapment responses for the KPIs, drills (应急演练) and rescue
outcomes — every statement of equipment.services.emergency_records.

Scope comes in as the domain's :class:`EquipmentScope`: a maintenance company reads the
entrapments raised under it and its own lifts, an owner or station its own lifts, an
inspector bound to a jurisdiction the units inside it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import msgspec

from equipment.domain.access import EquipmentScope, ScopeKind
from equipment.storage import db, jurisdiction
from equipment.storage.tables import Alarm, Drill, RescueOutcome

# The column an entrapment is grouped by: the maintenance company responsible when it
# was raised, or the district.
_GROUPS = {"company": "maintenance_company", "district": "district_code"}


class ResponseRow(msgspec.Struct, frozen=True):
    """One entrapment's response times and, when recorded, its rescue's outcome."""

    grp: int | str | None
    raised_at: datetime
    acknowledged_at: datetime | None
    arrived_at: datetime | None
    arrived_late: bool | None
    response_limit_minutes: int | None
    cause: str | None
    people_released: int | None
    injuries: int | None
    fatalities: int | None


class DrillRecord(msgspec.Struct, frozen=True):
    id: int
    equipment: int
    held_on: date
    participants: list[str]
    scenario: str
    note: str
    organisation: int | None
    actor: str
    recorded_at: datetime


class NewDrill(msgspec.Struct, frozen=True):
    equipment: int
    held_on: date
    participants: list[str]
    scenario: str
    note: str
    organisation: int | None
    actor: str
    recorded_at: datetime


class MissingDrill(msgspec.Struct, frozen=True):
    """A lift in use with fewer drills in the year than required."""

    id: int
    code: str
    address: str
    district_code: str
    user_unit: int | None
    maintenance_company: int | None
    drills: int


class OutcomeRecord(msgspec.Struct, frozen=True):
    id: int
    alarm: int
    equipment: int
    people_released: int
    injuries: int
    fatalities: int
    release_method: str
    cause: str
    rescuers: list[str]
    note: str
    organisation: int | None
    actor: str
    recorded_at: datetime


class NewOutcome(msgspec.Struct, frozen=True):
    alarm: int
    equipment: int | None  # an entrapment's unit (the column holds the line)
    people_released: int
    injuries: int
    fatalities: int
    release_method: str
    cause: str
    rescuers: list[str]
    note: str
    organisation: int | None
    actor: str
    recorded_at: datetime


def _lifts(alias: str = "") -> str:
    """Lifts on the register in use or suspended (category 3xxx: TSG 08-2017 catalogue)."""
    return f"{alias}category LIKE '3%' AND {alias}status IN ('in_use', 'suspended')"


def _with_lists(row: Mapping[str, Any], *names: str) -> dict[str, Any]:
    """A JSON column reads back as text unless the query loads it."""
    out = dict(row)
    for name in names:
        if isinstance(out[name], str):
            out[name] = json.loads(out[name])
    return out


class EmergencyRepository:
    async def responses(
        self, scope: EquipmentScope, *, group_by: str, start: datetime, end: datetime
    ) -> tuple[list[ResponseRow], dict[Any, int]]:
        """Entrapments raised in [start, end) inside ``scope`` (a company: those raised
        under it), grouped by ``group_by`` ("company" or "district"), and the lifts of
        each group: two reads on one pooled connection."""
        column = _GROUPS[group_by]
        own = ""
        args: list[Any] = [start, end]
        own_lifts = ""
        if scope.kind is ScopeKind.MAINTENANCE_COMPANY:
            own, own_lifts = " AND a.maintenance_company = $3", " AND maintenance_company = $1"
            args.append(scope.org_id)
        elif scope.jurisdiction is not None:
            own, inside = jurisdiction.numbered_clause(
                scope.jurisdiction, unit_id="a.equipment", district="a.district_code", first=3
            )
            own_lifts, _ = jurisdiction.numbered_clause(
                scope.jurisdiction, unit_id="id", district="district_code", first=1
            )
            args.extend(inside)
        async with db.reading() as bulk:
            rows = await bulk.fetch(
                f"SELECT a.{column} AS grp, a.raised_at, a.acknowledged_at, a.arrived_at,"
                " a.arrived_late, a.response_limit_minutes, o.cause, o.people_released,"
                " o.injuries, o.fatalities FROM alarm a"
                " LEFT JOIN rescue_outcome o ON o.alarm = a.id WHERE a.kind = 'entrapment'"
                f" AND a.raised_at >= $1 AND a.raised_at < $2{own}",
                *args,
            )
            lifts = await bulk.fetch(
                f"SELECT {column} AS grp, count(*) AS n FROM equipment WHERE {_lifts()}"
                f"{own_lifts} GROUP BY {column}",
                *args[2:],
            )
        responses = [msgspec.convert(r, ResponseRow, strict=False) for r in rows]
        counts = {r["grp"]: int(r["n"]) for r in lifts if r["grp"] is not None}
        return responses, counts

    async def add_drill(self, new: NewDrill) -> DrillRecord:
        [row] = await Drill.insert(Drill(**msgspec.structs.asdict(new))).returning(
            *Drill.all_columns()
        )
        return msgspec.convert(_with_lists(row, "participants"), DrillRecord, strict=False)

    async def missing_drills(
        self,
        scope: EquipmentScope,
        *,
        start: date,
        end: date,
        required: int,
        limit: int,
    ) -> list[MissingDrill]:
        """Lifts inside ``scope`` with fewer than ``required`` drills held in
        [start, end], fewest first."""
        column = {
            ScopeKind.USER_UNIT: "user_unit",
            ScopeKind.MAINTENANCE_COMPANY: "maintenance_company",
            ScopeKind.OWNING_STATION: "owning_station",
        }.get(scope.kind)
        own = f" AND e.{column} = $5" if column else ""
        args: list[Any] = [start, end, required, limit]
        if column:
            args.append(scope.org_id)
        elif scope.jurisdiction is not None:
            own, inside = jurisdiction.numbered_clause(
                scope.jurisdiction, unit_id="e.id", district="e.district_code", first=5
            )
            args.extend(inside)
        async with db.reading() as bulk:
            rows = await bulk.fetch(
                "SELECT e.id, e.code, e.address, e.district_code, e.user_unit,"
                " e.maintenance_company, count(d.id) AS drills"
                " FROM equipment e LEFT JOIN drill d ON d.equipment = e.id"
                " AND d.held_on >= $1 AND d.held_on <= $2"
                f" WHERE {_lifts('e.')}"
                f"{own} GROUP BY e.id, e.code, e.address, e.district_code, e.user_unit,"
                " e.maintenance_company HAVING count(d.id) < $3 ORDER BY count(d.id), e.id"
                " LIMIT $4",
                *args,
            )
        return [msgspec.convert(r, MissingDrill, strict=False) for r in rows]

    async def has_outcome(self, alarm_id: int) -> bool:
        return bool(await RescueOutcome.exists().where(RescueOutcome.alarm == alarm_id))

    async def add_outcome(self, new: NewOutcome) -> OutcomeRecord:
        [row] = await RescueOutcome.insert(RescueOutcome(**msgspec.structs.asdict(new))).returning(
            *RescueOutcome.all_columns()
        )
        return _outcome(row)

    async def close_alarm(self, alarm_id: int, *, at: datetime) -> None:
        """The rescue's outcome closes its entrapment."""
        await Alarm.update({Alarm.state: "closed", Alarm.closed_at: at}).where(Alarm.id == alarm_id)

    async def outcome(self, alarm_id: int) -> OutcomeRecord | None:
        row = await RescueOutcome.select().where(RescueOutcome.alarm == alarm_id).first()
        return None if row is None else _outcome(row)


def _outcome(row: Mapping[str, Any]) -> OutcomeRecord:
    return msgspec.convert(_with_lists(row, "rescuers"), OutcomeRecord, strict=False)
