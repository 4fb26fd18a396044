"""Bulk maintenance upload: a 10,000-row CSV through the HTTP API beside a raw COPY.

    python -m bench.maintenance_upload [--rows 10000] [--repeat 5]

Besides the CSV body, the same rows as a browser's form sends them: a GBK CSV with
Chinese headers and an XLSX workbook with date cells (equipment/domain/record_sheets.py).

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
from openpyxl import Workbook

from bench.harness import free_port, machine, wait_until_up
from equipment.domain import record_sheets
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


def sheet_rows(lifts: list[dict], rows: int, run: str) -> list[list]:
    today = clock.today()
    return [
        [
            f"{run}-{i}",
            lifts[i % len(lifts)]["code"],
            today - timedelta(days=i % 60),
            "half_monthly",
            "曳引机润滑;门锁检查;制动器检查",
            "李强:T1-4206-0001;张伟:T1-4206-0002",
            "",
            "",
            "物业王经理",
        ]
        for i in range(rows)
    ]


def csv_bytes(lifts: list[dict], rows: int, run: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerows(sheet_rows(lifts, rows, run))
    return out.getvalue().encode("utf-8-sig")


def gbk_csv_bytes(lifts: list[dict], rows: int, run: str) -> bytes:
    """What Excel's "CSV (逗号分隔)" writes in China: GBK, Chinese headers, 2026/12/4."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([record_sheets.HEADERS_ZH[c] for c in COLUMNS])
    for row in sheet_rows(lifts, rows, run):
        day = row[2]
        writer.writerow([*row[:2], f"{day.year}/{day.month}/{day.day}", "半月", *row[4:]])
    return out.getvalue().encode("gbk")


def xlsx_bytes(lifts: list[dict], rows: int, run: str) -> bytes:
    """A workbook with Chinese headers and date cells, as Excel saves one."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append([record_sheets.HEADERS_ZH[c] for c in COLUMNS])
    for row in sheet_rows(lifts, rows, run):
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


# The three ways a file arrives: a CSV body, and a browser's form with a GBK CSV or an XLSX.
PATHS = (
    ("POST /api/v1/maintenance/records (CSV)", "csv"),
    ("... form, GBK CSV, Chinese headers", "gbk"),
    ("... form, XLSX, Chinese headers, date cells", "xlsx"),
)


async def setup(url: str) -> tuple[str, list[dict]]:
    """Demo city, a contract for the first company's lifts; its token and lifts."""
    from piccolo.engine.postgres import PostgresEngine

    from equipment.demo.load import load_demo_city
    from equipment.settings import DatabaseSettings
    from equipment.storage.tables import ContractUnit, Equipment

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
        # Only lifts under one of its contracts for the whole 60 days the rows span (the demo
        # city also hands lifts over to another maintainer, whose contract they lack).
        covered = {
            r["equipment"]
            for r in await ContractUnit.select(ContractUnit.equipment).where(
                ContractUnit.contract.maintenance_company == company,
                ContractUnit.starts_on <= clock.today() - timedelta(days=60),
                ContractUnit.ends_on >= clock.today(),
                ContractUnit.contract.terminated_on.is_null(),
            )
        }
        mine = [m for m in mine if m["id"] in covered]
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
        times: dict[str, list[float]] = {kind: [] for _, kind in PATHS}
        copy_times = []
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=300) as http:
            await wait_until_up(http)
            auth = {"Authorization": f"Bearer {token}"}
            for attempt in range(repeat):
                for _, kind in PATHS:
                    run_id = f"{kind}{attempt}"
                    if kind == "csv":
                        sent = {
                            "content": csv_bytes(lifts, rows, run_id),
                            "headers": {**auth, "Content-Type": "text/csv"},
                        }
                    elif kind == "gbk":
                        data = gbk_csv_bytes(lifts, rows, run_id)
                        sent = {"files": {"file": ("维保.csv", data, "text/csv")}, "headers": auth}
                    else:
                        data = xlsx_bytes(lifts, rows, run_id)
                        sent = {
                            "files": {"file": ("维保.xlsx", data, record_sheets.XLSX_MEDIA_TYPE)},
                            "headers": auth,
                        }
                    started = time.perf_counter()
                    response = await http.post("/api/v1/maintenance/records", **sent)
                    times[kind].append(time.perf_counter() - started)
                    report = response.json()
                    if response.status_code != 200 or report["stored"] != rows:
                        sys.exit(f"{kind} upload did not store every row: {str(report)[:500]}")
                copy_times.append(await raw_copy(url, csv_bytes(lifts, rows, f"c{attempt}"), lifts))
        copy = statistics.median(copy_times)
        api = statistics.median(times["csv"])
        print(f"# maintenance upload, {rows:,} rows, median of {repeat} runs")
        print(f"machine: {machine()}")
        print("| path | seconds | rows/s | vs raw COPY |")
        print("| --- | ---: | ---: | ---: |")
        print(
            f"| raw asyncpg COPY of the parsed rows (floor) | {copy:.3f} | "
            f"{rows / copy:,.0f} | 1.00x |"
        )
        for label, kind in PATHS:
            took = statistics.median(times[kind])
            print(f"| {label} | {took:.3f} | {rows / took:,.0f} | {copy / took:.2f}x |")
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
