"""The register import at scale: a legacy export of N rows (default 10^6) dry-run and
committed, each as its own ``sereg import`` process, beside a raw COPY of the same rows.

Prints the dry run's wall time (target ≤ 2 min for 10^6 rows), the commit's throughput
beside the floor (asyncpg ``COPY`` of the committed equipment rows into a scratch table
shaped like the register, its indexes included; target: commit ≥ 0.2× COPY), the peak RSS
of each process, its check workers included (the file is streamed, so it must not grow
with N: compare two sizes) and the load average before and after.

    .venv/bin/python -m bench.import_register [--rows 1000000] [--database sereg_bench_import]

Makes (drops and re-creates) the PostgreSQL database it names on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from bench.harness import machine
from equipment.demo import city
from equipment.demo.legacy_export import USER_UNITS
from equipment.services import clock

ADMIN_URL = os.environ.get("SEREG_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
ROOT = Path(__file__).resolve().parent.parent
COLUMNS = (
    "code, registration_code, equipment_code, category, certificate_no, manufacturer, model,"
    " serial_no, manufacture_date, commissioning_date, registered_on, address, district_code,"
    " longitude, latitude, user_unit, status, status_since, next_inspection_due"
)


def _url(database: str) -> str:
    return ADMIN_URL.rsplit("/", 1)[0] + "/" + database


def _run(args: list[str], env: dict[str, str]) -> tuple[float, int, str, float]:
    """(wall seconds, peak RSS in MiB, stdout, CPU seconds) of one ``sereg`` process; the
    CPU is its own and its check workers' (user + system: what the load does not change,
    unlike the wall time; the database server's is not in it)."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "sereg.cli", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert child.stdout is not None
    out = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"sereg {' '.join(args)} failed: {out}")
    cpu = usage.ru_utime + usage.ru_stime
    return time.perf_counter() - started, usage.ru_maxrss // 1024, out, cpu


async def _prepare(database: str) -> None:
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()


async def _organisations(database: str) -> None:
    """The demo city's first user units: the ones the export names."""
    today, now = clock.today(), datetime.now(UTC)
    demo = [o for o in city.organisations(420600, USER_UNITS * 25, today) if o.kind == "user_unit"]
    conn = await asyncpg.connect(_url(database))
    try:
        await conn.executemany(
            "INSERT INTO organisation (kind, credit_code, name, contact_name, contact_phone,"
            " public_phone, address, version, created_at, updated_at)"
            " VALUES ('user_unit', $1, $2, '', '', '', '', 1, $3, $3)",
            [(o.credit_code, o.name, now) for o in demo[:USER_UNITS]],
        )
    finally:
        await conn.close()


async def _copy_floor(database: str) -> tuple[int, float]:
    """COPY of the committed rows' equipment columns into a scratch table: (rows, s)."""
    conn = await asyncpg.connect(_url(database))
    try:
        await conn.execute("DROP TABLE IF EXISTS copy_floor")
        # The register's own shape: its indexes, unique codes and defaults, so the floor
        # pays what any insert into the register pays.
        await conn.execute("CREATE TABLE copy_floor (LIKE equipment INCLUDING ALL)")
        with tempfile.TemporaryFile() as dump:
            await conn.copy_from_query(f"SELECT {COLUMNS} FROM equipment", output=dump)
            dump.seek(0)
            started = time.perf_counter()
            result = await conn.copy_to_table(
                "copy_floor", source=dump, columns=[c.strip() for c in COLUMNS.split(",")]
            )
            seconds = time.perf_counter() - started
        return int(result.split()[-1]), seconds
    finally:
        await conn.close()


async def _copy_written(database: str) -> tuple[int, float]:
    """COPY of every row the commit wrote to the register's tables (the units, their due
    dates and their inspections, as the register bulk-load bench's floor) into scratch
    tables shaped like them: (rows, s)."""
    conn = await asyncpg.connect(_url(database))
    rows, seconds = 0, 0.0
    try:
        for table in ("equipment", "due_date", "inspection"):
            await conn.execute(f"DROP TABLE IF EXISTS floor_{table}")
            await conn.execute(f"CREATE TABLE floor_{table} (LIKE {table} INCLUDING ALL)")
            with tempfile.TemporaryFile() as dump:
                await conn.copy_from_table(table, output=dump)
                dump.seek(0)
                started = time.perf_counter()
                result = await conn.copy_to_table(f"floor_{table}", source=dump)
                seconds += time.perf_counter() - started
            rows += int(result.split()[-1])
            await conn.execute(f"DROP TABLE floor_{table}")
        return rows, seconds
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database", default="sereg_bench_import")
    parser.add_argument("--batch", type=int, default=5000)
    args = parser.parse_args()
    load_before = os.getloadavg()
    env = {**os.environ, "DATABASE_URL": _url(args.database), "PICCOLO_CONF": "piccolo_conf"}
    asyncio.run(_prepare(args.database))
    _run(["migrate"], env)
    asyncio.run(_organisations(args.database))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "legacy.csv"
        # Written by a child process: a child's peak RSS starts from its parent's at the
        # fork, so this process stays small (the generator holds its rows) and the import
        # processes' figures are their own (their spawned check workers' peaks included).
        made_s, _, _, _ = _run(
            [
                "demo",
                "legacy-export",
                "--rows",
                str(args.rows),
                "--seed",
                "420600",
                "--out",
                str(path),
            ],
            env,
        )
        manifest = json.loads(path.with_name(path.name + ".manifest.json").read_text("utf-8"))
        size_mib = path.stat().st_size / 2**20
        dry_s, dry_rss, out, dry_cpu = _run(["import", "register", str(path)], env)
        job = out.split()[1]
        commit_s, commit_rss, _, commit_cpu = _run(
            ["import", "commit", job, "--batch", str(args.batch)], env
        )
    copied, copy_s = asyncio.run(_copy_floor(args.database))
    written, written_s = asyncio.run(_copy_written(args.database))
    load_after = os.getloadavg()
    accepted = manifest["accepted_rows"]
    commit_rate, copy_rate = accepted / commit_s, copied / copy_s
    print(f"machine: {machine()}")
    print(
        f"load average before {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f},"
        f" after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}"
    )
    print(
        f"export: {args.rows:,} rows, {size_mib:.0f} MiB GBK CSV, written in {made_s:.0f} s;"
        f" {accepted:,} rows accepted"
    )
    print("| step | rows | seconds | rows/s | peak RSS MiB | target |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(
        f"| dry run (parse, check, stage) | {args.rows:,} | {dry_s:.1f} |"
        f" {args.rows / dry_s:,.0f} | {dry_rss} | ≤ 120 s for 10^6 rows |"
    )
    print(
        f"| commit (batches of {args.batch:,}) | {accepted:,} | {commit_s:.1f} |"
        f" {commit_rate:,.0f} | {commit_rss} | ≥ 0.2× COPY |"
    )
    print(
        f"| raw COPY of the same rows (floor) | {copied:,} | {copy_s:.1f} | {copy_rate:,.0f} | | |"
    )
    print(
        f"| raw COPY of every row the commit wrote (units, due dates, inspections) | {written:,}"
        f" | {written_s:.1f} | {written / written_s:,.0f} | | |"
    )
    print(
        f"CPU (process and its workers, load-independent): dry run {dry_cpu:.1f} s"
        f" = {dry_cpu / args.rows * 1e6:.0f} µs a row; commit {commit_cpu:.1f} s"
        f" = {commit_cpu / accepted * 1e6:.0f} µs a row (the server's not included)"
    )
    print(f"commit / COPY = {commit_rate / copy_rate:.2f} (target ≥ 0.20)")
    print(
        f"commit / COPY of every row it wrote = {written_s / commit_s:.2f}"
        " (the same units' rows in all three tables, COPY time over commit time)"
    )


if __name__ == "__main__":
    main()
