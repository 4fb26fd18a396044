"""API throughput with one vs two ``sereg serve`` workers on the register ``DATABASE_URL``.

Closed loop at full speed with wrk (one thread, 50 connections; it uses far less CPU per
request than a Python client would, but it still shares the machine's cores with the
server and PostgreSQL). Per worker count: ``GET /health`` (the HTTP floor: no database),
the public lookup a QR scan makes, and the inspector's first due-list page. The ratio
column is two workers' throughput over one's: what a second process buys on this machine.

    DATABASE_URL=postgresql://.../sereg_bench python -m bench.api_workers [--seconds 10]

Needs wrk (Debian: ``apt-get install wrk``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import time

import asyncpg
import httpx

from bench.harness import admin_token, free_port, machine

LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
ERRORS = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url: str, seconds: float, headers: dict[str, str]) -> tuple[float, float, float, int]:
    command = ["wrk", "-t1", "-c50", f"-d{seconds:.0f}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    latency = {q: float(v) * _UNIT[u] for q, v, u in LATENCY.findall(out)}
    errors = int(m.group(1)) if (m := ERRORS.search(out)) else 0
    return float(RATE.search(out).group(1)), latency["50"], latency["99"], errors


def serve(port: int, workers: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "sereg.cli", "serve", "--port", str(port),
         "--workers", str(workers)],
        env={**os.environ, "SEREG_DB_POOL_MAX": "10", "SEREG_DB_POOL_MIN": "10"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


def wait_up(base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not come up")


async def a_public_code(url: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(
            "SELECT code FROM equipment WHERE category LIKE '31%' ORDER BY id LIMIT 1 OFFSET 1000"
        )
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL")
    if not url:
        sys.exit("set DATABASE_URL to the PostgreSQL register loaded by 'sereg demo'")
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    code = asyncio.run(a_public_code(url))
    token = {"Authorization": f"Bearer {admin_token()}"}
    cases = (
        ("GET /health (HTTP floor)", "/health", {}),
        ("public lookup by code", f"/api/v1/public/equipment/{code}", {}),
        ("due list: overdue, 420606, first page",
         "/api/v1/due?window=overdue&district=420606&limit=50", token),
    )  # fmt: skip
    results: dict[tuple[str, int], tuple[float, float, float, int]] = {}
    for workers in (1, 2):
        port = free_port()
        process = serve(port, workers)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_up(base)
            for name, path, headers in cases:
                wrk(f"{base}{path}", 2, headers)  # warm up every worker's pool and caches
                results[(name, workers)] = wrk(f"{base}{path}", args.seconds, headers)
        finally:
            process.terminate()
            process.wait(30)
    print(f"API throughput, 1 vs 2 workers; wrk -t1 -c50 for {args.seconds:.0f} s per case.")
    print(f"Machine: {machine()}\n")
    print("| case | workers | req/s | p50 ms | p99 ms | non-2xx | 2 workers / 1 |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, _, _ in cases:
        one = results[(name, 1)][0]
        for workers in (1, 2):
            rate, p50, p99, errors = results[(name, workers)]
            ratio = f"{rate / one:.2f}x" if workers == 2 else ""
            print(
                f"| {name} | {workers} | {rate:,.0f} | {p50:.2f} | {p99:.2f} | {errors} | {ratio} |"
            )


if __name__ == "__main__":
    main()
