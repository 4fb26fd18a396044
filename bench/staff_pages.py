"""The inspector's pages beside the JSON endpoints that serve the same data, and the
bytes of the inspector home's first load (issue 20).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/sereg_bench \
        python -m bench.staff_pages [--rate 200] [--seconds 10]

The register ``DATABASE_URL`` names (migrated first; the issue's is the 10^6-unit demo
register, ``sereg demo --units 1000000``), or a scratch one of ``--units`` when unset.
``sereg serve`` on a free port, an inspector account (``sereg user create``) logged in
through the login form, an admin token for the API. At a fixed rate (open loop,
bench/harness.py's light client), in one run:

- ``GET /health``: the HTTP floor;
- ``GET /api/v1/due?window=overdue`` (token) and ``GET /ui/due?window=overdue`` (session):
  the same first page of the due list, as JSON and as the page;
- ``GET /api/v1/equipment/{id}`` and ``GET /ui/units/{id}`` for random units of 2,000.

Target (issue 20): each page's p99 no more than 5 ms above its JSON endpoint's. Beside
each case the server process's CPU per request (user + system, /proc), which a shared
machine's load disturbs far less than the latencies: the page's against its JSON's is
the ratio to compare across runs. The page
does more than the JSON (the unit page gathers status history, inspections, due dates
with clauses, maintenance, alarms, audit), so the difference is the cost of the page.

First load: the bytes of the inspector home (its HTML and the stylesheets and scripts it
links, as sent without compression), alone and with the map page's (Leaflet, its marker
cluster plugin, the map script). Targets: under 60 KB without map assets, under 300 KB
with them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import secrets
import subprocess
import sys

import asyncpg
import httpx

from bench.harness import (
    HEADER,
    Latency,
    LeanHttp,
    admin_token,
    free_port,
    lean_case,
    machine,
    on_register,
    process_cpu_seconds,
    quiet_fixed_rate,
    server_pids,
    start_server,
)
from bench.harness import wait_until_up as wait_for_server
from bench.ingest_support import ROOT, scratch_register

PAGE_OVER_JSON_MS = 5.0
HOME_BYTES = 60 * 1024
HOME_WITH_MAP_BYTES = 300 * 1024
SAMPLE = 2000
ASSET = re.compile(r'<(?:link rel="stylesheet" href|script src)="(/[^"]+)"')
HEALTH = "HTTP floor: GET /health"
DUE_JSON = "JSON: GET /api/v1/due?window=overdue"
DUE_PAGE = "Page: GET /ui/due?window=overdue"
UNIT_JSON = "JSON: GET /api/v1/equipment/{id}"
UNIT_PAGE = "Page: GET /ui/units/{id}"


def inspector_account() -> tuple[str, str]:
    """A new inspector account in the register (``sereg user create``)."""
    username, password = f"bench-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    subprocess.run(
        [sys.executable, "-m", "sereg.cli", "user", "create", "--username", username,
         "--role", "inspector", "--password", password],
        check=True, capture_output=True,
    )  # fmt: skip
    return username, password


async def log_in(http: httpx.AsyncClient, username: str, password: str) -> str:
    """The login form as a browser fills it; returns the session cookie's value."""
    form = (await http.get("/login")).text
    token = re.search(r'name="_csrf" value="([^"]+)"', form[form.index('action="/login"') :])
    assert token, form[:500]
    done = await http.post(
        "/login", data={"username": username, "password": password, "_csrf": token.group(1)}
    )
    assert done.status_code == 303, done.text[:500]
    return http.cookies["sereg_session"]


async def first_load(http: httpx.AsyncClient, page: str, cookie: dict[str, str]) -> dict[str, int]:
    """Bytes of ``page`` and of each stylesheet and script it links (uncompressed)."""
    html = await http.get(page, headers=cookie)
    assert html.status_code == 200, html.text[:500]
    sizes = {page: len(html.content)}
    for asset in ASSET.findall(html.text):
        answer = await http.get(asset)
        assert answer.status_code == 200, asset
        sizes[asset] = len(answer.content)
    return sizes


async def measure(url: str, args: argparse.Namespace) -> int:
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    server = None
    try:
        units = await pool.fetchval("SELECT count(*) FROM equipment")
        ids = [
            r["id"]
            for r in await pool.fetch(
                "SELECT id FROM equipment TABLESAMPLE SYSTEM (1) LIMIT $1", SAMPLE
            )
        ]
        token = await asyncio.to_thread(admin_token)
        username, password = await asyncio.to_thread(inspector_account)
        port = free_port()
        server = start_server(port)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as probe:
            await wait_for_server(probe)
            session = await log_in(probe, username, password)
            cookie = {"Cookie": f"sereg_session={session}"}
            home = await first_load(probe, "/ui", cookie)
            map_page = await first_load(probe, "/ui/map", cookie)
        admin = {"Authorization": f"Bearer {token}"}
        http = LeanHttp(port)
        cases = [
            (HEALTH, lean_case(http, ["/health"], {}, args.seed)),
            (DUE_JSON, lean_case(http, ["/api/v1/due?window=overdue"], admin, args.seed)),
            (DUE_PAGE, lean_case(http, ["/ui/due?window=overdue"], cookie, args.seed)),
            (UNIT_JSON, lean_case(http, [f"/api/v1/equipment/{i}" for i in ids], admin, 2)),
            (UNIT_PAGE, lean_case(http, [f"/ui/units/{i}" for i in ids], cookie, 2)),
        ]
        print(
            f"# staff pages, {units:,} units; {args.rate:.0f} req/s for {args.seconds:.0f} s"
            f" a case; units drawn from {len(ids):,}"
        )
        print(f"machine: {machine()}; load average {os.getloadavg()[0]:.2f} at the start")
        print()
        title, rule = HEADER.split("\n")
        print(f"{title} server CPU ms/req | load avg |\n{rule} ---: | ---: |")
        results: dict[str, Latency] = {}
        cpu_ms: dict[str, float] = {}
        try:
            for name, call in cases:
                for i in range(100):
                    assert await call(-1 - i), f"{name} failed"
                await asyncio.gather(*(call(-1) for _ in range(20)))  # grow the server's pool
                before = process_cpu_seconds(server_pids(server.pid))
                results[name] = await quiet_fixed_rate(
                    name, call, rate=args.rate, seconds=args.seconds
                )
                spent = process_cpu_seconds(server_pids(server.pid)) - before
                cpu_ms[name] = spent * 1000 / max(1, results[name].count)
                print(
                    f"{results[name].row()} {cpu_ms[name]:.2f} | {os.getloadavg()[0]:.2f} |",
                    flush=True,
                )
        finally:
            await http.close()
        print(f"\nload average {os.getloadavg()[0]:.2f} at the end")
        print()
        for page, json in ((DUE_PAGE, DUE_JSON), (UNIT_PAGE, UNIT_JSON)):
            over = results[page].p99_ms - results[json].p99_ms
            met = over <= PAGE_OVER_JSON_MS and not results[page].errors
            print(
                f"Target: {page.split(': ')[1]} p99 <= JSON p99 + {PAGE_OVER_JSON_MS:.0f} ms:"
                f" {results[page].p99_ms:.2f} ms against {results[json].p99_ms:.2f} ms"
                f" ({over:+.2f} ms; /health {results[HEALTH].p99_ms:.2f} ms):"
                f" {'met' if met else 'missed'};"
                f" server CPU {cpu_ms[page]:.2f} against {cpu_ms[json]:.2f} ms a request"
                f" ({cpu_ms[page] / max(cpu_ms[json], 1e-9):.2f}x)"
            )
        print()
        print("| first load | bytes |")
        print("| --- | ---: |")
        for path, size in {**home, **map_page}.items():
            print(f"| {path} | {size:,} |")
        alone = sum(home.values())
        with_map = alone + sum(v for k, v in map_page.items() if k not in home)
        for label, size, target in (
            ("inspector home, no map assets", alone, HOME_BYTES),
            ("inspector home and the map's assets", with_map, HOME_WITH_MAP_BYTES),
        ):
            print(
                f"Target: {label} < {target // 1024} KB: {size / 1024:.1f} KB:"
                f" {'met' if size < target else 'missed'}"
            )
        return 0  # a benchmark reports; the target lines say whether it was met
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        await pool.close()


async def run(args: argparse.Namespace) -> int:
    return await on_register(
        args.units, lambda url: measure(url, args), root=ROOT, scratch=scratch_register
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--units", type=int, default=100_000, help="scratch register size")
    parser.add_argument("--seed", type=int, default=1)
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
