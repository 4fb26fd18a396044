"""Maintenance contracts, the units they cover, and maintenance records: every table
access of equipment.services.maintenance.

Scope comes in as the domain's :class:`EquipmentScope` and becomes a where clause here:
a user unit sees its contracts, a maintenance company those it signed, an inspector bound
to a jurisdiction those with a unit inside it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

import msgspec

from equipment.domain.access import EquipmentScope, ScopeKind
from equipment.storage import db, jurisdiction
from equipment.storage.tables import (
    ContractUnit,
    DueDate,
    Equipment,
    MaintenanceContract,
    MaintenanceRecord,
)

CHUNK = 1000  # ids per IN list: SQLite's bound-parameter limit, with room to spare


class ContractRecord(msgspec.Struct, frozen=True):
    id: int
    user_unit: int
    maintenance_company: int
    starts_on: date
    ends_on: date
    cycle_days: int
    on_demand: bool
    liability_insured: bool
    licence_no: str
    terminated_on: date | None
    actor: str
    created_at: datetime


class Contract(msgspec.Struct, frozen=True):
    """A contract and the units it covers."""

    contract: ContractRecord
    equipment_ids: list[int]


class ContractListing(msgspec.Struct, frozen=True):
    """A contract as the contract list shows it: its company's name, how many units."""

    id: int
    user_unit: int
    maintenance_company: int
    starts_on: date
    ends_on: date
    cycle_days: int
    on_demand: bool
    liability_insured: bool
    licence_no: str
    terminated_on: date | None
    actor: str
    created_at: datetime
    company_name: str | None
    unit_count: int = 0


class NewContract(msgspec.Struct, frozen=True):
    user_unit: int
    maintenance_company: int
    starts_on: date
    ends_on: date
    cycle_days: int
    on_demand: bool
    liability_insured: bool
    licence_no: str
    actor: str
    created_at: datetime


class ContractUnitFacts(msgspec.Struct, frozen=True):
    """What signing a contract checks of a unit."""

    id: int
    code: str
    user_unit: int
    status: str
    parameters: dict[str, Any] | None
    next_inspection_due: date | None


class CoveredPeriod(msgspec.Struct, frozen=True):
    """A unit's period under a contract, with the contract's facts."""

    equipment: int
    starts_on: date
    ends_on: date
    contract_id: int
    maintenance_company: int
    cycle_days: int
    terminated_on: date | None


class UnitCodes(msgspec.Struct, frozen=True):
    """A unit's codes (any of them names it in an upload) and what a record checks."""

    id: int
    code: str
    registration_code: str | None
    equipment_code: str | None
    status: str
    commissioning_date: date | None


class NewMaintenanceRecord(msgspec.Struct, frozen=True):
    """A record to store; the JSON columns as JSON text."""

    equipment: int
    contract: int
    maintenance_company: int
    record_id: str
    maintained_on: date
    level: str
    items: str
    technicians: str
    findings: str
    hazards: str
    signed_off_by: str
    suspicious_reason: str
    recorded_at: datetime


RECORD_COLUMNS = tuple(NewMaintenanceRecord.__struct_fields__)


class MaintenanceRecordRow(msgspec.Struct, frozen=True):
    id: int
    equipment: int
    contract: int
    maintenance_company: int
    record_id: str
    maintained_on: date
    level: str
    items: list[str]
    technicians: list[dict[str, str]]
    findings: str
    hazards: list[str]
    signed_off_by: str
    suspicious_reason: str
    recorded_at: datetime


class ScoredUnit(msgspec.Struct, frozen=True):
    """A unit's period under one of the company's contracts, for its score."""

    equipment: int
    starts_on: date
    ends_on: date
    cycle_days: int
    terminated_on: date | None
    category: str


class Visit(msgspec.Struct, frozen=True):
    equipment: int
    maintained_on: date


class FlagCandidate(msgspec.Struct, frozen=True):
    id: int
    equipment: int
    maintained_on: date
    suspicious_reason: str


T = TypeVar("T")


def _convert(rows: Iterable[dict[str, Any]], kind: type[T]) -> list[T]:
    return [msgspec.convert(row, kind, strict=False) for row in rows]


def _contract_scope(query: Any, scope: EquipmentScope) -> Any:
    """``query`` of contracts limited to those inside ``scope``."""
    if scope.jurisdiction is not None:
        # A contract is the inspector's when one of its units is inside.
        return query.where(
            MaintenanceContract.id.is_in(
                ContractUnit.select(ContractUnit.contract).where(
                    ContractUnit.equipment.is_in(jurisdiction.unit_ids(scope.jurisdiction))
                )
            )
        )
    if scope.kind is ScopeKind.USER_UNIT:
        return query.where(MaintenanceContract.user_unit == scope.org_id)
    if scope.kind is ScopeKind.MAINTENANCE_COMPANY:
        return query.where(MaintenanceContract.maintenance_company == scope.org_id)
    if scope.kind is not ScopeKind.ALL:
        return query.where(MaintenanceContract.id == -1)
    return query


def _connection() -> Any:
    """The open transaction's driver connection (the bulk paths run inside one)."""
    transaction = db.engine().current_transaction.get()
    if transaction is None:
        raise RuntimeError("maintenance bulk writes run inside a unit of work")
    return transaction.connection


class MaintenanceRepository:
    # Contracts ----------------------------------------------------------------------

    async def units_for_contract(self, ids: Sequence[int]) -> list[ContractUnitFacts]:
        rows = (
            await Equipment.select(
                Equipment.id,
                Equipment.code,
                Equipment.user_unit,
                Equipment.status,
                Equipment.parameters,
                Equipment.next_inspection_due,
            )
            .where(Equipment.id.is_in(list(ids)))
            .output(load_json=True)
        )
        return _convert(rows, ContractUnitFacts)

    async def overlapping(
        self, ids: Sequence[int], starts: date, ends: date
    ) -> list[CoveredPeriod]:
        """The contract periods of these units that meet [starts, ends] (before any
        termination is taken into account)."""
        rows = await ContractUnit.select(
            ContractUnit.equipment,
            ContractUnit.starts_on,
            ContractUnit.ends_on,
            ContractUnit.contract.id.as_alias("contract_id"),
            ContractUnit.contract.maintenance_company.as_alias("maintenance_company"),
            ContractUnit.contract.cycle_days.as_alias("cycle_days"),
            ContractUnit.contract.terminated_on.as_alias("terminated_on"),
        ).where(
            ContractUnit.equipment.is_in(list(ids)),
            ContractUnit.starts_on <= ends,
            ContractUnit.ends_on >= starts,
        )
        return _convert(rows, CoveredPeriod)

    async def add_contract(self, contract: NewContract, unit_ids: Sequence[int]) -> ContractRecord:
        """The contract and its units (each covered for the contract's whole period)."""
        [row] = await MaintenanceContract.insert(
            MaintenanceContract(**msgspec.structs.asdict(contract))
        ).returning(*MaintenanceContract.all_columns())
        await ContractUnit.insert(
            *[
                ContractUnit(
                    contract=row["id"],
                    equipment=i,
                    starts_on=contract.starts_on,
                    ends_on=contract.ends_on,
                )
                for i in unit_ids
            ]
        )
        return msgspec.convert(row, ContractRecord, strict=False)

    async def terminate(self, contract_id: int, on: date) -> None:
        await MaintenanceContract.update({MaintenanceContract.terminated_on: on}).where(
            MaintenanceContract.id == contract_id
        )

    async def visible_contract(
        self, scope: EquipmentScope, contract_id: int
    ) -> ContractRecord | None:
        query = MaintenanceContract.select().where(MaintenanceContract.id == contract_id)
        row = await _contract_scope(query, scope).first()
        return None if row is None else msgspec.convert(row, ContractRecord, strict=False)

    async def unit_ids_of(self, contract_id: int) -> list[int]:
        rows = await ContractUnit.select(ContractUnit.equipment).where(
            ContractUnit.contract == contract_id
        )
        return [r["equipment"] for r in rows]

    async def contracts(
        self, scope: EquipmentScope, *, after_id: int | None, limit: int
    ) -> list[ContractListing]:
        """Newest first (keyset on id), each with its company's name and unit count."""
        query = MaintenanceContract.select(
            *MaintenanceContract.all_columns(),
            MaintenanceContract.maintenance_company.name.as_alias("company_name"),
        )
        query = _contract_scope(query, scope).order_by(MaintenanceContract.id, ascending=False)
        if after_id is not None:
            query = query.where(MaintenanceContract.id < after_id)
        rows = await query.limit(limit)
        counts: dict[int, int] = {}
        if rows:
            for r in await ContractUnit.select(ContractUnit.contract).where(
                ContractUnit.contract.is_in([r["id"] for r in rows])
            ):
                counts[r["contract"]] = counts.get(r["contract"], 0) + 1
        return _convert(
            ({**r, "unit_count": counts.get(r["id"], 0)} for r in rows), ContractListing
        )

    async def covered_periods(self, unit_ids: Sequence[int]) -> list[CoveredPeriod]:
        """Every contract period of these units."""
        found: list[CoveredPeriod] = []
        for start in range(0, len(unit_ids), CHUNK):
            rows = await ContractUnit.select(
                ContractUnit.equipment,
                ContractUnit.starts_on,
                ContractUnit.ends_on,
                ContractUnit.contract.id.as_alias("contract_id"),
                ContractUnit.contract.maintenance_company.as_alias("maintenance_company"),
                ContractUnit.contract.cycle_days.as_alias("cycle_days"),
                ContractUnit.contract.terminated_on.as_alias("terminated_on"),
            ).where(ContractUnit.equipment.is_in(list(unit_ids[start : start + CHUNK])))
            found += _convert(rows, CoveredPeriod)
        return found

    async def covered_unit_ids(self) -> list[int]:
        """Every unit any contract ever covered."""
        rows = await ContractUnit.select(ContractUnit.equipment).distinct()
        return [r["equipment"] for r in rows]

    async def set_maintainer(self, unit_id: int, company: int | None) -> bool:
        """Make ``company`` the unit's maintenance company; whether that changed it."""
        current = (
            await Equipment.select(Equipment.maintenance_company)
            .where(Equipment.id == unit_id)
            .first()
        )
        if current is None or current["maintenance_company"] == company:
            return False
        await Equipment.update({Equipment.maintenance_company: company}).where(
            Equipment.id == unit_id
        )
        return True

    # Records ------------------------------------------------------------------------

    async def units_by_codes(self, codes: Sequence[str]) -> list[UnitCodes]:
        """The units any of whose codes (register code, equipment code) is in ``codes``."""
        found: list[UnitCodes] = []
        for start in range(0, len(codes), CHUNK):
            chunk = list(codes[start : start + CHUNK])
            rows = await Equipment.select(
                Equipment.id,
                Equipment.code,
                Equipment.registration_code,
                Equipment.equipment_code,
                Equipment.status,
                Equipment.commissioning_date,
            ).where(Equipment.code.is_in(chunk) | Equipment.equipment_code.is_in(chunk))
            found += _convert(rows, UnitCodes)
        return found

    async def store_records(self, records: Sequence[NewMaintenanceRecord]) -> set[str]:
        """Insert, skipping record ids their company stored before; the ids newly stored.
        Runs in the caller's transaction."""
        if not records:
            return set()
        if db.is_postgres():
            # COPY into a scratch table, then one INSERT ... ON CONFLICT: bulk speed with
            # the idempotency the unique (company, record_id) index gives.
            conn = _connection()
            await conn.execute(
                "CREATE TEMP TABLE IF NOT EXISTS upload_scratch (LIKE maintenance_record "
                "INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
            )
            await conn.copy_records_to_table(
                "upload_scratch",
                columns=list(RECORD_COLUMNS),
                records=[msgspec.structs.astuple(r) for r in records],
            )
            columns = ", ".join(RECORD_COLUMNS)
            rows = await conn.fetch(
                f"INSERT INTO maintenance_record ({columns}) SELECT {columns} FROM upload_scratch "
                "ON CONFLICT (maintenance_company, record_id) DO NOTHING RETURNING record_id"
            )
            return {r["record_id"] for r in rows}
        stored: set[str] = set()
        for start in range(0, len(records), 500):
            rows = (
                await MaintenanceRecord.insert(
                    *[
                        MaintenanceRecord(**msgspec.structs.asdict(r))
                        for r in records[start : start + 500]
                    ]
                )
                .on_conflict(action="DO NOTHING")
                .returning(MaintenanceRecord.record_id)
            )
            stored.update(r["record_id"] for r in rows)
        return stored

    async def last_maintenance(self, unit_ids: Sequence[int]) -> dict[int, date | None]:
        current: dict[int, date | None] = {}
        for start in range(0, len(unit_ids), CHUNK):
            for r in await Equipment.select(Equipment.id, Equipment.last_maintenance_on).where(
                Equipment.id.is_in(list(unit_ids[start : start + CHUNK]))
            ):
                current[r["id"]] = r["last_maintenance_on"]
        return current

    async def advance(self, moved: Sequence[tuple[int, date, int]]) -> None:
        """For each (unit, day, cycle days): the unit's last maintenance day becomes
        ``day`` and its maintenance due date ``day + cycle``, with the explanation."""
        if not moved:
            return
        if db.is_postgres():
            conn = _connection()
            await conn.execute(
                "UPDATE equipment e SET last_maintenance_on = v.day FROM "
                "unnest($1::bigint[], $2::date[]) AS v(id, day) WHERE e.id = v.id",
                [m[0] for m in moved],
                [m[1] for m in moved],
            )
            await conn.execute(
                "UPDATE due_date d SET due_on = v.day + v.cycle, base_date = v.day, "
                "explanation = 'maintenance every ' || v.cycle || ' days (TSG T5002-2017): "
                "last on ' || v.day || ', due by ' || (v.day + v.cycle) FROM "
                "unnest($1::bigint[], $2::date[], $3::int[]) AS v(id, day, cycle) "
                "WHERE d.equipment = v.id AND d.kind = 'maintenance'",
                [m[0] for m in moved],
                [m[1] for m in moved],
                [m[2] for m in moved],
            )
            return
        for unit_id, day, cycle in moved:
            await Equipment.update({Equipment.last_maintenance_on: day}).where(
                Equipment.id == unit_id
            )
            due_on = day + timedelta(days=cycle)
            await DueDate.update(
                {
                    DueDate.due_on: due_on,
                    DueDate.base_date: day,
                    DueDate.explanation: f"maintenance every {cycle} days (TSG T5002-2017): "
                    f"last on {day.isoformat()}, due by {due_on.isoformat()}",
                }
            ).where(DueDate.equipment == unit_id, DueDate.kind == "maintenance")

    async def records_of(self, equipment_id: int) -> list[MaintenanceRecordRow]:
        rows = (
            await MaintenanceRecord.select()
            .where(MaintenanceRecord.equipment == equipment_id)
            .order_by(MaintenanceRecord.maintained_on)
            .output(load_json=True)
        )
        return _convert(rows, MaintenanceRecordRow)

    async def scored_units(self, company_id: int, start: date, end: date) -> list[ScoredUnit]:
        """The company's contract periods that meet [start, end]."""
        rows = await ContractUnit.select(
            ContractUnit.equipment,
            ContractUnit.starts_on,
            ContractUnit.ends_on,
            ContractUnit.contract.cycle_days.as_alias("cycle_days"),
            ContractUnit.contract.terminated_on.as_alias("terminated_on"),
            ContractUnit.equipment.category.as_alias("category"),
        ).where(
            ContractUnit.contract.maintenance_company == company_id,
            ContractUnit.starts_on <= end,
            ContractUnit.ends_on >= start,
        )
        return _convert(rows, ScoredUnit)

    async def visits(self, company_id: int, unit_ids: Sequence[int], since: date) -> list[Visit]:
        rows = await MaintenanceRecord.select(
            MaintenanceRecord.equipment, MaintenanceRecord.maintained_on
        ).where(
            MaintenanceRecord.maintenance_company == company_id,
            MaintenanceRecord.equipment.is_in(list(unit_ids)),
            MaintenanceRecord.maintained_on >= since,
        )
        return _convert(rows, Visit)

    async def records_since(self, unit_ids: Sequence[int], since: date) -> list[FlagCandidate]:
        rows = await MaintenanceRecord.select(
            MaintenanceRecord.id,
            MaintenanceRecord.equipment,
            MaintenanceRecord.maintained_on,
            MaintenanceRecord.suspicious_reason,
        ).where(
            MaintenanceRecord.equipment.is_in(list(unit_ids)),
            MaintenanceRecord.maintained_on >= since,
        )
        return _convert(rows, FlagCandidate)

    async def flag(self, record_id: int, reason: str) -> None:
        await MaintenanceRecord.update({MaintenanceRecord.suspicious_reason: reason}).where(
            MaintenanceRecord.id == record_id
        )

    async def suspicious(self, scope: EquipmentScope, *, limit: int) -> list[MaintenanceRecordRow]:
        """Records telemetry contradicts, inside ``scope``, newest first."""
        query = MaintenanceRecord.select().where(MaintenanceRecord.suspicious_reason != "")
        if scope.kind is ScopeKind.MAINTENANCE_COMPANY:
            query = query.where(MaintenanceRecord.maintenance_company == scope.org_id)
        elif scope.jurisdiction is not None:
            query = query.where(
                MaintenanceRecord.equipment.is_in(jurisdiction.unit_ids(scope.jurisdiction))
            )
        elif scope.kind is not ScopeKind.ALL:
            query = query.where(
                MaintenanceRecord.equipment.is_in(
                    Equipment.select(Equipment.id).where(Equipment.user_unit == scope.org_id)
                )
            )
        rows = (
            await query.order_by(MaintenanceRecord.maintained_on, ascending=False)
            .limit(limit)
            .output(load_json=True)
        )
        return _convert(rows, MaintenanceRecordRow)
