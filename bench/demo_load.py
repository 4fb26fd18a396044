"""Bulk load of the register: ``sereg demo`` beside a raw asyncpg COPY of the same rows.

    python -m bench.demo_load [--units 100000]

Uses scratch databases on the PostgreSQL of ``SEREG_TEST_PG`` (default: local, user
postgres), each fresh and migrated, dropped at the end. A unit is written as one
equipment row, its inspection history and its due dates; every figure counts the rows of
all three tables. Same rows, same tables and indexes, same run:
  - raw COPY of the pre-generated rows, three COPYs in one transaction (the floor);
  - generating the units alone (Python: city, history, schedule by the real rules);
  - building the COPY records from them (Python: child rows, tuples);
  - the full ``load_demo_city`` path (generation in a thread overlapped with batched COPY,
    audit, ANALYZE, and what else ``sereg demo`` writes: maintenance contracts, the demo
    areas with every unit assigned to them; the rows of those tables are listed apart).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime

import asyncpg
from piccolo.engine.postgres import PostgresEngine

from bench.harness import machine
from equipment.demo import city
from equipment.demo.load import (
    DUE_COLUMNS,
    DemoUnit,
    _children,
    demo_units,
    load_demo_city,
)
from equipment.services import clock
from equipment.settings import DatabaseSettings
from equipment.storage import db
from equipment.storage.demo_load import EQUIPMENT_COLUMNS, INSPECTION_COLUMNS
from geo.demo_areas import demo_areas

ADMIN_URL = os.environ.get("SEREG_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
SEED = 1
TABLES = ("equipment", "inspection", "due_date")

Records = dict[str, list[tuple]]


@asynccontextmanager
async def scratch_database(admin: asyncpg.Connection) -> AsyncIterator[str]:
    """A fresh database with the register's migrations; dropped on the way out."""
    name = f"sereg_bench_load_{uuid.uuid4().hex[:8]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        env = {**os.environ, "DATABASE_URL": url, "PICCOLO_CONF": "piccolo_conf"}
        await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "sereg.cli", "migrate"],
            env=env,
            check=True,
            capture_output=True,
        )
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def row_counts(conn: asyncpg.Connection, tables: tuple[str, ...] = TABLES) -> dict[str, int]:
    return {t: await conn.fetchval(f'SELECT count(*) FROM "{t}"') for t in tables}


async def generated_counts(conn: asyncpg.Connection, units: int) -> dict[str, int]:
    """The rows of the ``units`` generated units (ids 1..units): the demo path adds a few
    showcase units of its own after them (equipment/demo/showcase.py), which the floor does
    not write and which must not make the two paths' counts differ."""
    column = {"equipment": "id", "inspection": "equipment", "due_date": "equipment"}
    return {
        t: await conn.fetchval(f'SELECT count(*) FROM "{t}" WHERE {column[t]} <= $1', units)
        for t in TABLES
    }


async def other_rows(conn: asyncpg.Connection) -> dict[str, int]:
    """Rows of the other register tables (not organisations): the rest of the demo city."""
    names = await conn.fetch(
        "SELECT relname FROM pg_stat_user_tables WHERE relname <> ALL($1::text[]) ORDER BY relname",
        [*TABLES, "organisation", "migration"],
    )
    counts = await row_counts(conn, tuple(r["relname"] for r in names))
    return {t: n for t, n in counts.items() if n}


async def copy_organisations(
    conn: asyncpg.Connection, units: int, today: date, now: datetime
) -> dict[str, list[int]]:
    """The demo organisations (not timed), in the order ``load_demo_city`` inserts them."""
    orgs = [
        {**o.__dict__, "version": 1, "created_at": now, "updated_at": now}
        for o in city.organisations(SEED, units, today)
    ]
    columns = list(orgs[0])
    await conn.copy_records_to_table(
        "organisation", columns=columns, records=[tuple(o[c] for c in columns) for o in orgs]
    )
    org_ids: dict[str, list[int]] = {}
    for row in await conn.fetch("SELECT id, kind FROM organisation ORDER BY id"):
        org_ids.setdefault(row["kind"], []).append(row["id"])
    return org_ids


def copy_records(units: list[DemoUnit], now: datetime) -> Records:
    """The three tables' records exactly as the loader's COPY batches build them; ids are
    1..n, the sequence of a fresh table."""
    for unit in units:
        unit.row.update(version=1, created_at=now, updated_at=now)
    inspections, dues = _children(units, list(range(1, len(units) + 1)), now)
    return {
        "equipment": [
            tuple(
                json.dumps(u.row[c], ensure_ascii=False) if c == "parameters" else u.row[c]
                for c in EQUIPMENT_COLUMNS
            )
            for u in units
        ],
        "inspection": [tuple(r[c] for c in INSPECTION_COLUMNS) for r in inspections],
        "due_date": [tuple(r[c] for c in DUE_COLUMNS) for r in dues],
    }


async def floor_and_generation(
    admin: asyncpg.Connection, units: int, today: date, now: datetime
) -> tuple[dict[str, float], dict[str, int], dict[str, list[int]]]:
    seconds: dict[str, float] = {}
    async with scratch_database(admin) as url:
        conn = await asyncpg.connect(url)
        try:
            org_ids = await copy_organisations(conn, units, today, now)
            started = time.perf_counter()
            generated = list(demo_units(SEED, units, today, org_ids, demo_areas(SEED)))
            seconds["generate"] = time.perf_counter() - started
            started = time.perf_counter()
            records = copy_records(generated, now)
            seconds["build"] = time.perf_counter() - started
            del generated
            columns = {
                "equipment": EQUIPMENT_COLUMNS,
                "inspection": INSPECTION_COLUMNS,
                "due_date": DUE_COLUMNS,
            }
            started = time.perf_counter()
            async with conn.transaction():
                for table in TABLES:
                    table_started = time.perf_counter()
                    await conn.copy_records_to_table(
                        table, records=records[table], columns=list(columns[table])
                    )
                    seconds[table] = time.perf_counter() - table_started
            seconds["copy"] = time.perf_counter() - started
            assert await conn.fetchval("SELECT max(id) FROM equipment") == units
            counts = await row_counts(conn)
        finally:
            await conn.close()
    return seconds, counts, org_ids


async def full_path(
    admin: asyncpg.Connection, units: int, today: date, now: datetime
) -> tuple[float, dict[str, int], dict[str, int], dict[str, list[int]]]:
    async with scratch_database(admin) as url:
        engine = PostgresEngine(config=DatabaseSettings(url=url).postgres_config())
        await engine.start_connection_pool(min_size=2, max_size=4)
        db.bind(engine)
        try:
            started = time.perf_counter()
            org_ids = await load_demo_city(
                seed=SEED, units=units, today=today, now=now, show_progress=False
            )
            seconds = time.perf_counter() - started
            async with engine.pool.acquire() as conn:
                counts = await generated_counts(conn, units)
                others = await other_rows(conn)
        finally:
            await engine.close_connection_pool()
    return seconds, counts, others, org_ids


async def run(units: int) -> None:
    today, now = clock.today(), clock.now()
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        seconds, counts, floor_orgs = await floor_and_generation(admin, units, today, now)
        full, full_counts, others, full_orgs = await full_path(admin, units, today, now)
    finally:
        await admin.close()
    assert floor_orgs == full_orgs, "the floor and the full path see different organisations"
    assert counts == full_counts, f"the floor wrote {counts}, the full path {full_counts}"

    rows = sum(counts.values())
    copy = seconds["copy"]
    print(f"# register bulk load, {units:,} units into PostgreSQL")
    print(f"machine: {machine()}")
    print(
        f"rows per run: {rows:,} = "
        + " + ".join(f"{counts[t]:,} {t}" for t in TABLES)
        + f" ({rows / units:.1f} rows per unit)"
    )
    print(
        "raw COPY by table: "
        + ", ".join(
            f"{t} {seconds[t]:.2f} s ({counts[t] / seconds[t]:,.0f} rows/s)" for t in TABLES
        )
    )
    print("the full path also writes: " + ", ".join(f"{n:,} {t}" for t, n in others.items()))
    print()
    print("| step | seconds | rows/s (3 tables) | units/s | vs raw COPY |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for label, took in (
        ("raw asyncpg COPY of pre-generated rows (floor)", copy),
        ("generate units: city, history, schedule (Python)", seconds["generate"]),
        ("build COPY records from the units (Python)", seconds["build"]),
        ("sereg demo path (load_demo_city)", full),
    ):
        print(
            f"| {label} | {took:.2f} | {rows / took:,.0f} | {units / took:,.0f} |"
            f" {copy / took:.2f}x |"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=100_000)
    asyncio.run(run(parser.parse_args().units))


if __name__ == "__main__":
    main()
