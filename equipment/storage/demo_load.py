"""The demo city's reads and writes (equipment/demo/load.py, equipment/demo/showcase.py
and the ``sereg`` commands that load and present it)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Any, Protocol

import msgspec
from piccolo.engine.postgres import PostgresEngine

from equipment.storage import db
from equipment.storage.tables import (
    ContractUnit,
    DueDate,
    Equipment,
    Inspection,
    MaintenanceContract,
    Organisation,
)


class OrganisationName(msgspec.Struct, frozen=True):
    id: int
    name: str


async def first_organisation(kind: str) -> OrganisationName | None:
    """The organisation of ``kind`` made first (the one a hint names)."""
    row = (
        await Organisation.select(Organisation.id, Organisation.name)
        .where(Organisation.kind == kind)
        .order_by(Organisation.id)
        .first()
    )
    return None if row is None else msgspec.convert(row, OrganisationName, strict=False)


async def a_lift_in_use() -> str | None:
    """The registration code of the first lift in use (its public page is shown)."""
    row = (
        await Equipment.select(Equipment.registration_code)
        .where(Equipment.category.like("31%"), Equipment.status == "in_use")
        .order_by(Equipment.id)
        .first()
    )
    return row["registration_code"] if row else None


async def set_last_maintenance(unit_id: int, day: date) -> None:
    """A showcase unit's last maintenance day (its schedule is recomputed after)."""
    await Equipment.update({Equipment.last_maintenance_on: day}).where(Equipment.id == unit_id)


async def register_is_empty() -> bool:
    return not await Equipment.exists()


class MadeOrganisation(msgspec.Struct, frozen=True):
    id: int
    kind: str


async def add_organisations(
    rows: Sequence[Mapping[str, Any]], *, now: datetime
) -> list[MadeOrganisation]:
    """Insert the organisations (at version 1), in batches; their ids and kinds in order."""
    made: list[MadeOrganisation] = []
    for start in range(0, len(rows), 500):
        inserted = await Organisation.insert(
            *[
                Organisation(**row, version=1, created_at=now, updated_at=now)
                for row in rows[start : start + 500]
            ]
        ).returning(Organisation.id, Organisation.kind)
        made += [msgspec.convert(r, MadeOrganisation, strict=False) for r in inserted]
    return made


async def mark_hazardous_chemicals(every: int) -> None:
    """Every ``every``-th user unit (by id) handles hazardous chemicals (危化品相关)."""
    await Organisation.raw(
        "UPDATE organisation SET hazardous_chemicals = TRUE"
        f" WHERE kind = 'user_unit' AND id % {int(every)} = 0"
    )


async def analyze() -> None:
    """Fresh planner statistics on PostgreSQL after a bulk load (nothing on SQLite): the
    planner would otherwise guess a million-row table from an empty one."""
    if db.is_postgres():
        await db.engine().run_ddl("ANALYZE")


def batch_size() -> int:
    """Units per written batch: COPY takes large ones, SQLite's inserts smaller."""
    return 10_000 if db.is_postgres() else 500


EQUIPMENT_COLUMNS = (
    "code",
    "registration_code",
    "equipment_code",
    "category",
    "certificate_no",
    "manufacturer",
    "model",
    "serial_no",
    "manufacture_date",
    "commissioning_date",
    "registered_on",
    "address",
    "district_code",
    "longitude",
    "latitude",
    "user_unit",
    "maintenance_company",
    "owning_station",
    "status",
    "status_since",
    "late_registration",
    "parameters",
    "next_inspection_due",
    "not_fit_for_use",
    "last_maintenance_on",
    "version",
    "created_at",
    "updated_at",
)
INSPECTION_COLUMNS = (
    "equipment",
    "kind",
    "inspected_on",
    "conclusion",
    "reason",
    "report_no",
    "findings",
    "next_due_stated",
    "safety_grade",
    "answered_due_on",
    "on_time",
    "actor",
    "recorded_at",
)


class UnitBatch(Protocol):
    """One batch of demo units and their children, written in one transaction."""

    async def units(self, rows: Sequence[Mapping[str, Any]]) -> list[int]:
        """Write the units (EQUIPMENT_COLUMNS of each row); their ids, in order."""

    async def inspections(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Write inspections (INSPECTION_COLUMNS of each row)."""

    async def due_dates(self, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
        """Write due_date rows (``columns`` of each row)."""


class _CopyBatch:
    """PostgreSQL: asyncpg COPY on one pooled connection."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    async def units(self, rows: Sequence[Mapping[str, Any]]) -> list[int]:
        records = [
            tuple(
                json.dumps(row[c], ensure_ascii=False) if c == "parameters" else row[c]
                for c in EQUIPMENT_COLUMNS
            )
            for row in rows
        ]
        await self.connection.copy_records_to_table(
            "equipment", records=records, columns=list(EQUIPMENT_COLUMNS)
        )
        # Ids come from the sequence in COPY order; the batch's ids are the last n issued.
        last = await self.connection.fetchval(
            "SELECT currval(pg_get_serial_sequence('equipment', 'id'))"
        )
        return list(range(last - len(rows) + 1, last + 1))

    async def inspections(self, rows: Sequence[Mapping[str, Any]]) -> None:
        await self.connection.copy_records_to_table(
            "inspection",
            columns=list(INSPECTION_COLUMNS),
            records=[tuple(r[c] for c in INSPECTION_COLUMNS) for r in rows],
        )

    async def due_dates(self, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
        await self.connection.copy_records_to_table(
            "due_date", columns=list(columns), records=[tuple(r[c] for c in columns) for r in rows]
        )


class _InsertBatch:
    """SQLite: batched multi-row inserts in the task's transaction."""

    async def units(self, rows: Sequence[Mapping[str, Any]]) -> list[int]:
        inserted = await Equipment.insert(
            *[Equipment(**{c: row[c] for c in EQUIPMENT_COLUMNS}) for row in rows]
        ).returning(Equipment.id)
        return [int(r["id"]) for r in inserted]

    async def inspections(self, rows: Sequence[Mapping[str, Any]]) -> None:
        for start in range(0, len(rows), 500):
            await Inspection.insert(
                *[
                    Inspection(**{c: r[c] for c in INSPECTION_COLUMNS})
                    for r in rows[start : start + 500]
                ]
            )

    async def due_dates(self, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
        for start in range(0, len(rows), 500):
            await DueDate.insert(
                *[DueDate(**{c: r[c] for c in columns}) for r in rows[start : start + 500]]
            )


def _pool() -> Any:
    engine = db.engine()
    assert isinstance(engine, PostgresEngine)
    return engine.pool


@asynccontextmanager
async def unit_batch() -> AsyncIterator[UnitBatch]:
    """A batch writer whose writes commit together when the block ends."""
    if db.is_postgres():
        async with _pool().acquire() as connection, connection.transaction():
            yield _CopyBatch(connection)
        return
    async with db.transaction():
        yield _InsertBatch()


async def add_contracts(
    pairs: Sequence[tuple[int, int]],
    units_of: Mapping[tuple[int, int], Sequence[int]],
    *,
    starts: date,
    ends: date,
    cycle_days: int,
    actor: str,
    now: datetime,
) -> None:
    """One contract per (user unit, company) pair, covering ``units_of[pair]`` from
    ``starts`` to ``ends``: contracts inserted 1,000 at a time, their units by COPY on
    PostgreSQL and 500-row inserts on SQLite."""
    for start in range(0, len(pairs), 1000):
        chunk = pairs[start : start + 1000]
        rows = await MaintenanceContract.insert(
            *[
                MaintenanceContract(
                    user_unit=owner,
                    maintenance_company=company,
                    starts_on=starts,
                    ends_on=ends,
                    cycle_days=cycle_days,
                    on_demand=False,
                    liability_insured=False,
                    licence_no="",
                    actor=actor,
                    created_at=now,
                )
                for owner, company in chunk
            ]
        ).returning(MaintenanceContract.id)
        units = [
            (row["id"], unit_id, starts, ends)
            for row, pair in zip(rows, chunk, strict=True)
            for unit_id in units_of[pair]
        ]
        if db.is_postgres():
            async with _pool().acquire() as conn:
                await conn.copy_records_to_table(
                    "contract_unit",
                    records=units,
                    columns=["contract", "equipment", "starts_on", "ends_on"],
                )
        else:
            for part in range(0, len(units), 500):
                await ContractUnit.insert(
                    *[
                        ContractUnit(contract=c, equipment=e, starts_on=s, ends_on=t)
                        for c, e, s, t in units[part : part + 500]
                    ]
                )
