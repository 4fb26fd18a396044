"""Bulk load of the register: ``sereg demo`` beside a raw asyncpg COPY of the same rows.

    python -m bench.demo_load [--units 200000]

Uses a scratch database on the PostgreSQL of ``SEREG_TEST_PG`` (default: local, user
postgres). Three figures, same rows, same table and indexes, same run:
  - generating the rows alone (Python);
  - raw COPY of the pre-generated rows (the floor);
  - the full ``load_demo_city`` path (generation overlapped with COPY, audit, ANALYZE).
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

import asyncpg
from piccolo.engine.postgres import PostgresEngine

from bench.harness import machine
from equipment.demo import city
from equipment.demo.load import EQUIPMENT_COLUMNS, load_demo_city
from equipment.services import clock, db
from sereg.settings import DatabaseSettings

ADMIN_URL = os.environ.get("SEREG_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


async def run(units: int) -> None:
    name = f"sereg_bench_load_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    env = {**os.environ, "DATABASE_URL": url, "PICCOLO_CONF": "piccolo_conf"}
    await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "sereg.cli", "migrate"],
        env=env,
        check=True,
        capture_output=True,
    )
    engine = PostgresEngine(config=DatabaseSettings(url=url).postgres_config())
    await engine.start_connection_pool(min_size=2, max_size=4)
    db.bind(engine)
    today, now = clock.today(), clock.now()
    try:
        started = time.perf_counter()
        org_ids = await load_demo_city(
            seed=1, units=units, today=today, now=now, show_progress=False
        )
        full = time.perf_counter() - started

        started = time.perf_counter()
        rows = list(city.units(1, units, today, org_ids))
        generate = time.perf_counter() - started
        records = [
            tuple(
                json.dumps(r[c], ensure_ascii=False) if c == "parameters" else r.get(c, now)
                for c in EQUIPMENT_COLUMNS
            )
            for r in ({**r, "version": 1} for r in rows)
        ]
        async with engine.pool.acquire() as conn:
            await conn.execute("TRUNCATE equipment RESTART IDENTITY CASCADE")
            started = time.perf_counter()
            await conn.copy_records_to_table(
                "equipment", records=records, columns=list(EQUIPMENT_COLUMNS)
            )
            copy = time.perf_counter() - started
    finally:
        await engine.close_connection_pool()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

    print(f"# register bulk load, {units:,} units into PostgreSQL")
    print(f"machine: {machine()}")
    print("| step | seconds | units/s | vs raw COPY |")
    print("| --- | ---: | ---: | ---: |")
    for label, seconds in (
        ("raw asyncpg COPY of pre-generated rows (floor)", copy),
        ("generate rows only (Python)", generate),
        ("sereg demo path (load_demo_city)", full),
    ):
        print(f"| {label} | {seconds:.2f} | {units / seconds:,.0f} | {copy / seconds:.2f}x |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=200_000)
    asyncio.run(run(parser.parse_args().units))


if __name__ == "__main__":
    main()
