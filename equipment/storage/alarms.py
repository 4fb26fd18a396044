"""Alarms: every table access and statement of equipment.services.alarms.

Scope comes in as the domain's :class:`EquipmentScope` and becomes a where clause here:
an alarm belongs to its unit's current maintainer (not the one it was raised under), a
user unit sees its units' alarms, a station those its own fills raised and those of its
own cylinders, an inspector bound to a jurisdiction those of units inside it.

The ingest's statements (``record_bursts``, ``open_kinds``, ``close_open``) run on the
connection of the batch's transaction (a :class:`Bulk`), set-at-a-time: one statement
per kind of change, as before the move.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import msgspec
from piccolo.columns import Column

from equipment.domain.access import EquipmentScope, ScopeKind
from equipment.storage import jurisdiction
from equipment.storage.bulk import Bulk
from equipment.storage.keyset import Sort, after_cursor
from equipment.storage.tables import Alarm, Equipment


class AlarmRecord(msgspec.Struct, frozen=True):
    """One alarm, every column (the API's AlarmView renames the foreign keys)."""

    id: int
    equipment: int | None
    kind: str
    severity: str
    state: str
    source: str
    count: int
    raised_at: datetime
    last_raised_at: datetime
    maintenance_company: int | None
    district_code: str
    response_limit_minutes: int | None
    acknowledged_at: datetime | None
    arrived_at: datetime | None
    arrived_late: bool | None
    finished_at: datetime | None
    closed_at: datetime | None
    note: str
    station: int | None
    fill: int | None
    detail: str


class NewAlarm(msgspec.Struct, frozen=True):
    """An alarm opened by hand (a call, a hazard, the API)."""

    equipment: int
    kind: str
    severity: str
    source: str
    raised_at: datetime
    maintenance_company: int | None
    district_code: str
    response_limit_minutes: int | None
    note: str


class IngestAlarm(msgspec.Struct, frozen=True):
    """An alarm the ingest writes (or counts on the open one): the columns it sets."""

    equipment: int | None
    kind: str
    severity: str
    state: str
    source: str
    count: int
    raised_at: datetime | None
    last_raised_at: datetime | None
    maintenance_company: int | None
    district_code: str
    response_limit_minutes: int | None
    closed_at: datetime | None
    note: str
    station: int | None
    fill: int | None
    detail: str


class AlarmUnit(msgspec.Struct, frozen=True):
    """Where an alarm's unit is: its codes and address (the live board's card)."""

    id: int
    code: str
    registration_code: str | None
    address: str


class AlarmQuery(msgspec.Struct, frozen=True):
    """The filters of an alarm list (None / False: no filter)."""

    state: str | None = None
    kind: str | None = None
    equipment: int | None = None
    district_code: str | None = None
    maintained_by: int | None = None
    late_only: bool = False


def alarm_record(row: Mapping[str, Any]) -> AlarmRecord:
    # strict=False: SQLite hands back booleans as 0/1 and timestamps as text.
    return msgspec.convert(dict(row), AlarmRecord, strict=False)


def _maintained_by(company_id: int) -> Any:
    """Alarms of the units ``company_id`` maintains now: after a change of maintainer the
    new company must answer the open entrapment, and the old one no longer sees it."""
    ids = Equipment.select(Equipment.id).where(Equipment.maintenance_company == company_id)
    return Alarm.equipment.is_in(ids)


def _scope_clause(scope: EquipmentScope) -> Any:
    """The alarms inside ``scope`` as a where clause on Alarm (None: all)."""
    if scope.kind is ScopeKind.ALL:
        return None
    if scope.jurisdiction is not None:
        return Alarm.equipment.is_in(jurisdiction.unit_ids(scope.jurisdiction))
    if scope.kind is ScopeKind.MAINTENANCE_COMPANY:
        assert scope.org_id is not None
        return _maintained_by(scope.org_id)
    if scope.kind is ScopeKind.USER_UNIT:
        ids = Equipment.select(Equipment.id).where(Equipment.user_unit == scope.org_id)
        return Alarm.equipment.is_in(ids)
    # A station sees the alarms its own fills raised and those of its own cylinders.
    ids = Equipment.select(Equipment.id).where(Equipment.owning_station == scope.org_id)
    return (Alarm.station == scope.org_id) | Alarm.equipment.is_in(ids)


_NEW_COLUMNS = IngestAlarm.__struct_fields__
_ON_OPEN = (
    " DO UPDATE SET count = alarm.count + excluded.count,"
    " last_raised_at = CASE WHEN excluded.last_raised_at > alarm.last_raised_at"
    " THEN excluded.last_raised_at ELSE alarm.last_raised_at END,"
    " fill = COALESCE(excluded.fill, alarm.fill), detail = excluded.detail"
)
_BY_UNIT = "ON CONFLICT (equipment, kind) WHERE state = 'open'"
_BY_STATION = "ON CONFLICT (station, kind) WHERE state = 'open' AND equipment IS NULL"


class AlarmRepository:
    # ---------------------------------------------------------------- by hand

    async def count_repeat(
        self, equipment_id: int, kind: str, raised_at: datetime
    ) -> AlarmRecord | None:
        """Count a repeat on the open alarm of (unit, kind); None when none is open."""
        repeated = (
            await Alarm.update({Alarm.count: Alarm.count + 1, Alarm.last_raised_at: raised_at})
            .where(Alarm.equipment == equipment_id, Alarm.kind == kind, Alarm.state == "open")
            .returning(*Alarm.all_columns())
        )
        return alarm_record(repeated[0]) if repeated else None

    async def open(self, new: NewAlarm) -> AlarmRecord:
        [row] = await Alarm.insert(
            Alarm(
                equipment=new.equipment,
                kind=new.kind,
                severity=new.severity,
                state="open",
                source=new.source,
                count=1,
                raised_at=new.raised_at,
                last_raised_at=new.raised_at,
                maintenance_company=new.maintenance_company,
                district_code=new.district_code,
                response_limit_minutes=new.response_limit_minutes,
                note=new.note,
            )
        ).returning(*Alarm.all_columns())
        return alarm_record(row)

    async def get(self, alarm_id: int, scope: EquipmentScope) -> AlarmRecord | None:
        query = Alarm.select().where(Alarm.id == alarm_id)
        clause = _scope_clause(scope)
        if clause is not None:
            query = query.where(clause)
        row = await query.first()
        return None if row is None else alarm_record(row)

    async def visible_ids(self, alarm_ids: Sequence[int], scope: EquipmentScope) -> set[int]:
        query = Alarm.select(Alarm.id).where(Alarm.id.is_in(list(alarm_ids)))
        clause = _scope_clause(scope)
        if clause is not None:
            query = query.where(clause)
        return {int(r["id"]) for r in await query}

    async def of_ids(self, alarm_ids: Sequence[int]) -> list[AlarmRecord]:
        """The alarms of ``alarm_ids`` (any order; an unknown id is left out)."""
        if not alarm_ids:
            return []
        return [
            alarm_record(r) for r in await Alarm.select().where(Alarm.id.is_in(list(alarm_ids)))
        ]

    async def update(self, alarm_id: int, changes: Mapping[str, Any]) -> AlarmRecord:
        """Set ``changes`` (column name: value) on the alarm; answers it as it is now."""
        values: dict[Column | str, Any] = {k: v for k, v in changes.items()}
        [row] = (
            await Alarm.update(values).where(Alarm.id == alarm_id).returning(*Alarm.all_columns())
        )
        return alarm_record(row)

    async def page(
        self,
        scope: EquipmentScope,
        query: AlarmQuery,
        *,
        sort: Sort,
        after: Sequence[object] | None,
        limit: int,
    ) -> list[AlarmRecord]:
        """Newest raised first (then by id), after the keyset ``after`` when given."""
        clauses = []
        clause = _scope_clause(scope)
        if clause is not None:
            clauses.append(clause)
        if query.state:
            clauses.append(Alarm.state == query.state)
        if query.kind:
            clauses.append(Alarm.kind == query.kind)
        if query.equipment is not None:
            clauses.append(Alarm.equipment == query.equipment)
        if query.district_code:
            clauses.append(Alarm.district_code == query.district_code)
        if query.maintained_by is not None:
            clauses.append(_maintained_by(query.maintained_by))
        if query.late_only:
            clauses.append(Alarm.arrived_late == True)  # noqa: E712
        if after is not None:
            clauses.append(after_cursor(sort, after))
        select = Alarm.select().order_by(Alarm.raised_at, Alarm.id, ascending=False).limit(limit)
        if clauses:
            select = select.where(*clauses)
        return [alarm_record(r) for r in await select]

    async def units(self, equipment_ids: Sequence[int]) -> dict[int, AlarmUnit]:
        """The codes and addresses of ``equipment_ids``, by id (one statement)."""
        if not equipment_ids:
            return {}
        found = await Equipment.select(
            Equipment.id, Equipment.code, Equipment.registration_code, Equipment.address
        ).where(Equipment.id.is_in(list(equipment_ids)))
        return {int(u["id"]): msgspec.convert(u, AlarmUnit) for u in found}

    # ---------------------------------------------------------------- the ingest

    async def add_counts(
        self, bulk: Bulk, counts: Sequence[tuple[int, datetime | None, int | None, str]]
    ) -> None:
        """(count, last raised, unit, kind): raises landing on the open alarm of each."""
        await bulk.executemany(
            "UPDATE alarm SET count = count + $1,"
            " last_raised_at = CASE WHEN $2 > last_raised_at THEN $2 ELSE last_raised_at END"
            " WHERE equipment = $3 AND kind = $4 AND state = 'open'",
            counts,
        )

    async def clear(
        self, bulk: Bulk, equipment_id: int | None, kind: str, *, at: datetime, note: str
    ) -> list[int]:
        """Close the open alarm of (unit, kind); the ids closed."""
        rows = await bulk.fetch(
            "UPDATE alarm SET state = 'closed', closed_at = $1, note = $2"
            " WHERE equipment = $3 AND kind = $4 AND state = 'open' RETURNING id",
            at,
            note,
            equipment_id,
            kind,
        )
        return [int(r["id"]) for r in rows]

    async def insert_new(
        self,
        bulk: Bulk,
        alarms: Sequence[IngestAlarm],
        *,
        on_open: str,
    ) -> list[int]:
        """Insert ``alarms``; ``on_open`` is "unit", "station" (a raise landing on the open
        alarm of the unit, or of the station when it has no unit, is counted there) or ""
        (born closed: no conflict). The ids written or counted on."""
        conflict = {"unit": _BY_UNIT, "station": _BY_STATION, "": ""}[on_open]
        written = await bulk.insert(
            Alarm,
            _NEW_COLUMNS,
            [msgspec.structs.astuple(a) for a in alarms],
            tail=f"{conflict}{_ON_OPEN}" if conflict else "",
            returning="id",
        )
        return [int(r["id"]) for r in written]

    async def open_kinds(self, bulk: Bulk, equipment_ids: Sequence[int]) -> dict[int, set[str]]:
        rows = await bulk.fetch(
            "SELECT equipment, kind FROM alarm WHERE state = 'open'"
            f" AND {bulk.any_of('equipment', 1)}",
            list(equipment_ids),
        )
        found: dict[int, set[str]] = {}
        for r in rows:
            found.setdefault(r["equipment"], set()).add(r["kind"])
        return found

    async def close_open(
        self, bulk: Bulk, equipment_ids: Sequence[int], kind: str, *, at: datetime, note: str
    ) -> list[int]:
        rows = await bulk.fetch(
            "UPDATE alarm SET state = 'closed', closed_at = $1, note = $2"
            f" WHERE kind = $3 AND state = 'open' AND {bulk.any_of('equipment', 4)} RETURNING id",
            at,
            note,
            kind,
            list(equipment_ids),
        )
        return [int(r["id"]) for r in rows]
