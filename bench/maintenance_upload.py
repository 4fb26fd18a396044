"""Bulk maintenance upload: a 10,000-row CSV through the HTTP API beside a raw COPY.

    python -m bench.maintenance_upload [--rows 10000] [--repeat 5]

Builds a scratch PostgreSQL database (on ``SEREG_TEST_PG``'s server) with a small demo
city and one maintenance contract covering a company's lifts, starts ``sereg serve`` on
it, and in the same run measures:
  - the floor: asyncpg ``copy_records_to_table`` of the same rows into
    maintenance_record (same table, same indexes), no validation;
  - the API: ``POST /api/v1/maintenance/records`` with the CSV (parse, validate each row
    against the register and the contracts, store, advance the due dates).
Target (issue 4): the API at least a tenth of COPY's rate.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import timedelta

import asyncpg
import httpx

from bench.harness import free_port, machine, wait_until_up
from equipment.domain.access import SYSTEM, Role
from equipment.services import clock, tokens
from equipment.storage import db

ADMIN_URL = os.environ.get("SEREG_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
COLUMNS = [
    "record_id",
    "code",
    "maintained_on",
    "level",
    "items",
    "technicians",
    "findings",
    "hazards",
    "signed_off_by",
]


def csv_bytes(lifts: list[dict], rows: int, run: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    today = clock.today()
    for i in range(rows):
        lift = lifts[i % len(lifts)]
        writer.writerow(
            [
                f"{run}-{i}",
                lift["code"],
                today - timedelta(days=i % 60),
                "half_monthly",
                "曳引机润滑;门锁检查;制动器检查",
                "李强:T1-4206-0001;张伟:T1-4206-0002",
                "",
                "",
                "物业王经理",
            ]
        )
    return out.getvalue().encode("utf-8-sig")


async def setup(url: str) -> tuple[str, list[dict]]:
    """Demo city, a contract for the first company's lifts; its token and lifts."""
    from piccolo.engine.postgres import PostgresEngine

    from equipment.demo.load import load_demo_city
    from equipment.tables import Equipment
    from sereg.settings import DatabaseSettings

    engine = PostgresEngine(config=DatabaseSettings(url=url).postgres_config())
    await engine.start_connection_pool(min_size=1, max_size=4)
    db.bind(engine)
    try:
        org_ids = await load_demo_city(
            seed=7, units=3000, today=clock.today(), now=clock.now(), show_progress=False
        )
        company = org_ids["maintenance_company"][0]
        old_enough = clock.today() - timedelta(days=90)
        # The demo city already puts every maintained lift under its company's contract:
        # upload for the first company's own lifts.
        mine = (
            await Equipment.select(Equipment.id, Equipment.code, Equipment.user_unit)
            .where(
                Equipment.category.like("31%"),
                Equipment.status == "in_use",
                Equipment.commissioning_date < old_enough,
                Equipment.maintenance_company == company,
            )
            .limit(500)
        )
        if not mine:
            raise SystemExit("the demo city gave the first maintenance company no lifts")
        token, _ = await tokens.create_token(
            SYSTEM, role=Role.MAINTENANCE, organisation_id=company, label="bench", now=clock.now()
        )
        return token, mine
    finally:
        await engine.close_connection_pool()


async def raw_copy(url: str, body: bytes, lifts: list[dict]) -> float:
    """Seconds for asyncpg COPY of the same rows (already parsed) into maintenance_record."""
    conn = await asyncpg.connect(url)
    try:
        contract = await conn.fetchval("SELECT max(id) FROM maintenance_contract")
        company = await conn.fetchval(
            "SELECT maintenance_company FROM maintenance_contract WHERE id = $1", contract
        )
        ids = {u["code"]: u["id"] for u in lifts}
        reader = csv.DictReader(io.StringIO(body.decode("utf-8-sig")))
        now = clock.now()
        records = [
            (
                ids[r["code"]],
                contract,
                company,
                "raw-" + r["record_id"],
                clock.today() - timedelta(days=int(r["record_id"].rsplit("-", 1)[1]) % 60),
                r["level"],
                json.dumps(r["items"].split(";"), ensure_ascii=False),
                json.dumps(
                    [
                        dict(zip(("name", "certificate_no"), t.split(":"), strict=True))
                        for t in r["technicians"].split(";")
                    ],
                    ensure_ascii=False,
                ),
                "",
                "[]",
                r["signed_off_by"],
                "",
                now,
            )
            for r in reader
        ]
        started = time.perf_counter()
        await conn.copy_records_to_table(
            "maintenance_record",
            records=records,
            columns=[
                "equipment",
                "contract",
                "maintenance_company",
                "record_id",
                "maintained_on",
                "level",
                "items",
                "technicians",
                "findings",
                "hazards",
                "signed_off_by",
                "suspicious_reason",
                "recorded_at",
            ],
        )
        return time.perf_counter() - started
    finally:
        await conn.close()


async def run(rows: int, repeat: int) -> None:
    name = f"sereg_bench_upload_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    env = {**os.environ, "DATABASE_URL": url, "PICCOLO_CONF": "piccolo_conf"}
    server = None
    try:
        await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "sereg.cli", "migrate"],
            env=env,
            check=True,
            capture_output=True,
        )
        token, lifts = await setup(url)
        port = free_port()
        server = subprocess.Popen(  # noqa: ASYNC220 - starts at once, never awaited
            [sys.executable, "-m", "sereg.cli", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        api_times, copy_times = [], []
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as http:
            await wait_until_up(http)
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/csv"}
            for attempt in range(repeat):
                body = csv_bytes(lifts, rows, f"run{attempt}")
                started = time.perf_counter()
                response = await http.post(
                    "/api/v1/maintenance/records", content=body, headers=headers
                )
                api_times.append(time.perf_counter() - started)
                report = response.json()
                if response.status_code != 200 or report["stored"] != rows:
                    sys.exit(f"upload did not store every row: {str(report)[:500]}")
                copy_times.append(await raw_copy(url, csv_bytes(lifts, rows, f"c{attempt}"), lifts))
        api, copy = statistics.median(api_times), statistics.median(copy_times)
        print(f"# maintenance upload, {rows:,}-row CSV, median of {repeat} runs")
        print(f"machine: {machine()}")
        print("| path | seconds | rows/s | vs raw COPY |")
        print("| --- | ---: | ---: | ---: |")
        print(
            f"| raw asyncpg COPY of the parsed rows (floor) | {copy:.3f} | "
            f"{rows / copy:,.0f} | 1.00x |"
        )
        print(
            f"| POST /api/v1/maintenance/records (CSV) | {api:.3f} | {rows / api:,.0f} | "
            f"{copy / api:.2f}x |"
        )
        print(f"target: API >= 0.10x of COPY -> {'met' if copy / api >= 0.1 else 'NOT met'}")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(run(args.rows, args.repeat))


if __name__ == "__main__":
    main()
