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
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg

from bench.due_floor import encode_cases
from bench.harness import (
    HEADER,
    Latency,
    LeanHttp,
    Samples,
    admin_token,
    fixed_rate_samples,
    free_port,
    lean_case,
    load_average,
    machine,
    process_cpu_seconds,
    server_pids,
    sql_case,
    summarise,
    sustainable_rate,
)
from equipment.domain.access import Principal, Role
from equipment.domain.rules.model import STATUTORY_KINDS
from equipment.services import clock, due
from equipment.services.pagination import encode_cursor
from equipment.settings import settings_from_env
from equipment.storage import due as due_storage

DISTRICT = "420606"
PAGE = 50
TARGET_P99_MS = 20.0
TARGET_RATIO = 1.5  # p99 against the minimal handler's
TARGET_CPU_RATIO = 1.3  # server CPU per request against the minimal handler's
ADMIN = Principal(Role.ADMIN, None, 0)  # what the bench's admin token stands for

Statement = tuple[str, list[Any]]
Call = Callable[[int], Awaitable[bool]]


def page_sql(f: due.DueFilter, today: date, after: dict[str, Any] | None = None) -> Statement:
    """The statement ``due.due_list`` sends for one page (``storage.due.page_statement``),
    with its LIMIT page + 1."""
    statutory = f.kind is None or f.kind in STATUTORY_KINDS
    values = [after[c] for c in due.SORT.order_columns] if after is not None else None
    sql, args = due_storage.page_statement(
        ADMIN.equipment_scope(), f, statutory=statutory, today=today, after=values
    )
    return sql, [*args, PAGE + 1]


def statement_case(pool: asyncpg.Pool, statement: Statement) -> Call:
    sql, args = statement
    return sql_case(pool, sql, *args)


async def keep_session(_: asyncpg.Connection) -> None:
    """No reset query on release (an open transaction is still rolled back)."""


async def plan(pool: asyncpg.Pool, statement: Statement) -> list[str]:
    """The plan's top line, its scans and filters, the buffers it touched and the
    execution time (warm run)."""
    sql, args = statement
    await pool.fetch(sql, *args)
    lines = [r[0] for r in await pool.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql, *args)]
    wanted = ("Scan", "Cond", "Filter", "Buffers", "Execution")
    return [lines[0]] + [line for line in lines[1:] if any(w in line for w in wanted)]


LABELS = {
    "first": "overdue 420606, first page",
    "deep": "overdue 420606, keyset page 90 % deep",
    "upcoming": "upcoming within 30 days",
}


@dataclass(frozen=True)
class Cases:
    """The three due-list cases of a register: each one's API path and the statement the
    API runs for it (the floor's SQL), with the register's counts."""

    units: int
    statutory: int
    listed: int  # overdue statutory due dates in DISTRICT
    deep: dict[str, Any]  # the sort key of the row the deep page starts after
    statements: dict[str, Statement]
    paths: dict[str, str]
    labels: dict[str, str]


async def due_cases(pool: asyncpg.Pool, today: date) -> Cases:
    """The cases on the register ``pool`` reads (bench.due_inprocess reads them too)."""
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
    statements = {
        "first": page_sql(overdue, today),
        "deep": page_sql(overdue, today, deep),
        "upcoming": page_sql(upcoming, today),
    }
    first_path = f"/api/v1/due?window=overdue&district={DISTRICT}&limit={PAGE}"
    paths = {
        "first": first_path,
        "deep": f"{first_path}&cursor={encode_cursor(due.SORT, deep)}",
        "upcoming": f"/api/v1/due?window=upcoming&within_days=30&limit={PAGE}",
    }
    return Cases(units, statutory, listed, deep, statements, paths, dict(LABELS))


class Server:
    """A server process (sereg or the floor app) on a free port with its CPU meter."""

    def __init__(self, command: list[str], env: dict[str, str], cwd: str | None = None) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [*command, "--port", str(self.port)],
            cwd=cwd,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.http = LeanHttp(self.port)

    async def up(self) -> None:
        # Two minutes: two workers each importing the app took 34 s to answer at load 17.
        for _ in range(1200):
            try:
                status, _ = await self.http.get("/health")
                if status == 200:
                    return
            except OSError:
                pass
            await asyncio.sleep(0.1)
        raise SystemExit(f"server on port {self.port} did not come up")

    def cpu(self) -> float:
        return process_cpu_seconds(server_pids(self.process.pid))

    async def stop(self) -> None:
        await self.http.close()
        self.process.terminate()
        await asyncio.to_thread(self.process.wait, 20)


def sereg_server(workers: int) -> Server:
    return Server(
        [sys.executable, "-m", "sereg.cli", "serve", "--workers", str(workers)],
        {"SEREG_DB_POOL_MAX": "10"},
        # SEREG_BENCH_SERVER_DIR: serve another checkout's code (a before/after run).
        cwd=os.environ.get("SEREG_BENCH_SERVER_DIR") or None,
    )


def floor_server(cases: dict[str, Statement], workers: int) -> Server:
    return Server(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.due_floor:app",
            "--log-level",
            "warning",
            "--workers",
            str(workers),
        ],
        {"SEREG_FLOOR_CASES": encode_cases(cases)},
    )


async def timed(
    name: str, call: Call, rate: float, seconds: float, server: Server | None
) -> tuple[Latency, float | None]:
    """The case at a fixed rate and the server's CPU milliseconds per request."""
    return (await alternating([(name, call, server)], rate, seconds, 1))[name]


async def alternating(
    cases: list[tuple[str, Call, Server | None]], rate: float, seconds: float, rounds: int
) -> dict[str, tuple[Latency, float | None]]:
    """Each case at a fixed rate, in ``rounds`` turns of ``seconds / rounds`` (the cases in
    their order in even rounds, reversed in odd ones), each case's requests pooled: a
    machine whose speed drifts (a shared VM's CPU: the same handler took 0.93-1.53 ms of
    CPU a request in runs minutes apart) slows the handler floor and the API alike,
    instead of whichever ran second. The server's CPU milliseconds a request are over
    every request sent, warm-ups included (None without a server)."""
    runs: dict[str, list[Samples]] = {name: [] for name, _, _ in cases}
    spent = dict.fromkeys(runs, 0.0)
    for round_ in range(rounds):
        for name, call, server in cases if round_ % 2 == 0 else cases[::-1]:
            # A collection of this process's heap (~20 ms) stalls sending and reading for
            # a moment; the burst after it would count against the server.
            gc.collect()
            gc.disable()
            before = server.cpu() if server else 0.0
            try:
                runs[name].append(
                    await fixed_rate_samples(call, rate=rate, seconds=seconds / rounds)
                )
            finally:
                gc.enable()
            spent[name] += server.cpu() - before if server else 0.0
    return {
        name: (
            summarise(name, runs[name]),
            spent[name] * 1000 / sum(r.sent for r in runs[name]) if server else None,
        )
        for name, _, server in cases
    }


async def sustainable_row(
    server: Server,
    label: str,
    case: str,
    path: str,
    headers: dict[str, str] | None,
    workers: int,
    rates: list[float],
    seconds: float,
) -> None:
    """One row of the sustainable-rate table: ``path``'s highest sustained rate."""
    before, client_before = server.cpu(), time.process_time()
    best, tried = await sustainable_rate(
        f"{label} {case}", lean_case(server.http, path, headers), rates=rates, seconds=seconds
    )
    sent = sum(t.count + 20 for t in tried)  # each rate's run and its 20 warm-up requests
    cpu = (server.cpu() - before) * 1000 / sent
    # The client's own CPU a request (this process): well under a core's worth at the
    # highest rate means the client was not what capped it.
    client = (time.process_time() - client_before) * 1000 / sent
    at = next((t for t in tried if t.name.endswith(f"@ {best:.0f}/s")), None) if best else None
    detail = f"{at.p99_ms:.1f} ms" if at else "—"
    tried_text = ", ".join(f"{t.name.split('@ ')[1]} p99 {t.p99_ms:.0f}" for t in tried)
    print(
        f"| {label} | {case} | {workers} | {f'{best:.0f}' if best else f'< {min(rates):.0f}'}"
        f" | {detail}, {cpu:.2f} ms/req (client {client:.2f}) (tried: {tried_text})"
        f" | {os.getloadavg()[0]:.2f} |",
        flush=True,
    )


async def measure(
    token: str, rate: float, seconds: float, sustainable: bool, rates: list[float], rounds: int
) -> None:
    database = settings_from_env().database
    pool = await asyncpg.create_pool(
        **database.postgres_config(), min_size=4, max_size=8, reset=keep_session
    )
    today = clock.today()  # the server's "today" (China time): both run the same SQL
    servers: list[Server] = []
    try:
        cases = await due_cases(pool, today)
        units, statutory, listed, deep = cases.units, cases.statutory, cases.listed, cases.deep
        statements, paths, labels = cases.statements, cases.paths, cases.labels
        first_path = paths["first"]
        headers = {"Authorization": f"Bearer {token}"}
        app, floor = sereg_server(1), floor_server(statements, 1)
        servers += [app, floor]
        await app.up()
        await floor.up()
        # The floor's SQL lists what the API lists.
        import json

        for case, path in paths.items():
            status, body = await app.http.get(path, headers)
            assert status == 200, (path, status, body[:300])
            api_ids = [i["id"] for i in json.loads(body)["items"]]
            status, body = await floor.http.get(f"/due/{case}")
            assert status == 200, (case, status, body[:300])
            floor_ids = [r["id"] for r in json.loads(body)][:PAGE]
            assert api_ids == floor_ids, f"{path}: the API and the floor SQL differ"
        # Grow the server's pool to its maximum before measuring: a fresh server opening
        # its connections at once under load stalls (bench/README.md), not the steady state.
        for server, path, h in ((app, first_path, headers), (floor, "/due/first", None)):
            await asyncio.gather(*(server.http.get(path, h) for _ in range(40)))

        print(
            f"# due list latency, {units:,} units, {statutory:,} statutory due dates,"
            f" {listed:,} overdue in {DISTRICT}; {rate:.0f} req/s for {seconds:.0f} s,"
            " light client (harness.LeanHttp)"
        )
        print(f"machine: {machine()}; {load_average()} at start")
        print(f"today {today}; deep cursor after ({deep['due_on']}, {deep['id']})")
        print()
        print(
            HEADER.replace("achieved req/s |", "achieved req/s | server CPU ms/req | load avg |")
            + " ---: | ---: |"
        )
        results: dict[str, tuple[Latency, float | None]] = {}

        async def run(name: str, call: Call, server: Server | None) -> None:
            result, cpu = await timed(name, call, rate, seconds, server)
            results[name] = (result, cpu)
            cpu_text = f"{cpu:.2f}" if cpu is not None else "—"
            print(f"{result.row()} {cpu_text} | {os.getloadavg()[0]:.2f} |", flush=True)

        await run("HTTP floor: sereg GET /health", lean_case(app.http, "/health", headers), app)
        await run(
            "HTTP floor: minimal Litestar GET /health", lean_case(floor.http, "/health"), floor
        )
        for case in paths:
            await run(f"DB floor: {labels[case]} SQL", statement_case(pool, statements[case]), None)
            pair: list[tuple[str, Call, Server | None]] = [
                (
                    f"Handler floor: {labels[case]} (minimal Litestar over asyncpg)",
                    lean_case(floor.http, f"/due/{case}"),
                    floor,
                ),
                (f"API: {labels[case]}", lean_case(app.http, paths[case], headers), app),
            ]
            for name, (result, cpu) in (await alternating(pair, rate, seconds, rounds)).items():
                results[name] = (result, cpu)
                print(f"{result.row()} {cpu or 0:.2f} | {os.getloadavg()[0]:.2f} |", flush=True)

        print()
        print(
            f"Targets: p99 <= {TARGET_P99_MS:.0f} ms and <= {TARGET_RATIO}x the minimal"
            f" handler's p99; server CPU per request <= {TARGET_CPU_RATIO}x the handler's."
        )
        print()
        print(
            "| API case | p99 ms | handler p99 ms | ratio | CPU ms/req | handler CPU"
            " | ratio | target |"
        )
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
        for case in paths:
            api, api_cpu = results[f"API: {labels[case]}"]
            hand, hand_cpu = results[
                f"Handler floor: {labels[case]} (minimal Litestar over asyncpg)"
            ]
            p_ratio = api.p99_ms / hand.p99_ms
            c_ratio = (api_cpu or 0) / (hand_cpu or 1)
            met = (
                api.p99_ms <= TARGET_P99_MS
                and p_ratio <= TARGET_RATIO
                and c_ratio <= TARGET_CPU_RATIO
            )
            print(
                f"| {labels[case]} | {api.p99_ms:.2f} | {hand.p99_ms:.2f} | {p_ratio:.2f} |"
                f" {api_cpu:.2f} | {hand_cpu:.2f} | {c_ratio:.2f} |"
                f" {'met' if met else '**missed**'} |"
            )
        for case in paths:
            print()
            print(f"EXPLAIN (ANALYZE, BUFFERS), {labels[case]}:")
            for line in await plan(pool, statements[case]):
                print(f"    {line}")

        if sustainable:
            await app.stop()
            await floor.stop()
            servers.clear()
            print()
            print(
                "Sustainable rate: the highest fixed rate (of those tried, rising, stopping at"
                " the first miss) with p99 < 50 ms and no errors, per due-list case, light"
                " client; the server restarted per worker count."
            )
            print()
            print(
                "| server | case | workers | sustainable req/s | at that rate: p99 ms,"
                " server CPU ms/req (client CPU ms/req) | load avg |"
            )
            print("| --- | --- | ---: | ---: | --- | ---: |")
            for workers in (1, 2):
                for label, make, case_paths, h in (
                    ("sereg /api/v1/due", lambda w: sereg_server(w), paths, headers),
                    (
                        "minimal handler",
                        lambda w: floor_server(statements, w),
                        {case: f"/due/{case}" for case in paths},
                        None,
                    ),
                ):
                    server = make(workers)
                    servers.append(server)
                    await server.up()
                    await asyncio.gather(
                        *(server.http.get(case_paths["first"], h) for _ in range(40))
                    )
                    for case, path in case_paths.items():
                        await sustainable_row(
                            server, label, labels[case], path, h, workers, rates, seconds
                        )
                    await server.stop()
                    servers.remove(server)
        print()
        print(f"{load_average()} at the end")
    finally:
        for server in servers:
            await server.stop()
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument(
        "--sustainable", action="store_true", help="also search the sustainable rate"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="alternating turns the handler floor and the API share each case's seconds in",
    )
    parser.add_argument(
        "--rates",
        default="200,300,400,500,600,800",
        help="the fixed rates --sustainable tries, rising (comma-separated req/s)",
    )
    args = parser.parse_args()
    rates = sorted(float(r) for r in args.rates.split(","))
    if not settings_from_env().database.is_postgres:
        sys.exit("set DATABASE_URL to the PostgreSQL register loaded by 'sereg demo'")
    token = admin_token()
    asyncio.run(
        measure(token, args.rate, args.seconds, args.sustainable, rates, max(1, args.rounds))
    )


if __name__ == "__main__":
    main()
