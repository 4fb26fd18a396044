"""Register list latency on a large register: the API beside its two floors.

    DATABASE_URL=postgresql://... python -m bench.register_list [--rate 200] [--seconds 10]

Needs a register loaded with ``sereg demo --units 1000000``. Starts ``sereg serve`` on a
free port, then at a fixed request rate measures:
  - a trivial route of the same app (/health): the HTTP floor;
  - the same SQL straight through asyncpg: the database floor;
  - /api/v1/equipment list pages (first page, a filtered page, a deep keyset page).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import asyncpg
import httpx

from bench.harness import (
    HEADER,
    LeanHttp,
    admin_token,
    fixed_rate,
    free_port,
    lean_case,
    load_average,
    machine,
    sql_case,
    start_server,
    wait_until_up,
)
from equipment.services.pagination import SortKey, encode_cursor
from equipment.settings import settings_from_env


async def measure(base: str, token: str, rate: float, seconds: float) -> None:
    database = settings_from_env().database
    pool = await asyncpg.create_pool(**database.postgres_config(), min_size=4, max_size=8)
    count = await pool.fetchval("SELECT count(*) FROM equipment")
    deep_id = await pool.fetchval(
        "SELECT id FROM equipment ORDER BY id OFFSET $1 LIMIT 1", int(count * 0.9)
    )
    try:
        async with httpx.AsyncClient(
            base_url=base, timeout=10, limits=httpx.Limits(max_connections=50)
        ) as http:
            await wait_until_up(http)
            # The load itself goes through the light client (httpx measured itself, issue 19).
            lean = LeanHttp(int(base.rsplit(":", 1)[1]))
            headers = {"Authorization": f"Bearer {token}"}
            first = (await http.get("/api/v1/equipment?limit=50", headers=headers)).json()
            assert first["items"], "empty register"
            # A keyset cursor at 90 % of the register, as the API would have issued it.
            deep_cursor = encode_cursor(SortKey("id", False, True), {"id": deep_id})

            cases = [
                ("HTTP floor: GET /health", lean_case(lean, "/health", headers)),
                (
                    "DB floor: first page SQL (asyncpg)",
                    sql_case(pool, "SELECT * FROM equipment ORDER BY id LIMIT 51"),
                ),
                ("API: first page", lean_case(lean, "/api/v1/equipment?limit=50", headers)),
                (
                    "DB floor: district + lifts SQL (asyncpg)",
                    sql_case(
                        pool,
                        "SELECT * FROM equipment WHERE district_code = $1 AND category LIKE '31%'"
                        " ORDER BY id LIMIT 51",
                        "420606",
                    ),
                ),
                (
                    "API: district 420606, lifts",
                    lean_case(
                        lean,
                        "/api/v1/equipment?district=420606&category_prefix=31&limit=50",
                        headers,
                    ),
                ),
                (
                    "DB floor: deep keyset page SQL (asyncpg)",
                    sql_case(
                        pool,
                        "SELECT * FROM equipment WHERE (id) > ($1) ORDER BY id LIMIT 51",
                        deep_id,
                    ),
                ),
                (
                    "API: deep keyset page (90 %)",
                    lean_case(lean, f"/api/v1/equipment?limit=50&cursor={deep_cursor}", headers),
                ),
                (
                    "API: sort by -updated_at",
                    lean_case(lean, "/api/v1/equipment?limit=50&sort=-updated_at", headers),
                ),
            ]
            print(f"# register list latency, {count:,} units, {rate:.0f} req/s for {seconds:.0f} s")
            print(f"machine: {machine()}; {load_average()}")
            print(HEADER)
            for name, call in cases:
                result = await fixed_rate(name, call, rate=rate, seconds=seconds)
                print(result.row(), flush=True)
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
