"""Risk grades on a large register: the whole-register recompute beside its floor, and the
area summary sorted by grade at a fixed rate.

    DATABASE_URL=postgresql://... python -m bench.risk_recompute [--rate 100] [--seconds 10]

Needs a register loaded with ``sereg demo --units N`` (which grades it at the end).
Measures, in this order:

  - the floor: the statement that gathers every input of the grade (the unit, its last
    uncorrected inspection, open hazards, 90 days of alarms, late maintenance, old
    residential membership, the user unit's flag), run bare through asyncpg over the same
    id ranges, rows fetched and dropped: what the database alone costs;
  - ``recompute_all`` with nothing changed (gather, score every unit, write nothing);
  - ``recompute_all`` after a policy change that moves many grades (the red threshold
    lowered to the orange one): every changed unit written, its due dates' copy and a
    history row; then back to the default policy (the same again the other way). The
    history rows these two passes write are deleted at the end;
  - ``GET /api/v1/areas/summary?sort=-grade`` at ``--rate`` req/s (the light client of
    bench/harness.py) beside ``GET /health`` and the summary's statement bare through
    asyncpg. The server caches an answer while the register is unchanged; its cache is
    what a busy area summary serves, so the uncached statement is listed apart.

Prints the load average before and after: the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import time
from datetime import UTC, datetime

import asyncpg
import httpx

from bench.harness import (
    HEADER,
    LeanHttp,
    admin_token,
    fixed_rate,
    free_port,
    machine,
    start_server,
    wait_until_up,
)
from equipment.domain.access import SYSTEM
from equipment.domain.risk import load_risk_policy
from equipment.services import areas, clock, policies, risk
from equipment.settings import DatabaseSettings, settings_from_env
from equipment.storage import db
from equipment.storage.risk import gather_sql

TARGET_RECOMPUTE_S = 60.0
TARGET_SUMMARY_P99_MS = 20.0


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


async def floor(url: str, batch: int, now: datetime) -> tuple[float, int]:
    """The gather statement over every id range, bare: seconds and rows."""
    connection = await asyncpg.connect(url)
    try:
        lo, hi = await connection.fetchrow("SELECT MIN(id), MAX(id) FROM equipment")
        sql = gather_sql(True, by_range=True)
        today = now.astimezone(clock.CHINA).date()
        started = time.perf_counter()
        rows = 0
        for start in range(lo, hi + 1, batch):
            rows += len(
                await connection.fetch(sql, start, start + batch, today, now - risk.ALARM_WINDOW)
            )
        return time.perf_counter() - started, rows
    finally:
        await connection.close()


async def recompute(url: str, batch: int, now: datetime) -> list[tuple[str, risk.Recompute]]:
    from piccolo.engine.postgres import PostgresEngine

    engine = PostgresEngine(config=DatabaseSettings(url=url).postgres_config())
    await engine.start_connection_pool(min_size=1, max_size=2)
    previous = db.engine()
    db.bind(engine)
    out = []
    try:
        started_at = datetime.now(UTC)
        out.append(("recompute, nothing changed", await risk.recompute_all(now=now, batch=batch)))
        lowered = load_risk_policy({"thresholds": {"red": 7.5}})
        policies.install(policies.Policies(risk=lowered))
        out.append(
            ("recompute after a policy change", await risk.recompute_all(now=now, batch=batch))
        )
        policies.install(policies.Policies())
        out.append(
            ("recompute back to the default policy", await risk.recompute_all(now=now, batch=batch))
        )
        async with engine.pool.acquire() as connection:
            await connection.execute("DELETE FROM risk_change WHERE changed_at >= $1", started_at)
    finally:
        policies.install(policies.Policies())
        db.bind(previous)
        await engine.close_connection_pool()
    return out


async def summary_latency(url: str, port: int, token: str, rate: float, seconds: float) -> None:
    pool = await asyncpg.create_pool(url, min_size=2, max_size=4)
    http = LeanHttp(port)
    headers = {"Authorization": f"Bearer {token}"}
    path = "/api/v1/areas/summary?sort=-grade&limit=50"
    query = areas.summary_query(
        SYSTEM,
        kind=None,
        category_prefix=None,
        sort="-grade",
        limit=50,
        today=clock.today(),
    )
    sql, args = query.querystrings[0].compile_string(engine_type="postgres")
    # Up first (the light client has no retry of a refused connection).
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as probe:
        await wait_until_up(probe, attempts=300)
        (await probe.get(path, headers=headers)).raise_for_status()

    async def api(_: int) -> bool:
        status, _ = await http.get(path, headers)
        return status == 200

    async def health(_: int) -> bool:
        status, _ = await http.get("/health", headers)
        return status == 200

    async def bare(_: int) -> bool:
        await pool.fetch(sql, *args)
        return True

    started = time.perf_counter()
    await pool.fetch(sql, *args)
    single = (time.perf_counter() - started) * 1000
    print(f"area summary statement, uncached, once: {single:.1f} ms")
    print()
    print(HEADER)
    for name, call, r in (
        ("HTTP floor: GET /health", health, rate),
        ("DB: area summary statement (uncached)", bare, 1.0),
        ("API: /areas/summary?sort=-grade", api, rate),
    ):
        gc.collect()
        gc.disable()
        try:
            result = await fixed_rate(name, call, rate=r, seconds=seconds)
        finally:
            gc.enable()
        print(result.row(), flush=True)
        if name.startswith("API"):
            verdict = "met" if result.p99_ms <= TARGET_SUMMARY_P99_MS else "NOT met"
            print(f"\ntarget p99 <= {TARGET_SUMMARY_P99_MS:.0f} ms: {verdict}")
    await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--batch", type=int, default=risk.BATCH)
    parser.add_argument(
        "--summary-only", action="store_true", help="only the area summary's latency"
    )
    args = parser.parse_args()
    settings = settings_from_env()
    if not settings.database.is_postgres:
        sys.exit("set DATABASE_URL to the PostgreSQL register loaded by 'sereg demo'")
    url = settings.database.url
    now = clock.now()
    print(f"machine: {machine()}")
    print(f"load average before: {load()}")

    async def counts() -> tuple[int, int]:
        connection = await asyncpg.connect(url)
        try:
            units = await connection.fetchval("SELECT COUNT(*) FROM equipment")
            graded = await connection.fetchval(
                "SELECT COUNT(*) FROM equipment WHERE risk_graded_at IS NOT NULL"
            )
            return units, graded
        finally:
            await connection.close()

    units, graded = asyncio.run(counts())
    if args.summary_only:
        token = admin_token()
        port = free_port()
        server = start_server(port)
        try:
            asyncio.run(summary_latency(url, port, token, args.rate, args.seconds))
        finally:
            server.terminate()
            server.wait(timeout=20)
        print(f"load average after: {load()}")
        return
    print(f"# risk recompute, {units:,} units ({graded:,} graded), batches of {args.batch:,}")
    print()
    seconds, rows = asyncio.run(floor(url, args.batch, now))
    print("| case | units | changed | seconds | units/s | x floor |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    print(
        f"| floor: gather statement bare | {rows:,} | — | {seconds:.1f}"
        f" | {rows / seconds:,.0f} | 1.0 |"
    )
    for name, result in asyncio.run(recompute(url, args.batch, now)):
        print(
            f"| {name} | {result.units:,} | {result.changed:,} | {result.seconds:.1f} |"
            f" {result.units / result.seconds:,.0f} | {result.seconds / seconds:.1f} |"
        )
    print()
    print(
        f"target: 10^6 units <= {TARGET_RECOMPUTE_S:.0f} s (scale the rows above by 10^6 / units)"
    )
    print(f"load average after recompute: {load()}")
    print()
    token = admin_token()
    port = free_port()
    server = start_server(port)
    try:
        asyncio.run(summary_latency(url, port, token, args.rate, args.seconds))
    finally:
        server.terminate()
        server.wait(timeout=20)
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()
