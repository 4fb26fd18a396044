"""Write the demo city: asyncpg COPY on PostgreSQL, batched inserts on SQLite."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from itertools import islice
from typing import Any, TextIO

from equipment.demo import city
from equipment.domain.access import SYSTEM
from equipment.services import audit, db
from equipment.tables import Equipment, Organisation

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
    "version",
    "created_at",
    "updated_at",
)


class Progress:
    """A one-line progress bar on stderr (no dependency for 20 lines of output)."""

    def __init__(self, total: int, label: str, stream: TextIO = sys.stderr) -> None:
        self.total, self.label, self.stream = total, label, stream
        self.started = time.perf_counter()
        self.done = 0

    def advance(self, n: int) -> None:
        self.done += n
        share = self.done / self.total if self.total else 1.0
        bar = "#" * int(share * 30)
        elapsed = time.perf_counter() - self.started
        self.stream.write(
            f"\r{self.label} [{bar:<30}] {self.done:>9,}/{self.total:,} {elapsed:6.1f} s"
        )
        if self.done >= self.total:
            self.stream.write("\n")
        self.stream.flush()


def _batches(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


async def register_is_empty() -> bool:
    return not await Equipment.exists()


async def load_demo_city(
    *, seed: int, units: int, today: date, now: datetime, show_progress: bool = True
) -> dict[str, list[int]]:
    """Organisations, then ``units`` units; returns the organisation ids by kind."""
    orgs = city.organisations(seed, units, today)
    org_ids: dict[str, list[int]] = {}
    for batch in _batches(({**o.__dict__} for o in orgs), 500):
        rows = await Organisation.insert(
            *[Organisation(**o, version=1, created_at=now, updated_at=now) for o in batch]
        ).returning(Organisation.id, Organisation.kind)
        for row in rows:
            org_ids.setdefault(row["kind"], []).append(row["id"])
    progress = Progress(units, "demo units") if show_progress else None
    batch_size = 20_000 if db.is_postgres() else 500
    batches = _batches(city.units(seed, units, today, org_ids), batch_size)
    # Generate the next batch in a thread while the database takes the current one:
    # generation and COPY each take about half of a load's time.
    batch = await asyncio.to_thread(next, batches, None)
    while batch is not None:
        writing = asyncio.ensure_future(_write_units(batch, now))
        following = await asyncio.to_thread(next, batches, None)
        first, last = await writing
        # One audit entry per batch: a bulk import is one act of the registration office.
        await audit.record(
            SYSTEM,
            entity="equipment",
            entity_id=first,
            action="import",
            at=now,
            before=None,
            after={
                "source": f"demo city seed {seed}",
                "first_id": first,
                "last_id": last,
                "count": len(batch),
            },
        )
        if progress:
            progress.advance(len(batch))
        batch = following
    if db.is_postgres():
        # Fresh statistics, or the planner guesses a million-row table from an empty one.
        await db.engine().run_ddl("ANALYZE")
    return org_ids


async def _write_units(batch: list[dict[str, Any]], now: datetime) -> tuple[int, int]:
    for row in batch:
        row.update(version=1, created_at=now, updated_at=now)
    if db.is_postgres():
        records = [
            tuple(
                json.dumps(r[c], ensure_ascii=False) if c == "parameters" else r[c]
                for c in EQUIPMENT_COLUMNS
            )
            for r in batch
        ]
        async with db.engine().pool.acquire() as conn, conn.transaction():
            await conn.copy_records_to_table(
                "equipment", records=records, columns=list(EQUIPMENT_COLUMNS)
            )
            first, last = await conn.fetchrow(
                "SELECT min(id), max(id) FROM (SELECT id FROM equipment ORDER BY id DESC "
                "LIMIT $1) t",
                len(batch),
            )
        return first, last
    async with db.transaction():
        ids = await Equipment.insert(*[Equipment(**r) for r in batch]).returning(Equipment.id)
    return ids[0]["id"], ids[-1]["id"]
