"""Due-list latency on a large register: the API beside its two floors.

    DATABASE_URL=postgresql://... python -m bench.due_list [--rate 200] [--seconds 10]

Needs a register loaded with ``sereg demo --units 1000000``. Starts ``sereg serve`` on a
free port, then at a fixed request rate measures:
  - a trivial route of the same app (/health): the HTTP floor;
  - the SQL the due list runs, straight through asyncpg: the database floor. It is the
    query ``equipment.services.due.due_list`` builds, compiled by Piccolo, so floor and
    API run the same statement with the same parameters;
  - /api/v1/due pages: overdue in district 420606 (first page and a keyset page 90 % deep)
    and upcoming within 30 days.

Then the target of the due-list issue, per API case: p99 <= 20 ms and no more than 3 ms
above the trivial route's p99. EXPLAIN (ANALYZE) of each SQL shows the plan it gets.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date
from typing import Any

import asyncpg
import httpx

from bench.harness import (
    HEADER,
    Latency,
    admin_token,
    fixed_rate,
    free_port,
    http_case,
    machine,
    sql_case,
    start_server,
    wait_until_up,
)
from equipment.domain.access import Principal, Role
from equipment.services import clock, due
from equipment.services.pagination import after_cursor, encode_cursor
from equipment.tables import DueDate
from sereg.settings import get_settings

DISTRICT = "420606"
PAGE = 50
TARGET_P99_MS = 20.0
TARGET_OVER_FLOOR_MS = 3.0
ADMIN = Principal(Role.ADMIN, None, 0)  # what the bench's admin token stands for


def page_sql(f: due.DueFilter, today: date, after: dict[str, Any] | None) -> tuple[str, list]:
    """The statement ``due.due_list`` sends for one page: the same clauses, columns (with the
    LEFT JOIN to equipment for code, address, status), order and LIMIT page + 1."""
    clauses = due._clauses(ADMIN, f, today)
    if after is not None:
        values = [after[c] for c in due.SORT.order_columns]
        clauses.append(after_cursor(due.SORT, values, table="due_date"))
    query = (
        DueDate.select(*due.COLUMNS)
        .where(*clauses)
        .order_by(DueDate.due_on, DueDate.id)
        .limit(PAGE + 1)
    )
    sql, args = query.querystrings[0].compile_string(engine_type="postgres")
    return sql, list(args)


async def plan(pool: asyncpg.Pool, sql: str, args: list) -> list[str]:
    """The plan's top line, its scan lines and the execution time (a warm second run)."""
    await pool.fetch(sql, *args)
    lines = [r[0] for r in await pool.fetch("EXPLAIN (ANALYZE) " + sql, *args)]
    keep = [lines[0]] + [line for line in lines[1:] if "Scan" in line or "Execution" in line]
    return [line.strip() for line in keep]


def verdict(api: Latency, floor: Latency) -> str:
    over = api.p99_ms - floor.p99_ms
    met = api.p99_ms <= TARGET_P99_MS and over <= TARGET_OVER_FLOOR_MS
    return f"| {api.name} | {api.p99_ms:.2f} | {over:+.2f} | {'met' if met else '**missed**'} |"


async def measure(base: str, token: str, rate: float, seconds: float) -> None:
    database = get_settings().database
    pool = await asyncpg.create_pool(**database.postgres_config(), min_size=4, max_size=8)
    today = clock.today()  # the server's "today" (China time), so both run the same SQL
    try:
        overdue = due.DueFilter(window="overdue", district_code=DISTRICT)
        upcoming = due.DueFilter(window="upcoming", within_days=30)
        units = await pool.fetchval("SELECT count(*) FROM equipment")
        statutory = await pool.fetchval("SELECT count(*) FROM due_date WHERE statutory")
        listed = await pool.fetchval(
            "SELECT count(*) FROM due_date WHERE statutory AND due_on < $1 AND district_code = $2",
            today,
            DISTRICT,
        )
        if listed < 10 * PAGE:
            sys.exit(f"only {listed} overdue units in {DISTRICT}: load 'sereg demo' first")
        # The last row of a page 90 % deep into the filtered list: the API's cursor names it.
        deep = await pool.fetchrow(
            "SELECT due_on, id FROM due_date WHERE statutory AND due_on < $1"
            " AND district_code = $2 ORDER BY due_on, id OFFSET $3 LIMIT 1",
            today,
            DISTRICT,
            int(listed * 0.9),
        )
        deep_cursor = encode_cursor(due.SORT, dict(deep))
        first_sql = page_sql(overdue, today, None)
        deep_sql = page_sql(overdue, today, dict(deep))
        upcoming_sql = page_sql(upcoming, today, None)

        first_path = f"/api/v1/due?window=overdue&district={DISTRICT}&limit={PAGE}"
        deep_path = f"{first_path}&cursor={deep_cursor}"
        upcoming_path = f"/api/v1/due?window=upcoming&within_days=30&limit={PAGE}"
        async with httpx.AsyncClient(
            base_url=base, timeout=10, limits=httpx.Limits(max_connections=50)
        ) as http:
            await wait_until_up(http)
            headers = {"Authorization": f"Bearer {token}"}
            # The floor SQL returns what the API lists: same first and deep page.
            for path, (sql, args) in ((first_path, first_sql), (deep_path, deep_sql)):
                reply = await http.get(path, headers=headers)
                reply.raise_for_status()
                api_ids = [i["id"] for i in reply.json()["items"]]
                sql_ids = [r["id"] for r in await pool.fetch(sql, *args)][:PAGE]
                assert api_ids == sql_ids, f"{path}: the API and the floor SQL differ"

            cases = [
                ("HTTP floor: GET /health", http_case(http, "/health", headers)),
                (
                    "DB floor: overdue 420606 first page SQL (asyncpg)",
                    sql_case(pool, first_sql[0], *first_sql[1]),
                ),
                ("API: overdue 420606, first page", http_case(http, first_path, headers)),
                (
                    "DB floor: overdue 420606 deep page SQL (asyncpg)",
                    sql_case(pool, deep_sql[0], *deep_sql[1]),
                ),
                ("API: overdue 420606, keyset page 90 % deep", http_case(http, deep_path, headers)),
                (
                    "DB floor: upcoming 30 days SQL (asyncpg)",
                    sql_case(pool, upcoming_sql[0], *upcoming_sql[1]),
                ),
                ("API: upcoming within 30 days", http_case(http, upcoming_path, headers)),
            ]
            print(
                f"# due list latency, {units:,} units, {statutory:,} statutory due dates,"
                f" {listed:,} overdue in {DISTRICT}; {rate:.0f} req/s for {seconds:.0f} s"
            )
            print(f"machine: {machine()}; today {today}, deep cursor at {deep['due_on']}")
            print()
            print(HEADER)
            results: dict[str, Latency] = {}
            for name, call in cases:
                results[name] = await fixed_rate(name, call, rate=rate, seconds=seconds)
                print(results[name].row(), flush=True)

        floor = results["HTTP floor: GET /health"]
        print()
        print(
            f"Target: p99 <= {TARGET_P99_MS:.0f} ms and no more than"
            f" {TARGET_OVER_FLOOR_MS:.0f} ms above the trivial route's p99"
            f" ({floor.p99_ms:.2f} ms)."
        )
        print()
        print("| API case | p99 ms | p99 - floor p99 ms | target |")
        print("| --- | ---: | ---: | --- |")
        for name, result in results.items():
            if name.startswith("API"):
                print(verdict(result, floor))
        print()
        for label, (sql, args) in (
            ("overdue 420606 first page", first_sql),
            ("overdue 420606 deep page", deep_sql),
            ("upcoming 30 days", upcoming_sql),
        ):
            print(f"EXPLAIN (ANALYZE), {label}:")
            for line in await plan(pool, sql, args):
                print(f"    {line}")
    finally:
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    if not get_settings().database.is_postgres:
        sys.exit("set DATABASE_URL to the PostgreSQL register loaded by 'sereg demo'")
    token = admin_token()
    port = free_port()
    server = start_server(port)
    try:
        asyncio.run(measure(f"http://127.0.0.1:{port}", token, args.rate, args.seconds))
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
