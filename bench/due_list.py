"""Due-list latency on a large register: the API beside its two floors.

    DATABASE_URL=postgresql://... python -m bench.due_list [--rate 200] [--seconds 10]

Needs a register loaded with ``sereg demo --units 1000000``. Starts ``sereg serve`` on a
free port, then at a fixed request rate measures:
  - a trivial route of the same app (/health): the HTTP floor;
  - the SQL the due list runs, straight through asyncpg: the database floor. It is the
    statement ``equipment.services.due.due_list`` builds, compiled by Piccolo, so floor
    and API run the same SQL with the same parameters. The floor's pool skips asyncpg's
    default reset-on-release (one more round trip per query, which the app's pool pays);
  - for the first page, the statements one API request runs (the page, then the
    organisation names; the token lookup is cached by the app) back to back: the API's
    time minus this is Python;
  - /api/v1/due pages: overdue in district 420606 (first page and a keyset page 90 % deep)
    and upcoming within 30 days.

The server's connection pool is grown to its maximum by a burst of requests first.
Then the target of the due-list issue, per API case: p99 <= 20 ms and no more than 3 ms
above the trivial route's p99; and EXPLAIN (ANALYZE) of each page's SQL. The client's
garbage collector is held off while a case runs: its pauses (~20 ms) would show as server
latency.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
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
from equipment.domain.rules.model import STATUTORY_KINDS
from equipment.services import clock, due
from equipment.services.pagination import after_cursor, encode_cursor
from equipment.settings import settings_from_env
from equipment.storage import due as due_storage
from equipment.tables import DueDate, Organisation

DISTRICT = "420606"
PAGE = 50
TARGET_P99_MS = 20.0
TARGET_OVER_FLOOR_MS = 3.0
ADMIN = Principal(Role.ADMIN, None, 0)  # what the bench's admin token stands for

Statement = tuple[str, list[Any]]


def compiled(query: Any) -> Statement:
    """A Piccolo query as the (SQL, arguments) it sends to asyncpg."""
    sql, args = query.querystrings[0].compile_string(engine_type="postgres")
    return sql, list(args)


def page_sql(f: due.DueFilter, today: date, after: dict[str, Any] | None = None) -> Statement:
    """The statement ``due.due_list`` sends for one page: the same clauses, columns (with the
    LEFT JOIN to equipment for code, address, status), order and LIMIT page + 1."""
    statutory = f.kind is None or f.kind in STATUTORY_KINDS
    clauses = due_storage.clauses(ADMIN.equipment_scope(), f, statutory=statutory, today=today)
    if after is not None:
        values = [after[c] for c in due.SORT.order_columns]
        clauses.append(after_cursor(due.SORT, values, table="due_date"))
    return compiled(
        DueDate.select(*due_storage.COLUMNS)
        .where(*clauses)
        .order_by(DueDate.due_on, DueDate.id)
        .limit(PAGE + 1)
    )


def names_sql(rows: list[asyncpg.Record]) -> Statement:
    """The organisation names ``due._decorate`` looks up for a page's rows."""
    ids = {r["user_unit"] for r in rows} | {r["maintenance_company"] for r in rows} - {None}
    return compiled(
        Organisation.select(Organisation.id, Organisation.name).where(
            Organisation.id.is_in(list(ids))
        )
    )


def statement_case(pool: asyncpg.Pool, statement: Statement):
    sql, args = statement
    return sql_case(pool, sql, *args)


def statements_case(pool: asyncpg.Pool, statements: list[Statement]):
    """The statements one after another, each on a connection from the pool (as Piccolo)."""

    async def call(_: int) -> bool:
        for sql, args in statements:
            await pool.fetch(sql, *args)
        return True

    return call


async def keep_session(_: asyncpg.Connection) -> None:
    """No reset query on release (an open transaction is still rolled back)."""


async def plan(pool: asyncpg.Pool, statement: Statement) -> list[str]:
    """The plan's top line, its scans and filters, and the execution time (warm run)."""
    sql, args = statement
    await pool.fetch(sql, *args)
    lines = [r[0] for r in await pool.fetch("EXPLAIN (ANALYZE) " + sql, *args)]
    wanted = ("Scan", "Cond", "Filter", "Execution")
    return [lines[0]] + [line for line in lines[1:] if any(w in line for w in wanted)]


def verdict(api: Latency, floor: Latency) -> str:
    over = api.p99_ms - floor.p99_ms
    met = api.p99_ms <= TARGET_P99_MS and over <= TARGET_OVER_FLOOR_MS
    return f"| {api.name} | {api.p99_ms:.2f} | {over:+.2f} | {'met' if met else '**missed**'} |"


async def measure(base: str, token: str, rate: float, seconds: float) -> None:
    database = settings_from_env().database
    pool = await asyncpg.create_pool(
        **database.postgres_config(), min_size=4, max_size=8, reset=keep_session
    )
    today = clock.today()  # the server's "today" (China time): both run the same SQL
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
            sys.exit(f"only {listed} overdue due dates in {DISTRICT}: load 'sereg demo' first")
        # The last row of a page 90 % deep into the filtered list: the API's cursor names it.
        deep = dict(
            await pool.fetchrow(
                "SELECT due_on, id FROM due_date WHERE statutory AND due_on < $1"
                " AND district_code = $2 ORDER BY due_on, id OFFSET $3 LIMIT 1",
                today,
                DISTRICT,
                int(listed * 0.9),
            )
        )
        first_sql = page_sql(overdue, today)
        deep_sql = page_sql(overdue, today, deep)
        upcoming_sql = page_sql(upcoming, today)
        first_rows = await pool.fetch(first_sql[0], *first_sql[1])
        request_sql = [first_sql, names_sql(first_rows[:PAGE])]

        first_path = f"/api/v1/due?window=overdue&district={DISTRICT}&limit={PAGE}"
        deep_path = f"{first_path}&cursor={encode_cursor(due.SORT, deep)}"
        upcoming_path = f"/api/v1/due?window=upcoming&within_days=30&limit={PAGE}"
        async with httpx.AsyncClient(
            base_url=base, timeout=10, limits=httpx.Limits(max_connections=50)
        ) as http:
            await wait_until_up(http)
            headers = {"Authorization": f"Bearer {token}"}
            # The floor's SQL lists what the API lists, on the first and on the deep page.
            for path, (sql, args) in ((first_path, first_sql), (deep_path, deep_sql)):
                reply = await http.get(path, headers=headers)
                reply.raise_for_status()
                api_ids = [i["id"] for i in reply.json()["items"]]
                sql_ids = [r["id"] for r in await pool.fetch(sql, *args)][:PAGE]
                assert api_ids == sql_ids, f"{path}: the API and the floor SQL differ"
            # Grow the server's pool to its maximum before measuring: it starts at
            # SEREG_DB_POOL_MIN (2) and the first burst opens the rest at once, a one-off
            # stall of a fresh server (see bench/README.md) that is not the steady state.
            await asyncio.gather(*(http.get(first_path, headers=headers) for _ in range(40)))

            cases = [
                ("HTTP floor: GET /health", http_case(http, "/health", headers)),
                ("DB floor: overdue 420606 first page SQL", statement_case(pool, first_sql)),
                (
                    "DB: first page + organisation names SQL",
                    statements_case(pool, request_sql),
                ),
                ("API: overdue 420606, first page", http_case(http, first_path, headers)),
                ("DB floor: overdue 420606 deep page SQL", statement_case(pool, deep_sql)),
                ("API: overdue 420606, keyset page 90 % deep", http_case(http, deep_path, headers)),
                ("DB floor: upcoming 30 days SQL", statement_case(pool, upcoming_sql)),
                ("API: upcoming within 30 days", http_case(http, upcoming_path, headers)),
            ]
            print(
                f"# due list latency, {units:,} units, {statutory:,} statutory due dates,"
                f" {listed:,} overdue in {DISTRICT}; {rate:.0f} req/s for {seconds:.0f} s"
            )
            print(f"machine: {machine()}")
            print(f"today {today}; deep cursor after ({deep['due_on']}, {deep['id']})")
            print()
            print(HEADER)
            results: dict[str, Latency] = {}
            for name, call in cases:
                # A collection of this process's heap (~20 ms) stalls sending and reading
                # for a moment; the burst after it would count against the server.
                gc.collect()
                gc.disable()
                try:
                    results[name] = await fixed_rate(name, call, rate=rate, seconds=seconds)
                finally:
                    gc.enable()
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
        for label, statement in (
            ("overdue 420606, first page", first_sql),
            ("overdue 420606, deep page", deep_sql),
            ("upcoming within 30 days", upcoming_sql),
        ):
            print()
            print(f"EXPLAIN (ANALYZE), {label}:")
            for line in await plan(pool, statement):
                print(f"    {line}")
    finally:
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    if not settings_from_env().database.is_postgres:
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
