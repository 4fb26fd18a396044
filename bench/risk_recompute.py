"""Risk grades on a large register: the whole-register recompute beside its floor, and the
area summary sorted by grade at a fixed rate.

    DATABASE_URL=postgresql://... python -m bench.risk_recompute [--rate 100] [--seconds 10]

Needs a register loaded with ``sereg demo --units N`` (which grades it at the end).
Measures, in this order:

  - the floor: the statement that gathers every input of the grade (the unit, its last
    uncorrected inspection, open hazards, 90 days of alarms, late maintenance, old
    residential membership, the user unit's flag), run bare through asyncpg over the same
    id ranges, rows fetched and dropped: what the database alone costs;
  - with ``--first-grading``: every grade removed first (the ranks back to 0, no stored
    grade: a register before its first grading), then ``recompute_all`` grading every
    unit: the stored grade of each, and the rank of those not 蓝 on the unit, its due
    dates and a history row. The register ends graded again, as of now;
  - ``recompute_all`` with nothing changed (gather, score every unit, write nothing);
  - ``recompute_all`` after a policy change that moves many grades (the red threshold
    to 7.5 points): every changed grade written, and for a moved rank the unit, its due
    dates' copy and a history row; then back to the default policy (the same again the
    other way). The history rows the bench wrote are deleted at the end;
  - with ``--explain N`` (alone): the unit page's explanation read as the last grading
    stored it against scored as the unit stands, over N units; read-only;
  - ``GET /api/v1/areas/summary?sort=-grade`` at ``--rate`` req/s (the light client of
    bench/harness.py) beside ``GET /health`` and the summary's statement bare through
    asyncpg. The server caches an answer while the register is unchanged; its cache is
    what a busy area summary serves, so the uncached statement is listed apart.

Each pass shows recompute_all's progress bar (as ``sereg risk recompute``) on stderr.
Prints the load average before and after each row: the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import time
from collections.abc import Callable
from datetime import datetime

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
from equipment.demo.load import Progress
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


def _bar(label: str) -> Callable[[int, int], None]:
    """recompute_all's progress as the CLI shows it (a bar on stderr)."""
    bar: list[Progress] = []

    def progress(done: int, total: int) -> None:
        if not bar:
            bar.append(Progress(total, label))
        bar[0].advance(done - bar[0].done)

    return progress


# Nothing graded: every unit's rank back to 0 (the default; only units not 蓝 have
# another), no stored grade. What a register looks like before its first grading.
UNGRADE = (
    "UPDATE equipment SET risk_rank = 0 WHERE risk_rank <> 0",
    "UPDATE due_date SET risk_rank = 0 WHERE risk_rank <> 0",
    "DELETE FROM risk_grade",
)


async def recompute(
    url: str, batch: int, now: datetime, *, first_grading: bool
) -> list[tuple[str, risk.Recompute, str]]:
    from piccolo.engine.postgres import PostgresEngine

    engine = PostgresEngine(config=DatabaseSettings(url=url).postgres_config())
    await engine.start_connection_pool(min_size=1, max_size=2)
    previous = db.engine()
    db.bind(engine)
    pool = engine.pool
    assert pool is not None
    out = []

    async def case(name: str) -> None:
        before = load()
        result = await risk.recompute_all(now=now, batch=batch, progress=_bar(name))
        out.append((name, result, f"{before} -> {load()}"))

    async with pool.acquire() as connection:
        last_change = await connection.fetchval("SELECT COALESCE(MAX(id), 0) FROM risk_change")
    try:
        if first_grading:
            async with pool.acquire() as connection:
                started = time.perf_counter()
                for statement in UNGRADE:
                    await connection.execute(statement)
                await connection.execute("VACUUM ANALYZE equipment, due_date, risk_grade")
                print(f"grades removed in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            await case("first grading (nothing graded)")
        await case("recompute, nothing changed")
        lowered = load_risk_policy({"thresholds": {"red": 7.5}})
        policies.install(policies.Policies(risk=lowered))
        await case("recompute after a policy change")
        policies.install(policies.Policies())
        await case("recompute back to the default policy")
    finally:
        policies.install(policies.Policies())
        # The history rows the bench wrote (its grades stay: those of the register now).
        async with pool.acquire() as connection:
            await connection.execute("DELETE FROM risk_change WHERE id > $1", last_change)
        db.bind(previous)
        await engine.close_connection_pool()
    return out


async def explain_cost(url: str, n: int) -> None:
    """The unit page's explanation: read as stored (``explain_unit``) against scored as
    the unit stands (``explain_now``), over ``n`` graded units at random, alternated;
    and how many stored explanations the calendar has moved since their grading."""
    from piccolo.engine.postgres import PostgresEngine

    engine = PostgresEngine(config=DatabaseSettings(url=url).postgres_config())
    await engine.start_connection_pool(min_size=1, max_size=2)
    previous = db.engine()
    db.bind(engine)
    pool = engine.pool
    assert pool is not None
    try:
        async with pool.acquire() as connection:
            ids = [
                r[0]
                for r in await connection.fetch(
                    "SELECT equipment FROM risk_grade ORDER BY random() LIMIT $1", n
                )
            ]
        now = clock.now()
        await risk.explain_now(ids[0], now=now)  # the category medians, once
        print(f"\nexplanation of {len(ids)} units, per unit ({'wall':>6} / client CPU):")
        for name, explain in (
            ("stored (explain_unit)", risk.explain_unit),
            ("scored now (explain_now)", risk.explain_now),
        ) * 2:
            started, cpu = time.perf_counter(), time.process_time()
            for unit_id in ids:
                await explain(unit_id, now=now)
            wall = (time.perf_counter() - started) * 1000 / len(ids)
            used = (time.process_time() - cpu) * 1000 / len(ids)
            print(f"  {name:<26} {wall:6.2f} ms / {used:.2f} ms   load {load()}", flush=True)
        moved = 0
        for unit_id in ids:
            stored = await risk.explain_unit(unit_id, now=now)
            moved += stored != await risk.explain_now(unit_id, now=now)
        print(f"  stored explanations the calendar has moved since: {moved} of {len(ids)}")
    finally:
        db.bind(previous)
        await engine.close_connection_pool()


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
    parser.add_argument(
        "--first-grading",
        action="store_true",
        help="first remove every grade (ranks to 0, no stored grade) and time the first"
        " grading; the register ends graded again, as of now",
    )
    parser.add_argument(
        "--no-summary", action="store_true", help="the recompute only, not the area summary"
    )
    parser.add_argument(
        "--explain",
        type=int,
        default=0,
        metavar="N",
        help="only the unit page's explanation, stored against scored, over N units",
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
            graded = await connection.fetchval("SELECT COUNT(*) FROM risk_grade")
            return units, graded
        finally:
            await connection.close()

    units, graded = asyncio.run(counts())
    if args.explain:
        asyncio.run(explain_cost(url, args.explain))
        print(f"load average after: {load()}")
        return
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
    before = load()
    seconds, rows = asyncio.run(floor(url, args.batch, now))
    floor_load = f"{before} -> {load()}"
    print("| case | units | grades written | ranks moved | seconds | units/s | x floor | load |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    print(
        f"| floor: gather statement bare | {rows:,} | — | — | {seconds:.1f}"
        f" | {rows / seconds:,.0f} | 1.0 | {floor_load} |",
        flush=True,
    )
    for name, result, loads in asyncio.run(
        recompute(url, args.batch, now, first_grading=args.first_grading)
    ):
        print(
            f"| {name} | {result.units:,} | {result.changed:,} | {result.moved:,} |"
            f" {result.seconds:.1f} | {result.units / result.seconds:,.0f} |"
            f" {result.seconds / seconds:.1f} | {loads} |",
            flush=True,
        )
    print()
    print(
        f"target: 10^6 units <= {TARGET_RECOMPUTE_S:.0f} s (scale the rows above by 10^6 / units)"
    )
    print(f"load average after recompute: {load()}")
    if args.no_summary:
        return
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
